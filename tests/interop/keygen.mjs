// keygen.mjs — the end user's device in the "reveal" flow: an ephemeral P-256 key pair.
//
// Generates the pair with @hpke/core's DHKEM(P-256) (WebCrypto underneath), writes the private
// key as a JWK to the given file (mode 0600; it is a test key, deleted by the caller), and
// prints the public key. The key id is the RFC 7638 thumbprint of the public key (jose).
//
//   node keygen.mjs --private-out <path>
//
// stdout: {"key_id","jwk":{"kty","crv","x","y","kid","use":"enc"}}

import { writeFileSync } from "node:fs";
import { calculateJwkThumbprint } from "jose";
import { options, run, strongSuite } from "./common.mjs";

await run(async () => {
  const opt = options({ "private-out": true });
  const suite = strongSuite();
  const pair = await suite.kem.generateKeyPair();
  const priv = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const pub = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const core = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y };
  const keyId = await calculateJwkThumbprint(core, "sha256");
  writeFileSync(
    opt["private-out"],
    JSON.stringify({ kty: priv.kty, crv: priv.crv, x: priv.x, y: priv.y, d: priv.d }),
    { mode: 0o600 },
  );
  return { key_id: keyId, jwk: { ...core, kid: keyId, use: "enc" } };
});
