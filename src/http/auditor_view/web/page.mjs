// The auditor's page: what you trust (pinned keys, remembered in this browser), where the log
// comes from (the files beside the page over HTTP, or a folder you choose), the verdict (the
// verifier of verify.mjs), one key's life and receipt, and the activity pictures with filters
// and CSV. All text from the log reaches the page through textContent, never as HTML.

import { download, h, lagFigure, opensFigure, perMinuteFigure, timelineFigure, csv } from "./charts.mjs";
import { eventPrincipals, iso8601 } from "./event.mjs";
import { utf8 } from "./json.mjs";
import { ecdsaFromPem, fromVkey } from "./note.mjs";
import { buildReceipt, readReceipt, summaryText, verifyReceipt } from "./receipt.mjs";
import { isLogFile, originIn, reportJson, segmentNumbers, verifyLog } from "./verify.mjs";

const $ = (id) => document.getElementById(id);
const STORE = "ok2cry-auditor/1";
/** Most bytes of segment files loaded at once; older segments beyond it are left out (and said so). */
const LOAD_BUDGET = 256 * 1024 * 1024;
const TABLE_ROWS = 500;

const state = { source: null, result: null, index: null, trust: null, busy: false };

// ---------------------------------------------------------------------------------------------
// What you trust, remembered in this browser.

const TRUST_FIELDS = ["log-keys", "witness-keys", "quorum", "grace", "held"];

function restoreTrust() {
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(STORE) ?? "null");
  } catch {
    stored = null;
  }
  if (!stored || typeof stored !== "object") return;
  for (const id of TRUST_FIELDS) if (typeof stored[id] === "string") $(id).value = stored[id];
  if ($("held").value.trim()) $("held-details").open = true;
  updateHeldCount();
}

function rememberTrust() {
  if (!$("remember").checked) return;
  const value = {};
  for (const id of TRUST_FIELDS) value[id] = $(id).value;
  try {
    localStorage.setItem(STORE, JSON.stringify(value));
  } catch {
    // Storage refused (private mode, a file page in some browsers): nothing is remembered.
  }
}

function forgetTrust() {
  try {
    localStorage.removeItem(STORE);
  } catch {
    // nothing stored
  }
  $("remember").checked = false;
  $("trust-errors").textContent = "Forgotten: nothing is stored in this browser. The fields keep their values until you leave the page.";
}

/** Signed notes pasted one after another: each is text lines, a blank line, then "— " lines. */
function splitNotes(text) {
  const lines = text.split("\n");
  const notes = [];
  let k = 0;
  while (k < lines.length) {
    while (k < lines.length && lines[k].trim() === "") k += 1;
    if (k >= lines.length) break;
    const body = [];
    while (k < lines.length && lines[k] !== "") body.push(lines[k++]);
    k += 1; // the blank line
    const sigs = [];
    while (k < lines.length && lines[k].startsWith("\u2014 ")) sigs.push(lines[k++]);
    notes.push(`${body.join("\n")}\n\n${sigs.map((l) => `${l}\n`).join("")}`);
  }
  return notes;
}

function updateHeldCount() {
  const n = splitNotes($("held").value).length;
  $("held-count").textContent = n ? `(${n})` : "";
}

