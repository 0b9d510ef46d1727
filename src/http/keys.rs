//! The key routes (API tag `keys`): create, read, open and delete a disposable key, and the
//! JWK set that verifies key tokens.
//!
//! Layer: http. Each handler checks the caller's role, reads the request strictly and calls
//! [`crate::custody`]; it must not hold key material beyond the answer it sends.

use crate::auth::principal::Role;
use crate::clock::iso8601;
use crate::custody::{CreateRequest, KeyView};
use crate::http::body::Object;
use crate::http::caller::Caller;
use crate::http::problem::AppError;
use crate::http::schema::{Jwk, Jwks, Problem};
use crate::http::state::SharedState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry_client::json::Json as Tree;
use ok2cry_client::{Envelope, headers};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The members of a create request (docs/PROTOCOL.md §12.1); all optional. The test in
/// src/http/openapi.rs checks that [`CreateKeyRequest`] documents exactly these.
pub(crate) const CREATE_MEMBERS: [&str; 5] =
    ["ttl_seconds", "max_opens", "opener", "context", "label"];

/// A create request (docs/PROTOCOL.md §12.1): a JSON object with only these members, each
/// optional, none `null`; an empty body takes every default.
// Doc comments here are the API document's descriptions. The body is read strictly by
// `crate::http::body::Object`; this type is what the document shows and what the handler fills.
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
    Json(crate::http::schema::Envelope),
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

/// The key id of a request's path (docs/PROTOCOL.md §4), or 400.
pub(crate) fn parse_key_id(raw: &str) -> Result<ok2cry_client::KeyId, AppError> {
    Ok(ok2cry_client::KeyId::new(raw)?)
}
