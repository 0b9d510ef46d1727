// open.mjs — the end user's device opens the envelope sealed to its keygen.mjs key.
//
// @ok2cry/client does it all: the private JWK is read strictly and its key id is the RFC 7638
// thumbprint of its public part; the envelope is read by docs/PROTOCOL.md §10.3 steps 1 to 6
// (either form); an envelope for another key id or naming another context than --context is
// refused; opening is @hpke/core's, base mode, info = "ok2cry/v1" 0 key_id 0 context, empty AAD.
// Refusals print their §11 name (error: ProtocolError <name>: …).
//
//   node open.mjs --private-key <path> --envelope <json|compact|@file> [--context <text>]
//
// stdout: {"key_id","plaintext" (UTF-8, or null if not UTF-8),"plaintext_b64url"}

import { readFileSync } from "node:fs";
import { Envelope, PrivateKey } from "@ok2cry/client";
import { b64u, options, run } from "./common.mjs";

await run(async () => {
  const opt = options({ "private-key": true, envelope: true, context: false });
  const key = await PrivateKey.fromJwk(readFileSync(opt["private-key"]));
  const keyId = key.publicKey.thumbprint;
  const bytes = await key.open(Envelope.parse(opt.envelope), { keyId, context: opt.context ?? "" });
  let text = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  return { key_id: keyId, plaintext: text, plaintext_b64url: b64u(bytes) };
});
