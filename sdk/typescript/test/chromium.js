// Runs the package's platform-neutral tests (cases.js) and the conformance suite
// (conformance.js) inside headless Chromium — Debian's package, driven by playwright-core — on
// the browser's own WebCrypto. The page, the built package (dist/), its dependencies and the
// vector files are served by request interception on an https origin that never reaches the
// network (a secure context, as WebCrypto requires).
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { vectorPath } from "./data.js";

const pkg = fileURLToPath(new URL("../", import.meta.url));
const ORIGIN = "https://ok2cry-sdk.test";

const PAGE = `<!doctype html><meta charset="utf-8"><title>@ok2cry/client in Chromium</title>
<script type="importmap">
{ "imports": {
  "@ok2cry/client": "/pkg/index.js",
  "@hpke/core": "/modules/@hpke/core/esm/mod.js",
  "@hpke/common": "/modules/@hpke/common/esm/mod.js",
  "jose": "/modules/jose/dist/webapi/index.js",
  "@humanwhocodes/momoa": "/modules/@humanwhocodes/momoa/dist/momoa.js"
} }
</script>
<script type="module">
import * as lib from "@ok2cry/client";
import { runConformance } from "/test/conformance.js";
import { cases, kit } from "/test/cases.js";
const load = async (name) => (await fetch("/vectors/" + name)).json();
const data = { vectors: await load("protocol-v1.json"), python: await load("python-cryptography.json") };
const conformance = await runConformance(lib, data.vectors);
const unit = [];
for (const [name, f] of cases) {
  try {
    await f(lib, kit(lib), data);
    unit.push([name, "ok"]);
  } catch (e) {
    unit.push([name, String(e?.message ?? e)]);
  }
}
window.__result = { conformance, unit, userAgent: navigator.userAgent };
</script>`;

/** The Chromium to drive: $OK2CRY_CHROMIUM, else Debian's. */
export function chromiumPath() {
  return process.env.OK2CRY_CHROMIUM ?? "/usr/bin/chromium";
}

function serve(root, rel) {
  const file = normalize(join(root, rel));
  if (!file.startsWith(root) || !existsSync(file)) return undefined;
  return readFileSync(file);
}

/** Runs everything in the page; returns { conformance, unit: [[name, "ok" | message]], userAgent }. */
export async function runInChromium() {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: run scripts/test-deps (apt-get install chromium)`);
  }
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.route(`${ORIGIN}/**`, async (route) => {
      const path = decodeURIComponent(new URL(route.request().url()).pathname);
      const type = extname(path) === ".json" ? "application/json" : "text/javascript";
      let body;
      if (path === "/") return route.fulfill({ contentType: "text/html", body: PAGE });
      if (path.startsWith("/pkg/")) body = serve(join(pkg, "dist"), path.slice(5));
      else if (path.startsWith("/modules/")) body = serve(join(pkg, "node_modules"), path.slice(9));
      else if (path.startsWith("/test/")) body = serve(join(pkg, "test"), path.slice(6));
      else if (path.startsWith("/vectors/")) body = readFileSync(vectorPath(path.slice(9)));
      if (body === undefined) return route.fulfill({ status: 404, body: "not found" });
      return route.fulfill({ contentType: type, body });
    });
    await page.goto(`${ORIGIN}/`);
    await page
      .waitForFunction(() => window.__result !== undefined, null, { timeout: 120000 })
      .catch((e) => {
        throw new Error(`${e.message}; page errors: ${errors.join("; ")}`);
      });
    const result = await page.evaluate(() => window.__result);
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    return result;
  } finally {
    await browser.close();
  }
}
