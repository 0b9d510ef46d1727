//! SEV-SNP evidence: a report and the certificates that verify it, in one document.
//!
//! A report alone cannot be verified: its VCEK (and AMD's ASK and ARK above it) come from
//! elsewhere (the host's extended report, AMD's key distribution service, or the cloud's
//! metadata service). ok2cry carries all four together in a CBOR map, the SEV-SNP counterpart
//! of a Nitro COSE_Sign1:
//!
//! ```text
//! {
//!   "format": "ok2cry-sev-snp-v1",
//!   "report": bstr .size 1184,      ; the attestation report, as the firmware wrote it
//!   "vcek":   bstr,                 ; DER, 1 to 4096 bytes each
//!   "ask":    bstr,
//!   "ark":    bstr,
//! }
//! ```
//!
//! Exactly these five text keys, each once, in any order; definite lengths; no trailing bytes;
//! the whole at most 16 KiB ([`crate::evidence::MAX_EVIDENCE_LEN`]). Nothing in it is trusted
//! before [`SevSnpEvidence::verify`].
//!
//! Owns: the bundle's structure and limits, *before* any verification. It must not import the
//! `verifier`, `policy` or `verified` modules of `sev_snp`: the verification procedure depends
//! on the parse, not the other way round, so `SevSnpEvidence::verify` is defined with the
//! procedure, in [`crate::sev_snp::verifier`].

use std::collections::BTreeMap;

use ciborium::value::Value;

use crate::cose::{decode_exact, encode};
use crate::error::{AttestationError, Result};
use crate::evidence::MAX_EVIDENCE_LEN;
use crate::sev_snp::report::AttestationReport;

/// The `format` member of version 1.
pub const FORMAT_V1: &str = "ok2cry-sev-snp-v1";
/// The largest certificate accepted in evidence (AMD's are under 2 KiB).
pub const MAX_CERTIFICATE_LEN: usize = 4096;

/// A report and its VCEK, ASK and ARK (DER). **Unverified**: do not act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SevSnpEvidence {
    pub(crate) report: AttestationReport,
    pub(crate) vcek: Vec<u8>,
    pub(crate) ask: Vec<u8>,
    pub(crate) ark: Vec<u8>,
}

impl SevSnpEvidence {
    /// Evidence from its parts: the report's 1184 bytes and three DER certificates.
    pub fn from_parts(report: &[u8], vcek: &[u8], ask: &[u8], ark: &[u8]) -> Result<Self> {
        Ok(Self {
            report: AttestationReport::parse(report)?,
            vcek: certificate(vcek.to_vec(), "vcek")?,
            ask: certificate(ask.to_vec(), "ask")?,
            ark: certificate(ark.to_vec(), "ark")?,
        })
    }

    /// Evidence from the files AMD's tools produce: the report (1184 bytes, or their hex), the
    /// VCEK (DER or PEM) and the `cert_chain` PEM holding the ASK and the ARK (in any order: the
    /// ARK is the self-issued one).
    pub fn from_files(report: &[u8], vcek: &[u8], cert_chain_pem: &[u8]) -> Result<Self> {
        let report = report_bytes(report)?;
        let vcek = if vcek.starts_with(b"-----BEGIN") {
            pem_certificates(vcek)?
                .into_iter()
                .next()
                .ok_or(AttestationError::Malformed(
                    "no certificate in the VCEK PEM",
                ))?
        } else {
            vcek.to_vec()
        };
        let chain = pem_certificates(cert_chain_pem)?;
        let [first, second]: [Vec<u8>; 2] = chain.try_into().map_err(|_| {
            AttestationError::Malformed("the certificate chain PEM must hold the ASK and the ARK")
        })?;
        let (ask, ark) = if is_self_issued(&second) {
            (first, second)
        } else {
            (second, first)
        };
        Self::from_parts(&report, &vcek, &ask, &ark)
    }

