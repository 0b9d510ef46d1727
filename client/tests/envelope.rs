//! Envelopes: seal to every kind of public key and open with `PrivateKey` or `LocalKey`; the
//! JSON and compact forms; and every refusal with its typed error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry_client::suite::{ENC_LEN, MAX_CONTEXT_LEN, MAX_PLAINTEXT_LEN, TAG_LEN};
use ok2cry_client::{
    Envelope, Error, Jwks, KeyId, KeyToken, KeyTokenClaims, LocalKey, PrivateKey, PublicKey,
    TokenSigner,
};
use serde_json::{Value, json};

const PIN: &[u8] = b"1234";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn key() -> PrivateKey {
    PrivateKey::derive_from_ikm(b"envelope test recipient key").unwrap()
}

fn key_id() -> KeyId {
    KeyId::new("n1_envelope-test").unwrap()
}

fn sealed_to_key(context: &str) -> Envelope {
    Envelope::seal_to(&key().public_key(), &key_id(), context, PIN).unwrap()
}

fn open(envelope: &Envelope, context: &str) -> Result<Vec<u8>, Error> {
    key()
        .open(&key_id(), context, envelope)
        .map(|p| p.expose_secret().to_vec())
}

#[test]
fn seal_to_a_verified_key_and_open() {
    let signer = TokenSigner::from_secret_bytes(&[0x33; 32]).unwrap();
    let claims = KeyTokenClaims::new(
        "test",
        key_id(),
        &key().public_key(),
        1000,
        2000,
        1,
        Some("card:7".into()),
    );
    let token = signer.sign(&claims).unwrap();
    let jwks = Jwks {
        keys: vec![signer.public_jwk()],
    };
    let verified = KeyToken::parse(&token)
        .unwrap()
        .verify(&jwks, 1500)
        .unwrap();
    let envelope = Envelope::seal(&verified, PIN).unwrap();
    assert_eq!(envelope.key_id(), &key_id());
    assert_eq!(envelope.context(), Some("card:7"));
    assert_eq!(envelope.sealed().len(), ENC_LEN + PIN.len() + TAG_LEN);
    assert_eq!(open(&envelope, "card:7").unwrap(), PIN);
    // A token without context seals with the empty context, and the envelope says none.
    let claims = KeyTokenClaims::new("test", key_id(), &key().public_key(), 1000, 2000, 1, None);
    let verified = KeyToken::parse(&signer.sign(&claims).unwrap())
        .unwrap()
        .verify(&jwks, 1500)
        .unwrap();
    let envelope = Envelope::seal(&verified, PIN).unwrap();
    assert_eq!(envelope.context(), None);
    assert_eq!(open(&envelope, "").unwrap(), PIN);
}

#[test]
fn seal_to_raw_jwk_and_spki_forms() {
    let public = key().public_key();
    let from_jwk = PublicKey::from_jwk(&public.to_jwk()).unwrap();
    let from_pem = PublicKey::from_spki_pem(&public.to_spki_pem().unwrap()).unwrap();
    let from_sec1 = PublicKey::from_sec1_uncompressed(&public.to_sec1_uncompressed()).unwrap();
    for (name, pk) in [
        ("raw", public.clone()),
        ("jwk", from_jwk),
        ("pem", from_pem),
        ("sec1", from_sec1),
    ] {
        let envelope = Envelope::seal_to(&pk, &key_id(), "ctx", PIN).unwrap();
        assert_eq!(open(&envelope, "ctx").unwrap(), PIN, "{name}");
    }
    // Two seals of one message differ (fresh ephemeral key each time).
    assert_ne!(sealed_to_key("").sealed(), sealed_to_key("").sealed());
}

