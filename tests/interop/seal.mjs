// seal.mjs — the end user's app in the "set PIN" flow.
//
// Verifies a key token with jose against the service's JWK set (ES256, typ ok2cry-key+jwt)
// and with protocol.mjs's strict v1 receiver (docs/PROTOCOL.md §10.2),
// imports its `jwk` claim, computes the RFC 7638 thumbprint with jose, and seals a plaintext
// to the key with @hpke/core (base mode, info = "ok2cry/v1" 0 key_id 0 context, empty AAD).
//
//   node seal.mjs --token <jws|@file> --jwks <json|@file>
//                 (--plaintext <utf-8> | --plaintext-b64url <b64url>) [--issuer <iss>]
//
// stdout: {"key_id","thumbprint","signing_kid","context","envelope":{...},"compact"}

import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
} from "jose";
import { b64u, ENC_LEN, info, options, receiver, run, strongSuite, unb64u } from "./common.mjs";

const KEY_ID = /^[A-Za-z0-9_-]{1,128}$/;

await run(async () => {
  const opt = options({
    token: true,
    jwks: true,
    plaintext: false,
    "plaintext-b64url": false,
    issuer: false,
  });
  const token = opt.token.trim();
  const jwks = createLocalJWKSet(JSON.parse(opt.jwks));
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ["ES256"],
    typ: "ok2cry-key+jwt",
    ...(opt.issuer ? { issuer: opt.issuer } : {}),
    requiredClaims: ["iss", "iat", "exp"],
  });
  // jose has verified the signature and the JWT claims it knows; the ok2cry rules it does not
  // know (strict JSON without duplicate members, exact integers, the JWK set's rules, the
  // check order of docs/PROTOCOL.md §10.2) are protocol.mjs's, on the same token.
  const strict = receiver();
  await strict.verifyToken(token, strict.readJwks(opt.jwks), Math.floor(Date.now() / 1000));
  if (payload.v !== 1 || payload.suite !== "STRONG") {
    throw new Error("token: not protocol v1 / suite STRONG");
  }
  const keyId = payload.key_id;
  if (typeof keyId !== "string" || !KEY_ID.test(keyId)) throw new Error("token: bad key_id");
  const context = payload.context ?? "";
  if (typeof context !== "string") throw new Error("token: context is not a string");
  const jwk = payload.jwk;
  if (jwk?.kty !== "EC" || jwk?.crv !== "P-256" || "d" in jwk) {
    throw new Error("token: jwk is not an EC P-256 public key");
  }
  if (jwk.kid !== undefined && jwk.kid !== keyId) throw new Error("token: jwk kid != key_id");

  let plaintext;
  if (opt.plaintext !== undefined) plaintext = new TextEncoder().encode(opt.plaintext);
  else if (opt["plaintext-b64url"] !== undefined) {
    plaintext = unb64u(opt["plaintext-b64url"], "plaintext");
  } else throw new Error("missing --plaintext or --plaintext-b64url");
  if (plaintext.length === 0) throw new Error("plaintext must not be empty");

  const thumbprint = await calculateJwkThumbprint(
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    "sha256",
  );
  const suite = strongSuite();
  // The KEM imports (and validates) the public JWK; only kty/crv/x/y are passed to WebCrypto.
  const recipientPublicKey = await suite.kem.importKey(
    "jwk",
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    true,
  );
  const { enc, ct } = await suite.seal(
    { recipientPublicKey, info: info(keyId, context) },
    plaintext,
  );
  const encBytes = new Uint8Array(enc);
  if (encBytes.length !== ENC_LEN) throw new Error("unexpected enc length");
  const sealedBytes = new Uint8Array(ENC_LEN + ct.byteLength);
  sealedBytes.set(encBytes, 0);
  sealedBytes.set(new Uint8Array(ct), ENC_LEN);
  const sealed = b64u(sealedBytes);
  const envelope = { version: 1, key_id: keyId, sealed, ...(context ? { context } : {}) };
  const compact = `v1.${keyId}.${sealed}${context ? `.${b64u(new TextEncoder().encode(context))}` : ""}`;
  return {
    key_id: keyId,
    thumbprint,
    signing_kid: decodeProtectedHeader(token).kid,
    context,
    envelope,
    compact,
  };
});
