//! The archive as a log to verify: alone ([`ArchiveSource`]), or under the log directory that
//! continues it ([`Layered`]: local files first, the archive for what is no longer local).
//!
//! Reads block on the archive's requests through a runtime handle: call them from a blocking
//! thread (`spawn_blocking`), as `audit verify` does. One segment's compressed object is held
//! in memory while it is streamed through the decompressor.

use super::object::{checkpoints_object, events_object, events_object_number, meta_object};
use super::store::ArchiveStore;
use crate::audit::layout::{CheckpointRecord, SegmentMeta};
use crate::audit::source::{LocalDir, LogSource};
use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::Arc;

/// An archive, read as a log.
pub struct ArchiveSource {
    store: Arc<ArchiveStore>,
    runtime: tokio::runtime::Handle,
}

impl ArchiveSource {
    /// Reads `store` through `runtime`.
    pub fn new(store: Arc<ArchiveStore>, runtime: tokio::runtime::Handle) -> Self {
        Self { store, runtime }
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        self.runtime
            .block_on(self.store.get(name))
            .map_err(|e| e.to_string())
    }
}

impl LogSource for ArchiveSource {
    fn describe(&self) -> String {
        self.store.location().to_string()
    }

    fn format(&self) -> Result<String, String> {
        match self.get("FORMAT")? {
            Some(b) => String::from_utf8(b).map_err(|_| "FORMAT is not text".into()),
            None => Err(format!("{}: no FORMAT object", self.describe())),
        }
    }

    fn segment_numbers(&self) -> Result<Vec<u64>, String> {
        let names = self
            .runtime
            .block_on(self.store.list())
            .map_err(|e| e.to_string())?;
        let mut out = BTreeSet::new();
        for name in names {
            if let Some(n) = events_object_number(&name) {
                out.insert(n);
            } else if let Some(n) = name
                .strip_prefix("segment-")
                .and_then(|r| r.strip_suffix(".meta.json"))
                .and_then(|r| r.parse().ok())
            {
                out.insert(n);
            }
        }
        Ok(out.into_iter().collect())
    }

    fn meta(&self, n: u64) -> Option<SegmentMeta> {
        let bytes = self.get(&meta_object(n)).ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    fn checkpoints(&self, n: u64) -> Vec<Result<CheckpointRecord, usize>> {
        match self.get(&checkpoints_object(n)) {
            Ok(Some(b)) => CheckpointRecord::parse_all(&String::from_utf8_lossy(&b)),
            Ok(None) => Vec::new(),
            // Unreadable: reported as a malformed first record, so the run says so.
            Err(_) => vec![Err(1)],
        }
    }

    fn events(&self, n: u64) -> Result<Box<dyn BufRead + '_>, String> {
        let name = events_object(n);
        let zst = self
            .get(&name)?
            .ok_or_else(|| format!("{name} is not in the archive"))?;
        let decoder = zstd::stream::read::Decoder::with_buffer(std::io::Cursor::new(zst))
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            decoder,
        )))
    }
}

/// The log directory over the archive: a segment is read locally when its files are there,
/// from the archive otherwise.
pub struct Layered {
    local: LocalDir,
    archive: ArchiveSource,
}

impl Layered {
    /// `local` over `archive`.
    pub fn new(local: LocalDir, archive: ArchiveSource) -> Self {
        Self { local, archive }
    }
}

impl LogSource for Layered {
    fn describe(&self) -> String {
        format!("{} over {}", self.local.describe(), self.archive.describe())
    }

    fn format(&self) -> Result<String, String> {
        let local = self.local.format()?;
        match self.archive.format() {
            Ok(a) if a != local => Err(format!(
                "{} and {} hold logs of different formats",
                self.local.describe(),
                self.archive.describe()
            )),
            _ => Ok(local),
        }
    }

    fn segment_numbers(&self) -> Result<Vec<u64>, String> {
        let mut all: BTreeSet<u64> = self.local.segment_numbers()?.into_iter().collect();
        all.extend(self.archive.segment_numbers()?);
        Ok(all.into_iter().collect())
    }

    fn meta(&self, n: u64) -> Option<SegmentMeta> {
        self.local.meta(n).or_else(|| self.archive.meta(n))
    }

    fn checkpoints(&self, n: u64) -> Vec<Result<CheckpointRecord, usize>> {
        // The local records may carry cosignatures gathered after archiving.
        if self.local.meta(n).is_some() {
            self.local.checkpoints(n)
        } else {
            self.archive.checkpoints(n)
        }
    }

    fn events(&self, n: u64) -> Result<Box<dyn BufRead + '_>, String> {
        if self.local.has_events(n) {
            self.local.events(n)
        } else {
            self.archive.events(n)
        }
    }
}
