//! The attestation document as parsed, *before* any verification.
//!
//! [`AttestationDocument`] is what the bytes say; nothing in it is trusted. The only way to a
//! trusted view is [`AttestationDocument::verify`], which returns a
//! [`VerifiedAttestation`](crate::VerifiedAttestation).
//!
//! This module owns the parse only: the COSE_Sign1 envelope, the payload's fields and their
//! limits. It must not import the `verifier`, `policy` or `verified` modules: the verification
//! procedure depends on the parse, not the other way round, so `AttestationDocument::verify` is
//! defined with the procedure, in the `verifier` module.
//!
//! Field limits follow the Nitro Secure Module's documentation ("Verifying the root of trust",
//! AWS Nitro Enclaves user guide): `module_id` non-empty, `digest` one of the SHA-2 names (only
//! SHA384 is accepted here), 1..=32 PCRs with indexes below 32 and lengths 32, 48 or 64,
//! `certificate` and each `cabundle` entry 1..=1024 bytes, `cabundle` non-empty,
//! `public_key` 1..=1024 bytes, `user_data` and `nonce` at most 512 bytes.

use std::collections::BTreeMap;

use ciborium::value::Value;

use crate::cose::{CoseSign1, decode_exact};
use crate::error::{AttestationError, Result};

/// Largest PCR index the NSM has (it has 32 PCRs).
pub const MAX_PCR_INDEX: u8 = 31;
/// Largest `user_data` the NSM accepts.
pub const MAX_USER_DATA_LEN: usize = 512;
/// Largest `nonce` the NSM accepts.
pub const MAX_NONCE_LEN: usize = 512;
/// Largest `public_key` the NSM accepts.
pub const MAX_PUBLIC_KEY_LEN: usize = 1024;
/// Largest certificate in a document.
pub const MAX_CERTIFICATE_LEN: usize = 1024;

/// The only PCR digest accepted.
pub const DIGEST_SHA384: &str = "SHA384";

/// An attestation document parsed from COSE_Sign1 bytes. **Unverified**: do not act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationDocument {
    pub(crate) cose: CoseSign1,
    pub(crate) payload: Payload,
}

/// The attestation payload's fields (see the module docs for their limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub module_id: String,
    pub timestamp_ms: u64,
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    pub certificate: Vec<u8>,
    pub cabundle: Vec<Vec<u8>>,
    pub public_key: Option<Vec<u8>>,
    pub user_data: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
}

impl AttestationDocument {
    /// Parses COSE_Sign1 bytes (tagged or untagged) and the payload inside; checks structure and
    /// limits only, no signature and no certificate.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let cose = CoseSign1::parse(bytes)?;
        let payload = Payload::parse(&cose.payload)?;
        Ok(Self { cose, payload })
    }

    /// The claimed module id (unverified).
    pub fn module_id(&self) -> &str {
        &self.payload.module_id
    }

    /// The claimed timestamp, milliseconds since the Unix epoch (unverified).
    pub fn timestamp_ms(&self) -> u64 {
        self.payload.timestamp_ms
    }

    /// The claimed PCRs (unverified).
    pub fn pcrs(&self) -> &BTreeMap<u8, Vec<u8>> {
        &self.payload.pcrs
    }

    /// The DER leaf certificate (unverified).
    pub fn certificate(&self) -> &[u8] {
        &self.payload.certificate
    }

    /// The DER CA bundle, root first (unverified).
    pub fn cabundle(&self) -> &[Vec<u8>] {
        &self.payload.cabundle
    }
}

impl Payload {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let Value::Map(entries) = decode_exact(bytes)? else {
            return Err(AttestationError::Malformed("payload is not a map"));
        };
        let mut fields: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in entries {
            let Value::Text(key) = key else {
                return Err(AttestationError::Malformed(
                    "payload key is not a text string",
                ));
            };
            if fields.insert(key, value).is_some() {
                return Err(AttestationError::Malformed("duplicate payload key"));
            }
        }
        let mut take = |name: &str| fields.remove(name).filter(|value| !value.is_null());

