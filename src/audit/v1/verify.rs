//! Offline verification of a version-1 log directory (one Merkle tree per segment), kept so
//! that logs written before version 2 still verify (`ok2cry audit verify` picks it by format).
//!
//! Checks, for every segment in order: each line is a canonical event; sequence numbers are
//! continuous; the segment starts with `segment_started` linking to the previous segment's
//! tree (size and root recomputed from its events); every stored checkpoint is signed by the
//! given key and its root equals the root recomputed from the events it covers; every
//! `checkpoint` event has its stored note and every note its event; a segment other than the
//! newest ends with a checkpoint covering all of it. Then the policy: every created key is
//! destroyed no later than its expiry + grace; no open after expiry; no more opens than
//! allowed; no event for a key after its destruction.

use super::event::{Event, EventBody, parse_time};
use super::{checkpoints_path, segment_path, segments};
use crate::audit::merkle::{self, Hash};
use crate::audit::note::verify_note;
use base64ct::{Base64, Encoding};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The result of a verification.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Segments read.
    pub segments: usize,
    /// Events read.
    pub events: u64,
    /// Checkpoints whose signature and root verified.
    pub checkpoints_verified: usize,
    /// Keys created.
    pub keys_created: u64,
    /// Keys destroyed, by reason.
    pub destroyed_by_reason: BTreeMap<String, u64>,
    /// Keys still alive at the end of the log (not yet expired).
    pub keys_alive: u64,
    /// Destruction lag of expired keys (destroyed − expires_at), ms: p50, p99, max.
    pub lag_ms_p50: Option<u64>,
    /// p99.
    pub lag_ms_p99: Option<u64>,
    /// max.
    pub lag_ms_max: Option<u64>,
    /// Everything wrong, each with where.
    pub violations: Vec<String>,
    /// Remarks that are not violations.
    pub notes: Vec<String>,
}

impl Report {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// A human-readable summary followed by every violation.
    pub fn render(&self, grace_ms: u64) -> String {
        let ms = |v: Option<u64>| v.map(|v| format!("{v} ms")).unwrap_or_else(|| "-".into());
        let mut out = format!(
            "segments: {}\nevents: {}\ncheckpoints verified: {}\nkeys created: {}\nkeys alive at end of log: {}\n",
            self.segments,
            self.events,
            self.checkpoints_verified,
            self.keys_created,
            self.keys_alive
        );
        out.push_str("destroyed by reason:\n");
        for (reason, n) in &self.destroyed_by_reason {
            out.push_str(&format!("  {reason}: {n}\n"));
        }
        out.push_str(&format!(
            "destruction lag of expired keys: p50 {} p99 {} max {} (grace {grace_ms} ms)\n",
            ms(self.lag_ms_p50),
            ms(self.lag_ms_p99),
            ms(self.lag_ms_max)
        ));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        if self.violations.is_empty() {
            out.push_str("result: OK, no violation\n");
        } else {
            for v in &self.violations {
                out.push_str(&format!("VIOLATION: {v}\n"));
            }
            out.push_str(&format!(
                "result: FAILED, {} violation(s)\n",
                self.violations.len()
            ));
        }
        out
    }
}

/// The key name on the first checkpoint signature found in `dir`.
pub fn key_name_in(dir: &Path) -> Option<String> {
    segments(dir).ok()?.into_iter().find_map(|n| {
        let text = std::fs::read_to_string(checkpoints_path(dir, n)).ok()?;
        let v: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
        let sig = v["note"]
            .as_str()?
            .lines()
            .find(|l| l.starts_with('\u{2014}'))?;
        let rest = sig.strip_prefix("\u{2014} ")?;
        rest.rsplit_once(' ').map(|(name, _)| name.to_owned())
    })
}

