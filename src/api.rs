//! The HTTP routes: `fn app(state) -> Router`, so tests can drive them with `oneshot` as well
//! as over real TLS.
//!
//! Every handler gets its caller as a [`Caller`], resolved from the connection's verified
//! client certificate (or, when enabled, a verified bearer JWT), and checked against the
//! caller's roles. Every error goes through [`AppError`].

use crate::bearer::BearerVerifier;
use crate::body::Object;
use crate::clock::{Clock, iso8601};
use crate::custody::{CreateRequest, Custody, KeyView};
use crate::hardening::HardeningReport;
use crate::metrics::Metrics;
use crate::principal::{CertIdentity, Principal, PrincipalError, PrincipalRegistry, Role};
use crate::problem::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64UrlUnpadded, Encoding};
use governor::{DefaultKeyedRateLimiter, Quota};
use ok2cry_client::json::Json as Tree;
use ok2cry_client::{Envelope, KeyId, headers};
use serde::Deserialize;
use serde_json::{Value, json};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the server knows about a connection, attached to each of its requests.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The verified client certificate's identity, if one was presented.
    pub cert: Option<CertIdentity>,
    /// The connection's place in the admission budgets (absent when driven without a server).
    pub slot: Option<Arc<crate::admission::Slot>>,
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

pub use crate::attestation_route::Attestor;

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

/// The router.
pub fn app(state: SharedState) -> Router {
    Router::new()
        .route("/v1/keys", post(create_key))
        .route("/v1/keys/{key_id}", get(get_key).delete(delete_key))
        .route("/v1/keys/{key_id}/open", post(open_key))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/audit/events", get(audit_events))
        .route("/v1/audit/stream", get(audit_stream))
        .route("/v1/audit/checkpoint", get(audit_checkpoint))
        .route("/v1/audit/consistency", get(audit_consistency))
        .route("/v1/audit/receipts/{key_id}", get(audit_receipt))
        .route("/v1/audit/key", get(audit_key))
        .route("/v1/audit/tlog/checkpoint", get(tlog_checkpoint))
        .route("/v1/audit/tlog/tile/{*path}", get(tlog_tile))
        .route(
            "/v1/attestation",
            get(crate::attestation_route::attestation),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::auditor_view::route::routes())
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        // A problem document for 405 too (axum's own is an empty body); axum still adds Allow.
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .with_state(state)
}

fn parse_key_id(raw: &str) -> Result<KeyId, AppError> {
    Ok(KeyId::new(raw)?)
}

/// The members of a create request (docs/PROTOCOL.md §12.1); all optional.
const CREATE_MEMBERS: [&str; 5] = ["ttl_seconds", "max_opens", "opener", "context", "label"];

/// A create request as read.
#[derive(Default)]
struct CreateBody {
    ttl_seconds: Option<u64>,
    max_opens: Option<u32>,
    opener: Option<String>,
    context: Option<String>,
    label: Option<String>,
}

fn view_json(view: &KeyView) -> Value {
    json!({
        "key_id": view.key_id.as_str(),
        "token": view.token,
        "jwk": view.public_key.to_jwk().with_kid(view.key_id.as_str()),
        "created_at": iso8601(view.created_at),
        "expires_at": iso8601(view.expires_at),
        "max_opens": view.max_opens,
        "opens_remaining": view.opens_remaining,
        "opener": view.opener,
    })
}

fn with_key_header(view: &KeyView, status: StatusCode) -> Response {
    let mut response = (status, Json(view_json(view))).into_response();
    if let Ok(v) = HeaderValue::from_str(&view.token) {
        response.headers_mut().insert(headers::KEY_TOKEN, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn create_key(
    State(state): State<SharedState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let principal = caller.require(Role::Issuer)?;
    let body = Object::read(&headers, &body, &CREATE_MEMBERS)?;
    let body = match &body {
        Some(o) => CreateBody {
            ttl_seconds: o.integer("ttl_seconds", 0, ok2cry_client::json::MAX_INTEGER)?,
            max_opens: o
                .integer("max_opens", 0, u64::from(u32::MAX))?
                .and_then(|n| u32::try_from(n).ok()),
            opener: o.string("opener")?.map(str::to_owned),
            context: o.string("context")?.map(str::to_owned),
            label: o.string("label")?.map(str::to_owned),
        },
        None => CreateBody::default(),
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

async fn get_key(
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

async fn open_key(
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
    let body = json!({
        "key_id": key_id.as_str(),
        "plaintext": plaintext.as_str(),
        "encoding": "base64url",
        "opens_remaining": opened.opens_remaining,
    });
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn delete_key(
    State(state): State<SharedState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<StatusCode, AppError> {
    let key_id = parse_key_id(&key_id)?;
    state.custody.delete(&caller.0, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn jwks(State(state): State<SharedState>) -> Response {
    let mut response = Json(state.custody.signing().jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<SharedState>) -> Response {
    let accepting = state.ready.load(Ordering::SeqCst);
    let audit = state.audit.as_ref().map(|a| a.health());
    let writable = audit.as_ref().is_none_or(|h| h.writable);
    let witnesses = state.witnessing.as_ref().map(|w| w.status());
    let conflict = state.witnessing.as_ref().is_some_and(|w| w.conflict());
    // Keys can be created and opened only while the log takes events: both fail closed.
    let ready = accepting && writable && !conflict;
    let body = json!({
        "ready": ready,
        "accepting": accepting,
        "can_create": ready,
        "can_open": accepting && writable,
        "live_keys": state.custody.live_keys(),
        "audit": audit,
        "witnesses": witnesses,
        "hardening": state.hardening,
    });
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
    let report = match body {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    AppError::NotReady {
        detail: format!("this node cannot take keys now: {}", why.join("; ")),
        report,
    }
    .into_response()
}

async fn metrics(State(state): State<SharedState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn openapi() -> Response {
    let mut response = include_str!("../docs/openapi.json").into_response();
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

fn query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, AppError> {
    let raw = raw.unwrap_or("");
    numeric_query(raw).and_then(|v| {
        serde_json::from_value(v).map_err(|e| AppError::BadRequest(format!("invalid query: {e}")))
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
        map.insert(k.to_owned(), json!(n));
    }
    Ok(Value::Object(map))
}

async fn audit_events(
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
    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let next_after = events.last().and_then(|e| e["seq"].as_u64());
    Ok(Json(json!({"events": events, "next_after": next_after})).into_response())
}

async fn audit_stream(
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

async fn audit_checkpoint(
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    old: u64,
    new: u64,
}

async fn audit_consistency(
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
    Ok(Json(json!({"old": q.old, "new": q.new, "proof": proof})).into_response())
}

async fn audit_receipt(
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

async fn audit_key(State(state): State<SharedState>, caller: Caller) -> Result<Response, AppError> {
    let log = audit_log(&state, &caller)?;
    Ok(Json(json!({
        "origin": log.origin(),
        "key_name": log.key_name(),
        "vkey": log.log_key().vkey(),
        "public_key_pem": log.public_key_pem(),
    }))
    .into_response())
}

/// C2SP tlog-tiles: the checkpoint.
async fn tlog_checkpoint(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Response, AppError> {
    audit_checkpoint(State(state), caller).await
}

/// C2SP tlog-tiles: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.
async fn tlog_tile(
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
