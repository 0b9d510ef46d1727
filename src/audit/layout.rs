//! The files of a version-2 log directory, and the small records kept beside the events.
//!
//! ```text
//! FORMAT                              "ok2cry-audit-log 2"
//! segment-000001.jsonl                events, one canonical JSON line each; leaf i = event seq i
//! segment-000001.meta.json            the segment's first leaf and the tree's frontier there;
//!                                     completed when the segment is sealed
//! segment-000001.idx                  offset and time of every leaf whose index is a multiple
//!                                     of 256 (16 bytes each): O(1) access to any event
//! segment-000001.keys                 sealed segments: (key-id digest, leaf) sorted, for receipts
//! segment-000001.checkpoints.jsonl    checkpoints signed while this segment was current, with
//!                                     the frontier at their size; cosigned copies appended
//! segment-000001.archived.json        archived segments: where, and the hash read back; the
//!                                     event file may then be removed (audit.keep_local)
//! level-1.bin, level-2.bin, …         the Merkle tree's tiles: record j of level L is the hash of
//!                                     leaves [j·256^L, (j+1)·256^L) (32 bytes each)
//! ```
//!
//! Segments are storage, not trees: the node's log is one Merkle tree across every segment
//! and restart, with one origin. Everything but the segment files and checkpoint records can
//! be rebuilt from them.

use super::merkle::{Frontier, Hash};
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The first line of `FORMAT`.
pub const FORMAT: &str = "ok2cry-audit-log 2\n";

/// Leaves per tile (C2SP tlog-tiles).
pub const TILE: u64 = 256;

/// Bytes per index record: offset (u64 BE) and time in ms (u64 BE).
pub const IDX_RECORD: u64 = 16;

/// Bytes per key-index record: key-id digest (16) and leaf (u64 BE).
pub const KEY_RECORD: usize = 24;

/// `FORMAT`.
pub fn format_path(dir: &Path) -> PathBuf {
    dir.join("FORMAT")
}

/// A segment's event file.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.jsonl"))
}

/// A segment's metadata.
pub fn meta_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.meta.json"))
}

/// A segment's leaf index.
pub fn idx_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.idx"))
}

/// A sealed segment's key index.
pub fn keys_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.keys"))
}

/// A segment's checkpoint records.
pub fn checkpoints_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.checkpoints.jsonl"))
}

/// A sealed segment's archive mark: written once the segment is in the archive, read back
/// and checked (see `audit::archive`). A segment with a mark and no event file was removed
/// locally after archiving.
pub fn archived_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:06}.archived.json"))
}

/// Whether segment `n` was archived and its events then removed from `dir`: the directory no
/// longer holds that segment (its metadata stays for the node's own bookkeeping).
pub fn archived_away(dir: &Path, n: u64) -> bool {
    !segment_path(dir, n).exists() && archived_path(dir, n).exists()
}

/// The segment number in a segment file's name (`segment-000042.…` → 42).
pub fn segment_number_in(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("segment-")?;
    let digits = rest.split('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The tile hashes of level `level` (1 and up).
pub fn level_path(dir: &Path, level: u32) -> PathBuf {
    dir.join(format!("level-{level}.bin"))
}

/// The segment numbers that have a metadata file or an event file in `dir`, ascending.
pub fn segment_numbers(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name.strip_prefix("segment-") else {
            continue;
        };
        let number = rest
            .strip_suffix(".jsonl")
            .filter(|r| !r.contains('.'))
            .or_else(|| rest.strip_suffix(".meta.json"));
        if let Some(n) = number.and_then(|n| n.parse::<u64>().ok()) {
            out.insert(n);
        }
    }
    Ok(out.into_iter().collect())
}

fn hashes_to_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| Base64::encode_string(h)).collect()
}

fn hashes_from_b64(list: &[String]) -> Option<Vec<Hash>> {
    list.iter()
        .map(|h| Base64::decode_vec(h).ok()?.try_into().ok())
        .collect()
}

