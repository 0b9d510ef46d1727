//! A running ok2cry node: wires configuration, hardening, the audit log, custody, TLS and the
//! HTTP server together, and tears them down in order.
//!
//! Start-up order: harden the process → open the audit log (checking it, repairing a torn
//! tail, closing out a previous crash, refusing a rolled-back log) → submit its first
//! checkpoint to the witnesses (a witness that holds a larger tree stops the start) → custody
//! (first KEK) → `service_started` → TLS → serve. Shutdown order: stop accepting and drain →
//! destroy every key and KEK (each logged) → `service_stopped` → final checkpoint, witnessed →
//! close the log; a log that could not take every event makes the exit fail.
//!
//! Layer: node, the wiring. This folder owns the order in which the layers start and stop,
//! the configuration ([`config`]) and the dev setup ([`dev`]); it applies process
//! hardening ([`crate::hardening`]) first. It builds the layers below and hands each what it needs; they must not import
//! it (known exceptions: docs/ARCHITECTURE.md). It holds no key and serves no route itself.

pub mod config;
pub mod dev;

use crate::audit::disk::{Disk, RealDisk};
use crate::audit::witness::client::{WitnessEndpoint, Witnessing};
use crate::audit::{AuditLog, EventBody};
use crate::auth::bearer::{BearerSettings, BearerVerifier};
use crate::auth::principal::{PrincipalRegistry, Roles};
use crate::auth::tls::TlsReloader;
use crate::clock::{Clock, SystemClock};
use crate::custody::Custody;
use crate::hardening::{HardeningReport, harden};
use crate::http::server::run;
use crate::http::state::AppState;
use crate::metrics::Metrics;
use crate::node::config::Config;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the node could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] crate::node::config::ConfigError),
    /// Hardening that was required failed.
    #[error(transparent)]
    Hardening(#[from] crate::hardening::HardeningError),
    /// TLS material could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The audit log could not be opened.
    #[error("audit log: {0}")]
    Audit(String),
    /// Custody could not start.
    #[error("custody: {0}")]
    Custody(String),
    /// The attestation provider could not start.
    #[error("attestation: {0}")]
    Attestation(String),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the principal registry from configuration.
pub fn principals(config: &Config) -> Result<PrincipalRegistry, NodeError> {
    let mut registry = PrincipalRegistry::default();
    for p in &config.principals {
        let pin = match &p.spki_sha256 {
            Some(hex_pin) => {
                let bytes = hex::decode(hex_pin).map_err(|_| {
                    crate::node::config::ConfigError(format!(
                        "principals: {}: bad spki_sha256",
                        p.id
                    ))
                })?;
                let pin: [u8; 32] = bytes.try_into().map_err(|_| {
                    crate::node::config::ConfigError(format!(
                        "principals: {}: bad spki_sha256",
                        p.id
                    ))
                })?;
                Some(pin)
            }
            None => None,
        };
        registry.insert(
            p.id.clone(),
            p.roles.iter().copied().collect::<Roles>(),
            pin,
        );
        if let Some(ranges) = &p.allow_from {
            let list = crate::auth::principal::AllowList::parse(ranges).map_err(|e| {
                crate::node::config::ConfigError(format!("principals: {}: allow_from: {e}", p.id))
            })?;
            registry.restrict(&p.id, list);
        }
    }
    Ok(registry)
}

fn bearer(config: &Config) -> Result<Option<BearerVerifier>, NodeError> {
    let Some(jwt) = &config.jwt else {
        return Ok(None);
    };
    if !jwt.enabled {
        return Ok(None);
    }
    let mut verifier = BearerVerifier::new(BearerSettings {
        audience: jwt.audience.clone(),
        max_lifetime_secs: jwt.max_lifetime_seconds,
        clock_skew_secs: jwt.clock_skew_seconds,
    });
    for key in crate::node::config::read_partner_keys(&jwt.keys_file)? {
        let pem = std::fs::read_to_string(&key.public_key).map_err(|e| {
            crate::node::config::ConfigError(format!(
                "jwt key {}/{}: cannot read {}: {e}",
                key.sub,
                key.kid,
                key.public_key.display()
            ))
        })?;
        verifier.add_key(&key.sub, &key.kid, &pem).map_err(|e| {
            crate::node::config::ConfigError(format!("jwt key {}/{}: {e}", key.sub, key.kid))
        })?;
    }
    Ok(Some(verifier))
}

fn attestor(config: &Config) -> Result<Option<crate::http::state::Attestor>, NodeError> {
    use crate::node::config::AttestationMode;
    match config.attestation.provider {
        AttestationMode::Off => Ok(None),
        AttestationMode::Dev => {
            let dev = ok2cry_attestation::DevProvider::generate()
                .map_err(|e| NodeError::Attestation(e.to_string()))?;
            tracing::warn!(
                "attestation: DEVELOPMENT provider; its documents prove nothing about the build"
            );
            let dev_root = dev.root_certificate().to_vec();
            Ok(Some(crate::http::state::Attestor {
                provider: Arc::new(dev),
                kind: "development",
                dev_root: Some(dev_root),
            }))
        }
        AttestationMode::Nsm => nsm_attestor(),
        AttestationMode::SevSnp => {
            let snp = ok2cry_attestation::SevSnpProvider::open(
                ok2cry_attestation::provider::tsm::DEFAULT_TSM_REPORT_ROOT,
                ok2cry_attestation::provider::tsm::CertificateSource::Host,
                None,
            )
            .map_err(|e| NodeError::Attestation(e.to_string()))?;
            Ok(Some(crate::http::state::Attestor {
                provider: Arc::new(snp),
                kind: "sev-snp",
                dev_root: None,
            }))
        }
    }
}

#[cfg(feature = "nsm")]
fn nsm_attestor() -> Result<Option<crate::http::state::Attestor>, NodeError> {
    let nsm = ok2cry_attestation::NsmProvider::open()
        .map_err(|e| NodeError::Attestation(e.to_string()))?;
    Ok(Some(crate::http::state::Attestor {
        provider: Arc::new(nsm),
        kind: "nitro",
        dev_root: None,
    }))
}

#[cfg(not(feature = "nsm"))]
fn nsm_attestor() -> Result<Option<crate::http::state::Attestor>, NodeError> {
    Err(NodeError::Attestation(
        "attestation.provider = \"nsm\" needs a binary built with --features nsm".into(),
    ))
}

/// Everything a running node holds; returned by [`start`] so tests can reach inside.
pub struct Node {
    /// HTTP state (custody, metrics, principals).
    pub state: Arc<AppState>,
    /// TLS configuration source (reloadable).
    pub tls: Arc<TlsReloader>,
    /// The audit log.
    pub audit: AuditLog,
    /// The witnesses, if any.
    pub witnessing: Option<Arc<Witnessing>>,
    /// The archiver of sealed audit segments, if one is configured.
    pub archiver: Option<Arc<crate::audit::archive::Archiver>>,
    /// The configuration.
    pub config: Config,
    /// What hardening achieved.
    pub hardening: HardeningReport,
}

/// Archives sealed segments every `every`, and applies the retention rules. A failed pass
/// keeps every local copy and is retried at the next tick.
async fn archive_loop(
    archiver: Arc<crate::audit::archive::Archiver>,
    metrics: Arc<Metrics>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let report = archiver.pass().await;
        metrics.audit_archived.inc_by(report.archived.len() as u64);
        metrics
            .audit_unarchived
            .set(i64::try_from(report.unarchived).unwrap_or(i64::MAX));
        for failure in &report.failures {
            metrics.audit_archive_failures.inc();
            tracing::error!(
                archive = %archiver.store().location(),
                error = %failure,
                "audit archiving failed; local copies kept, retried at the next pass"
            );
        }
    }
}

