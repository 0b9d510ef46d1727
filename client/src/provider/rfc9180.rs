//! HPKE (RFC 9180) for the one suite of protocol v1, written from the RFC text over a
//! [`CryptoProvider`]'s primitives: base mode, DHKEM(P-256, HKDF-SHA256) (KEM 0x0010),
//! HKDF-SHA256 (KDF 0x0001), AES-256-GCM (AEAD 0x0002).
//!
//! This is the HPKE of the AWS-LC provider (aws-lc-rs has no HPKE API). The RustCrypto provider
//! uses the `hpke` crate instead, so the two providers are two independent implementations:
//! `client/tests/providers.rs` checks both against the RFC 9180 vectors and against each other.
//!
//! A child of the `provider` module, so that [`CryptoProvider`]'s default `hpke_seal` and
//! `hpke_open` can call it without a cycle between top-level modules. It imports the
//! primitives' trait and types from its parent and the identifiers and sizes from the private
//! `params` module, nothing else of the crate but the key and error types; in particular never
//! `suite`, which is built on it. The public path `ok2cry_client::rfc9180` is a re-export.
//! [`PrivateKey::derive_from_ikm`] is defined here (an `impl PrivateKey` block), so that
//! `private_key` imports no crypto code.
//!
//! Section numbers below are RFC 9180's.