#[test]
fn local_key_round_trip() {
    let local = LocalKey::generate();
    // The key id is the JWK thumbprint; the JWK names it.
    assert_eq!(local.key_id().as_str(), local.public_key().thumbprint());
    let jwk = local.public_jwk();
    assert_eq!(jwk.kid.as_deref(), Some(local.key_id().as_str()));
    assert_eq!(jwk.use_.as_deref(), Some("enc"));
    // The sender knows only the JWK (e.g. received through a proxy as JSON).
    let received: ok2cry_client::PublicJwk =
        serde_json::from_str(&serde_json::to_string(&jwk).unwrap()).unwrap();
    let public = PublicKey::from_jwk(&received).unwrap();
    let key_id = ok2cry_client::local_key::key_id_for(&public);
    let envelope = Envelope::seal_to(&public, &key_id, "reveal:pan", b"4111111111111111").unwrap();
    let compact = envelope.to_compact();
    let parsed = Envelope::from_compact(&compact).unwrap();
    let pan = local.open("reveal:pan", &parsed).unwrap();
    assert_eq!(pan.expose_secret(), b"4111111111111111");

    // SPKI PEM route, and a LocalKey made from an existing private key.
    let local = LocalKey::from_private(key());
    let public = PublicKey::from_spki_pem(&local.public_spki_pem().unwrap()).unwrap();
    let envelope = Envelope::seal_to(&public, local.key_id(), "", PIN).unwrap();
    assert_eq!(local.open("", &envelope).unwrap().expose_secret(), PIN);

    // A LocalKey refuses an envelope for another key id, and is consumed either way.
    let local = LocalKey::generate();
    let envelope = sealed_to_key("");
    assert_eq!(local.open("", &envelope).err(), Some(Error::KeyIdMismatch));
}

#[test]
fn json_and_compact_round_trips() {
    for context in [
        "",
        "card:42/set-pin",
        "é ü \u{1f511}",
        &"c".repeat(MAX_CONTEXT_LEN),
    ] {
        let envelope = sealed_to_key(context);
        let json = envelope.to_json();
        let from_json = Envelope::from_json(&json).unwrap();
        assert_eq!(from_json, envelope);
        let value = envelope.to_json_value();
        assert_eq!(value, serde_json::from_str::<Value>(&json).unwrap());
        assert_eq!(Envelope::from_json_value(value).unwrap(), envelope);
        let compact = envelope.to_compact();
        assert!(!compact.contains(['=', '+', '/', ' ']));
        let from_compact = Envelope::from_compact(&compact).unwrap();
        assert_eq!(from_compact, envelope);
        assert_eq!(open(&from_compact, context).unwrap(), PIN);
        // Field names and types.
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["version"], json!(1));
        assert_eq!(v["key_id"], json!(key_id().as_str()));
        assert_eq!(v["sealed"], json!(b64(envelope.sealed())));
        if context.is_empty() {
            assert!(v.get("context").is_none());
            assert_eq!(compact.split('.').count(), 3);
        } else {
            assert_eq!(v["context"], json!(context));
            assert_eq!(compact.split('.').count(), 4);
        }
    }
    // Member order and whitespace do not matter in JSON.
    let envelope = sealed_to_key("x");
    let reordered = format!(
        "{{ \"context\" : \"x\",\n \"sealed\": \"{}\", \"key_id\": \"{}\", \"version\": 1 }}",
        b64(envelope.sealed()),
        key_id()
    );
    assert_eq!(Envelope::from_json(&reordered).unwrap(), envelope);
}

#[test]
fn every_flipped_byte_of_sealed_is_refused() {
    let envelope = sealed_to_key("ctx");
    let sealed = envelope.sealed().to_vec();
    for i in 0..sealed.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = sealed.clone();
            bad[i] ^= bit;
            // Raw bytes: always the coarse OpenFailed.
            assert_eq!(
                key().open_sealed(&key_id(), "ctx", &bad).err(),
                Some(Error::OpenFailed),
                "byte {i} bit {bit:#x}"
            );
            // As an envelope: byte 0 (the point form) is refused at parse, the rest at open.
            match Envelope::from_parts(key_id(), bad, Some("ctx".into())) {
                Ok(e) => assert_eq!(open(&e, "ctx"), Err(Error::OpenFailed), "byte {i}"),
                Err(e) => {
                    assert_eq!(i, 0);
                    assert!(matches!(e, Error::Malformed(_)));
                }
            }
        }
    }
}

