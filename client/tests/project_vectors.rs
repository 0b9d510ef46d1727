//! The project's own vectors, `tests/vectors/protocol-v1.json`: every seal vector opens and
//! re-derives, the key token verifies at the stated time, every must-fail case fails with the
//! stated error, and the file is exactly what the generator makes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ok2cry_client::{Envelope, Jwks, KeyId, KeyToken, PrivateKey, PublicJwk, PublicKey};
use serde_json::Value;
use support::generate::{error_name, open_case};
use support::unhex;

fn file() -> Value {
    let path = support::project_vectors_dir().join("protocol-v1.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[test]
fn the_file_is_what_the_generator_makes() {
    assert!(
        file() == support::generate::generate(),
        "tests/vectors/protocol-v1.json is stale: run \
         `cargo run -p ok2cry-client --example gen_vectors > tests/vectors/protocol-v1.json`"
    );
}

#[test]
fn seal_vectors_open_and_rederive() {
    let f = file();
    let seals = f["seal"].as_array().unwrap();
    assert!(seals.len() >= 4);
    for v in seals {
        let name = s(v, "name");
        let key = PrivateKey::derive_from_ikm(&unhex(s(v, "ikmR"))).unwrap();
        assert_eq!(
            key.to_secret_bytes().as_slice(),
            unhex(s(v, "skRm")).as_slice(),
            "{name}"
        );
        assert_eq!(
            key.public_key().to_sec1_uncompressed(),
            unhex(s(v, "pkRm")),
            "{name}"
        );
        let jwk: PublicJwk = serde_json::from_value(v["recipient_jwk"].clone()).unwrap();
        assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), key.public_key());
        assert_eq!(jwk.thumbprint(), s(v, "recipient_jwk_thumbprint"));
        let key_id = KeyId::new(s(v, "key_id")).unwrap();
        let context = s(v, "context");
        if !key_id.as_str().contains('_') {
            // An end user's local key: the key id is the JWK thumbprint.
            assert_eq!(key_id.as_str(), key.public_key().thumbprint(), "{name}");
        }
        // info, byte for byte.
        let info = ok2cry_client::suite::info(&key_id, context);
        assert_eq!(info, unhex(s(v, "info")), "{name}");
        let mut expected = b"ok2cry/v1\0".to_vec();
        expected.extend_from_slice(key_id.as_str().as_bytes());
        expected.push(0);
        expected.extend_from_slice(context.as_bytes());
        assert_eq!(info, expected);
        // sealed = enc || ciphertext, enc = pk(DeriveKeyPair(ikmE)).
        let sealed = unhex(s(v, "sealed"));
        assert_eq!(sealed[..65], unhex(s(v, "enc"))[..]);
        assert_eq!(sealed[65..], unhex(s(v, "ciphertext"))[..]);
        let eph = PrivateKey::derive_from_ikm(&unhex(s(v, "ikmE"))).unwrap();
        assert_eq!(eph.public_key().to_sec1_uncompressed(), unhex(s(v, "enc")));
        // Re-sealing with the same ephemeral key reproduces the bytes (two implementations).
        let plaintext = unhex(s(v, "plaintext"));
        let pk = unhex(s(v, "pkRm"));
        let ikm_e = unhex(s(v, "ikmE"));
        assert_eq!(
            support::hpke_seal_deterministic(&pk, &info, &plaintext, &ikm_e),
            sealed
        );
        assert_eq!(
            support::independent_seal(&pk, &info, &plaintext, &ikm_e),
            sealed
        );
        // Open: raw, JSON and compact.
        let opened = key.open_sealed(&key_id, context, &sealed).unwrap();
        assert_eq!(opened.expose_secret(), plaintext.as_slice(), "{name}");
        let from_json = Envelope::from_json(s(v, "envelope_json")).unwrap();
        let from_compact = Envelope::from_compact(s(v, "envelope_compact")).unwrap();
        assert_eq!(from_json, from_compact);
        assert_eq!(from_json.sealed(), sealed.as_slice());
        assert_eq!(from_json.key_id(), &key_id);
        assert_eq!(from_json.context().unwrap_or(""), context);
        assert_eq!(
            s(v, "sealed_b64url"),
            s(v, "envelope_compact").split('.').nth(2).unwrap()
        );
        for envelope in [from_json, from_compact] {
            let opened = key.open(&key_id, context, &envelope).unwrap();
            assert_eq!(opened.expose_secret(), plaintext.as_slice(), "{name}");
        }
        // The intermediate values of the independent key schedule.
        let ks = support::key_schedule_base(&unhex(s(v, "shared_secret")), &info);
        assert_eq!(ks.key, unhex(s(v, "key")));
        assert_eq!(ks.base_nonce, unhex(s(v, "base_nonce")));
    }
}

