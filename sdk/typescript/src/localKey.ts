// An end user's own ephemeral key (docs/PROTOCOL.md §8): made on the device, its key id the
// RFC 7638 thumbprint of its public key, and it opens one envelope.

import { KeyUsedError } from "./errors.js";
import { Envelope } from "./envelope.js";
import { PrivateKey } from "./privateKey.js";
import type { PublicKey, PublicJwk } from "./publicKey.js";

/** The public JWK a device sends: the key, its key id as `kid`, and `use` enc. */
export interface LocalPublicJwk extends PublicJwk {
  readonly kid: string;
  readonly use: "enc";
}

/** Options of {@link LocalKey.open}. */
export interface LocalOpenOptions {
  /** The context this device expects (default: none). */
  readonly context?: string;
}

const token = Symbol("LocalKey");

/**
 * A one-time key pair made on the end user's device ("reveal" flow). Send
 * {@link LocalKey.publicJwk}; the sender seals to it with `sealTo`; {@link LocalKey.open}
 * opens one envelope and destroys the key, whatever the outcome. The private key is a
 * non-extractable WebCrypto key: it never exists as bytes in JavaScript.
 */
export class LocalKey {
  #key: PrivateKey | undefined;
  /** The key id: the RFC 7638 thumbprint of the public key. */
  readonly keyId: string;
  /** The public key. */
  readonly publicKey: PublicKey;

  private constructor(guard: symbol, key: PrivateKey) {
    if (guard !== token) throw new TypeError("use LocalKey.generate");
    this.#key = key;
    this.publicKey = key.publicKey;
    this.keyId = key.publicKey.thumbprint;
  }

  /** A new random key pair. */
  static async generate(): Promise<LocalKey> {
    return new LocalKey(token, await PrivateKey.generate());
  }

  /** The public JWK to send: `{kty, crv, x, y, kid: keyId, use: "enc"}`. */
  publicJwk(): LocalPublicJwk {
    return { ...this.publicKey.jwk, kid: this.keyId, use: "enc" };
  }

  /** Whether the key has opened (or tried to open) its envelope and is gone. */
  get destroyed(): boolean {
    return this.#key === undefined;
  }

  /**
   * Opens the one envelope sealed to this key (JSON or compact text, or an {@link Envelope}),
   * with the context this device expects. An envelope that does not parse is refused without
   * touching the key; from the key id check on (§10.3 steps 7 to 9), the key is destroyed
   * whatever happens, and a second call is a {@link KeyUsedError}.
   */
  async open(envelope: Envelope | string, options: LocalOpenOptions = {}): Promise<Uint8Array> {
    if (this.#key === undefined) throw new KeyUsedError();
    const parsed = typeof envelope === "string" ? Envelope.parse(envelope) : envelope;
    if (!(parsed instanceof Envelope)) throw new TypeError("open: an Envelope or its text");
    const key = this.#key;
    this.#key = undefined;
    return await key.open(parsed, { keyId: this.keyId, context: options.context ?? "" });
  }

  /** Only the public part: a local key has no serialized private form. */
  toJSON(): { key_id: string; jwk: LocalPublicJwk } {
    return { key_id: this.keyId, jwk: this.publicJwk() };
  }
}
