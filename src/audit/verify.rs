//! Offline verification of a node's log, for auditors (`ok2cry audit verify`).
//!
//! The verifier streams the segments in order, in memory bounded by the tree's frontier
//! (O(log n) hashes), one segment's checkpoint records, and the keys alive at the position
//! being read. It checks:
//!
//! - **Integrity.** Every line is a canonical event; `seq` is the leaf index, continuous across
//!   segments and restarts; time never decreases; every segment starts where the previous
//!   one ended. Every checkpoint record verifies with an audit key you trust (the one you
//!   pinned, or one the log rotated to under a checkpoint signed by a trusted key), and its
//!   root and frontier equal what the events give. A checkpoint that covers more events than
//!   the log holds means events were removed.
//! - **Witnesses.** With witness keys and a quorum, the newest checkpoint must carry a quorum
//!   of valid cosignatures; checkpoints you hold (saved earlier, or fetched from a witness)
//!   must be in the log with the same root: a removed or rewritten suffix fails.
//! - **Destruction policy.** Every created key is destroyed no later than its expiry + grace;
//!   a key lost with its process counts as destroyed at that process's last event, which the
//!   destruction names and the verifier checks; no open after expiry + grace, none by another
//!   principal than the designated opener, no more than allowed; no event for a key that is
//!   not alive; only the process that created a key destroys it (otherwise it is
//!   `process_lost`); KEKs destroyed by their `not_after` + grace; nothing after
//!   `service_stopped` but a new process.
//!
//! `--since` resumes from a state the auditor saved (`--save-state`) at a checkpoint, reading
//! only the events after it.

use super::event::{DestroyReason, Event, EventBody, KekDestroyReason, Lost, key_id_created_ms};
use super::layout::{self, CheckpointRecord, SegmentMeta};
use super::merkle::{Frontier, Hash, leaf_hash};
use super::note::{Note, NoteVerifier};
use super::source::{LocalDir, LogSource};
use crate::clock::{Millis, iso8601};
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

/// The longest a key may live (the service's upper bound on `keys.max_ttl_seconds`).
const MAX_KEY_LIFETIME_MS: Millis = 86_400_000;
/// How long after its id was made a key's creation may be logged.
const CREATION_WINDOW_MS: Millis = 60_000;

/// What to verify against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The audit key(s) you trust (pinned out of band).
    pub log_keys: Vec<NoteVerifier>,
    /// Witness keys.
    pub witnesses: Vec<NoteVerifier>,
    /// Cosignatures required on the newest checkpoint (0: witnesses not required).
    pub quorum: usize,
    /// Time allowed between a key's expiry and its logged destruction.
    pub grace_ms: u64,
    /// Checkpoints the log must contain (saved by you, or a witness's latest).
    pub checkpoints: Vec<String>,
    /// Resume after a point you verified before.
    pub since: Option<Since>,
}

/// Where `--since` resumes.
#[derive(Debug, Clone)]
pub enum Since {
    /// A state saved by `--save-state`: the verification continues exactly.
    State(ResumeState),
    /// A checkpoint (signed note) you kept: the tree is verified from there; keys created
    /// before it are not known, so events about them are reported as notes.
    Checkpoint(String),
}

/// Where to resume: a checkpoint you verified before, and the verifier's state there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeState {
    /// Format version: 1.
    pub version: u8,
    /// The checkpoint (signed note) the state is at.
    pub checkpoint: String,
    /// The tree's frontier at that size (base64).
    pub frontier: Vec<String>,
    /// Keys alive there.
    pub keys: Vec<KeyEntry>,
    /// KEKs alive there.
    pub keks: Vec<KekEntry>,
    /// The process epoch at that point.
    pub epoch: u64,
    /// The last event of each epoch that still has keys or KEKs alive.
    pub epoch_last: Vec<(u64, Lost)>,
    /// Time of the last event (ms).
    pub last_ms: Millis,
    /// Whether the last process had stopped.
    pub stopped: bool,
    /// Audit keys the log rotated to before this point (vkeys).
    pub rotated_keys: Vec<String>,
    /// Totals so far.
    pub totals: Totals,
}

/// A key alive at the resume point.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Key id.
    pub key_id: String,
    /// Its process epoch.
    pub epoch: u64,
    /// Expiry.
    pub expires_at: Millis,
    /// Opens allowed.
    pub max_opens: u32,
    /// Opens so far.
    pub opens: u32,
    /// Designated opener.
    pub opener: String,
}

/// A KEK alive at the resume point.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KekEntry {
    /// KEK id.
    pub kek_id: u64,
    /// Its process epoch.
    pub epoch: u64,
    /// When it must be destroyed.
    pub not_after: Millis,
}

