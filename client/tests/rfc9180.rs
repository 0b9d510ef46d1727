//! The official RFC 9180 test vectors for the one suite of protocol v1 (DHKEM(P-256,
//! HKDF-SHA256), HKDF-SHA256, AES-256-GCM), read from
//! `../shared/vectors/hpke/rfc9180-p256-hkdfsha256-aes256gcm.json` (provenance in
//! `shared/vectors/README.md`; `OK2CRY_SHARED` overrides the `shared` directory).
//!
//! Checked for every base-mode (mode 0) vector:
//! - `DeriveKeyPair(ikmR)` and `DeriveKeyPair(ikmE)` through our [`PrivateKey::derive_from_ikm`]
//!   and public-key conversions give skRm/pkRm and skEm/pkEm;
//! - Encap with the vector's ephemeral key gives `enc` and `shared_secret` (both through the
//!   `hpke` crate and through the independent implementation in `support/`, which the vector
//!   generator relies on);
//! - the key schedule (key_schedule_context, secret, key, base_nonce, exporter_secret);
//! - all 257 encryptions: sealed in sequence by the `hpke` crate's sender context, opened in
//!   sequence by its receiver context (made from our `PrivateKey`), and re-sealed by the
//!   independent AES-256-GCM path at each sequence number;
//! - every export;
//! - must-fail: a flipped bit anywhere in each ciphertext, a wrong AAD, a wrong info and a
//!   wrong sequence number all make opening fail.
//!
//! The vectors' AADs are not empty, so our envelope API (empty AAD by design) cannot open them;
//! `PrivateKey::open_sealed` is instead checked on a message sealed, with the vector's own
//! recipient and ephemeral keys, under an ok2cry `info`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use ok2cry_client::suite::{Aead, Kdf, Kem};
use ok2cry_client::{KeyId, PrivateKey, PublicKey};
use support::rfc9180_vectors::{BASE_MODE_VECTORS, ENCRYPTIONS_PER_VECTOR};
use support::{FixedRng, unhex};

fn hpke_sk(key: &PrivateKey) -> <Kem as hpke::Kem>::PrivateKey {
    <Kem as hpke::Kem>::PrivateKey::from_bytes(key.to_secret_bytes().as_slice()).unwrap()
}

fn hpke_pk(bytes: &[u8]) -> <Kem as hpke::Kem>::PublicKey {
    <Kem as hpke::Kem>::PublicKey::from_bytes(bytes).unwrap()
}

#[test]
fn derive_key_pair_matches_through_our_types() {
    for v in support::rfc9180_vectors::base_mode() {
        for (ikm, sk, pk) in [
            (&v.ikm_r, &v.sk_rm, &v.pk_rm),
            (&v.ikm_e, &v.sk_em, &v.pk_em),
        ] {
            let key = PrivateKey::derive_from_ikm(&unhex(ikm)).unwrap();
            assert_eq!(key.to_secret_bytes().as_slice(), unhex(sk).as_slice());
            assert_eq!(key.public_key().to_sec1_uncompressed(), unhex(pk));
            // Round trips through every public-key form we accept.
            let public = PublicKey::from_sec1_uncompressed(&unhex(pk)).unwrap();
            assert_eq!(public, key.public_key());
            assert_eq!(PublicKey::from_jwk(&public.to_jwk()).unwrap(), public);
            assert_eq!(
                PublicKey::from_spki_pem(&public.to_spki_pem().unwrap()).unwrap(),
                public
            );
            // The independent DeriveKeyPair agrees too (the generator uses it).
            assert_eq!(
                support::derive_key_pair(&unhex(ikm)),
                (unhex(sk), unhex(pk))
            );
        }
    }
}

#[test]
fn encap_with_the_vector_ephemeral_key() {
    for v in support::rfc9180_vectors::base_mode() {
        let pk_r = hpke_pk(&unhex(&v.pk_rm));
        // hpke crate: its ephemeral key is DeriveKeyPair(32 bytes from the RNG) = DeriveKeyPair(ikmE).
        let mut rng = FixedRng::new(&unhex(&v.ikm_e));
        let (shared, enc) = Kem::encap_with_rng(&pk_r, None, &mut rng).unwrap();
        assert!(rng.exhausted());
        assert_eq!(enc.to_bytes().as_slice(), unhex(&v.enc).as_slice());
        assert_eq!(v.enc, v.pk_em, "base mode: enc is pkEm");
        assert_eq!(shared.0.as_slice(), unhex(&v.shared_secret).as_slice());
        // Decap with our PrivateKey gives the same shared secret.
        let sk_r = PrivateKey::derive_from_ikm(&unhex(&v.ikm_r)).unwrap();
        let decapped = Kem::decap(&hpke_sk(&sk_r), None, &enc).unwrap();
        assert_eq!(decapped.0.as_slice(), unhex(&v.shared_secret).as_slice());
        // Independent Encap (p256 ECDH + HKDF, from the RFC text).
        let (shared2, enc2) = support::dhkem_encap_with(&unhex(&v.sk_em), &unhex(&v.pk_rm));
        assert_eq!(enc2, unhex(&v.enc));
        assert_eq!(shared2, unhex(&v.shared_secret));
    }
}

