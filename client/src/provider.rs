//! The crypto provider: the narrow interface through which every cryptographic operation of
//! protocol v1 is done, and the two implementations of it.
//!
//! The interface is what the STRONG suite and the key tokens need, nothing more:
//!
//! - P-256: generate a key pair, ECDH with an (uncompressed, validated) peer point;
//! - ES256: a signing key, and signature verification (IEEE P1363 `r || s`);
//! - HKDF-SHA256 extract and expand, AES-256-GCM seal and open (the parts of RFC 9180);
//! - HPKE single-shot seal and open (base mode, the STRONG suite). They default to
//!   [`rfc9180`], the RFC 9180 text written over the primitives above; a provider may bring its
//!   own HPKE instead.
//!
//! Providers:
//!
//! - [`RustCrypto`] (`p256`, `ecdsa`, `hkdf`, `aes-gcm`, and the `hpke` crate for HPKE): pure
//!   Rust, always built, the portable reference and the default of this crate
//!   ([`default_provider`]);
//! - `AwsLc` (feature `aws-lc`): AWS-LC through `aws-lc-rs` for ECDH, ECDSA, HKDF and
//!   AES-GCM, with HPKE from [`rfc9180`] (aws-lc-rs has no HPKE). The service uses it by
//!   default.
//!
//! Both are checked against the same RFC 9180 and Wycheproof vectors and against each other
//! (`client/tests/providers.rs`).
//!
//! Secrets cross this interface only as [`PrivateKey`] (zeroizing) and [`Zeroizing`] buffers.
//!
//! Layering: this module and its children (the two providers and [`rfc9180`]) import from the
//! crate only the private `params` module (identifiers and sizes, re-exported here where they
//! are part of the interface) and the key and error types. They never import `suite`, which is
//! built on them. `rfc9180` is a child rather than a sibling because the trait's default
//! `hpke_seal` and `hpke_open` call it while it is written over the trait.

use crate::{Error, PrivateKey, PublicKey};
use zeroize::Zeroizing;

#[cfg(feature = "aws-lc")]
mod aws_lc;
pub mod rfc9180;
mod rustcrypto;

#[cfg(feature = "aws-lc")]
pub use aws_lc::AwsLc;
pub use rustcrypto::RustCrypto;

pub use crate::params::{NONCE_LEN, Point, SECRET_LEN, SIGNATURE_LEN, Secret32};

/// An ES256 signing key held by a provider. A secret type: implementations derive nothing and
/// zeroize (or have their library free and cleanse) the key on drop.
pub trait Es256Signer: Send + Sync {
    /// Signs `message` (SHA-256, then ECDSA), returning `r || s`.
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], Error>;
    /// The public key.
    fn public_key(&self) -> &PublicKey;
}

/// The operations of protocol v1, implemented by a cryptographic library.
pub trait CryptoProvider: std::fmt::Debug + Send + Sync + 'static {
    /// A short name: "rustcrypto" or "aws-lc".
    fn name(&self) -> &'static str;

    /// A fresh P-256 key pair from the operating system's random source.
    fn generate_p256(&self) -> Result<(PrivateKey, PublicKey), Error>;

    /// P-256 ECDH of `secret` with `peer`, a 65-byte uncompressed SEC1 point. Off-curve points,
    /// the identity and any other encoding are refused with [`Error::InvalidPublicKey`].
    /// Returns the shared x-coordinate and the public key of `secret`, uncompressed (DHKEM
    /// needs both; the point comes from the library, so it is not parsed again).
    fn ecdh_p256(&self, secret: &PrivateKey, peer: &[u8]) -> Result<(Secret32, Point), Error>;

    /// P-256 ECDH with a fresh ephemeral key (the first half of DHKEM `Encap`): returns the
    /// shared x-coordinate and the ephemeral public key. The ephemeral private key never
    /// leaves the provider. The default makes a key pair and calls [`Self::ecdh_p256`].
    fn ecdh_p256_ephemeral(&self, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        let (ephemeral, _) = self.generate_p256()?;
        self.ecdh_p256(&ephemeral, peer)
    }

    /// An ES256 signing key from a private key.
    fn es256_signer(&self, secret: &PrivateKey) -> Result<Box<dyn Es256Signer>, Error>;

    /// Verifies an ES256 signature (`r || s`, 64 bytes) of `message` by `public`.
    fn es256_verify(
        &self,
        public: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error>;

    /// HKDF-SHA256 Extract with the input keying material given in parts (concatenated).
    fn hkdf_extract(&self, salt: &[u8], ikm: &[&[u8]]) -> Secret32;

    /// HKDF-SHA256 Expand of `prk` with the info given in parts, filling `out`
    /// (at most 255 × 32 bytes).
    fn hkdf_expand(
        &self,
        prk: &[u8; SECRET_LEN],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), Error>;

    /// AES-256-GCM encryption; returns `ciphertext || tag`.
    fn aes256gcm_seal(
        &self,
        key: &[u8; SECRET_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error>;

    /// AES-256-GCM decryption of `ciphertext || tag`. Every failure is [`Error::OpenFailed`].
    fn aes256gcm_open(
        &self,
        key: &[u8; SECRET_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error>;

    /// HPKE base-mode single-shot seal (STRONG suite) to `recipient`; returns
    /// `enc || ciphertext`. The ephemeral key comes from the operating system.
    fn hpke_seal(
        &self,
        recipient: &PublicKey,
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        rfc9180::seal(self, recipient, info, aad, plaintext)
    }

    /// HPKE base-mode single-shot open (STRONG suite) of `enc || ciphertext`. Every failure
    /// is [`Error::OpenFailed`].
    fn hpke_open(
        &self,
        recipient: &PrivateKey,
        info: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        rfc9180::open(self, recipient, info, aad, sealed)
    }
}

/// The RustCrypto provider.
pub static RUST_CRYPTO: RustCrypto = RustCrypto;

/// The AWS-LC provider.
#[cfg(feature = "aws-lc")]
pub static AWS_LC: AwsLc = AwsLc;

/// The provider this crate's provider-less functions use: [`RustCrypto`], so that the crate
/// builds and behaves the same everywhere Rust does. Callers that want another pass it to the
/// `*_with` functions.
pub fn default_provider() -> &'static dyn CryptoProvider {
    &RUST_CRYPTO
}

/// The provider named `name` ("rustcrypto" or "aws-lc"), if it is built in.
pub fn by_name(name: &str) -> Option<&'static dyn CryptoProvider> {
    match name {
        "rustcrypto" => Some(&RUST_CRYPTO),
        #[cfg(feature = "aws-lc")]
        "aws-lc" => Some(&AWS_LC),
        _ => None,
    }
}

/// Every provider built in, the reference first.
pub fn all() -> Vec<&'static dyn CryptoProvider> {
    vec![
        &RUST_CRYPTO,
        #[cfg(feature = "aws-lc")]
        &AWS_LC,
    ]
}
