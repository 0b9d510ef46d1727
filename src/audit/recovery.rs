//! Opening a log: load the audit key, re-read and check what is on disk, repair a torn tail,
//! refuse a log that was altered or shortened, close out a dead process, start a new segment.
//!
//! In order:
//! 1. The audit key lives outside the log directory. A missing key with existing segments is
//!    an error (never silently replaced); a new log gets a new key (0600).
//! 2. Segments are re-read (all local ones, or the last two days with `verify_on_start =
//!    "recent"`): every line canonical, sequence numbers continuous, every stored checkpoint's
//!    signature verified and its root recomputed from the events; the tile hashes, leaf index
//!    and key index rebuilt where they are short or differ. A mismatch refuses to start.
//! 3. The latest checkpoint kept beside the key must still be in the log: a shorter log or
//!    another root is a rollback, refused.
//! 4. A torn last line (a write that never completed, so never acknowledged) is cut.
//! 5. Every key and KEK of a process that died is logged destroyed, reason `process_lost`,
//!    dated (`lost`) by that process's own last durable event: its RAM is gone.
//! 6. A new segment begins with `process_started`; the first checkpoint is signed at once.

use super::disk::{LogFile, write_atomic};
use super::event::{DestroyReason, Event, EventBody, KekDestroyReason, Lost, Timestamp};
use super::layout::{self, CheckpointRecord, FORMAT, IDX_RECORD, SegmentMeta, TILE};
use super::merkle::{Frontier, leaf_hash};
use super::note::{AuditSigner, Note, NoteVerifier};
use super::store::{
    AuditError, AuditLog, AuditOptions, Inner, Recovery, SegmentView, Shared, VerifyOnStart, View,
    io, key_history_path, latest_checkpoint_path,
};
use super::writer::{Current, Levels, MAX_LEVEL, Writer, seal_segment};
use crate::clock::{Clock, Millis};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use tokio::sync::{broadcast, watch};

/// The longest anything a process holds can live: a key (at most one day) or a KEK (its
/// rotation period plus the longest key TTL, each at most one day).
const LIVE_WINDOW_MS: Millis = 2 * 86_400_000 + 60_000;

fn corrupt<T>(msg: impl Into<String>) -> Result<T, AuditError> {
    Err(AuditError::Corrupt(msg.into()))
}

/// Loads the audit key (and the previous one, when rotating); creates it for a new log.
fn load_keys(
    opts: &AuditOptions,
    log_exists: bool,
) -> Result<(AuditSigner, Option<AuditSigner>), AuditError> {
    let dir = std::fs::canonicalize(&opts.dir).map_err(io)?;
    let key_dir = opts
        .key_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(key_dir).map_err(io)?;
    let key_dir = std::fs::canonicalize(key_dir).map_err(io)?;
    if key_dir.starts_with(&dir) {
        return Err(AuditError::Key(format!(
            "the audit key {} must live outside the log directory {}: whoever can rewrite the log must not also hold the key that vouches for it",
            opts.key_file.display(),
            opts.dir.display()
        )));
    }
    let load = |path: &Path| -> Result<AuditSigner, AuditError> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| AuditError::Key(format!("cannot read {}: {e}", path.display())))?;
        AuditSigner::from_pkcs8_pem(&pem, &opts.origin)
            .ok_or_else(|| AuditError::Key(format!("{} is not a P-256 PKCS#8 key", path.display())))
    };
    let signer = if opts.key_file.exists() {
        load(&opts.key_file)?
    } else if log_exists {
        return Err(AuditError::Key(format!(
            "{} is missing but the log in {} has segments: restore the key that signed them (a new key would leave the log unverifiable); to change keys, see audit.previous_key_file",
            opts.key_file.display(),
            opts.dir.display()
        )));
    } else {
        let signer = AuditSigner::generate(&opts.origin);
        let pem = signer
            .to_pkcs8_pem()
            .ok_or_else(|| AuditError::Key("cannot encode the new audit key".into()))?;
        write_atomic(&opts.key_file, pem.as_bytes(), 0o600, &opts.disk).map_err(io)?;
        let public = opts.key_file.with_extension("pub.pem");
        write_atomic(
            &public,
            signer.public_key_pem().as_bytes(),
            0o644,
            &opts.disk,
        )
        .map_err(io)?;
        tracing::info!(key = %opts.key_file.display(), "created a new audit key for a new log");
        signer
    };
    let previous = match &opts.previous_key_file {
        Some(p) => Some(load(p)?),
        None => None,
    };
    Ok((signer, previous))
}

