// The packaged artifact: `npm pack` makes a tarball of the built package only, which installs
// into an empty directory (its dependencies from the npm cache or registry) and works there —
// the conformance suite passes against the installed copy, and a TypeScript consumer type-checks
// against its declarations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const pkg = fileURLToPath(new URL("../", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const quiet = ["--no-audit", "--no-fund", "--loglevel=error"];

const SMOKE = (conformance, vectors) => `
import { readFileSync } from "node:fs";
import * as lib from "@ok2cry/client";
import { Ok2cryClient } from "@ok2cry/client/node";
import { runConformance } from ${JSON.stringify(conformance)};
const r = await runConformance(lib, JSON.parse(readFileSync(${JSON.stringify(vectors)}, "utf8")));
const device = await lib.LocalKey.generate();
const envelope = await lib.sealTo(await lib.PublicKey.fromJwk(JSON.stringify(device.publicJwk())), "smoke");
const opened = new TextDecoder().decode(await device.open(envelope.toCompact()));
console.log(JSON.stringify({ counts: r.counts, failures: r.failures, opened, client: typeof Ok2cryClient,
  resolved: import.meta.resolve("@ok2cry/client") }));
`;

const TYPES = `
import { Envelope, LocalKey, ProtocolError, Jwks, seal, verifyKeyToken, type ErrorName, type VerifiedKey } from "@ok2cry/client";
import { Ok2cryClient, ServiceError, type CreatedKey } from "@ok2cry/client/node";
export async function use(token: string, jwks: string): Promise<string> {
  const key: VerifiedKey = await verifyKeyToken(token, Jwks.parse(jwks));
  const envelope: Envelope = await seal(key, "1234");
  const device = await LocalKey.generate();
  const code: ErrorName = new ProtocolError("Malformed", "x").code;
  const client = new Ok2cryClient({ baseUrl: "https://localhost", ca: "", cert: "", key: "" });
  const created: Promise<CreatedKey> = client.createKey({ ttlSeconds: 60 });
  void created.catch((e: unknown) => e instanceof ServiceError && e.status);
  return envelope.toCompact() + device.keyId + code;
}
export function made(): void {
  // @ts-expect-error a VerifiedKey is made only by verifyKeyToken
  void new VerifiedKey();
  // @ts-expect-error a LocalKey is made only by LocalKey.generate
  void new LocalKey();
}
`;

test("npm pack: the tarball installs into an empty directory and works there", () => {
  const dir = mkdtempSync(join(tmpdir(), "ok2cry-npm-pack-"));
  try {
    // prepack builds dist/ first.
    const packed = JSON.parse(execFileSync(npm, ["pack", "--json", "--pack-destination", dir, ...quiet], { cwd: pkg }).toString());
    const files = packed[0].files.map((f) => f.path).sort();
    assert.ok(files.includes("dist/index.js") && files.includes("dist/index.d.ts") && files.includes("dist/node.js"), files.join(" "));
    assert.ok(files.includes("package.json") && files.includes("README.md"));
    assert.deepEqual(files.filter((f) => !f.startsWith("dist/") && !["package.json", "README.md"].includes(f)), [], "only dist/, package.json and README.md");

    const app = join(dir, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "smoke", private: true, type: "module" }));
    execFileSync(npm, ["install", "--prefer-offline", ...quiet, join(dir, packed[0].filename)], { cwd: app });

    const conformance = pathToFileURL(join(pkg, "test", "conformance.js")).href;
    const vectors = fileURLToPath(new URL("../../../tests/vectors/protocol-v1.json", import.meta.url));
    writeFileSync(join(app, "smoke.mjs"), SMOKE(conformance, vectors));
    const out = JSON.parse(execFileSync(process.execPath, ["smoke.mjs"], { cwd: app }).toString());
    assert.deepEqual(out.failures, []);
    assert.ok(out.counts.must_fail >= 144);
    assert.equal(out.opened, "smoke");
    assert.equal(out.client, "function");
    assert.ok(out.resolved.startsWith(pathToFileURL(join(app, "node_modules", "@ok2cry", "client")).href), out.resolved);

    // A TypeScript consumer type-checks against the shipped declarations.
    writeFileSync(join(app, "use.ts"), TYPES);
    const tsc = join(pkg, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "ES2022", "--module", "nodenext",
      "--moduleResolution", "nodenext", "--lib", "ES2024,DOM", "--typeRoots", join(pkg, "node_modules", "@types"),
      "--types", "node", "use.ts"], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
