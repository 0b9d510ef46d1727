//! Certification path validation by a well-kept, independent validator: `rustls-webpki`.
//!
//! Every chain this crate accepts passes two validators: this one, and the positional walk of
//! [`crate::certificate`] (which exists for precise, per-certificate errors and for the
//! stricter local rules: an exact algorithm allow-list and the chain in the order given). The
//! verifier runs the walk first and this validator second, and accepts a chain only if both
//! accept it; `tests/differential.rs` holds the two (and OpenSSL) against each other over
//! every real and altered chain.
//!
//! webpki is given the chain's root as the only trust anchor (the root was pinned by its
//! fingerprint before this runs), the certificates between root and leaf as intermediates,
//! and the leaf as the end entity; no name and no extended key usage is required of the leaf
//! (attestation leaves are not TLS certificates).
//!
//! Signature algorithms, per [`ChainProfile`]:
//! - [`ChainProfile::Nitro`]: ECDSA P-384 with SHA-384 only;
//! - [`ChainProfile::AmdSev`]: RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt
//!   (RSA 2048–8192 bits), in both encodings of its parameters: the DER one and AMD's, which
//!   spells out the default `trailerField` (`[3] INTEGER 1`) that DER omits. webpki matches
//!   algorithm identifiers byte for byte, so AMD's encoding is given to it as
//!   [`AMD_RSA_PSS_SHA384`], verified by AWS-LC exactly like webpki's own RSA-PSS-SHA384.

use std::time::SystemTime;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PSS_2048_8192_SHA384};
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    UnixTime, alg_id,
};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

use crate::error::{AttestationError, Result};

/// The name the errors of this validator carry.
pub const VALIDATOR: &str = "rustls-webpki";

/// Which signature algorithms a chain may use (the same profiles as the positional walk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainProfile {
    /// AWS Nitro Enclaves: every certificate signed with ecdsa-with-SHA384 by a P-384 key.
    Nitro,
    /// AMD SEV-SNP (AMD's key distribution service): the ARK signs itself and the ASK, the ASK
    /// signs the VCEK, all with RSASSA-PSS / SHA-384; the VCEK's own key is P-384.
    AmdSev,
}

/// `AlgorithmIdentifier` contents (OID and parameters, without the outer SEQUENCE) of
/// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt length 48, *and* an explicit trailerField 1,
/// as AMD's ARK, ASK and VCEK certificates encode it.
pub const RSA_PSS_SHA384_AMD_ENCODING: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, // rsassaPss
    0x30, 0x39, // RSASSA-PSS-params
    0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, // [0] hashAlgorithm sha384
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, // [1] maskGenAlgorithm mgf1(sha384)
    0xa2, 0x03, 0x02, 0x01, 0x30, // [2] saltLength 48
    0xa3, 0x03, 0x02, 0x01, 0x01, // [3] trailerField 1 (the DEFAULT, spelled out)
];

/// RSASSA-PSS / SHA-384 with AMD's encoding of its parameters, for webpki (see the module
/// docs). Verification is AWS-LC's RSA-PSS-SHA384 for 2048 to 8192-bit keys.
pub static AMD_RSA_PSS_SHA384: &dyn SignatureVerificationAlgorithm = &AmdRsaPssSha384;

#[derive(Debug)]
struct AmdRsaPssSha384;

impl SignatureVerificationAlgorithm for AmdRsaPssSha384 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> std::result::Result<(), InvalidSignature> {
        ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, public_key)
            .map_err(|_| InvalidSignature)?
            .verify_sig(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(RSA_PSS_SHA384_AMD_ENCODING)
    }
}

impl ChainProfile {
    fn algorithms(self) -> &'static [&'static dyn SignatureVerificationAlgorithm] {
        static NITRO: [&dyn SignatureVerificationAlgorithm; 1] =
            [webpki::aws_lc_rs::ECDSA_P384_SHA384];
        static AMD: [&dyn SignatureVerificationAlgorithm; 2] = [
            &AmdRsaPssSha384,
            webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        ];
        match self {
            Self::Nitro => &NITRO,
            Self::AmdSev => &AMD,
        }
    }
}

/// An attestation leaf has no extended key usage to check: any (or none) is accepted.
struct AnyUsage;

impl ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _iter: KeyPurposeIdIter<'_, '_>) -> std::result::Result<(), webpki::Error> {
        Ok(())
    }
}

/// Validates `chain` (root first, leaf last, at least two certificates) with rustls-webpki at
/// time `at`, the root as the only trust anchor. Refusals are
/// [`AttestationError::ChainRejected`] naming webpki's reason.
pub fn validate(chain: &[&[u8]], at: SystemTime, profile: ChainProfile) -> Result<()> {
    let refused = |reason: String| AttestationError::ChainRejected {
        validator: VALIDATOR,
        reason,
    };
    let (Some((root, rest)), true) = (chain.split_first(), chain.len() >= 2) else {
        return Err(AttestationError::Malformed(
            "a certificate chain needs a root and a leaf",
        ));
    };
    let Some((leaf, intermediates)) = rest.split_last() else {
        return Err(AttestationError::Malformed(
            "a certificate chain needs a root and a leaf",
        ));
    };
    let since_epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| AttestationError::InvalidInput("verification time before 1970"))?;
    let root = CertificateDer::from(*root);
    let anchor = webpki::anchor_from_trusted_cert(&root)
        .map_err(|e| refused(format!("root certificate: {e}")))?;
    let leaf = CertificateDer::from(*leaf);
    let end_entity =
        EndEntityCert::try_from(&leaf).map_err(|e| refused(format!("leaf certificate: {e}")))?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(*der))
        .collect();
    end_entity
        .verify_for_usage(
            profile.algorithms(),
            &[anchor],
            &intermediates,
            UnixTime::since_unix_epoch(since_epoch),
            AnyUsage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| refused(e.to_string()))
}
