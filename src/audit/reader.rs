//! Reading the log: events by position, leaf hashes, tile hashes, proofs, a key's events.
//!
//! Everything here reads files the writer has made readable (below the published size) and
//! costs O(page) or O(log n) reads: the leaf index turns a position into a file offset, the
//! tile files give the hash of any 256^L-aligned block, and a sealed segment's sorted key index
//! answers "which leaves are about this key" by binary search. These calls block: the HTTP
//! layer runs them on the blocking pool.

use super::event::key_id_created_ms;
use super::layout::{self, IDX_RECORD, KEY_RECORD, TILE};
use super::merkle::{self, Hash, TreeSource, empty_root, leaf_hash, node_hash};
use super::store::{AuditError, AuditLog, SegmentView, Shared, io};
use super::writer::tiles_below;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

fn read_at(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, AuditError> {
    let mut f = File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(b)
}

/// A consistent snapshot of what may be read.
pub(crate) struct Snapshot<'a> {
    shared: &'a Shared,
    /// Leaves readable.
    pub size: u64,
    segments: Vec<SegmentView>,
}

impl Shared {
    pub(crate) fn snapshot(&self) -> Snapshot<'_> {
        let view = self.read_view();
        Snapshot {
            shared: self,
            size: view.size,
            segments: view.segments.clone(),
        }
    }
}

