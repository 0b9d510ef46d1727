//! Attestation for ok2cry: AWS Nitro Enclaves and AMD SEV-SNP.
//!
//! A Nitro attestation document is a COSE_Sign1 signed by the enclave's Nitro Secure Module;
//! its certificate chain ends at the AWS Nitro root and its PCRs measure the enclave image. An
//! SEV-SNP report is signed by the AMD chip's VCEK under AMD's ARK → ASK chain, and its launch
//! measurement covers the confidential VM's initial memory (Azure and Google Cloud confidential
//! VMs on AMD EPYC). This crate verifies both against pinned roots and a policy, produces them
//! (inside an enclave or an SEV-SNP guest, or with a clearly labelled development stand-in),
//! binds them to the service's keys, and writes release provenance statements that tie
//! measurements to a source commit.
//!
//! Table of contents:
//! - [`Verifier`] ([`verifier`]): evidence of either kind, each under its own policy; returns
//!   [`Verified`]. [`verify`] is the Nitro procedure, checks in order; it returns the proof type
//!   [`VerifiedAttestation`] ([`verified`]).
//! - [`Platform`] ([`evidence`]): the kinds of evidence, told apart by their first byte; reading
//!   evidence with a size limit that is enforced while reading.
//! - [`AttestationDocument`] ([`document`]): the *unverified* parse of a Nitro document.
//! - [`Policy`] ([`policy`]): Nitro: pinned root, expected PCRs, debug mode, nonce, age.
//! - [`sev_snp`]: AMD SEV-SNP: reports, evidence, products and their pinned ARKs, VCEK
//!   extensions, [`sev_snp::SevSnpPolicy`], [`sev_snp::verify_sev_snp`].
//! - [`RootFingerprint`] ([`certificate`]): the trust anchor; the positional chain walk and the
//!   algorithms accepted per [`ChainProfile`]. [`cert_path`]: the same chains through
//!   rustls-webpki, which must accept them too.
//! - [`cose`]: COSE_Sign1 with ES384.
//! - [`AttestationProvider`] ([`provider`]): [`NsmProvider`] (feature `nsm`),
//!   [`SevSnpProvider`] (Linux configfs-tsm, inside an SEV-SNP guest) and the development-only
//!   [`DevProvider`].
//! - [`Binding`] ([`binding`]): the evidence ↔ JWKS and audit key commitment, for both
//!   platforms.
//! - [`AttestationResponse`] ([`response`]): the JSON of `GET /v1/attestation`.
//! - [`release_statement`] ([`provenance`]): in-toto / SLSA-style release provenance.
//! - [`AttestationError`] ([`error`]): the one error type.
//!
//! ```no_run
//! use std::time::SystemTime;
//! use ok2cry_attestation::{Policy, verify};
//! # fn demo(document: &[u8], pcr0: [u8; 48], nonce: [u8; 32]) -> Result<(), ok2cry_attestation::AttestationError> {
//! let policy = Policy::strict().expect_pcr(0, pcr0).require_nonce(nonce);
//! let verified = verify(document, &policy, SystemTime::now())?;
//! println!("enclave {} attested", verified.module_id());
//! # Ok(()) }
//! ```

pub mod binding;
pub mod cert_path;
pub mod certificate;
pub mod cose;
pub mod document;
pub mod error;
pub mod evidence;
pub mod policy;
pub mod provenance;
pub mod provider;
pub mod response;
pub mod sev_snp;
pub mod verified;
pub mod verifier;

pub use binding::{Binding, binding_user_data, report_data_for, verify_binding};
pub use certificate::{ChainProfile, RootFingerprint};
pub use document::AttestationDocument;
pub use error::{AttestationError, ChainPosition, Result};
pub use evidence::{MAX_EVIDENCE_LEN, Platform, read_at_most, read_evidence};
pub use policy::Policy;
pub use provenance::{ReleaseProvenance, release_statement};
#[cfg(feature = "nsm")]
pub use provider::NsmProvider;
pub use provider::{AttestationProvider, DevProvider, SevSnpProvider};
pub use response::AttestationResponse;
pub use verified::{Verified, VerifiedAttestation};
pub use verifier::{Verifier, verify};
