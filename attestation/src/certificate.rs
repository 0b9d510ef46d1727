//! X.509 certificate chains checked up to a pinned root: the positional walk.
//!
//! Two validators check every chain this crate accepts: this walk, written here, and
//! rustls-webpki ([`crate::cert_path`]). [`verify_chain`] runs the pin, then the walk, then
//! webpki, and accepts only if all three do. The walk exists for what webpki does not give:
//! an error that names the certificate at fault ([`ChainPosition`]), an exact allow-list of
//! algorithms per [`ChainProfile`], and the chain exactly in the order given. It is held
//! against webpki and OpenSSL by a differential test over every real and altered chain
//! (`attestation/tests/differential.rs`).
//!
//! Accepted algorithms, and nothing else:
//! - [`ChainProfile::Nitro`]: signatures `ecdsa-with-SHA384` (1.2.840.10045.4.3.3, no
//!   parameters) made with P-384 keys (`id-ecPublicKey` with `secp384r1`), in every
//!   certificate: that is what the whole AWS Nitro chain uses.
//! - [`ChainProfile::AmdSev`]: signatures RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48
//!   (parameters exactly as AMD encodes them, or in DER), made with RSA keys
//!   (`rsaEncryption`, 2048–8192 bits) by the ARK and the ASK; the leaf (the VCEK) has a P-384
//!   key.
//!
//! Any other algorithm in any certificate is refused with
//! [`AttestationError::UnsupportedAlgorithm`].
//!
//! Checks, for the chain `[root, intermediates…, leaf]`:
//! 1. the root's SHA-256 fingerprint equals the pinned one (constant-time comparison);
//! 2. every certificate decodes as strict DER and uses the accepted algorithms;
//! 3. every certificate is valid at the verification time (notBefore ≤ t ≤ notAfter);
//! 4. the root's self-signature and every other certificate's signature verify under the key of
//!    the certificate above it, whose subject is the certificate's issuer;
//! 5. every certificate above the leaf is a CA (basicConstraints cA = TRUE), allows
//!    keyCertSign when it has keyUsage, and its pathLenConstraint (if any) is not exceeded; the
//!    leaf is not a CA and allows digitalSignature when it has keyUsage;
//! 6. no certificate carries a critical extension other than basicConstraints and keyUsage.

use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_FIXED, ParsedPublicKey, RSA_PSS_2048_8192_SHA384,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode, Reader, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

pub use crate::cert_path::ChainProfile;
use crate::cert_path::RSA_PSS_SHA384_AMD_ENCODING;
use crate::error::{AttestationError, ChainPosition, Result};

/// ecdsa-with-SHA384 (RFC 5758 §3.2).
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// id-ecPublicKey (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1 (RFC 5480 §2.1.1.1).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// rsaEncryption (RFC 8017 Appendix C).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// basicConstraints (RFC 5280 §4.2.1.9).
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// keyUsage (RFC 5280 §4.2.1.3).
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// SHA-256 fingerprint of a root certificate's DER encoding: the trust anchor a verifier pins.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RootFingerprint([u8; 32]);

impl RootFingerprint {
    /// The AWS Nitro Enclaves root certificate (CN=aws.nitro-enclaves, "Root-G1"), SHA-256
    /// `641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B`, as published by AWS
    /// with `AWS_NitroEnclaves_Root-G1.zip`.
    pub const AWS_NITRO_ROOT_G1: Self = Self([
        0x64, 0x1a, 0x03, 0x21, 0xa3, 0xe2, 0x44, 0xef, 0xe4, 0x56, 0x46, 0x31, 0x95, 0xd6, 0x06,
        0x31, 0x7e, 0xd7, 0xcd, 0xcc, 0x3c, 0x17, 0x56, 0xe0, 0x98, 0x93, 0xf3, 0xc6, 0x8f, 0x79,
        0xbb, 0x5b,
    ]);

    /// A fingerprint from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fingerprint from hex (64 digits; colons allowed, case-insensitive).
    pub fn from_hex(hex_digits: &str) -> Result<Self> {
        let cleaned: String = hex_digits.chars().filter(|c| *c != ':').collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(cleaned, &mut bytes)
            .map_err(|_| AttestationError::InvalidInput("root fingerprint is not 64 hex digits"))?;
        Ok(Self(bytes))
    }

    /// The fingerprint of a DER certificate.
    pub fn of_certificate(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub(crate) fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for RootFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootFingerprint({})", hex::encode_upper(self.0))
    }
}

/// Verifies `chain` (root first, leaf last) against the pinned `root` at time `at`: the pin,
/// then the positional walk ([`walk_chain`]), then rustls-webpki
/// ([`crate::cert_path::validate`]). Returns the leaf's P-384 key.
pub(crate) fn verify_chain(
    chain: &[&[u8]],
    root: &RootFingerprint,
    at: SystemTime,
    profile: ChainProfile,
) -> Result<LeafKey> {
    let Some(root_der) = chain.first() else {
        return Err(AttestationError::Malformed("empty certificate chain"));
    };
    if !RootFingerprint::of_certificate(root_der).matches(root) {
        return Err(AttestationError::UntrustedRoot);
    }
    let leaf = walk_chain(chain, at, profile)?;
    crate::cert_path::validate(chain, at, profile)?;
    Ok(leaf)
}

