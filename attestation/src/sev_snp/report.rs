//! The SEV-SNP attestation report as parsed, *before* any verification.
//!
//! Layout (AMD "SEV Secure Nested Paging Firmware ABI Specification", ATTESTATION_REPORT
//! structure; all integers little-endian):
//!
//! | offset | size | field | versions |
//! | --- | --- | --- | --- |
//! | 0x000 | 4 | VERSION | 2–5 |
//! | 0x004 | 4 | GUEST_SVN | |
//! | 0x008 | 8 | POLICY (guest policy) | |
//! | 0x010 | 16 | FAMILY_ID | |
//! | 0x020 | 16 | IMAGE_ID | |
//! | 0x030 | 4 | VMPL | |
//! | 0x034 | 4 | SIGNATURE_ALGO (1 = ECDSA P-384 with SHA-384) | |
//! | 0x038 | 8 | CURRENT_TCB | |
//! | 0x040 | 8 | PLATFORM_INFO | |
//! | 0x048 | 4 | bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY (0 VCEK, 1 VLEK, 7 none) | |
//! | 0x050 | 64 | REPORT_DATA (chosen by the guest) | |
//! | 0x090 | 48 | MEASUREMENT (launch digest) | |
//! | 0x0C0 | 32 | HOST_DATA | |
//! | 0x0E0 | 48 | ID_KEY_DIGEST | |
//! | 0x110 | 48 | AUTHOR_KEY_DIGEST | |
//! | 0x140 | 32 | REPORT_ID | |
//! | 0x160 | 32 | REPORT_ID_MA | |
//! | 0x180 | 8 | REPORTED_TCB (the TCB the VCEK was derived for) | |
//! | 0x188 | 3 | CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP | 3+ (zero in 2) |
//! | 0x1A0 | 64 | CHIP_ID | |
//! | 0x1E0 | 8 | COMMITTED_TCB | |
//! | 0x1E8 | 4 | CURRENT build, minor, major, reserved | |
//! | 0x1EC | 4 | COMMITTED build, minor, major, reserved | |
//! | 0x1F0 | 8 | LAUNCH_TCB | |
//! | 0x1F8 | 8 | LAUNCH_MIT_VECTOR | 5 |
//! | 0x200 | 8 | CURRENT_MIT_VECTOR | 5 |
//! | 0x2A0 | 512 | SIGNATURE: R (72 bytes), S (72 bytes), little-endian, zero-padded; 368 reserved bytes (must be zero) | |
//!
//! The signature covers bytes 0x000 to 0x29F exactly as received (never a re-encoding: a later
//! version may fill what an earlier one reserved). Version 4 has the layout of version 3 for
//! every field read here. Versions outside 2 to 5 are refused: a future layout may move fields.

use crate::error::{AttestationError, Result};

/// Length of a report.
pub const REPORT_LEN: usize = 0x4A0;
/// Length of the signed part (offsets 0x000 to 0x29F).
pub const SIGNED_LEN: usize = 0x2A0;
/// Oldest structure version accepted (the first SEV-SNP one).
pub const MIN_VERSION: u32 = 2;
/// Newest structure version accepted.
pub const MAX_VERSION: u32 = 5;
/// SIGNATURE_ALGO value of ECDSA P-384 with SHA-384, the only one defined.
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;

/// Length of each signature component field (R and S): 72 bytes, of which P-384 uses 48.
const SIG_COMPONENT_LEN: usize = 72;
const P384_SCALAR_LEN: usize = 48;

/// A parsed, *unverified* SEV-SNP attestation report: the exact 1184 bytes, with accessors.
#[derive(Clone, PartialEq, Eq)]
pub struct AttestationReport {
    bytes: Box<[u8; REPORT_LEN]>,
}

impl std::fmt::Debug for AttestationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationReport")
            .field("version", &self.version())
            .field("vmpl", &self.vmpl())
            .field("measurement", &hex::encode(self.measurement()))
            .finish_non_exhaustive()
    }
}

