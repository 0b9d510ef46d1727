//! A recipient public key: a P-256 point, validated on the curve and not the identity.
//!
//! Owns: the point and its binary encodings (SEC1, SPKI DER and PEM). Layering: imports from
//! the crate only the error type; it must not import `jwk`, which is built on it: the JWK
//! form of a key ([`PublicKey::from_jwk`], [`PublicKey::to_jwk`], [`PublicKey::thumbprint`])
//! is defined in `jwk`, in an `impl PublicKey` block, at the same paths.

use crate::Error;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};

/// A P-256 public key that can be sealed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(p256::PublicKey);

impl PublicKey {
    /// Parses a 65-byte uncompressed SEC1 point; off-curve points, the identity and compressed
    /// or hybrid encodings are refused.
    pub fn from_sec1_uncompressed(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != 65 || bytes[0] != 0x04 {
            return Err(Error::InvalidPublicKey);
        }
        p256::PublicKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// Parses an SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, Error> {
        p256::PublicKey::from_public_key_pem(pem.trim())
            .map(Self)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// Parses an SPKI DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        p256::PublicKey::from_public_key_der(der)
            .map(Self)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// The 65-byte uncompressed SEC1 encoding.
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.0.as_affine().to_sec1_point(false).as_bytes().to_vec()
    }

    /// The SPKI PEM encoding.
    pub fn to_spki_pem(&self) -> Result<String, Error> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// The key as a `p256` point.
    pub fn as_p256(&self) -> &p256::PublicKey {
        &self.0
    }

    pub(crate) fn from_p256(point: p256::PublicKey) -> Self {
        Self(point)
    }
}
