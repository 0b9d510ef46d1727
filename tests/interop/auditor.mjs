// Drives the auditor's page (src/http/auditor_view/web/) in headless Chromium with playwright-core,
// as an auditor would: pins the keys, loads a log (from a node over mutual TLS, from an export
// folder over HTTP, or from a folder chosen on disk), waits for the verdict, saves the report,
// searches a key and downloads its receipt, checks a receipt file, exports the CSVs. Prints what
// the page showed as one line of JSON; the Rust tests (tests/auditor_view.rs) judge it.
//
//   node tests/interop/auditor.mjs --plan plan.json [--chromium /usr/bin/chromium]
//
// plan.json: {"visits": [{
//   "name": "…", "url": "https://…/audit/" | "http://…/x/index.html" | "file:///…/index.html",
//   "clientCertificate": {"origin", "certPath", "keyPath"}?,      mutual TLS for a node
//   "trust": {"logKeys", "logKeysFile"?, "witnessKeys", "quorum", "grace", "held"}?, step 1
//   "folder": "/dir"?,          chosen with the folder picker (the page loads and verifies it)
//   "key": "key id"?, "receiptOut": "/file"?,   search a key, save its receipt there
//   "receiptFile": "/file"?,    check a receipt file in the page
//   "reload": true?,            reload: the trust must come back from local storage
//   "filters": {"principal"?, "node"?, "from"?, "to"?}?, "csvDir": "/dir"?,  filter, save CSVs
//   "screenshot": "/file.png"?
// }]}
import { chromium } from "playwright-core";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { options, run } from "./common.mjs";

const SETTLED = ["ok", "failed", "error"];

async function settled(page, timeout = 60_000) {
  await page.waitForFunction(
    (states) => states.includes(document.getElementById("verdict").dataset.state),
    SETTLED,
    { timeout },
  );
}

async function saved(page, selector) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  return { name: download.suggestedFilename(), path: await download.path() };
}

async function verdictOf(page) {
  return page.evaluate(() => {
    const texts = (sel) => [...document.querySelectorAll(sel)].filter((e) => !e.classList.contains("empty")).map((e) => e.textContent);
    const summary = {};
    const dl = [...document.querySelectorAll("#summary > *")];
    for (let k = 0; k + 1 < dl.length; k += 2) summary[dl[k].textContent] = dl[k + 1].textContent;
    return {
      state: document.getElementById("verdict").dataset.state,
      title: document.getElementById("verdict-title").textContent,
      sub: document.getElementById("verdict-sub").textContent,
      violations: texts("#violations li"),
      notes: texts("#notes li"),
      summary,
      basis: texts("#basis li"),
      trustErrors: document.getElementById("trust-errors").textContent,
      source: document.getElementById("source-status").textContent,
    };
  });
}

