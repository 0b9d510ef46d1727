//! The AWS-LC provider: `aws-lc-rs` for P-256 ECDH and key generation, ECDSA (ES256),
//! HKDF-SHA256 and AES-256-GCM. HPKE comes from [`super::rfc9180`] over these primitives
//! (aws-lc-rs has no HPKE API).
//!
//! Key material: private scalars cross into AWS-LC only for the duration of one operation
//! (loaded from the zeroizing [`PrivateKey`]); AWS-LC frees its key objects with
//! `OPENSSL_free`, which cleanses the memory, and aws-lc-rs zeroizes the scalar buffers it
//! hands out (`EcPrivateKeyBin`). AWS-LC does not wipe its own stack: values derived from a
//! scalar (recoded windows of the point multiplication, ECDSA nonces) may stay there. As
//! defence in depth, every operation on a private scalar or a signing nonce is followed by
//! [`scrub_stack`]. (The service's memory-scan test, `src/custody/memory_tests.rs`, looks for
//! raw scalars, for both providers; it passes with or without the scrub, so the scrub is not
//! what it proves.)

use super::{CryptoProvider, Es256Signer, NONCE_LEN, Point, SECRET_LEN, SIGNATURE_LEN, Secret32};
use crate::{Error, PrivateKey, PublicKey};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

/// The AWS-LC provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLc;

/// Why a refusal: AWS-LC's own errors are opaque, and ours stay coarse.
fn crypto<E>(_: E) -> Error {
    Error::Crypto
}

fn public_of(key: &agreement::PrivateKey) -> Result<PublicKey, Error> {
    PublicKey::from_sec1_uncompressed(&point_of(key)?)
}

/// The key's public point as AWS-LC computed it (no second parse).
fn point_of(key: &agreement::PrivateKey) -> Result<Point, Error> {
    let public = key.compute_public_key().map_err(crypto)?;
    public.as_ref().try_into().map_err(crypto)
}

/// Bytes of stack overwritten after an operation on a secret: a generous bound on what
/// AWS-LC's P-256 key generation, ECDH and ECDSA put on the stack.
const SCRUB_WORDS: usize = 2048; // 16 KiB

/// Overwrites the stack below the caller's frame, where the AWS-LC call that just returned
/// left its locals. Not inlined, so that its buffer lies where that call's frames were.
#[inline(never)]
fn scrub_stack() {
    let mut buffer = [0u64; SCRUB_WORDS];
    zeroize::Zeroize::zeroize(&mut buffer);
    std::hint::black_box(&buffer);
}

/// Runs `operation` (an AWS-LC call on a secret), then scrubs the stack it used.
fn scrubbed<T>(operation: impl FnOnce() -> T) -> T {
    let out = operation();
    scrub_stack();
    out
}

/// An ES256 key: AWS-LC's key object, cleansed when freed.
struct Signer256 {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    public: PublicKey,
}

