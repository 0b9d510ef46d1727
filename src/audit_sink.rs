//! Custody's lifecycle events into the audit transparency log ([`crate::audit`]).
//!
//! The one adapter between the [`LifecycleSink`] interface custody speaks and the log:
//! creation waits for durability (and fails closed), everything else is queued and retried.

use crate::audit::{AuditError, AuditLog, AuditOptions, EventBody, Recovery};
use crate::clock::{Clock, iso8601};
use crate::config::Config;
use crate::lifecycle::{AuditUnavailable, BoxFuture, Lifecycle, LifecycleSink};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The audit sink (cheap to clone).
#[derive(Clone)]
pub struct AuditSink {
    log: AuditLog,
    fault: Arc<AtomicBool>,
}

fn body(event: Lifecycle) -> EventBody {
    match event {
        Lifecycle::KekCreated {
            kek_id,
            wrap_until,
            not_after,
            ..
        } => EventBody::KekCreated {
            kek_id,
            wrap_until: iso8601(wrap_until),
            not_after: iso8601(not_after),
        },
        Lifecycle::KekDestroyed {
            kek_id,
            keys_wrapped,
        } => EventBody::KekDestroyed {
            kek_id,
            keys_wrapped,
        },
        Lifecycle::KeyCreated {
            key_id,
            thumbprint,
            owner,
            opener,
            expires_at,
            kek_id,
            label,
            max_opens,
        } => EventBody::KeyCreated {
            key_id,
            jwk_thumbprint: thumbprint,
            owner,
            opener,
            expires_at: iso8601(expires_at),
            kek_id,
            label,
            max_opens,
        },
        Lifecycle::KeyOpened {
            key_id,
            opener,
            opens_used,
            opens_remaining,
        } => EventBody::KeyOpened {
            key_id,
            opener,
            opens_used,
            opens_remaining,
        },
        Lifecycle::OpenFailed {
            key_id,
            principal,
            failures,
            reason,
        } => EventBody::OpenFailed {
            key_id,
            principal,
            failures,
            reason: reason.to_owned(),
        },
        Lifecycle::KeyDestroyed {
            key_id,
            reason,
            expires_at,
        } => EventBody::KeyDestroyed {
            key_id,
            reason: reason.as_str().to_owned(),
            expires_at: iso8601(expires_at),
        },
    }
}

/// SHA-256 of the running executable, hex (the build digest in `service_started`).
pub fn build_digest() -> String {
    static DIGEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIGEST
        .get_or_init(|| {
            std::env::current_exe()
                .and_then(std::fs::read)
                .map(|bytes| hex::encode(Sha256::digest(bytes)))
                .unwrap_or_else(|_| "unknown".into())
        })
        .clone()
}

impl AuditSink {
    /// Opens the log in `audit.dir` (recovering from a crash) and returns what recovery did.
    pub async fn open(
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Recovery), AuditError> {
        let fault = Arc::new(AtomicBool::new(false));
        let opts = AuditOptions {
            dir: config.audit.dir.clone(),
            node: config.node_id.clone(),
            origin_prefix: format!("ok2cry.audit/{}", config.node_id),
            segment_max_bytes: config.audit.segment_max_bytes,
            retain_segments: config.audit.retain_segments,
            fault: fault.clone(),
        };
        let (log, recovery) = tokio::task::spawn_blocking(move || AuditLog::open(opts, clock))
            .await
            .map_err(|e| AuditError::Io(e.to_string()))??;
        Ok((Self { log, fault }, recovery))
    }

    /// The log.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Fault injection: while set, every write fails as if the disk were gone.
    pub fn set_fail(&self, fail: bool) {
        self.fault.store(fail, Ordering::SeqCst);
    }

    /// Records the service start.
    pub fn service_started(&self, signing_thumbprints: &[String]) {
        self.log.append_retrying(EventBody::ServiceStarted {
            version: env!("CARGO_PKG_VERSION").into(),
            build_digest: build_digest(),
            signing_keys: signing_thumbprints.to_vec(),
        });
    }

    /// Publishes a signed checkpoint now.
    pub async fn checkpoint(&self) -> Option<String> {
        self.log.checkpoint_now().await
    }

    /// Records the stop, seals the segment with a final checkpoint, stops the writer.
    pub async fn service_stopped(&self) {
        self.log.append_retrying(EventBody::ServiceStopped {});
        self.log.close().await;
    }
}

impl LifecycleSink for AuditSink {
    fn record_durable(&self, event: Lifecycle) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        Box::pin(async move {
            self.log
                .append_durable(body(event))
                .await
                .map(|_| ())
                .map_err(|e| {
                    tracing::error!(error = %e, "audit log cannot make an event durable");
                    AuditUnavailable
                })
        })
    }

    fn record(&self, event: Lifecycle) {
        self.log.append_retrying(body(event));
    }
}
