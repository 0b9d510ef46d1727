// The service's JWK set (docs/PROTOCOL.md §7.4): the keys key tokens are verified with.
// Signature keys are imported by jose.

import { importJWK } from "jose";
import { fail } from "./errors.js";
import { objectMembers, optionalString, stringValue } from "./json.js";
import type { Json } from "./json.js";
import { PublicKey, readJsonInput } from "./publicKey.js";
import type { JsonInput, JwkShape } from "./publicKey.js";

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

const token = Symbol("Jwks");

/**
 * A JWK set read by §7.4: a JSON object whose `keys` is an array of objects. Entries are
 * judged only when a token names their `kid`; unusable ones are ignored, not refused.
 *
 * Obtain it over an authenticated channel (TLS to the service, configuration, attestation).
 */
export class Jwks {
  readonly #entries: readonly ReadonlyMap<string, Json>[];

  private constructor(guard: symbol, entries: readonly ReadonlyMap<string, Json>[]) {
    if (guard !== token) throw new TypeError("use Jwks.parse");
    this.#entries = entries;
    Object.freeze(this);
  }

  /**
   * Reads a JWK set strictly (§10.1 JSON rules, anywhere in it): anything but an object with
   * an array `keys` of objects is `Malformed`. Other members are ignored (RFC 7517 §5).
   */
  static parse(jwks: JsonInput): Jwks {
    const m = objectMembers(readJsonInput(jwks, "JWK set"));
    const keys = m?.get("keys");
    if (keys?.kind !== "array") fail("Malformed", 'JWK set: expected {"keys": [...]}');
    const entries = keys.items.map((entry) => {
      const members = objectMembers(entry);
      if (members === undefined) fail("Malformed", "JWK set: an entry is not an object");
      return members;
    });
    return new Jwks(token, entries);
  }

  /** The number of entries (usable or not). */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * @internal §7.4 and §10.2 step 6: the key of the one usable entry that carries `kid`, ready
   * for jose. A kid on no entry or on several, or an entry that cannot verify ES256, is
   * `UnknownSigningKey`.
   */
  async signingKey(kid: string): Promise<VerifyKey> {
    const matching = this.#entries.filter((e) => stringValue(e.get("kid")) === kid);
    const entry = matching.length === 1 ? matching[0] : undefined;
    if (entry === undefined) fail("UnknownSigningKey", `${matching.length} entries carry this kid`);
    const alg = optionalString(entry, "alg");
    const use = optionalString(entry, "use");
    if ((alg !== undefined && alg !== "ES256") || (use !== undefined && use !== "sig")) {
      fail("UnknownSigningKey", "the entry is not an ES256 signing key");
    }
    const text = (name: string): string => stringValue(entry.get(name)) ?? "";
    const shape: JwkShape = {
      kty: text("kty"),
      crv: text("crv"),
      x: text("x"),
      y: text("y"),
      kid,
      use: undefined,
      alg: undefined,
      privatePart: entry.has("d"),
    };
    const key = await PublicKey.fromShape(shape, "UnknownSigningKey");
    try {
      return await importJWK({ ...key.jwk }, "ES256");
    } catch {
      return fail("UnknownSigningKey", "the entry's key cannot be imported");
    }
  }
}
