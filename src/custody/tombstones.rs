//! Tombstones: what answers `410 Gone` (when, and why) for a while after a key is destroyed.
//!
//! A busy node destroys keys all day; each tombstone must therefore cost as little as
//! possible, and the set must not grow with the number of keys ever made. So a tombstone is
//! not a cache entry keyed by the key id (about 515 bytes each in a `moka` cache) but a
//! **mark** in a time bucket:
//!
//! - the key id is reduced to a 64-bit digest, keyed by a secret random per process (SipHash
//!   through [`std::hash::RandomState`]), so nobody outside can aim two key ids at one mark;
//! - the mark's value packs the destruction time, as milliseconds from the bucket's start, and
//!   the reason into 32 bits;
//! - marks live in buckets of [`Tombstones::bucket_width_ms`] of destruction time, oldest
//!   first; a whole bucket is dropped at once when its newest mark has outlived the TTL, so
//!   expiry costs nothing per mark and needs no timer.
//!
//! A mark costs 12 bytes of table slot plus the table's control byte and spare capacity:
//! about 16 to 30 bytes (docs/PERFORMANCE.md measures it). A lookup answers a tombstone only
//! while `destroyed_at + ttl` lies ahead, so the TTL is exact even though buckets are dropped
//! a little later. When more than `max` marks are held, the oldest buckets go first.
//!
//! What a 64-bit digest gives up: two different key ids with the same digest would share a
//! mark, so a key id that never existed could answer 410 instead of 404. With a million marks
//! the chance for a given unknown key id is about 5 × 10⁻¹⁴, and the digest's key is secret;
//! a live key is never affected (the live store is keyed by the full key id, and is asked
//! first).
//!
//! Layer: custody. Owns the marks and their expiry; it knows nothing of keys' material, the
//! log or time sources (callers pass the time).

use crate::audit::event::DestroyReason;
use crate::clock::Millis;
use ok2cry_client::KeyId;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Mutex;

/// A destroyed key's tombstone: when, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// When it was destroyed.
    pub destroyed_at: Millis,
    /// Why.
    pub reason: DestroyReason,
}

/// The widest bucket: one minute of destructions.
const MAX_BUCKET_MS: u64 = 60_000;
/// The narrowest bucket.
const MIN_BUCKET_MS: u64 = 1_000;
/// Bits of a mark's value that hold the reason.
const REASON_BITS: u32 = 4;

/// The marks are already uniformly distributed keyed digests: the table uses them as they
/// are instead of hashing them again.
#[derive(Default)]
struct Digest(u64);

impl Hasher for Digest {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are u64); fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Marks = HashMap<u64, u32, BuildHasherDefault<Digest>>;

struct Bucket {
    /// The first millisecond of destruction time this bucket holds.
    start: Millis,
    marks: Marks,
}

struct Inner {
    /// Oldest first, by `start`; no two with the same start.
    buckets: VecDeque<Bucket>,
    len: usize,
}

/// The tombstones of one node (see the module docs).
pub struct Tombstones {
    digest_key: RandomState,
    ttl_ms: u64,
    max: usize,
    width_ms: u64,
    inner: Mutex<Inner>,
}

impl Tombstones {
    /// Tombstones kept `ttl_ms` after each destruction, at most `max` of them.
    pub fn new(ttl_ms: u64, max: u64) -> Self {
        Self {
            digest_key: RandomState::new(),
            ttl_ms,
            max: usize::try_from(max).unwrap_or(usize::MAX),
            // About sixteen buckets over the TTL, so that a dropped bucket is a small part
            // of the whole and a kept one outlives the TTL by little.
            width_ms: (ttl_ms / 16).clamp(MIN_BUCKET_MS, MAX_BUCKET_MS),
            inner: Mutex::new(Inner {
                buckets: VecDeque::new(),
                len: 0,
            }),
        }
    }

