//! Key-encryption keys (KEKs): "disposable keys all the way down".
//!
//! Every private key is wrapped at once under the current KEK with AES-256-GCM; the AAD binds
//! the key id, its expiry and the KEK id, so a wrapped key cannot be moved to another id or
//! given a longer life. A KEK wraps new keys only during its rotation period (`wrap_until`)
//! and lives until the longest TTL it may have wrapped has run out (`not_after`); then it is
//! dropped from the ring and zeroized. Destroying a KEK crypto-shreds every key it wrapped.
//!
//! Layer: custody. Owns the KEKs and their rotation; it knows nothing of routes, principals
//! or the audit log (custody logs what happens to KEKs).

use crate::clock::Millis;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

/// Length of a wrapped private key: nonce (12) || ciphertext (32) || tag (16).
pub const WRAPPED_LEN: usize = 12 + 32 + 16;

/// A wrapped private scalar. Not secret on its own (it needs the KEK), zeroized anyway.
pub struct WrappedKey {
    bytes: Zeroizing<[u8; WRAPPED_LEN]>,
    kek_id: u64,
}

impl WrappedKey {
    /// The KEK this key is wrapped under.
    pub fn kek_id(&self) -> u64 {
        self.kek_id
    }
}

/// Why a KEK operation failed. Deliberately coarse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// The OS random source failed.
    #[error("random source unavailable")]
    Random,
    /// The KEK is gone (rotated out and destroyed): the key is crypto-shredded.
    #[error("key-encryption key destroyed")]
    KekDestroyed,
    /// Unwrapping failed (wrong AAD or corrupted bytes).
    #[error("unwrap failed")]
    Unwrap,
    /// No KEK may wrap now: the current one's wrapping period is over and the ring has not
    /// been ticked (the caller ticks it, and records what the tick did, first).
    #[error("no key-encryption key may wrap now")]
    NoCurrentKek,
}

/// One KEK. A secret type: derives nothing; the AES key schedule zeroizes on drop (aes-gcm's
/// `zeroize` feature).
pub struct Kek {
    id: u64,
    cipher: Aes256Gcm,
    created_at: Millis,
    wrap_until: Millis,
    not_after: Millis,
    wrapped: AtomicU64,
}

/// What the ring reports about a KEK that was created or destroyed (for the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekInfo {
    /// KEK id.
    pub id: u64,
    /// Creation time.
    pub created_at: Millis,
    /// New keys are wrapped under it until then.
    pub wrap_until: Millis,
    /// It is destroyed at this time.
    pub not_after: Millis,
    /// How many keys it wrapped.
    pub keys_wrapped: u64,
}

impl Kek {
    fn generate(id: u64, now: Millis, period_ms: u64, max_ttl_ms: u64) -> Result<Self, KekError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| KekError::Random)?;
        let cipher = Aes256Gcm::new_from_slice(key.as_slice()).map_err(|_| KekError::Random)?;
        let wrap_until = now.saturating_add(period_ms);
        Ok(Self {
            id,
            cipher,
            created_at: now,
            wrap_until,
            // A key wrapped at the last moment lives max_ttl longer; one second of margin
            // covers a sweep tick.
            not_after: wrap_until.saturating_add(max_ttl_ms).saturating_add(1_000),
            wrapped: AtomicU64::new(0),
        })
    }

    fn info(&self) -> KekInfo {
        KekInfo {
            id: self.id,
            created_at: self.created_at,
            wrap_until: self.wrap_until,
            not_after: self.not_after,
            keys_wrapped: self.wrapped.load(Ordering::Relaxed),
        }
    }
}

fn aad(key_id: &str, expires_at: Millis, kek_id: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(key_id.len() + 17);
    aad.extend_from_slice(key_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&expires_at.to_be_bytes());
    aad.extend_from_slice(&kek_id.to_be_bytes());
    aad
}

/// The ring of live KEKs.
pub struct KekRing {
    keks: RwLock<BTreeMap<u64, Arc<Kek>>>,
    next_id: AtomicU64,
    period_ms: u64,
    max_ttl_ms: u64,
    /// Set by [`KekRing::destroy_all`] under the write lock: a sweep still running when the
    /// node shuts down must not make a KEK after every KEK was destroyed (and logged so).
    closed: AtomicBool,
}

impl KekRing {
    /// A ring with one fresh KEK.
    pub fn new(now: Millis, period_ms: u64, max_ttl_ms: u64) -> Result<(Self, KekInfo), KekError> {
        let ring = Self {
            keks: RwLock::new(BTreeMap::new()),
            // Ids unique across the node's processes (the audit log names KEKs of a dead
            // process by id): a later process starts at a later millisecond, and one process
            // cannot create a thousand KEKs per millisecond it runs.
            next_id: AtomicU64::new(now.saturating_mul(1000).saturating_add(1)),
            period_ms,
            max_ttl_ms,
            closed: AtomicBool::new(false),
        };
        let info = ring.add(&mut ring.write(), now)?;
        Ok((ring, info))
    }

