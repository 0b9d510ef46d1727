// The pictures of the activity section, drawn as SVG with the DOM (no library, no HTML strings),
// each with a text alternative (a data table) and a CSV download of exactly what it shows.

const SVG = "http://www.w3.org/2000/svg";

/** An HTML element with attributes and children (strings become text nodes). */
export function h(name, attrs = {}, ...children) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function s(name, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is defused. */
export function csvCell(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return String(v);
  let text = String(v);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV document (RFC 4180, CRLF). */
export function csv(head, rows) {
  return [head, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** Offers `text` as a file download. */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function utc(ms) {
  return new Date(ms).toISOString();
}

const TIME_STEPS = [1e3, 5e3, 1e4, 3e4, 6e4, 3e5, 6e5, 18e5, 36e5, 108e5, 216e5, 432e5, 864e5, 6048e5];

function timeTicks(t0, t1) {
  const span = Math.max(t1 - t0, 1);
  const step = TIME_STEPS.find((st) => span / st <= 8) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  const label = (t) => {
    const iso = utc(t);
    if (step >= 864e5) return iso.slice(5, 10);
    if (span >= 864e5) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
    return step < 6e4 ? iso.slice(11, 19) : iso.slice(11, 16);
  };
  return out.map((t) => [t, label(t)]);
}

function niceMax(v) {
  if (v <= 5) return Math.max(v, 1);
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** viewBox widths: a figure beside another, and one across the page. */
const W = 640;
const WIDE = 1200;
const PAD = { l: 44, r: 12, t: 10, b: 26 };

function frame(height, yMax, yLabel, w = W) {
  const g = [];
  const plotH = height - PAD.t - PAD.b;
  for (let k = 0; k <= 4; k += 1) {
    const v = (yMax * k) / 4;
    const y = PAD.t + plotH - (plotH * k) / 4;
    g.push(s("line", { class: "grid", x1: PAD.l, x2: w - PAD.r, y1: y, y2: y }));
    g.push(s("text", { x: PAD.l - 6, y: y + 4, "text-anchor": "end" }, Number.isInteger(v) ? String(v) : v.toFixed(1)));
  }
  g.push(s("line", { class: "axis", x1: PAD.l, x2: PAD.l, y1: PAD.t, y2: PAD.t + plotH }));
  g.push(s("line", { class: "axis", x1: PAD.l, x2: w - PAD.r, y1: PAD.t + plotH, y2: PAD.t + plotH }));
  if (yLabel) g.push(s("text", { x: 4, y: PAD.t + 8 }, yLabel));
  return g;
}

function chart(height, label, children, w = W) {
  return s("svg", { class: "chart", viewBox: `0 0 ${w} ${height}`, role: "img", "aria-label": label }, s("title", {}, label), children);
}

/**
 * A figure: caption, picture, legend, the data as a table (for screen readers and for reading
 * exact values) and a CSV download of the same rows.
 */
export function figure({ id, title, sub, wide, picture, legend, head, rows, file, empty }) {
  const table = h(
    "table",
    {},
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col", text: c })))),
    h(
      "tbody",
      {},
      rows.slice(0, 2000).map((r) => h("tr", {}, r.map((c) => h("td", { class: typeof c === "number" ? "num" : null, text: c ?? "" })))),
    ),
  );
  return h(
    "figure",
    { id, class: wide ? "wide" : null, "aria-labelledby": `${id}-cap` },
    h("figcaption", { id: `${id}-cap` }, title, sub ? h("span", { class: "sub", text: ` — ${sub}` }) : null),
    rows.length ? picture : h("p", { class: "empty", text: empty }),
    legend ? h("ul", { class: "legend" }, legend.map(([cls, text]) => h("li", {}, h("span", { class: `sw ${cls}`, "aria-hidden": "true" }), text))) : null,
    h(
      "details",
      {},
      h("summary", { text: `The data (${rows.length} row${rows.length === 1 ? "" : "s"})` }),
      h("div", { class: "table-wrap" }, table),
      rows.length > 2000 ? h("p", { class: "hint", text: "The table shows the first 2000 rows; the CSV has them all." }) : null,
    ),
    h(
      "p",
      { class: "row" },
      h("button", {
        type: "button",
        class: "csv",
        "data-file": file,
        text: "Download CSV",
        onclick: () => download(file, csv(head, rows), "text/csv"),
      }),
    ),
  );
}

/**
 * Keys created and destroyed per minute. `points`: [[minute start ms, created, destroyed]].
 * Up to 180 minutes as bars side by side, beyond as two step lines.
 */
export function perMinuteFigure(points) {
  const height = 230;
  const plotH = height - PAD.t - PAD.b;
  const children = [];
  if (points.length) {
    const t0 = points[0][0];
    const t1 = points[points.length - 1][0] + 60_000;
    const yMax = niceMax(Math.max(...points.map((p) => Math.max(p[1], p[2]))));
    const x = (t) => PAD.l + ((WIDE - PAD.l - PAD.r) * (t - t0)) / Math.max(t1 - t0, 1);
    const y = (v) => PAD.t + plotH - (plotH * v) / yMax;
    children.push(frame(height, yMax, "keys", WIDE));
    for (const [t, label] of timeTicks(t0, t1)) {
      children.push(s("text", { x: x(t), y: height - 8, "text-anchor": "middle" }, label));
    }
    if (points.length <= 180) {
      const slot = x(t0 + 60_000) - x(t0);
      const bw = Math.max(Math.min(slot / 2 - 2, 40), 1);
      for (const [t, created, destroyed] of points) {
        const cx = x(t) + slot / 2;
        const title = `${utc(t).slice(0, 16)}Z: ${created} created, ${destroyed} destroyed`;
        children.push(s("rect", { class: "bar", x: cx - bw - 1, y: y(created), width: bw, height: y(0) - y(created) }, s("title", {}, title)));
        children.push(s("rect", { class: "bar failed", x: cx + 1, y: y(destroyed), width: bw, height: y(0) - y(destroyed) }, s("title", {}, title)));
      }
    } else {
      const path = (k) =>
        points
          .map((p, i) => `${i === 0 ? "M" : "L"}${x(p[0]).toFixed(1)},${y(p[k]).toFixed(1)} L${x(p[0] + 60_000).toFixed(1)},${y(p[k]).toFixed(1)}`)
          .join(" ");
      children.push(s("path", { class: "created", d: path(1) }));
      children.push(s("path", { class: "destroyed", d: path(2) }));
    }
  }
  const created = points.reduce((n, p) => n + p[1], 0);
  const destroyed = points.reduce((n, p) => n + p[2], 0);
  return figure({
    id: "fig-per-minute",
    title: "Keys created and destroyed per minute",
    sub: `${created} created, ${destroyed} destroyed (UTC)`,
    wide: true,
    picture: chart(height, `Keys created and destroyed per minute: ${created} created and ${destroyed} destroyed over ${points.length} minutes`, children, WIDE),
    legend: points.length <= 180 ? [["bar", "created"], ["failed", "destroyed"]] : [["created", "created"], ["destroyed", "destroyed"]],
    head: ["minute_utc", "created", "destroyed"],
    rows: points.map((p) => [utc(p[0]), p[1], p[2]]),
    file: "ok2cry-keys-per-minute.csv",
    empty: "No key was created or destroyed in the selection.",
  });
}

/** Buckets of destruction lag (ms), the upper bound exclusive; the last is open. */
export const LAG_BUCKETS = [0, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000];

/** The distribution of destruction lag (expiry to `key_destroyed`) of keys destroyed as expired. */
export function lagFigure(lags, graceMs) {
  const counts = LAG_BUCKETS.map(() => 0);
  for (const lag of lags) {
    let k = LAG_BUCKETS.length - 1;
    while (k > 0 && lag < LAG_BUCKETS[k]) k -= 1;
    counts[k] += 1;
  }
  const label = (k) => (k + 1 < LAG_BUCKETS.length ? `${LAG_BUCKETS[k]}–${LAG_BUCKETS[k + 1] - 1} ms` : `≥ ${LAG_BUCKETS[k]} ms`);
  const height = 220;
  const plotH = height - PAD.t - PAD.b - 12;
  const yMax = niceMax(Math.max(0, ...counts));
  const bw = (W - PAD.l - PAD.r) / counts.length;
  const children = [frame(height - 12, yMax, "keys")];
  counts.forEach((c, k) => {
    const bh = (plotH * c) / yMax;
    const late = LAG_BUCKETS[k] > graceMs || (k + 1 < LAG_BUCKETS.length && LAG_BUCKETS[k + 1] - 1 > graceMs);
    children.push(
      s("rect", { class: late ? "bar late" : "bar", x: PAD.l + k * bw + 3, y: PAD.t + plotH - bh, width: bw - 6, height: bh }, s("title", {}, `${label(k)}: ${c} key(s)`)),
    );
    const short = k + 1 < LAG_BUCKETS.length ? `<${LAG_BUCKETS[k + 1]}` : `≥${LAG_BUCKETS[k]}`;
    children.push(s("text", { x: PAD.l + k * bw + bw / 2, y: height - 20, "text-anchor": "middle" }, short));
  });
  children.push(s("text", { x: W / 2, y: height - 4, "text-anchor": "middle" }, "lag after expiry (ms)"));
  const sorted = lags.slice().sort((a, b) => a - b);
  const max = sorted.length ? sorted[sorted.length - 1] : null;
  return figure({
    id: "fig-lag",
    title: "Destruction lag",
    sub: `expiry to the key_destroyed event, keys destroyed as expired: ${lags.length}${max === null ? "" : `, max ${max} ms`}; grace ${graceMs} ms`,
    picture: chart(height, `Destruction lag of ${lags.length} expired keys; ${lags.filter((l) => l > graceMs).length} beyond the grace of ${graceMs} ms`, children),
    legend: [["bar", "within grace"], ["late", "may exceed the grace"]],
    head: ["lag_from_ms", "lag_to_ms", "keys"],
    rows: counts.map((c, k) => [LAG_BUCKETS[k], k + 1 < LAG_BUCKETS.length ? LAG_BUCKETS[k + 1] - 1 : null, c]),
    file: "ok2cry-destruction-lag.csv",
    empty: "No key was destroyed as expired in the selection.",
  });
}

/** Opens and refused opens per principal. `rows`: [[principal, opens, failed]]. */
export function opensFigure(rows) {
  const sorted = rows.slice().sort((a, b) => b[1] + b[2] - (a[1] + a[2]) || (a[0] < b[0] ? -1 : 1));
  const shown = sorted.slice(0, 12);
  const barH = 22;
  const labelW = 190;
  const height = Math.max(shown.length * (barH + 6) + 24, 60);
  const max = niceMax(Math.max(1, ...shown.map((r) => r[1] + r[2])));
  const scale = (W - labelW - PAD.r - 40) / max;
  const children = [];
  shown.forEach(([principal, opens, failed], k) => {
    const y = 8 + k * (barH + 6);
    const name = principal.length > 30 ? `…${principal.slice(-29)}` : principal;
    children.push(s("text", { x: labelW - 6, y: y + barH / 2 + 4, "text-anchor": "end" }, s("title", {}, principal), name));
    children.push(s("rect", { class: "bar", x: labelW, y, width: opens * scale, height: barH }, s("title", {}, `${principal}: ${opens} open(s)`)));
    children.push(
      s("rect", { class: "bar failed", x: labelW + opens * scale, y, width: failed * scale, height: barH }, s("title", {}, `${principal}: ${failed} refused open(s)`)),
    );
    children.push(s("text", { x: labelW + (opens + failed) * scale + 6, y: y + barH / 2 + 4 }, `${opens} + ${failed}`));
  });
  return figure({
    id: "fig-opens",
    title: "Opens by principal",
    sub: `opened, and refused (open_failed)${sorted.length > shown.length ? `; the ${shown.length} busiest of ${sorted.length} shown, the table has all` : ""}`,
    picture: chart(height, `Opens by principal: ${shown.map((r) => `${r[0]} ${r[1]} opened, ${r[2]} refused`).join("; ")}`, children),
    legend: [["bar", "opened"], ["failed", "refused"]],
    head: ["principal", "opens", "refused_opens"],
    rows: sorted,
    file: "ok2cry-opens-by-principal.csv",
    empty: "No open in the selection.",
  });
}

const LANES = [
  ["process", "processes"],
  ["kek", "KEKs"],
  ["audit", "audit key"],
];
const MARKS = {
  process_started: ["process", "m-start", "process started"],
  service_stopped: ["process", "m-stop", "service stopped"],
  process_lost: ["process", "m-lost", "process lost (crash; dated by its last event)"],
  kek_created: ["kek", "m-kek-created", "KEK created"],
  kek_destroyed: ["kek", "m-kek-destroyed", "KEK destroyed"],
  audit_key_rotated: ["audit", "m-rotated", "audit key rotated"],
};

/**
 * KEK rotations and process restarts on one timeline. `marks`: [{time, kind (a key of MARKS),
 * node, seq, detail}].
 */
export function timelineFigure(marks) {
  const height = 150;
  const children = [];
  if (marks.length) {
    let t0 = Math.min(...marks.map((m) => m.time));
    let t1 = Math.max(...marks.map((m) => m.time));
    if (t1 - t0 < 60_000) {
      t0 -= 30_000;
      t1 += 30_000;
    }
    const left = 90;
    const x = (t) => left + ((WIDE - left - PAD.r) * (t - t0)) / (t1 - t0);
    LANES.forEach(([, name], k) => {
      const y = 22 + k * 34;
      children.push(s("line", { class: "grid", x1: left, x2: WIDE - PAD.r, y1: y, y2: y }));
      children.push(s("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, name));
    });
    children.push(s("line", { class: "axis", x1: left, x2: WIDE - PAD.r, y1: height - 28, y2: height - 28 }));
    for (const [t, label] of timeTicks(t0, t1)) {
      children.push(s("text", { x: x(t), y: height - 10, "text-anchor": "middle" }, label));
    }
    for (const m of marks) {
      const [lane, cls, what] = MARKS[m.kind];
      const y = 22 + LANES.findIndex((l) => l[0] === lane) * 34;
      const title = s("title", {}, `${utc(m.time)} ${what}${m.detail ? `: ${m.detail}` : ""} (node ${m.node}, seq ${m.seq})`);
      const cx = x(m.time);
      if (cls === "m-start") children.push(s("path", { class: cls, d: `M${cx - 6},${y + 6} L${cx},${y - 7} L${cx + 6},${y + 6} Z` }, title));
      else if (cls === "m-stop") children.push(s("rect", { class: cls, x: cx - 5, y: y - 5, width: 10, height: 10 }, title));
      else if (cls === "m-lost") children.push(s("path", { class: cls, d: `M${cx - 6},${y - 6} L${cx + 6},${y + 6} M${cx + 6},${y - 6} L${cx - 6},${y + 6}`, stroke: "currentColor", "stroke-width": 3 }, title));
      else if (cls === "m-rotated") children.push(s("path", { class: cls, d: `M${cx},${y - 7} L${cx + 7},${y} L${cx},${y + 7} L${cx - 7},${y} Z` }, title));
      else children.push(s("circle", { class: cls, cx, cy: y, r: 5 }, title));
    }
  }
  const count = (k) => marks.filter((m) => m.kind === k).length;
  return figure({
    id: "fig-timeline",
    title: "KEK rotations and process restarts",
    sub: `${count("process_started")} start(s), ${count("service_stopped")} clean stop(s), ${count("process_lost")} lost process(es), ${count("kek_created")} KEK(s) created, ${count("kek_destroyed")} destroyed, ${count("audit_key_rotated")} audit key rotation(s)`,
    wide: true,
    picture: chart(height, `Timeline of ${marks.length} process, KEK and audit key events`, children, WIDE),
    legend: [
      ["", "▲ process started"],
      ["", "■ service stopped"],
      ["", "✕ process lost"],
      ["", "● KEK created"],
      ["", "○ KEK destroyed"],
      ["", "◆ audit key rotated"],
    ],
    head: ["time_utc", "node", "event", "detail", "seq"],
    rows: marks.map((m) => [utc(m.time), m.node, MARKS[m.kind][2], m.detail ?? "", m.seq]),
    file: "ok2cry-timeline.csv",
    empty: "No process, KEK or audit key event in the selection.",
  });
}
