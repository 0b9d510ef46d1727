// Destruction receipts (src/audit/receipt.rs, format 2): one key's events, each with an
// inclusion proof against one signed (and cosigned) checkpoint. The page builds them from a log
// it verified, in the exact form `ok2cry audit receipt verify` reads, and verifies any receipt
// with the rules and texts of `verify_receipt`.

import { iso8601, parseEventLine } from "./event.mjs";
import { b64decode, b64encode, bytesOf, parseJson, read, readStruct } from "./json.mjs";
import { leafHash, verifyInclusion } from "./merkle.mjs";
import { noteCheckpoint, parseNote, verifyNote } from "./note.mjs";

export const RECEIPT_VERSION = 2;

/** Why a receipt does not verify; `message` is the command line's text. */
export class ReceiptError extends Error {
  constructor(msg) {
    super(`receipt does not verify: ${msg}`);
  }
}

const ENTRY = [
  ["index", read.u64],
  ["event", read.str],
  ["proof", read.strs],
];
const entryReader = (v) => readStruct(v, ENTRY) ?? undefined;
const RECEIPT = [
  ["version", read.u8],
  ["origin", read.str],
  ["key_id", read.str],
  ["checkpoint", read.str],
  ["entries", read.list(entryReader)],
  ["evidence", read.list(entryReader), () => []],
];

/**
 * Reads a receipt file as the command line does: JSON (a repeated member keeps its last value),
 * then the receipt's fields. Returns {receipt} or {error}.
 */
export function readReceipt(text) {
  let value;
  try {
    value = parseJson(text, "last");
  } catch {
    return { error: "receipt is not JSON" };
  }
  if (value && typeof value === "object" && value.version?.text === "1") {
    return { error: "a receipt of format 1: verify it with `ok2cry audit receipt verify`" };
  }
  const receipt = readStruct(value, RECEIPT);
  return receipt ? { receipt } : { error: "receipt is not a receipt JSON document" };
}

async function proven(entry, size, root, what) {
  const proof = [];
  for (const p of entry.proof) {
    const h = b64decode(p);
    if (h === null || h.length !== 32) throw new ReceiptError("malformed proof hash");
    proof.push(h);
  }
  const leaf = await leafHash(bytesOf(entry.event));
  if (!(await verifyInclusion(entry.index, size, leaf, proof, root))) {
    throw new ReceiptError(`${what} at index ${entry.index} is not in the signed tree`);
  }
  const event = parseEventLine(entry.event);
  if (!event) throw new ReceiptError(`${what} at index ${entry.index} is not canonical`);
  if (event.seq !== entry.index) throw new ReceiptError(`${what} at index ${entry.index} names another index`);
  return event;
}

/**
 * Verifies a receipt against the audit keys you trust and, with witness keys, a quorum of their
 * cosignatures. Returns the summary (`ReceiptSummary`); throws ReceiptError.
 */
