//! Suite "STRONG", protocol version 1: RFC 9180 HPKE in base mode with
//! KEM 0x0010 DHKEM(P-256, HKDF-SHA256), KDF 0x0001 HKDF-SHA256 and AEAD 0x0002 AES-256-GCM.
//!
//! Sealing uses `info` only and an empty AAD, so one-shot APIs without AAD interoperate:
//!
//! ```text
//! info = "ok2cry/v1" || 0x00 || key_id || 0x00 || context
//! ```
//!
//! and the sealed bytes are `enc (65-byte uncompressed point) || ciphertext`.
//!
//! This module owns the protocol's use of HPKE: the `info` construction, the size limits and
//! the single-shot seal and open through a [`CryptoProvider`]. It sits above the crypto code
//! and imports from it (`provider`, and the private `params` whose identifiers and sizes it
//! re-exports); nothing in `params`, `provider` or `provider::rfc9180` imports it.

use crate::provider::CryptoProvider;
use crate::{Error, KeyId, PrivateKey, PublicKey};
use zeroize::Zeroizing;

pub use crate::params::{AEAD_ID, Aead, KDF_ID, KEM_ID, Kdf, Kem, MODE_BASE};
pub use crate::params::{ENC_LEN, MAX_CONTEXT_LEN, MAX_PLAINTEXT_LEN, MAX_SEALED_LEN, TAG_LEN};

/// The suite name carried in key tokens.
pub const SUITE_NAME: &str = "STRONG";
/// The protocol version.
pub const VERSION: u8 = 1;
/// The label at the start of `info`.
pub const INFO_LABEL: &[u8] = b"ok2cry/v1";

/// Checks a context's length.
pub fn check_context(context: &str) -> Result<(), Error> {
    if context.len() > MAX_CONTEXT_LEN {
        Err(Error::ContextTooLong)
    } else {
        Ok(())
    }
}

/// Builds `info = "ok2cry/v1" || 0x00 || key_id || 0x00 || context`.
pub fn info(key_id: &KeyId, context: &str) -> Vec<u8> {
    let mut info = Vec::with_capacity(INFO_LABEL.len() + 2 + key_id.as_str().len() + context.len());
    info.extend_from_slice(INFO_LABEL);
    info.push(0x00);
    info.extend_from_slice(key_id.as_str().as_bytes());
    info.push(0x00);
    info.extend_from_slice(context.as_bytes());
    info
}

/// HPKE base-mode single-shot seal with empty AAD; returns `enc || ciphertext`.
///
/// The ephemeral key comes from the operating system's random source.
pub(crate) fn seal_bytes(
    provider: &dyn CryptoProvider,
    recipient: &PublicKey,
    info: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::PlaintextSize);
    }
    provider
        .hpke_seal(recipient, info, b"", plaintext)
        .map_err(|_| Error::SealFailed)
}

/// HPKE base-mode single-shot open with empty AAD of `enc || ciphertext`.
///
/// Every failure is [`Error::OpenFailed`]: which part was wrong is not revealed.
pub(crate) fn open_bytes(
    provider: &dyn CryptoProvider,
    recipient: &PrivateKey,
    info: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    // 82 bytes at least, as in an envelope: the protocol has no empty plaintext, so the 81
    // bytes of a sealed empty plaintext do not open either (docs/PROTOCOL.md §10.3).
    if sealed.len() < ENC_LEN + TAG_LEN + 1 || sealed.len() > MAX_SEALED_LEN {
        return Err(Error::OpenFailed);
    }
    provider
        .hpke_open(recipient, info, b"", sealed)
        .map_err(|_| Error::OpenFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_built_byte_by_byte() {
        let id = KeyId::new("n1_abc").unwrap();
        assert_eq!(info(&id, ""), b"ok2cry/v1\0n1_abc\0".to_vec());
        assert_eq!(info(&id, "card:42"), b"ok2cry/v1\0n1_abc\0card:42".to_vec());
    }

    #[test]
    fn context_is_bounded() {
        assert!(check_context(&"x".repeat(MAX_CONTEXT_LEN)).is_ok());
        assert_eq!(
            check_context(&"x".repeat(MAX_CONTEXT_LEN + 1)),
            Err(Error::ContextTooLong)
        );
    }
}
