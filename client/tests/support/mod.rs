//! Shared helpers of the integration tests and of `examples/gen_vectors.rs`.
//!
//! - where the third-party vectors (`../shared/vectors/`) and the project vectors
//!   (`tests/vectors/`) live;
//! - [`FixedRng`], a "random" source that hands out given bytes once, to drive the `hpke`
//!   crate's `*_with_rng` functions deterministically;
//! - an independent RFC 9180 implementation of the parts the `hpke` crate does not expose
//!   (DHKEM(P-256) Encap with a given ephemeral key, the key schedule and the exporter), written
//!   from the RFC text with `p256` and `hkdf`. It is checked against the RFC 9180 vectors in
//!   `tests/rfc9180.rs` before the generator trusts it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod generate;
pub mod rfc9180_vectors;

use hkdf::{Hkdf, HkdfExtract};
use hpke::rand_core::{TryCryptoRng, TryRng};
use sha2::Sha256;
use std::convert::Infallible;
use std::path::PathBuf;

/// `../shared/vectors`, or `$OK2CRY_SHARED/vectors` when the variable is set.
pub fn shared_vectors_dir() -> PathBuf {
    match std::env::var_os("OK2CRY_SHARED") {
        Some(dir) => PathBuf::from(dir).join("vectors"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("..")
            .join("shared")
            .join("vectors"),
    }
}

/// The repository's own vectors: `tests/vectors/` at the workspace root.
pub fn project_vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("vectors")
}

pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
}

/// A byte source that returns the bytes it was given, in order, and panics when asked for more.
///
/// The `hpke` crate makes an ephemeral key as `DeriveKeyPair(random(Nsk))` (its
/// `gen_keypair_with_rng`), so feeding it exactly `ikmE` (32 bytes) makes the ephemeral key
/// RFC 9180's `DeriveKeyPair(ikmE)`. That is an implementation detail of the crate, not a
/// promise: every use checks the resulting `enc` against `DeriveKeyPair(ikmE)` computed
/// independently, so a change in the crate fails loudly instead of producing wrong vectors.
pub struct FixedRng {
    bytes: Vec<u8>,
    used: usize,
}

impl FixedRng {
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            used: 0,
        }
    }

    /// Whether every byte was consumed.
    pub fn exhausted(&self) -> bool {
        self.used == self.bytes.len()
    }
}

impl TryRng for FixedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let end = self.used + dst.len();
        assert!(
            end <= self.bytes.len(),
            "FixedRng: asked for {} bytes, only {} left",
            dst.len(),
            self.bytes.len() - self.used
        );
        dst.copy_from_slice(&self.bytes[self.used..end]);
        self.used = end;
        Ok(())
    }
}

impl TryCryptoRng for FixedRng {}

// ---------------------------------------------------------------------------------------------
// Independent RFC 9180 pieces (DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM).
// ---------------------------------------------------------------------------------------------

pub const KEM_SUITE_ID: &[u8] = b"KEM\x00\x10";
pub const HPKE_SUITE_ID: &[u8] = b"HPKE\x00\x10\x00\x01\x00\x02";

/// RFC 9180 §4: `LabeledExtract(salt, label, ikm)`.
pub fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Vec<u8> {
    let mut extract = HkdfExtract::<Sha256>::new(Some(salt));
    extract.input_ikm(b"HPKE-v1");
    extract.input_ikm(suite_id);
    extract.input_ikm(label);
    extract.input_ikm(ikm);
    let (prk, _) = extract.finalize();
    prk.to_vec()
}

