//! The one error type of the HTTP layer, mapped to RFC 9457 problem+json in one place.
//!
//! Every refusal says what was wrong with the request; nothing internal is ever echoed
//! (internal errors are logged with detail and answered with a bare 500).
//!
//! The protocol's own errors (docs/PROTOCOL.md §11) map as the table of §11.2 says: each has its
//! status, its problem type and an `error` member carrying its §11 name. An envelope that
//! reaches the key but does not open — `OpenFailed`, and `ContextMismatch`, which the service
//! deliberately does not tell apart — is the coarse 422 `cannot-open`.
//!
//! Layer: http. Owns the mapping of every error to a response; nothing else in the service
//! builds an error response, and nothing here may echo an internal error to the client.

use crate::clock::{Millis, iso8601};
use crate::custody::CustodyError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where the problem types live: a problem document's `type` is this and the slug.
pub const PROBLEM_BASE: &str = "https://ok2cry.dev/problems/";

/// Every problem type the service writes (the slugs), as the API document lists them; a test
/// checks this against every [`AppError`] and protocol error.
pub const PROBLEM_TYPES: [&str; 32] = [
    "bad-request",
    "unauthenticated",
    "forbidden",
    "not-found",
    "method-not-allowed",
    "busy",
    "key-destroyed",
    "request-timeout",
    "payload-too-large",
    "unsupported-media-type",
    "cannot-open",
    "quota-exceeded",
    "rate-limited",
    "unavailable",
    "not-ready",
    "internal",
    "malformed",
    "invalid-key-id",
    "context-too-long",
    "plaintext-size",
    "unsupported-version",
    "unsupported-suite",
    "invalid-public-key",
    "invalid-private-key",
    "unsupported-algorithm",
    "wrong-token-type",
    "unknown-signing-key",
    "bad-signature",
    "expired",
    "not-yet-valid",
    "key-id-mismatch",
    "seal-failed",
];

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
    /// 409: the resource is busy with another operation; retry.
    Conflict(String),
    /// 410: the key was destroyed.
    Gone {
        /// When.
        destroyed_at: Millis,
        /// Why.
        reason: &'static str,
    },
    /// 408: the request was not received and handled in time (`limits.request_timeout_ms`).
    RequestTimeout,
    /// 413: body too large.
    PayloadTooLarge(String),
    /// 415: the body is not of the media type the route reads.
    UnsupportedMediaType(String),
    /// 422: the envelope could not be opened (deliberately coarse).
    CannotOpen {
        /// Whether the failure destroyed the key.
        key_destroyed: bool,
    },
    /// 429: the principal has as many live keys as its quota allows.
    QuotaExceeded {
        /// The quota.
        quota: usize,
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
    /// 503 on `/readyz`: the node cannot take keys now; the members say why.
    NotReady {
        /// Why, in words.
        detail: String,
        /// The readiness report (its members are added to the problem).
        report: Map<String, Value>,
    },
    /// 400 (422 for a failed open, 500 for [`ok2cry_client::Error::Crypto`]): an input the
    /// protocol refuses, with its docs/PROTOCOL.md §11 name.
    Protocol(ok2cry_client::Error),
    /// 500: something failed inside; details are logged, not returned.
    Internal,
}

