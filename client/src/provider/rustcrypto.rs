//! The RustCrypto provider: `p256` (ECDH, ECDSA), `hkdf`, `aes-gcm`, and the `hpke` crate for
//! HPKE. Pure Rust; the portable reference.

use super::{CryptoProvider, Es256Signer, NONCE_LEN, Point, SECRET_LEN, SIGNATURE_LEN, Secret32};
use crate::params::{Aead, ENC_LEN, Kdf, Kem};
use crate::{Error, PrivateKey, PublicKey};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead as _, KeyInit, Payload};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The RustCrypto provider (pure Rust).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

fn secret_key(secret: &PrivateKey) -> Result<p256::SecretKey, Error> {
    p256::SecretKey::from_slice(secret.expose()).map_err(|_| Error::InvalidPrivateKey)
}

/// An ES256 key: `SigningKey` zeroizes its scalar on drop.
struct Signer256 {
    key: SigningKey,
    public: PublicKey,
}

impl Es256Signer for Signer256 {
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], Error> {
        let signature: Signature = self.key.try_sign(message).map_err(|_| Error::Crypto)?;
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&signature.to_bytes());
        Ok(out)
    }

    fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn generate_p256(&self) -> Result<(PrivateKey, PublicKey), Error> {
        let key = p256::SecretKey::generate();
        let public = PublicKey::from_p256(key.public_key());
        let mut bytes = key.to_bytes();
        let private = PrivateKey::from_secret_bytes(&bytes);
        zeroize::Zeroize::zeroize(bytes.as_mut_slice());
        Ok((private?, public))
    }

    fn ecdh_p256(&self, secret: &PrivateKey, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        let peer = PublicKey::from_sec1_uncompressed(peer)?;
        let key = secret_key(secret)?;
        let shared =
            p256::ecdh::diffie_hellman(key.to_nonzero_scalar(), peer.as_p256().as_affine());
        let mut out = Zeroizing::new([0u8; SECRET_LEN]);
        out.copy_from_slice(shared.raw_secret_bytes());
        let mut own = [0u8; 65];
        own.copy_from_slice(&PublicKey::from_p256(key.public_key()).to_sec1_uncompressed());
        Ok((out, own))
    }

    fn es256_signer(&self, secret: &PrivateKey) -> Result<Box<dyn Es256Signer>, Error> {
        let key = SigningKey::from_slice(secret.expose()).map_err(|_| Error::InvalidPrivateKey)?;
        let public = PublicKey::from_p256(p256::PublicKey::from(key.verifying_key()));
        Ok(Box::new(Signer256 { key, public }))
    }

    fn es256_verify(
        &self,
        public: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let signature = Signature::from_slice(signature).map_err(|_| Error::BadSignature)?;
        VerifyingKey::from(*public.as_p256())
            .verify(message, &signature)
            .map_err(|_| Error::BadSignature)
    }

    fn hkdf_extract(&self, salt: &[u8], ikm: &[&[u8]]) -> Secret32 {
        let mut extract = hkdf::HkdfExtract::<Sha256>::new(Some(salt));
        for part in ikm {
            extract.input_ikm(part);
        }
        let (prk, _) = extract.finalize();
        let mut out = Zeroizing::new([0u8; SECRET_LEN]);
        out.copy_from_slice(&prk);
        out
    }

    fn hkdf_expand(
        &self,
        prk: &[u8; SECRET_LEN],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), Error> {
        hkdf::Hkdf::<Sha256>::from_prk(prk)
            .map_err(|_| Error::Crypto)?
            .expand_multi_info(info, out)
            .map_err(|_| Error::Crypto)
    }

    fn aes256gcm_seal(
        &self,
        key: &[u8; SECRET_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Error::Crypto)?;
        cipher
            .encrypt(
                &(*nonce).into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::SealFailed)
    }

    fn aes256gcm_open(
        &self,
        key: &[u8; SECRET_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Error::OpenFailed)?;
        cipher
            .decrypt(
                &(*nonce).into(),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::OpenFailed)
    }

    /// HPKE through the `hpke` crate (not [`super::rfc9180`]): two independent
    /// implementations, checked against each other by the differential tests.
    fn hpke_seal(
        &self,
        recipient: &PublicKey,
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.to_sec1_uncompressed())
            .map_err(|_| Error::InvalidPublicKey)?;
        let (enc, ciphertext) =
            hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, info, plaintext, aad)
                .map_err(|_| Error::SealFailed)?;
        let enc = enc.to_bytes();
        let mut sealed = Vec::with_capacity(enc.len() + ciphertext.len());
        sealed.extend_from_slice(&enc);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn hpke_open(
        &self,
        recipient: &PrivateKey,
        info: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.len() < ENC_LEN {
            return Err(Error::OpenFailed);
        }
        let (enc, ciphertext) = sealed.split_at(ENC_LEN);
        let enc =
            <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| Error::OpenFailed)?;
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(recipient.expose())
            .map_err(|_| Error::OpenFailed)?;
        hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, info, ciphertext, aad)
            .map(Zeroizing::new)
            .map_err(|_| Error::OpenFailed)
    }
}
