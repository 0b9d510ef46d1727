// Strict readers, so that the page reads the log's files exactly as the Rust verifier does:
// JSON as serde_json reads it (numbers kept as written, duplicate members refused), base64 as
// base64ct decodes it (canonical encodings only), UTF-8 as Rust's `String` (invalid bytes
// refused, a byte-order mark kept), and lines as `str::lines` and `read_until(b'\n')` cut them.

/** A JSON number, kept as written so that integers beyond 2^53 and forms like `1.0` stay visible. */
export class JsonNumber {
  constructor(text) {
    this.text = text;
  }
}

/** Why a JSON text was refused. */
export class JsonError extends Error {}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Parses a JSON text (RFC 8259, as serde_json does). Objects have no prototype; numbers are
 * `JsonNumber`s. `duplicates`: "error" (serde structs read from text) or "last" (serde_json's
 * `Value`, which keeps the last member of a name).
 */
export function parseJson(text, duplicates = "error") {
  let i = 0;
  const n = text.length;
  const fail = (what) => {
    throw new JsonError(`${what} at character ${i}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i += 1;
      else break;
    }
  };
  const hex4 = () => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("bad \\u escape");
    i += 4;
    return parseInt(h, 16);
  };
  const string = () => {
    i += 1; // the opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i += 1;
        return out;
      }
      if (c < 0x20) fail("control character in a string");
      if (c !== 0x5c) {
        i += 1;
        continue;
      }
      out += text.slice(start, i);
      i += 1;
      const e = text[i];
      i += 1;
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const u = hex4();
          if (u >= 0xdc00 && u <= 0xdfff) fail("lone trailing surrogate");
          if (u >= 0xd800 && u <= 0xdbff) {
            if (text.slice(i, i + 2) !== "\\u") fail("lone leading surrogate");
            i += 2;
            const low = hex4();
            if (low < 0xdc00 || low > 0xdfff) fail("lone leading surrogate");
            out += String.fromCharCode(u, low);
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          fail("bad escape");
      }
      start = i;
    }
  };
  const value = (depth) => {
    if (depth > 128) fail("nested too deeply");
    ws();
    const c = text[i];
    if (c === "{") {
      i += 1;
      const obj = Object.create(null);
      ws();
      if (text[i] === "}") {
        i += 1;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a member name");
        const key = string();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i += 1;
        const v = value(depth + 1);
        if (Object.prototype.hasOwnProperty.call(obj, key) && duplicates === "error") {
          fail(`duplicate member ${JSON.stringify(key)}`);
        }
        obj[key] = v;
        ws();
        if (text[i] === ",") {
          i += 1;
          continue;
        }
        if (text[i] === "}") {
          i += 1;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i += 1;
      const arr = [];
      ws();
      if (text[i] === "]") {
        i += 1;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i += 1;
          continue;
        }
        if (text[i] === "]") {
          i += 1;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail("expected a value");
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== n) fail("trailing characters");
  return v;
}

const U64_MAX = (1n << 64n) - 1n;

/** An unsigned integer of at most `bits` bits, as serde reads it from a JSON number; else null. */
export function uintBig(v, bits = 64) {
  if (!(v instanceof JsonNumber) || !/^-?(?:0|[1-9][0-9]*)$/.test(v.text)) return null;
  const b = BigInt(v.text);
  const max = bits === 64 ? U64_MAX : (1n << BigInt(bits)) - 1n;
  return b < 0n || b > max ? null : b;
}

/** `uintBig` as a Number (exact up to 2^53, the range every real log stays in). */
export function uint(v, bits = 64) {
  const b = uintBig(v, bits);
  return b === null ? null : Number(b);
}

export function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/**
 * Reads a serde struct with `deny_unknown_fields` from a parsed JSON value: an object with
 * exactly the known members (or an array of the fields in order, which serde also accepts).
 * `fields`: [[name, reader, missing]]; a reader returns `undefined` to refuse a value; `missing`
 * (absent: the field is required) gives the value of an absent field (`#[serde(default)]`).
 * Returns an object of the read fields, or null.
 */
export function readStruct(v, fields) {
  const out = Object.create(null);
  if (Array.isArray(v)) {
    if (v.length > fields.length) return null;
    for (let k = 0; k < fields.length; k += 1) {
      const [name, reader, missing] = fields[k];
      if (k >= v.length) {
        if (!missing) return null;
        out[name] = missing();
        continue;
      }
      const r = reader(v[k]);
      if (r === undefined) return null;
      out[name] = r;
    }
    return out;
  }
  if (!isObject(v)) return null;
  const known = new Set(fields.map((f) => f[0]));
  for (const key of Object.keys(v)) if (!known.has(key)) return null;
  for (const [name, reader, missing] of fields) {
    if (!(name in v)) {
      if (!missing) return null;
      out[name] = missing();
      continue;
    }
    const r = reader(v[name]);
    if (r === undefined) return null;
    out[name] = r;
  }
  return out;
}

/** Field readers for `readStruct`. */
export const read = {
  u64: (v) => uint(v) ?? undefined,
  u8: (v) => uint(v, 8) ?? undefined,
  bool: (v) => (typeof v === "boolean" ? v : undefined),
  str: (v) => (typeof v === "string" ? v : undefined),
  strs: (v) => (Array.isArray(v) && v.every((s) => typeof s === "string") ? v : undefined),
  opt: (reader) => (v) => (v === null ? null : reader(v)),
  list: (reader) => (v) => {
    if (!Array.isArray(v)) return undefined;
    const out = [];
    for (const item of v) {
      const r = reader(item);
      if (r === undefined) return undefined;
      out.push(r);
    }
    return out;
  },
};

const STD_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard padded base64, canonical only (base64ct's `Base64`); null when refused. */
export function b64decode(text) {
  if (typeof text !== "string" || text.length % 4 !== 0 || !STD_B64.test(text)) return null;
  let bin;
  try {
    bin = atob(text);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let k = 0; k < bin.length; k += 1) out[k] = bin.charCodeAt(k);
  return b64encode(out) === text ? out : null;
}

/** Standard padded base64. */
export function b64encode(bytes) {
  let s = "";
  for (let k = 0; k < bytes.length; k += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(k, k + 0x8000));
  }
  return btoa(s);
}

/** Unpadded base64url, canonical only (base64ct's `Base64UrlUnpadded`); null when refused. */
export function b64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const std = text.replaceAll("-", "+").replaceAll("_", "/");
  const bytes = b64decode(std + "=".repeat((4 - (std.length % 4)) % 4));
  if (bytes === null) return null;
  const again = b64encode(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return again === text ? bytes : null;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();

/** Bytes as UTF-8 text (a BOM is kept, as Rust keeps it); null when not UTF-8. */
export function utf8(bytes) {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/** Text as UTF-8 bytes. */
export function bytesOf(text) {
  return ENCODER.encode(text);
}

/** Rust's `str::lines`: split after each "\n", which is removed with one "\r" before it. */
export function rustLines(text) {
  const out = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) {
      out.push(text.slice(start));
      break;
    }
    let line = text.slice(start, nl);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    out.push(line);
    start = nl + 1;
  }
  return out;
}

/** Bytes equal (constant time in their length; the values compared are public hashes). */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let k = 0; k < a.length; k += 1) d |= a[k] ^ b[k];
  return d === 0;
}

/** Lower-case hex. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Rust's `{:?}` of a string, for the few messages that quote one. */
export function debugString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\0") out += "\\0";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}
