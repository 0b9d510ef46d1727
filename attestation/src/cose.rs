//! COSE_Sign1 (RFC 9052 §4.2) as AWS Nitro Enclaves uses it: ES384 only.
//!
//! The structure is a CBOR array `[protected: bstr, unprotected: map, payload: bstr,
//! signature: bstr]`, optionally wrapped in CBOR tag 18. Nitro documents are untagged.
//! The protected header must name ES384 (`{1: -35}`) and may not carry `crit` (label 2):
//! this verifier understands no header beyond `alg`, so a critical one is refused.

use ciborium::value::{Integer, Value};

use crate::error::{AttestationError, Result};

/// COSE algorithm identifier of ECDSA with SHA-384 on P-384 (RFC 9053 §2.1).
pub const ES384: i64 = -35;

/// CBOR tag of COSE_Sign1 (RFC 9052 §2).
const COSE_SIGN1_TAG: u64 = 18;

/// Upper bound on a document's size: real ones are about 4.5 KiB, the NSM response buffer is
/// 16 KiB. Bigger input is refused before it is parsed.
pub const MAX_DOCUMENT_LEN: usize = 16 * 1024;

/// Length of an ES384 signature: r || s, 48 bytes each.
pub const ES384_SIGNATURE_LEN: usize = 96;

/// A parsed, *unverified* COSE_Sign1 with an ES384 protected header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign1 {
    /// The serialized protected header, exactly as signed.
    pub protected: Vec<u8>,
    /// The payload, exactly as signed.
    pub payload: Vec<u8>,
    /// The 96-byte r || s signature.
    pub signature: Vec<u8>,
}

impl CoseSign1 {
    /// Parses a COSE_Sign1, tagged (18) or untagged, refusing anything but ES384.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(AttestationError::Malformed("document larger than 16 KiB"));
        }
        let value = decode_exact(bytes)?;
        let value = match value {
            Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
            Value::Tag(..) => return Err(AttestationError::Malformed("unexpected CBOR tag")),
            other => other,
        };
        let Value::Array(items) = value else {
            return Err(AttestationError::Malformed("COSE_Sign1 is not an array"));
        };
        let [protected, unprotected, payload, signature]: [Value; 4] = items
            .try_into()
            .map_err(|_| AttestationError::Malformed("COSE_Sign1 is not an array of 4"))?;
        let Value::Bytes(protected) = protected else {
            return Err(AttestationError::Malformed(
                "protected header is not a byte string",
            ));
        };
        if !matches!(unprotected, Value::Map(_)) {
            return Err(AttestationError::Malformed(
                "unprotected header is not a map",
            ));
        }
        let Value::Bytes(payload) = payload else {
            return Err(AttestationError::Malformed("payload is not a byte string"));
        };
        let Value::Bytes(signature) = signature else {
            return Err(AttestationError::Malformed(
                "signature is not a byte string",
            ));
        };
        check_protected_header(&protected)?;
        if signature.len() != ES384_SIGNATURE_LEN {
            return Err(AttestationError::Malformed(
                "ES384 signature is not 96 bytes",
            ));
        }
        Ok(Self {
            protected,
            payload,
            signature,
        })
    }

    /// The bytes the signature covers: the CBOR encoding of
    /// `["Signature1", protected, external_aad = h'', payload]` (RFC 9052 §4.4).
    pub fn to_be_signed(&self) -> Result<Vec<u8>> {
        sig_structure(&self.protected, &self.payload)
    }

    /// Serializes as an untagged COSE_Sign1 with an empty unprotected header, as the NSM does.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        encode(&Value::Array(vec![
            Value::Bytes(self.protected.clone()),
            Value::Map(Vec::new()),
            Value::Bytes(self.payload.clone()),
            Value::Bytes(self.signature.clone()),
        ]))
    }
}

/// The serialized protected header `{1: -35}` (alg: ES384).
pub fn es384_protected_header() -> Result<Vec<u8>> {
    encode(&Value::Map(vec![(
        Value::Integer(Integer::from(1)),
        Value::Integer(Integer::from(ES384)),
    )]))
}

/// Builds the COSE Sig_structure for a COSE_Sign1 with empty external AAD.
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    encode(&Value::Array(vec![
        Value::Text("Signature1".to_owned()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

/// Accepts a protected header that is a map with `alg` = ES384 and no `crit`.
fn check_protected_header(protected: &[u8]) -> Result<()> {
    let Value::Map(entries) = decode_exact(protected)? else {
        return Err(AttestationError::Malformed("protected header is not a map"));
    };
    let mut alg = None;
    for (key, value) in &entries {
        let Value::Integer(label) = key else {
            // Text labels are private-use; none is understood, none is critical (no `crit`).
            continue;
        };
        match i128::from(*label) {
            1 => {
                if alg.is_some() {
                    return Err(AttestationError::Malformed("duplicate alg header"));
                }
                alg = Some(value);
            }
            2 => {
                return Err(AttestationError::UnsupportedAlgorithm(
                    "critical COSE headers",
                ));
            }
            _ => {}
        }
    }
    match alg {
        Some(Value::Integer(id)) if i128::from(*id) == i128::from(ES384) => Ok(()),
        Some(_) => Err(AttestationError::UnsupportedAlgorithm(
            "COSE algorithm other than ES384",
        )),
        None => Err(AttestationError::Malformed(
            "protected header names no algorithm",
        )),
    }
}

/// Decodes exactly one CBOR item and refuses trailing bytes.
pub(crate) fn decode_exact(bytes: &[u8]) -> Result<Value> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader(&mut rest)
        .map_err(|_| AttestationError::Malformed("invalid CBOR"))?;
    if !rest.is_empty() {
        return Err(AttestationError::Malformed(
            "trailing bytes after CBOR item",
        ));
    }
    Ok(value)
}

/// Encodes one CBOR item.
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out)
        .map_err(|_| AttestationError::Malformed("CBOR encoding failed"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_header_is_the_nitro_one() {
        assert_eq!(es384_protected_header().unwrap(), [0xa1, 0x01, 0x38, 0x22]);
    }

    #[test]
    fn refuses_other_algorithms_and_crit() {
        // {1: -7} (ES256)
        assert_eq!(
            check_protected_header(&[0xa1, 0x01, 0x26]),
            Err(AttestationError::UnsupportedAlgorithm(
                "COSE algorithm other than ES384"
            ))
        );
        // {1: -35, 2: [1]}
        assert_eq!(
            check_protected_header(&[0xa2, 0x01, 0x38, 0x22, 0x02, 0x81, 0x01]),
            Err(AttestationError::UnsupportedAlgorithm(
                "critical COSE headers"
            ))
        );
        assert!(check_protected_header(&[0xa0]).is_err());
    }

    #[test]
    fn tagged_and_untagged_parse_alike() {
        let doc = CoseSign1 {
            protected: es384_protected_header().unwrap(),
            payload: vec![0xa0],
            signature: vec![7; 96],
        };
        let untagged = doc.to_vec().unwrap();
        let mut tagged = vec![0xd2];
        tagged.extend_from_slice(&untagged);
        assert_eq!(CoseSign1::parse(&untagged).unwrap(), doc);
        assert_eq!(CoseSign1::parse(&tagged).unwrap(), doc);
        let mut trailing = untagged.clone();
        trailing.push(0);
        assert!(CoseSign1::parse(&trailing).is_err());
    }
}
