// seal.mjs — the end user's app in the "set PIN" flow.
//
// Verifies a key token twice: first with jose's general-purpose JWT verifier against the
// service's JWK set (ES256, typ ok2cry-key+jwt) — a key token is a standard JWS any JOSE library
// accepts — then with @ok2cry/client's verifyKeyToken (all of docs/PROTOCOL.md §10.2), and
// seals the plaintext with @ok2cry/client's seal (@hpke/core underneath) under the token's key id
// and context.
//
//   node seal.mjs --token <jws|@file> --jwks <json|@file>
//                 (--plaintext <utf-8> | --plaintext-b64url <b64url>) [--issuer <iss>]
//
// stdout: {"key_id","thumbprint","signing_kid","context","envelope":{...},"compact"}

import { Jwks, seal, verifyKeyToken } from "@ok2cry/client";
import { createLocalJWKSet, jwtVerify } from "jose";
import { options, run, unb64u } from "./common.mjs";

await run(async () => {
  const opt = options({
    token: true,
    jwks: true,
    plaintext: false,
    "plaintext-b64url": false,
    issuer: false,
  });
  const token = opt.token.trim();
  await jwtVerify(token, createLocalJWKSet(JSON.parse(opt.jwks)), {
    algorithms: ["ES256"],
    typ: "ok2cry-key+jwt",
    ...(opt.issuer ? { issuer: opt.issuer } : {}),
    requiredClaims: ["iss", "iat", "exp"],
  });
  // jose has verified the signature and the JWT claims it knows; the ok2cry rules it does not
  // know (strict JSON, the JWK set's rules, v, suite, the jwk claim, the check order) are the
  // package's, on the same token.
  const key = await verifyKeyToken(token, Jwks.parse(opt.jwks));

  let plaintext;
  if (opt.plaintext !== undefined) plaintext = new TextEncoder().encode(opt.plaintext);
  else if (opt["plaintext-b64url"] !== undefined) plaintext = unb64u(opt["plaintext-b64url"], "plaintext");
  else throw new Error("missing --plaintext or --plaintext-b64url");

  const envelope = await seal(key, plaintext);
  return {
    key_id: key.keyId,
    thumbprint: key.publicKey.thumbprint,
    signing_kid: key.signingKid,
    context: key.context,
    envelope: envelope.toJSON(),
    compact: envelope.toCompact(),
  };
});
