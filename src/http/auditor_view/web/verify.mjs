// Verification of a whole log in the browser, with the rules of `ok2cry audit verify`
// (src/audit/verify.rs, the reference): the same checks in the same order, with the same
// texts, so that the page and the command line give the same verdict and the same reasons.
//
// - Integrity: canonical events, `seq` = leaf index across segments and restarts, time never
//   decreasing, segments that follow each other; every checkpoint record signed by an audit key
//   you trust (or one the log rotated to, once vouched for), its root and frontier equal to
//   what the events give; checkpoints beyond the events mean events were removed.
// - Witnesses: a quorum of cosignatures on the newest checkpoint; checkpoints you hold must be in
//   the log with the same root.
// - Destruction policy: every key destroyed by its expiry + grace (a key lost with its process
//   at that process's last event, which the destruction names), opens within expiry + grace by
//   the designated opener and no more than allowed, no event for a key that is not alive, KEKs
//   destroyed by their end of life, nothing after `service_stopped` but a new process.
//
// What the command line has and the page has not: `--since`/`--save-state` (the page always
// reads the segments it is given from their start) and `--witness-url` (paste the witness's
// checkpoint as a checkpoint you hold instead).

import { iso8601, keyIdCreatedMs, parseEventLine } from "./event.mjs";
import { b64decode, bytesEqual, debugString, parseJson, read, readStruct, rustLines, utf8 } from "./json.mjs";
import { Frontier, TreeCache, leafHashes } from "./merkle.mjs";
import { fromVkey, noteCheckpoint, parseNote, verifyNote } from "./note.mjs";

/** The first line of `FORMAT` of a log of format 2. */
export const FORMAT = "ok2cry-audit-log 2\n";

const MAX_KEY_LIFETIME_MS = 86_400_000;
const CREATION_WINDOW_MS = 60_000;
const NOT_FOUND = "No such file or directory (os error 2)";

/** A segment's file names (`layout.rs`). */
export function segmentName(n) {
  return `segment-${String(n).padStart(6, "0")}.jsonl`;
}
export function metaName(n) {
  return `segment-${String(n).padStart(6, "0")}.meta.json`;
}
export function checkpointsName(n) {
  return `segment-${String(n).padStart(6, "0")}.checkpoints.jsonl`;
}

/** Whether a file name is one the verifier reads. */
export function isLogFile(name) {
  return name === "FORMAT" || /^segment-[0-9]+\.(?:jsonl|meta\.json|checkpoints\.jsonl)$/.test(name);
}

/** The segment numbers named by event or metadata files, ascending (`layout::segment_numbers`). */
export function segmentNumbers(names) {
  const found = new Set();
  for (const name of names) {
    if (!name.startsWith("segment-")) continue;
    const rest = name.slice("segment-".length);
    let number = null;
    if (rest.endsWith(".jsonl") && !rest.slice(0, -6).includes(".")) number = rest.slice(0, -6);
    else if (rest.endsWith(".meta.json")) number = rest.slice(0, -10);
    if (number !== null && /^\+?[0-9]+$/.test(number) && BigInt(number) < 1n << 64n) {
      found.add(Number(BigInt(number)));
    }
  }
  return [...found].sort((a, b) => a - b);
}

const SEALED = [
  ["count", read.u64],
  ["bytes", read.u64],
  ["sha256", read.str],
  ["last_ms", read.u64],
];
const META = [
  ["segment", read.u64],
  ["first", read.u64],
  ["frontier", read.strs],
  ["opened_ms", read.u64],
  ["process_start", read.bool],
  ["sealed", read.opt((v) => readStruct(v, SEALED) ?? undefined), () => null],
];
const RECORD = [
  ["size", read.u64],
  ["frontier", read.strs],
  ["note", read.str],
];

function readJsonStruct(text, fields) {
  try {
    return readStruct(parseJson(text), fields);
  } catch {
    return null;
  }
}

/** A segment's metadata, or null when missing or not well-formed (`SegmentMeta::read`). */
export function readMeta(bytes) {
  const text = bytes === null ? null : utf8(bytes);
  return text === null ? null : readJsonStruct(text, META);
}

/** The records of a checkpoints file: {record} or {line} for a malformed one (`read_all`). */
export function readRecords(bytes) {
  const text = bytes === null ? null : utf8(bytes);
  if (text === null) return [];
  return rustLines(text).map((line, k) => {
    const record = readJsonStruct(line, RECORD);
    return record ? { record } : { line: k + 1 };
  });
}

