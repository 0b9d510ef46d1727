//! A P-256 private key for the STRONG suite.
//!
//! A secret type: it derives nothing (no Debug, Clone or Serialize), the scalar inside is
//! zeroized on drop (`p256::SecretKey` zeroizes itself), and its bytes leave only through
//! [`PrivateKey::to_secret_bytes`], which returns a zeroizing buffer (the service wraps those
//! bytes under a KEK at once).

use crate::suite::{self, Kem};
use crate::{Envelope, Error, KeyId, Plaintext, PublicKey};
use hpke::{Deserializable, Kem as _, Serializable};
use p256::elliptic_curve::Generate;
use zeroize::Zeroizing;

/// Length of a serialized private scalar.
pub const PRIVATE_KEY_LEN: usize = 32;

/// A P-256 private key.
pub struct PrivateKey(p256::SecretKey);

impl PrivateKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self(p256::SecretKey::generate())
    }

    /// RFC 9180 `DeriveKeyPair(ikm)` for DHKEM(P-256): deterministic, for test vectors.
    pub fn derive_from_ikm(ikm: &[u8]) -> Result<Self, Error> {
        let (sk, _pk) = Kem::derive_keypair(ikm);
        let mut bytes = sk.to_bytes();
        let key = Self::from_secret_bytes(&bytes);
        zeroize::Zeroize::zeroize(bytes.as_mut_slice());
        key
    }

    /// Parses a big-endian scalar in `[1, n)`.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, Error> {
        // `from_slice` would left-pad short input; the protocol's scalars are exactly 32 bytes.
        if bytes.len() != PRIVATE_KEY_LEN {
            return Err(Error::InvalidPrivateKey);
        }
        p256::SecretKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidPrivateKey)
    }

    /// The big-endian scalar, in a buffer that zeroizes on drop.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; PRIVATE_KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; PRIVATE_KEY_LEN]);
        let mut bytes = self.0.to_bytes();
        out.copy_from_slice(&bytes);
        zeroize::Zeroize::zeroize(bytes.as_mut_slice());
        out
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_p256(self.0.public_key())
    }

    /// Opens `envelope`, which must be for `key_id` and, if it names a context, for `context`.
    ///
    /// `key_id` and `context` come from the opener's own records, never from the envelope:
    /// they are bound into `info`, so a mismatch also makes decryption fail.
    pub fn open(
        &self,
        key_id: &KeyId,
        context: &str,
        envelope: &Envelope,
    ) -> Result<Plaintext, Error> {
        if envelope.key_id() != key_id {
            return Err(Error::KeyIdMismatch);
        }
        if let Some(named) = envelope.context()
            && named != context
        {
            return Err(Error::ContextMismatch);
        }
        self.open_sealed(key_id, context, envelope.sealed())
    }

    /// Opens raw sealed bytes (`enc || ciphertext`) for `key_id` and `context`.
    pub fn open_sealed(
        &self,
        key_id: &KeyId,
        context: &str,
        sealed: &[u8],
    ) -> Result<Plaintext, Error> {
        let info = suite::info(key_id, context);
        let secret = self.to_secret_bytes();
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(secret.as_slice())
            .map_err(|_| Error::OpenFailed)?;
        suite::open_bytes(&sk, &info, sealed).map(Plaintext::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bytes_round_trip() {
        let key = PrivateKey::generate();
        let again = PrivateKey::from_secret_bytes(key.to_secret_bytes().as_slice()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
    }

    #[test]
    fn zero_and_order_are_refused() {
        assert!(PrivateKey::from_secret_bytes(&[0u8; 32]).is_err());
        let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
            .unwrap();
        assert!(PrivateKey::from_secret_bytes(&n).is_err());
        assert!(PrivateKey::from_secret_bytes(&[1u8; 31]).is_err());
    }
}
