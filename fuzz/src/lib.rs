//! # ok2cry-fuzz — the fuzz targets
//!
//! One module per target; each has `pub fn run(data: &[u8])`, the whole body of the target.
//! The libFuzzer harnesses in `fuzz_targets/` (nightly, `cargo +nightly fuzz`, see
//! `scripts/fuzz`) call it, and so does `tests/replay.rs` (stable, `cargo test`), which feeds
//! it every file of `corpus/<target>/` and `regressions/<target>/`.
//!
//! A target must never panic: a panic is a finding. Besides "no panic", each target asserts
//! what must hold for any input (round trips, both crypto providers agreeing, no 500 from the
//! HTTP layer, …). Where a signature would stop the fuzzer at the door, a target has a second
//! mode that signs the fuzzer's bytes with a fixture key, so the checks behind the signature
//! are fuzzed too. The first input byte picks the mode where there is more than one.
//!
//! Table of contents:
//! - [`envelope`]: JSON and compact envelopes (client crate), opened with both providers.
//! - [`key_token`]: key tokens (JWS compact) and their verification against a JWK set.
//! - [`jwk`]: public JWKs, JWK sets, SPKI PEM/DER and SEC1 keys, private key scalars.
//! - [`bearer`]: the service's bearer JWT verifier.
//! - [`pki`]: the PEM/DER certificates, CSRs and CRLs the CLI reads (`src/auth/pki.rs`) and the
//!   identity of a client certificate (`src/auth/principal.rs`).
//! - [`attestation`]: Nitro attestation documents (COSE_Sign1, CBOR, certificate chain).
//! - [`audit_event`]: audit log lines.
//! - [`audit_note`]: signed checkpoint notes and checkpoint bodies.
//! - [`audit_receipt`]: destruction receipts (JSON, then verification).
//! - [`http_api`]: HTTP requests through the service's router (`ok2cry::http::routes::app`).
//! - [`fixtures`]: the keys, vectors and certificates the targets share.
//! - `input`: the mode byte at the start of a multi-mode target's input (private; in a module
//!   of its own so that the targets do not import this file, which names them).
//! - [`wrap`]: DER and PEM wrapping for the modes that sign the fuzzer's bytes.

#![forbid(unsafe_code)]

pub mod attestation;
pub mod audit_event;
pub mod audit_note;
pub mod audit_receipt;
pub mod bearer;
pub mod envelope;
pub mod fixtures;
pub mod http_api;
mod input;
pub mod jwk;
pub mod key_token;
pub mod pki;
pub mod wrap;

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets, by name: the name is the harness's, the corpus directory's and the
/// regression directory's.
pub const TARGETS: [(&str, Target); 10] = [
    ("envelope", envelope::run),
    ("key_token", key_token::run),
    ("jwk", jwk::run),
    ("bearer", bearer::run),
    ("pki", pki::run),
    ("attestation", attestation::run),
    ("audit_event", audit_event::run),
    ("audit_note", audit_note::run),
    ("audit_receipt", audit_receipt::run),
    ("http_api", http_api::run),
];