#[test]
fn wrong_key_key_id_or_context() {
    let envelope = sealed_to_key("ctx");
    let other = PrivateKey::derive_from_ikm(b"another key").unwrap();
    assert_eq!(
        other.open(&key_id(), "ctx", &envelope).err(),
        Some(Error::OpenFailed)
    );
    let other_id = KeyId::new("n1_other").unwrap();
    assert_eq!(
        key().open(&other_id, "ctx", &envelope).err(),
        Some(Error::KeyIdMismatch)
    );
    // Raw bytes under the wrong key id: info differs, decryption fails.
    assert_eq!(
        key().open_sealed(&other_id, "ctx", envelope.sealed()).err(),
        Some(Error::OpenFailed)
    );
    // Envelope names a context other than the opener's record.
    assert_eq!(open(&envelope, "other"), Err(Error::ContextMismatch));
    assert_eq!(open(&envelope, ""), Err(Error::ContextMismatch));
    // Envelope without a context: the opener's context goes into info, and a different one
    // makes decryption fail.
    let stripped = Envelope::from_parts(key_id(), envelope.sealed().to_vec(), None).unwrap();
    assert_eq!(open(&stripped, "other"), Err(Error::OpenFailed));
    assert_eq!(open(&stripped, ""), Err(Error::OpenFailed));
    assert_eq!(open(&stripped, "ctx").unwrap(), PIN);
    // An envelope that claims a context it was not sealed with.
    let lying =
        Envelope::from_parts(key_id(), envelope.sealed().to_vec(), Some("x".into())).unwrap();
    assert_eq!(open(&lying, "x"), Err(Error::OpenFailed));
    // Re-addressing an envelope to another key id does not help either.
    let readdressed =
        Envelope::from_parts(other_id.clone(), envelope.sealed().to_vec(), None).unwrap();
    assert_eq!(
        key().open(&other_id, "ctx", &readdressed).err(),
        Some(Error::OpenFailed)
    );
}

#[test]
fn truncation_at_every_length() {
    let envelope = sealed_to_key("");
    let sealed = envelope.sealed();
    for n in 0..sealed.len() {
        let cut = &sealed[..n];
        assert_eq!(
            key().open_sealed(&key_id(), "", cut).err(),
            Some(Error::OpenFailed),
            "length {n}"
        );
        // Shorter than enc || tag || one byte: refused at parse.
        match Envelope::from_parts(key_id(), cut.to_vec(), None) {
            Ok(e) => {
                assert!(n > ENC_LEN + TAG_LEN);
                assert_eq!(open(&e, ""), Err(Error::OpenFailed));
            }
            Err(e) => {
                assert!(n <= ENC_LEN + TAG_LEN || n == 0, "length {n}");
                assert!(matches!(e, Error::Malformed(_)));
            }
        }
        let json = json!({"version": 1, "key_id": key_id().as_str(), "sealed": b64(cut)});
        let compact = format!("v1.{}.{}", key_id(), b64(cut));
        for parsed in [
            Envelope::from_json(&json.to_string()),
            Envelope::from_compact(&compact),
        ] {
            match parsed {
                Ok(e) => assert_eq!(open(&e, ""), Err(Error::OpenFailed), "length {n}"),
                Err(e) => assert!(matches!(e, Error::Malformed(_)), "length {n}"),
            }
        }
    }
    // Extended by one byte.
    let longer = [sealed, &[0u8]].concat();
    assert_eq!(
        key().open_sealed(&key_id(), "", &longer).err(),
        Some(Error::OpenFailed)
    );
}

