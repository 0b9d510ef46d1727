//! The binding between attestation evidence and the service's keys.
//!
//! `GET /v1/attestation?nonce=…` returns evidence that commits to the service's JWKS signing
//! keys (by RFC 7638 thumbprint) and to its audit checkpoint key (by the SHA-256 of its DER
//! SubjectPublicKeyInfo), or says that the node has no audit key. A relying party that verified
//! the evidence, fetched the JWKS (and, when its role allows, the audit key) checks with
//! [`Binding::check`] that what it was given is what the evidence commits to, and with
//! [`Binding::commits_to_key`] that the key that signed its key token is one of them.
//!
//! Encoding, version 1 (always 47 bytes, far below the NSM's 512-byte `user_data` limit):
//!
//! ```text
//! user_data = "ok2cry-bind-v1:" || SHA-256(preimage)            (15 + 32 bytes)
//! preimage  = {"audit_key_spki_sha256":<64 lowercase hex, or null>,"jwks_thumbprints":[<sorted>],"v":1}
//! ```
//!
//! The preimage is JSON with no whitespace, keys in this (lexicographic) order, the thumbprints
//! as JSON strings, sorted by their bytes and deduplicated, so the order the JWKS lists its keys
//! in does not matter. `null` (not a string) means "this node has no audit key", which no
//! 64-digit string can be confused with. The prefix makes the encoding self-describing and
//! versioned.
//!
//! Where the commitment goes:
//! - **Nitro**: `user_data` is the document's `user_data` field, and the relying party's nonce
//!   its `nonce` field.
//! - **SEV-SNP**: a report has one 64-byte REPORT_DATA field, so nonce and `user_data` are
//!   hashed into it: `REPORT_DATA = SHA-512("ok2cry-report-data-v1" || 0x00 || len(nonce) ||
//!   nonce || user_data)` with `len(nonce)` one byte (nonces are 1 to 64 bytes).

use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::error::{AttestationError, Result};
use crate::verified::{Verified, VerifiedAttestation};

/// The version-1 prefix of binding `user_data`.
pub const BINDING_PREFIX_V1: &[u8] = b"ok2cry-bind-v1:";

/// Length of version-1 binding `user_data`: the prefix and a SHA-256 digest.
pub const BINDING_LEN_V1: usize = BINDING_PREFIX_V1.len() + 32;

/// The domain separator of SEV-SNP REPORT_DATA (followed by a zero byte).
pub const REPORT_DATA_PREFIX_V1: &[u8] = b"ok2cry-report-data-v1";

/// Longest nonce the service takes (and so the longest a binding is made with).
pub const MAX_NONCE_LEN: usize = 64;

/// What the service's attestation commits to: its JWKS thumbprints, and its audit key's SPKI
/// digest or the absence of an audit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    thumbprints: Vec<String>,
    audit_key_spki_sha256: Option<Vec<u8>>,
}

impl Binding {
    /// The binding of these JWKS thumbprints (any order, duplicates ignored) and this audit key
    /// digest (`None`: the node has no audit key).
    pub fn new(jwks_thumbprints: &[String], audit_key_spki_sha256: Option<&[u8]>) -> Self {
        let mut thumbprints = jwks_thumbprints.to_vec();
        thumbprints.sort_unstable();
        thumbprints.dedup();
        Self {
            thumbprints,
            audit_key_spki_sha256: audit_key_spki_sha256.map(<[u8]>::to_vec),
        }
    }

    /// The committed thumbprints, sorted and deduplicated.
    pub fn jwks_thumbprints(&self) -> &[String] {
        &self.thumbprints
    }

    /// The committed audit key digest, or `None` when the node has no audit key.
    pub fn audit_key_spki_sha256(&self) -> Option<&[u8]> {
        self.audit_key_spki_sha256.as_deref()
    }

    /// The 47-byte `user_data` (see the module docs).
    pub fn user_data(&self) -> Vec<u8> {
        // Keys written in lexicographic order: the output is the same whether serde_json keeps
        // insertion order (feature `preserve_order`) or sorts. Display of a Value cannot fail.
        let preimage = serde_json::json!({
            "audit_key_spki_sha256": self.audit_key_spki_sha256.as_ref().map(hex::encode),
            "jwks_thumbprints": self.thumbprints,
            "v": 1,
        })
        .to_string();
        let mut out = Vec::with_capacity(BINDING_LEN_V1);
        out.extend_from_slice(BINDING_PREFIX_V1);
        out.extend_from_slice(&Sha256::digest(preimage.as_bytes()));
        out
    }

    /// The SEV-SNP REPORT_DATA committing to `nonce` and this binding.
    pub fn report_data(&self, nonce: &[u8]) -> Result<[u8; 64]> {
        report_data_for(nonce, &self.user_data())
    }

    /// Checks that `verified` commits to exactly this binding and to `nonce`: for Nitro, the
    /// document's `user_data` and `nonce`; for SEV-SNP, its REPORT_DATA.
    pub fn check(&self, verified: &Verified, nonce: &[u8]) -> Result<()> {
        match verified {
            Verified::Nitro(document) => {
                let user_data = document
                    .user_data()
                    .ok_or(AttestationError::UserDataMissing)?;
                if !bool::from(user_data.ct_eq(self.user_data().as_slice())) {
                    return Err(AttestationError::BindingMismatch);
                }
                let actual = document.nonce().ok_or(AttestationError::NonceMissing)?;
                if !bool::from(actual.ct_eq(nonce)) {
                    return Err(AttestationError::NonceMismatch);
                }
                Ok(())
            }
            Verified::SevSnp(report) => {
                let expected = self.report_data(nonce)?;
                if bool::from(report.report_data().ct_eq(&expected)) {
                    Ok(())
                } else {
                    Err(AttestationError::BindingMismatch)
                }
            }
        }
    }

