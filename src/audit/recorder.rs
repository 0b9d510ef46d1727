//! The interface through which custody and the node emit events.
//!
//! Events caused by a request (creation, open, refused open, delete) are recorded durably:
//! the request answers only once they are on disk, and fails closed when they cannot be.
//! Events caused by time and shutdown (expiry, KEK rotation) are queued and retried, so
//! destruction always proceeds.

use super::event::EventBody;
use super::store::{AuditError, AuditLog};
use std::future::Future;
use std::pin::Pin;

/// The audit log could not make an event durable (full disk, I/O error, backpressure).
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log unavailable")]
pub struct AuditUnavailable;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where events go.
pub trait Recorder: Send + Sync + 'static {
    /// Records `events` (in order, as one batch) and resolves once they are durable; fails
    /// when they cannot be. The events are taken when this is called (not when the future is
    /// polled), so the write happens (or fails) even if the future is dropped.
    fn record_durable(&self, events: Vec<EventBody>)
    -> BoxFuture<'_, Result<(), AuditUnavailable>>;
    /// Records `event`; never fails to the caller (queued and retried).
    fn record(&self, event: EventBody);
}

impl Recorder for AuditLog {
    fn record_durable(
        &self,
        events: Vec<EventBody>,
    ) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        // Handed to the writer now: the order of calls is the order in the log.
        let written = self.append_durable(events);
        Box::pin(async move {
            written.await.map(|_| ()).map_err(|e| {
                if !matches!(e, AuditError::Busy) {
                    tracing::error!(error = %e, "audit log cannot make an event durable");
                }
                AuditUnavailable
            })
        })
    }

    fn record(&self, event: EventBody) {
        self.append(event);
    }
}

/// A recorder that keeps events in memory (unit tests and tools).
#[derive(Default)]
pub struct MemoryRecorder {
    events: std::sync::Mutex<Vec<EventBody>>,
    fail_durable: std::sync::atomic::AtomicBool,
}

impl MemoryRecorder {
    /// Every event so far.
    pub fn events(&self) -> Vec<EventBody> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Makes durable recording fail (or succeed again).
    pub fn set_fail_durable(&self, fail: bool) {
        self.fail_durable
            .store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Recorder for MemoryRecorder {
    fn record_durable(
        &self,
        events: Vec<EventBody>,
    ) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        let fail = self.fail_durable.load(std::sync::atomic::Ordering::SeqCst);
        if !fail && let Ok(mut e) = self.events.lock() {
            e.extend(events);
        }
        Box::pin(async move { if fail { Err(AuditUnavailable) } else { Ok(()) } })
    }

    fn record(&self, event: EventBody) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event);
        }
    }
}
