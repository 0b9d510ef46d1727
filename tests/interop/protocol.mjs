// protocol.mjs — an ok2cry protocol v1 receiver written from docs/PROTOCOL.md alone, as an
// outside team would: it opens envelopes and verifies key tokens following §10 step by step
// and names each refusal with the error of §11. It runs unchanged in Node and in a browser
// (no Node API): `vectors.mjs` runs the vector file through it in Node, `vectors-browser.mjs`
// in headless Chromium.
//
// All cryptography is done by libraries we did not write: @hpke/core (HPKE open, P-256 key
// import and point validation, on WebCrypto) and jose (the ES256 signature check). This file
// holds only the wire format: strict JSON (duplicate members, exact integers), strict
// base64url, the check order.
//
// `receiver(options)` can be made deliberately lenient, to show that the vectors catch
// lenient readers: base64 "padding" (accepts correct `=` padding), "trailing" (ignores the
// unused bits of the last character), json "last" / "first" (keeps one of duplicate members).

import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";
import { compactVerify, importJWK } from "jose";

/** A refusal, named as in docs/PROTOCOL.md §11. */
export class ProtocolError extends Error {
  constructor(error, detail) {
    super(`${error}: ${detail}`);
    this.name = "ProtocolError";
    this.error = error;
  }
}

function fail(error, detail) {
  throw new ProtocolError(error, detail);
}

/** §10.1: the largest integer of the protocol, 2^53 − 1. */
export const MAX_INTEGER = 2n ** 53n - 1n;
/** §10.1: the deepest nesting of arrays and objects. */
export const MAX_DEPTH = 32;
const MAX_TOKEN_LEN = 8192;
const MAX_CONTEXT_LEN = 256;
const MAX_KEY_ID_LEN = 128;
const MAX_ISSUER_LEN = 256;
const CLOCK_SKEW = 60;
const ENC_LEN = 65;
const TAG_LEN = 16;
const MAX_SEALED_LEN = ENC_LEN + 65536 + TAG_LEN;
const KEY_ID = /^[A-Za-z0-9_-]+$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const utf8 = new TextEncoder();
const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function strongSuite() {
  return new CipherSuite({
    kem: new DhkemP256HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes256Gcm(),
  });
}