    /// Whether `thumbprint` (of the key that signed a key token) is one of the committed keys.
    pub fn commits_to_key(&self, thumbprint: &str) -> bool {
        let mut found = subtle::Choice::from(0u8);
        for committed in &self.thumbprints {
            found |= committed.as_bytes().ct_eq(thumbprint.as_bytes());
        }
        found.into()
    }
}

/// SEV-SNP REPORT_DATA for `nonce` (1 to 64 bytes) and `user_data` (see the module docs).
pub fn report_data_for(nonce: &[u8], user_data: &[u8]) -> Result<[u8; 64]> {
    let len = u8::try_from(nonce.len())
        .ok()
        .filter(|len| (1..=64).contains(len))
        .ok_or(AttestationError::InvalidInput("nonce is not 1 to 64 bytes"))?;
    let mut hash = Sha512::new();
    hash.update(REPORT_DATA_PREFIX_V1);
    hash.update([0u8, len]);
    hash.update(nonce);
    hash.update(user_data);
    Ok(hash.finalize().into())
}

/// The `user_data` committing to `jwks_thumbprints` (RFC 7638 thumbprints of the JWKS keys, in
/// any order) and to the audit checkpoint key (`audit_key_spki_sha256`, SHA-256 of its DER
/// SubjectPublicKeyInfo): [`Binding::user_data`] with an audit key.
pub fn binding_user_data(jwks_thumbprints: &[String], audit_key_spki_sha256: &[u8]) -> Vec<u8> {
    Binding::new(jwks_thumbprints, Some(audit_key_spki_sha256)).user_data()
}

/// Checks that the Nitro `attestation` commits to exactly this JWKS and audit key, and that
/// `signing_key_thumbprint` (the RFC 7638 thumbprint of the key that signed a key token) is one
/// of the committed JWKS keys. (The nonce is the policy's business here:
/// [`crate::Policy::require_nonce`]; [`Binding::check`] covers both platforms and the nonce.)
pub fn verify_binding(
    attestation: &VerifiedAttestation,
    jwks_thumbprints: &[String],
    audit_key_spki_sha256: &[u8],
    signing_key_thumbprint: &str,
) -> Result<()> {
    let binding = Binding::new(jwks_thumbprints, Some(audit_key_spki_sha256));
    let user_data = attestation
        .user_data()
        .ok_or(AttestationError::UserDataMissing)?;
    if !bool::from(user_data.ct_eq(binding.user_data().as_slice())) {
        return Err(AttestationError::BindingMismatch);
    }
    if binding.commits_to_key(signing_key_thumbprint) {
        Ok(())
    } else {
        Err(AttestationError::KeyNotCommitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_and_order_independence() {
        let a = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".to_owned();
        let b = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k".to_owned();
        let audit = [0xabu8; 32];
        let one = binding_user_data(&[a.clone(), b.clone()], &audit);
        assert_eq!(
            one,
            binding_user_data(&[b.clone(), a.clone(), b.clone()], &audit)
        );
        assert_eq!(one.len(), BINDING_LEN_V1);
        assert!(one.starts_with(BINDING_PREFIX_V1));
        // The documented preimage, computed independently of the serializer ("N" < "k" in bytes).
        let preimage = format!(
            "{{\"audit_key_spki_sha256\":\"{}\",\"jwks_thumbprints\":[\"{a}\",\"{b}\"],\"v\":1}}",
            "ab".repeat(32)
        );
        assert_eq!(
            &one[BINDING_PREFIX_V1.len()..],
            Sha256::digest(preimage.as_bytes()).as_slice()
        );
        assert_ne!(one, binding_user_data(std::slice::from_ref(&a), &audit));
        assert_ne!(one, binding_user_data(&[a.clone(), b.clone()], &[0xac; 32]));

        // No audit key: `null`, not a string, in the preimage.
        let none = Binding::new(&[a.clone(), b.clone()], None).user_data();
        let preimage = format!(
            "{{\"audit_key_spki_sha256\":null,\"jwks_thumbprints\":[\"{a}\",\"{b}\"],\"v\":1}}"
        );
        assert_eq!(
            &none[BINDING_PREFIX_V1.len()..],
            Sha256::digest(preimage.as_bytes()).as_slice()
        );
        assert_ne!(none, one);
        assert_ne!(none, binding_user_data(&[a, b], &[0; 32]));
    }

    #[test]
    fn report_data_known_answer_and_nonce_limits() {
        let user_data = [0x55u8; BINDING_LEN_V1];
        let mut preimage = b"ok2cry-report-data-v1\x00\x03abc".to_vec();
        preimage.extend_from_slice(&user_data);
        let expected: [u8; 64] = Sha512::digest(&preimage).into();
        assert_eq!(report_data_for(b"abc", &user_data).unwrap(), expected);
        assert_ne!(report_data_for(b"abd", &user_data).unwrap(), expected);
        assert!(report_data_for(&[], &user_data).is_err());
        assert!(report_data_for(&[1; 65], &user_data).is_err());
        report_data_for(&[1; 64], &user_data).unwrap();
    }
}
