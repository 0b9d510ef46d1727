//! The writer thread: the only code that appends to the log's files.
//!
//! Why one thread: appends from many requests are queued; the writer takes everything queued,
//! writes the tile hashes and leaf index it derives, then the events, with one `fdatasync` of
//! the event file (group commit), and only then acknowledges. A failed batch is cut back from
//! every file, so no file ever holds a record that was not acknowledged, and derived files
//! never run ahead of the events.

use super::disk::{LogFile, sync_dir, write_atomic};
use super::event::{self, EventBody, Timestamp};
use super::layout::{self, CheckpointRecord, IDX_RECORD, Sealed, SegmentMeta, TILE};
use super::merkle::{Frontier, Hash, leaf_hash};
use super::note::{AuditSigner, Checkpoint, Note, NoteSignature};
use super::store::{Ack, AuditError, AuditOptions, Cmd, SegmentView, Shared, io};
use crate::clock::{Clock, Millis};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Most events written in one batch.
const MAX_BATCH: usize = 8192;
/// How often a failing log is retried.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// How many recent checkpoint records the writer keeps, to merge late cosignatures.
const RECENT_CHECKPOINTS: usize = 32;
/// The deepest tile level (256^8 = 2^64 leaves).
pub(crate) const MAX_LEVEL: u32 = 7;

/// The tile hash files, levels 1 and up.
pub(crate) struct Levels {
    dir: std::path::PathBuf,
    disk: Arc<dyn super::disk::Disk>,
    files: Vec<LogFile>,
}

impl Levels {
    /// Opens the existing level files (creating none yet).
    pub fn open(dir: &std::path::Path, disk: Arc<dyn super::disk::Disk>) -> std::io::Result<Self> {
        let mut files = Vec::new();
        for level in 1..=MAX_LEVEL {
            let path = layout::level_path(dir, level);
            if !path.exists() {
                break;
            }
            files.push(LogFile::open(&path, disk.clone())?);
        }
        Ok(Self {
            dir: dir.to_owned(),
            disk,
            files,
        })
    }

    fn file(&mut self, level: u32) -> std::io::Result<&mut LogFile> {
        while self.files.len() < level as usize {
            let next = self.files.len() as u32 + 1;
            let f =
                LogFile::open_or_create(&layout::level_path(&self.dir, next), self.disk.clone())?;
            self.files.push(f);
        }
        Ok(&mut self.files[level as usize - 1])
    }

    /// Appends records to `level`.
    pub fn append(&mut self, level: u32, bytes: &[u8]) -> std::io::Result<()> {
        self.file(level)?.append(bytes)
    }

    /// Cuts every level to the records a tree of `size` leaves has.
    pub fn truncate_to(&mut self, size: u64) -> std::io::Result<()> {
        for (i, f) in self.files.iter_mut().enumerate() {
            let level = i as u32 + 1;
            let records = tiles_below(size, level);
            let len = records * 32;
            if f.len() != len {
                if f.len() < len {
                    return Err(std::io::Error::other(format!(
                        "{} has {} records where {} were expected",
                        f.path().display(),
                        f.len() / 32,
                        records
                    )));
                }
                f.truncate(len)?;
            }
        }
        Ok(())
    }

    /// Makes every level durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        for f in &mut self.files {
            f.sync()?;
        }
        Ok(())
    }
}

/// Full tiles of `level` in a tree of `size` leaves: floor(size / 256^level).
pub(crate) fn tiles_below(size: u64, level: u32) -> u64 {
    let span = TILE.checked_pow(level).unwrap_or(u64::MAX);
    size / span
}

/// Index records of a segment starting at `first` with leaves up to `size`.
pub(crate) fn idx_records(first: u64, size: u64) -> u64 {
    size.div_ceil(TILE) - first.div_ceil(TILE)
}

/// The segment being written.
pub(crate) struct Current {
    pub meta: SegmentMeta,
    pub file: LogFile,
    pub idx: LogFile,
    pub checkpoints: Option<LogFile>,
    pub sha: Sha256,
    pub last_ms: Millis,
}