/** info = "ok2cry/v1" || 0x00 || key_id || 0x00 || context (§3). */
export function info(keyId, context) {
  const parts = [utf8.encode("ok2cry/v1"), [0], utf8.encode(keyId), [0], utf8.encode(context ?? "")];
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** Unpadded base64url. */
export function b64u(bytes) {
  let out = "";
  let bits = 0;
  let n = 0;
  for (const b of bytes) {
    bits = (bits << 8) | b;
    n += 8;
    while (n >= 6) {
      n -= 6;
      out += ALPHABET[(bits >> n) & 63];
    }
    bits &= (1 << n) - 1;
  }
  if (n > 0) out += ALPHABET[(bits << (6 - n)) & 63];
  return out;
}

export function hex(text) {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function toHex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * §4.1: base64url exactly — the 64 characters, no padding, no other character, and the unused
 * bits of the last character zero. Returns the bytes, or null.
 */
function decodeBase64url(text, lenience) {
  if (typeof text !== "string") return null;
  let body = text;
  if (lenience === "padding" && text.length % 4 === 0) body = text.replace(/={1,2}$/, "");
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) return null;
  const out = [];
  let bits = 0;
  let n = 0;
  for (const c of body) {
    bits = (bits << 6) | ALPHABET.indexOf(c);
    n += 6;
    if (n >= 8) {
      n -= 8;
      out.push((bits >> n) & 255);
      bits &= (1 << n) - 1;
    }
  }
  if (bits !== 0 && lenience !== "trailing") return null;
  return Uint8Array.from(out);
}

/**
 * §10.1: strict JSON. RFC 8259 grammar over UTF-8; no member name twice in an object (names
 * compared after unescaping); at most MAX_DEPTH levels; integers (`0` or `[1-9][0-9]*`)
 * kept apart from other numbers. Returns a tree: {t:"object", members: Map}, {t:"array",
 * items}, {t:"string", v}, {t:"integer", v: BigInt}, {t:"number"}, {t:"bool", v}, {t:"null"};
 * or null when the text is not strict JSON. `duplicates`: "refuse" (the protocol), "last" or
 * "first" (lenient readers, for the experiments).
 */
function parseJson(bytes, duplicates) {
  let text;
  try {
    text = typeof bytes === "string" ? bytes : utf8Fatal.decode(bytes);
  } catch {
    return null;
  }
  // A JS string may hold a lone surrogate, which no UTF-8 text can.
  if (!text.isWellFormed()) return null;
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i += 1;
  };
  const error = () => {
    throw new SyntaxError(`JSON at ${i}`);
  };
  const string = () => {
    if (text[i] !== '"') error();
    i += 1;
    let out = "";
    for (;;) {
      if (i >= text.length) error();
      const c = text[i];
      const code = c.charCodeAt(0);
      if (c === '"') {
        i += 1;
        break;
      }
      if (code < 0x20) error();
      if (c === "\\") {
        const e = text[i + 1];
        i += 2;
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) out += simple[e];
        else if (e === "u") {
          const hex4 = () => {
            const h = text.slice(i, i + 4);
            if (!/^[0-9A-Fa-f]{4}$/.test(h)) error();
            i += 4;
            return parseInt(h, 16);
          };
          const u = hex4();
          if (u >= 0xd800 && u <= 0xdbff) {
            if (text[i] !== "\\" || text[i + 1] !== "u") error();
            i += 2;
            const low = hex4();
            if (low < 0xdc00 || low > 0xdfff) error();
            out += String.fromCharCode(u, low);
          } else if (u >= 0xdc00 && u <= 0xdfff) error();
          else out += String.fromCharCode(u);
        } else error();
      } else {
        out += c;
        i += 1;
      }
    }
    return out;
  };
  const value = (depth) => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth + 1 > MAX_DEPTH) error();
      i += 1;
      ws();
      if (c === "{") {
        const members = new Map();
        if (text[i] === "}") {
          i += 1;
          return { t: "object", members };
        }
        for (;;) {
          ws();
          const name = string();
          ws();
          if (text[i] !== ":") error();
          i += 1;
          const v = value(depth + 1);
          if (members.has(name)) {
            if (duplicates === "refuse" || duplicates === undefined) error();
            if (duplicates === "last") members.set(name, v);
          } else members.set(name, v);
          ws();
          if (text[i] === ",") i += 1;
          else if (text[i] === "}") {
            i += 1;
            return { t: "object", members };
          } else error();
        }
      }
      const items = [];
      if (text[i] === "]") {
        i += 1;
        return { t: "array", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ",") i += 1;
        else if (text[i] === "]") {
          i += 1;
          return { t: "array", items };
        } else error();
      }
    }
    if (c === '"') return { t: "string", v: string() };
    for (const [word, v] of [["true", { t: "bool", v: true }], ["false", { t: "bool", v: false }], ["null", { t: "null" }]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m || m[0] === "" || m[0] === "-") error();
    i += m[0].length;
    if (m[0].startsWith("-") || m[2] !== undefined || m[3] !== undefined) return { t: "number" };
    return { t: "integer", v: BigInt(m[1]) };
  };
  try {
    const tree = value(0);
    ws();
    if (i !== text.length) error();
    return tree;
  } catch (e) {
    if (e instanceof SyntaxError) return null;
    throw e;
  }
}

/** §10.1 strict JSON (duplicates refused): the tree, or null. */
export function strictJson(bytes) {
  return parseJson(bytes, "refuse");
}

/** §4.1 strict base64url: the bytes, or null. */
export function strictBase64url(text) {
  return decodeBase64url(text, "strict");
}

/** Member access on a strict tree. */
function members(tree) {
  return tree?.t === "object" ? tree.members : null;
}
const str = (v) => (v?.t === "string" ? v.v : undefined);
const int = (v, max = MAX_INTEGER) => (v?.t === "integer" && v.v <= max ? v.v : undefined);
const only = (m, allowed) => [...m.keys()].every((k) => allowed.includes(k));
/** An optional string member: undefined when absent, null when present but not a string. */
const optionalString = (m, name) => (m.has(name) ? (str(m.get(name)) ?? null) : undefined);

/** §10.1: the whitespace a receiver removes around a compact envelope or a token. */
export function trim(text) {
  return text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
}

function checkKeyId(keyId) {
  if (typeof keyId !== "string" || keyId.length > MAX_KEY_ID_LEN || !KEY_ID.test(keyId)) {
    fail("InvalidKeyId", "key id outside §2");
  }
}

const JWK_MEMBERS = ["kty", "crv", "x", "y", "kid", "use", "alg", "ext", "key_ops", "d"];

