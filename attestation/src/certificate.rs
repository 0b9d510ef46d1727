//! The X.509 certificate chain of a Nitro attestation document, checked up to a pinned root.
//!
//! Accepted algorithms, and nothing else: certificate signatures `ecdsa-with-SHA384`
//! (1.2.840.10045.4.3.3, no parameters) made with P-384 keys (`id-ecPublicKey` with
//! `secp384r1`). That is what the whole AWS Nitro chain uses; any other algorithm in any
//! certificate is refused with [`AttestationError::UnsupportedAlgorithm`].
//!
//! Checks, for the chain `[cabundle[0] (root), cabundle[1], …, certificate (leaf)]`:
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

use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Reader, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

use crate::error::{AttestationError, ChainPosition, Result};

/// ecdsa-with-SHA384 (RFC 5758 §3.2).
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// id-ecPublicKey (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1 (RFC 5480 §2.1.1.1).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
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
    fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for RootFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootFingerprint({})", hex::encode_upper(self.0))
    }
}

/// Verifies the chain `cabundle` (root first) + `leaf` against the pinned root at time `at`,
/// and returns the leaf's P-384 public key.
pub(crate) fn verify_chain(
    cabundle: &[Vec<u8>],
    leaf: &[u8],
    root: &RootFingerprint,
    at: SystemTime,
) -> Result<VerifyingKey> {
    let Some(root_der) = cabundle.first() else {
        return Err(AttestationError::Malformed("cabundle is empty"));
    };
    if !RootFingerprint::of_certificate(root_der).matches(root) {
        return Err(AttestationError::UntrustedRoot);
    }
    let now = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| AttestationError::InvalidInput("verification time before 1970"))?;

    let chain: Vec<&[u8]> = cabundle.iter().map(Vec::as_slice).chain([leaf]).collect();
    let leaf_position = chain.len() - 1;
    let mut parent: Option<ParsedCertificate> = None;
    for (position, der) in chain.into_iter().enumerate() {
        let cert = ParsedCertificate::parse(der, position)?;
        cert.check_validity(now)?;
        let role = if position == leaf_position {
            Role::Leaf
        } else {
            // CAs strictly between this one and the leaf.
            Role::Ca {
                intermediates_below: leaf_position - position - 1,
            }
        };
        cert.check_constraints(role)?;
        // The root verifies its own signature: a corrupted root is refused even though its
        // fingerprint is pinned (it could not match then anyway; this keeps the loop uniform).
        let issuer = parent.as_ref().unwrap_or(&cert);
        cert.check_issued_by(issuer)?;
        parent = Some(cert);
    }
    parent
        .map(|leaf| leaf.key)
        .ok_or(AttestationError::Malformed("empty certificate chain"))
}

/// Where a certificate sits in the chain.
enum Role {
    /// An issuing certificate, with this many CA certificates between it and the leaf.
    Ca { intermediates_below: usize },
    /// The document-signing certificate.
    Leaf,
}

/// A decoded certificate plus the raw bytes its signature covers.
struct ParsedCertificate {
    position: ChainPosition,
    cert: Certificate,
    tbs_der: Vec<u8>,
    key: VerifyingKey,
}

impl ParsedCertificate {
    fn parse(der: &[u8], position: ChainPosition) -> Result<Self> {
        let malformed = |reason| AttestationError::CertificateMalformed { position, reason };
        let cert = Certificate::from_der(der).map_err(|_| malformed("not strict DER X.509"))?;
        let tbs_der = raw_tbs(der).map_err(|_| malformed("cannot locate tbsCertificate"))?;

        let outer = cert.signature_algorithm();
        let inner = cert.tbs_certificate().signature();
        if outer != inner {
            return Err(malformed("signature algorithms inside and outside differ"));
        }
        if outer.oid != ECDSA_WITH_SHA384 || outer.parameters.is_some() {
            return Err(AttestationError::UnsupportedAlgorithm(
                "certificate signature other than ecdsa-with-SHA384",
            ));
        }
        let spki = cert.tbs_certificate().subject_public_key_info();
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
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key bit string has unused bits"))?;
        let key =
            VerifyingKey::from_sec1_bytes(point).map_err(|_| malformed("invalid P-384 point"))?;
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

    fn check_constraints(&self, role: Role) -> Result<()> {
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
                    && intermediates_below > usize::from(limit)
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

    fn check_issued_by(&self, issuer: &ParsedCertificate) -> Result<()> {
        let position = self.position;
        if self.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(AttestationError::IssuerMismatch { position });
        }
        let signature = self
            .cert
            .signature()
            .as_bytes()
            .and_then(|der| Signature::from_der(der).ok())
            .ok_or(AttestationError::CertificateSignature { position })?;
        issuer
            .key
            .verify(&self.tbs_der, &signature)
            .map_err(|_| AttestationError::CertificateSignature { position })
    }
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
