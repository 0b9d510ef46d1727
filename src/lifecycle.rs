//! Lifecycle events: what custody tells the audit log.
//!
//! Custody emits every step through one interface, [`LifecycleSink`]. The events carry no
//! secret, plaintext or context value: the types have no field for them. Creation waits for
//! its event to be durable ([`LifecycleSink::record_durable`]) and fails closed when it
//! cannot be; everything else ([`LifecycleSink::record`]) is queued and retried, so
//! destruction always proceeds.

use crate::clock::Millis;
use std::future::Future;
use std::pin::Pin;

/// Why a key was destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestroyReason {
    /// Its opens were used up.
    Consumed,
    /// Its TTL ran out.
    Expired,
    /// Deleted early by its creator or opener.
    Revoked,
    /// Too many failed opens.
    FailedOpens,
    /// The service shut down.
    Shutdown,
    /// Its KEK was destroyed before it (crypto-shredded).
    KekDestroyed,
}

impl DestroyReason {
    /// The reason's name in the API, the log and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::FailedOpens => "failed_opens",
            Self::Shutdown => "shutdown",
            Self::KekDestroyed => "kek_destroyed",
        }
    }
}

/// One step in the life of a key or KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// A KEK was created.
    KekCreated {
        kek_id: u64,
        created_at: Millis,
        wrap_until: Millis,
        not_after: Millis,
    },
    /// A KEK was destroyed.
    KekDestroyed { kek_id: u64, keys_wrapped: u64 },
    /// A key was created.
    KeyCreated {
        key_id: String,
        thumbprint: String,
        owner: String,
        opener: String,
        expires_at: Millis,
        kek_id: u64,
        label: Option<String>,
        max_opens: u32,
    },
    /// An envelope was opened.
    KeyOpened {
        key_id: String,
        opener: String,
        opens_used: u32,
        opens_remaining: u32,
    },
    /// An open failed.
    OpenFailed {
        key_id: String,
        principal: String,
        failures: u32,
        reason: &'static str,
    },
    /// A key was destroyed.
    KeyDestroyed {
        key_id: String,
        reason: DestroyReason,
        expires_at: Millis,
    },
}

/// The audit log could not make an event durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log unavailable")]
pub struct AuditUnavailable;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where lifecycle events go.
pub trait LifecycleSink: Send + Sync + 'static {
    /// Records `event` and resolves once it is durable; fails when it cannot be.
    fn record_durable(&self, event: Lifecycle) -> BoxFuture<'_, Result<(), AuditUnavailable>>;
    /// Records `event`; never fails to the caller (queued and retried).
    fn record(&self, event: Lifecycle);
}

/// A sink that keeps events in memory (unit tests and tools).
#[derive(Default)]
pub struct MemorySink {
    events: std::sync::Mutex<Vec<Lifecycle>>,
    fail_durable: std::sync::atomic::AtomicBool,
}

impl MemorySink {
    /// Every event so far.
    pub fn events(&self) -> Vec<Lifecycle> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
    /// Makes durable recording fail (or succeed again).
    pub fn set_fail_durable(&self, fail: bool) {
        self.fail_durable
            .store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

impl LifecycleSink for MemorySink {
    fn record_durable(&self, event: Lifecycle) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        let fail = self.fail_durable.load(std::sync::atomic::Ordering::SeqCst);
        if !fail {
            self.record(event);
        }
        Box::pin(async move { if fail { Err(AuditUnavailable) } else { Ok(()) } })
    }
    fn record(&self, event: Lifecycle) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event);
        }
    }
}