/** §7.3: a JWK's members and their types (not its values). */
function readJwk(tree) {
  const m = members(tree);
  if (!m || !only(m, JWK_MEMBERS)) fail("Malformed", "jwk: members");
  const jwk = {};
  for (const name of ["kty", "crv", "x", "y"]) {
    jwk[name] = str(m.get(name));
    if (jwk[name] === undefined) fail("Malformed", `jwk: ${name}`);
  }
  for (const name of ["kid", "use", "alg"]) {
    const v = optionalString(m, name);
    if (v === null) fail("Malformed", `jwk: ${name}`);
    if (v !== undefined) jwk[name] = v;
  }
  if (m.has("ext") && m.get("ext").t !== "bool") fail("Malformed", "jwk: ext");
  if (m.has("key_ops")) {
    const ops = m.get("key_ops");
    if (ops.t !== "array" || !ops.items.every((op) => op.t === "string")) fail("Malformed", "jwk: key_ops");
  }
  jwk.privatePart = m.has("d");
  return jwk;
}

export function receiver({ base64 = "strict", json = "refuse" } = {}) {
  const suite = strongSuite();
  const decode = (text) => decodeBase64url(text, base64);
  const readJson = (bytes) => parseJson(bytes, json);

  /** §7.3 / §10.2 step 15: a JWK whose shape was read is a P-256 public key. */
  async function publicKey(jwk, error) {
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || jwk.privatePart) fail(error, "not an EC P-256 public key");
    const x = decode(jwk.x);
    const y = decode(jwk.y);
    if (!x || !y || x.length !== 32 || y.length !== 32) fail(error, "coordinates");
    try {
      // WebCrypto checks that the point is on the curve. The coordinates are passed as
      // canonical base64url of the bytes read.
      return await suite.kem.importKey("jwk", { kty: "EC", crv: "P-256", x: b64u(x), y: b64u(y) }, true);
    } catch {
      return fail(error, "not a point on P-256");
    }
  }

  /** §7.4: read a JWK set; entries are judged when a token names their kid. */
  function readJwks(text) {
    const m = members(readJson(text));
    const keys = m?.get("keys");
    if (!m || keys?.t !== "array" || !keys.items.every((e) => e.t === "object")) {
      fail("Malformed", "JWK set: expected {\"keys\": [objects]}");
    }
    return keys.items.map((e) => e.members);
  }

  /** §7.4 / §10.2 step 6: the one usable entry carrying `kid`, as a jose key. */
  async function signingKey(entries, kid) {
    const matching = entries.filter((e) => str(e.get("kid")) === kid);
    if (matching.length !== 1) fail("UnknownSigningKey", `${matching.length} entries carry this kid`);
    const e = matching[0];
    const get = (name) => (e.has(name) ? (str(e.get(name)) ?? "") : undefined);
    if ((get("alg") !== undefined && get("alg") !== "ES256") || (get("use") !== undefined && get("use") !== "sig")) {
      fail("UnknownSigningKey", "entry is not an ES256 signing key");
    }
    const jwk = { kty: get("kty"), crv: get("crv"), x: get("x") ?? "", y: get("y") ?? "", privatePart: e.has("d") };
    await publicKey(jwk, "UnknownSigningKey");
    try {
      return await importJWK({ kty: "EC", crv: "P-256", x: b64u(decode(jwk.x)), y: b64u(decode(jwk.y)) }, "ES256");
    } catch {
      return fail("UnknownSigningKey", "jose refused the key");
    }
  }

  /** §10.2: verify a key token against a JWK set at `now` (Unix seconds). */
  async function verifyToken(token, jwksEntries, now) {
    // 1. Text, parts, base64url.
    const compact = trim(token);
    if (utf8.encode(compact).length > MAX_TOKEN_LEN) fail("Malformed", "token too long");
    const parts = compact.split(".");
    if (parts.length !== 3) fail("Malformed", "token: three parts");
    const [hBytes, pBytes, sig] = parts.map(decode);
    if (!hBytes || !pBytes || !sig) fail("Malformed", "token: base64url");
    // 2. Header: exactly alg, typ, kid, strings.
    const h = members(readJson(hBytes));
    if (!h || !only(h, ["alg", "typ", "kid"])) fail("Malformed", "header: members");
    const [alg, typ, kid] = ["alg", "typ", "kid"].map((n) => str(h.get(n)));
    if (alg === undefined || typ === undefined || kid === undefined) fail("Malformed", "header: strings");
    // 3. Claims: members, types, ranges; then the key id.
    const c = members(readJson(pBytes));
    const claimNames = ["iss", "key_id", "jwk", "iat", "exp", "max_opens", "suite", "v", "context"];
    if (!c || !only(c, claimNames)) fail("Malformed", "claims: members");
    const iss = str(c.get("iss"));
    const keyId = str(c.get("key_id"));
    const iat = int(c.get("iat"));
    const exp = int(c.get("exp"));
    const maxOpens = int(c.get("max_opens"), 2n ** 32n - 1n);
    const suiteName = str(c.get("suite"));
    const v = int(c.get("v"));
    const context = optionalString(c, "context");
    if (
      iss === undefined || utf8.encode(iss).length < 1 || utf8.encode(iss).length > MAX_ISSUER_LEN ||
      keyId === undefined || !c.has("jwk") || iat === undefined || exp === undefined ||
      maxOpens === undefined || maxOpens < 1n || suiteName === undefined || v === undefined || context === null
    ) {
      fail("Malformed", "claims: types or ranges");
    }
    const jwk = readJwk(c.get("jwk"));
    checkKeyId(keyId);
    // 4, 5.
    if (alg !== "ES256") fail("UnsupportedAlgorithm", alg);
    if (typ !== "ok2cry-key+jwt") fail("WrongTokenType", typ);
    // 6.
    const key = await signingKey(jwksEntries, kid);
    // 7. The signature over `<header>.<payload>` as received (jose; WebCrypto accepts either S).
    try {
      await compactVerify(`${parts[0]}.${parts[1]}.${b64u(sig)}`, key, { algorithms: ["ES256"] });
    } catch {
      fail("BadSignature", "signature");
    }
    // 8 to 15.
    if (v !== 1n) fail("UnsupportedVersion", `v ${v}`);
    if (suiteName !== "STRONG") fail("UnsupportedSuite", suiteName);
    if (iat > exp) fail("Malformed", "iat after exp");
    const t = BigInt(now);
    if (t >= exp) fail("Expired", "now >= exp");
    if (iat > t + BigInt(CLOCK_SKEW)) fail("NotYetValid", "iat in the future");
    if (jwk.kid !== undefined && jwk.kid !== keyId) fail("Malformed", "jwk kid differs from key_id");
    if (context !== undefined && utf8.encode(context).length > MAX_CONTEXT_LEN) fail("ContextTooLong", "context");
    const recipientPublicKey = await publicKey(jwk, "InvalidPublicKey");
    return { keyId, context: context ?? "", recipientPublicKey, jwk, iss };
  }

  function checkSealed(sealed) {
    if (!sealed) fail("Malformed", "sealed: base64url");
    if (sealed.length < ENC_LEN + TAG_LEN + 1 || sealed.length > MAX_SEALED_LEN) fail("Malformed", "sealed: length");
    if (sealed[0] !== 0x04) fail("Malformed", "sealed: enc form");
  }

  /** §10.3, steps 1 to 6 of either form. */
  function parseEnvelope(text, form) {
    if (form === "json") {
      // 1, 2, 3.
      const m = members(readJson(text));
      if (!m) fail("Malformed", "envelope: strict JSON object");
      const version = int(m.get("version"));
      if (version === undefined) fail("Malformed", "version");
      if (version !== 1n) fail("UnsupportedVersion", `version ${version}`);
      if (!only(m, ["version", "key_id", "sealed", "context"])) fail("Malformed", "envelope: members");
      const keyId = str(m.get("key_id"));
      const sealedText = str(m.get("sealed"));
      const context = optionalString(m, "context");
      if (keyId === undefined || sealedText === undefined || context === null) fail("Malformed", "envelope: types");
      // 4, 5, 6.
      checkKeyId(keyId);
      const sealed = decode(sealedText);
      checkSealed(sealed);
      if (context !== undefined && utf8.encode(context).length > MAX_CONTEXT_LEN) fail("ContextTooLong", "context");
      return { keyId, sealed, context: context || undefined };
    }
    // Compact. 1: whitespace, parts. 2: version. 3: part count.
    const parts = trim(text).split(".");
    if (parts[0] !== "v1") {
      const m = /^v(0|[1-9][0-9]*)$/.exec(parts[0]);
      if (m && BigInt(m[1]) <= MAX_INTEGER) fail("UnsupportedVersion", parts[0]);
      fail("Malformed", "compact: version");
    }
    if (parts.length !== 3 && parts.length !== 4) fail("Malformed", "compact: parts");
    // 4, 5, 6.
    checkKeyId(parts[1]);
    const sealed = decode(parts[2]);
    checkSealed(sealed);
    let context;
    if (parts.length === 4) {
      const bytes = decode(parts[3]);
      if (!bytes) fail("Malformed", "context: base64url");
      if (bytes.length > MAX_CONTEXT_LEN) fail("ContextTooLong", "context");
      try {
        context = utf8Fatal.decode(bytes);
      } catch {
        fail("Malformed", "context: UTF-8");
      }
    }
    return { keyId: parts[1], sealed, context: context || undefined };
  }

  /** §10.3 steps 7 to 9: open with the opener's own key, key id and context. */
  async function open(envelope, recipientKey, keyId, context) {
    if (envelope.keyId !== keyId) fail("KeyIdMismatch", "another key id");
    if (envelope.context !== undefined && envelope.context !== context) fail("ContextMismatch", "another context");
    return await openSealed(envelope.sealed, recipientKey, keyId, context);
  }

  async function openSealed(sealed, recipientKey, keyId, context) {
    try {
      const pt = await suite.open(
        { recipientKey, enc: sealed.slice(0, ENC_LEN), info: info(keyId, context) },
        sealed.slice(ENC_LEN),
      );
      return new Uint8Array(pt);
    } catch {
      return fail("OpenFailed", "cannot open");
    }
  }

  /** One vector case of kind "open": the plaintext, or a ProtocolError. */
  async function openCase(c) {
    const recipientKey = await suite.kem.deserializePrivateKey(hex(c.opener_skR));
    if (c.form === "sealed_hex") {
      const sealed = hex(c.input);
      if (sealed.length < ENC_LEN + TAG_LEN + 1 || sealed.length > MAX_SEALED_LEN) fail("OpenFailed", "length");
      return await openSealed(sealed, recipientKey, c.opener_key_id, c.opener_context);
    }
    const envelope = parseEnvelope(c.input, c.form);
    return await open(envelope, recipientKey, c.opener_key_id, c.opener_context);
  }

  /** One vector case of kind "token": the verified key, or a ProtocolError. */
  async function tokenCase(c, fileJwks) {
    const entries = readJwks(c.jwks_json ?? JSON.stringify(fileJwks));
    return await verifyToken(c.token, entries, c.now);
  }

  return { openCase, tokenCase, verifyToken, readJwks, parseEnvelope, open, suite };
}