/** Reads step 1; PEM keys are named with the origin of the log's checkpoints, as the CLI does. */
async function readTrust(source) {
  const errors = [];
  const logKeys = [];
  let text = $("log-keys").value;
  const pems = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  for (const pem of pems) text = text.replace(pem, "");
  if (pems.length) {
    const origin = source ? await originIn(source) : null;
    if (!origin) {
      errors.push("the audit key is a PEM, and the log has no checkpoint to take its name (the origin) from: paste its verifier key (name+id+base64) instead");
    }
    for (const pem of pems) {
      const key = origin ? await ecdsaFromPem(origin, pem) : null;
      if (origin && !key) errors.push("audit key: the PEM is not a P-256 public key");
      if (key) logKeys.push(key);
    }
  }
  const lines = (t) =>
    t
      .split("\n")
      .map((l, k) => [l.trim(), k + 1])
      .filter(([l]) => l !== "" && !l.startsWith("#"));
  for (const [line, n] of lines(text)) {
    try {
      const key = await fromVkey(line);
      if (key.isCosigner) errors.push(`audit key line ${n}: this is a witness key; paste the log's key`);
      else logKeys.push(key);
    } catch (e) {
      errors.push(`audit key line ${n}: ${e.message}`);
    }
  }
  if (logKeys.length === 0 && errors.length === 0) {
    errors.push("no audit key: paste the log's verifier key (name+id+base64) or its PEM public key");
  }
  const witnesses = [];
  for (const [line, n] of lines($("witness-keys").value)) {
    try {
      const key = await fromVkey(line);
      if (!key.isCosigner) errors.push(`witness key line ${n}: not a witness (cosigner) key`);
      else witnesses.push(key);
    } catch (e) {
      errors.push(`witness key line ${n}: ${e.message}`);
    }
  }
  const q = $("quorum").value.trim();
  let quorum = witnesses.length;
  if (q !== "") {
    if (!/^[0-9]+$/.test(q)) errors.push("the quorum is a whole number");
    else quorum = Number(q);
  }
  if (quorum > witnesses.length) errors.push("the quorum is larger than the number of witness keys");
  const g = $("grace").value.trim() || "1000";
  if (!/^[0-9]+$/.test(g)) errors.push("the grace is a whole number of milliseconds");
  return {
    logKeys,
    witnesses,
    quorum,
    graceMs: Number(g),
    checkpoints: splitNotes($("held").value),
    errors,
  };
}

async function loadTextInto(input, target, separator) {
  const parts = [];
  for (const f of input.files) parts.push((await f.text()).replace(/\s+$/, ""));
  if (!parts.length) return;
  const before = target.value.replace(/\s+$/, "");
  target.value = [before, ...parts].filter(Boolean).join(separator) + "\n";
  input.value = "";
  updateHeldCount();
}

// ---------------------------------------------------------------------------------------------
// Where the log comes from.

