// keygen.mjs — the end user's device in the "reveal" flow: an ephemeral P-256 key pair.
//
// A real device keeps its key in memory (@ok2cry/client's LocalKey, whose private part WebCrypto
// never lets out); this test tool must hand the key to another process (open.mjs), so it makes
// an extractable pair with WebCrypto, writes the private key as a JWK to the given file (mode
// 0600; a test key, deleted by the caller) and prints the public key. The key id is the RFC 7638
// thumbprint of the public key (@ok2cry/client's PublicKey, with jose).
//
//   node keygen.mjs --private-out <path>
//
// stdout: {"key_id","jwk":{"kty","crv","x","y","kid","use":"enc"}}

import { writeFileSync } from "node:fs";
import { PublicKey } from "@ok2cry/client";
import { options, run } from "./common.mjs";

await run(async () => {
  const opt = options({ "private-out": true });
  const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const priv = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const pub = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const key = await PublicKey.fromJwk({ kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y });
  writeFileSync(
    opt["private-out"],
    JSON.stringify({ kty: priv.kty, crv: priv.crv, x: priv.x, y: priv.y, d: priv.d }),
    { mode: 0o600 },
  );
  return { key_id: key.keyId, jwk: { ...key.jwk, kid: key.keyId, use: "enc" } };
});
