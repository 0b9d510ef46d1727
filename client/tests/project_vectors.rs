//! The project's own vectors, `tests/vectors/protocol-v1.json`: every seal vector opens and
//! re-derives, the key token verifies at the stated time, every must-fail case fails with the
//! stated error, every must-pass case opens or verifies, and the file is exactly what the
//! generator makes. And the vectors have teeth: a base64url decoder that accepts padding or
//! non-zero unused bits, or a JSON reader that keeps the last (or the first) of duplicate
//! members, opens or verifies at least one must-fail case.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use base64ct::Encoding;
use ok2cry_client::provider;
use ok2cry_client::{Envelope, Jwks, KeyId, KeyToken, PrivateKey, PublicJwk, PublicKey};
use serde_json::Value;
use support::generate::{error_name, open_case, open_case_with, token_case, token_case_with};
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

/// The error names of docs/PROTOCOL.md §11.
const ERROR_NAMES: [&str; 18] = [
    "Malformed",
    "InvalidKeyId",
    "ContextTooLong",
    "PlaintextSize",
    "UnsupportedVersion",
    "UnsupportedSuite",
    "InvalidPublicKey",
    "InvalidPrivateKey",
    "UnsupportedAlgorithm",
    "WrongTokenType",
    "UnknownSigningKey",
    "BadSignature",
    "Expired",
    "NotYetValid",
    "KeyIdMismatch",
    "ContextMismatch",
    "OpenFailed",
    "SealFailed",
];

/// Runs one case as a receiver does.
fn run(c: &Value, jwks: &Jwks) -> Result<(), ok2cry_client::Error> {
    match s(c, "kind") {
        "open" => open_case(c).map(|_| ()),
        "token" => token_case(c, jwks).map(|_| ()),
        other => panic!("unknown kind {other}"),
    }
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
        assert!(ERROR_NAMES.contains(&want), "{name}: {want}");
        assert!(s(c, "section").starts_with('§'), "{name}");
        match s(c, "kind") {
            "open" => open += 1,
            _ => token += 1,
        }
        match run(c, &jwks) {
            Ok(()) => panic!("must-fail case succeeded: {name}"),
            Err(e) => assert_eq!(error_name(&e), want, "{name}"),
        }
    }
    assert!(open >= 60, "{open}");
    assert!(token >= 80, "{token}");
    // Names are unique, so a report can name the case.
    let mut names: Vec<&str> = cases.iter().map(|c| s(c, "name")).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len());
}

#[test]
fn every_must_pass_case_opens_or_verifies() {
    let f = file();
    let jwks: Jwks = serde_json::from_value(f["key_token"]["jwks"].clone()).unwrap();
    let cases = f["must_pass"].as_array().unwrap();
    assert!(cases.len() >= 20, "{}", cases.len());
    for c in cases {
        let name = s(c, "name");
        assert!(s(c, "section").starts_with('§'), "{name}");
        match s(c, "kind") {
            "open" => {
                let opened = open_case(c).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(opened, unhex(s(c, "plaintext")), "{name}");
            }
            "token" => {
                let verified = token_case(c, &jwks).unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(verified.key_id().as_str(), s(c, "key_id"), "{name}");
                assert_eq!(verified.context(), s(c, "context"), "{name}");
            }
            other => panic!("unknown kind {other}"),
        }
    }
}

/// Every must-fail and must-pass case with each crypto provider (RustCrypto, and AWS-LC when
/// the workspace builds it): the protocol's rules do not depend on the provider.
#[test]
fn every_case_holds_with_every_provider() {
    let f = file();
    let jwks: Jwks = serde_json::from_value(f["key_token"]["jwks"].clone()).unwrap();
    let providers = provider::all();
    assert_eq!(
        providers.len(),
        if cfg!(feature = "aws-lc") { 2 } else { 1 }
    );
    for p in providers {
        let run = |c: &Value| match s(c, "kind") {
            "open" => open_case_with(p, c).map(|_| ()),
            _ => token_case_with(p, c, &jwks).map(|_| ()),
        };
        for c in f["must_fail"].as_array().unwrap() {
            let got = run(c).err().map(|e| error_name(&e));
            assert_eq!(got, Some(s(c, "error")), "{}: {}", p.name(), s(c, "name"));
        }
        for c in f["must_pass"].as_array().unwrap() {
            assert_eq!(run(c), Ok(()), "{}: {}", p.name(), s(c, "name"));
        }
    }
}

/// How a lenient base64url decoder reads `text`: `None` if even it refuses. `padding`: it
/// accepts (correct) `=` padding; `trailing_bits`: it ignores the unused bits of the last
/// character. Both are what e.g. the JDK's URL decoder does.
fn lenient_b64(text: &str, padding: bool, trailing_bits: bool) -> Option<Vec<u8>> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let body = if padding && text.len().is_multiple_of(4) {
        text.trim_end_matches('=')
    } else {
        text
    };
    if body.len() % 4 == 1 || text.len() - body.len() > 2 {
        return None;
    }
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in body.chars() {
        bits = (bits << 6) | ALPHABET.find(c)? as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    if bits != 0 && !trailing_bits {
        return None;
    }
    Some(out)
}

