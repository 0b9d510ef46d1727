//! An ephemeral key pair made on the end user's device ("reveal" flow).
//!
//! Its key id is the RFC 7638 thumbprint of its public key, so the sender needs nothing but
//! the public key. It opens one envelope and is gone: [`LocalKey::open`] consumes it.
//!
//! A key that must wait for its envelope outside the process (the CLI's `keygen`, then
//! `open --key FILE`) is kept as a **private JWK** (RFC 7517, RFC 7518 §6.2.2): one JSON
//! object with exactly `kty` "EC", `crv` "P-256", `x`, `y`, `d` (base64url, 32 bytes each)
//! and optionally `kid` (the key id) and `use` ("enc"). Reading it is strict: strict JSON
//! (docs/PROTOCOL.md §10.1), no other member, `d` a valid scalar, and `x`, `y` (and `kid`)
//! those of `d`'s public key, so a file whose halves do not belong together is refused rather
//! than used with the wrong public key. The file is written through [`crate::secret_file`]
//! (mode 0600, never overwritten).

use crate::json::{self, Json, Members};
use crate::secret_file::{self, Existing};
use crate::{Envelope, Error, KeyId, Plaintext, PrivateKey, PublicJwk, PublicKey, b64};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

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

    /// The private key, for callers that must store it in a form of their own.
    pub fn into_private(self) -> PrivateKey {
        self.private
    }

    /// The key as a private JWK (see the module docs): a secret, in a zeroizing buffer.
    pub fn to_private_jwk(&self) -> Zeroizing<String> {
        let public = self.public_jwk();
        let d = Zeroizing::new(b64::encode(self.private.to_secret_bytes().as_slice()));
        // Every value is base64url (or the fixed names), so no JSON escaping is needed.
        Zeroizing::new(format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","d":"{}","kid":"{}","use":"enc"}}"#,
            public.x,
            public.y,
            d.as_str(),
            self.key_id.as_str()
        ))
    }

    /// Reads a private JWK (see the module docs for what is refused).
    pub fn from_private_jwk(text: &str) -> Result<Self, Error> {
        let mut tree =
            json::parse(text.as_bytes()).ok_or(Error::Malformed("private JWK: not strict JSON"))?;
        let key = Self::from_private_tree(&tree);
        // The tree held `d` as text: wipe every string before it is dropped.
        if let Json::Object(members) = &mut tree {
            for (_, value) in members.iter_mut() {
                if let Json::String(text) = value {
                    text.zeroize();
                }
            }
        }
        key
    }

    fn from_private_tree(tree: &Json) -> Result<Self, Error> {
        let bad = || PRIVATE_JWK_MEMBERS;
        let m = Members::of(tree).ok_or_else(bad)?;
        if !m.only(&["kty", "crv", "x", "y", "d", "kid", "use"]) {
            return Err(bad());
        }
        let text = |name| m.string(name).ok_or_else(bad);
        let optional = |name| m.optional_string(name).map_err(|()| bad());
        if text("kty")? != "EC" || text("crv")? != "P-256" {
            return Err(Error::InvalidPrivateKey);
        }
        if optional("use")?.is_some_and(|u| u != "enc") {
            return Err(bad());
        }
        let scalar = Zeroizing::new(b64::decode(text("d")?).ok_or(Error::InvalidPrivateKey)?);
        let key = Self::from_private(PrivateKey::from_secret_bytes(&scalar)?);
        let public = key.public_key().to_jwk();
        let kid_matches = optional("kid")?.is_none_or(|kid| kid == key.key_id.as_str());
        if text("x")? != public.x || text("y")? != public.y || !kid_matches {
            return Err(Error::InvalidPrivateKey);
        }
        Ok(key)
    }

    /// Writes the key as a private JWK to a new file at `path`, mode 0600
    /// ([`crate::secret_file`]); an existing file is never overwritten.
    pub fn write_private_jwk_file(&self, path: &Path) -> std::io::Result<()> {
        secret_file::write(path, self.to_private_jwk().as_bytes(), Existing::Refuse)
    }

    /// Reads a private JWK file written by [`LocalKey::write_private_jwk_file`] (or by anyone,
    /// in the same form).
    pub fn read_private_jwk_file(path: &Path) -> Result<Self, KeyFileError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(KeyFileError::Io)?);
        Self::from_private_jwk(&text).map_err(KeyFileError::Key)
    }
}