struct KeyState {
    expires_at: u64,
    max_opens: u32,
    opens: u32,
    destroyed: bool,
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Verifies the log in `dir` against the audit public key (SPKI PEM) and its key name.
pub fn verify_log(dir: &Path, public_key_pem: &str, key_name: &str, grace_ms: u64) -> Report {
    let mut r = Report::default();
    let list = match segments(dir) {
        Ok(l) => l,
        Err(e) => {
            r.violations
                .push(format!("cannot list {}: {e}", dir.display()));
            return r;
        }
    };
    if list.is_empty() {
        r.violations.push("no segment files".into());
        return r;
    }
    r.segments = list.len();
    let mut expected_seq: Option<u64> = None;
    let mut previous: Option<(u64, Vec<Hash>, u64)> = None; // (segment, leaves, last event time)
    let mut keys: HashMap<String, KeyState> = HashMap::new();
    let mut lags = Vec::new();
    let mut last_time = 0u64;
    for (pos, &n) in list.iter().enumerate() {
        let newest = pos + 1 == list.len();
        let text = match std::fs::read_to_string(segment_path(dir, n)) {
            Ok(t) => t,
            Err(e) => {
                r.violations.push(format!("segment {n}: unreadable: {e}"));
                continue;
            }
        };
        if !text.is_empty() && !text.ends_with('\n') {
            r.violations
                .push(format!("segment {n}: the last line is incomplete"));
        }
        let mut leaves = Vec::new();
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            leaves.push(merkle::leaf_hash(line.as_bytes()));
            match Event::parse_line(line) {
                Some(e) => events.push((i, e)),
                None => r.violations.push(format!(
                    "segment {n} line {}: not a canonical event (altered?)",
                    i + 1
                )),
            }
        }
        r.events += leaves.len() as u64;
        // Sequence continuity.
        for (i, e) in &events {
            if let Some(exp) = expected_seq
                && e.seq != exp
            {
                r.violations.push(format!("segment {n} line {}: sequence {} where {exp} was expected (event inserted, deleted or reordered)", i + 1, e.seq));
            }
            expected_seq = Some(e.seq + 1);
        }
        // Link to the previous segment.
        match events.first().map(|(_, e)| &e.body) {
            Some(EventBody::SegmentStarted {
                segment,
                previous_size,
                previous_root,
            }) => {
                if *segment != n {
                    r.violations
                        .push(format!("segment {n}: starts as segment {segment}"));
                }
                match &previous {
                    Some((pn, pleaves, _)) if *pn + 1 == n => {
                        let root = Base64::encode_string(&merkle::root(pleaves));
                        if *previous_size != pleaves.len() as u64 || previous_root.as_deref() != Some(root.as_str()) {
                            r.violations.push(format!("segment {n}: does not link to segment {pn} as it is now (segment {pn} altered?)"));
                        }
                    }
                    Some((pn, _, _)) => r.violations.push(format!("segment {n}: follows segment {pn} (a segment is missing)")),
                    None if *previous_size > 0 => r.notes.push(format!(
                        "the log starts at segment {n}; earlier segments are not present (retention or archive)"
                    )),
                    None => {}
                }
            }
            _ => r
                .violations
                .push(format!("segment {n}: does not start with segment_started")),
        }
        // Checkpoints: notes and events must match each other and the recomputed tree.
        let mut event_checkpoints: BTreeMap<u64, String> = BTreeMap::new();
        for (i, e) in &events {
            if let EventBody::Checkpoint { size, root } = &e.body {
                if *size != *i as u64 {
                    r.violations.push(format!("segment {n} line {}: checkpoint event for size {size} is not at that position", i + 1));
                }
                event_checkpoints.insert(*size, root.clone());
            }
        }
        let notes = std::fs::read_to_string(checkpoints_path(dir, n)).unwrap_or_default();
        let mut note_sizes = Vec::new();
        for (j, line) in notes.lines().enumerate() {
            let parsed: Option<(u64, String)> = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| Some((v["size"].as_u64()?, v["note"].as_str()?.to_owned())));
            let Some((size, note)) = parsed else {
                r.violations
                    .push(format!("segment {n} checkpoint {}: malformed", j + 1));
                continue;
            };
            let Some(cp) = verify_note(&note, public_key_pem, key_name) else {
                r.violations.push(format!(
                    "segment {n} checkpoint {}: signature does not verify with the given key",
                    j + 1
                ));
                continue;
            };
            if cp.size != size || !cp.origin.ends_with(&format!("/{n}")) {
                r.violations.push(format!(
                    "segment {n} checkpoint {}: size or origin does not match",
                    j + 1
                ));
                continue;
            }
            if cp.size as usize > leaves.len() {
                r.violations.push(format!("segment {n} checkpoint {}: covers {} events but the segment has {} (events deleted?)", j + 1, cp.size, leaves.len()));
                continue;
            }
            if merkle::root(&leaves[..cp.size as usize]) != cp.root {
                r.violations.push(format!("segment {n} checkpoint {} (size {}): root does not match the events (an event was altered, inserted, deleted or reordered)", j + 1, cp.size));
                continue;
            }
            match event_checkpoints.get(&cp.size) {
                Some(root) if *root == Base64::encode_string(&cp.root) => {}
                _ => r.violations.push(format!(
                    "segment {n} checkpoint {} (size {}): no matching checkpoint event",
                    j + 1,
                    cp.size
                )),
            }
            note_sizes.push(cp.size);
            r.checkpoints_verified += 1;
        }
        for size in event_checkpoints.keys() {
            if !note_sizes.contains(size) {
                r.violations.push(format!("segment {n}: checkpoint at size {size} is logged but its signed note is missing (deleted?)"));
            }
        }
        let sealed =
            leaves.len() >= 2 && event_checkpoints.contains_key(&(leaves.len() as u64 - 1));
        if !sealed {
            if newest {
                r.notes.push(format!("segment {n} (the newest) is not sealed yet: events after its last checkpoint are not covered by a signature"));
            } else {
                r.violations.push(format!(
                    "segment {n}: not sealed by a final checkpoint (events removed from its end?)"
                ));
            }
        }
        // Policy.
        // The last event this segment's own process wrote: a segment's final checkpoint may
        // have been signed by the next process (the crash seal), so it is not evidence that the
        // process that wrote the segment was still alive.
        let segment_last_time = events
            .iter()
            .rev()
            .skip(usize::from(sealed))
            .find_map(|(_, e)| parse_time(&e.time))
            .unwrap_or(last_time);
        for (i, e) in &events {
            let Some(t) = parse_time(&e.time) else {
                r.violations
                    .push(format!("segment {n} line {}: bad time", i + 1));
                continue;
            };
            last_time = last_time.max(t);
            match &e.body {
                EventBody::KeyCreated {
                    key_id,
                    expires_at,
                    max_opens,
                    ..
                } => {
                    r.keys_created += 1;
                    let exp = parse_time(expires_at).unwrap_or(0);
                    if keys
                        .insert(
                            key_id.clone(),
                            KeyState {
                                expires_at: exp,
                                max_opens: *max_opens,
                                opens: 0,
                                destroyed: false,
                            },
                        )
                        .is_some()
                    {
                        r.violations
                            .push(format!("seq {}: key {key_id} created twice", e.seq));
                    }
                }
                EventBody::KeyOpened { key_id, .. } => match keys.get_mut(key_id) {
                    Some(k) if k.destroyed => r.violations.push(format!(
                        "seq {}: key {key_id} opened after its destruction",
                        e.seq
                    )),
                    Some(k) => {
                        k.opens += 1;
                        if t > k.expires_at {
                            r.violations.push(format!(
                                "seq {}: key {key_id} opened after its expiry",
                                e.seq
                            ));
                        }
                        if k.opens > k.max_opens {
                            r.violations.push(format!(
                                "seq {}: key {key_id} opened more often than allowed",
                                e.seq
                            ));
                        }
                    }
                    None => r.notes.push(format!(
                        "seq {}: key {key_id} opened but created before this log starts",
                        e.seq
                    )),
                },
                EventBody::OpenFailed { key_id, .. }
                    if keys.get(key_id).is_some_and(|k| k.destroyed) =>
                {
                    r.violations.push(format!(
                        "seq {}: key {key_id} used after its destruction",
                        e.seq
                    ));
                }
                EventBody::KeyDestroyed { key_id, reason, .. } => {
                    *r.destroyed_by_reason.entry(reason.clone()).or_default() += 1;
                    match keys.get_mut(key_id) {
                        Some(k) if k.destroyed => r
                            .violations
                            .push(format!("seq {}: key {key_id} destroyed twice", e.seq)),
                        Some(k) => {
                            k.destroyed = true;
                            // A process_lost key died with its process: at the latest at the
                            // last event that process wrote.
                            let when = if reason == "process_lost" {
                                previous.as_ref().map(|(_, _, last)| *last).unwrap_or(t)
                            } else {
                                t
                            };
                            if when > k.expires_at.saturating_add(grace_ms) {
                                r.violations.push(format!(
                                    "seq {}: key {key_id} destroyed {} ms after its expiry (grace {grace_ms} ms)",
                                    e.seq,
                                    when - k.expires_at
                                ));
                            }
                            if reason == "expired" {
                                lags.push(when.saturating_sub(k.expires_at));
                            }
                        }
                        None => r.notes.push(format!(
                            "seq {}: key {key_id} destroyed but created before this log starts",
                            e.seq
                        )),
                    }
                }
                _ => {}
            }
        }
        previous = Some((n, leaves, segment_last_time));
    }
    for (key_id, k) in &keys {
        if !k.destroyed {
            if last_time > k.expires_at.saturating_add(grace_ms) {
                r.violations.push(format!(
                    "key {key_id}: expired but no destruction is logged"
                ));
            } else {
                r.keys_alive += 1;
            }
        }
    }
    lags.sort_unstable();
    r.lag_ms_p50 = percentile(&lags, 0.50);
    r.lag_ms_p99 = percentile(&lags, 0.99);
    r.lag_ms_max = lags.last().copied();
    r
}