/**
 * Runs the whole vector file: every seal vector opens (both forms) and re-seals under our
 * suite, the key token verifies, every must-pass case opens or verifies, every must-fail case
 * is refused with the named error. Returns a summary; `failures` lists what went wrong.
 */
export async function runVectors(file, options = {}) {
  const r = receiver(options);
  const failures = [];
  const accepted = [];
  const counts = { seal: 0, must_pass: 0, must_fail: 0 };
  const expectOk = async (name, f) => {
    try {
      await f();
    } catch (e) {
      failures.push(`${name}: ${e?.message ?? e}`);
    }
  };
  for (const v of file.seal) {
    counts.seal += 1;
    await expectOk(`seal ${v.name}`, async () => {
      const key = await r.suite.kem.deserializePrivateKey(hex(v.skRm));
      for (const [form, input] of [["json", v.envelope_json], ["compact", v.envelope_compact]]) {
        const envelope = r.parseEnvelope(input, form);
        const pt = await r.open(envelope, key, v.key_id, v.context);
        if (toHex(pt) !== v.plaintext) throw new Error(`${form}: wrong plaintext`);
      }
      if (toHex(info(v.key_id, v.context)) !== v.info) throw new Error("info differs");
    });
  }
  const t = file.key_token;
  await expectOk("key_token", async () => {
    const verified = await r.tokenCase({ token: t.token, now: t.now }, t.jwks);
    if (verified.keyId !== t.verified_key_id || verified.context !== t.verified_context) {
      throw new Error("verified key id or context differ");
    }
  });
  const run = (c) => (c.kind === "open" ? r.openCase(c) : r.tokenCase(c, t.jwks));
  for (const c of file.must_pass) {
    counts.must_pass += 1;
    await expectOk(`must_pass ${c.name}`, async () => {
      const got = await run(c);
      if (c.kind === "open" && toHex(got) !== c.plaintext) throw new Error("wrong plaintext");
      if (c.kind === "token" && (got.keyId !== c.key_id || got.context !== c.context)) {
        throw new Error("wrong key id or context");
      }
    });
  }
  for (const c of file.must_fail) {
    counts.must_fail += 1;
    try {
      await run(c);
      accepted.push(c.name);
      failures.push(`must_fail ${c.name} (${c.section}): accepted, should be ${c.error}`);
    } catch (e) {
      if (!(e instanceof ProtocolError)) failures.push(`must_fail ${c.name}: threw ${e}`);
      else if (e.error !== c.error) failures.push(`must_fail ${c.name} (${c.section}): ${e.error}, should be ${c.error}`);
    }
  }
  return { counts, failures, accepted };
}