use super::{CryptoProvider, NONCE_LEN, Point, SECRET_LEN, Secret32};
use crate::params::{AEAD_ID, ENC_LEN, KDF_ID, KEM_ID, MODE_BASE, TAG_LEN};
use crate::{Error, PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// `"KEM" || I2OSP(kem_id, 2)` (§4.1).
const KEM_SUITE_ID: [u8; 5] = [b'K', b'E', b'M', (KEM_ID >> 8) as u8, KEM_ID as u8];

/// `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)` (§5.1).
const HPKE_SUITE_ID: [u8; 10] = [
    b'H',
    b'P',
    b'K',
    b'E',
    (KEM_ID >> 8) as u8,
    KEM_ID as u8,
    (KDF_ID >> 8) as u8,
    KDF_ID as u8,
    (AEAD_ID >> 8) as u8,
    AEAD_ID as u8,
];

/// The version label of every labeled KDF call (§4).
const VERSION_LABEL: &[u8] = b"HPKE-v1";

/// `LabeledExtract(salt, label, ikm)` (§4).
fn labeled_extract<P: CryptoProvider + ?Sized>(
    p: &P,
    suite_id: &[u8],
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Secret32 {
    p.hkdf_extract(salt, &[VERSION_LABEL, suite_id, label, ikm])
}

/// `LabeledExpand(prk, label, info, L)` into `out` (L = `out.len()`, §4).
fn labeled_expand<P: CryptoProvider + ?Sized>(
    p: &P,
    suite_id: &[u8],
    prk: &[u8; SECRET_LEN],
    label: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let len = u16::try_from(out.len()).map_err(|_| Error::Crypto)?;
    p.hkdf_expand(
        prk,
        &[&len.to_be_bytes(), VERSION_LABEL, suite_id, label, info],
        out,
    )
}

/// `DeriveKeyPair(ikm)` for DHKEM(P-256) (§7.1.3): deterministic, for test vectors.
pub fn derive_key_pair<P: CryptoProvider + ?Sized>(p: &P, ikm: &[u8]) -> Result<PrivateKey, Error> {
    let dkp_prk = labeled_extract(p, &KEM_SUITE_ID, b"", b"dkp_prk", ikm);
    for counter in 0u8..=255 {
        let mut candidate = Zeroizing::new([0u8; SECRET_LEN]);
        labeled_expand(
            p,
            &KEM_SUITE_ID,
            &dkp_prk,
            b"candidate",
            &[counter],
            candidate.as_mut_slice(),
        )?;
        // The bitmask is 0xff for P-256: nothing to clear. A candidate outside [1, n) is
        // rejected and the next counter tried.
        if let Ok(key) = PrivateKey::from_secret_bytes(candidate.as_slice()) {
            return Ok(key);
        }
    }
    Err(Error::Crypto)
}

/// Defined here rather than in `private_key`, which imports no crypto code.
impl PrivateKey {
    /// RFC 9180 `DeriveKeyPair(ikm)` for DHKEM(P-256): deterministic, for test vectors.
    pub fn derive_from_ikm(ikm: &[u8]) -> Result<Self, Error> {
        derive_key_pair(super::default_provider(), ikm)
    }
}

/// `ExtractAndExpand(dh, kem_context)` (§4.1).
fn extract_and_expand<P: CryptoProvider + ?Sized>(
    p: &P,
    dh: &[u8; SECRET_LEN],
    enc: &[u8],
    pk_r: &[u8],
) -> Result<Secret32, Error> {
    let eae_prk = labeled_extract(p, &KEM_SUITE_ID, b"", b"eae_prk", dh);
    let mut kem_context = [0u8; 2 * ENC_LEN];
    kem_context[..ENC_LEN].copy_from_slice(enc);
    kem_context[ENC_LEN..].copy_from_slice(pk_r);
    let mut shared = Zeroizing::new([0u8; SECRET_LEN]);
    labeled_expand(
        p,
        &KEM_SUITE_ID,
        &eae_prk,
        b"shared_secret",
        &kem_context,
        shared.as_mut_slice(),
    )?;
    Ok(shared)
}

/// `Encap(pkR)` with the ephemeral key given (§4.1): returns the shared secret and `enc`.
/// [`encap`] draws the ephemeral key from the operating system; vectors fix it.
pub fn encap_with<P: CryptoProvider + ?Sized>(
    p: &P,
    recipient: &PublicKey,
    ephemeral: &PrivateKey,
) -> Result<(Secret32, [u8; ENC_LEN]), Error> {
    let pk_r = recipient.to_sec1_uncompressed();
    let (dh, pk_e) = p.ecdh_p256(ephemeral, &pk_r)?;
    finish_encap(p, &dh, &pk_e, &pk_r)
}

/// `Encap(pkR)` with a fresh ephemeral key (§4.1), made inside the provider
/// ([`CryptoProvider::ecdh_p256_ephemeral`]).
pub fn encap<P: CryptoProvider + ?Sized>(
    p: &P,
    recipient: &PublicKey,
) -> Result<(Secret32, [u8; ENC_LEN]), Error> {
    let pk_r = recipient.to_sec1_uncompressed();
    let (dh, pk_e) = p.ecdh_p256_ephemeral(&pk_r)?;
    finish_encap(p, &dh, &pk_e, &pk_r)
}

fn finish_encap<P: CryptoProvider + ?Sized>(
    p: &P,
    dh: &[u8; SECRET_LEN],
    pk_e: &Point,
    pk_r: &[u8],
) -> Result<(Secret32, [u8; ENC_LEN]), Error> {
    let shared = extract_and_expand(p, dh, pk_e, pk_r)?;
    Ok((shared, *pk_e))
}

/// `Decap(enc, skR)` (§4.1). `enc` must be a valid uncompressed point.
pub fn decap<P: CryptoProvider + ?Sized>(
    p: &P,
    enc: &[u8],
    recipient: &PrivateKey,
) -> Result<Secret32, Error> {
    let (dh, pk_r) = p.ecdh_p256(recipient, enc)?;
    extract_and_expand(p, &dh, enc, &pk_r)
}

/// An HPKE encryption context (§5.2), base mode: the AEAD key, the base nonce, the exporter
/// secret and the sequence number. A secret type: derives nothing, zeroizes on drop.
pub struct Context<'p, P: CryptoProvider + ?Sized> {
    provider: &'p P,
    key: Secret32,
    base_nonce: Zeroizing<[u8; NONCE_LEN]>,
    /// Absent in the single-shot paths, which never export.
    exporter_secret: Option<Secret32>,
    seq: u64,
}

/// `KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = "")` (§5.1).
pub fn key_schedule<'p, P: CryptoProvider + ?Sized>(
    p: &'p P,
    shared_secret: &[u8; SECRET_LEN],
    info: &[u8],
) -> Result<Context<'p, P>, Error> {
    key_schedule_with(p, shared_secret, info, true)
}

/// The key schedule, with or without the exporter secret (single-shot seal and open skip it).
fn key_schedule_with<'p, P: CryptoProvider + ?Sized>(
    p: &'p P,
    shared_secret: &[u8; SECRET_LEN],
    info: &[u8],
    exporter: bool,
) -> Result<Context<'p, P>, Error> {
    let psk_id_hash = labeled_extract(p, &HPKE_SUITE_ID, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(p, &HPKE_SUITE_ID, b"", b"info_hash", info);
    let mut key_schedule_context = [0u8; 1 + 2 * SECRET_LEN];
    key_schedule_context[0] = MODE_BASE;
    key_schedule_context[1..1 + SECRET_LEN].copy_from_slice(psk_id_hash.as_slice());
    key_schedule_context[1 + SECRET_LEN..].copy_from_slice(info_hash.as_slice());
    let secret = labeled_extract(p, &HPKE_SUITE_ID, shared_secret, b"secret", b"");

    let mut key = Zeroizing::new([0u8; SECRET_LEN]);
    let mut base_nonce = Zeroizing::new([0u8; NONCE_LEN]);
    let ksc = key_schedule_context.as_slice();
    labeled_expand(p, &HPKE_SUITE_ID, &secret, b"key", ksc, key.as_mut_slice())?;
    labeled_expand(
        p,
        &HPKE_SUITE_ID,
        &secret,
        b"base_nonce",
        ksc,
        base_nonce.as_mut_slice(),
    )?;
    let exporter_secret = if exporter {
        let mut exporter_secret = Zeroizing::new([0u8; SECRET_LEN]);
        labeled_expand(
            p,
            &HPKE_SUITE_ID,
            &secret,
            b"exp",
            ksc,
            exporter_secret.as_mut_slice(),
        )?;
        Some(exporter_secret)
    } else {
        None
    };
    Ok(Context {
        provider: p,
        key,
        base_nonce,
        exporter_secret,
        seq: 0,
    })
}