function segmentOf(name) {
  const m = /^segment-([0-9]+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * The files to load: FORMAT and every file of the newest segments that fit in LOAD_BUDGET.
 * Leaving older segments out is what `audit verify` does with a directory that holds only the
 * newer ones: verified from there on, with a note.
 */
function choose(files) {
  const numbers = segmentNumbers(files.map((f) => f.name));
  const bytesOf = (n) => files.filter((f) => segmentOf(f.name) === n).reduce((t, f) => t + f.size, 0);
  const chosen = [];
  let total = 0;
  for (const n of numbers.slice().reverse()) {
    const b = bytesOf(n);
    if (chosen.length && total + b > LOAD_BUDGET) break;
    chosen.unshift(n);
    total += b;
  }
  const keep = new Set(chosen);
  const names = files
    .filter((f) => f.name === "FORMAT" || (isLogFile(f.name) && keep.has(segmentOf(f.name))))
    .map((f) => f.name);
  return { names, total, loaded: chosen.length, skipped: numbers.length - chosen.length };
}

function mib(bytes) {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The log beside the page (`log/`, listed by `log/index.json`), over HTTP(S). */
class HttpSource {
  static async discover() {
    if (!/^https?:$/.test(location.protocol)) return null;
    const base = new URL("log/", location.href);
    let listing;
    try {
      const r = await fetch(new URL("index.json", base), { cache: "no-store", credentials: "same-origin" });
      if (!r.ok) return null;
      listing = await r.json();
    } catch {
      return null;
    }
    const files = (Array.isArray(listing?.files) ? listing.files : []).filter(
      (f) => typeof f?.name === "string" && Number.isSafeInteger(f.size) && isLogFile(f.name),
    );
    return new HttpSource(base, files);
  }

  constructor(base, files) {
    this.base = base;
    this.files = files;
    const c = choose(files);
    this.names = c.names;
    this.choice = c;
    this.label = "log";
    this.where = base.href;
    this.cache = new Map();
  }

  async read(name) {
    if (!this.names.includes(name)) return null;
    if (this.cache.has(name)) return this.cache.get(name);
    const r = await fetch(new URL(name, this.base), { cache: "no-store", credentials: "same-origin" });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    this.cache.set(name, bytes);
    return bytes;
  }
}

/** A log chosen from disk: files with their relative paths; the folder holding FORMAT is the log. */
class FileSource {
  static from(entries) {
    const byDir = new Map();
    for (const { path, file } of entries) {
      const at = path.lastIndexOf("/");
      const dir = at < 0 ? "" : path.slice(0, at);
      const name = path.slice(at + 1);
      if (!byDir.has(dir)) byDir.set(dir, new Map());
      byDir.get(dir).set(name, file);
    }
    const logs = [...byDir.keys()].filter((d) => byDir.get(d).has("FORMAT")).sort();
    if (logs.length === 0) {
      throw new Error("no FORMAT file in what you chose: choose the folder written by `ok2cry audit export`, or a log directory");
    }
    if (logs.length > 1) {
      throw new Error(`several logs in what you chose (${logs.join(", ")}): choose one of them`);
    }
    return new FileSource(logs[0], byDir.get(logs[0]));
  }

  constructor(dir, files) {
    this.filesByName = files;
    this.files = [...files].map(([name, f]) => ({ name, size: f.size })).filter((f) => isLogFile(f.name));
    const c = choose(this.files);
    this.names = c.names;
    this.choice = c;
    this.label = dir || "the chosen folder";
    this.where = `the folder ${dir || "you chose"}`;
  }

  async read(name) {
    if (!this.names.includes(name)) return null;
    const f = this.filesByName.get(name);
    return f ? new Uint8Array(await f.arrayBuffer()) : null;
  }
}

async function dropped(items) {
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) {
      const file = await new Promise((ok, ko) => entry.file(ok, ko));
      out.push({ path: `${prefix}${entry.name}`, file });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const item of items) {
    const entry = item.webkitGetAsEntry?.();
    if (entry) await walk(entry, "");
  }
  return out;
}

function useSource(source) {
  state.source = source;
  state.result = null;
  const c = source.choice;
  const parts = [`${c.loaded} segment(s), ${mib(c.total)}, from ${source.where}`];
  if (c.skipped) {
    parts.push(
      `${c.skipped} older segment(s) left out to stay within ${mib(LOAD_BUDGET)}: the verdict covers the segments loaded (verify the whole log with the command line)`,
    );
  }
  $("source-status").textContent = `Log: ${parts.join(". ")}.`;
}

async function useFiles(entries) {
  try {
    useSource(FileSource.from(entries));
    await verifyNow();
  } catch (e) {
    $("source-status").textContent = e.message;
  }
}

// ---------------------------------------------------------------------------------------------
// The events, for the key search and the pictures.

class LogIndex {
  constructor() {
    this.segments = new Map();
    this.spans = new Map(); // seq -> [segment, start, end]
    this.events = [];
    this.byKey = new Map();
    this.nodes = new Set();
    this.principals = new Set();
    this.keyOwners = new Map();
  }

  segment(n, bytes) {
    this.segments.set(n, bytes);
  }

  event(seq, e, n, start, end) {
    this.spans.set(seq, [n, start, end]);
    e.leaf = seq;
    this.events.push(e);
    this.nodes.add(e.node);
    for (const p of eventPrincipals(e)) this.principals.add(p);
    if (typeof e.key_id === "string") {
      if (!this.byKey.has(e.key_id)) this.byKey.set(e.key_id, []);
      this.byKey.get(e.key_id).push(seq);
      if (e.type === "key_created") this.keyOwners.set(e.key_id, { owner: e.owner, opener: e.opener });
    }
  }

  line(seq) {
    const span = this.spans.get(seq);
    if (!span) return null;
    return utf8(this.segments.get(span[0]).subarray(span[1], span[2]));
  }

  seqsOf(keyId) {
    return this.byKey.get(keyId) ?? [];
  }

  /** The parsed event at leaf `seq` (events are in leaf order). */
  at(seq) {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].leaf < seq) lo = mid + 1;
      else hi = mid;
    }
    return this.events[lo]?.leaf === seq ? this.events[lo] : null;
  }
}

