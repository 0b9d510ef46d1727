//! The HTTP routes: `fn app(state) -> Router`, so tests can drive them with `oneshot` as well
//! as over real TLS.
//!
//! Every handler gets its caller as a [`Caller`], resolved from the connection's verified
//! client certificate (or, when enabled, a verified bearer JWT), and checked against the
//! caller's roles. Every error goes through [`AppError`].
//!
//! Layer: http. Owns the route table, the shared state of the HTTP layer and the handlers; a
//! handler must not hold key material or write audit events: it calls [`crate::custody`], and
//! reads the audit log only for the auditor routes.

use crate::auth::bearer::BearerVerifier;
use crate::auth::principal::{CertIdentity, Principal, PrincipalError, PrincipalRegistry, Role};
use crate::clock::{Clock, iso8601};
use crate::custody::{CreateRequest, Custody, KeyView};
use crate::http::attestation::Attestor;
use crate::http::body::Object;
use crate::http::openapi::{Jwk, Jwks, Problem};
use crate::http::problem::AppError;
use crate::metrics::Metrics;
use crate::node::hardening::HardeningReport;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64ct::{Base64UrlUnpadded, Encoding};
use governor::{DefaultKeyedRateLimiter, Quota};
use ok2cry_client::json::Json as Tree;
use ok2cry_client::{Envelope, KeyId, headers};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use utoipa::{IntoParams, ToSchema};

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

type SharedState = Arc<AppState>;

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
    post "/v1/keys" => create_key;
    get "/v1/keys/{key_id}" => get_key;
    delete "/v1/keys/{key_id}" => delete_key;
    post "/v1/keys/{key_id}/open" => open_key;
    get "/.well-known/jwks.json" => jwks;
    get "/v1/audit/events" => audit_events;
    get "/v1/audit/stream" => audit_stream;
    get "/v1/audit/checkpoint" => audit_checkpoint;
    get "/v1/audit/consistency" => audit_consistency;
    get "/v1/audit/receipts/{key_id}" => audit_receipt;
    get "/v1/audit/key" => audit_key;
    get "/v1/audit/tlog/checkpoint" => tlog_checkpoint;
    get "/v1/audit/tlog/tile/{*path}" => tlog_tile;
    get "/v1/attestation" => crate::http::attestation::attestation;
    get "/healthz" => healthz;
    get "/readyz" => readyz;
    get "/metrics" => metrics;
    get "/openapi.json" => openapi;
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

fn parse_key_id(raw: &str) -> Result<KeyId, AppError> {
    Ok(KeyId::new(raw)?)
}

/// The members of a create request (docs/PROTOCOL.md §12.1); all optional. The test in
/// src/http/openapi.rs checks that [`CreateKeyRequest`] documents exactly these.
pub(crate) const CREATE_MEMBERS: [&str; 5] =
    ["ttl_seconds", "max_opens", "opener", "context", "label"];

/// A create request (docs/PROTOCOL.md §12.1): a JSON object with only these members, each
/// optional, none `null`; an empty body takes every default. Read strictly by
/// [`crate::http::body::Object`]; this type is what the API document shows and what the handler
/// fills.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Lifetime in seconds, within the node's `keys.min_ttl_seconds` ..
    /// `keys.max_ttl_seconds` (defaults 1 .. 3600; default `keys.default_ttl_seconds`).
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    ttl_seconds: Option<u64>,
    /// Opens allowed, 1 .. `keys.max_opens` (default limit 100); default 1.
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    max_opens: Option<u32>,
    /// The principal allowed to open (one with the opener role); default: the creator.
    #[schema(min_length = 1, max_length = 256)]
    opener: Option<String>,
    /// Bound into the HPKE info (docs/PROTOCOL.md §5); at most 256 bytes of UTF-8 (the
    /// length limit here counts characters; the service counts bytes). Never logged.
    #[schema(max_length = 256)]
    context: Option<String>,
    /// A label for the creator, logged in the audit events; at most `keys.max_label_len`
    /// bytes of UTF-8 (default 128) without control characters.
    #[schema(max_length = 128)]
    label: Option<String>,
}

