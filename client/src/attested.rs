//! Trusting a JWK set only through verified attestation evidence (feature `attestation`).
//!
//! A relying party that wants to know *what code* signs the key tokens it seals to verifies
//! the service's attestation evidence first (`ok2cry-attestation`: signature, chain to the
//! pinned root, measurements, nonce), then accepts the service's JWKS only if the evidence
//! commits to exactly that set (and to the audit key, or to there being none), and then
//! accepts a key token only if the key that signed it is one of the committed keys.
//!
//! - [`verify_service_attestation`]: the whole check over a `GET /v1/attestation` answer, the
//!   JWKS and (when the caller may read it) the audit key, as the relying party fetched them.
//!   `Ok2cryClient::attest` (feature `http`) fetches them and calls it: one call.
//! - [`AttestedJwks`]: the proof type for the middle step; it verifies key tokens.
//! - [`AttestedKeys`]: a shared, replaceable [`AttestedJwks`] for a proxy's
//!   `ForwardLayer::require_attested_keys` (feature `proxy`).

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::{Error, Jwks, KeyToken, VerifiedKey};
use ok2cry_attestation::response::AttestationResponse;
use ok2cry_attestation::{
    AttestationError, Binding, Verified, VerifiedAttestation, Verifier, binding_user_data,
};
use subtle::ConstantTimeEq;

/// A JWK set that verified attestation evidence commits to.
#[derive(Debug, Clone)]
pub struct AttestedJwks {
    jwks: Jwks,
    verified: Verified,
    binding: Binding,
}

/// Why a service's attestation, JWK set, audit key or key token is not trusted. Every message
/// says which check failed; none carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestedError {
    /// The evidence does not commit to this JWK set and audit key.
    #[error("the attestation does not commit to this JWK set and audit key")]
    NotBound,
    /// The key token's signing key is not one the attestation commits to.
    #[error("the key token is signed by a key the attestation does not commit to")]
    KeyNotCommitted,
    /// The key token itself is refused.
    #[error(transparent)]
    Token(#[from] Error),
    /// The evidence was refused by the verifier, or does not commit to the JWKS thumbprints
    /// and audit key digest the response lists.
    #[error("attestation refused: {0}")]
    Evidence(#[from] AttestationError),
    /// The answer is for another nonce than the one the relying party sent.
    #[error("the attestation answers another nonce than the one sent (a replayed answer?)")]
    NonceMismatch,
    /// The JWK set served is not the one the evidence commits to.
    #[error(
        "the JWK set served is not the attested one: {} key(s) not committed by the attestation \
         ({}), {} committed key(s) missing from it",
        .extra.len(), .extra.join(", "), .missing.len()
    )]
    JwksNotAttested {
        /// Thumbprints served but not committed.
        extra: Vec<String>,
        /// Thumbprints committed but not served.
        missing: Vec<String>,
    },
    /// The audit key served is not the one the evidence commits to (or the evidence commits
    /// to there being no audit key).
    #[error("the audit key served is not the attested one")]
    AuditKeyNotAttested,
}

/// What was learned about the audit key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditKeyCheck {
    /// The audit key fetched has the committed SubjectPublicKeyInfo digest.
    Attested {
        /// The audit key, SPKI PEM.
        public_key_pem: String,
    },
    /// The evidence commits to a digest, but the key itself was not checked (the reason says
    /// why: e.g. the caller lacks the auditor role).
    NotChecked {
        /// The committed SHA-256 of the key's SubjectPublicKeyInfo.
        committed_spki_sha256: Vec<u8>,
        /// Why it was not checked.
        reason: String,
    },
    /// The evidence commits to the node having no audit key.
    NoAuditKey,
}

/// The outcome of [`verify_service_attestation`]: everything that was checked.
#[derive(Debug, Clone)]
pub struct AttestedService {
    /// The JWK set, attested.
    pub jwks: AttestedJwks,
    /// The audit key, as far as it was checked.
    pub audit_key: AuditKeyCheck,
    /// The nonce the evidence answers.
    pub nonce: Vec<u8>,
    /// The service's answer, as received.
    pub response: AttestationResponse,
}

/// SHA-256 of the DER SubjectPublicKeyInfo of a P-256 public key given as SPKI PEM (the
/// service's audit key), or `None` if it is not one.
pub fn spki_sha256_of_pem(public_key_pem: &str) -> Option<[u8; 32]> {
    use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
    use sha2::Digest;
    let key = p256::PublicKey::from_public_key_pem(public_key_pem.trim()).ok()?;
    let der = key.to_public_key_der().ok()?;
    Some(sha2::Sha256::digest(der.as_bytes()).into())
}

/// Checks a service's attestation end to end, without any I/O:
/// 1. `response` answers `expected_nonce` (when given; a saved answer may not know it);
/// 2. its evidence verifies under `verifier` at `at`;
/// 3. the evidence commits to the `jwks_thumbprints` and `audit_key_spki_sha256` the response
///    lists, and to its nonce;
/// 4. `jwks` (as the relying party fetched it) is exactly the committed set;
/// 5. the audit key, when `audit_key_pem` is given, has the committed digest; when the evidence
///    commits to no audit key, none may be given.
pub fn verify_service_attestation(
    response: &AttestationResponse,
    verifier: &Verifier,
    at: SystemTime,
    expected_nonce: Option<&[u8]>,
    jwks: &Jwks,
    audit_key_pem: Option<&str>,
) -> Result<AttestedService, AttestedError> {
    let nonce = response.nonce_bytes()?;
    if let Some(expected) = expected_nonce
        && !bool::from(nonce.ct_eq(expected))
    {
        return Err(AttestedError::NonceMismatch);
    }
    let verified = verifier.verify(&response.document_bytes()?, at)?;
    let binding = response.claimed_binding()?;
    binding.check(&verified, &nonce)?;
    let attested = AttestedJwks::with_binding(jwks.clone(), verified, binding)?;
    let audit_key = match (attested.binding.audit_key_spki_sha256(), audit_key_pem) {
        (None, None) => AuditKeyCheck::NoAuditKey,
        (None, Some(_)) => return Err(AttestedError::AuditKeyNotAttested),
        (Some(committed), None) => AuditKeyCheck::NotChecked {
            committed_spki_sha256: committed.to_vec(),
            reason: "no audit key was given to check".into(),
        },
        (Some(committed), Some(pem)) => {
            let digest = spki_sha256_of_pem(pem).ok_or(AttestedError::AuditKeyNotAttested)?;
            if !bool::from(digest.as_slice().ct_eq(committed)) {
                return Err(AttestedError::AuditKeyNotAttested);
            }
            AuditKeyCheck::Attested {
                public_key_pem: pem.to_owned(),
            }
        }
    };
    Ok(AttestedService {
        jwks: attested,
        audit_key,
        nonce,
        response: response.clone(),
    })
}