    /// Parses the CBOR bundle (see the module docs). Checks structure and limits only.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_EVIDENCE_LEN {
            return Err(AttestationError::Malformed("evidence larger than 16 KiB"));
        }
        let Value::Map(entries) = decode_exact(bytes)? else {
            return Err(AttestationError::Malformed(
                "SEV-SNP evidence is not a CBOR map",
            ));
        };
        let mut fields: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in entries {
            let Value::Text(key) = key else {
                return Err(AttestationError::Malformed(
                    "SEV-SNP evidence key is not a text string",
                ));
            };
            if !["format", "report", "vcek", "ask", "ark"].contains(&key.as_str()) {
                return Err(AttestationError::Malformed(
                    "unknown SEV-SNP evidence member",
                ));
            }
            if fields.insert(key, value).is_some() {
                return Err(AttestationError::Malformed(
                    "duplicate SEV-SNP evidence member",
                ));
            }
        }
        match fields.remove("format") {
            Some(Value::Text(format)) if format == FORMAT_V1 => {}
            Some(Value::Text(_)) => {
                return Err(AttestationError::Malformed(
                    "unknown SEV-SNP evidence format",
                ));
            }
            _ => {
                return Err(AttestationError::Malformed(
                    "SEV-SNP evidence format missing",
                ));
            }
        }
        let mut bytes_of = |name: &'static str| match fields.remove(name) {
            Some(Value::Bytes(bytes)) => Ok(bytes),
            _ => Err(AttestationError::Malformed(name)),
        };
        let report = bytes_of("report")?;
        let vcek = bytes_of("vcek")?;
        let ask = bytes_of("ask")?;
        let ark = bytes_of("ark")?;
        Self::from_parts(&report, &vcek, &ask, &ark)
    }

    /// Serializes as the CBOR bundle.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let text = |s: &str| Value::Text(s.to_owned());
        encode(&Value::Map(vec![
            (text("format"), text(FORMAT_V1)),
            (
                text("report"),
                Value::Bytes(self.report.as_bytes().to_vec()),
            ),
            (text("vcek"), Value::Bytes(self.vcek.clone())),
            (text("ask"), Value::Bytes(self.ask.clone())),
            (text("ark"), Value::Bytes(self.ark.clone())),
        ]))
    }

    /// The report (unverified).
    pub fn report(&self) -> &AttestationReport {
        &self.report
    }

    /// The VCEK certificate, DER (unverified).
    pub fn vcek(&self) -> &[u8] {
        &self.vcek
    }

    /// The ASK certificate, DER (unverified).
    pub fn ask(&self) -> &[u8] {
        &self.ask
    }

    /// The ARK certificate, DER (unverified).
    pub fn ark(&self) -> &[u8] {
        &self.ark
    }
}

fn certificate(der: Vec<u8>, name: &'static str) -> Result<Vec<u8>> {
    if der.is_empty() || der.len() > MAX_CERTIFICATE_LEN {
        return Err(AttestationError::Malformed(name));
    }
    Ok(der)
}

/// A report file's bytes: the 1184 bytes themselves, or their hex (whitespace allowed), as
/// AMD's and virtee's tools write them.
pub fn report_bytes(file: &[u8]) -> Result<Vec<u8>> {
    if file.len() == crate::sev_snp::report::REPORT_LEN {
        return Ok(file.to_vec());
    }
    let digits: Vec<u8> = file
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    hex::decode(digits).map_err(|_| {
        AttestationError::Malformed("an SEV-SNP report file holds 1184 bytes or their hex")
    })
}

/// The DER certificates of a PEM file, in order.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let find = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    };
    let mut rest = pem;
    let mut out = Vec::new();
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        let end = find(block, END)
            .ok_or(AttestationError::Malformed("unterminated PEM certificate"))?
            + END.len();
        let (label, der) = x509_cert::der::pem::decode_vec(&block[..end])
            .map_err(|_| AttestationError::Malformed("invalid PEM certificate"))?;
        if label != "CERTIFICATE" {
            return Err(AttestationError::Malformed("invalid PEM certificate"));
        }
        out.push(der);
        rest = &block[end..];
    }
    Ok(out)
}

/// Whether a DER certificate's issuer is its subject (unverified; only to tell ARK from ASK).
fn is_self_issued(der: &[u8]) -> bool {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(der)
        .is_ok_and(|cert| cert.tbs_certificate().issuer() == cert.tbs_certificate().subject())
}