/// RFC 9180 §4: `LabeledExpand(prk, label, info, L)`.
pub fn labeled_expand(
    suite_id: &[u8],
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Vec<u8> {
    let hkdf = Hkdf::<Sha256>::from_prk(prk).expect("PRK length");
    let l = u16::try_from(len)
        .expect("L fits in two bytes")
        .to_be_bytes();
    let mut okm = vec![0u8; len];
    hkdf.expand_multi_info(&[&l, b"HPKE-v1", suite_id, label, info], &mut okm)
        .expect("HKDF output length");
    okm
}

/// RFC 9180 §7.1.3 `DeriveKeyPair(ikm)` for P-256: returns (skX, pkX uncompressed).
pub fn derive_key_pair(ikm: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let dkp_prk = labeled_extract(KEM_SUITE_ID, b"", b"dkp_prk", ikm);
    for counter in 0u8..=255 {
        let mut bytes = labeled_expand(KEM_SUITE_ID, &dkp_prk, b"candidate", &[counter], 32);
        bytes[0] &= 0xff;
        if let Ok(sk) = p256::SecretKey::from_slice(&bytes) {
            let pk = sk.public_key();
            return (bytes, sec1_uncompressed(&pk));
        }
    }
    panic!("DeriveKeyPair: no candidate in 256 tries")
}

pub fn sec1_uncompressed(pk: &p256::PublicKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToSec1Point;
    pk.as_affine().to_sec1_point(false).as_bytes().to_vec()
}

/// RFC 9180 §4.1 `Encap(pkR)` with the ephemeral key `skE` given: returns (shared_secret, enc).
pub fn dhkem_encap_with(sk_e: &[u8], pk_r: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sk_e = p256::SecretKey::from_slice(sk_e).expect("skE");
    let pk_r_point = p256::PublicKey::from_sec1_bytes(pk_r).expect("pkR");
    let dh = p256::ecdh::diffie_hellman(sk_e.to_nonzero_scalar(), pk_r_point.as_affine());
    let enc = sec1_uncompressed(&sk_e.public_key());
    let mut kem_context = enc.clone();
    kem_context.extend_from_slice(pk_r);
    let eae_prk = labeled_extract(
        KEM_SUITE_ID,
        b"",
        b"eae_prk",
        dh.raw_secret_bytes().as_slice(),
    );
    let shared_secret = labeled_expand(KEM_SUITE_ID, &eae_prk, b"shared_secret", &kem_context, 32);
    (shared_secret, enc)
}

/// The RFC 9180 §5.1 key schedule in base mode (no PSK).
pub struct KeySchedule {
    pub key_schedule_context: Vec<u8>,
    pub secret: Vec<u8>,
    pub key: Vec<u8>,
    pub base_nonce: Vec<u8>,
    pub exporter_secret: Vec<u8>,
}

pub fn key_schedule_base(shared_secret: &[u8], info: &[u8]) -> KeySchedule {
    let psk_id_hash = labeled_extract(HPKE_SUITE_ID, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(HPKE_SUITE_ID, b"", b"info_hash", info);
    let mut key_schedule_context = vec![0x00];
    key_schedule_context.extend_from_slice(&psk_id_hash);
    key_schedule_context.extend_from_slice(&info_hash);
    let secret = labeled_extract(HPKE_SUITE_ID, shared_secret, b"secret", b"");
    let key = labeled_expand(HPKE_SUITE_ID, &secret, b"key", &key_schedule_context, 32);
    let base_nonce = labeled_expand(
        HPKE_SUITE_ID,
        &secret,
        b"base_nonce",
        &key_schedule_context,
        12,
    );
    let exporter_secret = labeled_expand(HPKE_SUITE_ID, &secret, b"exp", &key_schedule_context, 32);
    KeySchedule {
        key_schedule_context,
        secret,
        key,
        base_nonce,
        exporter_secret,
    }
}

impl KeySchedule {
    /// RFC 9180 §5.2 `ComputeNonce(seq)`.
    pub fn nonce(&self, seq: u64) -> Vec<u8> {
        let mut nonce = self.base_nonce.clone();
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// RFC 9180 §5.3 `Export(exporter_context, L)`.
    pub fn export(&self, exporter_context: &[u8], len: usize) -> Vec<u8> {
        labeled_expand(
            HPKE_SUITE_ID,
            &self.exporter_secret,
            b"sec",
            exporter_context,
            len,
        )
    }

    /// AES-256-GCM open at sequence number `seq`.
    pub fn open(&self, seq: u64, aad: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.key).expect("key length");
        let nonce = aes_gcm::Nonce::try_from(self.nonce(seq).as_slice()).expect("nonce length");
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }

    /// AES-256-GCM seal at sequence number `seq`.
    pub fn seal(&self, seq: u64, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.key).expect("key length");
        let nonce = aes_gcm::Nonce::try_from(self.nonce(seq).as_slice()).expect("nonce length");
        cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM seal")
    }
}

/// A whole single-shot base-mode seal with empty AAD, independent of the `hpke` crate:
/// `enc || AES-256-GCM(key, base_nonce, "", plaintext)`, the ephemeral key being
/// `DeriveKeyPair(ikm_e)`.
pub fn independent_seal(pk_r: &[u8], info: &[u8], plaintext: &[u8], ikm_e: &[u8]) -> Vec<u8> {
    let (sk_e, _) = derive_key_pair(ikm_e);
    let (shared_secret, enc) = dhkem_encap_with(&sk_e, pk_r);
    let ks = key_schedule_base(&shared_secret, info);
    let mut sealed = enc;
    sealed.extend_from_slice(&ks.seal(0, b"", plaintext));
    sealed
}

/// The same seal through the `hpke` crate, its ephemeral key fed by [`FixedRng`].
pub fn hpke_seal_deterministic(
    pk_r: &[u8],
    info: &[u8],
    plaintext: &[u8],
    ikm_e: &[u8],
) -> Vec<u8> {
    use hpke::{Deserializable, OpModeS, Serializable};
    type Kem = hpke::kem::DhP256HkdfSha256;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk_r).expect("pkR");
    let mut rng = FixedRng::new(ikm_e);
    let (enc, ct) = hpke::single_shot_seal_with_rng::<
        hpke::aead::AesGcm256,
        hpke::kdf::HkdfSha256,
        Kem,
    >(&OpModeS::Base, &pk, info, plaintext, b"", &mut rng)
    .expect("hpke seal");
    assert!(rng.exhausted(), "hpke used fewer random bytes than ikmE");
    let mut sealed = enc.to_bytes().to_vec();
    sealed.extend_from_slice(&ct);
    sealed
}
