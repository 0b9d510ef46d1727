// Public keys as JWKs (docs/PROTOCOL.md §7.3): the `jwk` claim of a key token and an end
// user's own key (§8). Point validation and import are @hpke/core's (WebCrypto); the RFC 7638
// thumbprint is jose's.

import { calculateJwkThumbprint } from "jose";
import { fail } from "./errors.js";
import type { ErrorName } from "./errors.js";
import * as b64 from "./base64url.js";
import { objectMembers, onlyMembers, optionalString, readJson, stringValue } from "./json.js";
import type { Json } from "./json.js";
import { strongSuite } from "./suite.js";

/** An EC P-256 public key as a JWK, with exactly the members its thumbprint covers. */
export interface PublicJwk {
  readonly kty: "EC";
  readonly crv: "P-256";
  readonly x: string;
  readonly y: string;
}

/** What an application may hand over as a JWK or a JWK set: JSON text, its bytes, or a parsed object. */
export type JsonInput = string | Uint8Array | object;

/** @internal The members of a JWK as §7.3 reads its shape; values are checked on use. */
export interface JwkShape {
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly y: string;
  readonly kid: string | undefined;
  readonly use: string | undefined;
  readonly alg: string | undefined;
  readonly privatePart: boolean;
}

const JWK_MEMBERS = ["kty", "crv", "x", "y", "kid", "use", "alg", "ext", "key_ops", "d"];

/** @internal Reads JSON input of any accepted kind strictly (§10.1). */
export function readJsonInput(input: JsonInput, what: string): Json {
  if (typeof input === "string" || input instanceof Uint8Array) return readJson(input, what);
  // A parsed object can hold no duplicate member; its text is read by the same rules.
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch {
    text = undefined;
  }
  if (text === undefined) fail("Malformed", `${what}: not JSON`);
  return readJson(text, what);
}

/**
 * @internal §7.3: a JWK's members and their types (its shape), refused as `Malformed`: only
 * kty, crv, x, y (required strings), kid, use, alg (strings), ext (boolean), key_ops (array of
 * strings) and d (any value: its presence marks a private key).
 */
export function readJwkShape(value: Json | undefined, what: string): JwkShape {
  const m = objectMembers(value);
  if (m === undefined || !onlyMembers(m, JWK_MEMBERS)) fail("Malformed", `${what}: members`);
  const required = (name: string): string => {
    const v = stringValue(m.get(name));
    if (v === undefined) fail("Malformed", `${what}: ${name}`);
    return v;
  };
  const optional = (name: string): string | undefined => {
    const v = optionalString(m, name);
    if (v === null) fail("Malformed", `${what}: ${name}`);
    return v;
  };
  const shape: JwkShape = {
    kty: required("kty"),
    crv: required("crv"),
    x: required("x"),
    y: required("y"),
    kid: optional("kid"),
    use: optional("use"),
    alg: optional("alg"),
    privatePart: m.has("d"),
  };
  const ext = m.get("ext");
  if (ext !== undefined && ext.kind !== "boolean") fail("Malformed", `${what}: ext`);
  const ops = m.get("key_ops");
  if (ops !== undefined && (ops.kind !== "array" || !ops.items.every((op) => op.kind === "string"))) {
    fail("Malformed", `${what}: key_ops`);
  }
  return shape;
}

const token = Symbol("PublicKey");

/** A validated EC P-256 public key: the recipient of a sealed message. */
export class PublicKey {
  /** The key as a JWK (kty, crv, x, y in canonical base64url). */
  readonly jwk: PublicJwk;
  /**
   * The RFC 7638 JWK thumbprint (SHA-256): the key id of an end user's local key (§8), and
   * the id of a service signing key in a JWK set.
   */
  readonly thumbprint: string;
  /** @internal The WebCrypto key, as @hpke/core imported it. */
  readonly cryptoKey: CryptoKey;

  private constructor(guard: symbol, jwk: PublicJwk, thumbprint: string, cryptoKey: CryptoKey) {
    if (guard !== token) throw new TypeError("use PublicKey.fromJwk");
    this.jwk = jwk;
    this.thumbprint = thumbprint;
    this.cryptoKey = cryptoKey;
    Object.freeze(this);
  }

  /**
   * An end user's public key sent as a JWK (§8), read strictly: other members than those of
   * §7.3 are `Malformed`; a private part, another key type or curve, bad coordinates or a
   * point off the curve are `InvalidPublicKey`. A `kid` is ignored (the key id is the
   * thumbprint).
   */
  static async fromJwk(jwk: JsonInput): Promise<PublicKey> {
    const shape = readJwkShape(readJsonInput(jwk, "JWK"), "JWK");
    return await PublicKey.fromShape(shape, "InvalidPublicKey");
  }

  /**
   * @internal §7.3, the values: kty EC, crv P-256, no d, x and y base64url of 32 bytes each,
   * a point on the curve — else `error`.
   */
  static async fromShape(shape: JwkShape, error: ErrorName): Promise<PublicKey> {
    if (shape.kty !== "EC" || shape.crv !== "P-256") fail(error, "not an EC P-256 key");
    if (shape.privatePart) fail(error, "a private key (member d)");
    const x = b64.decode(shape.x);
    const y = b64.decode(shape.y);
    if (x === undefined || y === undefined || x.length !== 32 || y.length !== 32) {
      fail(error, "coordinates are not 32 bytes of base64url each");
    }
    const jwk: PublicJwk = Object.freeze({ kty: "EC", crv: "P-256", x: shape.x, y: shape.y });
    let cryptoKey: CryptoKey;
    try {
      // WebCrypto checks that the point is on the curve.
      cryptoKey = await strongSuite().kem.importKey("jwk", { ...jwk }, true);
    } catch {
      fail(error, "not a point on P-256");
    }
    const thumbprint = await calculateJwkThumbprint({ ...jwk }, "sha256");
    return new PublicKey(token, jwk, thumbprint, cryptoKey);
  }

  /** The key id of an end user's local key: the thumbprint (§8). */
  get keyId(): string {
    return this.thumbprint;
  }
}