/** A frontier from a size and base64 hashes; null unless each is 32 bytes, one per set bit. */
export function frontierOf(size, list) {
  const hashes = [];
  for (const h of list) {
    const b = b64decode(h);
    if (b === null || b.length !== 32) return null;
    hashes.push(b);
  }
  return Frontier.fromParts(size, hashes);
}

/** Rust's `partition_point` (its binary search, also on input that is not partitioned). */
function partitionPoint(arr, pred) {
  let size = arr.length;
  if (size === 0) return 0;
  let base = 0;
  while (size > 1) {
    const half = Math.floor(size / 2);
    if (pred(arr[base + half])) base += half;
    size -= half;
  }
  return base + (pred(arr[base]) ? 1 : 0);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(Math.max(Math.ceil(p * sorted.length), 1), sorted.length);
  return sorted[rank - 1];
}

class Stop extends Error {}

/**
 * Verifies the log a `source` offers: `{ label, names: [file name], read(name) → Promise of
 * Uint8Array or null }`. `opts`: { logKeys, witnesses (NoteVerifiers), quorum, graceMs,
 * checkpoints (signed notes you hold) }. `hooks`: { onSegment(n, bytes), onEvent(seq, event,
 * segment, start, end), onProgress({leaves, segments}) }.
 *
 * Returns { report } — the same report as `ok2cry audit verify --json` — and what the page needs
 * to search keys and build receipts: the verified checkpoint records, the trusted keys at the
 * end (pinned and vouched-for rotations) and the tree's hashes.
 */
export async function verifyLog(source, opts, hooks = {}) {
  const v = new Verifier(opts, hooks);
  try {
    await v.run(source);
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    v.r.violations.push(e.message);
  }
  return v.finish();
}

class Verifier {
  constructor(opts, hooks) {
    this.opts = opts;
    this.hooks = hooks;
    this.r = {
      origin: null,
      segments: 0,
      first_leaf: 0,
      size: 0,
      checkpoints_verified: 0,
      newest_checkpoint: null,
      witnessed_size: null,
      totals: { events: 0, keys_created: 0, destroyed_by_reason: new Map() },
      keys_alive: 0,
      lag_ms_p50: null,
      lag_ms_p99: null,
      lag_ms_max: null,
      violations: [],
      notes: [],
    };
    this.frontier = new Frontier();
    this.cache = new TreeCache();
    this.trusted = opts.logKeys.slice();
    this.rotations = []; // [seq, key]: rotations not yet vouched for
    this.keys = new Map();
    this.goneTimes = []; // ascending destruction times with entries in goneAt
    this.goneAt = new Map(); // time -> [key id]
    this.goneSet = new Set();
    this.keks = new Map(); // kek id -> {epoch, notAfter}
    this.keksGone = new Set(); // while lenient: KEKs destroyed in this run
    this.epoch = 0;
    this.epochLast = new Map(); // epoch -> {seq, time}
    this.lastMs = 0;
    this.stopped = false;
    this.lags = [];
    this.held = new Map(); // size -> [{root, origin}]
    this.newestCosigs = 0;
    this.rangeStartMs = null;
    this.lenient = false;
    this.records = []; // verified checkpoint records
  }

  violation(msg) {
    this.r.violations.push(msg);
  }

  async run(source) {
    if (this.opts.logKeys.length === 0) throw new Stop("no audit key to verify against");
    const format = await source.read("FORMAT");
    if (format === null) throw new Stop(`${source.label}: no FORMAT file: ${NOT_FOUND}`);
    const text = utf8(format);
    if (text === null) throw new Stop(`${source.label}: no FORMAT file: stream did not contain valid UTF-8`);
    if (text !== FORMAT) throw new Stop(`unknown log format ${debugString(text.trim())}`);
    const metas = [];
    for (const n of segmentNumbers(source.names)) {
      const m = readMeta(await source.read(metaName(n)));
      if (m && m.segment === n) metas.push(m);
      else this.violation(`segment ${n}: its metadata is missing or altered`);
    }
    if (metas.length === 0) throw new Stop("no segment");
    for (const held of this.opts.checkpoints) {
      try {
        const note = parseNote(held);
        const signed = await verifyNote(note, this.trusted);
        const cp = noteCheckpoint(note);
        if (signed.some(Boolean)) {
          if (!this.held.has(cp.size)) this.held.set(cp.size, []);
          this.held.get(cp.size).push({ root: cp.root, origin: cp.origin });
        } else {
          this.violation("a checkpoint you hold is not signed by the audit key you trust");
        }
      } catch (e) {
        this.violation(`a checkpoint you hold does not parse: ${e.message}`);
      }
    }
    const first = metas[0];
    if (first.first > 0) {
      this.lenient = true;
      this.r.notes.push(
        `the log starts at leaf ${first.first} (segment ${first.segment}); earlier segments are not present (archived?) and are not verified`,
      );
      const f = frontierOf(first.first, first.frontier);
      if (!f) throw new Stop(`segment ${first.segment}: bad frontier in its metadata`);
      this.frontier = f;
      this.cache.putFrontier(f);
    }
    this.r.first_leaf = this.frontier.size;
    const startPos = Math.max(partitionPoint(metas, (m) => m.first <= 0) - 1, 0);
    for (let pos = startPos; pos < metas.length; pos += 1) {
      await this.segment(source, metas[pos], pos + 1 === metas.length);
      this.r.segments += 1;
      this.hooks.onProgress?.({ leaves: this.frontier.size, segments: this.r.segments });
    }
  }

