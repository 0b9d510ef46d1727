//! DEVELOPMENT attestation provider: for machines without a Nitro enclave. Proves nothing.
//!
//! It makes a P-384 root and leaf certificate when created and signs documents in the Nitro
//! format with the leaf key. By construction its documents are refused by a strict policy:
//! - its root is not the AWS root, so the pinned fingerprint does not match;
//! - every PCR is all zeros, i.e. the document is debug mode;
//! - the module id starts with `dev-`.
//!
//! Verifying one needs both `Policy::with_root(provider.root_fingerprint())` **and**
//! `Policy::danger_allow_debug()`.

use std::time::{Duration, SystemTime};

use ciborium::value::{Integer, Value};
use p384::ecdsa::Signature;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P384_SHA384, SigningKey,
};

use crate::certificate::RootFingerprint;
use crate::cose::{CoseSign1, encode, es384_protected_header};
use crate::document::DIGEST_SHA384;
use crate::error::{AttestationError, Result};
use crate::provider::{AttestationProvider, check_inputs};

/// Every development module id starts with this.
pub const DEV_MODULE_ID_PREFIX: &str = "dev-";

/// How long the development certificates are valid from their creation (and how long before it
/// they start, to tolerate clock skew).
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
const BACKDATE: Duration = Duration::from_secs(3600);

/// PCRs a development document carries: 0..=15, all zeros (debug mode).
const DEV_PCR_COUNT: u8 = 16;
const PCR_LEN: usize = 48;

/// **Development only** attestation provider (see the module docs). Holds the leaf private key
/// in memory; derives nothing that could copy or print it.
pub struct DevProvider {
    module_id: String,
    root_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key: KeyPair,
}

impl DevProvider {
    /// Generates a fresh root and leaf certificate, valid from an hour ago for a year.
    pub fn generate() -> Result<Self> {
        let failed = |e: rcgen::Error| AttestationError::Provider(format!("dev chain: {e}"));
        let now = time::OffsetDateTime::now_utc();
        let not_before = now - BACKDATE;
        let not_after = now + VALIDITY;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id)
            .map_err(|e| AttestationError::Provider(format!("dev module id: {e}")))?;
        let module_id = format!("{DEV_MODULE_ID_PREFIX}{}", hex::encode(id));

        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).map_err(failed)?;
        let mut root_params = CertificateParams::default();
        root_params.distinguished_name = name("ok2cry DEVELOPMENT attestation root (not AWS)");
        root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root_params.not_before = not_before;
        root_params.not_after = not_after;
        let root_cert = root_params.self_signed(&root_key).map_err(failed)?;
        let root = Issuer::new(root_params, root_key);

        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).map_err(failed)?;
        let mut leaf_params = CertificateParams::default();
        leaf_params.distinguished_name = name(&module_id);
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.not_before = not_before;
        leaf_params.not_after = not_after;
        let leaf_cert = leaf_params.signed_by(&leaf_key, &root).map_err(failed)?;

        Ok(Self {
            module_id,
            root_der: root_cert.der().to_vec(),
            leaf_der: leaf_cert.der().to_vec(),
            leaf_key,
        })
    }

    /// The development root's fingerprint: pin it (with debug allowed) to verify dev documents.
    pub fn root_fingerprint(&self) -> RootFingerprint {
        RootFingerprint::of_certificate(&self.root_der)
    }

    /// The development root certificate (DER).
    pub fn root_certificate(&self) -> &[u8] {
        &self.root_der
    }

    /// The module id of this provider (`dev-` and 16 hex digits).
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// Like [`AttestationProvider::attest`] with an explicit document time.
    pub fn attest_at(
        &self,
        nonce: Option<&[u8]>,
        user_data: Option<&[u8]>,
        public_key: Option<&[u8]>,
        at: SystemTime,
    ) -> Result<Vec<u8>> {
        check_inputs(nonce, user_data, public_key)?;
        let timestamp_ms = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|since| u64::try_from(since.as_millis()).ok())
            .ok_or(AttestationError::InvalidInput("document time out of range"))?;
        let optional =
            |field: Option<&[u8]>| field.map_or(Value::Null, |b| Value::Bytes(b.to_vec()));
        let pcrs = (0..DEV_PCR_COUNT)
            .map(|index| {
                (
                    Value::Integer(Integer::from(index)),
                    Value::Bytes(vec![0; PCR_LEN]),
                )
            })
            .collect();
        let text = |s: &str| Value::Text(s.to_owned());
        let payload = Value::Map(vec![
            (text("module_id"), text(&self.module_id)),
            (text("digest"), text(DIGEST_SHA384)),
            (
                text("timestamp"),
                Value::Integer(Integer::from(timestamp_ms)),
            ),
            (text("pcrs"), Value::Map(pcrs)),
            (text("certificate"), Value::Bytes(self.leaf_der.clone())),
            (
                text("cabundle"),
                Value::Array(vec![Value::Bytes(self.root_der.clone())]),
            ),
            (text("public_key"), optional(public_key)),
            (text("user_data"), optional(user_data)),
            (text("nonce"), optional(nonce)),
        ]);
        let mut document = CoseSign1 {
            protected: es384_protected_header()?,
            payload: encode(&payload)?,
            signature: Vec::new(),
        };
        let der_signature = self
            .leaf_key
            .sign(&document.to_be_signed()?)
            .map_err(|e| AttestationError::Provider(format!("dev signing: {e}")))?;
        let signature = Signature::from_der(&der_signature)
            .map_err(|_| AttestationError::Provider("dev signing: bad signature".to_owned()))?;
        document.signature = signature.to_bytes().to_vec();
        document.to_vec()
    }
}

impl AttestationProvider for DevProvider {
    fn attest(
        &self,
        nonce: Option<&[u8]>,
        user_data: Option<&[u8]>,
        public_key: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        self.attest_at(nonce, user_data, public_key, SystemTime::now())
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "ok2cry development");
    dn.push(DnType::CommonName, common_name);
    dn
}