/// Running totals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Events read.
    pub events: u64,
    /// Keys created.
    pub keys_created: u64,
    /// Keys destroyed, by reason.
    pub destroyed_by_reason: BTreeMap<String, u64>,
}

/// The result of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The log's origin (from its checkpoints).
    pub origin: Option<String>,
    /// Segments read.
    pub segments: usize,
    /// The first leaf read (0, or the resume point).
    pub first_leaf: u64,
    /// Tree size at the end.
    pub size: u64,
    /// Checkpoints whose signature, root and frontier verified.
    pub checkpoints_verified: usize,
    /// The newest checkpoint's size.
    pub newest_checkpoint: Option<u64>,
    /// The largest size cosigned by a quorum of the given witnesses.
    pub witnessed_size: Option<u64>,
    /// Totals (events read, keys created, destroyed by reason).
    pub totals: Totals,
    /// Keys still alive at the end of the log (not yet expired).
    pub keys_alive: u64,
    /// Destruction lag of expired keys (ms): p50, p99, max.
    pub lag_ms_p50: Option<u64>,
    /// p99.
    pub lag_ms_p99: Option<u64>,
    /// max.
    pub lag_ms_max: Option<u64>,
    /// Everything wrong, each with where.
    pub violations: Vec<String>,
    /// Remarks that are not violations.
    pub notes: Vec<String>,
    /// The state at the newest checkpoint, for `--save-state`.
    #[serde(skip)]
    pub resume: Option<ResumeState>,
}

impl Report {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// A human-readable summary followed by every violation.
    pub fn render(&self, grace_ms: u64) -> String {
        let ms = |v: Option<u64>| v.map(|v| format!("{v} ms")).unwrap_or_else(|| "-".into());
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        let mut out = format!(
            "log: {}\nsegments: {}\nevents: {} (leaves {}..{})\ncheckpoints verified: {} (newest at size {})\nwitnessed up to size: {}\nkeys created: {}\nkeys alive at end of log: {}\n",
            self.origin.as_deref().unwrap_or("-"),
            self.segments,
            self.totals.events,
            self.first_leaf,
            self.size,
            self.checkpoints_verified,
            opt(self.newest_checkpoint),
            opt(self.witnessed_size),
            self.totals.keys_created,
            self.keys_alive
        );
        out.push_str("destroyed by reason:\n");
        for (reason, n) in &self.totals.destroyed_by_reason {
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

struct KeyState {
    epoch: u64,
    expires_at: Millis,
    max_opens: u32,
    opens: u32,
    opener: String,
}

/// Progress of a long verification.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Leaves read so far.
    pub leaves: u64,
    /// Segments done.
    pub segments: usize,
}

struct Verifier<'a> {
    opts: &'a VerifyOptions,
    r: Report,
    frontier: Frontier,
    trusted: Vec<NoteVerifier>,
    /// Rotations seen but not yet vouched for by a trusted checkpoint: (seq, key).
    rotations: Vec<(u64, NoteVerifier)>,
    keys: HashMap<String, KeyState>,
    /// Recently destroyed ids, to catch a second creation inside the creation window.
    gone: BTreeMap<Millis, Vec<String>>,
    gone_set: HashMap<String, Millis>,
    keks: HashMap<u64, (u64, Millis)>,
    /// KEKs destroyed in this run, kept while lenient only: there an unknown KEK may have been
    /// created before the range, but one destroyed twice within it is still caught (8 bytes a
    /// KEK; KEKs rotate every few minutes).
    keks_gone: HashSet<u64>,
    epoch: u64,
    epoch_last: HashMap<u64, Lost>,
    last_ms: Millis,
    last_seq: Option<u64>,
    stopped: bool,
    lags: Lags,
    /// Sizes whose roots we need (checkpoints you hold), and the roots found.
    held: BTreeMap<u64, Vec<(Hash, String)>>,
    /// The newest checkpoint's size (pre-scanned), to save the state there.
    save_at: Option<u64>,
    newest_cosigs: usize,
    /// The note of the newest checkpoint verified.
    last_note: Option<String>,
    /// Time of the first verified event.
    range_start_ms: Option<Millis>,
    /// Keys created before the verified range are unknown (a log that starts later, or a
    /// resume from a bare checkpoint).
    lenient: bool,
}

/// The destruction lags seen, as a count per distinct lag in milliseconds: exact percentiles
/// in memory bounded by the spread of the lags (a few thousand values), not by the number of
/// keys in the log.
#[derive(Default)]
struct Lags {
    counts: BTreeMap<u64, u64>,
    total: u64,
}

impl Lags {
    fn push(&mut self, lag_ms: u64) {
        *self.counts.entry(lag_ms).or_default() += 1;
        self.total += 1;
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 1), as a sorted list of every lag would give.
    fn percentile(&self, p: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        self.counts.iter().find_map(|(&lag, &n)| {
            seen += n;
            (seen >= rank).then_some(lag)
        })
    }

