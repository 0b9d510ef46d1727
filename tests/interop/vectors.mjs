// vectors.mjs — runs the whole project vector file (tests/vectors/protocol-v1.json) through
// protocol.mjs, the receiver written from docs/PROTOCOL.md with @hpke/core and jose, in Node.
//
//   node vectors.mjs --vectors <path> [--base64 strict|padding|trailing] [--json refuse|last|first]
//
// stdout: {"counts":{"seal","must_pass","must_fail"},"failures":[...],"accepted":[...]}
// `failures` is empty when every vector behaves as the file says. The lenient options make the
// receiver deliberately lenient (see protocol.mjs); `accepted` then names the must-fail cases
// that such a receiver lets through.

import { readFileSync } from "node:fs";
import { options, run } from "./common.mjs";
import { runVectors } from "./protocol.mjs";

await run(async () => {
  const opt = options({ vectors: true, base64: false, json: false });
  const file = JSON.parse(readFileSync(opt.vectors, "utf8"));
  return await runVectors(file, { base64: opt.base64 ?? "strict", json: opt.json ?? "refuse" });
});