impl Current {
    /// Opens a new segment `number` at the tree's `frontier`, durably (metadata first).
    pub fn create(
        opts: &AuditOptions,
        number: u64,
        frontier: &Frontier,
        now: Millis,
        process_start: bool,
    ) -> Result<Self, AuditError> {
        let meta = SegmentMeta::new(number, frontier, now, process_start);
        let text = serde_json::to_string(&meta).map_err(io)?;
        write_atomic(
            &layout::meta_path(&opts.dir, number),
            text.as_bytes(),
            0o644,
            &opts.disk,
        )
        .map_err(io)?;
        let file = LogFile::create(&layout::segment_path(&opts.dir, number), opts.disk.clone())
            .map_err(io)?;
        let idx =
            LogFile::create(&layout::idx_path(&opts.dir, number), opts.disk.clone()).map_err(io)?;
        Ok(Self {
            meta,
            file,
            idx,
            checkpoints: None,
            sha: Sha256::new(),
            last_ms: now,
        })
    }

    fn number(&self) -> u64 {
        self.meta.segment
    }
}

/// Writes a sealed segment's key index (`keys`, sorted here in place: no copy) and completes
/// its metadata.
pub(crate) fn seal_segment(
    opts: &AuditOptions,
    meta: &SegmentMeta,
    count: u64,
    bytes: u64,
    sha256: String,
    last_ms: Millis,
    keys: &mut [layout::KeyRecord],
) -> Result<SegmentMeta, AuditError> {
    keys.sort_unstable();
    write_atomic(
        &layout::keys_path(&opts.dir, meta.segment),
        keys.as_flattened(),
        0o644,
        &opts.disk,
    )
    .map_err(io)?;
    let mut sealed = meta.clone();
    sealed.sealed = Some(Sealed {
        count,
        bytes,
        sha256,
        last_ms,
    });
    let text = serde_json::to_string(&sealed).map_err(io)?;
    write_atomic(
        &layout::meta_path(&opts.dir, meta.segment),
        text.as_bytes(),
        0o644,
        &opts.disk,
    )
    .map_err(io)?;
    Ok(sealed)
}

/// A group of events acknowledged together (or not at all).
struct Group {
    events: Vec<EventBody>,
    ack: Option<Ack>,
}

pub(crate) struct Writer {
    pub opts: AuditOptions,
    pub clock: Arc<dyn Clock>,
    pub signer: AuditSigner,
    /// The previous audit key, which signs the first checkpoint after a rotation.
    pub vouching: Option<AuditSigner>,
    pub shared: Arc<Shared>,
    pub events: broadcast::Sender<String>,
    pub checkpoints: watch::Sender<Option<CheckpointRecord>>,
    pub seg: Current,
    pub levels: Levels,
    pub frontier: Frontier,
    pub last_ms: Millis,
    pub pending: VecDeque<EventBody>,
    pub recent: VecDeque<(u64, CheckpointRecord)>,
    /// A failed batch may have left bytes in the files: cut them before writing again.
    pub derived_dirty: bool,
    /// Length of the event file after the last acknowledged batch.
    pub seg_committed: u64,
}