/// The positional walk alone (no pin, no webpki): checks 2 to 6 of the module docs over
/// `chain` (root first, leaf last) at time `at`, and returns the leaf's P-384 key.
///
/// Public so that the differential test can hold it against other validators; a relying party
/// wants [`crate::verify`] or [`crate::Verifier`], which pin the root and run both validators.
pub fn walk_chain(chain: &[&[u8]], at: SystemTime, profile: ChainProfile) -> Result<LeafKey> {
    if chain.len() < 2 {
        return Err(AttestationError::Malformed(
            "a certificate chain needs a root and a leaf",
        ));
    }
    let now = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| AttestationError::InvalidInput("verification time before 1970"))?;
    let leaf_position = chain.len() - 1;
    let mut parent: Option<ParsedCertificate> = None;
    for (position, der) in chain.iter().enumerate() {
        let role = if position == leaf_position {
            Role::Leaf
        } else {
            // CAs strictly between this one and the leaf.
            Role::Ca {
                intermediates_below: leaf_position - position - 1,
            }
        };
        let cert = ParsedCertificate::parse(der, position, profile, &role)?;
        cert.check_validity(now)?;
        cert.check_constraints(&role)?;
        // The root verifies its own signature: a corrupted root is refused even though its
        // fingerprint is pinned (it could not match then anyway; this keeps the loop uniform).
        let issuer = parent.as_ref().unwrap_or(&cert);
        cert.check_issued_by(issuer, profile)?;
        parent = Some(cert);
    }
    match parent {
        Some(ParsedCertificate {
            key: PublicKey::P384(point),
            ..
        }) => Ok(LeafKey(point)),
        _ => Err(AttestationError::Malformed("empty certificate chain")),
    }
}

/// The leaf certificate's P-384 public key (SEC1 uncompressed point, checked on the curve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafKey(Vec<u8>);

impl LeafKey {
    /// The SEC1 encoding of the key.
    pub fn as_sec1(&self) -> &[u8] {
        &self.0
    }

    /// Whether `signature` (r || s, 48 bytes each, big-endian) is an ECDSA P-384 / SHA-384
    /// signature of `message` by this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match ParsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, &self.0) {
            Ok(key) => key.verify_sig(message, signature).is_ok(),
            Err(_) => false,
        }
    }
}

/// Where a certificate sits in the chain.
enum Role {
    /// An issuing certificate, with this many CA certificates between it and the leaf.
    Ca { intermediates_below: usize },
    /// The document-signing certificate.
    Leaf,
}

/// A public key of an accepted kind, checked when parsed.
enum PublicKey {
    /// SEC1 uncompressed point on P-384.
    P384(Vec<u8>),
    /// PKCS#1 RSAPublicKey, 2048 to 8192 bits.
    Rsa(Vec<u8>),
}

/// A decoded certificate plus the raw bytes its signature covers.
struct ParsedCertificate {
    position: ChainPosition,
    cert: Certificate,
    tbs_der: Vec<u8>,
    key: PublicKey,
}