impl Es256Signer for Signer256 {
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], Error> {
        let signature = scrubbed(|| self.key.sign(&self.rng, message)).map_err(crypto)?;
        signature.as_ref().try_into().map_err(crypto)
    }

    fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl AwsLc {
    fn generate_inner(&self) -> Result<(PrivateKey, PublicKey), Error> {
        let key = agreement::PrivateKey::generate(&ECDH_P256).map_err(crypto)?;
        let scalar = AsBigEndian::<aws_lc_rs::encoding::EcPrivateKeyBin>::as_be_bytes(&key)
            .map_err(crypto)?;
        let private = PrivateKey::from_secret_bytes(scalar.as_ref())?;
        Ok((private, public_of(&key)?))
    }

    fn ecdh_inner(&self, secret: &PrivateKey, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        let key = agreement::PrivateKey::from_private_key(&ECDH_P256, secret.expose())
            .map_err(|_| Error::InvalidPrivateKey)?;
        Self::agree(&key, peer)
    }

    /// A fresh key made by AWS-LC and used there at once: its scalar never leaves AWS-LC.
    fn ephemeral_inner(&self, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        let key = agreement::PrivateKey::generate(&ECDH_P256).map_err(crypto)?;
        Self::agree(&key, peer)
    }

    fn agree(key: &agreement::PrivateKey, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        // The wire format has only uncompressed points; AWS-LC would also take compressed ones.
        if peer.len() != 65 || peer[0] != 0x04 {
            return Err(Error::InvalidPublicKey);
        }
        let shared = agreement::agree(
            key,
            UnparsedPublicKey::new(&ECDH_P256, peer),
            Error::InvalidPublicKey,
            |dh| {
                let mut out = Zeroizing::new([0u8; SECRET_LEN]);
                if dh.len() != SECRET_LEN {
                    return Err(Error::Crypto);
                }
                out.copy_from_slice(dh);
                Ok(out)
            },
        )?;
        Ok((shared, point_of(key)?))
    }

    fn signer_inner(&self, secret: &PrivateKey) -> Result<Box<dyn Es256Signer>, Error> {
        let agreement = agreement::PrivateKey::from_private_key(&ECDH_P256, secret.expose())
            .map_err(|_| Error::InvalidPrivateKey)?;
        let public = public_of(&agreement)?;
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            secret.expose(),
            &public.to_sec1_uncompressed(),
        )
        .map_err(|_| Error::InvalidPrivateKey)?;
        Ok(Box::new(Signer256 {
            key,
            rng: SystemRandom::new(),
            public,
        }))
    }
}

impl CryptoProvider for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn generate_p256(&self) -> Result<(PrivateKey, PublicKey), Error> {
        scrubbed(|| self.generate_inner())
    }

    fn ecdh_p256(&self, secret: &PrivateKey, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        scrubbed(|| self.ecdh_inner(secret, peer))
    }

    fn ecdh_p256_ephemeral(&self, peer: &[u8]) -> Result<(Secret32, Point), Error> {
        scrubbed(|| self.ephemeral_inner(peer))
    }

    fn es256_signer(&self, secret: &PrivateKey) -> Result<Box<dyn Es256Signer>, Error> {
        scrubbed(|| self.signer_inner(secret))
    }

    fn es256_verify(
        &self,
        public: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        if signature.len() != SIGNATURE_LEN {
            return Err(Error::BadSignature);
        }
        signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public.to_sec1_uncompressed())
            .verify(message, signature)
            .map_err(|_| Error::BadSignature)
    }

    /// HKDF-Extract is HMAC-SHA256(salt, ikm) by definition (RFC 5869 §2.2); aws-lc-rs keeps
    /// its PRK opaque, so the extract step is written as that HMAC.
    fn hkdf_extract(&self, salt: &[u8], ikm: &[&[u8]]) -> Secret32 {
        let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
        let mut context = hmac::Context::with_key(&key);
        for part in ikm {
            context.update(part);
        }
        let tag = context.sign();
        let mut out = Zeroizing::new([0u8; SECRET_LEN]);
        out.copy_from_slice(tag.as_ref());
        out
    }

    fn hkdf_expand(
        &self,
        prk: &[u8; SECRET_LEN],
        info: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(), Error> {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk)
            .expand(info, Len(out.len()))
            .map_err(crypto)?
            .fill(out)
            .map_err(crypto)
    }

    fn aes256gcm_seal(
        &self,
        key: &[u8; SECRET_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(crypto)?);
        // The buffer holds the plaintext until it is encrypted in place: zeroize it on failure.
        let mut buffer =
            Zeroizing::new(Vec::with_capacity(plaintext.len() + AES_256_GCM.tag_len()));
        buffer.extend_from_slice(plaintext);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            &mut *buffer,
        )
        .map_err(|_| Error::SealFailed)?;
        Ok(std::mem::take(&mut *buffer))
    }

    fn aes256gcm_open(
        &self,
        key: &[u8; SECRET_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let key =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::OpenFailed)?);
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut buffer,
            )
            .map_err(|_| Error::OpenFailed)?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}