impl Writer {
    pub fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        loop {
            let retrying = !self.pending.is_empty() || !self.shared.writable.load(Ordering::SeqCst);
            let first = if retrying {
                match rx.recv_timeout(RETRY_EVERY) {
                    Ok(c) => Some(c),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            };
            let mut groups: Vec<Group> = Vec::new();
            let mut checkpoints = Vec::new();
            let mut cosigned = Vec::new();
            let mut flushes = Vec::new();
            let mut close = None;
            let mut queued_events = 0;
            let mut next = first;
            // Group commit: take everything already queued (bounded per batch).
            while let Some(cmd) = next.take() {
                match cmd {
                    Cmd::Append { events, ack } => {
                        queued_events += events.len();
                        groups.push(Group { events, ack });
                    }
                    Cmd::Checkpoint { ack } => checkpoints.push(ack),
                    Cmd::Cosigned { size, signatures } => cosigned.push((size, signatures)),
                    Cmd::Flush { ack } => flushes.push(ack),
                    Cmd::Close { ack } => close = Some(ack),
                }
                if close.is_some() || queued_events >= MAX_BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if !groups.is_empty() || !self.pending.is_empty() {
                self.write_groups(groups);
            } else if !self.shared.writable.load(Ordering::SeqCst) {
                self.probe();
            }
            for (size, sigs) in cosigned {
                self.merge_cosignatures(size, sigs);
            }
            for ack in checkpoints {
                let record = self.checkpoint();
                let _ = ack.send(record);
            }
            for ack in flushes {
                let _ = ack.send(());
            }
            if self.seg.file.len() >= self.opts.segment_max_bytes
                && let Err(e) = self.rotate()
            {
                tracing::error!(error = %e, "cannot rotate the audit segment; continuing in the current one");
            }
            if let Some(ack) = close {
                let result = self.close();
                let _ = ack.send(result);
                return;
            }
        }
    }

    fn fail(&self, e: &AuditError) {
        self.shared.writable.store(false, Ordering::SeqCst);
        *self
            .shared
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    }

    /// Checks whether the disk takes writes again (while nothing is waiting to be written).
    fn probe(&mut self) {
        let ok = self.repair_derived().is_ok() && self.seg.file.sync().is_ok() && {
            let path = self.opts.dir.join(".probe");
            write_atomic(&path, b"probe", 0o600, &self.opts.disk).is_ok()
        };
        if ok {
            self.shared.writable.store(true, Ordering::SeqCst);
        }
    }

    /// Cuts every file back to what the tree has, after a failed batch: nothing that was not
    /// acknowledged may stay in a file that later batches append to.
    fn repair_derived(&mut self) -> Result<(), AuditError> {
        if !self.derived_dirty {
            return Ok(());
        }
        let committed = self.seg_committed;
        self.seg.file.truncate(committed).map_err(io)?;
        self.levels.truncate_to(self.frontier.size()).map_err(io)?;
        let idx_len = idx_records(self.seg.meta.first, self.frontier.size()) * IDX_RECORD;
        if self.seg.idx.len() != idx_len {
            self.seg.idx.truncate(idx_len).map_err(io)?;
        }
        self.derived_dirty = false;
        Ok(())
    }

    /// Writes `events` now, as one durable batch (recovery's first events).
    pub fn write_now(&mut self, events: Vec<EventBody>) -> Result<u64, AuditError> {
        let first = self.write_batch(&[Group { events, ack: None }])?;
        Ok(first.first().copied().unwrap_or(0))
    }

    fn write_groups(&mut self, new: Vec<Group>) {
        let mut groups: Vec<Group> = Vec::new();
        if !self.pending.is_empty() {
            groups.push(Group {
                events: self.pending.drain(..).collect(),
                ack: None,
            });
        }
        groups.extend(new);
        let queued: u64 = groups
            .iter()
            .filter(|g| g.ack.is_none())
            .map(|g| g.events.len() as u64)
            .sum();
        match self.write_batch(&groups) {
            Ok(firsts) => {
                self.shared.writable.store(true, Ordering::SeqCst);
                self.shared.unwritten.fetch_sub(queued, Ordering::SeqCst);
                for (group, first) in groups.into_iter().zip(firsts) {
                    if let Some(ack) = group.ack {
                        let _ = ack.send(Ok(first));
                    }
                }
            }
            Err(e) => {
                self.fail(&e);
                tracing::error!(error = %e, "audit write failed; requests that need their events durable are refused, other events are kept and retried");
                for group in groups {
                    match group.ack {
                        Some(ack) => {
                            let _ = ack.send(Err(e.clone()));
                        }
                        None => self.pending.extend(group.events),
                    }
                }
            }
        }
    }

    /// Writes the groups as one batch: tile hashes and leaf index first, then the events, then
    /// one `fdatasync` of the event file. Returns each group's first sequence number.
    fn write_batch(&mut self, groups: &[Group]) -> Result<Vec<u64>, AuditError> {
        self.repair_derived()?;
        // Time never goes backwards in the log, whatever the system clock does.
        let now = self.clock.now_ms().max(self.last_ms);
        let mut frontier = self.frontier.clone();
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        let mut idx = Vec::new();
        let mut tiles: Vec<Vec<u8>> = vec![Vec::new(); MAX_LEVEL as usize];
        let mut keys = Vec::new();
        let mut firsts = Vec::with_capacity(groups.len());
        let mut offset = self.seg.file.len();
        for group in groups {
            firsts.push(frontier.size());
            for body in &group.events {
                let seq = frontier.size();
                let line = event::line(seq, Timestamp(now), &self.opts.node, body);
                if seq.is_multiple_of(TILE) {
                    idx.extend_from_slice(&offset.to_be_bytes());
                    idx.extend_from_slice(&now.to_be_bytes());
                }
                offset += line.len() as u64 + 1;
                frontier.push_with(leaf_hash(line.as_bytes()), |height, _, hash: &Hash| {
                    if height % 8 == 0 && height / 8 <= MAX_LEVEL {
                        tiles[(height / 8 - 1) as usize].extend_from_slice(hash);
                    }
                });
                if let Some(key_id) = body.key_id() {
                    keys.push(layout::key_record(key_id, seq));
                }
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
                lines.push(line);
            }
        }
        let before = self.seg.file.len();
        let result = (|| -> std::io::Result<()> {
            for (i, t) in tiles.iter().enumerate() {
                if !t.is_empty() {
                    self.levels.append(i as u32 + 1, t)?;
                }
            }
            if !idx.is_empty() {
                self.seg.idx.append(&idx)?;
            }
            self.seg.file.append(&buf)?;
            self.seg.file.sync()
        })();
        if let Err(e) = result {
            // The files may hold part of the batch (written, not durable): cut them back now,
            // or before the next batch if the disk refuses even that.
            debug_assert_eq!(before, self.seg_committed);
            self.derived_dirty = true;
            let _ = self.repair_derived();
            return Err(io(e));
        }
        self.frontier = frontier;
        self.seg_committed = self.seg.file.len();
        self.last_ms = now;
        self.seg.last_ms = now;
        self.seg.sha.update(&buf);
        {
            let mut view = self.shared.write_view();
            view.size = self.frontier.size();
            view.current_keys.extend_from_slice(&keys);
        }
        for line in lines {
            let _ = self.events.send(line);
        }
        Ok(firsts)
    }

    /// Signs a checkpoint of the tree (unless nothing was added since the last one).
    pub fn checkpoint(&mut self) -> Option<CheckpointRecord> {
        let size = self.frontier.size();
        if let Some((_, last)) = self.recent.back()
            && last.size == size
        {
            return self.shared.latest();
        }
        if size == 0 {
            return None;
        }
        match self.sign_checkpoint() {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::error!(error = %e, "cannot store a checkpoint");
                self.fail(&e);
                None
            }
        }
    }

