// vectors-browser.mjs — runs the whole project vector file through protocol.mjs inside headless
// Chromium (Debian's package, driven by playwright-core): the same receiver as vectors.mjs,
// on the browser's WebCrypto. The page and its modules are served by request interception on
// an https origin that never touches the network (a secure context, as WebCrypto requires).
//
//   node vectors-browser.mjs --vectors <path> [--chromium /usr/bin/chromium]
//
// stdout: {"strict":{counts,failures,accepted},"padding":…,"trailing":…,"last":…,"first":…}
// (one run per reader: the protocol's strict one, then each deliberately lenient one).

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { options, run } from "./common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const ORIGIN = "https://ok2cry-vectors.test";

const PAGE = `<!doctype html><meta charset="utf-8"><title>ok2cry vectors</title>
<script type="importmap">
{ "imports": {
  "@hpke/core": "/modules/@hpke/core/esm/mod.js",
  "@hpke/common": "/modules/@hpke/common/esm/mod.js",
  "jose": "/modules/jose/dist/webapi/index.js"
} }
</script>
<script type="module">
import { runVectors } from "/protocol.mjs";
const file = await (await fetch("/vectors.json")).json();
const result = {};
for (const [name, opts] of [
  ["strict", {}],
  ["padding", { base64: "padding" }],
  ["trailing", { base64: "trailing" }],
  ["last", { json: "last" }],
  ["first", { json: "first" }],
]) {
  result[name] = await runVectors(file, opts);
}
window.__result = result;
</script>`;

await run(async () => {
  const opt = options({ vectors: true, chromium: false });
  const executablePath = opt.chromium ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: install it with \`apt-get install chromium\``);
  }
  const vectors = readFileSync(opt.vectors);
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
      const path = new URL(route.request().url()).pathname;
      const js = "text/javascript";
      if (path === "/") return route.fulfill({ contentType: "text/html", body: PAGE });
      if (path === "/vectors.json") return route.fulfill({ contentType: "application/json", body: vectors });
      if (path === "/protocol.mjs") return route.fulfill({ contentType: js, body: readFileSync(join(here, "protocol.mjs")) });
      if (path.startsWith("/modules/") && !path.includes("..")) {
        const file = join(here, "node_modules", path.slice("/modules/".length));
        if (existsSync(file)) return route.fulfill({ contentType: js, body: readFileSync(file) });
      }
      return route.fulfill({ status: 404, body: "not found" });
    });
    await page.goto(`${ORIGIN}/`);
    await page.waitForFunction(() => window.__result !== undefined || false, null, { timeout: 120000 })
      .catch((e) => { throw new Error(`${e.message}; page errors: ${errors.join("; ")}`); });
    const result = await page.evaluate(() => window.__result);
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    return result;
  } finally {
    await browser.close();
  }
});