/// SHA-256 of the running executable, hex (the build digest in `process_started`).
pub fn build_digest() -> String {
    use sha2::Digest;
    static DIGEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIGEST
        .get_or_init(|| {
            std::env::current_exe()
                .and_then(std::fs::read)
                .map(|bytes| hex::encode(sha2::Sha256::digest(bytes)))
                .unwrap_or_else(|_| "unknown".into())
        })
        .clone()
}

fn witnessing(config: &Config) -> Result<Option<Arc<Witnessing>>, NodeError> {
    if config.audit.witnesses.is_empty() {
        return Ok(None);
    }
    let mut endpoints = Vec::new();
    for w in &config.audit.witnesses {
        let key = crate::audit::note::NoteVerifier::from_vkey(&w.key)
            .map_err(|e| NodeError::Audit(format!("witness {}: {e}", w.url)))?;
        endpoints.push(WitnessEndpoint {
            url: w.url.clone(),
            key,
        });
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| NodeError::Audit(format!("witness client: {e}")))?;
    Ok(Some(Arc::new(Witnessing::new(
        endpoints,
        config.audit.witness_quorum,
        http,
    ))))
}

/// Starts a node (everything but the listener).
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Node, NodeError> {
    start_on(config, clock, Arc::new(RealDisk)).await
}