    fn sign_checkpoint(&mut self) -> Result<CheckpointRecord, AuditError> {
        // What a checkpoint refers to is durable before it: tile hashes and the leaf index.
        self.levels.sync().map_err(io)?;
        self.seg.idx.sync().map_err(io)?;
        let checkpoint = Checkpoint {
            origin: self.shared.origin.clone(),
            size: self.frontier.size(),
            root: self.frontier.root(),
        };
        let text = checkpoint.body();
        let mut signatures = vec![self.signer.sign_text(&text)];
        if let Some(old) = &self.vouching {
            signatures.push(old.sign_text(&text));
        }
        let note = Note { text, signatures };
        let record = CheckpointRecord::new(&self.frontier, note.render());
        self.store_record(self.seg.number(), &record)?;
        // The rotation is vouched for once; later checkpoints carry the new key alone.
        self.vouching = None;
        Ok(record)
    }

    /// Appends a checkpoint record to its segment's file and publishes it.
    fn store_record(&mut self, segment: u64, record: &CheckpointRecord) -> Result<(), AuditError> {
        let line = format!("{}\n", record.to_line());
        if segment == self.seg.number() {
            if self.seg.checkpoints.is_none() {
                self.seg.checkpoints = Some(
                    LogFile::open_or_create(
                        &layout::checkpoints_path(&self.opts.dir, segment),
                        self.opts.disk.clone(),
                    )
                    .map_err(io)?,
                );
            }
            if let Some(f) = self.seg.checkpoints.as_mut() {
                f.append(line.as_bytes()).map_err(io)?;
                f.sync().map_err(io)?;
            }
        } else {
            let mut f = LogFile::open_or_create(
                &layout::checkpoints_path(&self.opts.dir, segment),
                self.opts.disk.clone(),
            )
            .map_err(io)?;
            f.append(line.as_bytes()).map_err(io)?;
            f.sync().map_err(io)?;
        }
        // Beside the audit key, outside the log: what the next start must find again.
        let latest_is_this = self
            .recent
            .back()
            .is_none_or(|(_, last)| last.size <= record.size);
        if latest_is_this {
            write_atomic(
                &super::store::latest_checkpoint_path(&self.opts.key_file),
                record.note.as_bytes(),
                0o600,
                &self.opts.disk,
            )
            .map_err(io)?;
            self.shared.set_latest(record.clone());
            let _ = self.checkpoints.send(Some(record.clone()));
        }
        if let Some(pos) = self.recent.iter().position(|(_, r)| r.size == record.size) {
            self.recent[pos] = (segment, record.clone());
        } else {
            self.recent.push_back((segment, record.clone()));
            if self.recent.len() > RECENT_CHECKPOINTS {
                self.recent.pop_front();
            }
        }
        Ok(())
    }

