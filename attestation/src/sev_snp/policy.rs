//! What a relying party requires of a verified SEV-SNP report beyond its signatures.
//!
//! [`SevSnpPolicy::strict`] pins AMD's three ARKs (Milan, Genoa, Turin) and refuses guests
//! whose policy allows debugging; everything else (expected measurements, a minimum TCB, the
//! REPORT_DATA, the VMPL) is added explicitly. The escape hatch is named `danger_*`.

use crate::certificate::RootFingerprint;
use crate::sev_snp::product::{Product, Tcb};

/// The lowest security patch level accepted for each TCB component (compared with the
/// report's REPORTED_TCB, the TCB its VCEK certifies). `fmc` applies to Turin only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcbMinimum {
    /// Bootloader SPL.
    pub bootloader: u8,
    /// TEE SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
    /// FMC SPL (Turin; ignored for products without one).
    pub fmc: u8,
}

impl TcbMinimum {
    /// The first component of `tcb` below this minimum, as (name, actual, minimum).
    pub fn first_below(&self, tcb: &Tcb) -> Option<(&'static str, u8, u8)> {
        let mut checks = vec![
            ("bootloader", tcb.bootloader, self.bootloader),
            ("tee", tcb.tee, self.tee),
            ("snp", tcb.snp, self.snp),
            ("microcode", tcb.microcode, self.microcode),
        ];
        if let Some(fmc) = tcb.fmc {
            checks.push(("fmc", fmc, self.fmc));
        }
        checks
            .into_iter()
            .find(|(_, actual, minimum)| actual < minimum)
    }
}

/// Verification policy for SEV-SNP reports. Build with [`SevSnpPolicy::strict`] and the
/// `with_*`/`expect_*`/`require_*` methods.
#[derive(Debug, Clone)]
pub struct SevSnpPolicy {
    pub(crate) arks: Vec<(RootFingerprint, Product)>,
    pub(crate) allow_debug: bool,
    pub(crate) min_tcb: Option<TcbMinimum>,
    pub(crate) measurements: Vec<[u8; 48]>,
    pub(crate) report_data: Option<[u8; 64]>,
    pub(crate) vmpl: Option<u32>,
}

impl SevSnpPolicy {
    /// AMD's ARKs for Milan, Genoa and Turin pinned, debuggable guests refused; no measurement,
    /// TCB, report data or VMPL requirement.
    pub fn strict() -> Self {
        Self {
            arks: Product::ALL
                .into_iter()
                .map(|product| (product.ark_fingerprint(), product))
                .collect(),
            allow_debug: false,
            min_tcb: None,
            measurements: Vec::new(),
            report_data: None,
            vmpl: None,
        }
    }

    /// Pins only this ARK, for `product` (tests, or a relying party that accepts one product
    /// line). Replaces the default set.
    pub fn with_ark(mut self, ark: RootFingerprint, product: Product) -> Self {
        self.arks = vec![(ark, product)];
        self
    }

    /// Accepts only these products (keeps their AMD ARKs, drops the others).
    pub fn only_products(mut self, products: &[Product]) -> Self {
        self.arks.retain(|(_, product)| products.contains(product));
        self
    }

    /// Requires REPORTED_TCB to be at least `minimum` in every component.
    pub fn with_min_tcb(mut self, minimum: TcbMinimum) -> Self {
        self.min_tcb = Some(minimum);
        self
    }

    /// Accepts this launch measurement (call once per accepted build; with none, any
    /// measurement is accepted, which proves nothing about the code).
    pub fn expect_measurement(mut self, measurement: [u8; 48]) -> Self {
        self.measurements.push(measurement);
        self
    }

    /// Requires REPORT_DATA to equal `report_data` exactly.
    pub fn require_report_data(mut self, report_data: [u8; 64]) -> Self {
        self.report_data = Some(report_data);
        self
    }

    /// Requires the report to have been requested at this VMPL (0 is the most privileged; a
    /// guest kernel without a paravisor runs at 0).
    pub fn require_vmpl(mut self, vmpl: u32) -> Self {
        self.vmpl = Some(vmpl);
        self
    }

    /// Accepts guests whose policy allows debugging: their memory can be read and changed by
    /// the hypervisor, so they prove nothing. **Never** in production.
    pub fn danger_allow_debug(mut self) -> Self {
        self.allow_debug = true;
        self
    }

    /// The pinned ARKs and their products.
    pub fn arks(&self) -> &[(RootFingerprint, Product)] {
        &self.arks
    }
}

impl Default for SevSnpPolicy {
    fn default() -> Self {
        Self::strict()
    }
}
