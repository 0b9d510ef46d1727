// The audit event model as the log writes it (src/audit/event.rs): one line of canonical JSON
// per event. A line is accepted only when it is exactly the canonical form of a well-typed
// event, which is the rule of `Event::parse_line`: it is parsed, typed, written again and
// compared.

import { b64urlDecode, isObject, parseJson, uintBig } from "./json.mjs";

/** Destruction reasons of keys, in the order the docs list them. */
export const DESTROY_REASONS = [
  "consumed",
  "expired",
  "revoked",
  "failed_opens",
  "shutdown",
  "kek_destroyed",
  "process_lost",
  "aborted",
];
const KEK_DESTROY_REASONS = ["expired", "shutdown", "process_lost"];
const OPEN_FAILURES = ["decrypt", "forbidden"];

// Each event type's members after `type`, in declaration order, with their kinds.
const SCHEMA = {
  process_started: [["version", "str"], ["build_digest", "str"]],
  service_started: [["signing_keys", "strs"]],
  service_stopped: [],
  audit_key_rotated: [["new_key", "str"]],
  kek_created: [["kek_id", "u64"], ["wrap_until", "time"], ["not_after", "time"]],
  kek_destroyed: [
    ["kek_id", "u64"],
    ["keys_wrapped", "u64"],
    ["reason", KEK_DESTROY_REASONS],
    ["lost", "lost?"],
  ],
  key_created: [
    ["key_id", "str"],
    ["jwk_thumbprint", "str"],
    ["owner", "str"],
    ["opener", "str"],
    ["expires_at", "time"],
    ["kek_id", "u64"],
    ["label", "str|null"],
    ["max_opens", "u32"],
  ],
  key_opened: [["key_id", "str"], ["opener", "str"], ["opens_used", "u32"], ["opens_remaining", "u32"]],
  open_failed: [["key_id", "str"], ["principal", "str"], ["failures", "u32"], ["reason", OPEN_FAILURES]],
  key_destroyed: [["key_id", "str"], ["reason", DESTROY_REASONS], ["expires_at", "time"], ["lost", "lost?"]],
};

/** The event types, as in the `type` member. */
export const EVENT_TYPES = Object.keys(SCHEMA);

const LAST_MS = 253402300799999; // 9999-12-31T23:59:59.999Z, the last time the service writes

/** ISO 8601 UTC with milliseconds, as the service writes times (`clock::iso8601`). */
export function iso8601(ms) {
  if (!Number.isFinite(ms) || ms < 0 || ms > LAST_MS) return "invalid-time";
  return new Date(ms).toISOString();
}

const TIME = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z$/;

/** Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` (a real date, on or after 1970) into ms; else null. */
export function parseTime(text) {
  const m = typeof text === "string" ? TIME.exec(text) : null;
  if (!m) return null;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number);
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59) return null;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (d < 1 || d > days) return null;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return t >= 0 ? t : null;
}

/** The creation time a service key id carries (`<node>_<base64url(6-byte ms || 16 random)>`). */
export function keyIdCreatedMs(keyId) {
  const at = keyId.indexOf("_");
  if (at < 0) return null;
  const bytes = b64urlDecode(keyId.slice(at + 1));
  if (bytes === null || bytes.length !== 22) return null;
  let t = 0;
  for (let k = 0; k < 6; k += 1) t = t * 256 + bytes[k];
  return t;
}

function typed(kind, v) {
  // Returns [value, canonical text] or null.
  switch (kind) {
    case "str":
      return typeof v === "string" ? [v, JSON.stringify(v)] : null;
    case "str|null":
      if (v === null) return [null, "null"];
      return typeof v === "string" ? [v, JSON.stringify(v)] : null;
    case "strs":
      return Array.isArray(v) && v.every((s) => typeof s === "string")
        ? [v, `[${v.map((s) => JSON.stringify(s)).join(",")}]`]
        : null;
    case "u64":
    case "u32": {
      const b = uintBig(v, kind === "u64" ? 64 : 32);
      return b === null ? null : [Number(b), b.toString()];
    }
    case "time": {
      const t = parseTime(v);
      return t === null ? null : [t, JSON.stringify(iso8601(t))];
    }
    case "lost?": {
      if (!isObject(v)) return null;
      const seq = typed("u64", v.seq);
      const time = typed("time", v.time);
      if (!seq || !time) return null;
      return [{ seq: seq[0], time: time[0] }, `{"seq":${seq[1]},"time":${time[1]}}`];
    }
    default:
      // An enum: one of the listed names.
      return Array.isArray(kind) && kind.includes(v) ? [v, JSON.stringify(v)] : null;
  }
}

/**
 * Parses one event line: returns the event (`seq`, `time` in ms, `node`, `type` and the
 * members of its type; times in ms, `lost` as {seq, time}), or null unless the line is exactly
 * the canonical form of an event.
 */
export function parseEventLine(line) {
  let v;
  try {
    v = parseJson(line);
  } catch {
    return null;
  }
  if (!isObject(v) || typeof v.type !== "string" || !(v.type in SCHEMA)) return null;
  const seq = typed("u64", v.seq);
  const time = typed("time", v.time);
  const node = typed("str", v.node);
  if (!seq || !time || !node) return null;
  const event = { seq: seq[0], time: time[0], node: node[0], type: v.type };
  let text = `{"seq":${seq[1]},"time":${time[1]},"node":${node[1]},"type":${JSON.stringify(v.type)}`;
  for (const [name, kind] of SCHEMA[v.type]) {
    if (kind === "lost?" && !(name in v)) {
      event[name] = null;
      continue;
    }
    if (!(name in v)) return null;
    const t = typed(kind, v[name]);
    if (!t) return null;
    event[name] = t[0];
    text += `,${JSON.stringify(name)}:${t[1]}`;
  }
  text += "}";
  return text === line ? event : null;
}

/** The key id of a key event, else null. */
export function eventKeyId(e) {
  return typeof e.key_id === "string" ? e.key_id : null;
}

/** The principals an event names (creator and opener, opener, or the one who tried). */
export function eventPrincipals(e) {
  switch (e.type) {
    case "key_created":
      return e.owner === e.opener ? [e.owner] : [e.owner, e.opener];
    case "key_opened":
      return [e.opener];
    case "open_failed":
      return [e.principal];
    default:
      return [];
  }
}