function describe(e) {
  const lost = e.lost ? ` (lost with its process: dated by seq ${e.lost.seq} at ${iso8601(e.lost.time)})` : "";
  switch (e.type) {
    case "process_started":
      return `version ${e.version}, build ${e.build_digest.slice(0, 16)}`;
    case "service_started":
      return `${e.signing_keys.length} signing key(s)`;
    case "audit_key_rotated":
      return `new key ${e.new_key.split("+").slice(0, 2).join("+")}`;
    case "kek_created":
      return `KEK ${e.kek_id}: wraps until ${iso8601(e.wrap_until)}, destroyed by ${iso8601(e.not_after)}`;
    case "kek_destroyed":
      return `KEK ${e.kek_id} (${e.reason}), ${e.keys_wrapped} key(s) wrapped${lost}`;
    case "key_created":
      return `owner ${e.owner}, opener ${e.opener}, expires ${iso8601(e.expires_at)}, ${e.max_opens} open(s) allowed, KEK ${e.kek_id}${e.label === null ? "" : `, label ${JSON.stringify(e.label)}`}`;
    case "key_opened":
      return `by ${e.opener}: ${e.opens_used} used, ${e.opens_remaining} left`;
    case "open_failed":
      return `by ${e.principal}: ${e.reason} (${e.failures} failure(s))`;
    case "key_destroyed": {
      const when = e.lost ? e.lost.time : e.time;
      const lag = when - e.expires_at;
      return `${e.reason}, ${Math.abs(lag)} ms ${lag >= 0 ? "after" : "before"} expiry${lost}`;
    }
    default:
      return "";
  }
}

// ---------------------------------------------------------------------------------------------
// The verdict.

function setVerdict(stateName, title, sub) {
  const v = $("verdict");
  v.dataset.state = stateName;
  $("verdict-title").textContent = title;
  $("verdict-sub").textContent = sub;
  $("verdict-details").hidden = !(stateName === "ok" || stateName === "failed");
}

function fill(list, items, empty) {
  list.replaceChildren(...(items.length ? items.map((t) => h("li", { text: t })) : [h("li", { class: "empty", text: empty })]));
}

function renderVerdict(report, trust, ms) {
  const ok = report.violations.length === 0;
  const covered =
    `${report.totals.events} event(s) in ${report.segments} segment(s), ` +
    `${report.checkpoints_verified} checkpoint(s) verified` +
    (report.newest_checkpoint === null ? "" : ` (newest at size ${report.newest_checkpoint})`) +
    (report.witnessed_size === null ? "" : `, witnessed up to size ${report.witnessed_size}`);
  if (ok) {
    setVerdict(
      "ok",
      "Verified: no violation",
      `${covered}. Every signature and root checked, every key destroyed by its expiry + ${trust.graceMs} ms or still alive.`,
    );
  } else {
    setVerdict("failed", `Failed: ${report.violations.length} violation(s)`, report.violations[0]);
  }
  fill($("violations"), report.violations, "none");
  fill($("notes"), report.notes, "none");
  const by = Object.entries(report.totals.destroyed_by_reason).map(([r, n]) => `${r}: ${n}`).join(", ");
  const lag = (v) => (v === null ? "–" : `${v} ms`);
  const rows = [
    ["log", report.origin ?? "–"],
    ["segments", report.segments],
    ["events", `${report.totals.events} (leaves ${report.first_leaf}..${report.size})`],
    ["checkpoints verified", `${report.checkpoints_verified} (newest at size ${report.newest_checkpoint ?? "–"})`],
    ["witnessed up to size", report.witnessed_size ?? "–"],
    ["keys created", report.totals.keys_created],
    ["keys alive at end of log", report.keys_alive],
    ["destroyed by reason", by || "–"],
    ["destruction lag of expired keys", `p50 ${lag(report.lag_ms_p50)}, p99 ${lag(report.lag_ms_p99)}, max ${lag(report.lag_ms_max)} (grace ${trust.graceMs} ms)`],
  ];
  $("summary").replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })]));
  const pinned = trust.logKeys.map((k) => `${k.name}+${[...k.keyId].map((b) => b.toString(16).padStart(2, "0")).join("")}`);
  const rotated = state.result.trusted.slice(trust.logKeys.length).map((k) => `${k.name}+${[...k.keyId].map((b) => b.toString(16).padStart(2, "0")).join("")}`);
  const basis = [
    `audit key(s) you pinned: ${pinned.join(", ")}`,
    rotated.length ? `audit key(s) the log rotated to, vouched for by a key you trust: ${rotated.join(", ")}` : null,
    trust.witnesses.length
      ? `witnesses: ${trust.witnesses.map((w) => w.name).join(", ")}; ${trust.quorum} cosignature(s) required on the newest checkpoint`
      : "no witness key: a log cut cleanly at its end cannot be told from a complete one without a checkpoint you hold",
    `checkpoints you hold: ${trust.checkpoints.length}`,
    `grace after expiry: ${trust.graceMs} ms`,
    `the log: ${$("source-status").textContent.replace(/^Log: /, "")}`,
    `verified in this browser in ${(ms / 1000).toFixed(1)} s`,
  ].filter(Boolean);
  fill($("basis"), basis, "");
}