export async function verifyReceipt(receipt, logKeys, witnesses, quorum) {
  if (receipt.version !== RECEIPT_VERSION) throw new ReceiptError("unsupported receipt version");
  let note;
  let checkpoint;
  try {
    note = parseNote(receipt.checkpoint);
    checkpoint = noteCheckpoint(note);
  } catch (e) {
    throw new ReceiptError(e.message);
  }
  if (checkpoint.origin !== receipt.origin) throw new ReceiptError("the checkpoint is for another log");
  let signed;
  let cosigned;
  try {
    signed = await verifyNote(note, logKeys);
  } catch (e) {
    throw new ReceiptError(e.message);
  }
  if (!signed.some(Boolean)) throw new ReceiptError("the checkpoint is not signed by the given audit key");
  try {
    cosigned = (await verifyNote(note, witnesses)).filter(Boolean).length;
  } catch (e) {
    throw new ReceiptError(e.message);
  }
  if (cosigned < quorum) {
    throw new ReceiptError(`the checkpoint carries ${cosigned} of the ${quorum} witness cosignatures required`);
  }
  const { size, root } = checkpoint;
  let created = null;
  let destroyed = null;
  let opens = 0;
  let lastIndex = null;
  for (const entry of receipt.entries) {
    const event = await proven(entry, size, root, "an event");
    if (event.key_id !== receipt.key_id) throw new ReceiptError("an event is for another key");
    if (lastIndex !== null && entry.index <= lastIndex) throw new ReceiptError("events out of order");
    lastIndex = entry.index;
    if (destroyed) throw new ReceiptError("an event follows the destruction");
    if (event.type === "key_created") {
      if (created) throw new ReceiptError("created twice");
      created = event;
    } else if (event.type === "key_opened") {
      opens += 1;
    } else if (event.type === "key_destroyed") {
      destroyed = event;
    }
    if (!created) throw new ReceiptError("the first event is not the key's creation");
  }
  if (!created) throw new ReceiptError("no creation event");
  if (!destroyed) throw new ReceiptError("no destruction event: the key is not (yet) proven destroyed");
  if (opens > created.max_opens) throw new ReceiptError("more opens than allowed");
  let destroyedMs = destroyed.time;
  if (destroyed.reason === "process_lost") {
    const lost = destroyed.lost;
    if (!lost) throw new ReceiptError("a process_lost destruction without its evidence");
    if (receipt.evidence.length !== 2) throw new ReceiptError("a process_lost destruction needs two evidence events");
    const [last, next] = receipt.evidence;
    const lastEvent = await proven(last, size, root, "evidence");
    const nextEvent = await proven(next, size, root, "evidence");
    if (last.index !== lost.seq || lastEvent.time !== lost.time) {
      throw new ReceiptError("the evidence is not the event the destruction names");
    }
    if (next.index !== last.index + 1 || nextEvent.type !== "process_started") {
      throw new ReceiptError("the evidence's event is not the last one before a restart");
    }
    if (last.index < created.seq) throw new ReceiptError("the process named as lost ended before the key was created");
    destroyedMs = lost.time;
  }
  return {
    key_id: receipt.key_id,
    created_at: iso8601(created.time),
    expires_at: iso8601(created.expires_at),
    destroyed_at: iso8601(destroyedMs),
    reason: destroyed.reason,
    opens,
    lag_ms: destroyedMs - destroyed.expires_at,
    checkpoint_size: size,
    witnesses: cosigned,
  };
}

/** The command line's line for a verified receipt. */
export function summaryText(s) {
  return `verified: key ${s.key_id} created ${s.created_at} expires ${s.expires_at} destroyed ${s.destroyed_at} (${s.reason}), ${s.opens} open(s), destroyed ${Math.abs(s.lag_ms)} ms ${s.lag_ms >= 0 ? "after" : "before"} expiry; checkpoint size ${s.checkpoint_size}, ${s.witnesses} witness cosignature(s)`;
}

/**
 * Builds the receipt of `keyId` from a verified log: `log` = { origin, seqsOf(keyId) → [seq],
 * line(seq) → text or null, records (verified checkpoint records), cache (TreeCache) }. The
 * checkpoint is the verified one with the most witness cosignatures among those that cover every
 * event needed, the newest of them on a tie. Returns {receipt, record} or {error}.
 */
export async function buildReceipt(log, keyId) {
  const found = log.seqsOf(keyId);
  if (found.length === 0) return { error: "the log has no event for this key" };
  const last = parseEventLine(log.line(found[found.length - 1]) ?? "");
  const evidenceAt =
    last && last.type === "key_destroyed" && last.reason === "process_lost" && last.lost ? last.lost.seq : null;
  const needed = Math.max(...found, evidenceAt === null ? 0 : evidenceAt + 1);
  let best = null;
  for (const r of log.records) {
    if (r.size <= needed) continue;
    if (!best || r.cosigs > best.cosigs || (r.cosigs === best.cosigs && r.size >= best.size)) best = r;
  }
  if (!best) {
    return { error: "no verified checkpoint covers this key's events yet: wait for the next checkpoint and load the log again" };
  }
  const entry = async (index) => {
    const event = log.line(index);
    if (event === null) throw new Error(`event ${index} is not in the loaded log`);
    const proof = await log.cache.inclusionProof(index, best.size);
    return { index, event, proof: proof.map((h) => b64encode(h)) };
  };
  try {
    const entries = [];
    for (const index of found) if (index < best.size) entries.push(await entry(index));
    const evidence = [];
    if (evidenceAt !== null) {
      for (const index of [evidenceAt, evidenceAt + 1]) if (log.line(index) !== null) evidence.push(await entry(index));
    }
    const receipt = {
      version: RECEIPT_VERSION,
      origin: log.origin,
      key_id: keyId,
      checkpoint: best.note,
      entries,
    };
    if (evidence.length) receipt.evidence = evidence;
    return { receipt, record: best };
  } catch (e) {
    return { error: `cannot build the receipt: ${e.message}` };
  }
}
