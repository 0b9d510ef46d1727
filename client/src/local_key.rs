//! An ephemeral key pair made on the end user's device ("reveal" flow).
//!
//! Its key id is the RFC 7638 thumbprint of its public key, so the sender needs nothing but
//! the public key. It opens one envelope and is gone: [`LocalKey::open`] consumes it.

use crate::{Envelope, Error, KeyId, Plaintext, PrivateKey, PublicJwk, PublicKey};

/// A device-made key pair. A secret type: derives nothing; the private key zeroizes on drop.
///
/// It opens one envelope: [`LocalKey::open`] takes the key by value, so a second open does
/// not compile. This compiles:
///
/// ```
/// use ok2cry_client::{Envelope, LocalKey};
/// let key = LocalKey::generate();
/// let envelope = Envelope::seal_to(key.public_key(), key.key_id(), "", b"1234")?;
/// let pin = key.open("", &envelope)?;
/// assert_eq!(pin.expose_secret(), b"1234");
/// # Ok::<(), ok2cry_client::Error>(())
/// ```
///
/// and this, the same with a second open, does not (`key` was moved by the first open):
///
/// ```compile_fail,E0382
/// use ok2cry_client::{Envelope, LocalKey};
/// let key = LocalKey::generate();
/// let envelope = Envelope::seal_to(key.public_key(), key.key_id(), "", b"1234")?;
/// let pin = key.open("", &envelope)?;
/// let again = key.open("", &envelope)?;
/// # Ok::<(), ok2cry_client::Error>(())
/// ```
///
/// Nor can it be cloned to get around that (no `Clone`):
///
/// ```compile_fail,E0599
/// let key = ok2cry_client::LocalKey::generate();
/// let copy = key.clone();
/// ```
pub struct LocalKey {
    private: PrivateKey,
    public: PublicKey,
    key_id: KeyId,
}

impl LocalKey {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_private(PrivateKey::generate())
    }

    /// Wraps an existing private key (e.g. one read from a key file by the CLI).
    pub fn from_private(private: PrivateKey) -> Self {
        let public = private.public_key();
        let key_id = key_id_for(&public);
        Self {
            private,
            public,
            key_id,
        }
    }

    /// The key id: the public key's JWK thumbprint.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as a JWK, with `kid` = key id and `use` = "enc".
    pub fn public_jwk(&self) -> PublicJwk {
        let mut jwk = self.public.to_jwk().with_kid(self.key_id.as_str());
        jwk.use_ = Some("enc".into());
        jwk
    }

    /// The public key as SPKI PEM.
    pub fn public_spki_pem(&self) -> Result<String, Error> {
        self.public.to_spki_pem()
    }

    /// Opens one envelope sealed to this key with `context`, and destroys the key.
    pub fn open(self, context: &str, envelope: &Envelope) -> Result<Plaintext, Error> {
        self.private.open(&self.key_id, context, envelope)
    }

    /// The private key, for callers that must store it (the CLI's key file).
    pub fn into_private(self) -> PrivateKey {
        self.private
    }
}

/// The key id of an end user's own public key: its JWK thumbprint.
pub fn key_id_for(public: &PublicKey) -> KeyId {
    // A thumbprint is 43 base64url characters: always a valid key id.
    match KeyId::new(public.thumbprint()) {
        Ok(id) => id,
        Err(_) => unreachable_thumbprint(),
    }
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_thumbprint() -> ! {
    panic!("invariant broken: a JWK thumbprint is always a valid key id")
}