        let module_id = match take("module_id") {
            Some(Value::Text(id)) if !id.is_empty() => id,
            _ => return Err(AttestationError::Malformed("module_id missing or empty")),
        };
        match take("digest") {
            Some(Value::Text(digest)) if digest == DIGEST_SHA384 => {}
            Some(Value::Text(_)) => {
                return Err(AttestationError::UnsupportedAlgorithm(
                    "PCR digest other than SHA384",
                ));
            }
            _ => return Err(AttestationError::Malformed("digest missing")),
        }
        let timestamp_ms = match take("timestamp") {
            Some(Value::Integer(ts)) => u64::try_from(ts)
                .ok()
                .filter(|ts| *ts > 0)
                .ok_or(AttestationError::Malformed("timestamp out of range"))?,
            _ => return Err(AttestationError::Malformed("timestamp missing")),
        };
        let pcrs = match take("pcrs") {
            Some(Value::Map(pcrs)) => parse_pcrs(pcrs)?,
            _ => return Err(AttestationError::Malformed("pcrs missing")),
        };
        let certificate = match take("certificate") {
            Some(Value::Bytes(der)) => bounded(der, 1, MAX_CERTIFICATE_LEN, "certificate size")?,
            _ => return Err(AttestationError::Malformed("certificate missing")),
        };
        let cabundle = match take("cabundle") {
            Some(Value::Array(certs)) if !certs.is_empty() => certs
                .into_iter()
                .map(|cert| match cert {
                    Value::Bytes(der) => {
                        bounded(der, 1, MAX_CERTIFICATE_LEN, "cabundle entry size")
                    }
                    _ => Err(AttestationError::Malformed("cabundle entry is not bytes")),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(AttestationError::Malformed("cabundle missing or empty")),
        };
        let public_key = optional_bytes(take("public_key"), 1, MAX_PUBLIC_KEY_LEN, "public_key")?;
        let user_data = optional_bytes(take("user_data"), 0, MAX_USER_DATA_LEN, "user_data")?;
        let nonce = optional_bytes(take("nonce"), 0, MAX_NONCE_LEN, "nonce")?;

        Ok(Self {
            module_id,
            timestamp_ms,
            pcrs,
            certificate,
            cabundle,
            public_key,
            user_data,
            nonce,
        })
    }
}

fn parse_pcrs(entries: Vec<(Value, Value)>) -> Result<BTreeMap<u8, Vec<u8>>> {
    if entries.is_empty() || entries.len() > usize::from(MAX_PCR_INDEX) + 1 {
        return Err(AttestationError::Malformed("PCR count out of range"));
    }
    let mut pcrs = BTreeMap::new();
    for (index, value) in entries {
        let index = match index {
            Value::Integer(index) => u8::try_from(index)
                .ok()
                .filter(|index| *index <= MAX_PCR_INDEX)
                .ok_or(AttestationError::Malformed("PCR index out of range"))?,
            _ => return Err(AttestationError::Malformed("PCR index is not an integer")),
        };
        let Value::Bytes(value) = value else {
            return Err(AttestationError::Malformed("PCR value is not bytes"));
        };
        if ![32, 48, 64].contains(&value.len()) {
            return Err(AttestationError::Malformed(
                "PCR length is not 32, 48 or 64",
            ));
        }
        if pcrs.insert(index, value).is_some() {
            return Err(AttestationError::Malformed("duplicate PCR index"));
        }
    }
    Ok(pcrs)
}

fn optional_bytes(
    value: Option<Value>,
    min: usize,
    max: usize,
    what: &'static str,
) -> Result<Option<Vec<u8>>> {
    match value {
        None => Ok(None),
        Some(Value::Bytes(bytes)) => bounded(bytes, min, max, what).map(Some),
        Some(_) => Err(AttestationError::Malformed(what)),
    }
}

fn bounded(bytes: Vec<u8>, min: usize, max: usize, what: &'static str) -> Result<Vec<u8>> {
    if (min..=max).contains(&bytes.len()) {
        Ok(bytes)
    } else {
        Err(AttestationError::Malformed(what))
    }
}
