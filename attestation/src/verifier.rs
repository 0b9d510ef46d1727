//! The verification procedure, in the order the checks run.
//!
//! 1. Parse: COSE_Sign1 (tag 18 optional), protected header exactly ES384, 96-byte signature,
//!    payload fields and limits, PCR digest SHA384 ([`AttestationDocument::parse`]).
//! 2. Certificate chain: pinned root fingerprint, then the positional walk (algorithms,
//!    validity at `at`, signatures, CA constraints; see [`crate::certificate`]), then
//!    rustls-webpki's path validation ([`crate::cert_path`]).
//! 3. Document signature: ES384 over the COSE Sig_structure with the leaf certificate's key.
//! 4. Policy: debug mode, expected PCRs, nonce, timestamp not in the future and not too old.
//!
//! Only after all four does a [`VerifiedAttestation`] exist.
//!
//! This module owns the procedure: [`verify`], [`AttestationDocument::verify`] and the
//! two-platform [`Verifier`]. `AttestationDocument::verify` is defined here, not next to the
//! parse in the `document` module, so that the dependency goes one way: the verifier imports
//! the parsed document; the document imports neither the verifier nor the policy.

use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;

use crate::certificate::{ChainProfile, verify_chain};
use crate::document::AttestationDocument;
use crate::error::{AttestationError, Result};
use crate::policy::Policy;
use crate::verified::VerifiedAttestation;

/// Verifies COSE_Sign1 attestation bytes against `policy` at time `at`.
///
/// `at` is the time the certificates must be valid at and the reference for the timestamp
/// checks; there is no clock in here. A live relying party passes `SystemTime::now()`; a test or
/// an audit of an old document passes the document's own time.
pub fn verify(document: &[u8], policy: &Policy, at: SystemTime) -> Result<VerifiedAttestation> {
    AttestationDocument::parse(document)?.verify(policy, at)
}

impl AttestationDocument {
    /// Verifies this parsed document against `policy` at time `at`: checks 2 to 4 of the
    /// procedure in [`crate::verifier`], the parse (check 1) having made `self`. [`verify`]
    /// does both from the bytes.
    pub fn verify(self, policy: &Policy, at: SystemTime) -> Result<VerifiedAttestation> {
        verify_document(self, policy, at)
    }
}

/// Checks 2 to 4 of the procedure, in order.
fn verify_document(
    document: AttestationDocument,
    policy: &Policy,
    at: SystemTime,
) -> Result<VerifiedAttestation> {
    let AttestationDocument { cose, payload } = document;

    if payload.cabundle.is_empty() {
        return Err(AttestationError::Malformed("cabundle is empty"));
    }
    let chain: Vec<&[u8]> = payload
        .cabundle
        .iter()
        .map(Vec::as_slice)
        .chain([payload.certificate.as_slice()])
        .collect();
    let leaf_key = verify_chain(&chain, &policy.root, at, ChainProfile::Nitro)?;

    if !leaf_key.verifies(&cose.to_be_signed()?, &cose.signature) {
        return Err(AttestationError::DocumentSignature);
    }

    let debug = match payload.pcrs.get(&0) {
        Some(pcr0) => pcr0.iter().all(|byte| *byte == 0),
        None => return Err(AttestationError::PcrMismatch { index: 0 }),
    };
    if debug && !policy.allow_debug {
        return Err(AttestationError::DebugEnclave);
    }
    for (index, expected) in &policy.expected_pcrs {
        let matches = payload
            .pcrs
            .get(index)
            .is_some_and(|actual| bool::from(actual.as_slice().ct_eq(expected.as_slice())));
        if !matches {
            return Err(AttestationError::PcrMismatch { index: *index });
        }
    }
    if let Some(expected) = &policy.nonce {
        let actual = payload
            .nonce
            .as_deref()
            .ok_or(AttestationError::NonceMissing)?;
        if !bool::from(actual.ct_eq(expected.as_slice())) {
            return Err(AttestationError::NonceMismatch);
        }
    }
    let made = SystemTime::UNIX_EPOCH + Duration::from_millis(payload.timestamp_ms);
    if made
        .duration_since(at)
        .is_ok_and(|ahead| ahead > policy.clock_skew)
    {
        return Err(AttestationError::TimestampInFuture);
    }
    if let Some(max_age) = policy.max_age
        && at.duration_since(made).is_ok_and(|age| age > max_age)
    {
        return Err(AttestationError::Stale);
    }

    Ok(VerifiedAttestation {
        module_id: payload.module_id,
        timestamp_ms: payload.timestamp_ms,
        pcrs: payload.pcrs,
        public_key: payload.public_key,
        user_data: payload.user_data,
        nonce: payload.nonce,
        debug,
    })
}

/// A verifier for evidence of either kind, each checked under its own policy.
///
/// ```no_run
/// use std::time::SystemTime;
/// use ok2cry_attestation::{Policy, Verifier, sev_snp::SevSnpPolicy};
/// # fn demo(evidence: &[u8], pcr0: [u8; 48], measurement: [u8; 48]) -> ok2cry_attestation::Result<()> {
/// let verifier = Verifier::new()
///     .with_nitro(Policy::strict().expect_pcr(0, pcr0))
///     .with_sev_snp(SevSnpPolicy::strict().expect_measurement(measurement));
/// let verified = verifier.verify(evidence, SystemTime::now())?;
/// println!("attested by {}", verified.platform());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    nitro: Option<Policy>,
    sev_snp: Option<crate::sev_snp::SevSnpPolicy>,
}

impl Verifier {
    /// A verifier that accepts nothing until a policy is given for a platform.
    pub fn new() -> Self {
        Self::default()
    }

    /// Both platforms under their strict policies (pinned roots, debugging refused, nothing
    /// else required: add measurements before relying on it).
    pub fn strict() -> Self {
        Self::new()
            .with_nitro(Policy::strict())
            .with_sev_snp(crate::sev_snp::SevSnpPolicy::strict())
    }

    /// Accepts Nitro documents under `policy`.
    pub fn with_nitro(mut self, policy: Policy) -> Self {
        self.nitro = Some(policy);
        self
    }

    /// Accepts SEV-SNP evidence under `policy`.
    pub fn with_sev_snp(mut self, policy: crate::sev_snp::SevSnpPolicy) -> Self {
        self.sev_snp = Some(policy);
        self
    }

    /// The Nitro policy, if Nitro documents are accepted.
    pub fn nitro(&self) -> Option<&Policy> {
        self.nitro.as_ref()
    }

    /// The SEV-SNP policy, if SEV-SNP evidence is accepted.
    pub fn sev_snp(&self) -> Option<&crate::sev_snp::SevSnpPolicy> {
        self.sev_snp.as_ref()
    }

    /// Detects the kind of `evidence` and verifies it under that platform's policy at `at`.
    pub fn verify(&self, evidence: &[u8], at: SystemTime) -> Result<crate::Verified> {
        use crate::Platform;
        match Platform::detect(evidence)? {
            Platform::Nitro => {
                let policy = self
                    .nitro
                    .as_ref()
                    .ok_or(AttestationError::PlatformNotAllowed(Platform::Nitro.name()))?;
                verify(evidence, policy, at).map(crate::Verified::Nitro)
            }
            Platform::SevSnp => {
                let policy = self
                    .sev_snp
                    .as_ref()
                    .ok_or(AttestationError::PlatformNotAllowed(
                        Platform::SevSnp.name(),
                    ))?;
                crate::sev_snp::verify_sev_snp(evidence, policy, at).map(crate::Verified::SevSnp)
            }
        }
    }
}
