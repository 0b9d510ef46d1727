// A P-256 private key that opens envelopes (docs/PROTOCOL.md §10.3 steps 7 to 9). HPKE open
// is @hpke/core's; key generation and import are the platform's WebCrypto.
//
// The key lives in a WebCrypto CryptoKey in a private field: it is never a member, never in
// `toJSON()`, never in an error message. A generated key is not extractable at all.

import { fail } from "./errors.js";
import * as b64 from "./base64url.js";
import type { Envelope } from "./envelope.js";
import { checkKeyId } from "./keyId.js";
import { PublicKey, readJsonInput, readJwkShape } from "./publicKey.js";
import type { JsonInput, PublicJwk } from "./publicKey.js";
import { ENC_LEN, MAX_CONTEXT_LEN, MAX_SEALED_LEN, MIN_SEALED_LEN, info, strongSuite } from "./suite.js";
import { utf8Length } from "./wire.js";
import { stringValue, objectMembers } from "./json.js";

/** The opener's own record of the key it holds (§3): the key id and the context it expects. */
export interface OpenOptions {
  /** The key id of the key, from the opener's records (never from the envelope). */
  readonly keyId: string;
  /** The context the opener expects (default: none). */
  readonly context?: string;
}

const token = Symbol("PrivateKey");

/**
 * An EC P-256 private key, with which envelopes sealed to its public key are opened. For an
 * end user's one-time key use {@link LocalKey}, which also opens only once.
 */
export class PrivateKey {
  /** The public key. */
  readonly publicKey: PublicKey;
  readonly #key: CryptoKey | CryptoKeyPair;

  private constructor(guard: symbol, key: CryptoKey | CryptoKeyPair, publicKey: PublicKey) {
    if (guard !== token) throw new TypeError("use PrivateKey.generate, fromScalar or fromJwk");
    this.#key = key;
    this.publicKey = publicKey;
    Object.freeze(this);
  }

  /** A new random key whose private part WebCrypto never lets out (not extractable). */
  static async generate(): Promise<PrivateKey> {
    const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const publicKey = await publicKeyOf(jwk);
    return new PrivateKey(token, pair, publicKey);
  }

  /**
   * A key from its 32-byte big-endian scalar (RFC 9180 `DeserializePrivateKey`): anything but
   * a scalar in [1, n) of exactly 32 bytes is `InvalidPrivateKey`.
   */
  static async fromScalar(scalar: Uint8Array): Promise<PrivateKey> {
    if (!(scalar instanceof Uint8Array) || scalar.length !== 32) fail("InvalidPrivateKey", "not 32 bytes");
    let key: CryptoKey;
    let jwk: JsonWebKey;
    try {
      key = await strongSuite().kem.deserializePrivateKey(scalar);
      jwk = await crypto.subtle.exportKey("jwk", key);
    } catch {
      fail("InvalidPrivateKey", "not a P-256 scalar in [1, n)");
    }
    return new PrivateKey(token, key, await publicKeyOf(jwk));
  }

  /**
   * A key from a private JWK (`kty` EC, `crv` P-256, `x`, `y`, `d`), read strictly (§10.1,
   * §7.3): a shape outside §7.3 or a `d` that is not a string is `Malformed`; another key type
   * or curve, a `d` that is not 32 bytes of base64url or does not match `x` and `y` is
   * `InvalidPrivateKey`.
   */
  static async fromJwk(jwk: JsonInput): Promise<PrivateKey> {
    const tree = readJsonInput(jwk, "private JWK");
    const shape = readJwkShape(tree, "private JWK");
    const d = stringValue(objectMembers(tree)?.get("d"));
    if (d === undefined) fail("Malformed", "private JWK: d must be a string");
    if (shape.kty !== "EC" || shape.crv !== "P-256") fail("InvalidPrivateKey", "not an EC P-256 key");
    const scalar = b64.decode(d);
    if (scalar === undefined) fail("InvalidPrivateKey", "d is not base64url");
    const key = await PrivateKey.fromScalar(scalar);
    scalar.fill(0);
    if (key.publicKey.jwk.x !== shape.x || key.publicKey.jwk.y !== shape.y) {
      fail("InvalidPrivateKey", "d does not match x and y");
    }
    return key;
  }

  /**
   * Opens an envelope with this key, by the opener's own records (§10.3 steps 7 to 9):
   * another key id than `keyId` is `KeyIdMismatch`; an envelope that names another context
   * than `context` is `ContextMismatch`; every decryption failure is `OpenFailed`, with no
   * detail. Returns the plaintext: wipe it (`fill(0)`) when done.
   */
  async open(envelope: Envelope, options: OpenOptions): Promise<Uint8Array> {
    const keyId = checkKeyId(options.keyId);
    const context = options.context ?? "";
    if (envelope.keyId !== keyId) fail("KeyIdMismatch", "the envelope is for another key id");
    if (envelope.context !== undefined && envelope.context !== context) {
      fail("ContextMismatch", "the envelope names another context than the one expected");
    }
    return await this.openSealed(envelope.sealed, { keyId, context });
  }

  /**
   * Opens raw sealed bytes (enc ‖ ciphertext) with the opener's key id and context (§10.3 step
   * 9 alone): anything that does not open, wrong lengths included, is `OpenFailed`.
   */
  async openSealed(sealed: Uint8Array, options: OpenOptions): Promise<Uint8Array> {
    const keyId = checkKeyId(options.keyId);
    const context = options.context ?? "";
    if (utf8Length(context) > MAX_CONTEXT_LEN) fail("ContextTooLong", "context over 256 bytes");
    if (!(sealed instanceof Uint8Array) || sealed.length < MIN_SEALED_LEN || sealed.length > MAX_SEALED_LEN) {
      fail("OpenFailed", "cannot open");
    }
    try {
      const pt = await strongSuite().open(
        { recipientKey: this.#key, enc: sealed.slice(0, ENC_LEN), info: info(keyId, context) },
        sealed.slice(ENC_LEN),
      );
      return new Uint8Array(pt);
    } catch {
      // Deliberately coarse (§11.1): no detail of what did not match.
      return fail("OpenFailed", "cannot open");
    }
  }

  /** Only the public key: a private key has no serialized form here. */
  toJSON(): { jwk: PublicJwk } {
    return { jwk: this.publicKey.jwk };
  }
}

async function publicKeyOf(jwk: JsonWebKey): Promise<PublicKey> {
  return await PublicKey.fromShape(
    {
      kty: jwk.kty ?? "",
      crv: jwk.crv ?? "",
      x: jwk.x ?? "",
      y: jwk.y ?? "",
      kid: undefined,
      use: undefined,
      alg: undefined,
      privatePart: false,
    },
    "InvalidPrivateKey",
  );
}
