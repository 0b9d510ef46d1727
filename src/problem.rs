//! The one error type of the HTTP layer, mapped to RFC 9457 problem+json in one place.
//!
//! Every refusal says what was wrong with the request; nothing internal is ever echoed
//! (internal errors are logged with detail and answered with a bare 500).

use crate::clock::{Millis, iso8601};
use crate::custody::CustodyError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An HTTP error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppError {
    /// 400: the request is malformed or out of range; the text says how.
    BadRequest(String),
    /// 401: no acceptable credentials.
    Unauthenticated(String),
    /// 403: authenticated, but not allowed.
    Forbidden(String),
    /// 404: no such resource.
    NotFound(String),
    /// 405: the route exists but not with this method (the `Allow` header lists the methods).
    MethodNotAllowed,
    /// 410: the key was destroyed.
    Gone {
        /// When.
        destroyed_at: Millis,
        /// Why.
        reason: &'static str,
    },
    /// 413: body too large.
    PayloadTooLarge(String),
    /// 422: the envelope could not be opened (deliberately coarse).
    CannotOpen {
        /// Whether the failure destroyed the key.
        key_destroyed: bool,
    },
    /// 429: rate limit.
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 503: temporarily unable (store full, audit log down, overloaded).
    Unavailable {
        /// What is unavailable.
        detail: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 500: something failed inside; details are logged, not returned.
    Internal,
}

impl AppError {
    fn parts(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        String,
        Map<String, Value>,
    ) {
        let mut ext = Map::new();
        match self {
            Self::BadRequest(d) => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad request",
                d.clone(),
                ext,
            ),
            Self::Unauthenticated(d) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                d.clone(),
                ext,
            ),
            Self::Forbidden(d) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                d.clone(),
                ext,
            ),
            Self::NotFound(d) => (
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                d.clone(),
                ext,
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not accept this method; the Allow header lists those it does"
                    .into(),
                ext,
            ),
            Self::Gone {
                destroyed_at,
                reason,
            } => {
                ext.insert("destroyed_at".into(), json!(iso8601(*destroyed_at)));
                ext.insert("reason".into(), json!(reason));
                (
                    StatusCode::GONE,
                    "key-destroyed",
                    "Key destroyed",
                    format!(
                        "the key was destroyed at {} ({reason})",
                        iso8601(*destroyed_at)
                    ),
                    ext,
                )
            }
            Self::PayloadTooLarge(d) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                d.clone(),
                ext,
            ),
            Self::CannotOpen { key_destroyed } => {
                ext.insert("key_destroyed".into(), json!(key_destroyed));
                let detail = if *key_destroyed {
                    "the envelope could not be opened; too many failed opens destroyed the key"
                } else {
                    "the envelope could not be opened with this key and context; the key is still usable"
                };
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "cannot-open",
                    "Cannot open envelope",
                    detail.into(),
                    ext,
                )
            }
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                "the rate limit for this principal was exceeded".into(),
                ext,
            ),
            Self::Unavailable { detail, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                detail.clone(),
                ext,
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the service failed to handle the request".into(),
                ext,
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, slug, title, detail, ext) = self.parts();
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("https://ok2cry.dev/problems/{slug}")),
        );
        body.insert("title".into(), json!(title));
        body.insert("status".into(), json!(status.as_u16()));
        body.insert("detail".into(), json!(detail));
        body.extend(ext);
        let mut response = (status, Value::Object(body).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let retry = match &self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        };
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<CustodyError> for AppError {
    fn from(e: CustodyError) -> Self {
        match e {
            CustodyError::Invalid(d) => Self::BadRequest(d),
            CustodyError::NotFound => Self::NotFound("no such key".into()),
            CustodyError::Gone { destroyed_at, reason } => Self::Gone { destroyed_at, reason: reason.as_str() },
            CustodyError::Forbidden(d) => Self::Forbidden(d.into()),
            CustodyError::StoreFull => Self::Unavailable {
                detail: "the key store is full; live keys are never evicted, retry when some have been used or expired"
                    .into(),
                retry_after: 1,
            },
            CustodyError::AuditUnavailable => Self::Unavailable {
                detail: "the audit log cannot record new keys right now; creation fails closed".into(),
                retry_after: 5,
            },
            CustodyError::OpenFailed { key_destroyed } => Self::CannotOpen { key_destroyed },
            CustodyError::WrongKey => Self::BadRequest("the envelope is for another key id than the one in the path".into()),
            _ => Self::Internal,
        }
    }
}

impl From<ok2cry_client::Error> for AppError {
    fn from(e: ok2cry_client::Error) -> Self {
        Self::BadRequest(e.to_string())
    }
}