async function verifyNow() {
  if (state.busy) return;
  if (!state.source) {
    setVerdict("none", "Not verified yet", "Choose the log folder (step 2).");
    return;
  }
  state.busy = true;
  for (const id of ["verify", "reload"]) $(id).disabled = true;
  setVerdict("running", "Verifying…", "Reading the log and checking every signature and root.");
  $("trust-errors").textContent = "";
  try {
    const trust = await readTrust(state.source);
    if (trust.errors.length) {
      $("trust-errors").textContent = trust.errors.join("\n");
      setVerdict("error", "Not verified: fix what you trust (step 1)", trust.errors[0]);
      return;
    }
    rememberTrust();
    const index = new LogIndex();
    const started = performance.now();
    let last = 0;
    const result = await verifyLog(state.source, trust, {
      onSegment: (n, bytes) => index.segment(n, bytes),
      onEvent: (seq, e, n, a, b) => index.event(seq, e, n, a, b),
      onProgress: ({ leaves, segments }) => {
        const now = performance.now();
        if (now - last > 250) {
          last = now;
          $("progress").textContent = `Verified ${leaves} event(s) in ${segments} segment(s)…`;
        }
      },
    });
    state.result = result;
    state.index = index;
    state.trust = trust;
    $("progress").textContent = "";
    renderVerdict(result.report, trust, performance.now() - started);
    fillFilters(index);
    renderActivity();
    if ($("key-id").value.trim()) await findKey($("key-id").value.trim());
    else $("key-result").replaceChildren();
  } catch (e) {
    setVerdict("error", "Not verified: the log could not be read", e.message);
  } finally {
    state.busy = false;
    for (const id of ["verify", "reload"]) $(id).disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// One key.

function vkeyHint(key) {
  return key ? key.vkey() : "KEY";
}

async function findKey(keyId) {
  const out = $("key-result");
  if (!state.result) {
    out.replaceChildren(h("p", { class: "status", text: "Verify a log first (steps 1 to 3)." }));
    return;
  }
  const index = state.index;
  const seqs = index.seqsOf(keyId);
  if (seqs.length === 0) {
    const partial = state.result.report.first_leaf > 0 ? " Older segments are not loaded: it may be in them." : "";
    out.replaceChildren(h("p", { class: "status", id: "key-none", text: `No event for key ${keyId} in the loaded log.${partial}` }));
    return;
  }
  const events = seqs.map((s) => index.at(s)).filter(Boolean);
  const created = events.find((e) => e.type === "key_created");
  const opened = events.filter((e) => e.type === "key_opened");
  const failed = events.filter((e) => e.type === "open_failed");
  const destroyed = events.find((e) => e.type === "key_destroyed");
  const life = [];
  if (created) {
    life.push(
      `Created ${iso8601(created.time)} by ${created.owner} (designated opener ${created.opener}), expires ${iso8601(created.expires_at)}, ${created.max_opens} open(s) allowed${created.label === null ? "" : `, label ${JSON.stringify(created.label)}`}.`,
    );
  } else {
    life.push("Its creation is not in the loaded log.");
  }
  if (opened.length) life.push(`Opened ${opened.length} time(s): ${opened.map((e) => `${iso8601(e.time)} by ${e.opener}`).join("; ")}.`);
  else life.push("Never opened.");
  if (failed.length) life.push(`${failed.length} refused open(s): ${failed.map((e) => `${iso8601(e.time)} by ${e.principal} (${e.reason})`).join("; ")}.`);
  if (destroyed) {
    const who =
      destroyed.reason === "revoked"
        ? "deleted early by its creator or its opener (the log does not say which)"
        : destroyed.reason === "process_lost"
          ? "lost with the process that held it (RAM only), recorded by the next start"
          : "by the service";
    life.push(`Destroyed ${iso8601(destroyed.lost ? destroyed.lost.time : destroyed.time)}, reason ${destroyed.reason}, ${who}: ${describe(destroyed)}.`);
  } else {
    life.push("Not destroyed in the loaded log.");
  }
  const about = state.result.report.violations.filter((v) => v.includes(keyId));
  const table = h(
    "table",
    { id: "key-events" },
    h("caption", { class: "hint", text: `The log's ${events.length} event(s) about this key` }),
    h("thead", {}, h("tr", {}, ["seq", "time (UTC)", "event", "principal", "detail"].map((c) => h("th", { scope: "col", text: c })))),
    h(
      "tbody",
      {},
      events.map((e) =>
        h(
          "tr",
          { "data-type": e.type },
          h("td", { class: "num", text: String(e.leaf) }),
          h("td", { text: iso8601(e.time) }),
          h("td", { text: e.type }),
          h("td", { text: eventPrincipals(e).join(", ") }),
          h("td", { text: describe(e) }),
        ),
      ),
    ),
  );
  const receiptBox = h("div", { id: "receipt-box", class: "key-verdict", text: "Building the receipt…" });
  out.replaceChildren(
    h("h3", { class: "mono", text: keyId }),
    h("div", { class: "key-life" }, life.map((t) => h("p", { text: t }))),
    about.length
      ? h("div", { class: "key-verdict bad" }, h("p", { text: "Violations about this key:" }), h("ul", {}, about.map((t) => h("li", { text: t }))))
      : h("p", { class: "key-verdict ok", text: "No violation about this key." }),
    h("div", { class: "table-wrap" }, table),
    receiptBox,
  );
  await showReceipt(keyId, receiptBox);
}

async function showReceipt(keyId, box) {
  const r = state.result;
  const trust = state.trust;
  const built = await buildReceipt(
    {
      origin: r.report.origin,
      seqsOf: (k) => state.index.seqsOf(k),
      line: (s) => state.index.line(s),
      records: r.records,
      cache: r.cache,
    },
    keyId,
  );
  if (built.error) {
    box.className = "key-verdict bad";
    box.replaceChildren(h("p", { id: "receipt-status", text: `No receipt: ${built.error}` }));
    return;
  }
  const text = `${JSON.stringify(built.receipt, null, 2)}\n`;
  const name = `receipt-${keyId}.json`;
  let status;
  let ok = false;
  try {
    const summary = await verifyReceipt(built.receipt, r.trusted, trust.witnesses, trust.quorum);
    status = `Inclusion proven in this browser: ${summaryText(summary)}.`;
    ok = true;
  } catch (e) {
    status = `The receipt does not prove a destruction: ${e.message}`;
  }
  const signer = built.record.signedBy;
  const witnessArgs = trust.witnesses.map((w) => ` --witness '${w.vkey()}'`).join("");
  box.className = ok ? "key-verdict ok" : "key-verdict bad";
  box.replaceChildren(
    h("p", { id: "receipt-status", text: status }),
    h(
      "p",
      { class: "row" },
      h("button", { type: "button", id: "download-receipt", onclick: () => download(name, text, "application/json") }, "Download the receipt"),
      h("span", { class: "hint", text: `checkpoint of size ${built.record.size}, ${built.record.cosigs} witness cosignature(s)` }),
    ),
    h("p", { class: "hint" }, "Check it anywhere: ", h("code", { text: `ok2cry audit receipt verify --key '${vkeyHint(signer)}'${witnessArgs} ${name}` })),
  );
}

async function checkReceiptFile(file) {
  const out = $("receipt-result");
  out.className = "status";
  const read = readReceipt(await file.text());
  if (read.error) {
    out.textContent = `${file.name}: ${read.error}`;
    return;
  }
  const trust = await readTrust(null);
  const pemOnly = trust.errors.every((e) => e.startsWith("the audit key is a PEM"));
  let keys = trust.logKeys;
  if (trust.errors.length && pemOnly) {
    // A PEM key is named with the receipt's origin, as the CLI does.
    keys = [...keys];
    for (const pem of $("log-keys").value.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? []) {
      const k = await ecdsaFromPem(read.receipt.origin, pem);
      if (k) keys.push(k);
    }
  } else if (trust.errors.length) {
    out.textContent = `Cannot check it: ${trust.errors[0]}`;
    return;
  }
  if (state.result) keys = [...keys, ...state.result.trusted.slice(trust.logKeys.length)];
  try {
    const s = await verifyReceipt(read.receipt, keys, trust.witnesses, trust.quorum);
    out.className = "status key-verdict ok";
    out.textContent = `${file.name}: ${summaryText(s)}`;
  } catch (e) {
    out.className = "status key-verdict bad";
    out.textContent = `${file.name}: ${e.message}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Activity: filters, pictures, the events table, CSV.

function fillFilters(index) {
  const set = (id, values) => {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(h("option", { value: "", text: "all" }), ...[...values].sort().map((v) => h("option", { value: v, text: v })));
    select.value = values.has(keep) ? keep : "";
  };
  set("f-node", index.nodes);
  set("f-principal", index.principals);
}

function utcInput(value, end) {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?/.exec(value);
  if (!m) return null;
  const [y, mo, d, hh, mi, ss] = m.slice(1).map((x) => Number(x ?? 0));
  const t = Date.UTC(y, mo - 1, d, hh, mi, ss);
  return end ? t + (m[6] === undefined ? 59_999 : 999) : t;
}

function filterNow() {
  return {
    from: utcInput($("f-from").value, false),
    to: utcInput($("f-to").value, true),
    node: $("f-node").value,
    principal: $("f-principal").value,
  };
}

function inTimeAndNode(e, f) {
  return (f.from === null || e.time >= f.from) && (f.to === null || e.time <= f.to) && (!f.node || e.node === f.node);
}

function matches(e, f, owners) {
  if (!inTimeAndNode(e, f)) return false;
  if (!f.principal) return true;
  const named = eventPrincipals(e);
  if (named.length) return named.includes(f.principal);
  if (typeof e.key_id === "string") {
    const o = owners.get(e.key_id);
    return !!o && (o.owner === f.principal || o.opener === f.principal);
  }
  return false;
}

function renderActivity() {
  const index = state.index;
  if (!index) return;
  const f = filterNow();
  const shown = index.events.filter((e) => matches(e, f, index.keyOwners));
  // Keys created and destroyed per minute.
  const minutes = new Map();
  for (const e of shown) {
    if (e.type !== "key_created" && e.type !== "key_destroyed") continue;
    const m = Math.floor(e.time / 60_000) * 60_000;
    if (!minutes.has(m)) minutes.set(m, [m, 0, 0]);
    minutes.get(m)[e.type === "key_created" ? 1 : 2] += 1;
  }
  const known = [...minutes.keys()].sort((a, b) => a - b);
  const points = [];
  if (known.length) {
    const span = (known[known.length - 1] - known[0]) / 60_000;
    if (span <= 20_000) {
      for (let m = known[0]; m <= known[known.length - 1]; m += 60_000) points.push(minutes.get(m) ?? [m, 0, 0]);
    } else {
      for (const m of known) points.push(minutes.get(m));
    }
  }
  const lags = shown.filter((e) => e.type === "key_destroyed" && e.reason === "expired").map((e) => Math.max(e.time - e.expires_at, 0));
  const opens = new Map();
  for (const e of shown) {
    if (e.type !== "key_opened" && e.type !== "open_failed") continue;
    const p = e.type === "key_opened" ? e.opener : e.principal;
    if (!opens.has(p)) opens.set(p, [p, 0, 0]);
    opens.get(p)[e.type === "key_opened" ? 1 : 2] += 1;
  }
  // The timeline follows time and node (processes and KEKs belong to no principal).
  const marks = [];
  const lostSeen = new Set();
  for (const e of index.events) {
    // A lost process is placed at its own last event, which the window must hold.
    if (e.lost && !lostSeen.has(e.lost.seq) && inTimeAndNode({ time: e.lost.time, node: e.node }, f)) {
      lostSeen.add(e.lost.seq);
      marks.push({ time: e.lost.time, kind: "process_lost", node: e.node, seq: e.lost.seq, detail: `its last event; recorded at seq ${e.leaf}` });
    }
    if (!inTimeAndNode(e, f)) continue;
    if (["process_started", "service_stopped", "kek_created", "kek_destroyed", "audit_key_rotated"].includes(e.type)) {
      const detail = e.type.startsWith("kek_") ? `KEK ${e.kek_id}${e.reason ? ` (${e.reason})` : ""}` : e.type === "process_started" ? `version ${e.version}` : "";
      marks.push({ time: e.time, kind: e.type, node: e.node, seq: e.leaf, detail });
    }
  }
  marks.sort((a, b) => a.time - b.time || a.seq - b.seq);
  const grace = state.trust?.graceMs ?? 1000;
  $("figures").replaceChildren(
    perMinuteFigure(points),
    lagFigure(lags, grace),
    opensFigure([...opens.values()]),
    timelineFigure(marks),
  );
  const range =
    f.from !== null || f.to !== null ? ` between ${f.from === null ? "the start" : iso8601(f.from)} and ${f.to === null ? "the end" : iso8601(f.to)}` : "";
  $("filter-status").textContent = `${shown.length} of ${index.events.length} event(s)${range}${f.node ? `, node ${f.node}` : ""}${f.principal ? `, principal ${f.principal} (the timeline follows time and node only)` : ""}.`;
  const rows = shown.slice(0, TABLE_ROWS).map((e) =>
    h(
      "tr",
      {},
      h("td", { class: "num", text: String(e.leaf) }),
      h("td", { text: iso8601(e.time) }),
      h("td", { text: e.node }),
      h("td", { text: e.type }),
      h("td", { class: "key", text: e.key_id ?? "" }),
      h("td", { text: eventPrincipals(e).join(", ") }),
      h("td", { text: describe(e) }),
    ),
  );
  $("events").tBodies[0].replaceChildren(...rows);
  $("events-count").textContent =
    shown.length > TABLE_ROWS ? `The first ${TABLE_ROWS} of ${shown.length} events shown; the CSV has them all.` : `${shown.length} event(s).`;
  state.shown = shown;
}

function eventsCsv() {
  const rows = (state.shown ?? []).map((e) => [e.leaf, iso8601(e.time), e.node, e.type, e.key_id ?? "", eventPrincipals(e).join(" "), describe(e)]);
  download("ok2cry-events.csv", csv(["seq", "time_utc", "node", "type", "key_id", "principal", "detail"], rows), "text/csv");
}

// ---------------------------------------------------------------------------------------------

async function discover() {
  const source = await HttpSource.discover();
  if (source) {
    useSource(source);
    $("reload").hidden = false;
    return true;
  }
  $("source-status").textContent =
    location.protocol === "file:"
      ? "Opened from a file: browsers do not let such a page read the files beside it. Choose the export folder (or its log/ folder) below."
      : "No log beside this page: choose a log folder below.";
  return false;
}

async function start() {
  restoreTrust();
  $("log-keys-file").addEventListener("change", (e) => loadTextInto(e.target, $("log-keys"), "\n"));
  $("witness-keys-file").addEventListener("change", (e) => loadTextInto(e.target, $("witness-keys"), "\n"));
  $("held-file").addEventListener("change", (e) => loadTextInto(e.target, $("held"), "\n\n"));
  $("held").addEventListener("input", updateHeldCount);
  $("forget").addEventListener("click", forgetTrust);
  $("verify").addEventListener("click", () => verifyNow());
  $("reload").addEventListener("click", async () => {
    if (await discover()) await verifyNow();
  });
  $("folder").addEventListener("change", (e) => {
    const entries = [...e.target.files].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
    e.target.value = "";
    useFiles(entries);
  });
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", async (e) => {
    e.preventDefault();
    const entries = await dropped([...e.dataTransfer.items]);
    if (entries.length) await useFiles(entries);
  });
  $("save-report").addEventListener("click", () => {
    if (state.result) download("ok2cry-audit-report.json", `${reportJson(state.result.report)}\n`, "application/json");
  });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("key-id").value.trim();
    if (id) findKey(id);
  });
  $("receipt-file").addEventListener("change", (e) => {
    const f = e.target.files[0];
    e.target.value = "";
    if (f) checkReceiptFile(f);
  });
  $("filters").addEventListener("change", () => renderActivity());
  $("filters").addEventListener("reset", () => setTimeout(renderActivity, 0));
  $("events-csv").addEventListener("click", eventsCsv);
  window.addEventListener("error", (e) => {
    $("progress").textContent = `Error in the page: ${e.message}`;
  });
  window.addEventListener("unhandledrejection", (e) => {
    $("progress").textContent = `Error in the page: ${e.reason?.message ?? e.reason}`;
  });
  const found = await discover();
  const hasKeys = $("log-keys").value.trim() !== "";
  if (found && hasKeys) await verifyNow();
  document.body.dataset.ready = "true";
}

start();
