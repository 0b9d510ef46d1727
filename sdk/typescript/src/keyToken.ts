// Key tokens (docs/PROTOCOL.md §7): verified in the order of §10.2 into a VerifiedKey, the
// only thing a message can be sealed to with `seal`. The ES256 signature is checked by jose.

import { compactVerify } from "jose";
import { fail } from "./errors.js";
import * as b64 from "./base64url.js";
import { integerValue, objectMembers, onlyMembers, optionalString, readJson, stringValue } from "./json.js";
import type { Jwks } from "./jwks.js";
import { checkKeyId } from "./keyId.js";
import { PublicKey, readJwkShape } from "./publicKey.js";
import type { PublicJwk } from "./publicKey.js";
import { CLOCK_SKEW_SECONDS, MAX_CONTEXT_LEN, MAX_TOKEN_LEN, SUITE, VERSION } from "./suite.js";
import { trim, utf8Length } from "./wire.js";

const CLAIMS = ["iss", "key_id", "jwk", "iat", "exp", "max_opens", "suite", "v", "context"];
const MAX_ISSUER_LEN = 256;
const MAX_OPENS = 2 ** 32 - 1;

/** Options of {@link verifyKeyToken}. */
export interface VerifyOptions {
  /** The time to verify at, in whole seconds since the Unix epoch (default: now). */
  readonly now?: number;
}

const token = Symbol("VerifiedKey");

/**
 * A key token that verified (§10.2, every step): the key id, context and public key to seal
 * to. Only {@link verifyKeyToken} makes one.
 */
export class VerifiedKey {
  /** The key id (`key_id`). */
  readonly keyId: string;
  /** The context to bind when sealing (`context`; `""` when there is none). */
  readonly context: string;
  /** The recipient public key (`jwk`). */
  readonly publicKey: PublicKey;
  /** `iss`: informational (§7.2); trust comes from the JWK set. */
  readonly issuer: string;
  /** `iat`, seconds since the Unix epoch. */
  readonly issuedAt: number;
  /** `exp`, seconds since the Unix epoch: the key is destroyed no later than this. */
  readonly expiresAt: number;
  /** `max_opens`: the opens remaining when the token was signed. */
  readonly maxOpens: number;
  /** The `kid` of the service signing key that signed the token. */
  readonly signingKid: string;
  /** The token as verified (surrounding whitespace removed), to forward unchanged. */
  readonly token: string;

  private constructor(guard: symbol, fields: Omit<VerifiedKey, "jwk">) {
    if (guard !== token) throw new TypeError("a VerifiedKey comes only from verifyKeyToken");
    this.keyId = fields.keyId;
    this.context = fields.context;
    this.publicKey = fields.publicKey;
    this.issuer = fields.issuer;
    this.issuedAt = fields.issuedAt;
    this.expiresAt = fields.expiresAt;
    this.maxOpens = fields.maxOpens;
    this.signingKid = fields.signingKid;
    this.token = fields.token;
    Object.freeze(this);
  }

  /** @internal Made by verifyKeyToken only (the guard is private to this module). */
  static fromVerified(guard: symbol, fields: Omit<VerifiedKey, "jwk">): VerifiedKey {
    return new VerifiedKey(guard, fields);
  }

  /** The recipient public key as a JWK. */
  get jwk(): PublicJwk {
    return this.publicKey.jwk;
  }
}

/** @internal Whether `value` is a VerifiedKey made by {@link verifyKeyToken}. */
export function isVerifiedKey(value: unknown): value is VerifiedKey {
  return value instanceof VerifiedKey;
}

/**
 * Verifies a key token against the service's JWK set, all of §10.2 in its order, and refuses
 * at the first failing step with its §11 error (`ProtocolError.code`): `Malformed`,
 * `InvalidKeyId`, `UnsupportedAlgorithm`, `WrongTokenType`, `UnknownSigningKey`,
 * `BadSignature`, `UnsupportedVersion`, `UnsupportedSuite`, `Expired`, `NotYetValid`,
 * `ContextTooLong`, `InvalidPublicKey`. Nothing in the token is believed before its signature
 * verifies.
 */