/// docs/PROTOCOL.md §11.2: the status, problem type and title of each protocol error.
pub fn protocol_problem(e: &ok2cry_client::Error) -> (StatusCode, &'static str, &'static str) {
    use ok2cry_client::Error as E;
    let bad = StatusCode::BAD_REQUEST;
    match e {
        E::Malformed(_) => (bad, "malformed", "Malformed input"),
        E::InvalidKeyId => (bad, "invalid-key-id", "Invalid key id"),
        E::ContextTooLong => (bad, "context-too-long", "Context too long"),
        E::PlaintextSize => (bad, "plaintext-size", "Plaintext size out of range"),
        E::UnsupportedVersion => (bad, "unsupported-version", "Unsupported protocol version"),
        E::UnsupportedSuite => (bad, "unsupported-suite", "Unsupported suite"),
        E::InvalidPublicKey => (bad, "invalid-public-key", "Invalid public key"),
        E::InvalidPrivateKey => (bad, "invalid-private-key", "Invalid private key"),
        E::UnsupportedAlgorithm => (bad, "unsupported-algorithm", "Unsupported token algorithm"),
        E::WrongTokenType => (bad, "wrong-token-type", "Wrong token type"),
        E::UnknownSigningKey => (bad, "unknown-signing-key", "Unknown signing key"),
        E::BadSignature => (bad, "bad-signature", "Bad token signature"),
        E::Expired => (bad, "expired", "Key token expired"),
        E::NotYetValid => (bad, "not-yet-valid", "Key token not yet valid"),
        E::KeyIdMismatch => (bad, "key-id-mismatch", "Envelope for another key"),
        E::SealFailed => (bad, "seal-failed", "Cannot seal to this key"),
        E::ContextMismatch | E::OpenFailed => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot-open",
            "Cannot open envelope",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        ),
    }
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
            Self::Conflict(d) => (StatusCode::CONFLICT, "busy", "Busy", d.clone(), ext),
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
                ext.insert("error".into(), json!("OpenFailed"));
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
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                "the request was not received and handled in time".into(),
                ext,
            ),
            Self::UnsupportedMediaType(d) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                d.clone(),
                ext,
            ),
            Self::QuotaExceeded { quota } => {
                ext.insert("quota".into(), json!(quota));
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "quota-exceeded",
                    "Live-key quota reached",
                    format!(
                        "this principal has {quota} live keys, its quota; retry when some have been used, deleted or expired"
                    ),
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
            Self::NotReady { detail, report } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                detail.clone(),
                report.clone(),
            ),
            Self::Protocol(e) => {
                let (status, slug, title) = protocol_problem(e);
                let detail = match status {
                    // Coarse on purpose: which part failed is not said (§11).
                    StatusCode::UNPROCESSABLE_ENTITY => {
                        ext.insert("error".into(), json!("OpenFailed"));
                        "the envelope could not be opened with this key and context".to_owned()
                    }
                    StatusCode::INTERNAL_SERVER_ERROR => {
                        "the service failed to handle the request".to_owned()
                    }
                    _ => {
                        ext.insert("error".into(), json!(e.name()));
                        e.to_string()
                    }
                };
                (status, slug, title, detail, ext)
            }
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
        body.insert("type".into(), json!(format!("{PROBLEM_BASE}{slug}")));
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
            Self::QuotaExceeded { .. } => Some(1),
            Self::NotReady { .. } => Some(1),
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
            CustodyError::QuotaExceeded { quota } => Self::QuotaExceeded { quota },
            CustodyError::AuditUnavailable => Self::Unavailable {
                detail: "the audit log cannot record this right now; the request fails closed and the key is unchanged".into(),
                retry_after: 5,
            },
            CustodyError::DestroyedUnlogged => Self::Unavailable {
                detail: "the key was destroyed, but the audit log cannot record it right now; the record is queued and written when the log recovers".into(),
                retry_after: 5,
            },
            CustodyError::Busy => Self::Conflict(
                "another open or delete of this key is in progress; retry".into(),
            ),
            CustodyError::OpenFailed { key_destroyed } => Self::CannotOpen { key_destroyed },
            CustodyError::WrongKey => Self::Protocol(ok2cry_client::Error::KeyIdMismatch),
            _ => Self::Internal,
        }
    }
}

impl From<ok2cry_client::Error> for AppError {
    fn from(e: ok2cry_client::Error) -> Self {
        Self::Protocol(e)
    }
}