  async segment(source, meta, newest) {
    const n = meta.segment;
    if (meta.first !== this.frontier.size) {
      this.violation(
        `segment ${n} starts at leaf ${meta.first} but the log before it has ${this.frontier.size} leaves (a segment is missing or was altered)`,
      );
      throw new Stop(`cannot continue past segment ${n}`);
    }
    const records = new Map();
    for (const r of readRecords(await source.read(checkpointsName(n)))) {
      if (r.record) {
        if (!records.has(r.record.size)) records.set(r.record.size, []);
        records.get(r.record.size).push(r.record);
      } else {
        this.violation(`segment ${n}: checkpoint record ${r.line} is malformed`);
      }
    }
    const bytes = await source.read(segmentName(n));
    if (bytes === null) {
      this.violation(`segment ${n}: unreadable: ${NOT_FOUND}`);
      throw new Stop(`cannot continue past segment ${n}`);
    }
    this.hooks.onSegment?.(n, bytes);
    const spans = [];
    let at = 0;
    let incomplete = false;
    while (at < bytes.length) {
      const nl = bytes.indexOf(0x0a, at);
      if (nl < 0) {
        incomplete = true;
        break;
      }
      spans.push([at, nl]);
      at = nl + 1;
    }
    const hashes = await leafHashes(spans.map(([a, b]) => bytes.subarray(a, b)));
    for (let k = 0; k < spans.length; k += 1) {
      const [a, b] = spans[k];
      await this.leaf(n, bytes.subarray(a, b), hashes[k], a, b);
      const size = this.frontier.size;
      const rs = records.get(size);
      if (rs) {
        records.delete(size);
        for (const r of rs) await this.record(n, r);
      }
      const held = this.held.get(size);
      if (held) {
        this.held.delete(size);
        const root = await this.frontier.root();
        for (const h of held) {
          if (!bytesEqual(h.root, root)) {
            this.violation(
              `the log's tree at size ${size} differs from a checkpoint you hold for ${h.origin}: the log was rewritten`,
            );
          }
        }
      }
      if (size % 4096 === 0) this.hooks.onProgress?.({ leaves: size, segments: this.r.segments });
    }
    if (incomplete) {
      if (newest) {
        this.r.notes.push(
          `segment ${n} ends with an incomplete line (a write in progress, or a crash the node has not recovered from yet): not verified`,
        );
      } else {
        this.violation(`segment ${n}: the last line is incomplete`);
      }
    }
    for (const size of [...records.keys()].sort((x, y) => x - y)) {
      if (size > this.frontier.size) {
        this.violation(
          `segment ${n} holds a checkpoint of size ${size} but the log has only ${this.frontier.size} leaves: events were removed`,
        );
      }
    }
  }

