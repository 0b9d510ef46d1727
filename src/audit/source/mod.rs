//! A log to read from start to end: a log directory, an archive, or an archive under the
//! directory that continues it. `audit verify` streams any of them the same way.

use super::layout::{self, CheckpointRecord, SegmentMeta};

/// The log read as C2SP tlog-tiles over HTTPS.
pub mod tiles;

use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The files of a log, wherever they are.
pub trait LogSource: Send + Sync {
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// The content of `FORMAT`.
    fn format(&self) -> Result<String, String>;
    /// The segments present (with metadata or events), ascending.
    fn segment_numbers(&self) -> Result<Vec<u64>, String>;
    /// A segment's metadata.
    fn meta(&self, n: u64) -> Option<SegmentMeta>;
    /// A segment's checkpoint records (malformed lines as `Err(line number)`).
    fn checkpoints(&self, n: u64) -> Vec<Result<CheckpointRecord, usize>>;
    /// A segment's events, streamed.
    fn events(&self, n: u64) -> Result<Box<dyn BufRead + '_>, String>;
}

/// A log directory. A sealed segment whose event file was removed after archiving (it has
/// an `.archived.json` mark) is not part of what the directory holds.
#[derive(Debug, Clone)]
pub struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    /// The log in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Whether segment `n`'s events are here.
    pub fn has_events(&self, n: u64) -> bool {
        layout::segment_path(&self.dir, n).exists()
    }
}

impl LogSource for LocalDir {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn format(&self) -> Result<String, String> {
        std::fs::read_to_string(layout::format_path(&self.dir))
            .map_err(|e| format!("{}: no FORMAT file: {e}", self.dir.display()))
    }

    fn segment_numbers(&self) -> Result<Vec<u64>, String> {
        let all = layout::segment_numbers(&self.dir)
            .map_err(|e| format!("cannot list {}: {e}", self.dir.display()))?;
        Ok(all
            .into_iter()
            .filter(|&n| !layout::archived_away(&self.dir, n))
            .collect())
    }

    fn meta(&self, n: u64) -> Option<SegmentMeta> {
        SegmentMeta::read(&self.dir, n)
    }

    fn checkpoints(&self, n: u64) -> Vec<Result<CheckpointRecord, usize>> {
        CheckpointRecord::read_all(&layout::checkpoints_path(&self.dir, n))
    }

    fn events(&self, n: u64) -> Result<Box<dyn BufRead + '_>, String> {
        let file =
            std::fs::File::open(layout::segment_path(&self.dir, n)).map_err(|e| e.to_string())?;
        Ok(Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            file,
        )))
    }
}