impl ParsedCertificate {
    fn parse(
        der: &[u8],
        position: ChainPosition,
        profile: ChainProfile,
        role: &Role,
    ) -> Result<Self> {
        let malformed = |reason| AttestationError::CertificateMalformed { position, reason };
        let cert = Certificate::from_der(der).map_err(|_| malformed("not strict DER X.509"))?;
        let tbs_der = raw_tbs(der).map_err(|_| malformed("cannot locate tbsCertificate"))?;

        let outer = cert.signature_algorithm();
        let inner = cert.tbs_certificate().signature();
        if outer != inner {
            return Err(malformed("signature algorithms inside and outside differ"));
        }
        let accepted = match profile {
            ChainProfile::Nitro => outer.oid == ECDSA_WITH_SHA384 && outer.parameters.is_none(),
            ChainProfile::AmdSev => outer
                .to_der()
                .is_ok_and(|encoded| is_rsa_pss_sha384(&encoded)),
        };
        if !accepted {
            return Err(AttestationError::UnsupportedAlgorithm(match profile {
                ChainProfile::Nitro => "certificate signature other than ecdsa-with-SHA384",
                ChainProfile::AmdSev => {
                    "certificate signature other than RSASSA-PSS with SHA-384 and a 48-byte salt"
                }
            }));
        }

        let spki = cert.tbs_certificate().subject_public_key_info();
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key bit string has unused bits"))?;
        let wants_rsa = profile == ChainProfile::AmdSev && matches!(role, Role::Ca { .. });
        let key = if wants_rsa {
            let null_params = spki
                .algorithm
                .parameters
                .as_ref()
                .is_some_and(|params| params.is_null());
            if spki.algorithm.oid != RSA_ENCRYPTION || !null_params {
                return Err(AttestationError::UnsupportedAlgorithm(
                    "issuing certificate key other than RSA",
                ));
            }
            ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, bits)
                .map_err(|_| malformed("invalid RSA key or size outside 2048 to 8192 bits"))?;
            PublicKey::Rsa(bits.to_vec())
        } else {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|params| params.decode_as::<ObjectIdentifier>().ok());
            if spki.algorithm.oid != ID_EC_PUBLIC_KEY || curve != Some(SECP384R1) {
                return Err(AttestationError::UnsupportedAlgorithm(
                    "certificate key other than P-384",
                ));
            }
            ParsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, bits)
                .map_err(|_| malformed("invalid P-384 point"))?;
            PublicKey::P384(bits.to_vec())
        };
        Ok(Self {
            position,
            cert,
            tbs_der,
            key,
        })
    }

    fn check_validity(&self, now: Duration) -> Result<()> {
        let validity = self.cert.tbs_certificate().validity();
        if now < validity.not_before.to_unix_duration() {
            return Err(AttestationError::CertificateNotYetValid {
                position: self.position,
            });
        }
        if now > validity.not_after.to_unix_duration() {
            return Err(AttestationError::CertificateExpired {
                position: self.position,
            });
        }
        Ok(())
    }

    fn check_constraints(&self, role: &Role) -> Result<()> {
        let position = self.position;
        let refuse = |reason| AttestationError::CertificateConstraint { position, reason };
        let tbs = self.cert.tbs_certificate();
        for extension in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
            if extension.critical
                && extension.extn_id != BASIC_CONSTRAINTS
                && extension.extn_id != KEY_USAGE
            {
                return Err(refuse("unknown critical extension"));
            }
        }
        let basic = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|_| refuse("malformed or repeated basicConstraints"))?
            .map(|(_, basic)| basic);
        let usage = tbs
            .get_extension::<KeyUsage>()
            .map_err(|_| refuse("malformed or repeated keyUsage"))?
            .map(|(_, usage)| usage);
        match role {
            Role::Ca {
                intermediates_below,
            } => {
                let Some(basic) = basic.filter(|basic| basic.ca) else {
                    return Err(refuse("issuing certificate is not a CA"));
                };
                if let Some(limit) = basic.path_len_constraint
                    && *intermediates_below > usize::from(limit)
                {
                    return Err(refuse("path length constraint exceeded"));
                }
                if usage.is_some_and(|usage| !usage.key_cert_sign()) {
                    return Err(refuse("issuing certificate lacks keyCertSign"));
                }
            }
            Role::Leaf => {
                if basic.is_some_and(|basic| basic.ca) {
                    return Err(refuse("document-signing certificate is a CA"));
                }
                if usage.is_some_and(|usage| !usage.digital_signature()) {
                    return Err(refuse(
                        "document-signing certificate lacks digitalSignature",
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_issued_by(&self, issuer: &ParsedCertificate, profile: ChainProfile) -> Result<()> {
        let position = self.position;
        if self.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(AttestationError::IssuerMismatch { position });
        }
        let invalid = AttestationError::CertificateSignature { position };
        let signature = self.cert.signature().as_bytes().ok_or(invalid.clone())?;
        let verified = match (&issuer.key, profile) {
            (PublicKey::P384(point), ChainProfile::Nitro) => {
                ParsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, point)
                    .is_ok_and(|key| key.verify_sig(&self.tbs_der, signature).is_ok())
            }
            (PublicKey::Rsa(modulus), ChainProfile::AmdSev) => {
                ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, modulus)
                    .is_ok_and(|key| key.verify_sig(&self.tbs_der, signature).is_ok())
            }
            _ => false,
        };
        if verified { Ok(()) } else { Err(invalid) }
    }
}

/// Whether `encoded` (a whole DER AlgorithmIdentifier) is RSASSA-PSS / SHA-384 / MGF1-SHA-384 /
/// salt 48, in AMD's encoding or in DER.
fn is_rsa_pss_sha384(encoded: &[u8]) -> bool {
    let contents = match encoded {
        [0x30, len, contents @ ..] if usize::from(*len) == contents.len() => contents,
        _ => return false,
    };
    contents == RSA_PSS_SHA384_AMD_ENCODING
        || contents == rustls_pki_types::alg_id::RSA_PSS_SHA384.as_ref()
}

/// The exact DER bytes of `tbsCertificate`, as signed (never re-encoded).
fn raw_tbs(der: &[u8]) -> x509_cert::der::Result<Vec<u8>> {
    let mut reader = SliceReader::new(der)?;
    let tbs = reader.sequence(|inner| {
        let tbs = inner.tlv_bytes()?;
        inner.tlv_bytes()?; // signatureAlgorithm
        inner.tlv_bytes()?; // signatureValue
        Ok::<_, x509_cert::der::Error>(tbs)
    })?;
    reader.finish()?;
    Ok(tbs.to_vec())
}