  async record(segment, record) {
    const size = record.size;
    const fail = (e) => this.violation(`segment ${segment} checkpoint ${size}: ${e.message}`);
    let note;
    let cp;
    try {
      note = parseNote(record.note);
      cp = noteCheckpoint(note);
    } catch (e) {
      return fail(e);
    }
    if (this.r.origin !== null && this.r.origin !== cp.origin) {
      return this.violation(
        `segment ${segment} checkpoint ${size}: origin ${cp.origin} where the log is ${this.r.origin}`,
      );
    }
    if (this.r.origin === null) this.r.origin = cp.origin;
    const keys = [...this.trusted, ...this.rotations.map(([, k]) => k)];
    let signed;
    try {
      signed = await verifyNote(note, keys);
    } catch (e) {
      return fail(e);
    }
    const signer = signed.slice(0, this.trusted.length).findIndex(Boolean);
    if (signer < 0) {
      return this.violation(`segment ${segment} checkpoint ${size}: not signed by an audit key you trust`);
    }
    const signedBy = this.trusted[signer];
    const vouched = this.rotations.filter(([seq]) => seq < size).map(([, k]) => k);
    this.rotations = this.rotations.filter(([seq]) => seq >= size);
    this.trusted.push(...vouched);
    const f = frontierOf(record.size, record.frontier);
    if (cp.size !== size || !f || !f.equals(this.frontier)) {
      return this.violation(`segment ${segment} checkpoint record ${size} does not describe the tree at that size`);
    }
    if (!bytesEqual(cp.root, await this.frontier.root())) {
      return this.violation(
        `segment ${segment} checkpoint ${size}: its root does not match the events (an event was altered, inserted, deleted or reordered)`,
      );
    }
    this.r.checkpoints_verified += 1;
    let cosigs = 0;
    try {
      cosigs = (await verifyNote(note, this.opts.witnesses)).filter(Boolean).length;
    } catch (e) {
      fail(e);
      cosigs = 0;
    }
    if (this.r.newest_checkpoint === null || this.r.newest_checkpoint <= size) {
      if (this.r.newest_checkpoint === size) this.newestCosigs = Math.max(this.newestCosigs, cosigs);
      else this.newestCosigs = cosigs;
      this.r.newest_checkpoint = size;
    }
    if (this.opts.quorum > 0 && cosigs >= this.opts.quorum) {
      this.r.witnessed_size = Math.max(this.r.witnessed_size ?? size, size);
    }
    this.records.push({ segment, size, note: record.note, cosigs, signedBy });
  }

  async leaf(segment, bytes, hash, start, end) {
    const seq = this.frontier.size;
    this.cache.put(0, seq, hash);
    await this.frontier.push(hash, (height, index, h) => this.cache.put(height, index, h));
    this.r.totals.events += 1;
    const text = utf8(bytes);
    const event = text === null ? null : parseEventLine(text);
    if (!event) return this.violation(`segment ${segment} leaf ${seq}: not a canonical event (altered?)`);
    if (event.seq !== seq) {
      this.violation(
        `segment ${segment} leaf ${seq}: sequence ${event.seq} where ${seq} was expected (event inserted, deleted or reordered)`,
      );
    }
    const t = event.time;
    if (this.rangeStartMs === null) this.rangeStartMs = t;
    if (t < this.lastMs) this.violation(`seq ${seq}: time goes back (${iso8601(t)} after ${iso8601(this.lastMs)})`);
    this.lastMs = Math.max(this.lastMs, t);
    await this.policy(event);
    this.epochLast.set(this.epoch, { seq, time: t });
    this.pruneGone(t);
    this.hooks.onEvent?.(seq, event, segment, start, end);
  }

  pruneGone(now) {
    const horizon = Math.max(now - (CREATION_WINDOW_MS + 1_000), 0);
    let drop = 0;
    while (drop < this.goneTimes.length && this.goneTimes[drop] < horizon) {
      for (const id of this.goneAt.get(this.goneTimes[drop])) this.goneSet.delete(id);
      this.goneAt.delete(this.goneTimes[drop]);
      drop += 1;
    }
    if (drop > 0) this.goneTimes.splice(0, drop);
  }

  addGone(t, keyId) {
    if (!this.goneAt.has(t)) {
      this.goneAt.set(t, []);
      let k = this.goneTimes.length;
      while (k > 0 && this.goneTimes[k - 1] > t) k -= 1;
      this.goneTimes.splice(k, 0, t);
    }
    this.goneAt.get(t).push(keyId);
    this.goneSet.add(keyId);
  }

  unknownKey(seq, keyId, what) {
    const created = keyIdCreatedMs(keyId);
    const start = this.rangeStartMs ?? 0;
    if (this.goneSet.has(keyId)) {
      this.violation(`seq ${seq}: key ${keyId} ${what} after its destruction`);
    } else if (this.lenient && (created === null || created < start)) {
      this.r.notes.push(`seq ${seq}: key ${keyId} ${what}, created before the verified range`);
    } else {
      this.violation(`seq ${seq}: key ${keyId} ${what} but is not alive (never created, or already destroyed)`);
    }
  }