/// The key-id pattern (docs/PROTOCOL.md §3).
pub(crate) const KEY_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,128}$";

/// A key as the API shows it (`POST /v1/keys`, `GET /v1/keys/{key_id}`).
#[derive(Serialize, ToSchema)]
pub struct KeyResponse {
    /// The key id.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    key_id: String,
    /// The key token: JWS compact, ES256, signed by a key of `/.well-known/jwks.json`
    /// (docs/PROTOCOL.md §6); also in the `Ok2cry-Key` header.
    token: String,
    /// The public key, with `kid` the key id.
    jwk: Jwk,
    /// When the key was created (RFC 3339, UTC, milliseconds).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it expires and is destroyed if still alive.
    #[schema(format = DateTime)]
    expires_at: String,
    /// Opens allowed in all.
    max_opens: u32,
    /// Opens left.
    opens_remaining: u32,
    /// The principal that may open it.
    opener: String,
}

impl KeyResponse {
    fn of(view: &KeyView) -> Self {
        Self {
            key_id: view.key_id.as_str().to_owned(),
            token: view.token.clone(),
            jwk: Jwk(view.public_key.to_jwk().with_kid(view.key_id.as_str())),
            created_at: iso8601(view.created_at),
            expires_at: iso8601(view.expires_at),
            max_opens: view.max_opens,
            opens_remaining: view.opens_remaining,
            opener: view.opener.clone(),
        }
    }
}