/// What the replay of the log found.
struct Replay {
    frontier: Frontier,
    last_ms: Millis,
    segments: Vec<SegmentView>,
    /// The newest segment, to seal (when it is not sealed yet).
    newest: Option<NewestSegment>,
    /// Keys alive at the end: key id → (epoch, expiry).
    live_keys: BTreeMap<String, (u64, Timestamp)>,
    /// KEKs alive at the end: KEK id (unique across processes) → epoch.
    live_keks: BTreeMap<u64, u64>,
    /// Last event of each epoch.
    epoch_last: HashMap<u64, Lost>,
    /// The newest checkpoint record seen.
    newest_checkpoint: Option<CheckpointRecord>,
    /// Roots at sizes of interest (the kept latest checkpoint).
    root_at_mark: Option<[u8; 32]>,
    /// Keys the log introduced by rotation.
    rotated_keys: Vec<NoteVerifier>,
    /// Recent checkpoint records (segment, record).
    recent: VecDeque<(u64, CheckpointRecord)>,
}

struct NewestSegment {
    meta: SegmentMeta,
    count: u64,
    bytes: u64,
    sha256: String,
    last_ms: Millis,
    keys: Vec<layout::KeyRecord>,
}

/// The time of the last complete line of a segment file (for choosing where to start).
fn last_event_ms(path: &Path) -> Option<Millis> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(64 * 1024);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.split('\n')
        .rev()
        .filter_map(Event::parse_line)
        .map(|e| e.time.0)
        .next()
}

