//! The proof type: an attestation document that passed every check.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// An attestation document whose signature, certificate chain and policy checks all passed.
///
/// It can only be obtained from [`crate::verify`] / [`crate::AttestationDocument::verify`], so
/// holding one is proof that the checks ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAttestation {
    pub(crate) module_id: String,
    pub(crate) timestamp_ms: u64,
    pub(crate) pcrs: BTreeMap<u8, Vec<u8>>,
    pub(crate) public_key: Option<Vec<u8>>,
    pub(crate) user_data: Option<Vec<u8>>,
    pub(crate) nonce: Option<Vec<u8>>,
    pub(crate) debug: bool,
}

impl VerifiedAttestation {
    /// The enclave's module id (instance id and enclave id).
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// When the document was made, milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// When the document was made.
    pub fn timestamp(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.timestamp_ms)
    }

    /// All PCRs, by index (SHA-384 values, 48 bytes).
    pub fn pcrs(&self) -> &BTreeMap<u8, Vec<u8>> {
        &self.pcrs
    }

    /// One PCR.
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.pcrs.get(&index).map(Vec::as_slice)
    }

    /// The public key the enclave put in the document, if any.
    pub fn public_key(&self) -> Option<&[u8]> {
        self.public_key.as_deref()
    }

    /// The user data the enclave put in the document, if any.
    pub fn user_data(&self) -> Option<&[u8]> {
        self.user_data.as_deref()
    }

    /// The nonce the enclave put in the document, if any.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// Whether the enclave runs in debug mode (PCR0 all zeros); only possible when the policy
    /// allowed it.
    pub fn is_debug(&self) -> bool {
        self.debug
    }
}

/// Evidence of either kind that passed every check: what [`crate::Verifier::verify`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verified {
    /// An AWS Nitro Enclaves attestation document.
    Nitro(VerifiedAttestation),
    /// An AMD SEV-SNP report.
    SevSnp(crate::sev_snp::VerifiedSevSnp),
}

impl Verified {
    /// Which platform attested.
    pub fn platform(&self) -> crate::Platform {
        match self {
            Self::Nitro(_) => crate::Platform::Nitro,
            Self::SevSnp(_) => crate::Platform::SevSnp,
        }
    }

    /// Whether the attested environment is debuggable (Nitro debug mode, or an SEV-SNP guest
    /// policy that allows debugging); only possible when the policy allowed it.
    pub fn is_debug(&self) -> bool {
        match self {
            Self::Nitro(nitro) => nitro.is_debug(),
            Self::SevSnp(sev) => sev.is_debug(),
        }
    }

    /// The Nitro document, if that is what was verified.
    pub fn as_nitro(&self) -> Option<&VerifiedAttestation> {
        match self {
            Self::Nitro(nitro) => Some(nitro),
            Self::SevSnp(_) => None,
        }
    }

    /// The SEV-SNP report, if that is what was verified.
    pub fn as_sev_snp(&self) -> Option<&crate::sev_snp::VerifiedSevSnp> {
        match self {
            Self::Nitro(_) => None,
            Self::SevSnp(sev) => Some(sev),
        }
    }
}