impl<P: CryptoProvider + ?Sized> Context<'_, P> {
    /// The nonce of sequence number `seq`: `base_nonce XOR I2OSP(seq, Nn)` (§5.2).
    pub fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        let mut nonce = *self.base_nonce;
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// The AEAD key. Exposed for known-answer tests only.
    pub fn expose_key(&self) -> &[u8; SECRET_LEN] {
        &self.key
    }

    /// The exporter secret. Exposed for known-answer tests only.
    pub fn expose_exporter_secret(&self) -> Option<&[u8; SECRET_LEN]> {
        self.exporter_secret.as_deref()
    }

    /// The next sequence number; the context refuses to go past 2^64 - 1 (§5.2).
    fn next_seq(&mut self) -> Result<u64, Error> {
        let seq = self.seq;
        self.seq = seq.checked_add(1).ok_or(Error::Crypto)?;
        Ok(seq)
    }

    /// `ContextS.Seal(aad, pt)` (§5.2): encrypts at the current sequence number and advances.
    pub fn seal(&mut self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let nonce = self.nonce(self.seq);
        let ciphertext = self
            .provider
            .aes256gcm_seal(&self.key, &nonce, aad, plaintext)?;
        self.next_seq()?;
        Ok(ciphertext)
    }

    /// `ContextR.Open(aad, ct)` (§5.2): decrypts at the current sequence number and advances
    /// only on success.
    pub fn open(&mut self, aad: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let nonce = self.nonce(self.seq);
        let plaintext = self
            .provider
            .aes256gcm_open(&self.key, &nonce, aad, ciphertext)?;
        self.next_seq()?;
        Ok(plaintext)
    }

    /// `Context.Export(exporter_context, L)` (§5.3).
    pub fn export(&self, exporter_context: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, Error> {
        let exporter_secret = self.exporter_secret.as_ref().ok_or(Error::Crypto)?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        labeled_expand(
            self.provider,
            &HPKE_SUITE_ID,
            exporter_secret,
            b"sec",
            exporter_context,
            out.as_mut_slice(),
        )?;
        Ok(out)
    }
}

/// Single-shot `Seal` in base mode (§6.1): returns `enc || ciphertext`.
pub fn seal<P: CryptoProvider + ?Sized>(
    p: &P,
    recipient: &PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let (shared, enc) = encap(p, recipient).map_err(|_| Error::SealFailed)?;
    seal_context(p, &shared, &enc, info, aad, plaintext)
}

/// Single-shot `Seal` with the ephemeral key given (vectors fix it).
pub fn seal_with<P: CryptoProvider + ?Sized>(
    p: &P,
    recipient: &PublicKey,
    ephemeral: &PrivateKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let (shared, enc) = encap_with(p, recipient, ephemeral).map_err(|_| Error::SealFailed)?;
    seal_context(p, &shared, &enc, info, aad, plaintext)
}

fn seal_context<P: CryptoProvider + ?Sized>(
    p: &P,
    shared: &[u8; SECRET_LEN],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut context = key_schedule_with(p, shared, info, false)?;
    let ciphertext = context.seal(aad, plaintext)?;
    let mut sealed = Vec::with_capacity(ENC_LEN + ciphertext.len());
    sealed.extend_from_slice(enc);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Single-shot `Open` in base mode (§6.1) of `enc || ciphertext`. Every failure is
/// [`Error::OpenFailed`].
pub fn open<P: CryptoProvider + ?Sized>(
    p: &P,
    recipient: &PrivateKey,
    info: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if sealed.len() < ENC_LEN + TAG_LEN {
        return Err(Error::OpenFailed);
    }
    let (enc, ciphertext) = sealed.split_at(ENC_LEN);
    let shared = decap(p, enc, recipient).map_err(|_| Error::OpenFailed)?;
    let mut context = key_schedule_with(p, &shared, info, false).map_err(|_| Error::OpenFailed)?;
    context.open(aad, ciphertext).map_err(|_| Error::OpenFailed)
}
