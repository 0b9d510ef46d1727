//! Unpadded base64url, the only binary-to-text encoding of the protocol.
//!
//! `base64ct` is constant-time with respect to the data, which matters for private key bytes
//! and is harmless elsewhere. Decoding is strict: padding, whitespace and non-canonical
//! trailing bits are refused.

use base64ct::{Base64UrlUnpadded, Encoding};

pub(crate) fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}
