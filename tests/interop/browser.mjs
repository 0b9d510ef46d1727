// Drives the end user's web page (served by the example proxy) in headless Chromium with
// playwright-core: sets a PIN and reveals the card number, then prints what the page showed.
//
//   node tests/interop/browser.mjs --url https://localhost:PORT/ [--pin 2468] [--chromium /usr/bin/chromium]
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

function opt(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : (process.env[`OK2CRY_${name.toUpperCase()}`] ?? fallback);
}

const url = opt("url");
const pin = opt("pin", "2468");
const executablePath = opt("chromium", "/usr/bin/chromium");
if (!existsSync(executablePath)) {
  console.error(`error: Chromium not found at ${executablePath}: install it with \`apt-get install chromium\``);
  process.exit(1);
}
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  // The dev CA is not in the browser's trust store; the page is on loopback only.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.fill("#pin", pin);
  await page.click("#set-pin");
  await page.waitForFunction(() => document.getElementById("pin-status").value !== "—", null, { timeout: 20000 });
  await page.click("#reveal");
  await page.waitForFunction(() => document.getElementById("pan").value !== "—", null, { timeout: 20000 });
  const pinStatus = await page.$eval("#pin-status", (e) => e.value);
  const pan = await page.$eval("#pan", (e) => e.value);
  console.log(JSON.stringify({ pinStatus, pan, errors }));
} finally {
  await browser.close();
}
