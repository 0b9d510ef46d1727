// @ok2cry/client — ok2cry protocol v1 (suite STRONG), for browsers and Node ≥ 20.
//
// The normative text is docs/PROTOCOL.md in the ok2cry repository; this package implements it
// on two libraries: @hpke/core (RFC 9180 HPKE, on WebCrypto) and jose (ES256 signatures,
// base64url, RFC 7638 thumbprints). JSON is read by the platform's JSON.parse and
// @humanwhocodes/momoa. Nothing cryptographic is written here.
//
// Table of contents:
// - errors: ProtocolError (its `code` is a §11 name) and KeyUsedError.
// - suite: the constants of suite STRONG and `info` (§1, §3, §6).
// - keyId: key ids (§2).
// - publicKey: public keys as JWKs, thumbprints (§7.3, §8).
// - jwks: the service's JWK set (§7.4).
// - keyToken: verifyKeyToken → VerifiedKey (§7, §10.2).
// - envelope: Envelope, its two forms (§5, §10.3), seal and sealTo (§4).
// - privateKey: PrivateKey, opening (§10.3 steps 7 to 9).
// - localKey: LocalKey, an end user's one-time key (§8).
// - headers: Ok2cry-Key and Ok2cry-Envelope (§9).
// The Node client of the service (client certificates) is in "@ok2cry/client/node".

export { ERROR_NAMES, KeyUsedError, ProtocolError } from "./errors.js";
export type { ErrorName } from "./errors.js";
export {
  CLOCK_SKEW_SECONDS,
  ENC_LEN,
  MAX_CONTEXT_LEN,
  MAX_PLAINTEXT_LEN,
  MAX_SEALED_LEN,
  MAX_TOKEN_LEN,
  MIN_SEALED_LEN,
  SUITE,
  TAG_LEN,
  VERSION,
  info,
} from "./suite.js";
export { MAX_KEY_ID_LEN, isKeyId } from "./keyId.js";
export { PublicKey } from "./publicKey.js";
export type { JsonInput, PublicJwk } from "./publicKey.js";
export { Jwks } from "./jwks.js";
export { VerifiedKey, verifyKeyToken } from "./keyToken.js";
export type { VerifyOptions } from "./keyToken.js";
export { Envelope, seal, sealTo } from "./envelope.js";
export type { EnvelopeJson, PlaintextInput, SealToOptions } from "./envelope.js";
export { PrivateKey } from "./privateKey.js";
export type { OpenOptions } from "./privateKey.js";
export { LocalKey } from "./localKey.js";
export type { LocalOpenOptions, LocalPublicJwk } from "./localKey.js";
export {
  ENVELOPE_HEADER,
  KEY_TOKEN_HEADER,
  readEnvelopeHeader,
  readKeyTokenHeader,
  writeEnvelopeHeader,
  writeKeyTokenHeader,
} from "./headers.js";
export type { HeaderBag } from "./headers.js";
