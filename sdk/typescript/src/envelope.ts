// Envelopes (docs/PROTOCOL.md §5): one sealed message for one key, in its JSON and compact
// forms, read by §10.3 steps 1 to 6; and sealing (§4), done by @hpke/core.

import { fail } from "./errors.js";
import * as b64 from "./base64url.js";
import { integerValue, objectMembers, onlyMembers, optionalString, readJson, stringValue } from "./json.js";
import { checkKeyId } from "./keyId.js";
import { isVerifiedKey } from "./keyToken.js";
import type { VerifiedKey } from "./keyToken.js";
import type { PublicKey } from "./publicKey.js";
import { ENC_LEN, MAX_CONTEXT_LEN, MAX_PLAINTEXT_LEN, MAX_SEALED_LEN, MIN_SEALED_LEN, info, strongSuite } from "./suite.js";
import { fromUtf8, trim, utf8, utf8Length } from "./wire.js";

/** The JSON form of an envelope. */
export interface EnvelopeJson {
  readonly version: 1;
  readonly key_id: string;
  readonly sealed: string;
  readonly context?: string;
}

const COMPACT_VERSION = /^v(0|[1-9][0-9]*)$/;

/**
 * One sealed message for one key. It holds only ciphertext: log, copy and forward it freely.
 * Read one with {@link Envelope.parse} (either form), {@link Envelope.fromJson} or
 * {@link Envelope.fromCompact}; make one with {@link seal} or {@link sealTo}.
 */
export class Envelope {
  /** The key id the message is sealed to. */
  readonly keyId: string;
  /** The sealed bytes: enc (65 bytes) ‖ ciphertext. */
  readonly sealed: Uint8Array;
  /** The context the sender bound, or `undefined` for none. */
  readonly context: string | undefined;

  /**
   * An envelope from its parts, checked as a receiver checks them (§10.3 steps 4 to 6): a key
   * id (`InvalidKeyId`), 82 to 65 617 sealed bytes starting 0x04 (`Malformed`), a context of at
   * most 256 bytes (`ContextTooLong`; `""` means none).
   */
  constructor(keyId: string, sealed: Uint8Array, context?: string) {
    this.keyId = checkKeyId(keyId);
    checkSealed(sealed);
    this.sealed = Uint8Array.from(sealed);
    if (context !== undefined) {
      if (typeof context !== "string") fail("Malformed", "context: not a string");
      if (utf8Length(context) > MAX_CONTEXT_LEN) fail("ContextTooLong", "context over 256 bytes");
    }
    this.context = context === "" ? undefined : context;
    Object.freeze(this);
  }

  /**
   * Reads either form: after the surrounding whitespace, text that starts with `{` is the JSON
   * form, anything else the compact form.
   */
  static parse(text: string): Envelope {
    if (typeof text !== "string") fail("Malformed", "envelope: not text");
    const t = trim(text);
    return t.startsWith("{") ? Envelope.fromJson(t) : Envelope.fromCompact(t);
  }

  /** Reads the JSON form (§5, §10.3 steps 1 to 6); `bytes` are UTF-8. */
  static fromJson(json: string | Uint8Array): Envelope {
    // 1. Strict JSON, an object.
    const m = objectMembers(readJson(json, "envelope"));
    if (m === undefined) fail("Malformed", "envelope: not a JSON object");
    // 2. The version, before any other member.
    const version = integerValue(m.get("version"));
    if (version === undefined) fail("Malformed", "envelope: version is not an integer");
    if (version !== 1) fail("UnsupportedVersion", "envelope version is not 1");
    // 3. Exactly the members of §5, of their types.
    if (!onlyMembers(m, ["version", "key_id", "sealed", "context"])) fail("Malformed", "envelope: members");
    const keyId = stringValue(m.get("key_id"));
    const sealed = stringValue(m.get("sealed"));
    const context = optionalString(m, "context");
    if (keyId === undefined || sealed === undefined || context === null) {
      fail("Malformed", "envelope: key_id and sealed must be strings, context a string if present");
    }
    // 4, 5, 6.
    checkKeyId(keyId);
    const bytes = b64.decode(sealed);
    if (bytes === undefined) fail("Malformed", "sealed: not base64url");
    return new Envelope(keyId, bytes, context);
  }