/// Starts a node whose audit log writes through `disk` (tests inject faults this way).
pub async fn start_on(
    config: Config,
    clock: Arc<dyn Clock>,
    disk: Arc<dyn Disk>,
) -> Result<Node, NodeError> {
    config.validate()?;
    let hardening = harden(config.hardening.mlock)?;
    tracing::info!(
        core_dumps_disabled = hardening.core_dumps_disabled,
        non_dumpable = hardening.non_dumpable,
        memory_locked = hardening.memory_locked,
        notes = ?hardening.notes,
        "process hardening"
    );
    let mut opts = config.audit_options();
    opts.disk = disk;
    opts.process = crate::audit::store::ProcessInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        build_digest: build_digest(),
    };
    let log_clock = clock.clone();
    let (audit, recovery) = tokio::task::spawn_blocking(move || AuditLog::open(opts, log_clock))
        .await
        .map_err(|e| NodeError::Audit(e.to_string()))?
        .map_err(|e| NodeError::Audit(e.to_string()))?;
    tracing::info!(
        size = recovery.size,
        segments = recovery.segments,
        events_checked = recovery.events_checked,
        checkpoints_checked = recovery.checkpoints_checked,
        repaired_bytes = recovery.repaired_bytes,
        process_lost = recovery.process_lost.len(),
        keks_lost = recovery.keks_lost,
        key_rotated = recovery.key_rotated,
        "audit log opened"
    );
    let witnessing = witnessing(&config)?;
    if let Some(w) = &witnessing
        && let Some(first) = audit.latest_checkpoint()
    {
        // A witness that has cosigned a larger tree, or another history, proves that this
        // log was cut or rewritten: refuse to run on it.
        match tokio::time::timeout(Duration::from_secs(10), w.witness(&audit, &first)).await {
            Ok(Some(conflict)) => {
                let _ = audit.close().await;
                return Err(NodeError::Audit(conflict.to_string()));
            }
            Ok(None) => {}
            Err(_) => {
                tracing::warn!("witnesses did not answer at start; continuing (they are retried)")
            }
        }
    }
    let archiver = config
        .archiver(clock.clone())
        .map_err(|e| NodeError::Audit(e.to_string()))?
        .map(Arc::new);
    let metrics = Arc::new(Metrics::new());
    let custody = Custody::new(
        config.custody(),
        clock.clone(),
        Arc::new(audit.clone()),
        metrics.clone(),
    )
    .map_err(|e| NodeError::Custody(e.to_string()))?;
    audit.append(EventBody::ServiceStarted {
        signing_keys: custody.signing().thumbprints(),
    });
    let custody = Arc::new(custody);
    let tls = Arc::new(
        TlsReloader::new(config.tls.settings()).map_err(|e| NodeError::Tls(e.to_string()))?,
    );
    let mut state = AppState::new(
        custody,
        metrics,
        Arc::new(principals(&config)?),
        hardening.clone(),
        config.limits.rate_per_second,
        config.limits.rate_burst,
    )
    .with_clock(clock)
    .with_audit(audit.clone());
    if let Some(w) = &witnessing {
        state = state.with_witnessing(w.clone());
    }
    if let Some(b) = bearer(&config)? {
        state = state.with_bearer(b);
    }
    if let Some(attestor) = attestor(&config)? {
        state = state.with_attestation(attestor);
    }
    Ok(Node {
        state: Arc::new(state),
        tls,
        audit,
        witnessing,
        archiver,
        config,
        hardening,
    })
}