    fn max(&self) -> Option<u64> {
        self.counts.last_key_value().map(|(&lag, _)| lag)
    }
}

/// Verifies the log in `dir`.
pub fn verify_dir(dir: &Path, opts: &VerifyOptions, progress: impl FnMut(Progress)) -> Report {
    verify_source(&LocalDir::new(dir), opts, progress)
}

/// Verifies the log `src` holds (a directory, an archive, or both).
pub fn verify_source(
    src: &dyn LogSource,
    opts: &VerifyOptions,
    mut progress: impl FnMut(Progress),
) -> Report {
    let mut v = Verifier {
        opts,
        r: Report::default(),
        frontier: Frontier::new(),
        trusted: opts.log_keys.clone(),
        rotations: Vec::new(),
        keys: HashMap::new(),
        gone: BTreeMap::new(),
        gone_set: HashMap::new(),
        keks: HashMap::new(),
        keks_gone: HashSet::new(),
        epoch: 0,
        epoch_last: HashMap::new(),
        last_ms: 0,
        last_seq: None,
        stopped: false,
        lags: Lags::default(),
        held: BTreeMap::new(),
        save_at: None,
        newest_cosigs: 0,
        last_note: None,
        range_start_ms: None,
        lenient: false,
    };
    if let Err(e) = v.run(src, &mut progress) {
        v.r.violations.push(e);
    }
    v.finish()
}

impl Verifier<'_> {
    fn violation(&mut self, msg: String) {
        self.r.violations.push(msg);
    }

    fn run(
        &mut self,
        src: &dyn LogSource,
        progress: &mut impl FnMut(Progress),
    ) -> Result<(), String> {
        if self.opts.log_keys.is_empty() {
            return Err("no audit key to verify against".into());
        }
        match src.format() {
            Ok(t) if t == layout::FORMAT => {}
            Ok(t) => return Err(format!("unknown log format {:?}", t.trim())),
            Err(e) => return Err(e),
        }
        let numbers = src.segment_numbers()?;
        let mut metas = Vec::new();
        for n in numbers {
            match src.meta(n) {
                Some(m) if m.segment == n => metas.push(m),
                _ => self.violation(format!("segment {n}: its metadata is missing or altered")),
            }
        }
        if metas.is_empty() {
            return Err("no segment".into());
        }
        // Checkpoints you hold: verified with your keys now, compared when the tree reaches
        // their size.
        for text in &self.opts.checkpoints {
            match Note::parse(text).and_then(|n| Ok((n.verify(&self.trusted)?, n.checkpoint()?))) {
                Ok((signed, cp)) if signed.iter().any(Option::is_some) => {
                    self.held
                        .entry(cp.size)
                        .or_default()
                        .push((cp.root, cp.origin));
                }
                Ok(_) => self.violation(
                    "a checkpoint you hold is not signed by the audit key you trust".into(),
                ),
                Err(e) => self.violation(format!("a checkpoint you hold does not parse: {e}")),
            }
        }
        // The newest checkpoint overall (to save the state there).
        self.save_at = metas
            .iter()
            .flat_map(|m| src.checkpoints(m.segment))
            .filter_map(Result::ok)
            .map(|r| r.size)
            .max();
        // Where to start.
        let mut start_leaf = 0;
        if let Some(since) = &self.opts.since {
            match since {
                Since::State(state) => self.resume(state)?,
                Since::Checkpoint(text) => self.resume_at_checkpoint(src, &metas, text)?,
            }
            start_leaf = self.frontier.size();
        } else {
            let first = &metas[0];
            if first.first > 0 {
                self.lenient = true;
                self.r.notes.push(format!(
                    "the log starts at leaf {} (segment {}); earlier segments are not present (archived?) and are not verified",
                    first.first, first.segment
                ));
                self.frontier = first.start_frontier().ok_or_else(|| {
                    format!("segment {}: bad frontier in its metadata", first.segment)
                })?;
            }
        }
        self.r.first_leaf = self.frontier.size();
        let start_pos = metas
            .partition_point(|m| m.first <= start_leaf)
            .saturating_sub(1);
        for (pos, meta) in metas.iter().enumerate().skip(start_pos) {
            let newest = pos + 1 == metas.len();
            self.segment(src, meta, newest, start_leaf)?;
            self.r.segments += 1;
            progress(Progress {
                leaves: self.frontier.size(),
                segments: self.r.segments,
            });
        }
        Ok(())
    }