fn replay(
    opts: &AuditOptions,
    numbers: &[u64],
    levels: &mut Levels,
    trusted: &[NoteVerifier],
    mark: Option<u64>,
    rec: &mut Recovery,
) -> Result<Replay, AuditError> {
    let dir = &opts.dir;
    let mut metas = Vec::new();
    for &n in numbers {
        let meta = SegmentMeta::read(dir, n).ok_or_else(|| {
            AuditError::Corrupt(format!(
                "segment {n} has no readable {}",
                layout::meta_path(dir, n).display()
            ))
        })?;
        if meta.segment != n {
            return corrupt(format!(
                "segment {n}: its metadata names segment {}",
                meta.segment
            ));
        }
        metas.push(meta);
    }
    let newest_number = numbers.last().copied().unwrap_or(0);
    let local: Vec<usize> = (0..metas.len())
        .filter(|&i| {
            layout::segment_path(dir, metas[i].segment).exists()
                || metas[i].segment == newest_number
        })
        .collect();
    let Some(&oldest_local) = local.first() else {
        return corrupt("no segment file is present");
    };
    for w in local.windows(2) {
        if w[1] != w[0] + 1 {
            return corrupt(format!(
                "segment {} is missing between {} and {}",
                metas[w[0] + 1].segment,
                metas[w[0]].segment,
                metas[w[1]].segment
            ));
        }
    }
    let mut start = oldest_local;
    if opts.verify_on_start == VerifyOnStart::Recent {
        let newest_ms = last_event_ms(&layout::segment_path(dir, newest_number))
            .unwrap_or(metas[metas.len() - 1].opened_ms);
        let cutoff = newest_ms.saturating_sub(LIVE_WINDOW_MS);
        let pos = metas.partition_point(|m| m.opened_ms <= cutoff);
        start = start.max(pos.saturating_sub(1));
    }
    let mut frontier = metas[start].start_frontier().ok_or_else(|| {
        AuditError::Corrupt(format!(
            "segment {}: bad frontier in its metadata",
            metas[start].segment
        ))
    })?;
    // Tile hashes for everything before the replay start are kept; the rest is regenerated.
    levels.truncate_to(frontier.size()).map_err(|e| {
        AuditError::Corrupt(format!(
            "tile hashes: {e} (they are rebuilt from the events only for segments still on disk)"
        ))
    })?;
    let mut out = Replay {
        frontier: Frontier::new(),
        last_ms: 0,
        segments: Vec::new(),
        newest: None,
        live_keys: BTreeMap::new(),
        live_keks: BTreeMap::new(),
        epoch_last: HashMap::new(),
        newest_checkpoint: None,
        root_at_mark: None,
        rotated_keys: Vec::new(),
        recent: VecDeque::new(),
    };
    for meta in &metas[..start] {
        out.segments.push(SegmentView {
            number: meta.segment,
            first: meta.first,
            opened_ms: meta.opened_ms,
            sealed_count: meta.sealed.as_ref().map(|s| s.count),
        });
    }
    if mark == Some(frontier.size()) {
        out.root_at_mark = Some(frontier.root());
    }
    let mut epoch = 0u64;
    let mut tiles: Vec<Vec<u8>> = vec![Vec::new(); MAX_LEVEL as usize];
    for (pos, meta) in metas.iter().enumerate().skip(start) {
        let n = meta.segment;
        let is_newest = pos + 1 == metas.len();
        if meta.first != frontier.size() {
            return corrupt(format!(
                "segment {n} starts at leaf {} but the log before it has {} leaves",
                meta.first,
                frontier.size()
            ));
        }
        if let Some(expected) = meta.start_frontier()
            && expected != frontier
        {
            return corrupt(format!(
                "segment {n}: the tree's frontier in its metadata differs from the events before it"
            ));
        }
        let mut records: BTreeMap<u64, Vec<CheckpointRecord>> = BTreeMap::new();
        for r in CheckpointRecord::read_all(&layout::checkpoints_path(dir, n)) {
            match r {
                Ok(r) => records.entry(r.size).or_default().push(r),
                Err(line) => {
                    return corrupt(format!(
                        "segment {n}: checkpoint record {line} is malformed"
                    ));
                }
            }
        }
        let path = layout::segment_path(dir, n);
        if !path.exists() {
            // Only the newest can lack its file: the process died between writing the
            // metadata and creating the file.
            std::fs::File::create(&path).map_err(io)?;
        }
        let mut bytes = std::fs::read(&path).map_err(io)?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            if !is_newest {
                return corrupt(format!("segment {n}: the last line is incomplete"));
            }
            // A torn record: the process died mid-write, before the fsync that would have
            // acknowledged it, so nothing acknowledged is lost by cutting it.
            rec.repaired_bytes += (bytes.len() - complete) as u64;
            bytes.truncate(complete);
            let mut f = LogFile::open(&path, opts.disk.clone()).map_err(io)?;
            f.truncate(complete as u64).map_err(io)?;
        }
        let mut sha = Sha256::new();
        sha.update(&bytes);
        let mut idx = Vec::new();
        let mut keys = Vec::new();
        let mut offset = 0u64;
        let mut last_ms = meta.opened_ms;
        let mut reader = BufReader::new(&bytes[..]);
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(io)?;
            if read == 0 {
                break;
            }
            let text = line.strip_suffix('\n').unwrap_or(&line);
            let seq = frontier.size();
            let event = Event::parse_line(text).ok_or_else(|| {
                AuditError::Corrupt(format!(
                    "segment {n}: leaf {seq} is not a canonical event (altered?)"
                ))
            })?;
            if event.seq != seq {
                return corrupt(format!(
                    "segment {n}: sequence {} where {seq} was expected (events inserted, deleted or reordered)",
                    event.seq
                ));
            }
            if seq.is_multiple_of(TILE) {
                idx.extend_from_slice(&offset.to_be_bytes());
                idx.extend_from_slice(&event.time.0.to_be_bytes());
            }
            offset += read as u64;
            frontier.push_with(leaf_hash(text.as_bytes()), |height, _, hash| {
                if height % 8 == 0 && height / 8 <= MAX_LEVEL {
                    tiles[(height / 8 - 1) as usize].extend_from_slice(hash);
                }
            });
            rec.events_checked += 1;
            if let Some(k) = event.body.key_id() {
                keys.push(layout::key_record(k, seq));
            }
            last_ms = event.time.0;
            out.last_ms = out.last_ms.max(event.time.0);
            follow(&event, &mut epoch, &mut out)?;
            if let Some(rs) = records.remove(&frontier.size()) {
                for r in rs {
                    check_record(n, &r, &frontier, trusted, &out.rotated_keys)?;
                    rec.checkpoints_checked += 1;
                    out.recent.push_back((n, r.clone()));
                    if out.recent.len() > 32 {
                        out.recent.pop_front();
                    }
                    if out
                        .newest_checkpoint
                        .as_ref()
                        .is_none_or(|c| c.size <= r.size)
                    {
                        out.newest_checkpoint = Some(r);
                    }
                }
            }
            if mark == Some(frontier.size()) {
                out.root_at_mark = Some(frontier.root());
            }
            if tiles.iter().map(Vec::len).sum::<usize>() >= 1 << 20 {
                flush_tiles(levels, &mut tiles)?;
            }
        }
        flush_tiles(levels, &mut tiles)?;
        if let Some((&size, _)) = records.iter().next() {
            return Err(AuditError::Rollback(format!(
                "segment {n} holds a checkpoint of size {size} but the log has {} leaves there: events were removed",
                frontier.size()
            )));
        }
        let count = frontier.size() - meta.first;
        let sha256 = hex::encode(sha.finalize());
        if let Some(sealed) = &meta.sealed
            && (sealed.count != count || sealed.sha256 != sha256)
        {
            return corrupt(format!(
                "segment {n}: its events differ from what was sealed ({} leaves, SHA-256 {}), now {count} leaves, SHA-256 {sha256}",
                sealed.count, sealed.sha256
            ));
        }
        // Derived files: rewrite when they differ from what the events say.
        let idx_path = layout::idx_path(dir, n);
        if std::fs::read(&idx_path).ok().as_deref() != Some(&idx[..]) {
            write_atomic(&idx_path, &idx, 0o644, &opts.disk).map_err(io)?;
        }
        debug_assert_eq!(idx.len() as u64 % IDX_RECORD, 0);
        if meta.sealed.is_some() {
            keys.sort_unstable();
            let buf = keys.as_flattened();
            let keys_path = layout::keys_path(dir, n);
            if std::fs::read(&keys_path).ok().as_deref() != Some(buf) {
                write_atomic(&keys_path, buf, 0o644, &opts.disk).map_err(io)?;
            }
        }
        out.segments.push(SegmentView {
            number: n,
            first: meta.first,
            opened_ms: meta.opened_ms,
            sealed_count: Some(count),
        });
        if is_newest && meta.sealed.is_none() {
            out.newest = Some(NewestSegment {
                meta: meta.clone(),
                count,
                bytes: bytes.len() as u64,
                sha256,
                last_ms,
                keys,
            });
        }
    }
    out.frontier = frontier;
    Ok(out)
}

