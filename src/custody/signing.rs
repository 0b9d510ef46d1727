//! The service's token-signing keys (ES256) and the JWK set that publishes them.
//!
//! Signing keys are as disposable as everything else: generated in RAM at start, rotated on a
//! period, and a retired key stays published until every token it signed has expired
//! (`retired_at + max key TTL`), then it is dropped and zeroized.
//!
//! Layer: custody. Owns the token-signing keys and their rotation; it knows nothing of routes,
//! principals or the audit log.

use crate::clock::Millis;
use ok2cry_client::{CryptoProvider, Jwks, TokenSigner};
use std::sync::{Arc, RwLock};

struct Entry {
    signer: Arc<TokenSigner>,
    created_at: Millis,
    retired_at: Option<Millis>,
}

/// The ring of signing keys: one current, some retired but still published.
pub struct SigningRing {
    entries: RwLock<Vec<Entry>>,
    provider: &'static dyn CryptoProvider,
    period_ms: u64,
    max_ttl_ms: u64,
}

impl SigningRing {
    /// A ring with one fresh key, made and used by `provider`.
    pub fn new(
        now: Millis,
        period_ms: u64,
        max_ttl_ms: u64,
        provider: &'static dyn CryptoProvider,
    ) -> Result<Self, ok2cry_client::Error> {
        Ok(Self {
            entries: RwLock::new(vec![Entry {
                signer: Arc::new(TokenSigner::generate_with(provider)?),
                created_at: now,
                retired_at: None,
            }]),
            provider,
            period_ms,
            max_ttl_ms,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        // Poisoning only means a panic elsewhere; the vector is always consistent.
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> Arc<TokenSigner> {
        let entries = self.read();
        match entries.iter().rev().find(|e| e.retired_at.is_none()) {
            Some(e) => e.signer.clone(),
            // The ring always holds a current key (tick adds before it retires); should that
            // ever not hold, a fresh key is safe.
            None => Arc::new(TokenSigner::generate()),
        }
    }

    /// Rotates when the period is over and drops retired keys no token can need.
    /// Returns true when the published set changed.
    pub fn tick(&self, now: Millis) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        let due = entries
            .iter()
            .rev()
            .find(|e| e.retired_at.is_none())
            .is_none_or(|e| now >= e.created_at.saturating_add(self.period_ms));
        if due {
            match TokenSigner::generate_with(self.provider) {
                Ok(signer) => {
                    for e in entries.iter_mut().filter(|e| e.retired_at.is_none()) {
                        e.retired_at = Some(now);
                    }
                    entries.push(Entry {
                        signer: Arc::new(signer),
                        created_at: now,
                        retired_at: None,
                    });
                    changed = true;
                }
                // The current key stays in use; the next tick tries again.
                Err(_) => tracing::error!("signing key rotation failed: no new key could be made"),
            }
        }
        let keep_for = self.max_ttl_ms.saturating_add(1_000);
        let before = entries.len();
        entries.retain(|e| {
            e.retired_at
                .is_none_or(|r| now < r.saturating_add(keep_for))
        });
        changed || entries.len() != before
    }

    /// The published JWK set: the current key and retired keys still needed.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.read().iter().map(|e| e.signer.public_jwk()).collect(),
        }
    }

    /// The key ids (RFC 7638 thumbprints) of the published keys.
    pub fn thumbprints(&self) -> Vec<String> {
        self.read()
            .iter()
            .map(|e| e.signer.kid().to_owned())
            .collect()
    }

    /// Drops every key (shutdown).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_retired_keys_until_their_tokens_expired() {
        let ring = SigningRing::new(0, 1_000, 5_000, &ok2cry_client::provider::AWS_LC).unwrap();
        let first = ring.current().kid().to_owned();
        assert!(!ring.tick(999));
        assert!(ring.tick(1_000));
        let second = ring.current().kid().to_owned();
        assert_ne!(first, second);
        assert_eq!(ring.thumbprints(), vec![first.clone(), second.clone()]);
        // A token signed at 999 by `first` lives until at most 5_999.
        assert!(ring.jwks().find(&first).is_some());
        ring.tick(1_500);
        assert!(ring.jwks().find(&first).is_some());
        ring.tick(2_000); // rotates again
        assert!(ring.jwks().find(&first).is_some());
        ring.tick(7_000);
        assert!(ring.jwks().find(&first).is_none());
        assert!(ring.jwks().find(ring.current().kid()).is_some());
    }
}
