//! The fixed numbers of suite "STRONG", protocol version 1: the RFC 9180 identifiers, the sizes
//! of secrets, nonces, tags, points and signatures, the size limits of the protocol, and the
//! types of those sizes.
//!
//! The lowest module of the crypto code, so that the crypto modules depend on each other one
//! way only:
//!
//! ```text
//! params  ←  provider (the primitives; its child provider::rfc9180 is HPKE over them)  ←  suite
//! ```
//!
//! This module owns names and numbers only and imports nothing from this crate. It is private:
//! each item is public through the module it belongs to (`provider::SECRET_LEN`,
//! `suite::ENC_LEN`, `suite::MAX_PLAINTEXT_LEN`, ...), which re-exports it.

use zeroize::Zeroizing;

/// RFC 9180 KEM identifier: DHKEM(P-256, HKDF-SHA256).
pub const KEM_ID: u16 = 0x0010;
/// RFC 9180 KDF identifier: HKDF-SHA256.
pub const KDF_ID: u16 = 0x0001;
/// RFC 9180 AEAD identifier: AES-256-GCM.
pub const AEAD_ID: u16 = 0x0002;
/// RFC 9180 mode: base.
pub const MODE_BASE: u8 = 0x00;

/// The HPKE KEM: DHKEM(P-256, HKDF-SHA256).
pub type Kem = hpke::kem::DhP256HkdfSha256;
/// The HPKE KDF: HKDF-SHA256.
pub type Kdf = hpke::kdf::HkdfSha256;
/// The HPKE AEAD: AES-256-GCM.
pub type Aead = hpke::aead::AesGcm256;

/// Length of a P-256 ECDH shared secret (the x-coordinate), of an HKDF-SHA256 PRK and of an
/// AES-256 key.
pub const SECRET_LEN: usize = 32;
/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of an ES256 signature (`r || s`).
pub const SIGNATURE_LEN: usize = 64;
/// Length of the encapsulated key `enc` (an uncompressed SEC1 P-256 point).
pub const ENC_LEN: usize = 65;
/// Length of the AES-256-GCM tag.
pub const TAG_LEN: usize = 16;

/// An uncompressed SEC1 P-256 point (`0x04 || x || y`), as a provider computed it.
pub type Point = [u8; 65];

/// A 32-byte secret (ECDH output, PRK, shared secret, AEAD key): zeroized on drop.
pub type Secret32 = Zeroizing<[u8; SECRET_LEN]>;

/// Longest context, in bytes.
pub const MAX_CONTEXT_LEN: usize = 256;
/// Longest plaintext, in bytes.
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024;
/// Longest sealed byte string.
pub const MAX_SEALED_LEN: usize = ENC_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;