fn flush_tiles(levels: &mut Levels, tiles: &mut [Vec<u8>]) -> Result<(), AuditError> {
    for (i, t) in tiles.iter_mut().enumerate() {
        if !t.is_empty() {
            levels.append(i as u32 + 1, t).map_err(io)?;
            t.clear();
        }
    }
    Ok(())
}

/// Verifies a checkpoint record against the replayed tree.
fn check_record(
    segment: u64,
    record: &CheckpointRecord,
    frontier: &Frontier,
    trusted: &[NoteVerifier],
    rotated: &[NoteVerifier],
) -> Result<(), AuditError> {
    let size = record.size;
    let note = Note::parse(&record.note)
        .map_err(|e| AuditError::Corrupt(format!("segment {segment}: checkpoint {size}: {e}")))?;
    let checkpoint = note
        .checkpoint()
        .map_err(|e| AuditError::Corrupt(format!("segment {segment}: checkpoint {size}: {e}")))?;
    let keys: Vec<NoteVerifier> = trusted.iter().chain(rotated).cloned().collect();
    let signed = note
        .verify(&keys)
        .map_err(|e| AuditError::Corrupt(format!("segment {segment}: checkpoint {size}: {e}")))?;
    if signed.iter().all(Option::is_none) {
        return Err(AuditError::Key(format!(
            "segment {segment}: checkpoint {size} is not signed by the configured audit key (nor a previous key the log names)"
        )));
    }
    if checkpoint.size != size || record.frontier().as_ref() != Some(frontier) {
        return corrupt(format!(
            "segment {segment}: checkpoint record {size} does not describe the tree at that size"
        ));
    }
    if checkpoint.root != frontier.root() {
        return corrupt(format!(
            "segment {segment}: checkpoint {size}: its root does not match the events (an event was altered, inserted, deleted or reordered)"
        ));
    }
    Ok(())
}

