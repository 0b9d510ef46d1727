// C2SP signed notes, checkpoints and verifier keys (src/audit/note.rs), verified with
// WebCrypto: the log's ECDSA P-256 signatures (type 0x02; DER signatures, converted to the raw
// r||s WebCrypto takes) and the witnesses' Ed25519 cosignatures (type 0x04, C2SP
// tlog-cosignature). Error texts are the Rust verifier's, so that both say the same thing.

import { b64decode, b64encode, bytesEqual, bytesOf, hex } from "./json.mjs";
import { sha256 } from "./merkle.mjs";

const subtle = globalThis.crypto.subtle;

export const MAX_NOTE_BYTES = 64 * 1024;
export const MAX_SIGNATURES = 64;
export const TYPE_ECDSA = 0x02;
export const TYPE_COSIGNATURE_ED25519 = 0x04;
const EM_DASH = "\u2014";

/** Why a note was refused (`NoteError`); `message` is the Rust error's text. */
export class NoteError extends Error {}

const malformed = (what) => new NoteError(`malformed note: ${what}`);

// Rust's char::is_whitespace (Unicode White_Space) and char::is_control (category Cc).
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Parses a checkpoint body (origin, size, root, optional extension lines); null if it is not one. */
export function parseCheckpointBody(text) {
  if (!text.endsWith("\n")) return null;
  const lines = text.slice(0, -1).split("\n");
  const origin = lines[0];
  const sizeText = lines[1];
  if (sizeText === undefined || !/^(?:0|[1-9][0-9]*)$/.test(sizeText)) return null;
  const big = BigInt(sizeText);
  if (big > (1n << 64n) - 1n) return null;
  if (lines[2] === undefined) return null;
  const root = b64decode(lines[2]);
  if (root === null || root.length !== 32) return null;
  if (origin === "" || lines.slice(3).some((l) => l === "")) return null;
  return { origin, size: Number(big), root };
}

/** One signature line: name, 4-byte key ID, signature bytes; null if malformed. */
export function parseSignatureLine(line) {
  if (!line.startsWith(`${EM_DASH} `)) return null;
  const rest = line.slice(2);
  const space = rest.indexOf(" ");
  if (space < 0) return null;
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (name === "" || WHITESPACE.test(name) || b64.includes(" ")) return null;
  const blob = b64decode(b64);
  if (blob === null || blob.length < 5) return null;
  return { name, keyId: blob.slice(0, 4), signature: blob.slice(4) };
}

/** A parsed signed note: `text` (ending with "\n") and its signature lines. Throws NoteError. */
export function parseNote(note) {
  if (bytesOf(note).length > MAX_NOTE_BYTES) throw malformed("too large");
  const at = note.indexOf("\n\n");
  if (at < 0) throw malformed("no blank line before the signatures");
  const text = `${note.slice(0, at)}\n`;
  for (const ch of text) {
    if (ch !== "\n" && CONTROL.test(ch)) throw malformed("control character in the text");
  }
  const sigs = note.slice(at + 2);
  if (!sigs.endsWith("\n")) throw malformed("signatures do not end with a newline");
  const signatures = [];
  for (const line of sigs.slice(0, -1).split("\n")) {
    const sig = parseSignatureLine(line);
    if (!sig) throw malformed("bad signature line");
    signatures.push(sig);
    if (signatures.length > MAX_SIGNATURES) throw malformed("too many signatures");
  }
  if (signatures.length === 0) throw malformed("no signature");
  return { text, signatures };
}

/** The checkpoint a parsed note holds. Throws NoteError. */
export function noteCheckpoint(note) {
  const cp = parseCheckpointBody(note.text);
  if (!cp) throw malformed("not a checkpoint");
  return cp;
}

/**
 * Verifies a parsed note against `keys`: for each key, whether it signed (and a cosignature's
 * timestamp). Signatures by unknown keys are ignored; a known key's signature that fails rejects
 * the note (NoteError "a signature by <name> does not verify").
 */
export async function verifyNote(note, keys) {
  const out = keys.map(() => null);
  for (const sig of note.signatures) {
    for (let k = 0; k < keys.length; k += 1) {
      const key = keys[k];
      if (key.name !== sig.name || !bytesEqual(key.keyId, sig.keyId)) continue;
      const signed = await key.verify(note.text, sig.signature);
      if (!signed) throw new NoteError(`a signature by ${key.name} does not verify`);
      out[k] = signed;
    }
  }
  return out;
}

function validKeyName(name) {
  return (
    name !== "" && bytesOf(name).length <= 256 && !name.includes("+") && !WHITESPACE.test(name) && !CONTROL.test(name)
  );
}

