//! The binding between an attestation document and the service's keys.
//!
//! `GET /v1/attestation?nonce=…` returns a document whose `user_data` commits to the service's
//! JWKS signing keys (by RFC 7638 thumbprint) and to its audit checkpoint key (by the SHA-256 of
//! its DER SubjectPublicKeyInfo). A relying party that verified the document and fetched the
//! JWKS checks, with [`verify_binding`], that the key that signed its key token is one the
//! attested enclave committed to.
//!
//! Encoding, version 1 (always 47 bytes, far below the NSM's 512-byte `user_data` limit):
//!
//! ```text
//! user_data = "ok2cry-bind-v1:" || SHA-256(preimage)            (15 + 32 bytes)
//! preimage  = {"audit_key_spki_sha256":"<64 lowercase hex>","jwks_thumbprints":[<sorted>],"v":1}
//! ```
//!
//! The preimage is JSON with no whitespace, keys in this (lexicographic) order, the thumbprints
//! as JSON strings, sorted by their bytes and deduplicated, so the order the JWKS lists its keys
//! in does not matter. The prefix makes the encoding self-describing and versioned.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{AttestationError, Result};
use crate::verified::VerifiedAttestation;

/// The version-1 prefix of binding `user_data`.
pub const BINDING_PREFIX_V1: &[u8] = b"ok2cry-bind-v1:";

/// Length of version-1 binding `user_data`: the prefix and a SHA-256 digest.
pub const BINDING_LEN_V1: usize = BINDING_PREFIX_V1.len() + 32;

/// The `user_data` committing to `jwks_thumbprints` (RFC 7638 thumbprints of the JWKS keys, in
/// any order) and to the audit checkpoint key (`audit_key_spki_sha256`, SHA-256 of its DER
/// SubjectPublicKeyInfo). See the module docs for the exact encoding.
pub fn binding_user_data(jwks_thumbprints: &[String], audit_key_spki_sha256: &[u8]) -> Vec<u8> {
    let mut thumbprints: Vec<&str> = jwks_thumbprints.iter().map(String::as_str).collect();
    thumbprints.sort_unstable();
    thumbprints.dedup();
    // Keys written in lexicographic order: the output is the same whether serde_json keeps
    // insertion order (feature `preserve_order`) or sorts. Display of a Value cannot fail.
    let preimage = serde_json::json!({
        "audit_key_spki_sha256": hex::encode(audit_key_spki_sha256),
        "jwks_thumbprints": thumbprints,
        "v": 1,
    })
    .to_string();
    let mut out = Vec::with_capacity(BINDING_LEN_V1);
    out.extend_from_slice(BINDING_PREFIX_V1);
    out.extend_from_slice(&Sha256::digest(preimage.as_bytes()));
    out
}

/// Checks that `attestation` commits to exactly this JWKS and audit key, and that
/// `signing_key_thumbprint` (the RFC 7638 thumbprint of the key that signed a key token) is one
/// of the committed JWKS keys.
pub fn verify_binding(
    attestation: &VerifiedAttestation,
    jwks_thumbprints: &[String],
    audit_key_spki_sha256: &[u8],
    signing_key_thumbprint: &str,
) -> Result<()> {
    let user_data = attestation
        .user_data()
        .ok_or(AttestationError::UserDataMissing)?;
    let expected = binding_user_data(jwks_thumbprints, audit_key_spki_sha256);
    if !bool::from(user_data.ct_eq(expected.as_slice())) {
        return Err(AttestationError::BindingMismatch);
    }
    let committed = jwks_thumbprints.iter().any(|thumbprint| {
        bool::from(
            thumbprint
                .as_bytes()
                .ct_eq(signing_key_thumbprint.as_bytes()),
        )
    });
    if committed {
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
        assert_ne!(one, binding_user_data(&[a, b], &[0xac; 32]));
    }
}