/// Follows keys, KEKs and process epochs through the events.
fn follow(event: &Event, epoch: &mut u64, out: &mut Replay) -> Result<(), AuditError> {
    match &event.body {
        EventBody::ProcessStarted { .. } => *epoch += 1,
        EventBody::KeyCreated {
            key_id, expires_at, ..
        } => {
            out.live_keys.insert(key_id.clone(), (*epoch, *expires_at));
        }
        EventBody::KeyDestroyed { key_id, .. } => {
            out.live_keys.remove(key_id);
        }
        EventBody::KekCreated { kek_id, .. } => {
            out.live_keks.insert(*kek_id, *epoch);
        }
        EventBody::KekDestroyed { kek_id, .. } => {
            out.live_keks.remove(kek_id);
        }
        EventBody::AuditKeyRotated { new_key } => {
            let key = NoteVerifier::from_vkey(new_key).map_err(|e| {
                AuditError::Corrupt(format!("seq {}: audit_key_rotated: {e}", event.seq))
            })?;
            out.rotated_keys.push(key);
        }
        _ => {}
    }
    out.epoch_last.insert(
        *epoch,
        Lost {
            seq: event.seq,
            time: event.time,
        },
    );
    Ok(())
}

/// Opens (or creates) the log and starts its writer.
pub fn open(opts: AuditOptions, clock: Arc<dyn Clock>) -> Result<(AuditLog, Recovery), AuditError> {
    std::fs::create_dir_all(&opts.dir).map_err(io)?;
    if super::v1::is_v1(&opts.dir) {
        return Err(AuditError::Corrupt(format!(
            "{} holds a log of format 1 (one tree per segment); this version writes format 2. Verify and archive it with `ok2cry audit verify --dir {}` (format 1 still verifies), then start with an empty audit.dir",
            opts.dir.display(),
            opts.dir.display()
        )));
    }
    let numbers = layout::segment_numbers(&opts.dir).map_err(io)?;
    let log_exists = !numbers.is_empty();
    let (signer, previous) = load_keys(&opts, log_exists)?;
    let current_key = signer
        .verifier()
        .ok_or_else(|| AuditError::Key("cannot derive the audit key's verifier".into()))?;
    let mut trusted = vec![current_key.clone()];
    if let Some(p) = previous.as_ref().and_then(AuditSigner::verifier) {
        trusted.push(p);
    }
    // Keys this node rotated away from signed the older checkpoints.
    let history_path = key_history_path(&opts.key_file);
    let mut history: Vec<String> = match std::fs::read_to_string(&history_path) {
        Ok(text) => text
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect(),
        Err(_) => Vec::new(),
    };
    for line in &history {
        trusted.push(
            NoteVerifier::from_vkey(line)
                .map_err(|e| AuditError::Key(format!("{}: {e}", history_path.display())))?,
        );
    }
    let format_path = layout::format_path(&opts.dir);
    if log_exists {
        match std::fs::read_to_string(&format_path) {
            Ok(t) if t == FORMAT => {}
            Ok(t) => return corrupt(format!("unknown log format {:?}", t.trim())),
            Err(_) => return corrupt("the FORMAT file is missing"),
        }
    } else {
        write_atomic(&format_path, FORMAT.as_bytes(), 0o644, &opts.disk).map_err(io)?;
    }
    // The latest checkpoint this node published, kept beside its key.
    let mark_path = latest_checkpoint_path(&opts.key_file);
    let mark = match std::fs::read_to_string(&mark_path) {
        Ok(text) => {
            let note = Note::parse(&text)
                .map_err(|e| AuditError::Corrupt(format!("{}: {e}", mark_path.display())))?;
            let cp = note
                .checkpoint()
                .map_err(|e| AuditError::Corrupt(format!("{}: {e}", mark_path.display())))?;
            Some(cp)
        }
        Err(_) => None,
    };
    let mut rec = Recovery {
        segments: numbers.len(),
        ..Recovery::default()
    };
    let mut levels = Levels::open(&opts.dir, opts.disk.clone()).map_err(io)?;
    let replayed = if log_exists {
        Some(replay(
            &opts,
            &numbers,
            &mut levels,
            &trusted,
            mark.as_ref().map(|c| c.size),
            &mut rec,
        )?)
    } else {
        if mark.is_some() {
            return Err(AuditError::Rollback(format!(
                "{} records a published checkpoint, but {} holds no log: the log was removed",
                mark_path.display(),
                opts.dir.display()
            )));
        }
        None
    };
    let now = clock.now_ms();
    let mut frontier = Frontier::new();
    let mut last_ms = 0;
    let mut segments = Vec::new();
    let mut recent = VecDeque::new();
    let mut lost_events = Vec::new();
    let mut vouching = None;
    let mut rotation_event = None;
    if let Some(r) = replayed {
        frontier = r.frontier.clone();
        last_ms = r.last_ms;
        rec.size = frontier.size();
        if let Some(cp) = &mark {
            if cp.size > frontier.size() {
                return Err(AuditError::Rollback(format!(
                    "the log has {} events but checkpoint {} was published for it (kept in {}): events were removed from its end",
                    frontier.size(),
                    cp.size,
                    mark_path.display()
                )));
            }
            if let Some(root) = r.root_at_mark
                && root != cp.root
            {
                return Err(AuditError::Rollback(format!(
                    "the log's tree at size {} differs from the checkpoint published for it (kept in {}): the log was rewritten",
                    cp.size,
                    mark_path.display()
                )));
            }
        }
        // Which key signed the newest checkpoint decides whether this start rotates.
        if let Some(newest) = &r.newest_checkpoint {
            let note = Note::parse(&newest.note).map_err(|e| AuditError::Corrupt(e.to_string()))?;
            let mut keys = vec![current_key.clone()];
            keys.extend(r.rotated_keys.iter().cloned());
            let by_current = note
                .verify(&keys)
                .map(|s| s.iter().any(Option::is_some))
                .unwrap_or(false);
            if !by_current {
                let by_previous = previous
                    .as_ref()
                    .and_then(AuditSigner::verifier)
                    .map(|p| note.verify(&[p]).map(|s| s[0].is_some()).unwrap_or(false))
                    .unwrap_or(false);
                if !by_previous {
                    return Err(AuditError::Key(format!(
                        "{} did not sign this log's latest checkpoint (size {}): configure the key that did, or rotate with audit.previous_key_file",
                        opts.key_file.display(),
                        newest.size
                    )));
                }
                rotation_event = Some(EventBody::AuditKeyRotated {
                    new_key: current_key.vkey(),
                });
                if let Some(old) = previous.as_ref().and_then(AuditSigner::verifier) {
                    history.push(old.vkey());
                    let mut text = history.join("\n");
                    text.push('\n');
                    write_atomic(&history_path, text.as_bytes(), 0o644, &opts.disk).map_err(io)?;
                }
                vouching = previous;
                rec.key_rotated = true;
            }
        }
        if let Some(mut newest) = r.newest {
            seal_segment(
                &opts,
                &newest.meta,
                newest.count,
                newest.bytes,
                newest.sha256,
                newest.last_ms,
                &mut newest.keys,
            )?;
        }
        segments = r.segments;
        recent = r.recent;
        // Everything a dead process held died with it, at the latest at its last event.
        let evidence = |epoch: &u64| {
            r.epoch_last.get(epoch).copied().unwrap_or(Lost {
                seq: frontier.size().saturating_sub(1),
                time: Timestamp(last_ms),
            })
        };
        for (key_id, (epoch, expires_at)) in &r.live_keys {
            lost_events.push(EventBody::KeyDestroyed {
                key_id: key_id.clone(),
                reason: DestroyReason::ProcessLost,
                expires_at: *expires_at,
                lost: Some(evidence(epoch)),
            });
            rec.process_lost.push(key_id.clone());
        }
        for (kek_id, epoch) in &r.live_keks {
            lost_events.push(EventBody::KekDestroyed {
                kek_id: *kek_id,
                keys_wrapped: 0,
                reason: KekDestroyReason::ProcessLost,
                lost: Some(evidence(epoch)),
            });
            rec.keks_lost += 1;
        }
    }
    levels.sync().map_err(io)?;
    let next = numbers.last().map_or(1, |n| n + 1);
    let start_ms = now.max(last_ms);
    let seg = Current::create(&opts, next, &frontier, start_ms, true)?;
    segments.push(SegmentView {
        number: next,
        first: frontier.size(),
        opened_ms: start_ms,
        sealed_count: None,
    });
    let shared = Arc::new(Shared {
        dir: opts.dir.clone(),
        origin: opts.origin.clone(),
        view: RwLock::new(View {
            size: frontier.size(),
            segments,
            current_keys: Vec::new(),
        }),
        latest: RwLock::new(recent.back().map(|(_, r)| r.clone())),
        writable: AtomicBool::new(true),
        last_error: Mutex::new(None),
        unwritten: AtomicU64::new(0),
    });
    let (events_tx, _) = broadcast::channel(4096);
    let (cp_tx, cp_rx) = watch::channel(shared.latest());
    let public_key_pem = signer.public_key_pem();
    let mut writer = Writer {
        opts: opts.clone(),
        clock: clock.clone(),
        signer,
        vouching,
        shared: shared.clone(),
        events: events_tx.clone(),
        checkpoints: cp_tx,
        seg,
        levels,
        frontier,
        last_ms,
        pending: VecDeque::new(),
        recent,
        derived_dirty: false,
        seg_committed: 0,
    };
    // The new process's first events: its start, a key rotation, what the dead one lost.
    let mut first = vec![EventBody::ProcessStarted {
        version: opts.process.version.clone(),
        build_digest: opts.process.build_digest.clone(),
    }];
    first.extend(rotation_event);
    first.extend(lost_events);
    writer.write_now(first)?;
    if writer.checkpoint().is_none() {
        return Err(AuditError::Io("cannot sign the first checkpoint".into()));
    }
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("ok2cry-audit-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(io)?;
    let log = AuditLog {
        inner: Arc::new(Inner {
            tx: Mutex::new(tx),
            shared,
            events: events_tx,
            queued: AtomicUsize::new(0),
            max_queued: opts.max_queued,
            log_key: current_key,
            public_key_pem,
            node: opts.node.clone(),
            checkpoints: cp_rx,
            clock,
        }),
    };
    Ok((log, rec))
}