/// The case with every base64url text a lenient decoder can read replaced by the canonical
/// text of the same bytes: what the rest of a receiver sees behind such a decoder. Only parts
/// outside signed bytes are rewritten (sealed and context of envelopes, the signature part of
/// tokens), so that the rewrite itself cannot make a case pass or fail.
fn behind_lenient_decoder(c: &Value, padding: bool, trailing_bits: bool) -> Value {
    let canonical = |text: &str| {
        lenient_b64(text, padding, trailing_bits)
            .map(|bytes| base64ct::Base64UrlUnpadded::encode_string(&bytes))
            .unwrap_or_else(|| text.to_owned())
    };
    let mut c = c.clone();
    match (s(&c, "kind"), c["form"].as_str()) {
        ("open", Some("compact")) => {
            let input = s(&c, "input").to_owned();
            let mut parts: Vec<String> = input.split('.').map(str::to_owned).collect();
            for part in parts.iter_mut().skip(2) {
                *part = canonical(part);
            }
            c["input"] = Value::String(parts.join("."));
        }
        ("open", Some("json")) => {
            if let Ok(mut v) = serde_json::from_str::<Value>(s(&c, "input"))
                && let Some(sealed) = v.get("sealed").and_then(Value::as_str)
            {
                v["sealed"] = Value::String(canonical(sealed));
                c["input"] = Value::String(v.to_string());
            }
        }
        ("token", _) => {
            let token = s(&c, "token").to_owned();
            if let Some((input, signature)) = token.rsplit_once('.') {
                c["token"] = Value::String(format!("{input}.{}", canonical(signature)));
            }
        }
        _ => {}
    }
    c
}

/// A JSON text as a reader that keeps one of duplicate members would pass it on.
fn behind_lenient_json(text: &str, keep_last: bool) -> Option<String> {
    let value: Value = if keep_last {
        serde_json::from_str(text).ok()?
    } else {
        first_wins(text)?
    };
    Some(value.to_string())
}

/// Reads JSON keeping the first of duplicate members.
fn first_wins(text: &str) -> Option<Value> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    struct FirstWins;
    impl<'de> serde::de::DeserializeSeed<'de> for FirstWins {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for FirstWins {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(v.into())
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(v.into())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(v.into())
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(v.into())
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element_seed(FirstWins)? {
                out.push(v);
            }
            Ok(Value::Array(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value_seed(FirstWins)?;
                out.entry(k).or_insert(v);
            }
            Ok(Value::Object(out))
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(FirstWins, &mut de).ok()
}

/// The case as a receiver whose JSON reader keeps the last (or first) duplicate sees it: the
/// JSON envelope and the JWK set (neither is signed) are passed on rewritten.
fn behind_lenient_json_reader(c: &Value, keep_last: bool) -> Value {
    let mut c = c.clone();
    if s(&c, "kind") == "open" && c["form"] == "json" {
        if let Some(text) = behind_lenient_json(s(&c, "input"), keep_last) {
            c["input"] = Value::String(text);
        }
    } else if let Some(jwks) = c.get("jwks_json").and_then(Value::as_str)
        && let Some(text) = behind_lenient_json(jwks, keep_last)
    {
        c["jwks_json"] = Value::String(text);
    }
    c
}

#[test]
fn lenient_decoders_and_json_readers_fail_some_vector() {
    let f = file();
    let jwks: Jwks = serde_json::from_value(f["key_token"]["jwks"].clone()).unwrap();
    let cases = f["must_fail"].as_array().unwrap();
    let caught = |lenient: &dyn Fn(&Value) -> Value| -> Vec<String> {
        cases
            .iter()
            .filter(|c| run(&lenient(c), &jwks).is_ok())
            .map(|c| s(c, "name").to_owned())
            .collect()
    };
    // Sanity: the model decoders are lenient and otherwise correct.
    assert_eq!(lenient_b64("AA==", true, false), Some(vec![0]));
    assert_eq!(lenient_b64("AB", false, true), Some(vec![0]));
    assert_eq!(lenient_b64("AB", false, false), None);
    assert_eq!(lenient_b64("AA==", false, true), None);
    // The identity "reader" catches nothing: every must-fail case still fails.
    assert!(caught(&|c| c.clone()).is_empty());

    let padding = caught(&|c| behind_lenient_decoder(c, true, false));
    assert!(
        padding.len() >= 3,
        "a padding-accepting decoder passes: {padding:?}"
    );
    let trailing = caught(&|c| behind_lenient_decoder(c, false, true));
    assert!(
        trailing.len() >= 3,
        "a trailing-bits decoder passes: {trailing:?}"
    );
    let last = caught(&|c| behind_lenient_json_reader(c, true));
    assert!(last.len() >= 2, "a last-wins JSON reader passes: {last:?}");
    let first = caught(&|c| behind_lenient_json_reader(c, false));
    assert!(
        !first.is_empty(),
        "a first-wins JSON reader passes: {first:?}"
    );
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