  /** Reads the compact form `v1.<key_id>.<sealed>[.<context>]` (§5, §10.3 steps 1 to 6). */
  static fromCompact(text: string): Envelope {
    if (typeof text !== "string") fail("Malformed", "envelope: not text");
    // 1.
    const parts = trim(text).split(".");
    // 2. The version, before the number of parts.
    const first = parts[0] ?? "";
    if (first !== "v1") {
      const m = COMPACT_VERSION.exec(first);
      if (m?.[1] !== undefined && BigInt(m[1]) <= BigInt(Number.MAX_SAFE_INTEGER)) {
        fail("UnsupportedVersion", "envelope version is not 1");
      }
      fail("Malformed", "compact envelope: the first part is not v1");
    }
    // 3.
    if (parts.length !== 3 && parts.length !== 4) fail("Malformed", "compact envelope: expected three or four parts");
    const [, keyId, sealedPart, contextPart] = parts as [string, string, string, string | undefined];
    // 4, 5.
    checkKeyId(keyId);
    const sealed = b64.decode(sealedPart);
    if (sealed === undefined) fail("Malformed", "sealed: not base64url");
    checkSealed(sealed);
    // 6. Length before UTF-8.
    let context: string | undefined;
    if (contextPart !== undefined) {
      const bytes = b64.decode(contextPart);
      if (bytes === undefined) fail("Malformed", "context: not base64url");
      if (bytes.length > MAX_CONTEXT_LEN) fail("ContextTooLong", "context over 256 bytes");
      context = fromUtf8(bytes);
      if (context === undefined) fail("Malformed", "context: not UTF-8");
    }
    return new Envelope(keyId, sealed, context);
  }

  /** The JSON form as an object (`JSON.stringify(envelope)` gives the JSON text). */
  toJSON(): EnvelopeJson {
    const json = { version: 1, key_id: this.keyId, sealed: b64.encode(this.sealed) } as const;
    return this.context === undefined ? json : { ...json, context: this.context };
  }

  /** The JSON form as text. */
  toJsonString(): string {
    return JSON.stringify(this.toJSON());
  }

  /** The compact form, one line for the `Ok2cry-Envelope` header. */
  toCompact(): string {
    const base = `v1.${this.keyId}.${b64.encode(this.sealed)}`;
    return this.context === undefined ? base : `${base}.${b64.encode(utf8(this.context))}`;
  }
}

/** §10.3 step 5: 82 to 65 617 bytes, starting with 0x04. */
function checkSealed(sealed: Uint8Array): void {
  if (!(sealed instanceof Uint8Array)) fail("Malformed", "sealed: not bytes");
  if (sealed.length < MIN_SEALED_LEN || sealed.length > MAX_SEALED_LEN) fail("Malformed", "sealed: wrong length");
  if (sealed[0] !== 0x04) fail("Malformed", "sealed: enc is not an uncompressed point");
}

/** A plaintext: bytes, or text (sealed as its UTF-8). */
export type PlaintextInput = Uint8Array | string;

function plaintextBytes(plaintext: PlaintextInput): Uint8Array {
  const bytes = typeof plaintext === "string" ? utf8(plaintext) : plaintext;
  if (!(bytes instanceof Uint8Array)) throw new TypeError("plaintext: bytes or text");
  if (bytes.length < 1 || bytes.length > MAX_PLAINTEXT_LEN) fail("PlaintextSize", "plaintext must be 1 to 65 536 bytes");
  return bytes;
}

/**
 * Seals `plaintext` to a verified key token: HPKE base mode to its public key, with its key
 * id and context in `info` and empty AAD (§3, §4). The sender needs nothing else.
 */
export async function seal(key: VerifiedKey, plaintext: PlaintextInput): Promise<Envelope> {
  if (!isVerifiedKey(key)) throw new TypeError("seal: the key must be a VerifiedKey (verifyKeyToken)");
  return await sealTo(key.publicKey, plaintext, { keyId: key.keyId, context: key.context });
}

/** Options of {@link sealTo}. */
export interface SealToOptions {
  /** The key id to seal under (default: the key's thumbprint, the id of a local key, §8). */
  readonly keyId?: string;
  /** The context to bind (default: none). */
  readonly context?: string;
}

/**
 * Seals `plaintext` to a public key the caller trusts without a token: an end user's own key
 * received as a JWK ({@link PublicKey.fromJwk}), in the "reveal" flow. Its key id is the key's
 * thumbprint unless another is given. Trust in such a key is trust in the channel it came
 * over (docs/PROTOCOL.md §8).
 */
export async function sealTo(recipient: PublicKey, plaintext: PlaintextInput, options: SealToOptions = {}): Promise<Envelope> {
  const keyId = checkKeyId(options.keyId ?? recipient.thumbprint);
  const context = options.context ?? "";
  if (typeof context !== "string") fail("Malformed", "context: not a string");
  if (utf8Length(context) > MAX_CONTEXT_LEN) fail("ContextTooLong", "context over 256 bytes");
  const pt = plaintextBytes(plaintext);
  let enc: ArrayBuffer;
  let ct: ArrayBuffer;
  try {
    ({ enc, ct } = await strongSuite().seal({ recipientPublicKey: recipient.cryptoKey, info: info(keyId, context) }, pt));
  } catch {
    fail("SealFailed", "the KEM refused the recipient key");
  }
  const sealed = new Uint8Array(ENC_LEN + ct.byteLength);
  sealed.set(new Uint8Array(enc), 0);
  sealed.set(new Uint8Array(ct), ENC_LEN);
  return new Envelope(keyId, sealed, context);
}