impl Snapshot<'_> {
    fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The segment holding leaf `leaf`, and where it ends.
    fn segment_of(&self, leaf: u64) -> Option<(&SegmentView, u64)> {
        let pos = self.segments.partition_point(|s| s.first <= leaf);
        let seg = self.segments.get(pos.checked_sub(1)?)?;
        let end = self
            .segments
            .get(pos)
            .map(|next| next.first)
            .unwrap_or(self.size);
        (leaf < end).then_some((seg, end))
    }

    /// The event lines of leaves [from, to), clipped to the readable size.
    pub fn lines(&self, from: u64, to: u64) -> Result<Vec<String>, AuditError> {
        let to = to.min(self.size);
        let mut out = Vec::new();
        let mut at = from;
        while at < to {
            let Some((seg, end)) = self.segment_of(at) else {
                return Err(AuditError::Corrupt(format!("no segment holds leaf {at}")));
            };
            let stop = to.min(end);
            self.lines_in(seg, at, stop, &mut out)?;
            at = stop;
        }
        Ok(out)
    }

    fn lines_in(
        &self,
        seg: &SegmentView,
        from: u64,
        to: u64,
        out: &mut Vec<String>,
    ) -> Result<(), AuditError> {
        // The nearest indexed leaf at or before `from`.
        let aligned = from / TILE * TILE;
        let events = layout::segment_path(self.dir(), seg.number);
        if !events.exists() && layout::archived_path(self.dir(), seg.number).exists() {
            return Err(AuditError::Archived(seg.number));
        }
        let (offset, mut leaf) = if aligned >= seg.first {
            let record = (aligned - seg.first.div_ceil(TILE) * TILE) / TILE;
            let bytes = read_at(
                &layout::idx_path(self.dir(), seg.number),
                record * IDX_RECORD,
                IDX_RECORD as usize,
            )?;
            (u64_at(&bytes, 0), aligned)
        } else {
            (0, seg.first)
        };
        let mut f = File::open(events).map_err(io)?;
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut reader = BufReader::with_capacity(64 * 1024, f);
        let mut line = Vec::new();
        while leaf < to {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 || line.last() != Some(&b'\n') {
                return Err(AuditError::Corrupt(format!(
                    "segment {} ends before leaf {leaf}",
                    seg.number
                )));
            }
            if leaf >= from {
                line.pop();
                let text = String::from_utf8(std::mem::take(&mut line)).map_err(|_| {
                    AuditError::Corrupt(format!("segment {}: leaf {leaf} is not UTF-8", seg.number))
                })?;
                out.push(text);
            }
            leaf += 1;
        }
        Ok(())
    }

    /// Leaf hashes of [from, to).
    pub fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, AuditError> {
        Ok(self
            .lines(from, to)?
            .iter()
            .map(|l| leaf_hash(l.as_bytes()))
            .collect())
    }

    /// Records [from, from + count) of tile level `level` (1 and up).
    pub fn level_records(
        &self,
        level: u32,
        from: u64,
        count: u64,
    ) -> Result<Vec<Hash>, AuditError> {
        if from + count > tiles_below(self.size, level) {
            return Err(AuditError::Corrupt(format!(
                "level {level} has no record {} at size {}",
                from + count - 1,
                self.size
            )));
        }
        let bytes = read_at(
            &layout::level_path(self.dir(), level),
            from * 32,
            (count * 32) as usize,
        )?;
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    /// The hash of the perfect subtree of `n` (a power of two) leaves at `start` (a multiple).
    fn perfect(&self, start: u64, n: u64) -> Result<Hash, AuditError> {
        let level = n.trailing_zeros() / 8;
        if level == 0 {
            return Ok(merkle::root(&self.leaf_hashes(start, start + n)?));
        }
        let span = TILE.pow(level);
        let records = self.level_records(level, start / span, n / span)?;
        Ok(merkle::root(&records))
    }

    /// The C2SP tlog-tiles tile `index` of `level`, `width` hashes wide (256 for a full tile).
    pub fn tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<u8>, AuditError> {
        let start = index * TILE;
        let hashes = if level == 0 {
            if start + width > self.size {
                return Err(AuditError::Corrupt("beyond the tree".into()));
            }
            self.leaf_hashes(start, start + width)?
        } else {
            self.level_records(level, start, width)?
        };
        Ok(hashes.concat())
    }

    /// The C2SP tlog-tiles entry bundle `index`, `width` entries wide: each entry as a
    /// big-endian u16 length and the event line.
    pub fn entry_bundle(&self, index: u64, width: u64) -> Result<Vec<u8>, AuditError> {
        let start = index * TILE;
        if start + width > self.size {
            return Err(AuditError::Corrupt("beyond the tree".into()));
        }
        let mut out = Vec::new();
        for line in self.lines(start, start + width)? {
            let len = u16::try_from(line.len())
                .map_err(|_| AuditError::Corrupt("an entry is longer than 65535 bytes".into()))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(line.as_bytes());
        }
        Ok(out)
    }

    /// Leaves whose event is about `key_id`, ascending.
    pub fn key_leaves(&self, key_id: &str) -> Result<Vec<u64>, AuditError> {
        let digest = layout::key_digest(key_id);
        // A service key id carries its creation time: start at the segment open then.
        let start = match key_id_created_ms(key_id) {
            // The segment current at time t: the last one opened before t (segments opened at
            // exactly t may all hold it).
            Some(t) => self
                .segments
                .partition_point(|s| s.opened_ms < t)
                .saturating_sub(1),
            None => 0,
        };
        let mut out = Vec::new();
        for seg in &self.segments[start..] {
            match seg.sealed_count {
                Some(_) => out.extend(sealed_key_leaves(self.dir(), seg.number, &digest)?),
                None => {
                    let view = self.shared.read_view();
                    if view.segments.last().is_some_and(|s| s.number == seg.number) {
                        out.extend(
                            view.current_keys
                                .iter()
                                .filter(|r| layout::record_digest(r) == digest)
                                .map(layout::record_leaf)
                                .filter(|leaf| *leaf < self.size),
                        );
                    } else {
                        // Sealed since the snapshot was taken: its index is on disk now.
                        drop(view);
                        out.extend(sealed_key_leaves(self.dir(), seg.number, &digest)?);
                    }
                }
            }
        }
        out.retain(|leaf| *leaf < self.size);
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Binary search of a sealed segment's sorted key index.
fn sealed_key_leaves(dir: &Path, segment: u64, digest: &[u8; 16]) -> Result<Vec<u64>, AuditError> {
    let path = layout::keys_path(dir, segment);
    let len = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if layout::archived_path(dir, segment).exists() {
                return Err(AuditError::Archived(segment));
            }
            return Ok(Vec::new());
        }
        Err(e) => return Err(io(e)),
    };
    let records = len / KEY_RECORD as u64;
    let record = |i: u64| -> Result<([u8; 16], u64), AuditError> {
        let b = read_at(&path, i * KEY_RECORD as u64, KEY_RECORD)?;
        let mut d = [0u8; 16];
        d.copy_from_slice(&b[..16]);
        Ok((d, u64_at(&b, 16)))
    };
    // First record >= digest.
    let (mut lo, mut hi) = (0u64, records);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if record(mid)?.0 < *digest {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut out = Vec::new();
    let mut i = lo;
    while i < records {
        let (d, leaf) = record(i)?;
        if d != *digest {
            break;
        }
        out.push(leaf);
        i += 1;
    }
    Ok(out)
}

impl TreeSource for Snapshot<'_> {
    type Error = AuditError;

    fn range_hash(&self, start: u64, end: u64) -> Result<Hash, AuditError> {
        let n = end - start;
        if n == 0 {
            return Ok(empty_root());
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.perfect(start, n);
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        Ok(node_hash(
            &self.range_hash(start, start + k)?,
            &self.range_hash(start + k, end)?,
        ))
    }
}

impl AuditLog {
    /// Events with `seq > after` (from the first when `None`), at most `limit`, oldest first.
    pub fn events_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<String>, AuditError> {
        let snap = self.inner.shared.snapshot();
        let from = after.map(|a| a.saturating_add(1)).unwrap_or(0);
        snap.lines(from, from.saturating_add(limit as u64))
    }

    /// The RFC 9162 consistency proof from size `old` to size `new` (0 < old ≤ new ≤ size).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Option<Vec<Hash>>, AuditError> {
        let snap = self.inner.shared.snapshot();
        if new > snap.size {
            return Ok(None);
        }
        merkle::consistency_proof_in(old, new, &snap)
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of size `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Option<Vec<Hash>>, AuditError> {
        let snap = self.inner.shared.snapshot();
        if size > snap.size {
            return Ok(None);
        }
        merkle::inclusion_proof_in(index, size, &snap)
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Option<Hash>, AuditError> {
        let snap = self.inner.shared.snapshot();
        if size > snap.size {
            return Ok(None);
        }
        snap.range_hash(0, size).map(Some)
    }

    /// A tlog-tiles hash tile (see [`Snapshot::tile`]).
    pub fn tile(&self, level: u32, index: u64, width: u64) -> Result<Vec<u8>, AuditError> {
        self.inner.shared.snapshot().tile(level, index, width)
    }

    /// A tlog-tiles entry bundle (see [`Snapshot::entry_bundle`]).
    pub fn entry_bundle(&self, index: u64, width: u64) -> Result<Vec<u8>, AuditError> {
        self.inner.shared.snapshot().entry_bundle(index, width)
    }

    /// The leaves about `key_id` and their event lines.
    pub fn key_events(&self, key_id: &str) -> Result<Vec<(u64, String)>, AuditError> {
        let snap = self.inner.shared.snapshot();
        let mut out = Vec::new();
        for leaf in snap.key_leaves(key_id)? {
            if let Some(line) = snap.lines(leaf, leaf + 1)?.pop() {
                out.push((leaf, line));
            }
        }
        Ok(out)
    }
}
