//! Shared helpers for the attestation tests: locating the real Nitro and SEV-SNP vectors.
#![allow(dead_code, clippy::panic, clippy::unwrap_used)]

pub mod synthetic;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// `shared/vectors/nitro/`: `$OK2CRY_SHARED/vectors/nitro` if set, else
/// `$CARGO_MANIFEST_DIR/../../shared/vectors/nitro` (CI has `shared/` beside the checkout).
pub fn nitro_dir() -> PathBuf {
    shared_vectors().join("nitro")
}

/// `shared/vectors/`: `$OK2CRY_SHARED/vectors` if set, else
/// `$CARGO_MANIFEST_DIR/../../shared/vectors`.
pub fn shared_vectors() -> PathBuf {
    match std::env::var_os("OK2CRY_SHARED") {
        Some(shared) => PathBuf::from(shared).join("vectors"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
    }
}

/// `shared/vectors/sev-snp/`.
pub fn sev_dir() -> PathBuf {
    shared_vectors().join("sev-snp")
}

pub fn sev_file(name: &str) -> Vec<u8> {
    let path = sev_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The real Milan report (1184 bytes), its VCEK (DER), and AMD's Milan ASK and ARK (DER).
pub struct Milan {
    pub report: Vec<u8>,
    pub vcek: Vec<u8>,
    pub ask: Vec<u8>,
    pub ark: Vec<u8>,
}

pub fn milan() -> Milan {
    use ok2cry_attestation::sev_snp::evidence::{pem_certificates, report_bytes};
    let report = report_bytes(&sev_file("report_milan.hex")).unwrap();
    let chain = pem_certificates(&sev_file("cert_chain_milan")).unwrap();
    assert_eq!(
        chain.len(),
        2,
        "cert_chain_milan holds the ASK then the ARK"
    );
    Milan {
        report,
        vcek: sev_file("vcek_milan.der"),
        ask: chain[0].clone(),
        ark: chain[1].clone(),
    }
}

impl Milan {
    pub fn evidence(&self) -> Vec<u8> {
        ok2cry_attestation::sev_snp::SevSnpEvidence::from_parts(
            &self.report,
            &self.vcek,
            &self.ask,
            &self.ark,
        )
        .unwrap()
        .to_vec()
        .unwrap()
    }
}

/// A time inside every Milan certificate's validity (the VCEK: 2023-04-03 to 2030-04-03):
/// 2024-06-01T00:00:00Z.
pub const MILAN_AT_MS: u64 = 1_717_200_000_000;

pub fn vector(name: &str) -> Vec<u8> {
    let path = nitro_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn at_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// The three real documents and their timestamps (from shared/vectors/README.md).
pub const PROD_2025: (&str, u64) = ("aws-2025-01-06-eu-central-1.cose", 1_736_179_625_472);
pub const PROD_2021: (&str, u64) = ("aws-2021-03-17-prod.cbor", 1_616_018_515_685);
pub const DEBUG_2024: (&str, u64) = (
    "aws-2024-01-24-debug-nonce-userdata.cbor",
    1_706_120_065_635,
);