/// A private JWK whose members or their types are wrong.
const PRIVATE_JWK_MEMBERS: Error = Error::Malformed(
    "private JWK: expected kty, crv, x, y, d and optionally kid and use, as strings",
);

/// A private JWK file could not be read, or does not hold a usable key. The messages name
/// neither the key nor the file's contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the key file: {0}")]
    Io(std::io::Error),
    /// The file is not a usable private JWK.
    #[error("the key file: {0}")]
    Key(Error),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(jwk: &str, member: &str, value: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(jwk).unwrap();
        v[member] = serde_json::Value::String(value.into());
        v.to_string()
    }

    #[test]
    fn a_private_jwk_round_trips_and_opens() {
        let key = LocalKey::generate();
        let envelope = Envelope::seal_to(key.public_key(), key.key_id(), "ctx", b"4111").unwrap();
        let read = LocalKey::from_private_jwk(&key.to_private_jwk()).unwrap();
        assert_eq!(read.key_id(), key.key_id());
        assert_eq!(read.public_jwk(), key.public_jwk());
        assert_eq!(
            read.open("ctx", &envelope).unwrap().expose_secret(),
            b"4111"
        );
    }

    #[test]
    fn a_private_jwk_whose_halves_do_not_belong_together_is_refused() {
        let key = LocalKey::generate();
        let other = LocalKey::generate().public_jwk();
        let jwk = key.to_private_jwk();
        for (member, value) in [("x", &other.x), ("y", &other.y)] {
            let edited = replace(&jwk, member, value);
            assert!(matches!(
                LocalKey::from_private_jwk(&edited),
                Err(Error::InvalidPrivateKey)
            ));
        }
        let edited = replace(&jwk, "kid", other.kid.as_deref().unwrap());
        assert!(matches!(
            LocalKey::from_private_jwk(&edited),
            Err(Error::InvalidPrivateKey)
        ));
    }

    #[test]
    fn a_private_jwk_is_read_strictly() {
        let key = LocalKey::generate();
        let jwk = key.to_private_jwk();
        let refused = |text: &str| LocalKey::from_private_jwk(text).is_err();
        // Another member, a duplicate member, a wrong type, a wrong use, no d, a bad d.
        assert!(refused(&jwk.replacen('{', r#"{"alg":"ES256","#, 1)));
        assert!(refused(&jwk.replacen('{', r#"{"kty":"EC","#, 1)));
        assert!(refused(&jwk.replace(r#""use":"enc""#, r#""use":1"#)));
        assert!(refused(&replace(&jwk, "use", "sig")));
        assert!(refused(&replace(&jwk, "kty", "OKP")));
        assert!(refused(&replace(&jwk, "crv", "P-384")));
        let mut v: serde_json::Value = serde_json::from_str(&jwk).unwrap();
        v.as_object_mut().unwrap().remove("d");
        assert!(refused(&v.to_string()));
        assert!(refused(&replace(&jwk, "d", "AAAA")));
        assert!(refused(&replace(&jwk, "d", &b64::encode(&[0u8; 32]))));
        assert!(refused(&replace(&jwk, "d", &b64::encode(&[0xffu8; 32]))));
        // kid and use are optional.
        let mut v: serde_json::Value = serde_json::from_str(&jwk).unwrap();
        v.as_object_mut().unwrap().remove("kid");
        v.as_object_mut().unwrap().remove("use");
        assert!(LocalKey::from_private_jwk(&v.to_string()).is_ok());
    }

    #[test]
    fn the_key_file_is_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.jwk");
        let key = LocalKey::generate();
        key.write_private_jwk_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = LocalKey::generate();
        assert!(second.write_private_jwk_file(&path).is_err());
        let read = LocalKey::read_private_jwk_file(&path).unwrap();
        assert_eq!(read.key_id(), key.key_id());
        assert!(matches!(
            LocalKey::read_private_jwk_file(&dir.path().join("absent")),
            Err(KeyFileError::Io(_))
        ));
    }
}
