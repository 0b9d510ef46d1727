//! The SEV-SNP verification procedure, in the order the checks run.
//!
//! 1. Parse ([`SevSnpEvidence::parse`]): the bundle's structure and limits; the report is 1184
//!    bytes, version 2 to 5, signature algorithm ECDSA P-384 / SHA-384, signed by a VCEK.
//! 2. ARK pin: the ARK's SHA-256 fingerprint is one the policy pins; that fixes the product.
//! 3. Certificate chain ARK → ASK → VCEK (positions 0, 1, 2): the positional walk, then
//!    rustls-webpki ([`crate::certificate`], [`crate::cert_path`]); RSA-PSS / SHA-384 above
//!    the VCEK, a P-384 VCEK key.
//! 4. The VCEK belongs to this report: its productName is the pinned ARK's product (and so is
//!    the report's CPUID, from version 3), its hwID is the report's CHIP_ID (not masked), and
//!    its TCB extensions equal the report's REPORTED_TCB, component by component.
//! 5. Report signature: ECDSA P-384 / SHA-384 over bytes 0x000–0x29F, by the VCEK.
//! 6. Policy: debugging refused unless allowed, VMPL, minimum TCB, expected measurements,
//!    REPORT_DATA.
//!
//! Only after all six does a [`VerifiedSevSnp`] exist.

use std::time::SystemTime;

use subtle::ConstantTimeEq;

use crate::certificate::{ChainProfile, RootFingerprint, verify_chain};
use crate::error::{AttestationError, Result};
use crate::sev_snp::evidence::SevSnpEvidence;
use crate::sev_snp::policy::SevSnpPolicy;
use crate::sev_snp::product::Product;
use crate::sev_snp::vcek::VcekExtensions;
use crate::sev_snp::verified::VerifiedSevSnp;

/// Verifies SEV-SNP evidence bytes (the CBOR bundle) against `policy` at time `at` (the time
/// the certificates must be valid at; there is no clock in here, and a report carries no time
/// of its own: its freshness comes from REPORT_DATA).
pub fn verify_sev_snp(
    evidence: &[u8],
    policy: &SevSnpPolicy,
    at: SystemTime,
) -> Result<VerifiedSevSnp> {
    SevSnpEvidence::parse(evidence)?.verify(policy, at)
}

impl SevSnpEvidence {
    /// Verifies this evidence against `policy` at time `at`: checks 2 to 6 of the procedure
    /// in [`crate::sev_snp::verifier`], the parse (check 1) having made `self`.
    /// [`verify_sev_snp`] does both from the bytes.
    pub fn verify(self, policy: &SevSnpPolicy, at: SystemTime) -> Result<VerifiedSevSnp> {
        verify_evidence(self, policy, at)
    }
}

/// Checks 2 to 6 of the procedure, in order.
fn verify_evidence(
    evidence: SevSnpEvidence,
    policy: &SevSnpPolicy,
    at: SystemTime,
) -> Result<VerifiedSevSnp> {
    let SevSnpEvidence {
        report,
        vcek,
        ask,
        ark,
    } = evidence;

    let fingerprint = RootFingerprint::of_certificate(&ark);
    let (pinned, product) = policy
        .arks
        .iter()
        .find(|(pinned, _)| pinned.matches(&fingerprint))
        .copied()
        .ok_or(AttestationError::UntrustedRoot)?;

    let chain = [ark.as_slice(), ask.as_slice(), vcek.as_slice()];
    let vcek_key = verify_chain(&chain, &pinned, at, ChainProfile::AmdSev)?;

    let extensions = VcekExtensions::read(&vcek)?;
    if extensions.product() != Some(product) {
        return Err(AttestationError::ProductMismatch(
            "the VCEK's productName is not the product of the pinned ARK",
        ));
    }
    if let Some((family, model, _)) = report.cpuid()
        && Product::from_cpuid(family, model).is_some_and(|named| named != product)
    {
        return Err(AttestationError::ProductMismatch(
            "the report's CPUID names another product than its certificate chain",
        ));
    }
    let chip_id = report.chip_id();
    if report.chip_key_masked() || chip_id.iter().all(|b| *b == 0) {
        return Err(AttestationError::ChipIdMasked);
    }
    if !extensions.is_for_chip(&chip_id) {
        return Err(AttestationError::ChipIdMismatch);
    }
    let reported_tcb = product.decode_tcb(report.reported_tcb());
    for ((component, in_report), (_, in_vcek)) in reported_tcb
        .components()
        .into_iter()
        .zip(extensions.tcb.components())
    {
        if in_report != in_vcek {
            return Err(AttestationError::TcbMismatch { component });
        }
    }

    if !vcek_key.verifies(report.signed_bytes(), &report.signature_fixed()) {
        return Err(AttestationError::ReportSignature);
    }

    if report.policy().debug_allowed() && !policy.allow_debug {
        return Err(AttestationError::DebugGuest);
    }
    if let Some(expected) = policy.vmpl
        && report.vmpl() != expected
    {
        return Err(AttestationError::VmplMismatch {
            expected,
            actual: report.vmpl(),
        });
    }
    if let Some(minimum) = &policy.min_tcb
        && let Some((component, actual, minimum)) = minimum.first_below(&reported_tcb)
    {
        return Err(AttestationError::TcbTooLow {
            component,
            actual,
            minimum,
        });
    }
    if !policy.measurements.is_empty() {
        let measurement = report.measurement();
        let mut matched = subtle::Choice::from(0u8);
        for expected in &policy.measurements {
            matched |= measurement.ct_eq(expected);
        }
        if !bool::from(matched) {
            return Err(AttestationError::MeasurementMismatch);
        }
    }
    if let Some(expected) = &policy.report_data
        && !bool::from(report.report_data().ct_eq(expected))
    {
        return Err(AttestationError::ReportDataMismatch);
    }

    Ok(VerifiedSevSnp {
        report,
        product,
        reported_tcb,
        vcek_product_name: extensions.product_name,
    })
}
