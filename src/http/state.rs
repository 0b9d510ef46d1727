//! The shared state of the HTTP layer ([`AppState`], with the node's [`Attestor`]) and what
//! the server attaches to each request of a connection ([`ConnInfo`]).
//!
//! Layer: http. Owns what handlers share; it names no handler.

use crate::auth::bearer::BearerVerifier;
use crate::auth::principal::{CertIdentity, PrincipalRegistry};
use crate::clock::Clock;
use crate::custody::Custody;
use crate::hardening::HardeningReport;
use crate::metrics::Metrics;
use governor::{DefaultKeyedRateLimiter, Quota};
use ok2cry_attestation::{AttestationProvider, Platform};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What the server knows about a connection, attached to each of its requests.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The verified client certificate's identity, if one was presented.
    pub cert: Option<CertIdentity>,
    /// The connection's place in the admission budgets (absent when driven without a server).
    pub slot: Option<Arc<crate::http::admission::Slot>>,
    /// The connection's peer address (absent when driven without a server).
    pub peer: Option<std::net::SocketAddr>,
}

/// Shared state of the HTTP layer.
pub struct AppState {
    /// The keys.
    pub custody: Arc<Custody>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Principals and roles.
    pub principals: Arc<PrincipalRegistry>,
    /// What process hardening achieved.
    pub hardening: HardeningReport,
    /// Per-principal rate limiter.
    pub rate: DefaultKeyedRateLimiter<String>,
    /// Cleared when shutdown starts.
    pub ready: AtomicBool,
    /// Bearer JWT verification, when the fallback is enabled.
    pub bearer: Option<BearerVerifier>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// The audit log, for the auditor routes.
    pub audit: Option<crate::audit::AuditLog>,
    /// The witnesses, for readiness.
    pub witnessing: Option<Arc<crate::audit::witness::client::Witnessing>>,
    /// The attestation provider, when enabled.
    pub attestation: Option<Attestor>,
}

impl AppState {
    /// State with a rate limit of `per_second` (burst `burst`) per principal.
    pub fn new(
        custody: Arc<Custody>,
        metrics: Arc<Metrics>,
        principals: Arc<PrincipalRegistry>,
        hardening: HardeningReport,
        per_second: u32,
        burst: u32,
    ) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            custody,
            metrics,
            principals,
            hardening,
            rate: governor::RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            ready: AtomicBool::new(true),
            bearer: None,
            clock: Arc::new(crate::clock::SystemClock),
            audit: None,
            witnessing: None,
            attestation: None,
        }
    }

    /// Enables `GET /v1/attestation`.
    pub fn with_attestation(mut self, attestor: Attestor) -> Self {
        self.attestation = Some(attestor);
        self
    }

    /// Attaches the audit log.
    pub fn with_audit(mut self, audit: crate::audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Attaches the witnesses.
    pub fn with_witnessing(
        mut self,
        witnessing: Arc<crate::audit::witness::client::Witnessing>,
    ) -> Self {
        self.witnessing = Some(witnessing);
        self
    }

    /// Enables the bearer JWT fallback.
    pub fn with_bearer(mut self, bearer: BearerVerifier) -> Self {
        self.bearer = Some(bearer);
        self
    }

    /// Uses `clock` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

pub(crate) type SharedState = Arc<AppState>;

/// An attestation provider and what a verifier needs to know about it.
#[derive(Clone)]
pub struct Attestor {
    /// Produces documents.
    pub provider: Arc<dyn AttestationProvider>,
    /// Which provider: `nitro` (the NSM), `sev-snp` (configfs-tsm in an SEV-SNP guest) or
    /// `development`.
    pub kind: &'static str,
    /// The development provider's root certificate (DER); none for Nitro and SEV-SNP (their
    /// roots are pinned by verifiers).
    pub dev_root: Option<Vec<u8>>,
}

impl Attestor {
    /// The kind of evidence this provider makes (the development provider makes Nitro-format
    /// documents).
    pub fn platform(&self) -> Platform {
        match self.kind {
            "sev-snp" => Platform::SevSnp,
            _ => Platform::Nitro,
        }
    }
}