  async policy(e) {
    const seq = e.seq;
    const t = e.time;
    const grace = this.opts.graceMs;
    if (this.stopped && e.type !== "process_started") {
      this.violation(`seq ${seq}: ${e.type} after service_stopped`);
    }
    switch (e.type) {
      case "process_started":
        this.epoch += 1;
        this.stopped = false;
        break;
      case "service_stopped": {
        let left = 0;
        for (const k of this.keys.values()) if (k.epoch === this.epoch) left += 1;
        let keks = 0;
        for (const k of this.keks.values()) if (k.epoch === this.epoch) keks += 1;
        if (left > 0 || keks > 0) {
          this.violation(
            `seq ${seq}: service_stopped with ${left} key(s) and ${keks} KEK(s) of this process not destroyed`,
          );
        }
        this.stopped = true;
        break;
      }
      case "audit_key_rotated":
        try {
          this.rotations.push([seq, await fromVkey(e.new_key)]);
        } catch (err) {
          this.violation(`seq ${seq}: audit_key_rotated: ${err.message}`);
        }
        break;
      case "kek_created":
        if (this.keks.has(e.kek_id)) this.violation(`seq ${seq}: KEK ${e.kek_id} created twice`);
        this.keks.set(e.kek_id, { epoch: this.epoch, notAfter: e.not_after });
        break;
      case "kek_destroyed": {
        const k = this.keks.get(e.kek_id);
        if (!k) {
          if (this.lenient && !this.keksGone.has(e.kek_id)) {
            this.keksGone.add(e.kek_id);
            this.r.notes.push(`seq ${seq}: KEK ${e.kek_id} destroyed, created before the verified range`);
          } else {
            this.violation(`seq ${seq}: KEK ${e.kek_id} destroyed but not alive`);
          }
          break;
        }
        this.keks.delete(e.kek_id);
        if (this.lenient) this.keksGone.add(e.kek_id);
        const when =
          this.lostTime(seq, k.epoch, e.reason === "process_lost", e.lost, `KEK ${e.kek_id}`) ?? t;
        if (when > k.notAfter + grace) {
          this.violation(
            `seq ${seq}: KEK ${e.kek_id} destroyed ${when - k.notAfter} ms after its end of life (grace ${grace} ms)`,
          );
        }
        break;
      }
      case "key_created": {
        this.r.totals.keys_created += 1;
        const made = keyIdCreatedMs(e.key_id);
        if (made !== null) {
          if (t + 1_000 < made || t > made + CREATION_WINDOW_MS) {
            this.violation(
              `seq ${seq}: key ${e.key_id} logged as created at ${iso8601(t)} but its id was made at ${iso8601(made)}`,
            );
          }
          if (e.expires_at > made + MAX_KEY_LIFETIME_MS + CREATION_WINDOW_MS) {
            this.violation(`seq ${seq}: key ${e.key_id} expires beyond the longest TTL`);
          }
        }
        if (this.keys.has(e.key_id) || this.goneSet.has(e.key_id)) {
          this.violation(`seq ${seq}: key ${e.key_id} created twice`);
        }
        this.keys.set(e.key_id, {
          epoch: this.epoch,
          expiresAt: e.expires_at,
          maxOpens: e.max_opens,
          opens: 0,
          opener: e.opener,
        });
        break;
      }
      case "key_opened": {
        const k = this.keys.get(e.key_id);
        if (!k) {
          this.unknownKey(seq, e.key_id, "opened");
          break;
        }
        k.opens += 1;
        if (t > k.expiresAt + grace) {
          this.violation(
            `seq ${seq}: key ${e.key_id} opened ${t - k.expiresAt} ms after its expiry (grace ${grace} ms)`,
          );
        }
        if (k.opens > k.maxOpens) this.violation(`seq ${seq}: key ${e.key_id} opened more often than allowed`);
        if (e.opener !== k.opener) {
          this.violation(`seq ${seq}: key ${e.key_id} opened by ${e.opener}, not its designated opener`);
        }
        if (k.epoch !== this.epoch) {
          this.violation(`seq ${seq}: key ${e.key_id} opened by a process that never held it`);
        }
        break;
      }
      case "open_failed":
        if (!this.keys.has(e.key_id)) this.unknownKey(seq, e.key_id, "used");
        break;
      case "key_destroyed": {
        const by = this.r.totals.destroyed_by_reason;
        by.set(e.reason, (by.get(e.reason) ?? 0) + 1);
        const k = this.keys.get(e.key_id);
        if (!k) {
          this.unknownKey(seq, e.key_id, "destroyed");
          break;
        }
        this.keys.delete(e.key_id);
        const when =
          this.lostTime(seq, k.epoch, e.reason === "process_lost", e.lost, `key ${e.key_id}`) ?? t;
        if (when > k.expiresAt + grace) {
          this.violation(
            `seq ${seq}: key ${e.key_id} destroyed ${when - k.expiresAt} ms after its expiry (grace ${grace} ms)`,
          );
        }
        if (e.reason === "expired") this.lags.push(Math.max(when - k.expiresAt, 0));
        this.addGone(t, e.key_id);
        break;
      }
      default:
        break;
    }
  }