impl Node {
    /// Serves on `listener` until `shutdown`, then destroys every key and closes the log.
    /// Fails when the log could not record everything (the process should exit non-zero).
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> Result<(), NodeError>
    where
        F: Future<Output = ()> + Send,
    {
        let custody = self.state.custody.clone();
        let sweep_every = Duration::from_millis(self.config.keys.sweep_interval_ms);
        let (stop_sweeping, mut sweeping_stopped) = tokio::sync::oneshot::channel::<()>();
        let sweeper = tokio::spawn({
            let custody = custody.clone();
            async move {
                // Why a dedicated task on a short fixed tick: destruction events must follow
                // expiry promptly (bounded lag), independent of request traffic.
                let mut tick = tokio::time::interval(sweep_every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    // Stopped between sweeps only: aborting would not stop a blocking sweep
                    // already running, whose KEK rotation could then follow the shutdown's
                    // destruction of every KEK in the log.
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut sweeping_stopped => break,
                    }
                    let c = custody.clone();
                    let _ = tokio::task::spawn_blocking(move || c.sweep()).await;
                }
            }
        });
        let reloader = tokio::spawn(crl_reloader(
            self.tls.clone(),
            Duration::from_secs(self.config.tls.crl_reload_seconds),
        ));
        let checkpoints = tokio::spawn({
            let audit = self.audit.clone();
            let every = Duration::from_secs(self.config.audit.checkpoint_interval_seconds);
            async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    audit.checkpoint_now().await;
                }
            }
        });
        let witness_task = self.witnessing.clone().map(|w| {
            tokio::spawn(w.run(
                self.audit.clone(),
                Duration::from_secs(self.config.audit.witness_retry_seconds),
            ))
        });
        let archive_task = self.archiver.clone().map(|archiver| {
            let metrics = self.state.metrics.clone();
            let every = Duration::from_secs(
                self.config
                    .audit
                    .archive
                    .as_ref()
                    .map_or(60, |a| a.interval_seconds),
            );
            tokio::spawn(archive_loop(archiver, metrics, every))
        });
        let tls = self.tls.clone();
        let state = self.state.clone();
        let limits = self.config.limits.server_limits();
        let ready_flag = self.state.clone();
        let shutdown = async move {
            shutdown.await;
            ready_flag.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutdown requested: draining");
        };
        tracing::info!(
            size = self.audit.size(),
            witnesses = self.config.audit.witnesses.len(),
            "node ready: serving"
        );
        let result = run(listener, move || tls.current(), state, limits, shutdown).await;
        let _ = stop_sweeping.send(());
        let _ = sweeper.await;
        reloader.abort();
        checkpoints.abort();
        if let Some(t) = witness_task {
            t.abort();
        }
        if let Some(t) = archive_task {
            t.abort();
        }
        let destroyed = custody.shutdown(Duration::from_secs(5)).await;
        tracing::info!(destroyed, "shutdown: every key and KEK destroyed");
        self.audit.append(EventBody::ServiceStopped {});
        // The final checkpoint goes to the witnesses before the log closes.
        if let (Some(w), Some(last)) = (&self.witnessing, self.audit.checkpoint_now().await) {
            let _ =
                tokio::time::timeout(Duration::from_secs(10), w.witness(&self.audit, &last)).await;
        }
        let closed = self.audit.close().await;
        if let Err(e) = closed {
            tracing::error!(error = %e, "shutdown: the audit log could not record every destruction; the next start records the keys as process_lost");
            return Err(NodeError::Audit(format!(
                "{e}: the next start records the keys whose destruction is missing as process_lost"
            )));
        }
        result.map_err(NodeError::from)
    }
}

async fn crl_reloader(tls: Arc<TlsReloader>, every: Duration) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        #[cfg(unix)]
        {
            let hangup = async {
                match hup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {},
                () = hangup => tracing::info!("SIGHUP: reloading TLS material and CRLs"),
            }
        }
        #[cfg(not(unix))]
        tick.tick().await;
        match tls.reload() {
            Ok(()) => tracing::info!("TLS material and CRLs reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "TLS reload failed; keeping the previous configuration")
            }
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that resolves on either.
///
/// Why install first: a signal that arrives while the node is still starting must not kill the
/// process the default way (keys and KEKs would not be destroyed and logged); it is held and
/// honoured as soon as the node serves.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Starts a node on the system clock and serves until SIGINT/SIGTERM.
pub async fn run_until_signal(config: Config, listener: TcpListener) -> Result<(), NodeError> {
    let signals = shutdown_signal()?;
    let node = start(config, Arc::new(SystemClock)).await?;
    node.serve(listener, signals).await
}
