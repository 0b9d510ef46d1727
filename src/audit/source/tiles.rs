//! A node's log read as C2SP tlog-tiles over HTTPS: the checkpoint, hash tiles and entry
//! bundles (`GET <base>/checkpoint`, `GET <base>/tile/…`), as any tiles client reads them.
//!
//! The tree is presented to the verifier as one segment from leaf 0: the events stream from
//! the entry bundles, one bundle in memory at a time, and the served checkpoint is the one
//! record, its frontier computed from the hash tiles (one tile per set bit of the size). The
//! verifier then recomputes the root from the entries and must find the signed checkpoint's.
//! Reads block on their requests through a runtime handle: call them from a blocking thread.

use super::LogSource;
use crate::audit::layout::{self, CheckpointRecord, SegmentMeta, TILE};
use crate::audit::merkle::{self, Frontier, Hash};
use crate::audit::note::Note;
use crate::audit::tiles::TilePath;
use std::io::{BufRead, Read};
use std::sync::OnceLock;

/// Bytes a tile or bundle may have (256 entries of at most 64 KiB, with their lengths).
const MAX_TILE: usize = 256 * (65_535 + 2);

/// A node's tiles.
pub struct TilesSource {
    base: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    head: OnceLock<Result<(String, u64), String>>,
}

impl TilesSource {
    /// Tiles under `base` (e.g. `https://node:8443/v1/audit/tlog`), fetched with `http`
    /// (an auditor's mTLS client) through `runtime`.
    pub fn new(base: &str, http: reqwest::Client, runtime: tokio::runtime::Handle) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            runtime,
            head: OnceLock::new(),
        }
    }

    fn fetch(&self, path: &str) -> Result<Vec<u8>, String> {
        let url = format!("{}/{path}", self.base);
        self.runtime.block_on(async {
            let resp = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("GET {url}: {}", resp.status()));
            }
            let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
            if body.len() > MAX_TILE {
                return Err(format!("GET {url}: larger than any tile"));
            }
            Ok(body.to_vec())
        })
    }

    /// The served checkpoint (note, size), fetched once.
    fn head(&self) -> Result<&(String, u64), String> {
        self.head
            .get_or_init(|| {
                let text = String::from_utf8(self.fetch("checkpoint")?)
                    .map_err(|_| "the checkpoint is not text".to_owned())?;
                let size = Note::parse(&text)
                    .and_then(|n| n.checkpoint())
                    .map_err(|e| format!("the checkpoint: {e}"))?
                    .size;
                Ok((text, size))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Tile `index` of `level` in a tree of `size` leaves, as hashes.
    fn hash_tile(&self, level: u32, index: u64, size: u64) -> Result<Vec<Hash>, String> {
        let count = size >> (8 * level);
        let width = (count - index * TILE).min(TILE);
        let path = TilePath {
            level: Some(level),
            index,
            width,
        };
        let bytes = self.fetch(&format!("tile/{}", path.render()))?;
        if bytes.len() as u64 != width * 32 {
            return Err(format!("tile {}: {} bytes", path.render(), bytes.len()));
        }
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect())
    }

    /// The frontier of a tree of `size` leaves: the root of each perfect subtree, largest
    /// first, each from the `2^r` hashes of one tile at level `k / 8` (`k = 8·level + r`).
    fn frontier(&self, size: u64) -> Result<Frontier, String> {
        let mut hashes = Vec::new();
        let mut start = 0u64;
        for k in (0..64).rev() {
            if size & (1 << k) == 0 {
                continue;
            }
            let (level, r) = (k / 8, k % 8);
            let first = start >> (8 * level);
            let tile = self.hash_tile(level, first / TILE, size)?;
            let at = (first % TILE) as usize;
            let slice = tile
                .get(at..at + (1usize << r))
                .ok_or_else(|| format!("tile of level {level} is too short"))?;
            hashes.push(merkle::root(slice));
            start += 1 << k;
        }
        Frontier::from_parts(size, hashes).ok_or_else(|| "no frontier".to_owned())
    }
}

impl LogSource for TilesSource {
    fn describe(&self) -> String {
        self.base.clone()
    }

    fn format(&self) -> Result<String, String> {
        // The entries are the log's own event lines.
        self.head().map(|_| layout::FORMAT.to_owned())
    }

    fn segment_numbers(&self) -> Result<Vec<u64>, String> {
        let &(_, size) = self.head()?;
        Ok(if size == 0 { Vec::new() } else { vec![1] })
    }

    fn meta(&self, n: u64) -> Option<SegmentMeta> {
        (n == 1).then(|| SegmentMeta::new(1, &Frontier::new(), 0, true))
    }

    fn checkpoints(&self, n: u64) -> Vec<Result<CheckpointRecord, usize>> {
        if n != 1 {
            return Vec::new();
        }
        match self.head().and_then(|(note, size)| {
            Ok(CheckpointRecord::new(&self.frontier(*size)?, note.clone()))
        }) {
            Ok(r) => vec![Ok(r)],
            Err(e) => {
                tracing::warn!(error = %e, "reading the tiles");
                vec![Err(1)]
            }
        }
    }

    fn events(&self, n: u64) -> Result<Box<dyn BufRead + '_>, String> {
        let &(_, size) = self.head()?;
        if n != 1 {
            return Err(format!("segment {n}: tiles hold one tree"));
        }
        Ok(Box::new(std::io::BufReader::new(Bundles {
            src: self,
            size,
            next: 0,
            buf: Vec::new(),
            pos: 0,
        })))
    }
}

/// The event lines of every entry bundle, in order, one bundle held at a time.
struct Bundles<'a> {
    src: &'a TilesSource,
    size: u64,
    next: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Bundles<'_> {
    fn refill(&mut self) -> Result<(), String> {
        let index = self.next;
        let width = (self.size - index * TILE).min(TILE);
        let path = TilePath {
            level: None,
            index,
            width,
        };
        let bytes = self.src.fetch(&format!("tile/{}", path.render()))?;
        self.buf.clear();
        self.pos = 0;
        let mut at = 0usize;
        let mut entries = 0u64;
        while at < bytes.len() {
            let len = bytes
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or_else(|| format!("bundle {}: a cut length", path.render()))?;
            let entry = bytes
                .get(at + 2..at + 2 + len)
                .ok_or_else(|| format!("bundle {}: a cut entry", path.render()))?;
            if entry.contains(&b'\n') {
                return Err(format!(
                    "bundle {}: an entry holds a newline",
                    path.render()
                ));
            }
            self.buf.extend_from_slice(entry);
            self.buf.push(b'\n');
            at += 2 + len;
            entries += 1;
        }
        if entries != width {
            return Err(format!(
                "bundle {}: {entries} entries, not {width}",
                path.render()
            ));
        }
        self.next += 1;
        Ok(())
    }
}

impl Read for Bundles<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.next * TILE >= self.size {
                return Ok(0);
            }
            self.refill().map_err(std::io::Error::other)?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
