//! DER and PEM wrapping for the targets that sign the fuzzer's bytes: a `to-be-signed`
//! structure from the fuzzer becomes a signed certificate request or CRL.

use base64ct::{Base64, Encoding};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};

/// DER `AlgorithmIdentifier` of ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters.
const ECDSA_WITH_SHA256: [u8; 12] = [
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];

/// A DER TLV with definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// `SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING signature }`: the shape of a certificate,
/// a CSR and a CRL, with `tbs` signed by `key`.
pub fn signed_ecdsa(tbs: &[u8], key: &SigningKey) -> Vec<u8> {
    let signature: DerSignature = key.sign(tbs);
    let mut bits = vec![0u8];
    bits.extend_from_slice(signature.as_bytes());
    let mut content = tbs.to_vec();
    content.extend_from_slice(&ECDSA_WITH_SHA256);
    content.extend_from_slice(&tlv(0x03, &bits));
    tlv(0x30, &content)
}

/// PEM with `label`, 64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside a PEM text (the base64 between the armour lines); `None` when it is not
/// base64.
pub fn unpem(text: &str) -> Option<Vec<u8>> {
    let b64: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    Base64::decode_vec(&b64).ok()
}

/// The first element (the whole TLV) inside the outermost DER SEQUENCE, i.e. the
/// to-be-signed part of a signed structure (for making seeds); `None` when `der` is not shaped
/// so.
pub fn first_element(der: &[u8]) -> Option<&[u8]> {
    let (_, outer) = read_tlv(der)?;
    let (len, _) = read_tlv(outer)?;
    outer.get(..len)
}

/// Reads one TLV: (its total length, its content).
fn read_tlv(der: &[u8]) -> Option<(usize, &[u8])> {
    let first = *der.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = der.get(2..2 + n)?;
        if n == 0 || n > 4 {
            return None;
        }
        (
            2 + n,
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
        )
    };
    let content = der.get(header..header.checked_add(len)?)?;
    Some((header + len, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_lengths_short_and_long() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let seq = tlv(0x30, &[tlv(0x02, &[5]), tlv(0x05, &[])].concat());
        assert_eq!(first_element(&seq), Some(&[0x02, 0x01, 0x05][..]));
    }
}
