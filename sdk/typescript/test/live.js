// Live test against a real ok2cry dev node, over mutual TLS. Run by tests/sdk.rs (which starts
// the node) with:
//   OK2CRY_URL   the node's base URL (https://127.0.0.1:PORT)
//   OK2CRY_CA, OK2CRY_CERT, OK2CRY_KEY   the dev PKI: CA, client certificate and key (card-api)
//   OK2CRY_BIN   the ok2cry CLI
// It creates a key, verifies its token, seals to it, has the node open it; checks the node's
// refusals; and opens what the Rust CLI sealed to a local key. Prints one line of JSON (what
// it did, no secret) and exits 0, or fails with an assertion.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Envelope, LocalKey, Ok2cryClient, ProtocolError, ServiceError, seal } from "@ok2cry/client/node";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};
const client = new Ok2cryClient({
  baseUrl: env("OK2CRY_URL"),
  ca: readFileSync(env("OK2CRY_CA")),
  cert: readFileSync(env("OK2CRY_CERT")),
  key: readFileSync(env("OK2CRY_KEY")),
});
const text = (bytes) => new TextDecoder().decode(bytes);
const done = {};

try {
  // Set PIN: a key on the node, its token verified against the node's JWK set, a PIN sealed to
  // it (the end user's side), opened by the node (the card API's side).
  const created = await client.createKey({ ttlSeconds: 60, context: "card:42/set-pin", label: "sdk-typescript live" });
  const key = await client.verifyToken(created.token);
  assert.equal(key.keyId, created.keyId);
  assert.equal(key.context, "card:42/set-pin");
  assert.equal(key.maxOpens, 1);
  assert.deepEqual(key.jwk, created.jwk);
  const envelope = await seal(key, "2468");
  assert.equal(text(await client.open(created.keyId, envelope)), "2468");
  done.set_pin = created.keyId;
  // The key opened once and is gone (410, consumed).
  const gone = await client.getKey(created.keyId).then(() => undefined, (e) => e);
  assert.ok(gone instanceof ServiceError && gone.status === 410 && gone.isGone, `${gone}`);
  assert.equal(gone.problem?.reason, "consumed");

  // The compact form through the node, two opens; a tampered envelope is 422 OpenFailed and
  // does not use up an open.
  const twice = await client.createKey({ ttlSeconds: 60, maxOpens: 2 });
  const k2 = await client.verifyToken((await client.getKey(twice.keyId)).token);
  assert.equal(k2.context, "");
  const sealed = await seal(k2, new Uint8Array([0, 1, 2, 255]));
  const bad = Uint8Array.from(sealed.sealed);
  bad[bad.length - 1] ^= 1;
  const refused = await client.open(twice.keyId, new Envelope(twice.keyId, bad)).then(() => undefined, (e) => e);
  assert.ok(refused instanceof ServiceError && refused.status === 422, `${refused}`);
  assert.equal(refused.problem?.error, "OpenFailed");
  assert.deepEqual([...(await client.open(twice.keyId, sealed.toCompact()))], [0, 1, 2, 255]);
  assert.equal(text(await client.open(twice.keyId, await seal(k2, "second"))), "second");
  done.compact_and_refusal = twice.keyId;

  // Destroyed early: DELETE, then 410 revoked.
  const early = await client.createKey({ ttlSeconds: 60 });
  await client.deleteKey(early.keyId);
  const revoked = await client.open(early.keyId, await seal(await client.verifyToken(early.token), "x")).then(() => undefined, (e) => e);
  assert.ok(revoked instanceof ServiceError && revoked.status === 410, `${revoked}`);
  assert.equal(revoked.problem?.reason, "revoked");
  done.revoked = early.keyId;

  // A token for another service's key set does not verify: a forged token is refused locally.
  const forged = `${created.token.split(".").slice(0, 2).join(".")}.${"A".repeat(86)}`;
  const badSig = await client.verifyToken(forged).then(() => undefined, (e) => e);
  assert.ok(badSig instanceof ProtocolError && badSig.code === "BadSignature", `${badSig}`);

  // Reveal: the Rust CLI seals to this device's own key; the device opens it, once.
  const device = await LocalKey.generate();
  const dir = mkdtempSync(join(tmpdir(), "ok2cry-live-"));
  try {
    const jwkFile = join(dir, "device.jwk");
    writeFileSync(jwkFile, JSON.stringify(device.publicJwk()));
    const compact = execFileSync(env("OK2CRY_BIN"), ["seal", "--jwk", jwkFile, "--context", "card:42/reveal", "--compact"], {
      input: "4111111111111111",
    }).toString();
    assert.equal(Envelope.parse(compact).keyId, device.keyId);
    assert.equal(text(await device.open(compact, { context: "card:42/reveal" })), "4111111111111111");
    assert.ok(device.destroyed);
    done.cli_sealed_to = device.keyId;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  client.close();
}
process.stdout.write(`${JSON.stringify(done)}\n`);