#[test]
fn key_token_verifies_at_the_stated_time() {
    let f = file();
    let t = &f["key_token"];
    let jwks: Jwks = serde_json::from_value(t["jwks"].clone()).unwrap();
    let now = t["now"].as_u64().unwrap();
    let token = KeyToken::parse(s(t, "token")).unwrap();
    let verified = token.verify(&jwks, now).unwrap();
    assert_eq!(verified.key_id().as_str(), s(t, "verified_key_id"));
    assert_eq!(verified.context(), s(t, "verified_context"));
    // The signing key: DeriveKeyPair(signing_ikm); kid = RFC 7638 thumbprint.
    let signing = PrivateKey::derive_from_ikm(&unhex(s(t, "signing_ikm"))).unwrap();
    assert_eq!(
        signing.to_secret_bytes().as_slice(),
        unhex(s(t, "signing_sk")).as_slice()
    );
    assert_eq!(verified.signing_kid(), signing.public_key().thumbprint());
    assert_eq!(jwks.keys[0].alg.as_deref(), Some("ES256"));
    assert_eq!(jwks.keys[0].use_.as_deref(), Some("sig"));
    // The token's key is the first seal vector's recipient, and sealing to it opens there.
    let seal = &f["seal"][t["seal_vector"].as_u64().unwrap() as usize];
    assert_eq!(
        verified.public_key().to_sec1_uncompressed(),
        unhex(s(seal, "pkRm"))
    );
    assert_eq!(verified.key_id().as_str(), s(seal, "key_id"));
    let envelope = Envelope::seal(&verified, b"5678").unwrap();
    let key = PrivateKey::derive_from_ikm(&unhex(s(seal, "ikmR"))).unwrap();
    let opened = key
        .open(verified.key_id(), s(seal, "context"), &envelope)
        .unwrap();
    assert_eq!(opened.expose_secret(), b"5678");
    // Header and claims as stored.
    let header = &t["header"];
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "ok2cry-key+jwt");
    assert_eq!(
        t["claims"],
        serde_json::to_value(verified.claims()).unwrap()
    );
}

#[test]
fn every_must_fail_case_fails_as_stated() {
    let f = file();
    let jwks: Jwks = serde_json::from_value(f["key_token"]["jwks"].clone()).unwrap();
    let cases = f["must_fail"].as_array().unwrap();
    let (mut open, mut token) = (0, 0);
    for c in cases {
        let name = s(c, "name");
        let want = s(c, "error");
        let got = match s(c, "kind") {
            "open" => {
                open += 1;
                open_case(c).map(|_| ())
            }
            "token" => {
                token += 1;
                KeyToken::parse(s(c, "token"))
                    .and_then(|t| t.verify(&jwks, c["now"].as_u64().unwrap()))
                    .map(|_| ())
            }
            other => panic!("unknown kind {other}"),
        };
        match got {
            Ok(()) => panic!("must-fail case succeeded: {name}"),
            Err(e) => assert_eq!(error_name(&e), want, "{name}"),
        }
    }
    assert!(open >= 15, "{open}");
    assert!(token >= 15, "{token}");
}

/// Envelopes sealed by Python `cryptography` (tests/vectors/python_seal.py) to the recipients of
/// the vectors: an implementation we did not write, sealing from the public JWK only.
#[test]
fn envelopes_sealed_by_python_cryptography_open() {
    let path = support::project_vectors_dir().join("python-cryptography.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let py: Value = serde_json::from_str(&text).unwrap();
    let f = file();
    let envelopes = py["envelopes"].as_array().unwrap();
    assert_eq!(envelopes.len(), f["seal"].as_array().unwrap().len());
    for e in envelopes {
        let v = &f["seal"][e["seal_vector"].as_u64().unwrap() as usize];
        let key = PrivateKey::derive_from_ikm(&unhex(s(v, "ikmR"))).unwrap();
        let key_id = KeyId::new(s(v, "key_id")).unwrap();
        let envelope = Envelope::from_json_value(e["envelope"].clone()).unwrap();
        let opened = key.open(&key_id, s(v, "context"), &envelope).unwrap();
        assert_eq!(opened.expose_secret(), unhex(s(e, "plaintext")).as_slice());
        // And not under another context.
        assert!(
            key.open_sealed(&key_id, "other", envelope.sealed())
                .is_err()
        );
    }
}
