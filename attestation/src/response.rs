//! The JSON body of `GET /v1/attestation`: what the service sends and relying parties read.
//!
//! ```json
//! {
//!   "platform": "nitro",
//!   "provider": "development",
//!   "document": "<base64 of the evidence>",
//!   "nonce": "<the request's nonce, hex>",
//!   "binding": "ok2cry-bind-v1",
//!   "jwks_thumbprints": ["<RFC 7638 thumbprint>", "…"],
//!   "audit_key_spki_sha256": "<64 hex digits, or null when the node has no audit key>",
//!   "dev_root_certificate": "<base64 DER; development provider only>",
//!   "warning": "<development provider only>"
//! }
//! ```
//!
//! Only `document` is signed. Everything else is a claim the relying party checks against the
//! document: `jwks_thumbprints` and `audit_key_spki_sha256` recompute the binding the document
//! commits to ([`crate::binding`]), and then the JWKS and audit key actually fetched must be
//! exactly those. `platform` and `provider` only say what to expect; a development
//! provider's root is trusted only by a relying party that pins it on purpose.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use crate::binding::Binding;
use crate::error::{AttestationError, Result};

/// The binding encoding the service uses.
pub const BINDING_V1: &str = "ok2cry-bind-v1";

/// The largest response body a relying party should read: the evidence in base64 and up to a
/// few hundred thumbprints.
pub const MAX_RESPONSE_LEN: usize = 64 * 1024;

/// The body of `GET /v1/attestation` (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationResponse {
    /// `nitro` or `sev-snp`: the kind of evidence in `document`.
    pub platform: String,
    /// Which provider made it: `nitro` (the NSM), `sev-snp`, or `development`.
    pub provider: String,
    /// The evidence, standard base64 with padding.
    pub document: String,
    /// The nonce of the request, hex.
    pub nonce: String,
    /// The binding encoding: `ok2cry-bind-v1`.
    pub binding: String,
    /// The RFC 7638 thumbprints of every key in `/.well-known/jwks.json`, sorted.
    pub jwks_thumbprints: Vec<String>,
    /// SHA-256 of the audit key's DER SubjectPublicKeyInfo, hex; `None` (JSON null) when the
    /// node has no audit key.
    pub audit_key_spki_sha256: Option<String>,
    /// The development provider's root certificate, base64 DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_root_certificate: Option<String>,
    /// A warning for people (the development provider proves nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl AttestationResponse {
    /// Parses a response body (at most [`MAX_RESPONSE_LEN`] bytes).
    pub fn from_json(body: &[u8]) -> Result<Self> {
        if body.len() > MAX_RESPONSE_LEN {
            return Err(AttestationError::TooLarge {
                limit: MAX_RESPONSE_LEN,
            });
        }
        serde_json::from_slice(body).map_err(|_| {
            AttestationError::Malformed("not the JSON that GET /v1/attestation returns")
        })
    }

    /// The evidence bytes.
    pub fn document_bytes(&self) -> Result<Vec<u8>> {
        Base64::decode_vec(&self.document)
            .map_err(|_| AttestationError::Malformed("document is not base64"))
    }

    /// The nonce bytes.
    pub fn nonce_bytes(&self) -> Result<Vec<u8>> {
        hex::decode(&self.nonce).map_err(|_| AttestationError::Malformed("nonce is not hex"))
    }

    /// The development root certificate, DER, if present.
    pub fn dev_root_bytes(&self) -> Result<Option<Vec<u8>>> {
        self.dev_root_certificate
            .as_deref()
            .map(|b64| {
                Base64::decode_vec(b64)
                    .map_err(|_| AttestationError::Malformed("dev_root_certificate is not base64"))
            })
            .transpose()
    }

    /// The binding these members claim (to be checked against the document, and the JWKS and
    /// audit key against it).
    pub fn claimed_binding(&self) -> Result<Binding> {
        if self.binding != BINDING_V1 {
            return Err(AttestationError::Malformed("unknown binding encoding"));
        }
        let audit = self
            .audit_key_spki_sha256
            .as_deref()
            .map(|hex_digits| {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_digits, &mut digest)
                    .map(|()| digest)
                    .map_err(|_| {
                        AttestationError::Malformed("audit_key_spki_sha256 is not 64 hex digits")
                    })
            })
            .transpose()?;
        Ok(Binding::new(
            &self.jwks_thumbprints,
            audit.as_ref().map(<[u8; 32]>::as_slice),
        ))
    }
}
