// The conformance suite under node's test runner: every case of tests/vectors/protocol-v1.json
// is one test, passing only with the outcome the file names (docs/PROTOCOL.md §12).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as lib from "@ok2cry/client";
import { runConformance } from "./conformance.js";
import { loadData } from "./data.js";

const { vectors } = loadData();
const result = await runConformance(lib, vectors);

test("every case of the vector file is run", () => {
  assert.deepEqual(result.counts, {
    seal: vectors.seal.length,
    key_token: 1,
    must_pass: vectors.must_pass.length,
    must_fail: vectors.must_fail.length,
  });
  assert.ok(vectors.must_fail.length >= 144 && vectors.must_pass.length >= 20);
  assert.equal(Object.keys(result.outcomes).length, 1 + vectors.seal.length + vectors.must_pass.length + vectors.must_fail.length);
});

for (const [name, expected] of Object.entries(result.expected)) {
  test(name, () => assert.equal(result.outcomes[name], expected));
}
