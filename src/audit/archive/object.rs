//! The archive's objects: their names, and the mark an archived segment gets in the log
//! directory.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The archived object of a segment's events.
pub fn events_object(n: u64) -> String {
    format!("segment-{n:06}.jsonl.zst")
}

/// The archived object of a segment's metadata.
pub fn meta_object(n: u64) -> String {
    format!("segment-{n:06}.meta.json")
}

/// The archived object of a segment's checkpoint records.
pub fn checkpoints_object(n: u64) -> String {
    format!("segment-{n:06}.checkpoints.jsonl")
}

/// The segment number of an archived events object.
pub fn events_object_number(name: &str) -> Option<u64> {
    name.strip_prefix("segment-")?
        .strip_suffix(".jsonl.zst")
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

/// The mark of an archived segment, in the log directory.
pub fn mark_path(dir: &Path, n: u64) -> PathBuf {
    crate::audit::layout::archived_path(dir, n)
}

/// What the mark records: the segment is in the archive, read back and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archived {
    /// The segment.
    pub segment: u64,
    /// The archive (`s3://bucket/prefix` or a directory).
    pub location: String,
    /// The events object's name.
    pub object: String,
    /// Its size.
    pub zst_bytes: u64,
    /// Its SHA-256 (hex), as read back.
    pub zst_sha256: String,
    /// SHA-256 of the checkpoint records last uploaded.
    pub checkpoints_sha256: String,
    /// When it was checked (ms).
    pub archived_ms: u64,
}

impl Archived {
    /// Reads a segment's mark, if it has one.
    pub fn read(dir: &Path, n: u64) -> Option<Self> {
        let text = std::fs::read_to_string(mark_path(dir, n)).ok()?;
        serde_json::from_str::<Self>(&text)
            .ok()
            .filter(|m| m.segment == n)
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
