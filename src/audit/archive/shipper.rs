//! The archiving pass: sealed segments compressed and shipped, checked by reading them back,
//! then local copies and old archived segments removed by the retention rules.
//!
//! One pass, run by the node every `audit.archive.interval_seconds`:
//!
//! 1. The archive's `FORMAT` and `ORIGIN` objects are written once, then compared: an archive
//!    holding another node's log (another origin) is refused, never mixed.
//! 2. Every sealed segment still on disk and not yet archived, oldest first: its event file is
//!    checked against the SHA-256 recorded when it was sealed, compressed (zstd), uploaded with
//!    its metadata and checkpoint records, and read back: the compressed object's SHA-256 must
//!    be the one uploaded and its decompressed content the sealed hash. Only then is the mark
//!    `segment-N.archived.json` written (synced) beside it. A failure leaves everything local.
//! 3. Checkpoint records that gained cosignatures after archiving (within a day) are uploaded
//!    again.
//! 4. Local retention (`audit.keep_local`): the event file, leaf index and key index of the
//!    oldest archived segments are removed while they are older than the local age limit or
//!    the local segments exceed the byte limit. Never an unarchived segment, never out of
//!    order (the local segments stay one contiguous run), never the newest one (the current
//!    segment while the log is open), and only
//!    after the archived copy was read back once more and still has its hash (if not, the mark
//!    goes and the segment is archived again at the next pass). Metadata,
//!    checkpoint records and the mark stay: the node still knows where the tree stood.
//! 5. Archive retention (`audit.archive.retain_days`, default 366): segments whose last event
//!    is older are deleted from the archive, oldest first, and only once no local event file
//!    is left; then their local metadata goes too.

use super::object::{Archived, checkpoints_object, events_object, meta_object};
use super::store::{ArchiveError, ArchiveStore};
use crate::audit::disk::{self, Disk, RealDisk};
use crate::audit::layout::{self, SegmentMeta};
use crate::clock::Clock;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How long after archiving a segment's checkpoint records are compared with the archived
/// copy (and uploaded again when cosignatures were added).
const REFRESH_FOR_MS: u64 = 24 * 3600 * 1000;

/// The zstd level: 3 (the library's default) shrank a real segment 6.7×.
pub const ZSTD_LEVEL: i32 = 3;

/// How long things are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Remove local copies of archived segments older than this (ms); `None`: by age, never.
    pub keep_local_ms: Option<u64>,
    /// Remove local copies of the oldest archived segments while the local segments exceed
    /// this many bytes; `None`: by size, never.
    pub keep_local_bytes: Option<u64>,
    /// Delete archived segments older than this (ms); `None`: never.
    pub archive_ms: Option<u64>,
}

/// The default archive retention: 366 days (PCI DSS v4.0 10.5.1 asks for 12 months).
pub const DEFAULT_ARCHIVE_DAYS: u64 = 366;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Segments archived and checked.
    pub archived: Vec<u64>,
    /// Segments whose checkpoint records were uploaded again.
    pub refreshed: Vec<u64>,
    /// Segments whose local event files were removed.
    pub removed_local: Vec<u64>,
    /// Segments deleted from the archive by its retention.
    pub expired: Vec<u64>,
    /// Sealed segments not archived after the pass.
    pub unarchived: usize,
    /// What failed (each failure stops the pass's later steps for safety).
    pub failures: Vec<String>,
}

/// Ships one node's sealed segments to an archive.
pub struct Archiver {
    dir: PathBuf,
    origin: String,
    store: Arc<ArchiveStore>,
    retention: Retention,
    clock: Arc<dyn Clock>,
}

/// A segment as the pass sees it.
struct Local {
    meta: SegmentMeta,
    has_events: bool,
    mark: Option<Archived>,
}

