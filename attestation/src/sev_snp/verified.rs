//! The proof type: an SEV-SNP report that passed every check.

use crate::sev_snp::product::{Product, Tcb};
use crate::sev_snp::report::{AttestationReport, GuestPolicy};

/// An SEV-SNP report whose certificate chain, VCEK binding, signature and policy checks all
/// passed. It can only be obtained from [`crate::sev_snp::verify_sev_snp`] /
/// [`crate::sev_snp::SevSnpEvidence::verify`] (or [`crate::Verifier`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSevSnp {
    pub(crate) report: AttestationReport,
    pub(crate) product: Product,
    pub(crate) reported_tcb: Tcb,
    pub(crate) vcek_product_name: String,
}

impl VerifiedSevSnp {
    /// The whole (now verified) report, for fields without an accessor here.
    pub fn report(&self) -> &AttestationReport {
        &self.report
    }
    /// The AMD product line (from the pinned ARK).
    pub fn product(&self) -> Product {
        self.product
    }
    /// The VCEK's productName (product and stepping, e.g. `Milan-B0`).
    pub fn vcek_product_name(&self) -> &str {
        &self.vcek_product_name
    }
    /// The report structure version.
    pub fn version(&self) -> u32 {
        self.report.version()
    }
    /// The launch measurement.
    pub fn measurement(&self) -> [u8; 48] {
        self.report.measurement()
    }
    /// REPORT_DATA.
    pub fn report_data(&self) -> [u8; 64] {
        self.report.report_data()
    }
    /// HOST_DATA.
    pub fn host_data(&self) -> [u8; 32] {
        self.report.host_data()
    }
    /// The VMPL the report was requested at.
    pub fn vmpl(&self) -> u32 {
        self.report.vmpl()
    }
    /// The guest policy.
    pub fn policy(&self) -> GuestPolicy {
        self.report.policy()
    }
    /// Whether the guest policy allows debugging (only possible when the policy allowed it).
    pub fn is_debug(&self) -> bool {
        self.report.policy().debug_allowed()
    }
    /// REPORTED_TCB, decoded: the TCB the VCEK certifies.
    pub fn reported_tcb(&self) -> Tcb {
        self.reported_tcb
    }
    /// CURRENT_TCB, decoded.
    pub fn current_tcb(&self) -> Tcb {
        self.product.decode_tcb(self.report.current_tcb())
    }
    /// COMMITTED_TCB, decoded.
    pub fn committed_tcb(&self) -> Tcb {
        self.product.decode_tcb(self.report.committed_tcb())
    }
    /// LAUNCH_TCB, decoded.
    pub fn launch_tcb(&self) -> Tcb {
        self.product.decode_tcb(self.report.launch_tcb())
    }
    /// CHIP_ID.
    pub fn chip_id(&self) -> [u8; 64] {
        self.report.chip_id()
    }
}