#[test]
fn key_schedule_and_exports() {
    for v in support::rfc9180_vectors::base_mode() {
        let ks = support::key_schedule_base(&unhex(&v.shared_secret), &unhex(&v.info));
        assert_eq!(ks.key_schedule_context, unhex(&v.key_schedule_context));
        assert_eq!(ks.secret, unhex(&v.secret));
        assert_eq!(ks.key, unhex(&v.key));
        assert_eq!(ks.base_nonce, unhex(&v.base_nonce));
        assert_eq!(ks.exporter_secret, unhex(&v.exporter_secret));

        // Exports through both hpke contexts and the independent exporter.
        let sk_r = PrivateKey::derive_from_ikm(&unhex(&v.ikm_r)).unwrap();
        let receiver = hpke::setup_receiver::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &hpke_sk(&sk_r),
            &<Kem as hpke::Kem>::EncappedKey::from_bytes(&unhex(&v.enc)).unwrap(),
            &unhex(&v.info),
        )
        .unwrap();
        let mut rng = FixedRng::new(&unhex(&v.ikm_e));
        let (_, sender) = hpke::setup_sender_with_rng::<Aead, Kdf, Kem>(
            &OpModeS::Base,
            &hpke_pk(&unhex(&v.pk_rm)),
            &unhex(&v.info),
            &mut rng,
        )
        .unwrap();
        assert!(!v.exports.is_empty());
        for e in &v.exports {
            let want = unhex(&e.exported_value);
            let mut out = vec![0u8; e.len];
            receiver
                .export(&unhex(&e.exporter_context), &mut out)
                .unwrap();
            assert_eq!(out, want);
            let mut out = vec![0u8; e.len];
            sender
                .export(&unhex(&e.exporter_context), &mut out)
                .unwrap();
            assert_eq!(out, want);
            assert_eq!(ks.export(&unhex(&e.exporter_context), e.len), want);
        }
    }
}

#[test]
fn all_encryptions_seal_and_open_in_sequence() {
    let mut checked = 0usize;
    for v in support::rfc9180_vectors::base_mode() {
        let info = unhex(&v.info);
        let ks = support::key_schedule_base(&unhex(&v.shared_secret), &info);
        let mut rng = FixedRng::new(&unhex(&v.ikm_e));
        let (enc, mut sender) = hpke::setup_sender_with_rng::<Aead, Kdf, Kem>(
            &OpModeS::Base,
            &hpke_pk(&unhex(&v.pk_rm)),
            &info,
            &mut rng,
        )
        .unwrap();
        assert_eq!(enc.to_bytes().as_slice(), unhex(&v.enc).as_slice());
        let sk_r = PrivateKey::derive_from_ikm(&unhex(&v.ikm_r)).unwrap();
        let mut receiver =
            hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &hpke_sk(&sk_r), &enc, &info)
                .unwrap();
        for (seq, e) in v.encryptions.iter().enumerate() {
            let (aad, pt, ct) = (unhex(&e.aad), unhex(&e.pt), unhex(&e.ct));
            assert_eq!(ks.nonce(seq as u64), unhex(&e.nonce), "nonce {seq}");
            assert_eq!(sender.seal(&pt, &aad).unwrap(), ct, "hpke seal {seq}");
            assert_eq!(receiver.open(&ct, &aad).unwrap(), pt, "hpke open {seq}");
            assert_eq!(ks.seal(seq as u64, &aad, &pt), ct, "independent seal {seq}");
            checked += 1;
        }
    }
    assert_eq!(checked, BASE_MODE_VECTORS * ENCRYPTIONS_PER_VECTOR);
}

#[test]
fn single_shot_open_of_the_first_encryption() {
    for v in support::rfc9180_vectors::base_mode() {
        let sk_r = PrivateKey::derive_from_ikm(&unhex(&v.ikm_r)).unwrap();
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&unhex(&v.enc)).unwrap();
        let first = &v.encryptions[0];
        assert!(
            !first.aad.is_empty(),
            "the vectors use a non-empty AAD; if this changes, open through our API instead"
        );
        let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &hpke_sk(&sk_r),
            &enc,
            &unhex(&v.info),
            &unhex(&first.ct),
            &unhex(&first.aad),
        )
        .unwrap();
        assert_eq!(pt, unhex(&first.pt));
    }
}