    /// Starts at a bare checkpoint: the frontier comes from the log's own record of that size,
    /// which must give the checkpoint's root.
    fn resume_at_checkpoint(
        &mut self,
        src: &dyn LogSource,
        metas: &[SegmentMeta],
        text: &str,
    ) -> Result<(), String> {
        let note = Note::parse(text).map_err(|e| format!("--since: {e}"))?;
        let signed = note
            .verify(&self.trusted)
            .map_err(|e| format!("--since: {e}"))?;
        if signed.iter().all(Option::is_none) {
            return Err("--since: the checkpoint is not signed by the audit key you trust".into());
        }
        let cp = note.checkpoint().map_err(|e| format!("--since: {e}"))?;
        let frontier = metas
            .iter()
            .rev()
            .flat_map(|m| src.checkpoints(m.segment))
            .filter_map(Result::ok)
            .filter(|r| r.size == cp.size)
            .find_map(|r| r.frontier().filter(|f| f.root() == cp.root));
        let Some(frontier) = frontier else {
            self.violation(format!(
                "the log holds no checkpoint of size {} with the root of the checkpoint you kept: it was rewritten or shortened",
                cp.size
            ));
            return Err("cannot resume".into());
        };
        self.frontier = frontier;
        self.r.origin = Some(cp.origin);
        self.last_seq = cp.size.checked_sub(1);
        self.lenient = true;
        self.r.notes.push(format!(
            "verified from checkpoint {} on: keys created before it are not known to this run",
            cp.size
        ));
        Ok(())
    }

    fn resume(&mut self, s: &ResumeState) -> Result<(), String> {
        let note = Note::parse(&s.checkpoint).map_err(|e| format!("--since: {e}"))?;
        for k in &s.rotated_keys {
            self.trusted
                .push(NoteVerifier::from_vkey(k).map_err(|e| format!("--since: {e}"))?);
        }
        let signed = note
            .verify(&self.trusted)
            .map_err(|e| format!("--since: {e}"))?;
        if signed.iter().all(Option::is_none) {
            return Err("--since: the checkpoint is not signed by the audit key you trust".into());
        }
        let cp = note.checkpoint().map_err(|e| format!("--since: {e}"))?;
        let hashes: Option<Vec<Hash>> = s
            .frontier
            .iter()
            .map(|h| Base64::decode_vec(h).ok()?.try_into().ok())
            .collect();
        let frontier = hashes
            .and_then(|h| Frontier::from_parts(cp.size, h))
            .ok_or("--since: the saved frontier does not fit the checkpoint's size")?;
        if frontier.root() != cp.root {
            return Err("--since: the saved frontier does not give the checkpoint's root".into());
        }
        self.frontier = frontier;
        self.r.origin = Some(cp.origin);
        self.epoch = s.epoch;
        self.last_ms = s.last_ms;
        self.last_seq = cp.size.checked_sub(1);
        self.stopped = s.stopped;
        self.r.totals = s.totals.clone();
        self.r.totals.events = 0;
        for k in &s.keys {
            self.keys.insert(
                k.key_id.clone(),
                KeyState {
                    epoch: k.epoch,
                    expires_at: k.expires_at,
                    max_opens: k.max_opens,
                    opens: k.opens,
                    opener: k.opener.clone(),
                },
            );
        }
        for k in &s.keks {
            self.keks.insert(k.kek_id, (k.epoch, k.not_after));
        }
        self.epoch_last = s.epoch_last.iter().copied().collect();
        Ok(())
    }