/// The guest policy (POLICY), fixed at launch by the guest owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    fn bit(self, bit: u32) -> bool {
        self.0 >> bit & 1 == 1
    }
    /// Minimum ABI minor version (bits 7:0).
    pub fn abi_minor(self) -> u8 {
        self.0.to_le_bytes()[0]
    }
    /// Minimum ABI major version (bits 15:8).
    pub fn abi_major(self) -> u8 {
        self.0.to_le_bytes()[1]
    }
    /// Bit 16: the host may use SMT.
    pub fn smt_allowed(self) -> bool {
        self.bit(16)
    }
    /// Bit 18: a migration agent may be associated with the guest.
    pub fn migrate_ma_allowed(self) -> bool {
        self.bit(18)
    }
    /// Bit 19: the guest may be debugged (the hypervisor can read and write its memory).
    pub fn debug_allowed(self) -> bool {
        self.bit(19)
    }
    /// Bit 20: the guest may run on one socket only.
    pub fn single_socket(self) -> bool {
        self.bit(20)
    }
}

/// PLATFORM_INFO: the platform's configuration when the report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    /// Bit 0: SMT is enabled.
    pub fn smt_enabled(self) -> bool {
        self.0 & 1 == 1
    }
    /// Bit 1: transparent SME is enabled.
    pub fn tsme_enabled(self) -> bool {
        self.0 >> 1 & 1 == 1
    }
}

/// Which key signed the report (SIGNING_KEY, bits 4:2 at 0x048).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKey {
    /// The chip's versioned chip endorsement key.
    Vcek,
    /// A versioned loaded endorsement key (a cloud provider's).
    Vlek,
    /// No key (the report is unsigned).
    None,
}

