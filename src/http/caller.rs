//! The caller of a request: resolved from the connection's verified client certificate or,
//! when the node enables it, a verified bearer JWT; rate-limited; checked against the route's
//! role by [`Caller::require`].
//!
//! Layer: http. Owns authentication at the HTTP edge (through [`crate::auth`]); it names no
//! handler.

use crate::auth::principal::{Principal, PrincipalError, Role};
use crate::http::problem::AppError;
use crate::http::state::{ConnInfo, SharedState};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

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
        let peer = conn.peer.map(|p| p.ip());
        let principal = match conn.cert {
            Some(cert) => state
                .principals
                .from_cert(&cert, peer)
                .map_err(|e| match e {
                    PrincipalError::SourceRefused => source_refused(state, &cert.id, peer),
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
                let principal = bearer_principal(parts, state, peer)?;
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

/// A principal seen from an address outside its allow list: logged (principal and address,
/// nothing of the request) and counted, then 403.
fn source_refused(state: &SharedState, id: &str, peer: Option<std::net::IpAddr>) -> AppError {
    state.metrics.count_source_refused();
    tracing::warn!(principal = %id, peer = ?peer, "refused: source address not in the principal's allow list");
    AppError::Forbidden("this principal may not connect from this address".into())
}

fn bearer_principal(
    parts: &Parts,
    state: &SharedState,
    peer: Option<std::net::IpAddr>,
) -> Result<Principal, AppError> {
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
        .from_jwt_subject(&verified.sub, peer)
        .map_err(|e| match e {
            PrincipalError::SourceRefused => source_refused(state, &verified.sub, peer),
            _ => {
                tracing::warn!(principal = %verified.sub, "refused: unknown principal");
                AppError::Forbidden(
                    "the token is valid but its subject is not a configured principal".into(),
                )
            }
        })
}