    fn segment(
        &mut self,
        src: &dyn LogSource,
        meta: &SegmentMeta,
        newest: bool,
        start_leaf: u64,
    ) -> Result<(), String> {
        let n = meta.segment;
        let resuming_inside = meta.first < start_leaf;
        if !resuming_inside && meta.first != self.frontier.size() {
            self.violation(format!(
                "segment {n} starts at leaf {} but the log before it has {} leaves (a segment is missing or was altered)",
                meta.first,
                self.frontier.size()
            ));
            return Err(format!("cannot continue past segment {n}"));
        }
        let mut records: BTreeMap<u64, Vec<CheckpointRecord>> = BTreeMap::new();
        for r in src.checkpoints(n) {
            match r {
                Ok(r) => records.entry(r.size).or_default().push(r),
                Err(line) => self.violation(format!(
                    "segment {n}: checkpoint record {line} is malformed"
                )),
            }
        }
        let mut reader = match src.events(n) {
            Ok(r) => r,
            Err(e) => {
                self.violation(format!("segment {n}: unreadable: {e}"));
                return Err(format!("cannot continue past segment {n}"));
            }
        };
        let mut leaf = meta.first;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("segment {n}: {e}"))?;
            if read == 0 {
                break;
            }
            if buf.last() != Some(&b'\n') {
                if newest {
                    self.r.notes.push(format!("segment {n} ends with an incomplete line (a write in progress, or a crash the node has not recovered from yet): not verified"));
                } else {
                    self.violation(format!("segment {n}: the last line is incomplete"));
                }
                break;
            }
            buf.pop();
            let this = leaf;
            leaf += 1;
            if this < start_leaf {
                continue;
            }
            self.leaf(n, &buf);
            let size = self.frontier.size();
            if let Some(rs) = records.remove(&size) {
                for r in rs {
                    self.record(n, &r);
                }
            }
            if let Some(held) = self.held.remove(&size) {
                let root = self.frontier.root();
                for (r, origin) in held {
                    if r != root {
                        self.violation(format!("the log's tree at size {size} differs from a checkpoint you hold for {origin}: the log was rewritten"));
                    }
                }
            }
            if self.save_at == Some(size) {
                self.save_state();
            }
        }
        // Records for sizes this segment never reached (the first record of a resumed
        // segment may lie before the resume point: not an error).
        for (size, _) in records {
            if size > self.frontier.size() {
                self.violation(format!(
                    "segment {n} holds a checkpoint of size {size} but the log has only {} leaves: events were removed",
                    self.frontier.size()
                ));
            }
        }
        Ok(())
    }

    fn record(&mut self, segment: u64, record: &CheckpointRecord) {
        let size = record.size;
        let note = match Note::parse(&record.note) {
            Ok(n) => n,
            Err(e) => return self.violation(format!("segment {segment} checkpoint {size}: {e}")),
        };
        let cp = match note.checkpoint() {
            Ok(c) => c,
            Err(e) => return self.violation(format!("segment {segment} checkpoint {size}: {e}")),
        };
        match &self.r.origin {
            Some(o) if *o != cp.origin => {
                let o = o.clone();
                return self.violation(format!(
                    "segment {segment} checkpoint {size}: origin {} where the log is {o}",
                    cp.origin
                ));
            }
            None => self.r.origin = Some(cp.origin.clone()),
            _ => {}
        }
        // Keys the log rotated to are trusted once a trusted key vouches for a checkpoint
        // that covers the rotation.
        let mut keys = self.trusted.clone();
        keys.extend(self.rotations.iter().map(|(_, k)| k.clone()));
        let signed = match note.verify(&keys) {
            Ok(s) => s,
            Err(e) => {
                return self.violation(format!("segment {segment} checkpoint {size}: {e}"));
            }
        };
        let by_trusted = signed[..self.trusted.len()].iter().any(Option::is_some);
        if !by_trusted {
            return self.violation(format!(
                "segment {segment} checkpoint {size}: not signed by an audit key you trust"
            ));
        }
        let vouched: Vec<NoteVerifier> = self
            .rotations
            .iter()
            .filter(|(seq, _)| *seq < size)
            .map(|(_, k)| k.clone())
            .collect();
        self.rotations.retain(|(seq, _)| *seq >= size);
        self.trusted.extend(vouched);
        if cp.size != size || record.frontier().as_ref() != Some(&self.frontier) {
            return self.violation(format!(
                "segment {segment} checkpoint record {size} does not describe the tree at that size"
            ));
        }
        if cp.root != self.frontier.root() {
            return self.violation(format!("segment {segment} checkpoint {size}: its root does not match the events (an event was altered, inserted, deleted or reordered)"));
        }
        self.r.checkpoints_verified += 1;
        if self.save_at == Some(size) {
            self.last_note = Some(record.note.clone());
        }
        let cosigs = match note.verify(&self.opts.witnesses) {
            Ok(s) => s.iter().filter(|s| s.is_some()).count(),
            Err(e) => {
                self.violation(format!("segment {segment} checkpoint {size}: {e}"));
                0
            }
        };
        if self.r.newest_checkpoint.is_none_or(|s| s <= size) {
            if self.r.newest_checkpoint == Some(size) {
                self.newest_cosigs = self.newest_cosigs.max(cosigs);
            } else {
                self.newest_cosigs = cosigs;
            }
            self.r.newest_checkpoint = Some(size);
        }
        if self.opts.quorum > 0 && cosigs >= self.opts.quorum {
            self.r.witnessed_size = Some(self.r.witnessed_size.map_or(size, |w| w.max(size)));
        }
    }

    fn leaf(&mut self, segment: u64, bytes: &[u8]) {
        let seq = self.frontier.size();
        self.frontier.push(leaf_hash(bytes));
        self.r.totals.events += 1;
        let Some(event) = std::str::from_utf8(bytes).ok().and_then(Event::parse_line) else {
            return self.violation(format!(
                "segment {segment} leaf {seq}: not a canonical event (altered?)"
            ));
        };
        if event.seq != seq {
            self.violation(format!("segment {segment} leaf {seq}: sequence {} where {seq} was expected (event inserted, deleted or reordered)", event.seq));
        }
        self.last_seq = Some(seq);
        let t = event.time.0;
        self.range_start_ms.get_or_insert(t);
        if t < self.last_ms {
            self.violation(format!(
                "seq {seq}: time goes back ({} after {})",
                iso8601(t),
                iso8601(self.last_ms)
            ));
        }
        self.last_ms = self.last_ms.max(t);
        self.policy(&event);
        self.epoch_last.insert(
            self.epoch,
            Lost {
                seq,
                time: event.time,
            },
        );
        self.prune_gone(t);
    }

    fn prune_gone(&mut self, now: Millis) {
        let horizon = now.saturating_sub(CREATION_WINDOW_MS + 1_000);
        while let Some((&t, _)) = self.gone.first_key_value() {
            if t >= horizon {
                break;
            }
            if let Some((_, ids)) = self.gone.pop_first() {
                for id in ids {
                    self.gone_set.remove(&id);
                }
            }
        }
    }

    fn unknown_key(&mut self, seq: u64, key_id: &str, what: &str) {
        let created = key_id_created_ms(key_id);
        let start = self.range_start_ms.unwrap_or(0);
        if self.gone_set.contains_key(key_id) {
            self.violation(format!(
                "seq {seq}: key {key_id} {what} after its destruction"
            ));
        } else if self.lenient && created.is_none_or(|c| c < start) {
            self.r.notes.push(format!(
                "seq {seq}: key {key_id} {what}, created before the verified range"
            ));
        } else {
            self.violation(format!(
                "seq {seq}: key {key_id} {what} but is not alive (never created, or already destroyed)"
            ));
        }
    }

    fn policy(&mut self, e: &Event) {
        let seq = e.seq;
        let t = e.time.0;
        let grace = self.opts.grace_ms;
        if self.stopped && !matches!(e.body, EventBody::ProcessStarted { .. }) {
            self.violation(format!(
                "seq {seq}: {} after service_stopped",
                e.body.type_name()
            ));
        }
        match &e.body {
            EventBody::ProcessStarted { .. } => {
                self.epoch += 1;
                self.stopped = false;
            }
            EventBody::ServiceStopped {} => {
                let left = self.keys.values().filter(|k| k.epoch == self.epoch).count();
                let keks = self.keks.values().filter(|k| k.0 == self.epoch).count();
                if left > 0 || keks > 0 {
                    self.violation(format!("seq {seq}: service_stopped with {left} key(s) and {keks} KEK(s) of this process not destroyed"));
                }
                self.stopped = true;
            }
            EventBody::AuditKeyRotated { new_key } => match NoteVerifier::from_vkey(new_key) {
                Ok(k) => self.rotations.push((seq, k)),
                Err(err) => self.violation(format!("seq {seq}: audit_key_rotated: {err}")),
            },
            EventBody::KekCreated {
                kek_id, not_after, ..
            } => {
                if self
                    .keks
                    .insert(*kek_id, (self.epoch, not_after.0))
                    .is_some()
                {
                    self.violation(format!("seq {seq}: KEK {kek_id} created twice"));
                }
            }
            EventBody::KekDestroyed {
                kek_id,
                reason,
                lost,
                ..
            } => match self.keks.remove(kek_id) {
                None if self.lenient && self.keks_gone.insert(*kek_id) => {
                    self.r.notes.push(format!(
                        "seq {seq}: KEK {kek_id} destroyed, created before the verified range"
                    ));
                }
                None => self.violation(format!("seq {seq}: KEK {kek_id} destroyed but not alive")),
                Some((epoch, not_after)) => {
                    if self.lenient {
                        self.keks_gone.insert(*kek_id);
                    }
                    let when = match self.lost_time(
                        seq,
                        epoch,
                        *reason == KekDestroyReason::ProcessLost,
                        lost,
                        &format!("KEK {kek_id}"),
                    ) {
                        Some(w) => w,
                        None => t,
                    };
                    if when > not_after.saturating_add(grace) {
                        self.violation(format!("seq {seq}: KEK {kek_id} destroyed {} ms after its end of life (grace {grace} ms)", when - not_after));
                    }
                }
            },
            EventBody::KeyCreated {
                key_id,
                opener,
                expires_at,
                max_opens,
                ..
            } => {
                self.r.totals.keys_created += 1;
                if let Some(made) = key_id_created_ms(key_id) {
                    if t.saturating_add(1_000) < made || t > made.saturating_add(CREATION_WINDOW_MS)
                    {
                        self.violation(format!("seq {seq}: key {key_id} logged as created at {} but its id was made at {}", iso8601(t), iso8601(made)));
                    }
                    if expires_at.0 > made.saturating_add(MAX_KEY_LIFETIME_MS + CREATION_WINDOW_MS)
                    {
                        self.violation(format!(
                            "seq {seq}: key {key_id} expires beyond the longest TTL"
                        ));
                    }
                }
                if self.keys.contains_key(key_id) || self.gone_set.contains_key(key_id) {
                    self.violation(format!("seq {seq}: key {key_id} created twice"));
                }
                self.keys.insert(
                    key_id.clone(),
                    KeyState {
                        epoch: self.epoch,
                        expires_at: expires_at.0,
                        max_opens: *max_opens,
                        opens: 0,
                        opener: opener.clone(),
                    },
                );
            }
            EventBody::KeyOpened { key_id, opener, .. } => {
                let epoch = self.epoch;
                match self.keys.get_mut(key_id) {
                    None => self.unknown_key(seq, key_id, "opened"),
                    Some(k) => {
                        k.opens += 1;
                        let mut found = Vec::new();
                        if t > k.expires_at.saturating_add(grace) {
                            found.push(format!("seq {seq}: key {key_id} opened {} ms after its expiry (grace {grace} ms)", t - k.expires_at));
                        }
                        if k.opens > k.max_opens {
                            found.push(format!(
                                "seq {seq}: key {key_id} opened more often than allowed"
                            ));
                        }
                        if *opener != k.opener {
                            found.push(format!("seq {seq}: key {key_id} opened by {opener}, not its designated opener"));
                        }
                        if k.epoch != epoch {
                            found.push(format!(
                                "seq {seq}: key {key_id} opened by a process that never held it"
                            ));
                        }
                        for f in found {
                            self.violation(f);
                        }
                    }
                }
            }
            EventBody::OpenFailed { key_id, .. } => {
                if !self.keys.contains_key(key_id) {
                    self.unknown_key(seq, key_id, "used");
                }
            }
            EventBody::KeyDestroyed {
                key_id,
                reason,
                lost,
                ..
            } => {
                *self
                    .r
                    .totals
                    .destroyed_by_reason
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
                match self.keys.remove(key_id) {
                    None => self.unknown_key(seq, key_id, "destroyed"),
                    Some(k) => {
                        let lost_key = *reason == DestroyReason::ProcessLost;
                        let when = self
                            .lost_time(seq, k.epoch, lost_key, lost, &format!("key {key_id}"))
                            .unwrap_or(t);
                        if when > k.expires_at.saturating_add(grace) {
                            self.violation(format!("seq {seq}: key {key_id} destroyed {} ms after its expiry (grace {grace} ms)", when - k.expires_at));
                        }
                        if *reason == DestroyReason::Expired {
                            self.lags.push(when.saturating_sub(k.expires_at));
                        }
                        self.gone.entry(t).or_default().push(key_id.clone());
                        self.gone_set.insert(key_id.clone(), t);
                    }
                }
            }
            EventBody::ServiceStarted { .. } => {}
        }
    }

    /// For a destruction: checks who may destroy it and returns the `process_lost` date.
    fn lost_time(
        &mut self,
        seq: u64,
        epoch: u64,
        is_lost: bool,
        lost: &Option<Lost>,
        what: &str,
    ) -> Option<Millis> {
        if !is_lost {
            if epoch != self.epoch {
                self.violation(format!("seq {seq}: {what} destroyed by a process that never held it (it died with process epoch {epoch})"));
            }
            if lost.is_some() {
                self.violation(format!("seq {seq}: {what}: evidence of a lost process on a destruction that is not process_lost"));
            }
            return None;
        }
        if epoch == self.epoch {
            self.violation(format!(
                "seq {seq}: {what} recorded as lost by the process that holds it"
            ));
        }
        let expected = self.epoch_last.get(&epoch).copied();
        match (lost, expected) {
            (Some(l), Some(x)) if *l == x => Some(l.time.0),
            (Some(l), Some(x)) => {
                self.violation(format!(
                    "seq {seq}: {what} dated by event {} at {} but its process's last event is {} at {}",
                    l.seq,
                    iso8601(l.time.0),
                    x.seq,
                    iso8601(x.time.0)
                ));
                Some(x.time.0)
            }
            (Some(l), None) => {
                // The process ended before the verified range began (resumed without state).
                Some(l.time.0)
            }
            (None, _) => {
                self.violation(format!("seq {seq}: {what} lost without evidence"));
                None
            }
        }
    }

    fn save_state(&mut self) {
        let Some(record_note) = self.last_note.clone() else {
            return;
        };
        let live_epochs: std::collections::BTreeSet<u64> = self
            .keys
            .values()
            .map(|k| k.epoch)
            .chain(self.keks.values().map(|k| k.0))
            .chain([self.epoch])
            .collect();
        self.r.resume = Some(ResumeState {
            version: 1,
            checkpoint: record_note,
            frontier: self
                .frontier
                .hashes()
                .iter()
                .map(|h| Base64::encode_string(h))
                .collect(),
            keys: self
                .keys
                .iter()
                .map(|(id, k)| KeyEntry {
                    key_id: id.clone(),
                    epoch: k.epoch,
                    expires_at: k.expires_at,
                    max_opens: k.max_opens,
                    opens: k.opens,
                    opener: k.opener.clone(),
                })
                .collect(),
            keks: self
                .keks
                .iter()
                .map(|(id, (epoch, not_after))| KekEntry {
                    kek_id: *id,
                    epoch: *epoch,
                    not_after: *not_after,
                })
                .collect(),
            epoch: self.epoch,
            epoch_last: self
                .epoch_last
                .iter()
                .filter(|(e, _)| live_epochs.contains(e))
                .map(|(e, l)| (*e, *l))
                .collect(),
            last_ms: self.last_ms,
            stopped: self.stopped,
            rotated_keys: self
                .trusted
                .iter()
                .skip(self.opts.log_keys.len())
                .map(NoteVerifier::vkey)
                .collect(),
            totals: self.r.totals.clone(),
        });
    }

    fn finish(mut self) -> Report {
        let grace = self.opts.grace_ms;
        self.r.size = self.frontier.size();
        for (key_id, k) in &self.keys {
            if self.last_ms > k.expires_at.saturating_add(grace) {
                self.r.violations.push(format!(
                    "key {key_id}: expired but no destruction is logged"
                ));
            } else {
                self.r.keys_alive += 1;
            }
        }
        for (kek_id, (_, not_after)) in &self.keks {
            if self.last_ms > not_after.saturating_add(grace) {
                self.r.violations.push(format!(
                    "KEK {kek_id}: past its end of life but no destruction is logged"
                ));
            }
        }
        for (size, held) in &self.held {
            for (_, origin) in held {
                self.r.violations.push(format!(
                    "the log has {} leaves but a checkpoint you hold for {origin} has {size}: events were removed from its end (truncated or rolled back)",
                    self.r.size
                ));
            }
        }
        match self.r.newest_checkpoint {
            None => self.r.violations.push("no checkpoint verified: nothing in the log is signed".into()),
            Some(n) if n < self.r.size => self.r.notes.push(format!(
                "{} event(s) after the newest checkpoint (size {n}) are not covered by a signature yet",
                self.r.size - n
            )),
            _ => {}
        }
        if self.opts.quorum > 0
            && let Some(n) = self.r.newest_checkpoint
            && self.newest_cosigs < self.opts.quorum
        {
            {
                self.r.violations.push(format!(
                    "the newest checkpoint (size {n}) carries {} of the {} witness cosignatures required: a removed or rewritten suffix could not be told",
                    self.newest_cosigs, self.opts.quorum
                ));
            }
        }
        self.r.lag_ms_p50 = self.lags.percentile(0.50);
        self.r.lag_ms_p99 = self.lags.percentile(0.99);
        self.r.lag_ms_max = self.lags.max();
        self.r
    }
}

