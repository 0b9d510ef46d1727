//! `GET /v1/attestation?nonce=<hex>`: attestation evidence that commits to this node's keys.
//!
//! The answer is an [`AttestationResponse`]: the evidence made by the node's attestation
//! provider (a Nitro document, SEV-SNP evidence, or the development stand-in) with the
//! caller's nonce, and the members a relying party needs to check the binding: the RFC 7638
//! thumbprints of every key in `/.well-known/jwks.json`, and the SHA-256 of the audit key's
//! SubjectPublicKeyInfo, or `null` when the node has no audit log (the binding then commits to
//! "no audit key", never to a placeholder digest). The rule is
//! [`ok2cry_attestation::binding`]'s and is written out in docs/ATTESTATION.md.
//!
//! The nonce is 1 to 64 bytes, sent as 2 to 128 hex digits; it is the only query parameter.
//! Any authenticated caller may ask (the evidence and the key digests are public); the answer
//! is never cached (`Cache-Control: no-store`).
//!
//! Layer: http. Owns the attestation route and its binding to the node's keys; evidence is
//! made by the provider of `ok2cry-attestation`, never here.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use ok2cry_attestation::binding::{Binding, MAX_NONCE_LEN};
use ok2cry_attestation::response::{AttestationResponse, BINDING_V1};

use crate::http::caller::Caller;
use crate::http::problem::AppError;
use crate::http::state::AppState;

/// What a bad `nonce` parameter is told.
const NONCE_FORMAT: &str = "1 to 64 bytes, written as 2 to 128 hex digits";

/// SHA-256 of the audit key's DER SubjectPublicKeyInfo (the attestation binding commits to it).
pub fn audit_key_spki_sha256(public_key_pem: &str) -> Option<[u8; 32]> {
    use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
    use sha2::Digest;
    let key = p256::PublicKey::from_public_key_pem(public_key_pem.trim()).ok()?;
    let der = key.to_public_key_der().ok()?;
    Some(sha2::Sha256::digest(der.as_bytes()).into())
}

/// The nonce of `?nonce=<hex>`: the only parameter, once, 1 to 64 bytes.
fn nonce(query: Option<&str>) -> Result<Vec<u8>, AppError> {
    let mut nonce = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("nonce", value)) if nonce.is_none() => nonce = Some(value),
            Some(("nonce", _)) => {
                return Err(AppError::BadRequest("nonce is given more than once".into()));
            }
            _ => {
                return Err(AppError::BadRequest(
                    "the only query parameter is nonce".into(),
                ));
            }
        }
    }
    let hex_digits = nonce.ok_or_else(|| {
        AppError::BadRequest(format!("nonce is required: ?nonce=<{NONCE_FORMAT}>"))
    })?;
    hex::decode(hex_digits)
        .ok()
        .filter(|n| (1..=MAX_NONCE_LEN).contains(&n.len()))
        .ok_or_else(|| AppError::BadRequest(format!("nonce must be {NONCE_FORMAT}")))
}

/// The attestation query.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct NonceQuery {
    /// 1 to 64 bytes, written as 2 to 128 hex digits; the only parameter, given once.
    #[param(pattern = "^([0-9A-Fa-f]{2}){1,64}$")]
    nonce: String,
}

/// Attestation evidence committing to the token-signing keys and the audit key.
///
/// Any authenticated caller. The evidence's user data (Nitro) or REPORT_DATA (SEV-SNP)
/// commits to the nonce, the JWKS thumbprints and the audit key's digest (binding
/// `ok2cry-bind-v1`, docs/ATTESTATION.md). Never cached.
#[utoipa::path(
    get, path = "/v1/attestation", tag = "attestation", params(NonceQuery),
    responses(
        (status = 200, description = "The evidence and the binding's members",
            body = crate::http::schema::Attestation,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "A bad nonce (`bad-request`)",
            body = crate::http::schema::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Attestation is not enabled on this node",
            body = crate::http::schema::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The attestation provider failed (Retry-After)",
            body = crate::http::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn attestation(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    uri: axum::http::Uri,
) -> Result<Response, AppError> {
    let attestor = state
        .attestation
        .clone()
        .ok_or_else(|| AppError::NotFound("attestation is not enabled on this node".into()))?;
    let nonce = nonce(uri.query())?;
    let binding = Binding::new(
        &state.custody.signing().thumbprints(),
        state
            .audit
            .as_ref()
            .and_then(|a| audit_key_spki_sha256(a.public_key_pem()))
            .as_ref()
            .map(<[u8; 32]>::as_slice),
    );
    let user_data = binding.user_data();
    let provider = attestor.provider.clone();
    let request_nonce = nonce.clone();
    // The NSM and configfs-tsm calls block (a device round trip): off the async workers.
    let document = tokio::task::spawn_blocking(move || {
        provider.attest(Some(&request_nonce), Some(&user_data), None)
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|e| {
        tracing::error!(error = %e, "attestation failed");
        AppError::Unavailable {
            detail: "the attestation provider failed".into(),
            retry_after: 5,
        }
    })?;
    let body = AttestationResponse {
        platform: attestor.platform().id().to_owned(),
        provider: attestor.kind.to_owned(),
        document: Base64::encode_string(&document),
        nonce: hex::encode(&nonce),
        binding: BINDING_V1.to_owned(),
        jwks_thumbprints: binding.jwks_thumbprints().to_vec(),
        audit_key_spki_sha256: binding.audit_key_spki_sha256().map(hex::encode),
        dev_root_certificate: attestor.dev_root.as_deref().map(Base64::encode_string),
        warning: attestor
            .dev_root
            .as_ref()
            .map(|_| "development provider: proves nothing about the running build".to_owned()),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_parameter() {
        assert_eq!(nonce(Some("nonce=00ff")).unwrap(), vec![0, 0xff]);
        assert_eq!(
            nonce(Some(&format!("nonce={}", "ab".repeat(64))))
                .unwrap()
                .len(),
            64
        );
        for bad in [
            None,
            Some(""),
            Some("nonce="),
            Some("nonce=zz"),
            Some("nonce=abc"),
            Some(&*format!("nonce={}", "ab".repeat(65))),
            Some("nonce=00&nonce=01"),
            Some("nonce=00&x=1"),
        ] {
            assert!(nonce(bad).is_err(), "{bad:?}");
        }
    }
}
