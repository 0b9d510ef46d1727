//! Version 1 of the log format, read-only: one Merkle tree per segment file, origin
//! `<prefix>/<segment>`, checkpoints logged as events. The service no longer writes it; these
//! modules keep old logs and receipts verifiable (docs/AUDIT.md, "Logs of format 1").
//!
//! - [`event`]: the version-1 event lines.
//! - [`verify`]: the whole-log verifier, with the corrected crash rule (a `process_lost` key is
//!   dated by the dead process's own last event, not by the restart's crash seal).
//! - [`receipt`]: version-1 receipts.

pub mod event;
pub mod receipt;
pub mod verify;

use std::path::{Path, PathBuf};

/// A segment file path.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.jsonl"))
}

/// A segment's checkpoints file path.
pub fn checkpoints_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.checkpoints.jsonl"))
}

/// The segment numbers present in `dir`, ascending.
pub fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("segment-")
            .and_then(|r| r.strip_suffix(".jsonl"))
            && let Ok(n) = n.parse::<u64>()
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Whether `dir` holds a version-1 log: segment files whose first event is `segment_started`.
pub fn is_v1(dir: &Path) -> bool {
    let Ok(list) = segments(dir) else {
        return false;
    };
    let Some(first) = list.first() else {
        return false;
    };
    std::fs::read_to_string(segment_path(dir, *first))
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .map(|l| l.contains("\"type\":\"segment_started\""))
        })
        .unwrap_or(false)
}
