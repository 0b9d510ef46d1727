//! Shared helpers for the attestation tests: locating the real Nitro vectors.
#![allow(dead_code, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// `shared/vectors/nitro/`: `$OK2CRY_SHARED/vectors/nitro` if set, else
/// `$CARGO_MANIFEST_DIR/../../shared/vectors/nitro` (CI has `shared/` beside the checkout).
pub fn nitro_dir() -> PathBuf {
    match std::env::var_os("OK2CRY_SHARED") {
        Some(shared) => PathBuf::from(shared).join("vectors/nitro"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/nitro"),
    }
}

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
