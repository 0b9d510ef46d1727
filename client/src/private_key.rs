//! A P-256 private key for the STRONG suite.
//!
//! A secret type: it derives nothing (no Debug, Clone or Serialize), its scalar lives in a
//! zeroizing buffer, and its bytes leave only through [`PrivateKey::to_secret_bytes`], which
//! returns a zeroizing copy (the service wraps those bytes under a KEK at once), or into a
//! [`CryptoProvider`](crate::provider::CryptoProvider) for the length of one operation.
//!
//! Owns: the scalar, its range check, its public key. Layering: this module sits below the
//! crypto code and imports from the crate only the public key and error types; it must not
//! import `provider`, `suite` or `envelope`, which are built on it. The operations that use a
//! key are defined beside what they need, in `impl PrivateKey` blocks of the higher modules,
//! at the same paths: [`PrivateKey::open`] and the other openers in `envelope`,
//! [`PrivateKey::derive_from_ikm`] in `provider::rfc9180`.

use crate::{Error, PublicKey};
use p256::elliptic_curve::Generate;
use zeroize::Zeroizing;

/// Length of a serialized private scalar.
pub const PRIVATE_KEY_LEN: usize = 32;

/// A P-256 private key: a big-endian scalar in `[1, n)`.
///
/// The scalar sits in one heap buffer for the key's whole life: moving a `PrivateKey` moves a
/// pointer, never the bytes, so no stale copy is left in a stack frame it passed through.
pub struct PrivateKey(Box<Zeroizing<[u8; PRIVATE_KEY_LEN]>>);

impl PrivateKey {
    /// A fresh key from the operating system's random source (default provider).
    pub fn generate() -> Self {
        Self::from_p256(&p256::SecretKey::generate())
    }

    fn from_p256(key: &p256::SecretKey) -> Self {
        let mut out = Box::new(Zeroizing::new([0u8; PRIVATE_KEY_LEN]));
        let mut bytes = key.to_bytes();
        out.copy_from_slice(&bytes);
        zeroize::Zeroize::zeroize(bytes.as_mut_slice());
        Self(out)
    }

    /// Parses a big-endian scalar in `[1, n)`.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, Error> {
        // `from_slice` would left-pad short input; the protocol's scalars are exactly 32 bytes.
        if bytes.len() != PRIVATE_KEY_LEN {
            return Err(Error::InvalidPrivateKey);
        }
        // The range check (constant time in `p256`); the parsed key itself is dropped (it
        // zeroizes) and the bytes are kept.
        p256::SecretKey::from_slice(bytes).map_err(|_| Error::InvalidPrivateKey)?;
        let mut out = Box::new(Zeroizing::new([0u8; PRIVATE_KEY_LEN]));
        out.copy_from_slice(bytes);
        Ok(Self(out))
    }

    /// The big-endian scalar, in a buffer that zeroizes on drop.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; PRIVATE_KEY_LEN]> {
        // Filled in place: `Zeroizing::new(*self.0)` would leave an unzeroized temporary.
        let mut out = Zeroizing::new([0u8; PRIVATE_KEY_LEN]);
        out.copy_from_slice(self.expose());
        out
    }

    /// The scalar, borrowed, for a provider's operation.
    pub(crate) fn expose(&self) -> &[u8; PRIVATE_KEY_LEN] {
        &self.0
    }

    /// The matching public key (computed with `p256`).
    pub fn public_key(&self) -> PublicKey {
        match p256::SecretKey::from_slice(self.expose()) {
            Ok(key) => PublicKey::from_p256(key.public_key()),
            // The scalar was range-checked when this key was made.
            Err(_) => unreachable_scalar(),
        }
    }
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_scalar() -> ! {
    panic!("invariant broken: a PrivateKey holds a scalar in [1, n)")
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
        let mut below = n.clone();
        below[31] -= 1;
        assert!(PrivateKey::from_secret_bytes(&below).is_ok());
        assert!(PrivateKey::from_secret_bytes(&[1u8; 31]).is_err());
    }
}