/// Our own open path with the vector's keys: the vector's recipient key, its ephemeral key
/// (so `enc` is the vector's `enc`) and its first plaintext, under an ok2cry `info`.
#[test]
fn our_open_sealed_with_the_vector_keys() {
    for v in support::rfc9180_vectors::base_mode() {
        let sk_r = PrivateKey::derive_from_ikm(&unhex(&v.ikm_r)).unwrap();
        let key_id = KeyId::new("rfc9180_base").unwrap();
        let info = ok2cry_client::suite::info(&key_id, "vector");
        let pt = unhex(&v.encryptions[0].pt);
        let sealed =
            support::hpke_seal_deterministic(&unhex(&v.pk_rm), &info, &pt, &unhex(&v.ikm_e));
        assert_eq!(sealed[..65], unhex(&v.enc)[..]);
        assert_eq!(
            sealed,
            support::independent_seal(&unhex(&v.pk_rm), &info, &pt, &unhex(&v.ikm_e))
        );
        let opened = sk_r.open_sealed(&key_id, "vector", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), pt.as_slice());
        assert!(sk_r.open_sealed(&key_id, "other", &sealed).is_err());
    }
}

#[test]
fn must_fail_flipped_bits_wrong_aad_info_and_sequence() {
    let mut failures = 0usize;
    for v in support::rfc9180_vectors::base_mode() {
        let info = unhex(&v.info);
        let sk_r = PrivateKey::derive_from_ikm(&unhex(&v.ikm_r)).unwrap();
        let sk = hpke_sk(&sk_r);
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&unhex(&v.enc)).unwrap();
        let fresh = |info: &[u8]| {
            hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, info).unwrap()
        };
        // The receiver context advances only on success, so one context walks the sequence and
        // every failed attempt is made at the right sequence number.
        let mut receiver = fresh(&info);
        let mut wrong_info = info.clone();
        wrong_info.push(0x00);
        // The hpke crate cannot be moved to sequence n without n successful opens, so wrong
        // info at every sequence number is checked with the independent key schedule, and at
        // sequence 0 with the crate.
        let wrong_ks = support::key_schedule_base(&unhex(&v.shared_secret), &wrong_info);
        let first = &v.encryptions[0];
        assert!(
            fresh(&wrong_info)
                .open(&unhex(&first.ct), &unhex(&first.aad))
                .is_err()
        );
        let right_ks = support::key_schedule_base(&unhex(&v.shared_secret), &info);
        for (seq, e) in v.encryptions.iter().enumerate() {
            let (aad, pt, ct) = (unhex(&e.aad), unhex(&e.pt), unhex(&e.ct));
            // One flipped bit in every byte, cycling through the bit positions.
            for i in 0..ct.len() {
                let mut bad = ct.clone();
                bad[i] ^= 1 << ((i + seq) % 8);
                assert!(receiver.open(&bad, &aad).is_err(), "flip {seq}/{i}");
                failures += 1;
            }
            // Truncated ciphertext.
            assert!(receiver.open(&ct[..ct.len() - 1], &aad).is_err());
            // Wrong AAD: changed, extended, empty.
            let mut bad_aad = aad.clone();
            bad_aad[0] ^= 0x01;
            assert!(receiver.open(&ct, &bad_aad).is_err());
            assert!(
                receiver
                    .open(&ct, &[aad.as_slice(), b"x"].concat())
                    .is_err()
            );
            assert!(receiver.open(&ct, b"").is_err());
            // Wrong info.
            assert!(wrong_ks.open(seq as u64, &aad, &ct).is_none());
            assert_eq!(right_ks.open(seq as u64, &aad, &ct), Some(pt.clone()));
            // Wrong sequence: the next message, and (after the first) the previous one.
            if let Some(next) = v.encryptions.get(seq + 1) {
                assert!(receiver.open(&unhex(&next.ct), &unhex(&next.aad)).is_err());
                failures += 1;
            }
            if seq > 0 {
                let prev = &v.encryptions[seq - 1];
                assert!(receiver.open(&unhex(&prev.ct), &unhex(&prev.aad)).is_err());
                failures += 1;
            }
            failures += 5;
            // And the real one still opens at this sequence number.
            assert_eq!(receiver.open(&ct, &aad).unwrap(), pt, "seq {seq}");
        }
        // Out of order from a fresh context: message 1 at sequence 0.
        let second = &v.encryptions[1];
        assert!(
            fresh(&info)
                .open(&unhex(&second.ct), &unhex(&second.aad))
                .is_err()
        );
        // A different enc (another valid point) cannot open it either.
        let other = PrivateKey::derive_from_ikm(b"another ephemeral key for this test").unwrap();
        let other_enc =
            <Kem as hpke::Kem>::EncappedKey::from_bytes(&other.public_key().to_sec1_uncompressed())
                .unwrap();
        let first = &v.encryptions[0];
        assert!(
            hpke::single_shot_open::<Aead, Kdf, Kem>(
                &OpModeR::Base,
                &sk,
                &other_enc,
                &info,
                &unhex(&first.ct),
                &unhex(&first.aad),
            )
            .is_err()
        );
    }
    assert!(failures > ENCRYPTIONS_PER_VECTOR * 16);
}
