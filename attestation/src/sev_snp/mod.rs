//! AMD SEV-SNP attestation: the reports of confidential VMs on AMD EPYC (Azure, Google Cloud).
//!
//! A report is 1184 bytes made and signed by the chip's secure processor with its VCEK (a
//! P-384 key derived from the chip's secret and the TCB it reports); AMD's key distribution
//! service certifies each VCEK under the ASK, which its ARK certifies. The ARK is one per
//! product line (Milan, Genoa, Turin) and pinned here by fingerprint.
//!
//! Table of contents:
//! - [`verify_sev_snp`] ([`verifier`]): the verification procedure, checks in order; returns the
//!   proof type [`VerifiedSevSnp`] ([`verified`]).
//! - [`SevSnpEvidence`] ([`evidence`]): what is verified: the report with its VCEK, ASK and ARK
//!   (ok2cry's CBOR bundle, or the parts separately).
//! - [`AttestationReport`] ([`report`]): the *unverified* parse of a report, all structure
//!   versions in use (2, 3, 4, 5).
//! - [`Product`], [`Tcb`] ([`product`]): AMD's product lines, their pinned ARKs and TCB layouts.
//! - [`vcek`]: what a VCEK certificate's AMD extensions say (chip id, TCB, product).
//! - [`SevSnpPolicy`] ([`policy`]): pinned ARKs, debug, minimum TCB, measurements, report data,
//!   VMPL.

pub mod evidence;
pub mod policy;
pub mod product;
pub mod report;
pub mod vcek;
pub mod verified;
pub mod verifier;

pub use evidence::SevSnpEvidence;
pub use policy::{SevSnpPolicy, TcbMinimum};
pub use product::{Product, Tcb};
pub use report::{AttestationReport, GuestPolicy, PlatformInfo};
pub use verified::VerifiedSevSnp;
pub use verifier::verify_sev_snp;
