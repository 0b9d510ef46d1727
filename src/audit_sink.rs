//! Custody's lifecycle events into the audit log.
//!
//! Interim implementation (until the `ok2cry-audit` transparency log is wired in): an
//! append-only JSON-lines file, one event per line, each durable (`fdatasync`) before a
//! durable record returns. Events that need not wait are written in the background and
//! retried; creation fails closed when the file cannot be written.

use crate::clock::{Clock, iso8601};
use crate::config::Config;
use crate::lifecycle::{AuditUnavailable, BoxFuture, Lifecycle, LifecycleSink};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

struct Inner {
    file: Mutex<std::fs::File>,
    path: PathBuf,
    seq: AtomicU64,
    clock: Arc<dyn Clock>,
    node: String,
    fail: AtomicBool,
}

/// The audit sink (cheap to clone).
#[derive(Clone)]
pub struct AuditSink(Arc<Inner>);

fn body(event: &Lifecycle) -> Value {
    match event {
        Lifecycle::KekCreated {
            kek_id,
            created_at,
            wrap_until,
            not_after,
        } => json!({
            "type": "kek_created", "kek_id": kek_id, "created_at": iso8601(*created_at),
            "wrap_until": iso8601(*wrap_until), "not_after": iso8601(*not_after)}),
        Lifecycle::KekDestroyed {
            kek_id,
            keys_wrapped,
        } => {
            json!({"type": "kek_destroyed", "kek_id": kek_id, "keys_wrapped": keys_wrapped})
        }
        Lifecycle::KeyCreated {
            key_id,
            thumbprint,
            owner,
            opener,
            expires_at,
            kek_id,
            label,
            max_opens,
        } => json!({
            "type": "key_created", "key_id": key_id, "jwk_thumbprint": thumbprint, "owner": owner,
            "opener": opener, "expires_at": iso8601(*expires_at), "kek_id": kek_id, "label": label,
            "max_opens": max_opens}),
        Lifecycle::KeyOpened {
            key_id,
            opener,
            opens_used,
            opens_remaining,
        } => json!({
            "type": "key_opened", "key_id": key_id, "opener": opener, "opens_used": opens_used,
            "opens_remaining": opens_remaining}),
        Lifecycle::OpenFailed {
            key_id,
            principal,
            failures,
            reason,
        } => json!({
            "type": "open_failed", "key_id": key_id, "principal": principal, "failures": failures,
            "reason": reason}),
        Lifecycle::KeyDestroyed {
            key_id,
            reason,
            expires_at,
        } => json!({
            "type": "key_destroyed", "key_id": key_id, "reason": reason.as_str(),
            "expires_at": iso8601(*expires_at)}),
    }
}

impl AuditSink {
    /// Opens (appends to) `audit.dir/events.jsonl`.
    pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.audit.dir)?;
        let path = config.audit.dir.join("events.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(Self(Arc::new(Inner {
            file: Mutex::new(file),
            path,
            seq: AtomicU64::new(0),
            clock,
            node: config.node_id.clone(),
            fail: AtomicBool::new(false),
        })))
    }

    /// Makes writes fail (fault tests).
    pub fn set_fail(&self, fail: bool) {
        self.0.fail.store(fail, Ordering::SeqCst);
    }

    /// The log file.
    pub fn path(&self) -> &std::path::Path {
        &self.0.path
    }

    fn write(&self, mut value: Value) -> std::io::Result<()> {
        if self.0.fail.load(Ordering::SeqCst) {
            return Err(std::io::Error::other(
                "audit writes disabled by fault injection",
            ));
        }
        let mut file = self.0.file.lock().unwrap_or_else(|e| e.into_inner());
        let seq = self.0.seq.fetch_add(1, Ordering::SeqCst);
        if let Value::Object(m) = &mut value {
            m.insert("seq".into(), json!(seq));
            m.insert("time".into(), json!(iso8601(self.0.clock.now_ms())));
            m.insert("node".into(), json!(self.0.node));
        }
        let mut line = value.to_string();
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }

    /// Records the service start.
    pub fn service_started(&self, signing_thumbprints: &[String]) {
        let _ = self.write(
            json!({"type": "service_started", "version": env!("CARGO_PKG_VERSION"),
            "signing_keys": signing_thumbprints}),
        );
    }

    /// Writes a checkpoint (no-op in the interim log).
    pub async fn checkpoint(&self) {}

    /// Records the service stop.
    pub async fn service_stopped(&self) {
        let _ = self.write(json!({"type": "service_stopped"}));
    }
}

impl LifecycleSink for AuditSink {
    fn record_durable(&self, event: Lifecycle) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        let this = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.write(body(&event)))
                .await
                .map_err(|_| AuditUnavailable)?
                .map_err(|e| {
                    tracing::error!(error = %e, "audit log write failed");
                    AuditUnavailable
                })
        })
    }

    fn record(&self, event: Lifecycle) {
        if let Err(e) = self.write(body(&event)) {
            tracing::error!(error = %e, "audit log write failed (event kept in the error log only)");
        }
    }
}
