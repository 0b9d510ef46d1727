//! The audit routes (API tag `audit`), for the auditor role: events, the live stream,
//! checkpoints, consistency proofs, receipts, the log's key and C2SP tlog-tiles.
//!
//! Layer: http. They read the log through [`crate::audit::AuditLog`]'s read side only; they
//! must not append to it.

use crate::auth::principal::Role;
use crate::http::caller::Caller;
use crate::http::keys::KeyIdPath;
use crate::http::keys::parse_key_id;
use crate::http::problem::AppError;
use crate::http::schema::Problem;
use crate::http::state::SharedState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64ct::Encoding;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

fn audit_log(state: &SharedState, caller: &Caller) -> Result<crate::audit::AuditLog, AppError> {
    caller.require(Role::Auditor)?;
    state
        .audit
        .clone()
        .ok_or_else(|| AppError::NotFound("this node has no audit log".into()))
}

fn read_failed(e: crate::audit::AuditError) -> AppError {
    if let crate::audit::AuditError::Archived(n) = e {
        return AppError::NotFound(format!(
            "segment {n} of the log is archived and no longer on this node: read it from the archive (`ok2cry audit verify --archive`)"
        ));
    }
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
        (status = 404, description = "This node has no audit log, or the events asked for were archived and removed from the node", body = Problem,
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
        .map_err(read_failed)?;
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
        (status = 404, description = "This node has no audit log, or the proof needs events that were archived and removed from the node", body = Problem,
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
        (status = 404, description = "No events for this key, no audit log, or the key's events were archived and removed from the node", body = Problem,
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
        (status = 404, description = "No such tile, no audit log, or the tile's events were archived and removed from the node", body = Problem,
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
        .map_err(|e| match e {
            crate::audit::AuditError::Archived(_) => read_failed(e),
            _ => AppError::NotFound("no such tile in the tree as it is now".into()),
        })?;
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