/// Reads `--since`: a state saved by `--save-state` (JSON) or a checkpoint note.
pub fn read_since(text: &str) -> Result<Since, String> {
    if text.trim_start().starts_with('{') {
        let s: ResumeState =
            serde_json::from_str(text).map_err(|e| format!("not a saved verifier state: {e}"))?;
        if s.version != 1 {
            return Err("unsupported state version".into());
        }
        return Ok(Since::State(s));
    }
    Note::parse(text).map_err(|e| format!("not a checkpoint: {e}"))?;
    Ok(Since::Checkpoint(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::Lags;
    use proptest::prelude::*;

    /// The nearest-rank percentile of a sorted list: what `Lags` must give.
    fn sorted_percentile(sorted: &[u64], p: f64) -> Option<u64> {
        if sorted.is_empty() {
            return None;
        }
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        Some(sorted[rank - 1])
    }

    proptest! {
        #[test]
        fn lag_percentiles_are_those_of_the_sorted_list(
            lags in proptest::collection::vec(0u64..5_000, 0..400),
        ) {
            let mut counted = Lags::default();
            for &l in &lags {
                counted.push(l);
            }
            let mut sorted = lags.clone();
            sorted.sort_unstable();
            for p in [0.01, 0.5, 0.9, 0.99, 1.0] {
                prop_assert_eq!(counted.percentile(p), sorted_percentile(&sorted, p));
            }
            prop_assert_eq!(counted.max(), sorted.last().copied());
        }
    }
}
