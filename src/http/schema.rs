//! The schemas the API document cannot derive: types whose JSON is written by hand (the
//! problem document, the envelope) or that live in another crate (JWKs, the attestation
//! response), and the patterns of documented values (the key id).
//!
//! Layer: http. Handlers name these types in their `#[utoipa::path]` attributes and
//! [`crate::http::openapi`] gathers them; this module imports neither.

use crate::http::problem::{PROBLEM_BASE, PROBLEM_TYPES};
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// A key id as the API documents it (docs/PROTOCOL.md §4).
pub(crate) const KEY_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,128}$";

/// A schema written as JSON Schema, for types whose JSON is written by hand or that live in
/// another crate. The tests check that each reads back to the same JSON (so nothing of it is
/// dropped) and that it matches what the type really serializes.
fn schema(value: Value) -> RefOr<Schema> {
    serde_json::from_value(value).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

macro_rules! hand_written_schema {
    ($ty:ident, $name:literal, $json:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                schema($json)
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

/// An RFC 9457 problem document, as [`crate::http::problem::AppError`] writes it.
pub struct Problem;

pub(crate) fn problem_schema() -> Value {
    let types: Vec<String> = PROBLEM_TYPES
        .iter()
        .map(|slug| format!("{PROBLEM_BASE}{slug}"))
        .collect();
    let reasons: Vec<&str> = crate::audit::event::DestroyReason::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    json!({
        "type": "object",
        "description": "RFC 9457 problem details. Members beyond these are those of the problem \
            type: /readyz's not-ready adds the members of Readiness.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "enum": types,
                "description": "The problem type (docs/PROTOCOL.md §11.2)"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "What was wrong, in words"},
            "error": {"type": "string",
                "description": "The docs/PROTOCOL.md §11 name of a protocol error, e.g. \
                    Malformed, KeyIdMismatch, OpenFailed"},
            "key_destroyed": {"type": "boolean",
                "description": "cannot-open: whether the failed open destroyed the key"},
            "destroyed_at": {"type": "string", "format": "date-time",
                "description": "key-destroyed: when"},
            "reason": {"type": "string", "enum": reasons, "description": "key-destroyed: why"},
            "quota": {"type": "integer", "minimum": 0,
                "description": "quota-exceeded: the principal's live-key quota"}
        }
    })
}
hand_written_schema!(Problem, "Problem", problem_schema());

/// A sealing key's or a signing key's JWK (RFC 7517), public part only.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Jwk(pub ok2cry_client::PublicJwk);

pub(crate) fn jwk_schema() -> Value {
    json!({
        "type": "object",
        "description": "A P-256 public key (RFC 7518 §6.2.1); x and y are 32 bytes, base64url",
        "required": ["kty", "crv", "x", "y"],
        "additionalProperties": false,
        "properties": {
            "kty": {"type": "string", "enum": ["EC"]},
            "crv": {"type": "string", "enum": ["P-256"]},
            "x": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
            "y": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
            "kid": {"type": "string"},
            "use": {"type": "string", "enum": ["sig", "enc"]},
            "alg": {"type": "string", "enum": ["ES256"]}
        }
    })
}
hand_written_schema!(Jwk, "Jwk", jwk_schema());

/// The service's signing keys (RFC 7517 §5).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Jwks(pub ok2cry_client::Jwks);

hand_written_schema!(
    Jwks,
    "Jwks",
    json!({
        "type": "object",
        "required": ["keys"],
        "additionalProperties": false,
        "properties": {"keys": {"type": "array", "items": {"$ref": "#/components/schemas/Jwk"}}}
    })
);

/// The JSON form of an envelope (docs/PROTOCOL.md §5), read by the client crate's strict
/// parser.
pub struct Envelope;

hand_written_schema!(
    Envelope,
    "Envelope",
    json!({
        "type": "object",
        "description": "docs/PROTOCOL.md §5: exactly these members, none null, none twice",
        "required": ["version", "key_id", "sealed"],
        "additionalProperties": false,
        "properties": {
            "version": {"type": "integer", "enum": [1]},
            "key_id": {"type": "string", "pattern": KEY_ID_PATTERN},
            "sealed": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$",
                "description": "base64url without padding of enc (65 bytes) || ciphertext \
                    (plaintext of 1 to 65536 bytes, and a 16-byte tag)"},
            "context": {"type": "string", "maxLength": 256,
                "description": "The context the sender bound, at most 256 bytes of UTF-8 (the \
                    length limit here counts characters; the service counts bytes); omitted \
                    when empty"}
        }
    })
);

/// The body of `GET /v1/attestation` ([`ok2cry_attestation::response::AttestationResponse`]).
pub struct Attestation;

hand_written_schema!(
    Attestation,
    "AttestationResponse",
    json!({
        "type": "object",
        "required": ["platform", "provider", "document", "nonce", "binding",
            "jwks_thumbprints", "audit_key_spki_sha256"],
        "additionalProperties": false,
        "properties": {
            "platform": {"type": "string", "enum": ["nitro", "sev-snp"],
                "description": "The kind of evidence in document"},
            "provider": {"type": "string", "enum": ["nitro", "sev-snp", "development"],
                "description": "Which provider made it; the development provider makes \
                    Nitro-format documents that prove nothing"},
            "document": {"type": "string", "contentEncoding": "base64",
                "description": "The evidence, standard base64 with padding, at most 16 KiB \
                    decoded: a Nitro COSE_Sign1, or the ok2cry SEV-SNP evidence bundle (CBOR: \
                    format, report, vcek, ask, ark). Only this member is signed \
                    (docs/ATTESTATION.md)"},
            "nonce": {"type": "string", "pattern": "^[0-9a-f]{2,128}$",
                "description": "The request's nonce, echoed (lowercase hex)"},
            "binding": {"type": "string", "enum": ["ok2cry-bind-v1"]},
            "jwks_thumbprints": {"type": "array", "items": {"type": "string"},
                "description": "RFC 7638 thumbprints of every key in /.well-known/jwks.json, \
                    sorted by bytes, no duplicates"},
            "audit_key_spki_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 of the audit key's DER SubjectPublicKeyInfo; null when \
                    the node has no audit log"},
            "dev_root_certificate": {"type": "string", "contentEncoding": "base64",
                "description": "Development provider only: its root certificate (DER)"},
            "warning": {"type": "string", "description": "Development provider only"}
        }
    })
);
