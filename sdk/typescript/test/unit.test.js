// Unit tests under node's test runner: the platform-neutral cases of cases.js (which also run
// in Chromium, browser.test.js), and what only Node has.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { base64url } from "jose";
import * as lib from "@ok2cry/client";
import * as node from "@ok2cry/client/node";
import { cases, fromHex, kit } from "./cases.js";
import { loadData } from "./data.js";

const data = loadData();
const t = kit(lib);

for (const [name, f] of cases) {
  test(name, () => f(lib, t, data));
}

test("node: the /node entry point is the package plus the client", () => {
  for (const name of Object.keys(lib)) assert.equal(node[name], lib[name], name);
  assert.equal(typeof node.Ok2cryClient, "function");
});

test("node: jose's base64url alone is lenient, which is why the package checks around it (§4.1)", () => {
  // Padding and non-zero unused bits both decode to "f"; the package refuses both (the case
  // "strict base64url: …" above, and the vectors with non-zero unused bits).
  for (const text of ["Zg", "Zg==", "Zh"]) assert.deepEqual([...base64url.decode(text)], [102], text);
  const v = data.vectors.seal[0];
  const [ver, id, sealed] = v.envelope_compact.split(".");
  for (const context of ["Zg==", "Zh"]) {
    assert.throws(() => lib.Envelope.fromCompact([ver, id, sealed, context].join(".")), (e) => e.code === "Malformed", context);
  }
});

test("node: util.inspect shows no private key", async () => {
  const device = await lib.LocalKey.generate();
  const key = await lib.PrivateKey.fromScalar(fromHex(data.vectors.seal[0].skRm));
  for (const shown of [inspect(device, { depth: 10, showHidden: true }), inspect(key, { depth: 10, showHidden: true })]) {
    assert.doesNotMatch(shown, /\bd\b\s*:/);
    assert.doesNotMatch(shown, new RegExp(data.vectors.seal[0].skRm));
  }
});

test("node: the client takes only https URLs without query or fragment", () => {
  const pem = { ca: "x", cert: "x", key: "x" };
  assert.throws(() => new node.Ok2cryClient({ baseUrl: "http://localhost:1", ...pem }), /only https/);
  assert.throws(() => new node.Ok2cryClient({ baseUrl: "https://localhost:1/?a=b", ...pem }), /query or fragment/);
  assert.throws(() => new node.Ok2cryClient({ baseUrl: "not a url", ...pem }), /not a URL/);
});

test("node: a client refuses a bad key id before sending anything", async () => {
  const client = new node.Ok2cryClient({ baseUrl: "https://127.0.0.1:9", ca: "", cert: "", key: "" });
  try {
    await assert.rejects(client.getKey("a/b"), (e) => e instanceof lib.ProtocolError && e.code === "InvalidKeyId");
    await assert.rejects(client.open("a.b", "v1.x.y"), (e) => e.code === "InvalidKeyId");
  } finally {
    client.close();
  }
});

test("node: a connection that fails is a TransportError", async () => {
  // Port 9 on loopback: nothing listens (connection refused), no traffic leaves the machine.
  const client = new node.Ok2cryClient({ baseUrl: "https://127.0.0.1:9", ca: "", cert: "", key: "", timeoutMs: 2000 });
  try {
    await assert.rejects(client.jwks(), node.TransportError);
  } finally {
    client.close();
  }
});