    /// How much destruction time one bucket holds.
    pub fn bucket_width_ms(&self) -> u64 {
        self.width_ms
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the buckets and the count consistent before it can panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn digest(&self, key_id: &KeyId) -> u64 {
        self.digest_key.hash_one(key_id.as_str())
    }

    fn bucket_start(&self, at: Millis) -> Millis {
        at - at % self.width_ms
    }

    /// Records that `key_id` was destroyed at `tombstone.destroyed_at`, and drops the buckets
    /// that have outlived the TTL by then.
    pub fn insert(&self, key_id: &KeyId, tombstone: Tombstone) {
        let digest = self.digest(key_id);
        let at = tombstone.destroyed_at;
        let start = self.bucket_start(at);
        // The offset is below the width (at most 60,000 < 2^28), the reason below 16.
        let value = (((at - start) as u32) << REASON_BITS) | reason_code(tombstone.reason);
        let mut inner = self.lock();
        let index = match inner.buckets.binary_search_by_key(&start, |b| b.start) {
            Ok(i) => i,
            Err(i) => {
                inner.buckets.insert(
                    i,
                    Bucket {
                        start,
                        marks: Marks::default(),
                    },
                );
                i
            }
        };
        if let Some(bucket) = inner.buckets.get_mut(index)
            && bucket.marks.insert(digest, value).is_none()
        {
            inner.len += 1;
        }
        self.evict(&mut inner, at);
    }

    /// The tombstone of `key_id`, if it was destroyed less than the TTL before `now`.
    pub fn get(&self, key_id: &KeyId, now: Millis) -> Option<Tombstone> {
        let digest = self.digest(key_id);
        let inner = self.lock();
        // Newest first: a key id is destroyed once, and recent ones are asked about most.
        inner.buckets.iter().rev().find_map(|bucket| {
            let value = *bucket.marks.get(&digest)?;
            let destroyed_at = bucket.start + u64::from(value >> REASON_BITS);
            let reason = reason_from_code(value & ((1 << REASON_BITS) - 1))?;
            (destroyed_at.saturating_add(self.ttl_ms) > now).then_some(Tombstone {
                destroyed_at,
                reason,
            })
        })
    }

    /// Drops what has outlived the TTL at `now` (the sweeper calls this; inserts do too).
    pub fn expire(&self, now: Millis) {
        let mut inner = self.lock();
        self.evict(&mut inner, now);
    }

    /// How many marks are held (those past their TTL but not yet dropped included).
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn evict(&self, inner: &mut Inner, now: Millis) {
        loop {
            let Some(oldest) = inner.buckets.front() else {
                return;
            };
            // A bucket's newest mark is at most `start + width - 1`.
            let outlived = oldest
                .start
                .saturating_add(self.width_ms)
                .saturating_add(self.ttl_ms)
                <= now;
            if !outlived && inner.len <= self.max {
                return;
            }
            if let Some(bucket) = inner.buckets.pop_front() {
                inner.len -= bucket.marks.len();
            }
        }
    }
}

fn reason_code(reason: DestroyReason) -> u32 {
    DestroyReason::ALL
        .iter()
        .position(|r| *r == reason)
        .map_or(0, |i| i as u32)
}

fn reason_from_code(code: u32) -> Option<DestroyReason> {
    DestroyReason::ALL.get(code as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u64) -> KeyId {
        KeyId::new(format!("n1_{n:020}")).unwrap()
    }

    const HOUR: u64 = 3_600_000;

    #[test]
    fn a_tombstone_answers_for_exactly_its_ttl() {
        let t = Tombstones::new(HOUR, 1_000_000);
        let at = 1_800_000_000_123;
        let stone = Tombstone {
            destroyed_at: at,
            reason: DestroyReason::Consumed,
        };
        t.insert(&id(1), stone);
        assert_eq!(t.get(&id(1), at), Some(stone));
        assert_eq!(t.get(&id(1), at + HOUR - 1), Some(stone));
        assert_eq!(t.get(&id(1), at + HOUR), None);
        assert_eq!(t.get(&id(2), at), None);
    }

    #[test]
    fn every_reason_and_offset_round_trips() {
        let t = Tombstones::new(HOUR, 1_000_000);
        let base = 1_800_000_000_000 - 1_800_000_000_000 % t.bucket_width_ms();
        let mut n = 0;
        for reason in DestroyReason::ALL {
            for offset in [0, 1, t.bucket_width_ms() / 2, t.bucket_width_ms() - 1] {
                n += 1;
                let stone = Tombstone {
                    destroyed_at: base + offset,
                    reason,
                };
                t.insert(&id(n), stone);
                assert_eq!(t.get(&id(n), base), Some(stone));
            }
        }
        assert_eq!(t.len(), n as usize);
    }

    #[test]
    fn old_buckets_are_dropped_whole_and_memory_does_not_grow_with_history() {
        let t = Tombstones::new(60_000, 1_000_000);
        let width = t.bucket_width_ms();
        assert_eq!(width, 3_750);
        // Ten minutes of 100 destructions a second.
        let mut held = Vec::new();
        for ms in (0..600_000u64).step_by(10) {
            let now = 1_800_000_000_000 + ms;
            t.insert(
                &id(ms),
                Tombstone {
                    destroyed_at: now,
                    reason: DestroyReason::Expired,
                },
            );
            held.push(t.len());
        }
        // At most the TTL plus one bucket of destructions is ever held (6,000 + 375, and the
        // one just made).
        assert!(held.iter().all(|&n| n <= 6_376), "{:?}", held.iter().max());
        t.expire(1_800_000_000_000 + 600_000 + 60_000 + width);
        assert!(t.is_empty());
    }

    #[test]
    fn beyond_max_the_oldest_go_first() {
        let t = Tombstones::new(HOUR, 1_000);
        let width = t.bucket_width_ms();
        for n in 0..5_000u64 {
            t.insert(
                &id(n),
                Tombstone {
                    destroyed_at: 1_800_000_000_000 + n * width / 100,
                    reason: DestroyReason::Revoked,
                },
            );
        }
        assert!(t.len() <= 1_000);
        let now = 1_800_000_000_000 + 5_000 * width / 100;
        assert!(t.get(&id(4_999), now).is_some());
        assert!(t.get(&id(0), now).is_none());
    }

    #[test]
    fn a_destruction_dated_in_the_past_still_finds_its_bucket() {
        // Recovery dates a lost key by the dead process's last event, before newer ones.
        let t = Tombstones::new(HOUR, 1_000_000);
        let now = 1_800_000_000_000;
        let recent = Tombstone {
            destroyed_at: now,
            reason: DestroyReason::Expired,
        };
        let earlier = Tombstone {
            destroyed_at: now - 10 * t.bucket_width_ms() - 7,
            reason: DestroyReason::ProcessLost,
        };
        t.insert(&id(1), recent);
        t.insert(&id(2), earlier);
        assert_eq!(t.get(&id(1), now), Some(recent));
        assert_eq!(t.get(&id(2), now), Some(earlier));
    }

    proptest! {
        /// Against a plain map of every tombstone: the same answer at every time asked.
        #[test]
        fn answers_as_a_plain_map_would(
            events in proptest::collection::vec((0u64..50, 0u64..200_000, 0usize..8), 1..200),
            asks in proptest::collection::vec((0u64..50, 0u64..400_000), 1..50),
        ) {
            let ttl = 30_000;
            let t = Tombstones::new(ttl, 1_000_000);
            let mut model: HashMap<u64, Tombstone> = HashMap::new();
            let mut sorted = events.clone();
            sorted.sort_by_key(|e| e.1);
            for (key, at, reason) in sorted {
                if model.contains_key(&key) {
                    continue; // a key id is destroyed once
                }
                let stone = Tombstone { destroyed_at: at, reason: DestroyReason::ALL[reason] };
                t.insert(&id(key), stone);
                model.insert(key, stone);
            }
            let last = model.values().map(|s| s.destroyed_at).max().unwrap_or(0);
            for (key, later) in asks {
                let now = last + later;
                let expected = model
                    .get(&key)
                    .filter(|s| s.destroyed_at + ttl > now)
                    .copied();
                prop_assert_eq!(t.get(&id(key), now), expected);
            }
        }
    }
}