impl AttestedJwks {
    /// Accepts `jwks` if the Nitro `attestation` (already verified under the caller's policy,
    /// nonce included) commits to it and to the audit key whose SubjectPublicKeyInfo hashes
    /// to `audit_key_spki_sha256`.
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
            binding: Binding::new(&thumbprints, Some(audit_key_spki_sha256)),
            jwks,
            verified: Verified::Nitro(attestation),
        })
    }

    /// Accepts `jwks` if `verified` evidence (of either platform) commits to `nonce` and to
    /// exactly this JWK set and this audit key digest (`None`: the node has no audit key).
    pub fn bind(
        jwks: Jwks,
        verified: Verified,
        nonce: &[u8],
        audit_key_spki_sha256: Option<&[u8]>,
    ) -> Result<Self, AttestedError> {
        let thumbprints: Vec<String> = jwks.keys.iter().map(|k| k.thumbprint()).collect();
        let binding = Binding::new(&thumbprints, audit_key_spki_sha256);
        binding
            .check(&verified, nonce)
            .map_err(|_| AttestedError::NotBound)?;
        Ok(Self {
            jwks,
            verified,
            binding,
        })
    }

    /// `jwks` under a binding already checked against `verified`: its keys must be exactly the
    /// committed ones.
    fn with_binding(
        jwks: Jwks,
        verified: Verified,
        binding: Binding,
    ) -> Result<Self, AttestedError> {
        let mut served: Vec<String> = jwks.keys.iter().map(|k| k.thumbprint()).collect();
        served.sort_unstable();
        served.dedup();
        let committed = binding.jwks_thumbprints();
        let extra: Vec<String> = served
            .iter()
            .filter(|t| !committed.contains(t))
            .cloned()
            .collect();
        let missing: Vec<String> = committed
            .iter()
            .filter(|t| !served.contains(t))
            .cloned()
            .collect();
        if !extra.is_empty() || !missing.is_empty() {
            return Err(AttestedError::JwksNotAttested { extra, missing });
        }
        Ok(Self {
            jwks,
            verified,
            binding,
        })
    }

    /// Verifies a key token against the attested set: the token must verify under the JWKS,
    /// and the key that verified it (by its RFC 7638 thumbprint, whatever its `kid` says) must
    /// be a committed one.
    pub fn verify_token(&self, token: &str, now: u64) -> Result<VerifiedKey, AttestedError> {
        let key = KeyToken::parse(token)?.verify(&self.jwks, now)?;
        let thumbprint = self
            .jwks
            .find(key.signing_kid())
            .map(|jwk| jwk.thumbprint())
            .ok_or(AttestedError::KeyNotCommitted)?;
        if self.binding.commits_to_key(&thumbprint) {
            Ok(key)
        } else {
            Err(AttestedError::KeyNotCommitted)
        }
    }

    /// The attested JWK set.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The verified evidence.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The verified Nitro document, if the evidence is one.
    pub fn attestation(&self) -> Option<&VerifiedAttestation> {
        self.verified.as_nitro()
    }

    /// The binding: committed thumbprints and audit key digest.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// The audit key commitment (`None`: the node has no audit key).
    pub fn audit_key_spki_sha256(&self) -> Option<&[u8]> {
        self.binding.audit_key_spki_sha256()
    }
}

/// A shared, replaceable [`AttestedJwks`]: the application re-attests (after a signing-key
/// rotation, or on a timer) and sets the new one; readers see either the old or the new set,
/// never a mix. Empty until the first [`AttestedKeys::set`]; users must treat empty as "trust
/// no key token".
#[derive(Debug, Clone, Default)]
pub struct AttestedKeys {
    // A std lock: held only to clone or swap an `Arc`, never across an `.await`.
    current: Arc<RwLock<Option<Arc<AttestedJwks>>>>,
}

impl AttestedKeys {
    /// An empty holder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A holder with `attested` in it.
    pub fn with(attested: AttestedJwks) -> Self {
        let keys = Self::new();
        keys.set(attested);
        keys
    }

    /// Replaces the attested set.
    pub fn set(&self, attested: AttestedJwks) {
        if let Ok(mut guard) = self.current.write() {
            *guard = Some(Arc::new(attested));
        }
    }

    /// The current attested set, if any.
    pub fn current(&self) -> Option<Arc<AttestedJwks>> {
        self.current.read().ok().and_then(|guard| guard.clone())
    }

    /// Verifies a key token against the current attested set (refused when there is none).
    pub fn verify_token(&self, token: &str, now: u64) -> Result<VerifiedKey, AttestedError> {
        self.current()
            .ok_or(AttestedError::KeyNotCommitted)?
            .verify_token(token, now)
    }
}