fn with_key_header(view: &KeyView, status: StatusCode) -> Response {
    let mut response = (status, Json(KeyResponse::of(view))).into_response();
    if let Ok(v) = HeaderValue::from_str(&view.token) {
        response.headers_mut().insert(headers::KEY_TOKEN, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Create a disposable key.
///
/// Needs the issuer role. The key lives until its TTL runs out, its opens are used up, a
/// failed-open limit is reached or it is deleted; then it is destroyed and the destruction is
/// logged. The answer is sent once the creation is durable in the audit log.
#[utoipa::path(
    post, path = "/v1/keys", tag = "keys",
    request_body(content = Option<CreateKeyRequest>, content_type = "application/json",
        description = "Optional: an empty body takes every default. At most \
            `limits.max_body_bytes` bytes (default 131072)."),
    responses(
        (status = 201, description = "Created", body = KeyResponse,
            headers(
                ("Ok2cry-Key" = String, description = "The key token"),
                ("Location" = String, description = "/v1/keys/{key_id}"),
                ("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Not a strict JSON object of the documented members, \
            or a value out of range (`bad-request`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `limits.max_body_bytes`",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not `application/json`", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Rate limited (`rate-limited`) or the principal's \
            live-key quota reached (`quota-exceeded`, with `quota`); Retry-After",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key store is full, or the audit log cannot \
            record the creation (`unavailable`; Retry-After)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_key(
    State(state): State<SharedState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let principal = caller.require(Role::Issuer)?;
    let body = Object::read(&headers, &body, &CREATE_MEMBERS)?;
    let body = match &body {
        Some(o) => CreateKeyRequest {
            ttl_seconds: o.integer("ttl_seconds", 0, ok2cry_client::json::MAX_INTEGER)?,
            max_opens: o
                .integer("max_opens", 0, u64::from(u32::MAX))?
                .and_then(|n| u32::try_from(n).ok()),
            opener: o.string("opener")?.map(str::to_owned),
            context: o.string("context")?.map(str::to_owned),
            label: o.string("label")?.map(str::to_owned),
        },
        None => CreateKeyRequest::default(),
    };
    if let Some(opener) = &body.opener
        && !state
            .principals
            .roles(opener)
            .is_some_and(|r| r.contains(Role::Opener))
    {
        return Err(AppError::BadRequest(
            "opener must be a configured principal with the opener role".into(),
        ));
    }
    if body.opener.is_none() && !principal.roles.contains(Role::Opener) {
        return Err(AppError::BadRequest(
            "this principal cannot open keys itself: name an opener with the opener role".into(),
        ));
    }
    let req = CreateRequest {
        ttl_ms: match body.ttl_seconds {
            Some(s) => Some(
                s.checked_mul(1000)
                    .ok_or_else(|| AppError::BadRequest("ttl_seconds is too large".into()))?,
            ),
            None => None,
        },
        max_opens: body.max_opens,
        opener: body.opener,
        context: body.context,
        label: body.label,
    };
    let view = state.custody.create(principal, req).await?;
    let mut response = with_key_header(&view, StatusCode::CREATED);
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/keys/{}", view.key_id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// A key id in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct KeyIdPath {
    /// The key id (docs/PROTOCOL.md §3).
    #[param(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    #[allow(dead_code)]
    key_id: String,
}

/// A live key.
///
/// Needs the issuer or the opener role.
#[utoipa::path(
    get, path = "/v1/keys/{key_id}", tag = "keys", params(KeyIdPath),
    responses(
        (status = 200, description = "The key, as at its creation but with the opens left",
            body = KeyResponse,
            headers(("Ok2cry-Key" = String, description = "The key token"),
                ("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Not a key id (`invalid-key-id`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such key on this node (`not-found`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 410, description = "The key was destroyed (`key-destroyed`, with \
            `destroyed_at` and `reason`)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_key(
    State(state): State<SharedState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, AppError> {
    if !caller.0.roles.contains(Role::Issuer) && !caller.0.roles.contains(Role::Opener) {
        return Err(AppError::Forbidden(
            "this principal needs the issuer or opener role".into(),
        ));
    }
    let key_id = parse_key_id(&key_id)?;
    let view = state.custody.get(&key_id)?;
    Ok(with_key_header(&view, StatusCode::OK))
}

/// An open request (docs/PROTOCOL.md §10.1): the envelope, as its JSON object or as the
/// compact string. Instead of a body, the compact envelope may come in the `Ok2cry-Envelope`
/// header.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OpenRequest {
    /// The envelope.
    envelope: EnvelopeForm,
}

/// The two forms of an envelope.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum EnvelopeForm {
    /// The JSON envelope.
    Json(crate::http::openapi::Envelope),
    /// The compact envelope: `v1.<key_id>.<base64url sealed>[.<base64url context>]`.
    Compact(String),
}

fn envelope_from(body: &Bytes, headers: &HeaderMap) -> Result<Envelope, AppError> {
    let not_strict = || {
        AppError::Protocol(ok2cry_client::Error::Malformed(
            "open request: not strict JSON",
        ))
    };
    if let Some(body) = Object::read_or(headers, body, &["envelope"], not_strict)? {
        // The whole body was read strictly (§10.1), the envelope member with it.
        return match body.required("envelope")? {
            tree @ Tree::Object(_) => Ok(Envelope::from_json_tree(tree)?),
            Tree::String(compact) => Ok(Envelope::from_compact(compact)?),
            _ => Err(AppError::BadRequest(
                "envelope must be a JSON envelope object or a compact string".into(),
            )),
        };
    }
    match headers.get(headers::ENVELOPE) {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                AppError::BadRequest(format!("{} header is not ASCII", headers::ENVELOPE))
            })?;
            Ok(Envelope::from_compact(text)?)
        }
        None => Err(AppError::BadRequest(format!(
            "no envelope: send {{\"envelope\": …}} as JSON or the {} header",
            headers::ENVELOPE
        ))),
    }
}

/// How the plaintext is encoded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlaintextEncoding {
    /// base64url without padding (RFC 4648 §5).
    Base64url,
}

/// An opened envelope.
#[derive(Serialize, ToSchema)]
pub struct OpenResponse<'a> {
    /// The key id.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    key_id: &'a str,
    /// The plaintext, 1 to 65536 bytes, encoded as `encoding` says.
    plaintext: &'a str,
    /// The plaintext's encoding.
    encoding: PlaintextEncoding,
    /// Opens left; 0: the key has been destroyed.
    opens_remaining: u32,
}

/// Open a sealed envelope.
///
/// Needs the opener role, as the key's designated opener. The plaintext is answered once the
/// open (and, for the last open, the destruction) is durable in the audit log. A failed open
/// counts toward the failed-open limit; at the limit the key is destroyed.
#[utoipa::path(
    post, path = "/v1/keys/{key_id}/open", tag = "keys", params(KeyIdPath,
        ("Ok2cry-Envelope" = Option<String>, Header,
            description = "The compact envelope, when there is no body")),
    request_body(content = Option<OpenRequest>, content_type = "application/json",
        description = "Optional when the Ok2cry-Envelope header is sent. At most \
            `limits.max_body_bytes` bytes (default 131072)."),
    responses(
        (status = 200, description = "Opened", body = OpenResponse,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "A malformed request or envelope, or one for another \
            key: the protocol's refusals of docs/PROTOCOL.md §11.2, with `error`",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key on this node (`not-found`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Another open or delete of this key is in progress \
            (`busy`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The key was destroyed (`key-destroyed`, with \
            `destroyed_at` and `reason`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `limits.max_body_bytes`",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not `application/json`", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The envelope does not open with this key and context \
            (`cannot-open`, `error` = OpenFailed, with `key_destroyed`); deliberately coarse",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The audit log cannot record the open (`unavailable`; \
            Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn open_key(
    State(state): State<SharedState>,
    caller: Caller,
    Path(key_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let principal = caller.require(Role::Opener)?;
    let key_id = parse_key_id(&key_id)?;
    let envelope = envelope_from(&body, &headers)?;
    // docs/PROTOCOL.md §11.3: the request contradicts itself before any key is looked up.
    if envelope.key_id() != &key_id {
        return Err(ok2cry_client::Error::KeyIdMismatch.into());
    }
    // Custody decrypts on the blocking pool and answers once the open's events are durable.
    let opened = state.custody.open(principal, &key_id, &envelope).await?;
    let plaintext = zeroize::Zeroizing::new(Base64UrlUnpadded::encode_string(
        opened.plaintext.expose_secret(),
    ));
    let body = OpenResponse {
        key_id: key_id.as_str(),
        plaintext: plaintext.as_str(),
        encoding: PlaintextEncoding::Base64url,
        opens_remaining: opened.opens_remaining,
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Delete a key early.
///
/// Its creator or its opener may delete it; the key is destroyed (`revoked`) and the answer is
/// sent once the destruction is durable in the audit log.
#[utoipa::path(
    delete, path = "/v1/keys/{key_id}", tag = "keys", params(KeyIdPath),
    responses(
        (status = 204, description = "Destroyed"),
        (status = 400, description = "Not a key id (`invalid-key-id`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No such key on this node (`not-found`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "Another open or delete of this key is in progress \
            (`busy`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The key was already destroyed (`key-destroyed`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The key was destroyed but the audit log cannot record \
            it now, or cannot record anything (`unavailable`; Retry-After)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_key(
    State(state): State<SharedState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<StatusCode, AppError> {
    let key_id = parse_key_id(&key_id)?;
    state.custody.delete(&caller.0, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The keys that sign key tokens.
///
/// No authentication beyond the TLS handshake. Verifiers cache it for at most `max-age`.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "keys", security(()),
    responses(
        (status = 200, description = "The JWK set (RFC 7517): ES256 keys with `kid`, `use` \
            = sig, `alg` = ES256", body = Jwks,
            headers(("Cache-Control" = String, description = "max-age=60"))),
    )
)]
pub(crate) async fn jwks(State(state): State<SharedState>) -> Response {
    let mut response = Json(Jwks(state.custody.signing().jwks())).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    response
}

/// Liveness.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process answers", body = String,
        content_type = "text/plain; charset=utf-8")),
)]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Whether the node takes keys now, and why not.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// Keys can be created and opened.
    ready: bool,
    /// Not shutting down.
    accepting: bool,
    /// Keys can be created.
    can_create: bool,
    /// Keys can be opened.
    can_open: bool,
    /// Live keys on this node.
    live_keys: u64,
    /// The audit log's state; absent without a log.
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: Option<crate::audit::AuditHealth>,
    /// The witnesses' state; absent without witnesses.
    #[serde(skip_serializing_if = "Option::is_none")]
    witnesses: Option<Vec<crate::audit::witness::client::WitnessInfo>>,
    /// What process hardening achieved.
    hardening: HardeningReport,
}

/// Readiness, with the audit log's, the witnesses' and hardening's state.
#[utoipa::path(
    get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready (`not-ready`): the problem document carries \
            the members of Readiness too; Retry-After", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn readyz(State(state): State<SharedState>) -> Response {
    let accepting = state.ready.load(Ordering::SeqCst);
    let audit = state.audit.as_ref().map(|a| a.health());
    let writable = audit.as_ref().is_none_or(|h| h.writable);
    let witnesses = state.witnessing.as_ref().map(|w| w.status());
    let conflict = state.witnessing.as_ref().is_some_and(|w| w.conflict());
    // Keys can be created and opened only while the log takes events: both fail closed.
    let ready = accepting && writable && !conflict;
    let body = Readiness {
        ready,
        accepting,
        can_create: ready,
        can_open: accepting && writable,
        live_keys: state.custody.live_keys() as u64,
        audit,
        witnesses,
        hardening: state.hardening.clone(),
    };
    if ready {
        return (StatusCode::OK, Json(body)).into_response();
    }
    let mut why = Vec::new();
    if !accepting {
        why.push("shutting down");
    }
    if !writable {
        why.push("the audit log cannot be written, so keys can be neither created nor opened");
    }
    if conflict {
        why.push("a witness holds another history of this log");
    }
    let report = match serde_json::to_value(&body) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    AppError::NotReady {
        detail: format!("this node cannot take keys now: {}", why.join("; ")),
        report,
    }
    .into_response()
}

/// Metrics, in the OpenMetrics text format (docs/OPERATIONS.md lists them).
#[utoipa::path(
    get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "The metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")),
)]
pub(crate) async fn metrics(State(state): State<SharedState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API",
        body = Object, content_type = "application/json")),
)]
pub(crate) async fn openapi() -> Response {
    let mut response = crate::http::openapi::json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn audit_log(state: &SharedState, caller: &Caller) -> Result<crate::audit::AuditLog, AppError> {
    caller.require(Role::Auditor)?;
    state
        .audit
        .clone()
        .ok_or_else(|| AppError::NotFound("this node has no audit log".into()))
}

fn read_failed(e: crate::audit::AuditError) -> AppError {
    tracing::error!(error = %e, "reading the audit log failed");
    AppError::Internal
}

/// Which events to page.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Events after this `seq` (default: from the first).
    #[serde(default)]
    #[param(minimum = 0)]
    after: Option<u64>,
    /// How many, 1 to 1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

fn query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, AppError> {
    let raw = raw.unwrap_or("");
    numeric_query(raw).and_then(|v| {
        serde_json::from_value(v).map_err(|_| {
            AppError::BadRequest(
                "the query has a parameter this route does not take, or lacks one it needs".into(),
            )
        })
    })
}

/// Parses `a=1&b=2` with numeric values into a JSON object (the audit queries are numeric).
fn numeric_query(raw: &str) -> Result<Value, AppError> {
    let mut map = serde_json::Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let n: u64 = v.parse().map_err(|_| {
            AppError::BadRequest(format!(
                "query parameter {k} must be a non-negative integer"
            ))
        })?;
        if map.insert(k.to_owned(), json!(n)).is_some() {
            return Err(AppError::BadRequest(format!(
                "query parameter {k} is given more than once"
            )));
        }
    }
    Ok(Value::Object(map))
}

/// A page of audit events.
#[derive(Serialize, ToSchema)]
pub struct EventsPage {
    /// The events, oldest first, each as logged (docs/AUDIT.md, "Events").
    #[schema(value_type = Vec<Object>)]
    events: Vec<JsonObject>,
    /// The `after` of the next page; `null` when this page is empty.
    next_after: Option<u64>,
}

/// A JSON object (an audit event).
type JsonObject = serde_json::Map<String, Value>;

/// Page through the audit events.
///
/// Needs the auditor role.
#[utoipa::path(
    get, path = "/v1/audit/events", tag = "audit", params(EventsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventsPage),
        (status = 400, description = "A bad query (`bad-request`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "This node has no audit log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_events(
    State(state): State<SharedState>,
    caller: Caller,
    uri: axum::http::Uri,
) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    let q: EventsQuery = query(uri.query())?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(AppError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let lines = tokio::task::spawn_blocking(move || log.events_after(q.after, limit))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "reading the audit log failed");
            AppError::Internal
        })?;
    let events: Vec<JsonObject> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let next_after = events
        .last()
        .and_then(|e| e.get("seq"))
        .and_then(Value::as_u64);
    Ok(Json(EventsPage { events, next_after }).into_response())
}

/// Follow the audit events as they are written.
///
/// Needs the auditor role. Server-sent events: each `data` is one event line; an event named
/// `lagged` says how many events a slow reader missed (page them from `/v1/audit/events`).
#[utoipa::path(
    get, path = "/v1/audit/stream", tag = "audit",
    responses(
        (status = 200, description = "The stream", body = String,
            content_type = "text/event-stream"),
        (status = 404, description = "This node has no audit log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_stream(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Response, AppError> {
    use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
    let log = audit_log(&state, &caller)?;
    let rx = log.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(line) => SseEvent::default().data(line),
            // A slow reader missed events: tell it, so it can page them from /events.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The latest signed checkpoint.
///
/// Needs the auditor role. A C2SP signed note (checkpoint body, the log's signature and the
/// witnesses' cosignatures), docs/AUDIT.md.
#[utoipa::path(
    get, path = "/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "The signed note", body = String,
            content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "This node has no audit log", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "No checkpoint could be signed now (Retry-After)",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_checkpoint(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    let record = match log.latest_checkpoint() {
        Some(r) => r,
        None => log.checkpoint_now().await.ok_or(AppError::Unavailable {
            detail: "no checkpoint could be signed right now".into(),
            retry_after: 5,
        })?,
    };
    Ok(text_response(record.note, "no-store"))
}

fn text_response(body: String, cache: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Two tree sizes.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConsistencyQuery {
    /// The older size, at least 1.
    #[param(minimum = 1)]
    old: u64,
    /// The newer size, at least `old`, at most the current size.
    #[param(minimum = 1)]
    new: u64,
}

/// A consistency proof between two sizes of the tree (RFC 6962 §2.1.2).
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older size.
    old: u64,
    /// The newer size.
    new: u64,
    /// The proof's hashes, standard base64.
    proof: Vec<String>,
}

/// A consistency proof.
///
/// Needs the auditor role.
#[utoipa::path(
    get, path = "/v1/audit/consistency", tag = "audit", params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "Sizes out of range, or a bad query (`bad-request`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This node has no audit log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_consistency(
    State(state): State<SharedState>,
    caller: Caller,
    uri: axum::http::Uri,
) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    let q: ConsistencyQuery = query(uri.query())?;
    let (old, new) = (q.old, q.new);
    let proof = tokio::task::spawn_blocking(move || log.consistency_proof(old, new))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(read_failed)?
        .ok_or_else(|| {
            AppError::BadRequest(
                "old must be at least 1 and at most new, and new at most the current tree size"
                    .into(),
            )
        })?;
    let proof: Vec<String> = proof
        .iter()
        .map(|h| base64ct::Base64::encode_string(h))
        .collect();
    Ok(Json(ConsistencyProof {
        old: q.old,
        new: q.new,
        proof,
    })
    .into_response())
}

/// A key's destruction receipt.
///
/// Needs the auditor role. The key's events with inclusion proofs against a signed checkpoint
/// (`ok2cry audit receipt verify` checks it; docs/AUDIT.md, "Receipts").
#[utoipa::path(
    get, path = "/v1/audit/receipts/{key_id}", tag = "audit", params(KeyIdPath),
    responses(
        (status = 200, description = "The receipt", body = crate::audit::receipt::Receipt),
        (status = 400, description = "Not a key id (`invalid-key-id`)", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "No events for this key, or no audit log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_receipt(
    State(state): State<SharedState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    let key_id = parse_key_id(&key_id)?;
    match log.receipt(key_id.as_str()).await {
        Ok(Some(receipt)) => Ok(Json(receipt).into_response()),
        Ok(None) => Err(AppError::NotFound(
            "no events for this key in the log".into(),
        )),
        Err(e) => Err(read_failed(e)),
    }
}

/// The log's identity and public key.
#[derive(Serialize, ToSchema)]
pub struct AuditKey {
    /// The checkpoints' origin line.
    origin: String,
    /// The note key's name.
    key_name: String,
    /// The note verifier key (C2SP signed-note `vkey`).
    vkey: String,
    /// The same key as a PEM SubjectPublicKeyInfo.
    public_key_pem: String,
}

/// The log's key.
///
/// Needs the auditor role.
#[utoipa::path(
    get, path = "/v1/audit/key", tag = "audit",
    responses(
        (status = 200, description = "The key", body = AuditKey),
        (status = 404, description = "This node has no audit log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn audit_key(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    Ok(Json(AuditKey {
        origin: log.origin().to_owned(),
        key_name: log.key_name().to_owned(),
        vkey: log.log_key().vkey(),
        public_key_pem: log.public_key_pem().to_owned(),
    })
    .into_response())
}

/// C2SP tlog-tiles: the checkpoint.
///
/// Needs the auditor role. The same note as `/v1/audit/checkpoint`.
#[utoipa::path(
    get, path = "/v1/audit/tlog/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "The signed note", body = String,
            content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "This node has no audit log", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "No checkpoint could be signed now (Retry-After)",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn tlog_checkpoint(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Response, AppError> {
    audit_checkpoint(State(state), caller).await
}

/// A tile path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TilePath {
    /// `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, with `<N>` in groups of three digits
    /// (`x001/234`), as C2SP tlog-tiles writes it.
    #[allow(dead_code)]
    path: String,
}

/// C2SP tlog-tiles: a tile.
///
/// Needs the auditor role. Full tiles are immutable; partial ones (`.p/<W>`) exist while the
/// tree is not a multiple of 256 wide there.
#[utoipa::path(
    get, path = "/v1/audit/tlog/tile/{path}", tag = "audit", params(TilePath),
    responses(
        (status = 200, description = "The tile", body = Vec<u8>,
            content_type = "application/octet-stream",
            headers(("Cache-Control" = String, description = "max-age=31536000, immutable"))),
        (status = 404, description = "No such tile, or no audit log", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn tlog_tile(
    State(state): State<SharedState>,
    caller: Caller,
    Path(path): Path<String>,
) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    let tile = crate::audit::tiles::TilePath::parse(&path)
        .ok_or_else(|| AppError::NotFound("no such tile".into()))?;
    let body = tokio::task::spawn_blocking(move || tile.read(&log))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|_| AppError::NotFound("no such tile in the tree as it is now".into()))?;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=31536000, immutable"),
    );
    Ok(response)
}
