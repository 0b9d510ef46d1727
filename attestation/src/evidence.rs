//! Evidence: the bytes a platform produced, before anything is known about them.
//!
//! Two kinds are understood, told apart by their first byte:
//! - [`Platform::Nitro`]: an AWS Nitro Enclaves attestation document, a COSE_Sign1 (a CBOR
//!   array of four, `0x84`, or the same behind CBOR tag 18, `0xD2`);
//! - [`Platform::SevSnp`]: ok2cry's SEV-SNP evidence bundle, a CBOR map (`0xA0`–`0xBB`)
//!   holding the report and its certificates ([`crate::sev_snp::evidence`]).
//!
//! Every reader of evidence reads at most [`MAX_EVIDENCE_LEN`] bytes (plus one, to tell a
//! file that is exactly at the limit from one that is over it): [`read_at_most`] never
//! buffers more, whatever the source (a pipe, `/dev/zero`, a slow network body).

use std::io::Read;

use crate::error::{AttestationError, Result};

/// The largest evidence accepted, of either kind: real Nitro documents are about 4.5 KiB (the
/// NSM's response buffer is 16 KiB), SEV-SNP bundles about 6 KiB.
pub const MAX_EVIDENCE_LEN: usize = 16 * 1024;

/// A kind of attestation evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// AWS Nitro Enclaves.
    Nitro,
    /// AMD SEV-SNP (Azure and Google Cloud confidential VMs on AMD EPYC).
    SevSnp,
}

impl Platform {
    /// The short identifier used in JSON and on the command line: `nitro`, `sev-snp`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Nitro => "nitro",
            Self::SevSnp => "sev-snp",
        }
    }

    /// The platform's name for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nitro => "AWS Nitro Enclaves",
            Self::SevSnp => "AMD SEV-SNP",
        }
    }

    /// Which kind `evidence` claims to be (by its first byte; nothing is verified). A bare
    /// 1184-byte SEV-SNP report is refused with a message saying what it lacks.
    pub fn detect(evidence: &[u8]) -> Result<Self> {
        match evidence.first() {
            None => Err(AttestationError::Malformed("empty evidence")),
            Some(0x84 | 0xD2) => Ok(Self::Nitro),
            Some(0xA0..=0xBB) => Ok(Self::SevSnp),
            Some(2..=5) if evidence.len() == crate::sev_snp::report::REPORT_LEN => {
                Err(AttestationError::Malformed(
                    "a bare SEV-SNP report: its VCEK and AMD's certificate chain are needed too",
                ))
            }
            Some(_) => Err(AttestationError::Malformed(
                "neither a Nitro attestation document nor SEV-SNP evidence",
            )),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads at most `limit` bytes from `reader`; more is [`AttestationError::TooLarge`] after
/// reading `limit + 1` bytes, never more.
pub fn read_at_most(reader: impl Read, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit)
        .map_err(|_| AttestationError::InvalidInput("limit out of range"))?
        .saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| AttestationError::Io(e.kind().to_string()))?;
    if out.len() > limit {
        return Err(AttestationError::TooLarge { limit });
    }
    Ok(out)
}

/// Reads evidence of either kind: at most [`MAX_EVIDENCE_LEN`] bytes.
pub fn read_evidence(reader: impl Read) -> Result<Vec<u8>> {
    read_at_most(reader, MAX_EVIDENCE_LEN)
}
