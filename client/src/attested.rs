//! Trusting a JWK set only through a verified attestation (feature `attestation`).
//!
//! A relying party that wants to know *what code* signs the key tokens it seals to verifies
//! the service's attestation document first (`ok2cry-attestation`: signature, chain to the
//! pinned root, PCRs, nonce), then accepts the service's JWKS only if the document commits to
//! exactly that set and to the audit key, and then accepts a key token only if its signing key
//! is one of the committed keys. [`AttestedJwks`] is the proof type for the middle step.

use crate::{Error, Jwks, KeyToken, VerifiedKey};
use ok2cry_attestation::{VerifiedAttestation, binding_user_data};
use subtle::ConstantTimeEq;

/// A JWK set that a verified attestation document commits to.
#[derive(Debug, Clone)]
pub struct AttestedJwks {
    jwks: Jwks,
    attestation: VerifiedAttestation,
    thumbprints: Vec<String>,
    audit_key_spki_sha256: Vec<u8>,
}

/// Why a JWK set is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestedError {
    /// The document does not commit to this JWK set and audit key.
    #[error("the attestation does not commit to this JWK set and audit key")]
    NotBound,
    /// The key token's signing key is not one the attestation commits to.
    #[error("the key token is signed by a key the attestation does not commit to")]
    KeyNotCommitted,
    /// The key token itself is refused.
    #[error(transparent)]
    Token(#[from] Error),
}

impl AttestedJwks {
    /// Accepts `jwks` if `attestation` (already verified under the caller's policy) commits to
    /// it and to the audit key whose SubjectPublicKeyInfo hashes to `audit_key_spki_sha256`.
    pub fn new(
        jwks: Jwks,
        attestation: VerifiedAttestation,
        audit_key_spki_sha256: &[u8],
    ) -> Result<Self, AttestedError> {
        let thumbprints: Vec<String> = jwks.keys.iter().map(|k| k.thumbprint()).collect();
        let expected = binding_user_data(&thumbprints, audit_key_spki_sha256);
        let bound = attestation
            .user_data()
            .is_some_and(|u| bool::from(u.ct_eq(expected.as_slice())));
        if !bound {
            return Err(AttestedError::NotBound);
        }
        Ok(Self {
            jwks,
            attestation,
            thumbprints,
            audit_key_spki_sha256: audit_key_spki_sha256.to_vec(),
        })
    }

    /// Verifies a key token against the attested set.
    pub fn verify_token(&self, token: &str, now: u64) -> Result<VerifiedKey, AttestedError> {
        let key = KeyToken::parse(token)?.verify(&self.jwks, now)?;
        let committed = self
            .thumbprints
            .iter()
            .any(|t| bool::from(t.as_bytes().ct_eq(key.signing_kid().as_bytes())));
        if committed {
            Ok(key)
        } else {
            Err(AttestedError::KeyNotCommitted)
        }
    }

    /// The attested JWK set.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The verified attestation.
    pub fn attestation(&self) -> &VerifiedAttestation {
        &self.attestation
    }

    /// The audit key commitment.
    pub fn audit_key_spki_sha256(&self) -> &[u8] {
        &self.audit_key_spki_sha256
    }
}