  /** For a destruction: who may destroy it, and the date of a `process_lost` one. */
  lostTime(seq, epoch, isLost, lost, what) {
    if (!isLost) {
      if (epoch !== this.epoch) {
        this.violation(
          `seq ${seq}: ${what} destroyed by a process that never held it (it died with process epoch ${epoch})`,
        );
      }
      if (lost !== null) {
        this.violation(`seq ${seq}: ${what}: evidence of a lost process on a destruction that is not process_lost`);
      }
      return null;
    }
    if (epoch === this.epoch) this.violation(`seq ${seq}: ${what} recorded as lost by the process that holds it`);
    const expected = this.epochLast.get(epoch) ?? null;
    if (lost !== null && expected !== null) {
      if (lost.seq === expected.seq && lost.time === expected.time) return lost.time;
      this.violation(
        `seq ${seq}: ${what} dated by event ${lost.seq} at ${iso8601(lost.time)} but its process's last event is ${expected.seq} at ${iso8601(expected.time)}`,
      );
      return expected.time;
    }
    if (lost !== null) return lost.time;
    this.violation(`seq ${seq}: ${what} lost without evidence`);
    return null;
  }

  finish() {
    const grace = this.opts.graceMs;
    const r = this.r;
    r.size = this.frontier.size;
    for (const [keyId, k] of this.keys) {
      if (this.lastMs > k.expiresAt + grace) r.violations.push(`key ${keyId}: expired but no destruction is logged`);
      else r.keys_alive += 1;
    }
    for (const [kekId, k] of this.keks) {
      if (this.lastMs > k.notAfter + grace) {
        r.violations.push(`KEK ${kekId}: past its end of life but no destruction is logged`);
      }
    }
    for (const size of [...this.held.keys()].sort((x, y) => x - y)) {
      for (const h of this.held.get(size)) {
        r.violations.push(
          `the log has ${r.size} leaves but a checkpoint you hold for ${h.origin} has ${size}: events were removed from its end (truncated or rolled back)`,
        );
      }
    }
    const newest = r.newest_checkpoint;
    if (newest === null) r.violations.push("no checkpoint verified: nothing in the log is signed");
    else if (newest < r.size) {
      r.notes.push(
        `${r.size - newest} event(s) after the newest checkpoint (size ${newest}) are not covered by a signature yet`,
      );
    }
    if (this.opts.quorum > 0 && newest !== null && this.newestCosigs < this.opts.quorum) {
      r.violations.push(
        `the newest checkpoint (size ${newest}) carries ${this.newestCosigs} of the ${this.opts.quorum} witness cosignatures required: a removed or rewritten suffix could not be told`,
      );
    }
    this.lags.sort((x, y) => x - y);
    r.lag_ms_p50 = percentile(this.lags, 0.5);
    r.lag_ms_p99 = percentile(this.lags, 0.99);
    r.lag_ms_max = this.lags.length ? this.lags[this.lags.length - 1] : null;
    const byReason = {};
    for (const reason of [...r.totals.destroyed_by_reason.keys()].sort()) {
      byReason[reason] = r.totals.destroyed_by_reason.get(reason);
    }
    const report = { ...r, totals: { ...r.totals, destroyed_by_reason: byReason } };
    return {
      report,
      records: this.records,
      trusted: this.trusted,
      cache: this.cache,
      lags: this.lags,
    };
  }
}

/** The report as `ok2cry audit verify --json` prints it. */
export function reportJson(report) {
  return JSON.stringify(report, null, 2);
}

/** The origin in the log's newest checkpoint record, to name a PEM key (`origin_in` of the CLI). */
export async function originIn(source) {
  const numbers = segmentNumbers(source.names).reverse();
  for (const n of numbers) {
    for (const r of readRecords(await source.read(checkpointsName(n)))) {
      if (!r.record) continue;
      try {
        return noteCheckpoint(parseNote(r.record.note)).origin;
      } catch {
        // the next record
      }
    }
  }
  return null;
}