/// What a segment's metadata says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentMeta {
    /// The segment number (never reused).
    pub segment: u64,
    /// Its first leaf.
    pub first: u64,
    /// The tree's frontier at `first` (base64 hashes, largest subtree first).
    pub frontier: Vec<String>,
    /// When it was opened (ms).
    pub opened_ms: u64,
    /// Whether a process started with it (every start opens a new segment).
    pub process_start: bool,
    /// Set when sealed: its leaves, bytes and SHA-256 (hex) of the event file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
}

/// A sealed segment's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Leaves.
    pub count: u64,
    /// Bytes of the event file.
    pub bytes: u64,
    /// SHA-256 of the event file (hex).
    pub sha256: String,
    /// Time of its last event (ms).
    pub last_ms: u64,
}

impl SegmentMeta {
    /// The frontier at the segment's first leaf.
    pub fn start_frontier(&self) -> Option<Frontier> {
        Frontier::from_parts(self.first, hashes_from_b64(&self.frontier)?)
    }

    /// A new segment's metadata.
    pub fn new(segment: u64, frontier: &Frontier, opened_ms: u64, process_start: bool) -> Self {
        Self {
            segment,
            first: frontier.size(),
            frontier: hashes_to_b64(frontier.hashes()),
            opened_ms,
            process_start,
            sealed: None,
        }
    }

    /// Reads a metadata file.
    pub fn read(dir: &Path, n: u64) -> Option<Self> {
        let text = std::fs::read_to_string(meta_path(dir, n)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// One line of a checkpoints file: a signed checkpoint and the frontier at its size, so that
/// any checkpoint is a verified place to start reading the tree from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRecord {
    /// Tree size.
    pub size: u64,
    /// The frontier at `size` (base64 hashes).
    pub frontier: Vec<String>,
    /// The signed note (the log's signature, and witnesses' cosignatures once collected).
    pub note: String,
}

impl CheckpointRecord {
    /// A record for `note` at the frontier `f`.
    pub fn new(f: &Frontier, note: String) -> Self {
        Self {
            size: f.size(),
            frontier: hashes_to_b64(f.hashes()),
            note,
        }
    }

    /// The frontier it carries.
    pub fn frontier(&self) -> Option<Frontier> {
        Frontier::from_parts(self.size, hashes_from_b64(&self.frontier)?)
    }

    /// The line (without newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads every record of a checkpoints file (missing file: none); malformed lines are
    /// returned as `Err(line number)`.
    pub fn read_all(path: &Path) -> Vec<Result<Self, usize>> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        Self::parse_all(&text)
    }

    /// Every record of a checkpoints file's text; malformed lines as `Err(line number)`.
    pub fn parse_all(text: &str) -> Vec<Result<Self, usize>> {
        text.lines()
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).map_err(|_| i + 1))
            .collect()
    }
}

/// One key-index record, as it is both kept in memory (the current segment) and written to a
/// sealed segment's `.keys` file: the key-id digest (16 bytes) and the leaf (u64 BE). Sorting
/// records as bytes sorts them by digest, then leaf.
pub type KeyRecord = [u8; KEY_RECORD];

/// The record of leaf `leaf` about `key_id`.
pub fn key_record(key_id: &str, leaf: u64) -> KeyRecord {
    let mut r = [0u8; KEY_RECORD];
    r[..16].copy_from_slice(&key_digest(key_id));
    r[16..].copy_from_slice(&leaf.to_be_bytes());
    r
}

/// A record's key-id digest.
pub fn record_digest(r: &KeyRecord) -> &[u8] {
    &r[..16]
}

/// A record's leaf.
pub fn record_leaf(r: &KeyRecord) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&r[16..]);
    u64::from_be_bytes(b)
}

/// The 16-byte digest a key id is indexed under.
pub fn key_digest(key_id: &str) -> [u8; 16] {
    use sha2::Digest;
    let d = sha2::Sha256::digest(key_id.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}