impl Archiver {
    /// An archiver of the log in `dir` (whose checkpoints carry `origin`).
    pub fn new(
        dir: PathBuf,
        origin: String,
        store: Arc<ArchiveStore>,
        retention: Retention,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            dir,
            origin,
            store,
            retention,
            clock,
        }
    }

    /// The archive.
    pub fn store(&self) -> &ArchiveStore {
        &self.store
    }

    /// One pass; see the module documentation.
    pub async fn pass(&self) -> PassReport {
        let mut report = PassReport::default();
        if let Err(e) = self.run(&mut report).await {
            report.failures.push(e.to_string());
        }
        report
    }

    async fn run(&self, report: &mut PassReport) -> Result<(), ArchiveError> {
        let dir = self.dir.clone();
        let mut locals = blocking(move || scan(&dir)).await?;
        let sealed = |l: &Local| l.meta.sealed.is_some();
        report.unarchived = locals
            .iter()
            .filter(|l| sealed(l) && l.mark.is_none())
            .count();
        if report.unarchived > 0 {
            self.claim().await?;
        }
        for l in locals.iter_mut() {
            if sealed(l) && l.mark.is_none() && l.has_events {
                let mark = self.archive(&l.meta).await?;
                l.mark = Some(mark);
                report.archived.push(l.meta.segment);
                report.unarchived -= 1;
            }
        }
        // Cosignatures arrive within seconds of a checkpoint: records are compared again for a
        // day after archiving, not for the life of the archive (a year of segments would mean
        // re-reading and hashing every checkpoint file at every pass).
        let now = self.clock.now_ms();
        for l in locals.iter_mut() {
            if let Some(mark) = &mut l.mark
                && now.saturating_sub(mark.archived_ms) <= REFRESH_FOR_MS
                && self.refresh_checkpoints(&l.meta, mark).await?
            {
                report.refreshed.push(l.meta.segment);
            }
        }
        self.keep_local(&mut locals, report).await?;
        self.expire(&locals, report).await
    }

    /// Writes, or checks, the archive's `FORMAT` and `ORIGIN`.
    async fn claim(&self) -> Result<(), ArchiveError> {
        for (name, want) in [
            ("FORMAT", layout::FORMAT.to_owned()),
            ("ORIGIN", format!("{}\n", self.origin)),
        ] {
            match self.store.get(name).await? {
                Some(have) if have == want.as_bytes() => {}
                Some(_) => {
                    return Err(ArchiveError::Mismatch(format!(
                        "{} holds another log (its {name} differs): refusing to mix logs",
                        self.store.location()
                    )));
                }
                None => self.store.put(name, want.into_bytes()).await?,
            }
        }
        Ok(())
    }

    async fn archive(&self, meta: &SegmentMeta) -> Result<Archived, ArchiveError> {
        let n = meta.segment;
        let sealed = meta
            .sealed
            .clone()
            .ok_or_else(|| ArchiveError::Mismatch(format!("segment {n} is not sealed")))?;
        let dir = self.dir.clone();
        let (zst, meta_bytes, checkpoints) = blocking(move || {
            let file = std::fs::File::open(layout::segment_path(&dir, n)).map_err(local_io)?;
            let mut reader = HashingReader::new(file);
            let zst = zstd::stream::encode_all(&mut reader, ZSTD_LEVEL).map_err(local_io)?;
            let (read, sha) = reader.finish();
            if read != sealed.bytes || sha != sealed.sha256 {
                return Err(ArchiveError::Mismatch(format!(
                    "segment {n}: the local event file does not match the hash recorded when it was sealed; not archived"
                )));
            }
            let meta_bytes = std::fs::read(layout::meta_path(&dir, n)).map_err(local_io)?;
            let checkpoints = read_or_empty(&layout::checkpoints_path(&dir, n))?;
            Ok((zst, meta_bytes, checkpoints))
        })
        .await?;
        let zst_sha256 = hex::encode(Sha256::digest(&zst));
        let zst_bytes = zst.len() as u64;
        let checkpoints_sha256 = hex::encode(Sha256::digest(&checkpoints));
        self.put_checked(&meta_object(n), meta_bytes).await?;
        self.put_checked(&checkpoints_object(n), checkpoints)
            .await?;
        // The events last: an archive listing holds a segment's events only with its metadata.
        let name = events_object(n);
        self.store.put(&name, zst).await?;
        let back =
            self.store.get(&name).await?.ok_or_else(|| {
                ArchiveError::Mismatch(format!("{name}: not found when read back"))
            })?;
        if hex::encode(Sha256::digest(&back)) != zst_sha256 {
            return Err(ArchiveError::Mismatch(format!(
                "{name}: read back with another SHA-256; the local copy is kept"
            )));
        }
        let (raw_bytes, raw_sha) = blocking(move || {
            let mut sink = HashingWriter::default();
            zstd::stream::copy_decode(&back[..], &mut sink).map_err(|e| {
                ArchiveError::Mismatch(format!("the archived segment does not decompress: {e}"))
            })?;
            Ok(sink.finish())
        })
        .await?;
        let sealed = meta.sealed.as_ref();
        if Some(raw_bytes) != sealed.map(|s| s.bytes)
            || Some(raw_sha.as_str()) != sealed.map(|s| s.sha256.as_str())
        {
            return Err(ArchiveError::Mismatch(format!(
                "{name}: decompresses to other events than the sealed segment's; the local copy is kept"
            )));
        }
        let mark = Archived {
            segment: n,
            location: self.store.location().to_string(),
            object: name,
            zst_bytes,
            zst_sha256,
            checkpoints_sha256,
            archived_ms: self.clock.now_ms(),
        };
        let dir = self.dir.clone();
        let line = mark.to_json();
        blocking(move || write_durable(&super::object::mark_path(&dir, n), line.as_bytes()))
            .await?;
        tracing::info!(
            segment = n,
            bytes = raw_bytes,
            compressed = zst_bytes,
            archive = %self.store.location(),
            "audit segment archived and read back"
        );
        Ok(mark)
    }

    async fn put_checked(&self, name: &str, bytes: Vec<u8>) -> Result<(), ArchiveError> {
        let want = Sha256::digest(&bytes);
        self.store.put(name, bytes).await?;
        match self.store.get(name).await? {
            Some(back) if Sha256::digest(&back) == want => Ok(()),
            _ => Err(ArchiveError::Mismatch(format!(
                "{name}: not read back as written"
            ))),
        }
    }

    async fn refresh_checkpoints(
        &self,
        meta: &SegmentMeta,
        mark: &mut Archived,
    ) -> Result<bool, ArchiveError> {
        let n = meta.segment;
        let path = layout::checkpoints_path(&self.dir, n);
        let bytes = blocking(move || read_or_empty(&path)).await?;
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha == mark.checkpoints_sha256 {
            return Ok(false);
        }
        self.put_checked(&checkpoints_object(n), bytes).await?;
        mark.checkpoints_sha256 = sha;
        let dir = self.dir.clone();
        let line = mark.to_json();
        blocking(move || write_durable(&super::object::mark_path(&dir, n), line.as_bytes()))
            .await?;
        Ok(true)
    }

    async fn keep_local(
        &self,
        locals: &mut [Local],
        report: &mut PassReport,
    ) -> Result<(), ArchiveError> {
        let r = self.retention;
        if r.keep_local_ms.is_none() && r.keep_local_bytes.is_none() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let mut local_bytes: u64 = locals
            .iter()
            .filter(|l| l.has_events)
            .filter_map(|l| l.meta.sealed.as_ref().map(|s| s.bytes))
            .sum();
        // The newest segment always stays: it carries the tree's frontier on (and is the
        // current one while the log is open).
        let keep = locals.len().saturating_sub(1);
        for l in locals[..keep].iter_mut().filter(|l| l.has_events) {
            let Some(sealed) = &l.meta.sealed else {
                break;
            };
            if l.mark.is_none() {
                break;
            }
            let too_old = r
                .keep_local_ms
                .is_some_and(|ms| now.saturating_sub(sealed.last_ms) > ms);
            let too_big = r.keep_local_bytes.is_some_and(|b| local_bytes > b);
            if !(too_old || too_big) {
                break;
            }
            let n = l.meta.segment;
            // The archived copy is read back once more, right before the only other copy goes.
            let want = l.mark.as_ref().map(|m| m.zst_sha256.clone());
            let back = self.store.get(&events_object(n)).await?;
            if back.map(|b| hex::encode(Sha256::digest(&b))) != want {
                let dir = self.dir.clone();
                blocking(move || {
                    std::fs::remove_file(super::object::mark_path(&dir, n)).map_err(local_io)?;
                    sync_dir(&dir)
                })
                .await?;
                return Err(ArchiveError::Mismatch(format!(
                    "{}: the archived copy of segment {n} is missing or altered; the local copy is kept and will be archived again",
                    self.store.location()
                )));
            }
            let dir = self.dir.clone();
            blocking(move || {
                for path in [
                    layout::segment_path(&dir, n),
                    layout::idx_path(&dir, n),
                    layout::keys_path(&dir, n),
                ] {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(local_io(e)),
                    }
                }
                sync_dir(&dir)
            })
            .await?;
            local_bytes = local_bytes.saturating_sub(sealed.bytes);
            l.has_events = false;
            report.removed_local.push(n);
            tracing::info!(segment = n, "archived audit segment removed locally");
        }
        Ok(())
    }

    async fn expire(&self, locals: &[Local], report: &mut PassReport) -> Result<(), ArchiveError> {
        let Some(limit) = self.retention.archive_ms else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        let keep = locals.len().saturating_sub(1);
        for l in &locals[..keep] {
            let (Some(sealed), Some(_)) = (&l.meta.sealed, &l.mark) else {
                break;
            };
            if l.has_events || now.saturating_sub(sealed.last_ms) <= limit {
                break;
            }
            let n = l.meta.segment;
            // Events first: what remains of a half-expired segment is its metadata, which
            // readers already treat as "events not present".
            for name in [events_object(n), checkpoints_object(n), meta_object(n)] {
                self.store.delete(&name).await?;
            }
            let dir = self.dir.clone();
            blocking(move || {
                for path in [
                    layout::checkpoints_path(&dir, n),
                    layout::meta_path(&dir, n),
                    super::object::mark_path(&dir, n),
                ] {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(local_io(e)),
                    }
                }
                sync_dir(&dir)
            })
            .await?;
            report.expired.push(n);
            tracing::info!(
                segment = n,
                "audit segment deleted from the archive (retention)"
            );
        }
        Ok(())
    }
}