    /// Adds cosignatures to the stored checkpoint of `size` (a new record line with the merged
    /// note; the verifier takes every valid signature of every record of a size).
    fn merge_cosignatures(&mut self, size: u64, signatures: Vec<NoteSignature>) {
        let Some((segment, record)) = self.recent.iter().find(|(_, r)| r.size == size).cloned()
        else {
            return;
        };
        let Ok(mut note) = Note::parse(&record.note) else {
            return;
        };
        let before = note.signatures.len();
        note.merge(signatures);
        if note.signatures.len() == before {
            return;
        }
        let merged = CheckpointRecord {
            note: note.render(),
            ..record
        };
        if let Err(e) = self.store_record(segment, &merged) {
            tracing::error!(error = %e, "cannot store cosignatures");
        }
    }

    /// Seals the current segment and opens the next.
    fn rotate(&mut self) -> Result<(), AuditError> {
        self.checkpoint();
        self.seal_current()?;
        let number = self.seg.number() + 1;
        let now = self.clock.now_ms().max(self.last_ms);
        let seg = Current::create(&self.opts, number, &self.frontier, now, false)?;
        let old = std::mem::replace(&mut self.seg, seg);
        drop(old);
        self.seg_committed = 0;
        let mut view = self.shared.write_view();
        view.segments.push(SegmentView {
            number,
            first: self.frontier.size(),
            opened_ms: now,
            sealed_count: None,
        });
        view.current_keys.clear();
        Ok(())
    }

    fn seal_current(&mut self) -> Result<(), AuditError> {
        self.seg.idx.sync().map_err(io)?;
        self.seg.file.sync().map_err(io)?;
        let count = self.frontier.size() - self.seg.meta.first;
        let sha = hex::encode(self.seg.sha.clone().finalize());
        // The segment's key index is kept once, in the readers' view, as the very records of
        // the key file: sealing sorts it in place and writes it, with no copy (a copy of a
        // 64 MiB segment's index was a 13 MB step in resident memory at every first rotation;
        // readers scan it unordered, and wait for the write lock for one sort and one write).
        let mut view = self.shared.write_view();
        let sealed = seal_segment(
            &self.opts,
            &self.seg.meta,
            count,
            self.seg.file.len(),
            sha,
            self.seg.last_ms,
            &mut view.current_keys,
        );
        drop(view);
        let sealed = sealed?;
        self.seg.meta = sealed;
        let number = self.seg.number();
        let mut view = self.shared.write_view();
        if let Some(s) = view.segments.iter_mut().find(|s| s.number == number) {
            s.sealed_count = Some(count);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), AuditError> {
        let deadline = Instant::now() + self.opts.shutdown_retry;
        while !self.pending.is_empty() {
            self.write_groups(Vec::new());
            if self.pending.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(RETRY_EVERY);
        }
        if !self.pending.is_empty() {
            let n = self.pending.len();
            let kinds = summarize(&self.pending);
            tracing::error!(events = n, unlogged = %kinds, "the audit log could not be written before closing");
            return Err(AuditError::Unlogged(n));
        }
        self.checkpoint();
        self.seal_current()?;
        self.levels.sync().map_err(io)?;
        sync_dir(&self.opts.dir, &self.opts.disk).map_err(io)?;
        Ok(())
    }
}

/// "3 key_destroyed, 1 kek_destroyed" for a log line.
pub(crate) fn summarize<'a>(events: impl IntoIterator<Item = &'a EventBody>) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in events {
        *counts.entry(e.type_name()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