/** DER ECDSA-Sig-Value (strict, minimal) to the 64-byte r||s WebCrypto verifies; null if not DER. */
export function derToRaw(der) {
  if (der.length < 8 || der[0] !== 0x30 || der[1] >= 0x80 || der[1] !== der.length - 2) return null;
  let at = 2;
  const out = new Uint8Array(64);
  for (let part = 0; part < 2; part += 1) {
    if (der[at] !== 0x02) return null;
    const len = der[at + 1];
    if (len === undefined || len === 0 || len >= 0x80 || at + 2 + len > der.length) return null;
    let v = der.subarray(at + 2, at + 2 + len);
    if (v[0] & 0x80) return null; // negative
    if (v.length > 1 && v[0] === 0 && !(v[1] & 0x80)) return null; // not minimal
    if (v[0] === 0 && v.length > 1) v = v.subarray(1);
    if (v.length > 32) return null;
    out.set(v, part * 32 + 32 - v.length);
    at += 2 + len;
  }
  return at === der.length ? out : null;
}

/** A key that verifies note signatures: the log's ECDSA key or a witness's Ed25519 key. */
export class NoteVerifier {
  constructor(kind, name, keyId, bytes, cryptoKey) {
    this.kind = kind; // "ecdsa" or "cosigner"
    this.name = name;
    this.keyId = keyId;
    this.bytes = bytes; // DER SPKI, or the 32-byte Ed25519 key
    this.cryptoKey = cryptoKey;
  }

  get isCosigner() {
    return this.kind === "cosigner";
  }

  /** The vkey text (`name+hexid+base64(type || key)`). */
  vkey() {
    const blob = new Uint8Array(this.bytes.length + 1);
    blob[0] = this.isCosigner ? TYPE_COSIGNATURE_ED25519 : TYPE_ECDSA;
    blob.set(this.bytes, 1);
    return `${this.name}+${hex(this.keyId)}+${b64encode(blob)}`;
  }

  /** Verifies one signature over a note text; returns {timestamp} or null. */
  async verify(text, signature) {
    if (this.kind === "ecdsa") {
      const raw = derToRaw(signature);
      if (!raw) return null;
      const ok = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, this.cryptoKey, raw, bytesOf(text));
      return ok ? { timestamp: null } : null;
    }
    if (signature.length !== 8 + 64) return null;
    let ts = 0n;
    for (let k = 0; k < 8; k += 1) ts = (ts << 8n) | BigInt(signature[k]);
    if (ts === 0n || ts > (1n << 63n) - 1n) return null;
    const message = bytesOf(`cosignature/v1\ntime ${ts}\n${text}`);
    let ok = false;
    try {
      ok = await subtle.verify({ name: "Ed25519" }, this.cryptoKey, signature.subarray(8), message);
    } catch {
      ok = false;
    }
    return ok ? { timestamp: Number(ts) } : null;
  }
}

async function ecdsaFromSpki(name, spki) {
  let key;
  try {
    key = await subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  } catch {
    return null;
  }
  const canonical = new Uint8Array(await subtle.exportKey("spki", key));
  const id = (await sha256(canonical)).slice(0, 4);
  return new NoteVerifier("ecdsa", name, id, canonical, key);
}

async function cosignerFrom(name, publicKey) {
  const h = await sha256(bytesOf(name), Uint8Array.of(0x0a, TYPE_COSIGNATURE_ED25519), publicKey);
  let key = null;
  try {
    key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    key = null; // not a point: every signature by it fails, as with the Rust verifier
  }
  return new NoteVerifier("cosigner", name, h.slice(0, 4), publicKey, key);
}

/** Parses a vkey (`name+hexid+base64(type || key)`); throws Error with the Rust text. */
export async function fromVkey(vkey) {
  const parts = vkey.trim().split("+");
  if (parts.length < 3) throw new Error("a verifier key has three parts: name+keyid+base64");
  const [name, idText] = parts;
  const b64 = parts.slice(2).join("+");
  if (!/^(?:[0-9a-fA-F]{2}){4}$/.test(idText)) throw new Error("the key ID is not 8 hex digits");
  const id = Uint8Array.from(idText.match(/../g), (h) => parseInt(h, 16));
  const blob = b64decode(b64);
  if (blob === null) throw new Error("the key is not base64");
  if (blob.length === 0) throw new Error("empty key");
  let key;
  if (blob[0] === TYPE_ECDSA) {
    key = await ecdsaFromSpki(name, blob.slice(1));
    if (!key) throw new Error("not a P-256 public key (DER SPKI)");
    if (!validKeyName(name)) throw new Error("bad key name");
  } else if (blob[0] === TYPE_COSIGNATURE_ED25519) {
    if (blob.length !== 33) throw new Error("an Ed25519 key is 32 bytes");
    if (!validKeyName(name)) throw new Error("bad key name");
    key = await cosignerFrom(name, blob.slice(1));
  } else {
    throw new Error(`unsupported signature type 0x${blob[0].toString(16).padStart(2, "0")}`);
  }
  if (!bytesEqual(key.keyId, id)) throw new Error("the key ID does not match the key");
  return key;
}

/** A log key from its SPKI PEM and name (the log's origin); null if it is not a P-256 key. */
export async function ecdsaFromPem(name, pem) {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem);
  if (!m || !validKeyName(name)) return null;
  const der = b64decode(m[1].replace(/\s+/g, ""));
  return der ? ecdsaFromSpki(name, der) : null;
}