    fn add(&self, map: &mut BTreeMap<u64, Arc<Kek>>, now: Millis) -> Result<KekInfo, KekError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let kek = Arc::new(Kek::generate(id, now, self.period_ms, self.max_ttl_ms)?);
        let info = kek.info();
        map.insert(id, kek);
        Ok(info)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u64, Arc<Kek>>> {
        // A poisoned lock only means a thread panicked while holding it; the map is still
        // consistent (inserts and removes are single operations).
        self.keks.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, Arc<Kek>>> {
        self.keks.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest KEK, if it may still wrap at `now`.
    /// Whether a KEK may wrap at `now` without a tick first.
    pub fn can_wrap(&self, now: Millis) -> bool {
        self.current(now).is_some()
    }

    fn current(&self, now: Millis) -> Option<Arc<Kek>> {
        self.read()
            .values()
            .next_back()
            .filter(|k| now < k.wrap_until)
            .cloned()
    }

    /// Rotates and retires as `now` requires: makes a new KEK when the current one's wrapping
    /// period is over, and destroys every KEK past `not_after`. Returns (created, destroyed).
    /// After [`KekRing::destroy_all`] it does nothing.
    pub fn tick(&self, now: Millis) -> Result<(Option<KekInfo>, Vec<KekInfo>), KekError> {
        // One write lock for the whole tick, so that it cannot interleave with destroy_all.
        let mut map = self.write();
        if self.closed.load(Ordering::SeqCst) {
            return Ok((None, Vec::new()));
        }
        let wrapping = map.values().next_back().is_some_and(|k| now < k.wrap_until);
        let created = if wrapping {
            None
        } else {
            Some(self.add(&mut map, now)?)
        };
        let mut destroyed = Vec::new();
        let due: Vec<u64> = map
            .values()
            .filter(|k| now >= k.not_after)
            .map(|k| k.id)
            .collect();
        for id in due {
            if let Some(kek) = map.remove(&id) {
                // The AES key zeroizes when the last Arc (an in-flight unwrap at most) drops.
                destroyed.push(kek.info());
            }
        }
        Ok((created, destroyed))
    }

    /// Destroys every KEK (shutdown); no KEK is made after. Returns what was destroyed.
    pub fn destroy_all(&self) -> Vec<KekInfo> {
        let mut map = self.write();
        self.closed.store(true, Ordering::SeqCst);
        let all = std::mem::take(&mut *map);
        all.into_values().map(|k| k.info()).collect()
    }

    /// Number of live KEKs.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Wraps a private scalar for `key_id` expiring at `expires_at`, under the current KEK.
    pub fn wrap(
        &self,
        now: Millis,
        key_id: &str,
        expires_at: Millis,
        scalar: &[u8; 32],
    ) -> Result<WrappedKey, KekError> {
        // Never rotates by itself: a KEK made or retired here would be missing from the
        // audit log. The custody ticks the ring (recording what changed) when this is false.
        let kek = self
            .current(now)
            .ok_or(if self.closed.load(Ordering::SeqCst) {
                KekError::KekDestroyed
            } else {
                KekError::NoCurrentKek
            })?;
        let mut bytes = Zeroizing::new([0u8; WRAPPED_LEN]);
        getrandom::fill(&mut bytes[..12]).map_err(|_| KekError::Random)?;
        let nonce = Nonce::<Aes256Gcm>::try_from(&bytes[..12]).map_err(|_| KekError::Unwrap)?;
        bytes[12..44].copy_from_slice(scalar);
        let tag = kek
            .cipher
            .encrypt_inout_detached(
                &nonce,
                &aad(key_id, expires_at, kek.id),
                (&mut bytes[12..44]).into(),
            )
            .map_err(|_| KekError::Unwrap)?;
        bytes[44..].copy_from_slice(&tag);
        kek.wrapped.fetch_add(1, Ordering::Relaxed);
        Ok(WrappedKey {
            bytes,
            kek_id: kek.id,
        })
    }

    /// Unwraps a private scalar into a zeroizing buffer on the heap (moving it never leaves
    /// a copy of the scalar behind on a stack).
    pub fn unwrap_key(
        &self,
        key_id: &str,
        expires_at: Millis,
        wrapped: &WrappedKey,
    ) -> Result<Zeroizing<Vec<u8>>, KekError> {
        let kek = self
            .read()
            .get(&wrapped.kek_id)
            .cloned()
            .ok_or(KekError::KekDestroyed)?;
        let mut scalar = Zeroizing::new(wrapped.bytes[12..44].to_vec());
        let nonce =
            Nonce::<Aes256Gcm>::try_from(&wrapped.bytes[..12]).map_err(|_| KekError::Unwrap)?;
        let tag = Tag::<Aes256Gcm>::try_from(&wrapped.bytes[44..]).map_err(|_| KekError::Unwrap)?;
        kek.cipher
            .decrypt_inout_detached(
                &nonce,
                &aad(key_id, expires_at, kek.id),
                (&mut scalar[..]).into(),
                &tag,
            )
            .map_err(|_| KekError::Unwrap)?;
        Ok(scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn wraps_and_unwraps_with_binding() {
        let (ring, _) = KekRing::new(0, 10 * MIN, 5 * MIN).unwrap();
        let scalar = [7u8; 32];
        let w = ring.wrap(0, "n_a", 1000, &scalar).unwrap();
        assert_eq!(*ring.unwrap_key("n_a", 1000, &w).unwrap(), scalar);
        assert_eq!(
            ring.unwrap_key("n_b", 1000, &w).err(),
            Some(KekError::Unwrap)
        );
        assert_eq!(
            ring.unwrap_key("n_a", 1001, &w).err(),
            Some(KekError::Unwrap)
        );
    }

    #[test]
    fn rotates_and_shreds() {
        let (ring, first) = KekRing::new(0, 10 * MIN, 5 * MIN).unwrap();
        let w = ring.wrap(0, "n_a", 5 * MIN, &[1u8; 32]).unwrap();
        // Still within the period: no rotation.
        assert_eq!(ring.tick(9 * MIN).unwrap(), (None, vec![]));
        // Period over: a new KEK, the old one kept while keys it wrapped may live.
        let (created, destroyed) = ring.tick(10 * MIN).unwrap();
        assert!(created.is_some() && destroyed.is_empty());
        let w2 = ring.wrap(10 * MIN, "n_b", 11 * MIN, &[2u8; 32]).unwrap();
        assert_ne!(w.kek_id(), w2.kek_id());
        assert!(ring.unwrap_key("n_a", 5 * MIN, &w).is_ok());
        // Past not_after of the first KEK: destroyed, its keys are unreadable.
        let (_, destroyed) = ring.tick(first.not_after).unwrap();
        assert_eq!(destroyed.len(), 1);
        assert_eq!(destroyed[0].id, first.id);
        assert_eq!(destroyed[0].keys_wrapped, 1);
        assert_eq!(
            ring.unwrap_key("n_a", 5 * MIN, &w).err(),
            Some(KekError::KekDestroyed)
        );
        assert!(ring.unwrap_key("n_b", 11 * MIN, &w2).is_ok());
    }

    #[test]
    fn wrapping_never_rotates_by_itself() {
        let (ring, first) = KekRing::new(0, MIN, 5 * MIN).unwrap();
        assert!(!ring.can_wrap(MIN));
        // Past the wrapping period and not ticked: refused, and nothing was made.
        assert_eq!(
            ring.wrap(MIN, "n_a", 2 * MIN, &[5u8; 32]).err(),
            Some(KekError::NoCurrentKek)
        );
        let (created, _) = ring.tick(MIN).unwrap();
        let created = created.unwrap();
        assert_ne!(created.id, first.id);
        let w = ring.wrap(MIN, "n_a", 2 * MIN, &[5u8; 32]).unwrap();
        assert_eq!(w.kek_id(), created.id);
    }

    #[test]
    fn no_kek_is_made_after_destroy_all() {
        let (ring, _) = KekRing::new(0, MIN, 5 * MIN).unwrap();
        assert_eq!(ring.destroy_all().len(), 1);
        // A sweep that was still running at shutdown ticks past the wrapping period.
        assert_eq!(ring.tick(2 * MIN).unwrap(), (None, vec![]));
        assert!(ring.is_empty());
        assert_eq!(
            ring.wrap(2 * MIN, "n_a", 3 * MIN, &[4u8; 32]).err(),
            Some(KekError::KekDestroyed)
        );
        assert!(ring.is_empty());
    }

    #[test]
    fn destroy_all_empties_the_ring() {
        let (ring, _) = KekRing::new(0, MIN, MIN).unwrap();
        let w = ring.wrap(0, "n_a", 10, &[3u8; 32]).unwrap();
        assert_eq!(ring.destroy_all().len(), 1);
        assert!(ring.is_empty());
        assert_eq!(
            ring.unwrap_key("n_a", 10, &w).err(),
            Some(KekError::KekDestroyed)
        );
    }
}