#[test]
fn bad_base64_unknown_fields_and_versions() {
    let envelope = sealed_to_key("ctx");
    let good = envelope.to_json_value();
    let sealed = b64(envelope.sealed());
    let with = |name: &str, value: Value| {
        let mut v = good.clone();
        v[name] = value;
        Envelope::from_json(&v.to_string())
    };
    for bad in [
        format!("{sealed}="),
        format!("+{}", &sealed[1..]),
        format!("/{}", &sealed[1..]),
        format!("{} {}", &sealed[..8], &sealed[8..]),
        sealed[..sealed.len() - 1].to_owned(),
        String::new(),
    ] {
        assert!(
            matches!(with("sealed", json!(bad)), Err(Error::Malformed(_))),
            "{bad}"
        );
    }
    // Unknown members, wrong types, missing members.
    assert!(matches!(with("extra", json!(1)), Err(Error::Malformed(_))));
    assert!(matches!(
        with("enc", json!("AAAA")),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        with("version", json!("1")),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        with("sealed", json!(null)),
        Err(Error::Malformed(_))
    ));
    for name in ["version", "key_id", "sealed"] {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(name);
        assert!(
            matches!(
                Envelope::from_json(&v.to_string()),
                Err(Error::Malformed(_))
            ),
            "{name}"
        );
    }
    // Versions.
    assert_eq!(with("version", json!(2)), Err(Error::UnsupportedVersion));
    assert_eq!(with("version", json!(0)), Err(Error::UnsupportedVersion));
    // Any integer other than 1 is a version this receiver does not implement (§10.3 step 2);
    // beyond 2^53 − 1 it is not an integer of the protocol.
    assert_eq!(with("version", json!(256)), Err(Error::UnsupportedVersion));
    assert!(matches!(
        with("version", json!(1u64 << 53)),
        Err(Error::Malformed(_))
    ));
    // Key ids and contexts.
    assert_eq!(with("key_id", json!("a.b")), Err(Error::InvalidKeyId));
    assert_eq!(with("key_id", json!("")), Err(Error::InvalidKeyId));
    assert_eq!(
        with("context", json!("x".repeat(MAX_CONTEXT_LEN + 1))),
        Err(Error::ContextTooLong)
    );
    // Duplicate members.
    let dup = format!(
        r#"{{"version":1,"key_id":"{}","key_id":"n1_other","sealed":"{sealed}"}}"#,
        key_id()
    );
    assert!(matches!(
        Envelope::from_json(&dup),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        Envelope::from_json("[]"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(Envelope::from_json(""), Err(Error::Malformed(_))));

    // Compact form.
    let compact = envelope.to_compact();
    let ctx = b64(b"ctx");
    assert_eq!(
        Envelope::from_compact(&format!("v2.{}.{sealed}", key_id())),
        Err(Error::UnsupportedVersion)
    );
    for bad in [
        format!("{compact}.{ctx}"),
        format!("{compact}.."),
        format!("v1.{}", key_id()),
        "v1".to_owned(),
        String::new(),
        format!("V1.{}.{sealed}", key_id()),
        format!("1.{}.{sealed}", key_id()),
        format!("v1.{}.{sealed}=", key_id()),
        format!("v1.{}.{sealed}.{ctx}=", key_id()),
        format!("v1.{}.{sealed}.{}", key_id(), b64(&[0xff, 0xfe])),
        format!("v1..{sealed}"),
    ] {
        let e = Envelope::from_compact(&bad);
        assert!(
            matches!(e, Err(Error::Malformed(_) | Error::InvalidKeyId)),
            "{bad}: {e:?}"
        );
    }
    assert_eq!(
        Envelope::from_compact(&format!("v1.a$b.{sealed}")),
        Err(Error::InvalidKeyId)
    );
}

#[test]
fn plaintext_and_context_sizes() {
    let public = key().public_key();
    assert_eq!(
        Envelope::seal_to(&public, &key_id(), "", b"").err(),
        Some(Error::PlaintextSize)
    );
    let too_big = vec![0x41; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(
        Envelope::seal_to(&public, &key_id(), "", &too_big).err(),
        Some(Error::PlaintextSize)
    );
    let biggest = vec![0x41; MAX_PLAINTEXT_LEN];
    let envelope = Envelope::seal_to(&public, &key_id(), "", &biggest).unwrap();
    assert_eq!(open(&envelope, "").unwrap(), biggest);
    let smallest = Envelope::seal_to(&public, &key_id(), "", b"x").unwrap();
    assert_eq!(open(&smallest, "").unwrap(), b"x");
    // An over-long sealed string is refused at parse.
    let mut huge = envelope.sealed().to_vec();
    huge.push(0);
    assert!(matches!(
        Envelope::from_parts(key_id(), huge, None),
        Err(Error::Malformed(_))
    ));
    assert_eq!(
        Envelope::seal_to(&public, &key_id(), &"c".repeat(MAX_CONTEXT_LEN + 1), PIN).err(),
        Some(Error::ContextTooLong)
    );
}
