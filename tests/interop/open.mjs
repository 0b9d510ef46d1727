// open.mjs — the end user's device opens the envelope sealed to its keygen.mjs key.
//
// The key id is recomputed from the private key file (RFC 7638 thumbprint of its public
// part, with jose) and must equal the envelope's; the context comes from the caller (as the
// opener's own record), and an envelope naming another context is refused. Opening is
// @hpke/core's single-shot open, base mode, info = "ok2cry/v1" 0 key_id 0 context, empty AAD.
//
//   node open.mjs --private-key <path> --envelope <json|compact|@file> [--context <text>]
//
// stdout: {"key_id","plaintext" (UTF-8, or null if not UTF-8),"plaintext_b64url"}

import { readFileSync } from "node:fs";
import { calculateJwkThumbprint } from "jose";
import { b64u, ENC_LEN, info, options, receiver, run, strongSuite } from "./common.mjs";

// The envelope is read by protocol.mjs's strict v1 receiver (docs/PROTOCOL.md §10.3 steps 1
// to 6): strict JSON or the compact form, strict base64url.
function parseEnvelope(text) {
  const t = text.trim();
  return receiver().parseEnvelope(t, t.startsWith("{") ? "json" : "compact");
}

await run(async () => {
  const opt = options({ "private-key": true, envelope: true, context: false });
  const jwk = JSON.parse(readFileSync(opt["private-key"], "utf8"));
  const keyId = await calculateJwkThumbprint(
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    "sha256",
  );
  const envelope = parseEnvelope(opt.envelope);
  const context = opt.context ?? "";
  if (envelope.keyId !== keyId) throw new Error("envelope is for another key");
  if (envelope.context !== undefined && envelope.context !== context) {
    throw new Error("envelope context does not match");
  }
  if (envelope.sealed.length < ENC_LEN + 16) throw new Error("sealed: too short");
  const suite = strongSuite();
  const recipientKey = await suite.kem.importKey("jwk", jwk, false);
  const pt = await suite.open(
    {
      recipientKey,
      enc: envelope.sealed.slice(0, ENC_LEN),
      info: info(keyId, context),
    },
    envelope.sealed.slice(ENC_LEN),
  );
  const bytes = new Uint8Array(pt);
  let text = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  return { key_id: keyId, plaintext: text, plaintext_b64url: b64u(bytes) };
});