/// For the API document's tests: every problem type the service can write.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use ok2cry_client::Error as E;
    use std::collections::BTreeSet;

    /// Every `type` URI of every [`AppError`] (each variant, each protocol error).
    pub(crate) fn every_problem_type() -> BTreeSet<String> {
        let protocol = [
            E::Malformed("x"),
            E::InvalidKeyId,
            E::ContextTooLong,
            E::PlaintextSize,
            E::UnsupportedVersion,
            E::UnsupportedSuite,
            E::InvalidPublicKey,
            E::InvalidPrivateKey,
            E::UnsupportedAlgorithm,
            E::WrongTokenType,
            E::UnknownSigningKey,
            E::BadSignature,
            E::Expired,
            E::NotYetValid,
            E::KeyIdMismatch,
            E::SealFailed,
            E::ContextMismatch,
            E::OpenFailed,
            E::Crypto,
        ];
        let mut errors: Vec<AppError> = protocol.into_iter().map(AppError::Protocol).collect();
        errors.extend([
            AppError::BadRequest(String::new()),
            AppError::Unauthenticated(String::new()),
            AppError::Forbidden(String::new()),
            AppError::NotFound(String::new()),
            AppError::MethodNotAllowed,
            AppError::Conflict(String::new()),
            AppError::Gone {
                destroyed_at: 0,
                reason: "expired",
            },
            AppError::RequestTimeout,
            AppError::PayloadTooLarge(String::new()),
            AppError::UnsupportedMediaType(String::new()),
            AppError::CannotOpen {
                key_destroyed: false,
            },
            AppError::QuotaExceeded { quota: 1 },
            AppError::RateLimited { retry_after: 1 },
            AppError::Unavailable {
                detail: String::new(),
                retry_after: 1,
            },
            AppError::NotReady {
                detail: String::new(),
                report: Map::new(),
            },
            AppError::Internal,
        ]);
        // A new variant must be added above: this match has no wildcard.
        for e in &errors {
            match e {
                AppError::BadRequest(_)
                | AppError::Unauthenticated(_)
                | AppError::Forbidden(_)
                | AppError::NotFound(_)
                | AppError::MethodNotAllowed
                | AppError::Conflict(_)
                | AppError::Gone { .. }
                | AppError::RequestTimeout
                | AppError::PayloadTooLarge(_)
                | AppError::UnsupportedMediaType(_)
                | AppError::CannotOpen { .. }
                | AppError::QuotaExceeded { .. }
                | AppError::RateLimited { .. }
                | AppError::Unavailable { .. }
                | AppError::NotReady { .. }
                | AppError::Protocol(_)
                | AppError::Internal => {}
            }
        }
        errors
            .iter()
            .map(|e| format!("{PROBLEM_BASE}{}", e.parts().1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ok2cry_client::Error as E;

    async fn body(e: AppError) -> (StatusCode, Value) {
        let response = e.into_response();
        let status = response.status();
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// The table of docs/PROTOCOL.md §11.2, row by row.
    #[tokio::test]
    async fn every_protocol_error_maps_as_the_table_says() {
        let rows: [(E, u16, &str, Option<&str>); 19] = [
            (E::Malformed("x"), 400, "malformed", Some("Malformed")),
            (E::InvalidKeyId, 400, "invalid-key-id", Some("InvalidKeyId")),
            (
                E::ContextTooLong,
                400,
                "context-too-long",
                Some("ContextTooLong"),
            ),
            (
                E::PlaintextSize,
                400,
                "plaintext-size",
                Some("PlaintextSize"),
            ),
            (
                E::UnsupportedVersion,
                400,
                "unsupported-version",
                Some("UnsupportedVersion"),
            ),
            (
                E::UnsupportedSuite,
                400,
                "unsupported-suite",
                Some("UnsupportedSuite"),
            ),
            (
                E::InvalidPublicKey,
                400,
                "invalid-public-key",
                Some("InvalidPublicKey"),
            ),
            (
                E::InvalidPrivateKey,
                400,
                "invalid-private-key",
                Some("InvalidPrivateKey"),
            ),
            (
                E::UnsupportedAlgorithm,
                400,
                "unsupported-algorithm",
                Some("UnsupportedAlgorithm"),
            ),
            (
                E::WrongTokenType,
                400,
                "wrong-token-type",
                Some("WrongTokenType"),
            ),
            (
                E::UnknownSigningKey,
                400,
                "unknown-signing-key",
                Some("UnknownSigningKey"),
            ),
            (E::BadSignature, 400, "bad-signature", Some("BadSignature")),
            (E::Expired, 400, "expired", Some("Expired")),
            (E::NotYetValid, 400, "not-yet-valid", Some("NotYetValid")),
            (
                E::KeyIdMismatch,
                400,
                "key-id-mismatch",
                Some("KeyIdMismatch"),
            ),
            (E::SealFailed, 400, "seal-failed", Some("SealFailed")),
            // Coarse: a context mismatch is answered exactly as a failed decryption.
            (E::ContextMismatch, 422, "cannot-open", Some("OpenFailed")),
            (E::OpenFailed, 422, "cannot-open", Some("OpenFailed")),
            (E::Crypto, 500, "internal", None),
        ];
        for (e, status, slug, name) in rows {
            let (got, doc) = body(AppError::Protocol(e.clone())).await;
            assert_eq!(got.as_u16(), status, "{e:?}");
            assert_eq!(doc["status"], status, "{e:?}");
            assert_eq!(
                doc["type"],
                format!("https://ok2cry.dev/problems/{slug}"),
                "{e:?}"
            );
            assert_eq!(doc["error"].as_str(), name, "{e:?}");
        }
        // ContextMismatch and OpenFailed are the same document, word for word.
        assert_eq!(
            body(AppError::Protocol(E::ContextMismatch)).await,
            body(AppError::Protocol(E::OpenFailed)).await
        );
    }

    #[tokio::test]
    async fn custody_refusals_of_an_open() {
        let (status, doc) = body(CustodyError::WrongKey.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(doc["type"], "https://ok2cry.dev/problems/key-id-mismatch");
        assert_eq!(doc["error"], "KeyIdMismatch");
        for destroyed in [false, true] {
            let (status, doc) = body(
                CustodyError::OpenFailed {
                    key_destroyed: destroyed,
                }
                .into(),
            )
            .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(doc["type"], "https://ok2cry.dev/problems/cannot-open");
            assert_eq!(doc["error"], "OpenFailed");
            assert_eq!(doc["key_destroyed"], destroyed);
        }
        let (status, doc) = body(CustodyError::NotFound.into()).await;
        assert_eq!(
            (status, doc["type"].as_str()),
            (
                StatusCode::NOT_FOUND,
                Some("https://ok2cry.dev/problems/not-found")
            )
        );
    }
}
