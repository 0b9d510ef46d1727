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
import { b64u, ENC_LEN, info, options, run, strongSuite, unb64u } from "./common.mjs";

function parseEnvelope(text) {
  const t = text.trim();
  if (t.startsWith("{")) {
    const e = JSON.parse(t);
    const extra = Object.keys(e).filter((k) => !["version", "key_id", "sealed", "context"].includes(k));
    if (e.version !== 1 || extra.length > 0) throw new Error("envelope: not a v1 envelope");
    return { keyId: e.key_id, sealed: unb64u(e.sealed, "sealed"), context: e.context };
  }
  const parts = t.split(".");
  if (parts[0] !== "v1" || parts.length < 3 || parts.length > 4) {
    throw new Error("envelope: expected JSON or v1.<key_id>.<sealed>[.<context>]");
  }
  const context =
    parts.length === 4 ? new TextDecoder("utf-8", { fatal: true }).decode(unb64u(parts[3], "context")) : undefined;
  return { keyId: parts[1], sealed: unb64u(parts[2], "sealed"), context };
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
