//! AWS Nitro Enclaves attestation for ok2cry.
//!
//! An attestation document is a COSE_Sign1 signed by the enclave's Nitro Secure Module; its
//! certificate chain ends at the AWS Nitro root and its PCRs measure the enclave image. This
//! crate verifies such documents against a pinned root and a policy, produces them (on Nitro
//! hardware, or with a clearly labelled development stand-in), binds them to the service's
//! keys, and writes release provenance statements that tie PCRs to a source commit.
//!
//! Table of contents:
//! - [`verify`] ([`verifier`]): the verification procedure, checks in order; returns the proof
//!   type [`VerifiedAttestation`] ([`verified`]).
//! - [`AttestationDocument`] ([`document`]): the *unverified* parse of a document.
//! - [`Policy`] ([`policy`]): pinned root, expected PCRs, debug mode, nonce, age.
//! - [`RootFingerprint`] ([`certificate`]): the trust anchor; the chain checks and the
//!   algorithms accepted (ECDSA P-384 / SHA-384 only).
//! - [`cose`]: COSE_Sign1 with ES384.
//! - [`AttestationProvider`] ([`provider`]): `NsmProvider` (feature `nsm`) and the
//!   development-only `DevProvider` (feature `dev-provider`).
//! - [`binding_user_data`], [`verify_binding`] ([`binding`]): the document ↔ JWKS and audit
//!   key commitment.
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
pub mod certificate;
pub mod cose;
pub mod document;
pub mod error;
pub mod policy;
pub mod provenance;
pub mod provider;
pub mod verified;
pub mod verifier;

pub use binding::{binding_user_data, verify_binding};
pub use certificate::RootFingerprint;
pub use document::AttestationDocument;
pub use error::{AttestationError, ChainPosition, Result};
pub use policy::Policy;
pub use provenance::{ReleaseProvenance, release_statement};
pub use provider::AttestationProvider;
#[cfg(feature = "dev-provider")]
pub use provider::DevProvider;
#[cfg(feature = "nsm")]
pub use provider::NsmProvider;
pub use verified::VerifiedAttestation;
pub use verifier::verify;
