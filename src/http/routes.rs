//! The HTTP routes: `fn app(state) -> Router`, so tests can drive them with `oneshot` as well
//! as over real TLS.
//!
//! Every handler gets its caller as a [`Caller`], resolved from the connection's verified
//! client certificate (or, when enabled, a verified bearer JWT), and checked against the
//! caller's roles. Every error goes through [`AppError`].
//!
//! The handlers live by resource: [`crate::http::keys`], [`crate::http::audit`],
//! [`crate::http::operations`], [`crate::http::attestation`] and
//! [`crate::http::auditor_view::route`]; the table below is the one place they are routed.
//!
//! Layer: http. Owns the route table, the shared state of the HTTP layer and the caller's
//! authentication; a handler must not hold key material or write audit events: it calls
//! [`crate::custody`], and reads the audit log only for the auditor routes.

use crate::auth::bearer::BearerVerifier;
use crate::auth::principal::{CertIdentity, Principal, PrincipalError, PrincipalRegistry, Role};
use crate::clock::Clock;
use crate::custody::Custody;
use crate::http::attestation::Attestor;
use crate::http::problem::AppError;
use crate::metrics::Metrics;
use crate::node::hardening::HardeningReport;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use governor::{DefaultKeyedRateLimiter, Quota};
use ok2cry_client::KeyId;
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

/// The authenticated, rate-limited caller of a request.
pub struct Caller(pub Principal);

impl Caller {
    /// The principal, if it has `role`; else 403.
    pub(crate) fn require(&self, role: Role) -> Result<&Principal, AppError> {
        if self.0.roles.contains(role) {
            Ok(&self.0)
        } else {
            let name = match role {
                Role::Issuer => "issuer",
                Role::Opener => "opener",
                Role::Auditor => "auditor",
            };
            Err(AppError::Forbidden(format!(
                "this principal does not have the {name} role"
            )))
        }
    }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, AppError> {
        let conn = parts
            .extensions
            .get::<ConnInfo>()
            .cloned()
            .unwrap_or_default();
        let principal = match conn.cert {
            Some(cert) => state.principals.from_cert(&cert).map_err(|e| match e {
                PrincipalError::PinMismatch => {
                    tracing::warn!(principal = %cert.id, "refused: pinned key mismatch");
                    AppError::Forbidden(
                        "the certificate's key does not match the key pinned for this principal"
                            .into(),
                    )
                }
                _ => {
                    tracing::warn!(principal = %cert.id, "refused: unknown principal");
                    AppError::Forbidden(
                        "the certificate is valid but its principal is not configured".into(),
                    )
                }
            })?,
            None => {
                let principal = bearer_principal(parts, state)?;
                // An anonymous connection that has now proved a principal leaves the
                // unauthenticated budget (when the authenticated one has room).
                if let Some(slot) = &conn.slot {
                    let _ = slot.authenticate();
                }
                principal
            }
        };
        if state.rate.check_key(&principal.id).is_err() {
            return Err(AppError::RateLimited { retry_after: 1 });
        }
        Ok(Caller(principal))
    }
}

fn bearer_principal(parts: &Parts, state: &SharedState) -> Result<Principal, AppError> {
    let Some(verifier) = &state.bearer else {
        return Err(AppError::Unauthenticated(
            "a client certificate from a configured CA is required".into(),
        ));
    };
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            AppError::Unauthenticated(
                "a client certificate or an Authorization: Bearer JWT is required".into(),
            )
        })?;
    let verified = verifier
        .verify(token.trim(), state.clock.now_ms() / 1000)
        .map_err(|e| {
            tracing::warn!(reason = %e, "bearer token refused");
            AppError::Unauthenticated(e.to_string())
        })?;
    state
        .principals
        .from_jwt_subject(&verified.sub)
        .map_err(|_| {
            tracing::warn!(principal = %verified.sub, "refused: unknown principal");
            AppError::Forbidden(
                "the token is valid but its subject is not a configured principal".into(),
            )
        })
}

/// Declares every route once: the router is built from this table, and [`ROUTES`] lists it
/// for the test that checks each route against the OpenAPI document (src/http/openapi.rs).
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route the service answers, as (method, path in axum's syntax).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes(router: Router<SharedState>) -> Router<SharedState> {
            router $(.route($path, axum::routing::$method($handler)))*
        }
    };
}

route_table! {
    post "/v1/keys" => crate::http::keys::create_key;
    get "/v1/keys/{key_id}" => crate::http::keys::get_key;
    delete "/v1/keys/{key_id}" => crate::http::keys::delete_key;
    post "/v1/keys/{key_id}/open" => crate::http::keys::open_key;
    get "/.well-known/jwks.json" => crate::http::keys::jwks;
    get "/v1/audit/events" => crate::http::audit::audit_events;
    get "/v1/audit/stream" => crate::http::audit::audit_stream;
    get "/v1/audit/checkpoint" => crate::http::audit::audit_checkpoint;
    get "/v1/audit/consistency" => crate::http::audit::audit_consistency;
    get "/v1/audit/receipts/{key_id}" => crate::http::audit::audit_receipt;
    get "/v1/audit/key" => crate::http::audit::audit_key;
    get "/v1/audit/tlog/checkpoint" => crate::http::audit::tlog_checkpoint;
    get "/v1/audit/tlog/tile/{*path}" => crate::http::audit::tlog_tile;
    get "/v1/attestation" => crate::http::attestation::attestation;
    get "/healthz" => crate::http::operations::healthz;
    get "/readyz" => crate::http::operations::readyz;
    get "/metrics" => crate::http::operations::metrics;
    get "/openapi.json" => crate::http::operations::openapi;
    get "/audit" => crate::http::auditor_view::route::to_slash;
    get "/audit/" => crate::http::auditor_view::route::page;
    get "/audit/log/index.json" => crate::http::auditor_view::route::listing;
    get "/audit/log/{name}" => crate::http::auditor_view::route::file;
}

/// The router.
pub fn app(state: SharedState) -> Router {
    routes(Router::new())
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        // A problem document for 405 too (axum's own is an empty body); axum still adds Allow.
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .with_state(state)
}

pub(crate) fn parse_key_id(raw: &str) -> Result<KeyId, AppError> {
    Ok(KeyId::new(raw)?)
}