impl AttestationReport {
    /// Parses a report: exactly 1184 bytes, version 2 to 5, signature algorithm ECDSA P-384 with
    /// SHA-384, signed by a VCEK, signature components of at most 48 bytes. Nothing is verified.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bytes: Box<[u8; REPORT_LEN]> = bytes
            .to_vec()
            .into_boxed_slice()
            .try_into()
            .map_err(|_| AttestationError::Malformed("an SEV-SNP report is 1184 bytes"))?;
        let report = Self { bytes };
        let version = report.version();
        if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
            return Err(AttestationError::UnsupportedReportVersion(version));
        }
        if report.signature_algo() != SIG_ALGO_ECDSA_P384_SHA384 {
            return Err(AttestationError::UnsupportedAlgorithm(
                "report signature other than ECDSA P-384 with SHA-384",
            ));
        }
        match report.signing_key()? {
            SigningKey::Vcek => {}
            SigningKey::Vlek => return Err(AttestationError::UnsupportedSigningKey("VLEK")),
            SigningKey::None => return Err(AttestationError::UnsupportedSigningKey("no key")),
        }
        for component in [report.component(0), report.component(1)] {
            if component[P384_SCALAR_LEN..].iter().any(|b| *b != 0) {
                return Err(AttestationError::Malformed(
                    "report signature component longer than 48 bytes",
                ));
            }
        }
        // The rest of the signature field is reserved and, unlike everything before 0x2A0, not
        // signed: it must be zero, so that no byte of a report can change unnoticed.
        if report.bytes[SIGNED_LEN + 2 * SIG_COMPONENT_LEN..]
            .iter()
            .any(|b| *b != 0)
        {
            return Err(AttestationError::Malformed(
                "nonzero bytes in the report signature's reserved area",
            ));
        }
        Ok(report)
    }

    /// The 1184 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// The signed bytes (0x000 to 0x29F).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.bytes[..SIGNED_LEN]
    }

    fn field<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[offset..offset + N]);
        out
    }

    fn u32_at(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.field(offset))
    }

    fn u64_at(&self, offset: usize) -> u64 {
        u64::from_le_bytes(self.field(offset))
    }

    /// VERSION.
    pub fn version(&self) -> u32 {
        self.u32_at(0x000)
    }
    /// GUEST_SVN.
    pub fn guest_svn(&self) -> u32 {
        self.u32_at(0x004)
    }
    /// POLICY.
    pub fn policy(&self) -> GuestPolicy {
        GuestPolicy(self.u64_at(0x008))
    }
    /// FAMILY_ID.
    pub fn family_id(&self) -> [u8; 16] {
        self.field(0x010)
    }
    /// IMAGE_ID.
    pub fn image_id(&self) -> [u8; 16] {
        self.field(0x020)
    }
    /// VMPL the report was requested at.
    pub fn vmpl(&self) -> u32 {
        self.u32_at(0x030)
    }
    /// SIGNATURE_ALGO.
    pub fn signature_algo(&self) -> u32 {
        self.u32_at(0x034)
    }
    /// CURRENT_TCB, raw (its layout depends on the product: [`crate::sev_snp::Product::decode_tcb`]).
    pub fn current_tcb(&self) -> u64 {
        self.u64_at(0x038)
    }
    /// PLATFORM_INFO.
    pub fn platform_info(&self) -> PlatformInfo {
        PlatformInfo(self.u64_at(0x040))
    }
    fn key_info(&self) -> u32 {
        self.u32_at(0x048)
    }
    /// AUTHOR_KEY_EN: the ID key was certified by an author key.
    pub fn author_key_enabled(&self) -> bool {
        self.key_info() & 1 == 1
    }
    /// MASK_CHIP_KEY: CHIP_ID is zeros.
    pub fn chip_key_masked(&self) -> bool {
        self.key_info() >> 1 & 1 == 1
    }
    /// SIGNING_KEY.
    pub fn signing_key(&self) -> Result<SigningKey> {
        match self.key_info() >> 2 & 0b111 {
            0 => Ok(SigningKey::Vcek),
            1 => Ok(SigningKey::Vlek),
            7 => Ok(SigningKey::None),
            _ => Err(AttestationError::Malformed("reserved SIGNING_KEY value")),
        }
    }
    /// REPORT_DATA: the 64 bytes the guest asked the report to carry.
    pub fn report_data(&self) -> [u8; 64] {
        self.field(0x050)
    }
    /// MEASUREMENT: the launch digest (SHA-384) of the guest's initial memory and state.
    pub fn measurement(&self) -> [u8; 48] {
        self.field(0x090)
    }
    /// HOST_DATA: 32 bytes the host supplied at launch.
    pub fn host_data(&self) -> [u8; 32] {
        self.field(0x0C0)
    }
    /// ID_KEY_DIGEST: SHA-384 of the ID key that signed the launch ID block (zeros if none).
    pub fn id_key_digest(&self) -> [u8; 48] {
        self.field(0x0E0)
    }
    /// AUTHOR_KEY_DIGEST: SHA-384 of the author key (zeros if none).
    pub fn author_key_digest(&self) -> [u8; 48] {
        self.field(0x110)
    }
    /// REPORT_ID: the guest's report id.
    pub fn report_id(&self) -> [u8; 32] {
        self.field(0x140)
    }
    /// REPORT_ID_MA: the migration agent's report id (all ones if none).
    pub fn report_id_ma(&self) -> [u8; 32] {
        self.field(0x160)
    }
    /// REPORTED_TCB, raw: the TCB the VCEK that signed this report was derived for.
    pub fn reported_tcb(&self) -> u64 {
        self.u64_at(0x180)
    }
    /// CPUID family, model and stepping (versions 3 and later; `None` for version 2).
    pub fn cpuid(&self) -> Option<(u8, u8, u8)> {
        (self.version() >= 3).then(|| (self.bytes[0x188], self.bytes[0x189], self.bytes[0x18A]))
    }
    /// CHIP_ID: the chip's 64-byte identifier (zeros when masked).
    pub fn chip_id(&self) -> [u8; 64] {
        self.field(0x1A0)
    }
    /// COMMITTED_TCB, raw.
    pub fn committed_tcb(&self) -> u64 {
        self.u64_at(0x1E0)
    }
    /// The firmware's current version (major, minor, build).
    pub fn current_version(&self) -> (u8, u8, u8) {
        (self.bytes[0x1EA], self.bytes[0x1E9], self.bytes[0x1E8])
    }
    /// The firmware's committed version (major, minor, build).
    pub fn committed_version(&self) -> (u8, u8, u8) {
        (self.bytes[0x1EE], self.bytes[0x1ED], self.bytes[0x1EC])
    }
    /// LAUNCH_TCB, raw: the current TCB when the guest was launched.
    pub fn launch_tcb(&self) -> u64 {
        self.u64_at(0x1F0)
    }
    /// LAUNCH_MIT_VECTOR (version 5).
    pub fn launch_mit_vector(&self) -> Option<u64> {
        (self.version() >= 5).then(|| self.u64_at(0x1F8))
    }
    /// CURRENT_MIT_VECTOR (version 5).
    pub fn current_mit_vector(&self) -> Option<u64> {
        (self.version() >= 5).then(|| self.u64_at(0x200))
    }

    fn component(&self, index: usize) -> &[u8] {
        let start = SIGNED_LEN + index * SIG_COMPONENT_LEN;
        &self.bytes[start..start + SIG_COMPONENT_LEN]
    }

    /// The signature as r || s, 48 bytes each, big-endian (the report stores them little-endian
    /// in 72-byte fields).
    pub fn signature_fixed(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        for (index, chunk) in out.chunks_exact_mut(P384_SCALAR_LEN).enumerate() {
            let little_endian = &self.component(index)[..P384_SCALAR_LEN];
            for (dst, src) in chunk.iter_mut().zip(little_endian.iter().rev()) {
                *dst = *src;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(version: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; REPORT_LEN];
        bytes[..4].copy_from_slice(&version.to_le_bytes());
        bytes[0x34..0x38].copy_from_slice(&1u32.to_le_bytes());
        bytes
    }

    #[test]
    fn versions_and_fields() {
        for version in 2..=5 {
            let report = AttestationReport::parse(&blank(version)).unwrap();
            assert_eq!(report.version(), version);
            assert_eq!(report.cpuid().is_some(), version >= 3);
            assert_eq!(report.launch_mit_vector().is_some(), version >= 5);
        }
        for version in [0, 1, 6, u32::MAX] {
            assert_eq!(
                AttestationReport::parse(&blank(version)),
                Err(AttestationError::UnsupportedReportVersion(version))
            );
        }
        let mut vlek = blank(3);
        vlek[0x48] = 1 << 2;
        assert_eq!(
            AttestationReport::parse(&vlek),
            Err(AttestationError::UnsupportedSigningKey("VLEK"))
        );
        let mut other_algo = blank(2);
        other_algo[0x34] = 2;
        assert!(matches!(
            AttestationReport::parse(&other_algo),
            Err(AttestationError::UnsupportedAlgorithm(_))
        ));
        let mut long_r = blank(2);
        long_r[SIGNED_LEN + 48] = 1;
        assert!(matches!(
            AttestationReport::parse(&long_r),
            Err(AttestationError::Malformed(_))
        ));
        let mut reserved = blank(2);
        reserved[REPORT_LEN - 1] = 1;
        assert!(matches!(
            AttestationReport::parse(&reserved),
            Err(AttestationError::Malformed(_))
        ));
        assert!(AttestationReport::parse(&blank(2)[..REPORT_LEN - 1]).is_err());
        assert!(AttestationReport::parse(&[]).is_err());
    }

    #[test]
    fn signature_components_are_reversed_into_big_endian() {
        let mut bytes = blank(2);
        bytes[SIGNED_LEN] = 0x01; // least significant byte of r
        bytes[SIGNED_LEN + 47] = 0x02; // most significant byte of r
        bytes[SIGNED_LEN + 72] = 0x03; // least significant byte of s
        let fixed = AttestationReport::parse(&bytes).unwrap().signature_fixed();
        assert_eq!((fixed[0], fixed[47], fixed[95]), (0x02, 0x01, 0x03));
    }
}