export async function verifyKeyToken(compact: string, jwks: Jwks, options: VerifyOptions = {}): Promise<VerifiedKey> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(now) || now < 0) throw new TypeError("now: whole seconds since the epoch");
  if (typeof compact !== "string") fail("Malformed", "key token: not text");

  // 1. Text: whitespace, length, three parts, each base64url.
  const text = trim(compact);
  if (utf8Length(text) > MAX_TOKEN_LEN) fail("Malformed", "key token: too long");
  const parts = text.split(".");
  if (parts.length !== 3) fail("Malformed", "key token: expected three dot-separated parts");
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const headerBytes = b64.decode(headerPart);
  const claimsBytes = b64.decode(claimsPart);
  const signature = b64.decode(signaturePart);
  if (headerBytes === undefined) fail("Malformed", "key token header: not base64url");
  if (claimsBytes === undefined) fail("Malformed", "key token claims: not base64url");
  if (signature === undefined) fail("Malformed", "key token signature: not base64url");

  // 2. Header: exactly alg, typ, kid, each a string.
  const h = objectMembers(readJson(headerBytes, "key token header"));
  if (h === undefined || !onlyMembers(h, ["alg", "typ", "kid"])) fail("Malformed", "key token header: members");
  const alg = stringValue(h.get("alg"));
  const typ = stringValue(h.get("typ"));
  const kid = stringValue(h.get("kid"));
  if (alg === undefined || typ === undefined || kid === undefined) {
    fail("Malformed", "key token header: alg, typ and kid must be strings");
  }

  // 3. Claims: exactly the claims of §7.2, of their types and ranges; jwk's shape; the key id.
  const c = objectMembers(readJson(claimsBytes, "key token claims"));
  if (c === undefined || !onlyMembers(c, CLAIMS)) fail("Malformed", "key token claims: members");
  const iss = stringValue(c.get("iss"));
  const keyId = stringValue(c.get("key_id"));
  const iat = integerValue(c.get("iat"));
  const exp = integerValue(c.get("exp"));
  const maxOpens = integerValue(c.get("max_opens"), MAX_OPENS);
  const suite = stringValue(c.get("suite"));
  const v = integerValue(c.get("v"));
  const context = optionalString(c, "context");
  if (iss === undefined || utf8Length(iss) < 1 || utf8Length(iss) > MAX_ISSUER_LEN) fail("Malformed", "claims: iss");
  if (keyId === undefined) fail("Malformed", "claims: key_id");
  if (!c.has("jwk")) fail("Malformed", "claims: jwk");
  if (iat === undefined) fail("Malformed", "claims: iat");
  if (exp === undefined) fail("Malformed", "claims: exp");
  if (maxOpens === undefined || maxOpens < 1) fail("Malformed", "claims: max_opens");
  if (suite === undefined) fail("Malformed", "claims: suite");
  if (v === undefined) fail("Malformed", "claims: v");
  if (context === null) fail("Malformed", "claims: context");
  const jwk = readJwkShape(c.get("jwk"), "claims: jwk");
  checkKeyId(keyId);

  // 4, 5.
  if (alg !== "ES256") fail("UnsupportedAlgorithm", "alg is not ES256");
  if (typ !== "ok2cry-key+jwt") fail("WrongTokenType", "typ is not ok2cry-key+jwt");

  // 6.
  const verifyKey = await jwks.signingKey(kid);

  // 7. The signature over `<header part>.<claims part>` as received. jose checks the 64-byte
  // R ‖ S form and ECDSA P-256 SHA-256; either S verifies.
  try {
    await compactVerify(`${headerPart}.${claimsPart}.${signaturePart}`, verifyKey, { algorithms: ["ES256"] });
  } catch {
    fail("BadSignature", "the signature does not verify");
  }

  // 8 to 15: only now is anything in the claims believed.
  if (v !== VERSION) fail("UnsupportedVersion", "v is not 1");
  if (suite !== SUITE) fail("UnsupportedSuite", "suite is not STRONG");
  if (iat > exp) fail("Malformed", "claims: iat after exp");
  if (now >= exp) fail("Expired", "the key token has expired");
  if (iat > now + CLOCK_SKEW_SECONDS) fail("NotYetValid", "the key token is issued in the future");
  if (jwk.kid !== undefined && jwk.kid !== keyId) fail("Malformed", "claims: jwk kid is not key_id");
  if (context !== undefined && utf8Length(context) > MAX_CONTEXT_LEN) fail("ContextTooLong", "context over 256 bytes");
  const publicKey = await PublicKey.fromShape(jwk, "InvalidPublicKey");

  return VerifiedKey.fromVerified(token, {
    keyId,
    context: context ?? "",
    publicKey,
    issuer: iss,
    issuedAt: iat,
    expiresAt: exp,
    maxOpens,
    signingKid: kid,
    token: text,
  });
}