fn scan(dir: &Path) -> Result<Vec<Local>, ArchiveError> {
    let numbers = layout::segment_numbers(dir).map_err(local_io)?;
    let mut out = Vec::new();
    for n in numbers {
        let Some(meta) = SegmentMeta::read(dir, n) else {
            continue;
        };
        out.push(Local {
            has_events: layout::segment_path(dir, n).exists(),
            mark: Archived::read(dir, n),
            meta,
        });
    }
    Ok(out)
}

fn local_io(e: std::io::Error) -> ArchiveError {
    ArchiveError::Io(format!("the local log: {e}"))
}

fn read_or_empty(path: &Path) -> Result<Vec<u8>, ArchiveError> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(local_io(e)),
    }
}

fn real_disk() -> Arc<dyn Disk> {
    Arc::new(RealDisk)
}

fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    disk::sync_dir(dir, &real_disk()).map_err(local_io)
}

/// The log directory's files are replaced atomically and synced, as the log's own are.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    disk::write_atomic(path, bytes, 0o644, &real_disk()).map_err(local_io)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ArchiveError> + Send + 'static,
) -> Result<T, ArchiveError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ArchiveError::Io(format!("archive task: {e}")))?
}

/// Counts and hashes what is read through it.
struct HashingReader<R> {
    inner: R,
    sha: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }

    fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(self.sha.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Counts and hashes what is written to it, keeping nothing.
#[derive(Default)]
struct HashingWriter {
    sha: Sha256,
    bytes: u64,
}

impl HashingWriter {
    fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(self.sha.finalize()))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sha.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