async function visit(browser, v) {
  const contextOptions = { ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 900 } };
  if (v.clientCertificate) contextOptions.clientCertificates = [v.clientCertificate];
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  const out = { name: v.name, errors };
  try {
    const response = await page.goto(v.url);
    out.status = response ? response.status() : null;
    out.csp = response ? (response.headers()["content-security-policy"] ?? null) : null;
    await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 30_000 });
    if (v.trust) {
      const t = v.trust;
      await page.fill("#log-keys", t.logKeys ?? "");
      if (t.logKeysFile) {
        await page.setInputFiles("#log-keys-file", t.logKeysFile);
        await page.waitForFunction(() => document.getElementById("log-keys").value.includes("PUBLIC KEY"), null, { timeout: 10_000 });
      }
      await page.fill("#witness-keys", t.witnessKeys ?? "");
      await page.fill("#quorum", t.quorum ?? "");
      await page.fill("#grace", t.grace ?? "1000");
      if (t.held) {
        await page.click("#held-details summary");
        await page.fill("#held", t.held);
      }
    }
    if (v.folder) {
      await page.setInputFiles("#folder", v.folder);
    } else {
      await page.click("#verify");
    }
    await settled(page);
    out.verdict = await verdictOf(page);
    if (out.verdict.state !== "error") {
      const report = await saved(page, "#save-report");
      out.reportName = report.name;
      out.report = JSON.parse(readFileSync(report.path, "utf8"));
    }
    if (v.key) {
      await page.fill("#key-id", v.key);
      await page.click("#find-key");
      await page.waitForFunction(
        () => document.getElementById("receipt-status") || document.getElementById("key-none"),
        null,
        { timeout: 30_000 },
      );
      out.key = await page.evaluate(() => ({
        none: document.getElementById("key-none")?.textContent ?? null,
        life: [...document.querySelectorAll("#key-result .key-life p")].map((p) => p.textContent),
        rows: [...document.querySelectorAll("#key-events tbody tr")].map((tr) => ({
          type: tr.dataset.type,
          cells: [...tr.cells].map((c) => c.textContent),
        })),
        receipt: document.getElementById("receipt-status")?.textContent ?? null,
        hint: document.querySelector("#receipt-box code")?.textContent ?? null,
      }));
      if (v.receiptOut && (await page.$("#download-receipt"))) {
        const r = await saved(page, "#download-receipt");
        copyFileSync(r.path, v.receiptOut);
        out.key.receiptName = r.name;
      }
    }
    if (v.receiptFile) {
      await page.setInputFiles("#receipt-file", v.receiptFile);
      await page.waitForFunction(() => document.getElementById("receipt-result").textContent !== "", null, { timeout: 30_000 });
      out.receiptCheck = await page.$eval("#receipt-result", (e) => ({ text: e.textContent, ok: e.classList.contains("ok") }));
    }
    if (v.filters) {
      for (const [field, id] of [["principal", "#f-principal"], ["node", "#f-node"]]) {
        if (v.filters[field] !== undefined) await page.selectOption(id, v.filters[field]);
      }
      for (const [field, id] of [["from", "#f-from"], ["to", "#f-to"]]) {
        if (v.filters[field] !== undefined) {
          await page.fill(id, v.filters[field]);
          await page.dispatchEvent(id, "change");
        }
      }
      out.filterStatus = await page.textContent("#filter-status");
      out.figures = await page.evaluate(() =>
        [...document.querySelectorAll("#figures figure")].map((f) => ({
          id: f.id,
          caption: f.querySelector("figcaption").textContent,
          rows: [...f.querySelectorAll("tbody tr")].map((tr) => [...tr.cells].map((c) => c.textContent)),
          svg: !!f.querySelector("svg[role=img][aria-label]"),
        })),
      );
      out.eventRows = await page.$$eval("#events tbody tr", (rows) => rows.length);
      if (v.csvDir) {
        out.csv = {};
        for (const button of await page.$$("#figures button.csv")) {
          const [d] = await Promise.all([page.waitForEvent("download"), button.click()]);
          const to = join(v.csvDir, d.suggestedFilename());
          copyFileSync(await d.path(), to);
          out.csv[d.suggestedFilename()] = to;
        }
        const events = await saved(page, "#events-csv");
        const to = join(v.csvDir, events.name);
        copyFileSync(events.path, to);
        out.csv[events.name] = to;
      }
    }
    if (v.screenshot) {
      await page.evaluate(() => {
        for (const d of document.querySelectorAll("details")) d.open = false;
      });
      await page.screenshot({ path: v.screenshot, fullPage: true });
    }
    if (v.reload) {
      await page.reload();
      await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 60_000 });
      out.afterReload = {
        restored: await page.$eval("#log-keys", (e) => e.value),
        state: await page.$eval("#verdict", (e) => e.dataset.state),
      };
    }
  } catch (e) {
    out.failure = String(e?.stack ?? e);
  } finally {
    await context.close();
  }
  return out;
}

run(async () => {
  const opts = options({ plan: true, chromium: false });
  const executablePath = opts.chromium ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}: install it with \`apt-get install chromium\``);
  const plan = JSON.parse(readFileSync(opts.plan, "utf8"));
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const visits = [];
    for (const v of plan.visits) visits.push(await visit(browser, v));
    return { visits };
  } finally {
    await browser.close();
  }
});
