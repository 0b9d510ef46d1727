//! The project's protocol v1 test vectors (`tests/vectors/protocol-v1.json`), made
//! deterministically. `examples/gen_vectors.rs` prints them; `tests/project_vectors.rs` checks
//! the committed file against this function and against the library.
//!
//! Everything is derived from fixed inputs: recipient and signing keys by RFC 9180
//! `DeriveKeyPair(ikm)`, the ephemeral key of each seal by `DeriveKeyPair(ikmE)`, token
//! signatures by RFC 6979 (deterministic ECDSA), and a fixed clock.

use super::key_schedule_base;
use super::{derive_key_pair, dhkem_encap_with, hpke_seal_deterministic, independent_seal};
use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry_client::{
    Envelope, Error, Jwks, KeyId, KeyToken, KeyTokenClaims, LocalKey, PrivateKey, TokenSigner,
};
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://ok2cry.example";
pub const IAT: u64 = 1_750_000_000;
pub const EXP: u64 = IAT + 300;
pub const NOW: u64 = IAT + 1;
pub const SIGNING_IKM: &[u8] = b"ok2cry protocol v1 test vector: service signing key";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// The name of an error variant, as written in the vector file.
pub fn error_name(e: &Error) -> &'static str {
    match e {
        Error::Malformed(_) => "Malformed",
        Error::InvalidKeyId => "InvalidKeyId",
        Error::ContextTooLong => "ContextTooLong",
        Error::PlaintextSize => "PlaintextSize",
        Error::UnsupportedVersion => "UnsupportedVersion",
        Error::UnsupportedSuite => "UnsupportedSuite",
        Error::InvalidPublicKey => "InvalidPublicKey",
        Error::InvalidPrivateKey => "InvalidPrivateKey",
        Error::UnsupportedAlgorithm => "UnsupportedAlgorithm",
        Error::WrongTokenType => "WrongTokenType",
        Error::UnknownSigningKey => "UnknownSigningKey",
        Error::BadSignature => "BadSignature",
        Error::Expired => "Expired",
        Error::NotYetValid => "NotYetValid",
        Error::KeyIdMismatch => "KeyIdMismatch",
        Error::ContextMismatch => "ContextMismatch",
        Error::OpenFailed => "OpenFailed",
        Error::SealFailed => "SealFailed",
        _ => "Other",
    }
}

struct SealCase {
    name: &'static str,
    ikm_r: Vec<u8>,
    /// `None`: an end user's own key (key id = JWK thumbprint).
    key_id: Option<&'static str>,
    context: String,
    plaintext: Vec<u8>,
    ikm_e: Vec<u8>,
}

fn ikm(label: &str) -> Vec<u8> {
    // 32 bytes of input keying material, readable in the file as hex of a label padded with
    // dots: nothing secret, only reproducible.
    let mut bytes = label.as_bytes().to_vec();
    bytes.resize(32, b'.');
    bytes
}

fn seal_cases() -> Vec<SealCase> {
    vec![
        SealCase {
            name: "set PIN: service key, with context",
            ikm_r: ikm("ok2cry v1 vector recipient 1"),
            key_id: Some("n1_AAECAwQFBgcICQoLDA0ODw"),
            context: "card:42/set-pin".into(),
            plaintext: b"1234".to_vec(),
            ikm_e: ikm("ok2cry v1 vector ephemeral 1"),
        },
        SealCase {
            name: "service key, no context",
            ikm_r: ikm("ok2cry v1 vector recipient 2"),
            key_id: Some("eu-west-1a_EBESExQVFhcYGRobHB0eHw"),
            context: String::new(),
            plaintext: b"{\"pan\":\"4111111111111111\",\"cvv\":\"123\"}".to_vec(),
            ikm_e: ikm("ok2cry v1 vector ephemeral 2"),
        },
        SealCase {
            name: "reveal: end user's local key (key id = JWK thumbprint)",
            ikm_r: ikm("ok2cry v1 vector local key 3"),
            key_id: None,
            context: "reveal:pan/card:42".into(),
            plaintext: b"4111111111111111".to_vec(),
            ikm_e: ikm("ok2cry v1 vector ephemeral 3"),
        },
        SealCase {
            name: "one-byte plaintext, longest context (256 bytes, non-ASCII)",
            ikm_r: ikm("ok2cry v1 vector recipient 4"),
            key_id: Some("n2_ICEiIyQlJicoKSorLC0uLw"),
            context: format!("{}\u{e9}", "c".repeat(254)),
            plaintext: vec![0x00],
            ikm_e: ikm("ok2cry v1 vector ephemeral 4"),
        },
    ]
}

fn key_id_of(case: &SealCase, key: &PrivateKey) -> KeyId {
    match case.key_id {
        Some(id) => KeyId::new(id).expect("vector key id"),
        None => LocalKey::from_private(
            PrivateKey::from_secret_bytes(key.to_secret_bytes().as_slice()).expect("key"),
        )
        .key_id()
        .clone(),
    }
}

fn seal_vector(case: &SealCase) -> Value {
    let key = PrivateKey::derive_from_ikm(&case.ikm_r).expect("DeriveKeyPair(ikmR)");
    let (sk_r, pk_r) = derive_key_pair(&case.ikm_r);
    assert_eq!(key.to_secret_bytes().as_slice(), sk_r.as_slice());
    assert_eq!(key.public_key().to_sec1_uncompressed(), pk_r);
    let key_id = key_id_of(case, &key);
    let info = ok2cry_client::suite::info(&key_id, &case.context);
    let (sk_e, pk_e) = derive_key_pair(&case.ikm_e);
    let (shared_secret, enc) = dhkem_encap_with(&sk_e, &pk_r);
    assert_eq!(enc, pk_e);
    let ks = key_schedule_base(&shared_secret, &info);
    // Two implementations must agree before a byte is written.
    let sealed = hpke_seal_deterministic(&pk_r, &info, &case.plaintext, &case.ikm_e);
    assert_eq!(
        sealed,
        independent_seal(&pk_r, &info, &case.plaintext, &case.ikm_e)
    );
    assert_eq!(sealed[..65], enc[..]);
    let opened = key
        .open_sealed(&key_id, &case.context, &sealed)
        .expect("the vector opens");
    assert_eq!(opened.expose_secret(), case.plaintext.as_slice());
    let envelope = Envelope::from_parts(key_id.clone(), sealed.clone(), Some(case.context.clone()))
        .expect("envelope");
    let mut jwk = key.public_key().to_jwk().with_kid(key_id.as_str());
    jwk.use_ = Some("enc".into());
    json!({
        "name": case.name,
        "ikmR": hex::encode(&case.ikm_r),
        "skRm": hex::encode(&sk_r),
        "pkRm": hex::encode(&pk_r),
        "recipient_jwk": jwk,
        "recipient_jwk_thumbprint": key.public_key().thumbprint(),
        "key_id": key_id.as_str(),
        "context": case.context,
        "info": hex::encode(&info),
        "plaintext": hex::encode(&case.plaintext),
        "ikmE": hex::encode(&case.ikm_e),
        "skEm": hex::encode(&sk_e),
        "enc": hex::encode(&enc),
        "shared_secret": hex::encode(&shared_secret),
        "key": hex::encode(&ks.key),
        "base_nonce": hex::encode(&ks.base_nonce),
        "ciphertext": hex::encode(&sealed[65..]),
        "sealed": hex::encode(&sealed),
        "sealed_b64url": b64(&sealed),
        "envelope_json": envelope.to_json(),
        "envelope_compact": envelope.to_compact(),
    })
}

fn signer() -> (TokenSigner, p256::ecdsa::SigningKey) {
    let key = PrivateKey::derive_from_ikm(SIGNING_IKM).expect("signing key");
    let secret = key.to_secret_bytes();
    (
        TokenSigner::from_secret_bytes(secret.as_slice()).expect("signer"),
        p256::ecdsa::SigningKey::from_slice(secret.as_slice()).expect("signing key"),
    )
}

/// Signs a hand-made header and payload (for must-fail tokens that must pass the signature).
fn sign_raw(key: &p256::ecdsa::SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).expect("json")),
        b64(&serde_json::to_vec(payload).expect("json"))
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn token_claims(first: &SealCase) -> KeyTokenClaims {
    let key = PrivateKey::derive_from_ikm(&first.ikm_r).expect("key");
    KeyTokenClaims::new(
        ISSUER,
        key_id_of(first, &key),
        &key.public_key(),
        IAT,
        EXP,
        1,
        Some(first.context.clone()),
    )
}

fn expect_token(token: &str, jwks: &Jwks, now: u64, want: &str) {
    let got = KeyToken::parse(token).and_then(|t| t.verify(jwks, now));
    match got {
        Ok(_) => panic!("must-fail token verified: {token}"),
        Err(e) => assert_eq!(error_name(&e), want, "{token}"),
    }
}

/// Opens as a receiver does: parse the envelope, then open with the opener's own record.
pub fn open_case(case: &Value) -> Result<Vec<u8>, Error> {
    let s = |k: &str| case[k].as_str().expect(k).to_owned();
    let key = PrivateKey::from_secret_bytes(&hex::decode(s("opener_skR")).expect("hex"))?;
    let key_id = KeyId::new(s("opener_key_id"))?;
    let context = s("opener_context");
    let input = s("input");
    let envelope = match s("form").as_str() {
        "json" => Envelope::from_json(&input)?,
        "compact" => Envelope::from_compact(&input)?,
        "sealed_hex" => {
            return key
                .open_sealed(&key_id, &context, &hex::decode(input).expect("hex"))
                .map(|p| p.expose_secret().to_vec());
        }
        other => panic!("unknown form {other}"),
    };
    key.open(&key_id, &context, &envelope)
        .map(|p| p.expose_secret().to_vec())
}

fn open_must_fail(seals: &[Value]) -> Vec<Value> {
    let v = &seals[0];
    let s = |k: &str| v[k].as_str().expect(k).to_owned();
    let sealed = hex::decode(s("sealed")).expect("hex");
    let flip = |i: usize| {
        let mut b = sealed.clone();
        b[i] ^= 0x01;
        b
    };
    let compact_with = |bytes: &[u8]| {
        format!(
            "v1.{}.{}.{}",
            s("key_id"),
            b64(bytes),
            b64(s("context").as_bytes())
        )
    };
    let other_sk = hex::encode(derive_key_pair(&ikm("ok2cry v1 vector unrelated key")).0);
    let case =
        |name: &str, form: &str, input: String, sk: String, kid: String, ctx: String, err: &str| {
            json!({
                "name": name, "form": form, "input": input,
                "opener_skR": sk, "opener_key_id": kid, "opener_context": ctx, "error": err,
            })
        };
    let (sk, kid, ctx) = (s("skRm"), s("key_id"), s("context"));
    let mut cases = vec![
        case("last tag byte flipped", "compact", compact_with(&flip(sealed.len() - 1)), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("first ciphertext byte flipped", "compact", compact_with(&flip(65)), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("enc x coordinate flipped", "compact", compact_with(&flip(1)), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("enc is not an uncompressed point (0x02 prefix)", "compact", compact_with(&[&[0x02u8][..], &sealed[1..]].concat()), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("truncated by one byte", "compact", compact_with(&sealed[..sealed.len() - 1]), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("shorter than enc || tag || 1 byte", "compact", compact_with(&sealed[..81]), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("wrong recipient key", "json", s("envelope_json"), other_sk, kid.clone(), ctx.clone(), "OpenFailed"),
        case("envelope for another key id", "json", s("envelope_json"), sk.clone(), "n1_someone-else".into(), ctx.clone(), "KeyIdMismatch"),
        case("raw sealed bytes opened under another key id", "sealed_hex", s("sealed"), sk.clone(), "n1_someone-else".into(), ctx.clone(), "OpenFailed"),
        case("envelope names another context than the opener's record", "json", s("envelope_json"), sk.clone(), kid.clone(), "card:43/set-pin".into(), "ContextMismatch"),
        case("context absent from the envelope, opener's record differs", "compact", format!("v1.{}.{}", kid, b64(&sealed)), sk.clone(), kid.clone(), "card:43/set-pin".into(), "OpenFailed"),
        case("context absent from the envelope, opener's record has none", "compact", format!("v1.{}.{}", kid, b64(&sealed)), sk.clone(), kid.clone(), String::new(), "OpenFailed"),
        case("version 2 (JSON)", "json", json!({"version": 2, "key_id": kid, "sealed": b64(&sealed), "context": ctx}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "UnsupportedVersion"),
        case("version 2 (compact)", "compact", format!("v2.{}.{}", kid, b64(&sealed)), sk.clone(), kid.clone(), ctx.clone(), "UnsupportedVersion"),
        case("unknown JSON member", "json", json!({"version": 1, "key_id": kid, "sealed": b64(&sealed), "context": ctx, "aad": ""}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("padded base64url", "compact", format!("v1.{}.{}=", kid, b64(&sealed)), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("standard base64 alphabet", "json", json!({"version": 1, "key_id": kid, "sealed": b64(&sealed).replace('-', "+").replace('_', "/") + "+/", "context": ctx}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("compact with five parts", "compact", format!("{}.{}", compact_with(&sealed), b64(b"x")), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("key id with a dot", "json", json!({"version": 1, "key_id": "n1.x", "sealed": b64(&sealed)}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "InvalidKeyId"),
        case("context longer than 256 bytes", "json", json!({"version": 1, "key_id": kid, "sealed": b64(&sealed), "context": "x".repeat(257)}).to_string(), sk, kid, ctx, "ContextTooLong"),
    ];
    // Every case fails as stated before it is written.
    for c in &mut cases {
        let want = c["error"].as_str().expect("error").to_owned();
        match open_case(c) {
            Ok(_) => panic!("must-fail case opened: {}", c["name"]),
            Err(e) => assert_eq!(error_name(&e), want, "{}", c["name"]),
        }
        c["kind"] = json!("open");
    }
    cases
}

fn token_section(first: &SealCase) -> (Value, Vec<Value>) {
    let (signer, raw_key) = signer();
    let jwks = Jwks {
        keys: vec![signer.public_jwk()],
    };
    let claims = token_claims(first);
    let token = signer.sign(&claims).expect("sign");
    let verified = KeyToken::parse(&token)
        .and_then(|t| t.verify(&jwks, NOW))
        .expect("vector token verifies");
    assert_eq!(
        signer.sign(&claims).expect("sign"),
        token,
        "RFC 6979: deterministic"
    );
    let (h, p, _) = {
        let mut it = token.split('.');
        (
            it.next().expect("h"),
            it.next().expect("p"),
            it.next().expect("s"),
        )
    };
    let header: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(h).expect("b64")).expect("json");
    let payload: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(p).expect("b64")).expect("json");
    let signing_secret = PrivateKey::derive_from_ikm(SIGNING_IKM)
        .expect("key")
        .to_secret_bytes()
        .to_vec();
    let section = json!({
        "signing_ikm": hex::encode(SIGNING_IKM),
        "signing_sk": hex::encode(&signing_secret),
        "jwks": jwks,
        "now": NOW,
        "token": token,
        "header": header,
        "claims": payload,
        "verified_key_id": verified.key_id().as_str(),
        "verified_context": verified.context(),
        "seal_vector": 0,
    });

    let tok = |name: &str, token: String, now: u64, err: &str| {
        expect_token(&token, &jwks, now, err);
        json!({"kind": "token", "name": name, "token": token, "now": now, "error": err})
    };
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let with = |f: &dyn Fn(&mut Value, &mut Value)| {
        let (mut hh, mut pp) = (header.clone(), payload.clone());
        f(&mut hh, &mut pp);
        sign_raw(&raw_key, &hh, &pp)
    };
    let none = format!(
        "{}.{}.",
        b64(&serde_json::to_vec(
            &json!({"alg": "none", "typ": "ok2cry-key+jwt", "kid": signer.kid()})
        )
        .expect("json")),
        p
    );
    let cases = vec![
        tok("expired: now == exp", token.clone(), EXP, "Expired"),
        tok("expired: now > exp", token.clone(), EXP + 3600, "Expired"),
        tok(
            "issued more than 60 s in the future",
            token.clone(),
            IAT - 61,
            "NotYetValid",
        ),
        tok(
            "alg none, empty signature",
            none,
            NOW,
            "UnsupportedAlgorithm",
        ),
        tok(
            "alg HS256",
            with(&|h, _| h["alg"] = json!("HS256")),
            NOW,
            "UnsupportedAlgorithm",
        ),
        tok(
            "typ JWT",
            with(&|h, _| h["typ"] = json!("JWT")),
            NOW,
            "WrongTokenType",
        ),
        tok(
            "kid not in the JWK set",
            with(&|h, _| h["kid"] = json!("unknown")),
            NOW,
            "UnknownSigningKey",
        ),
        tok("signature changed", flipped, NOW, "BadSignature"),
        tok(
            "unknown header member jku",
            with(&|h, _| h["jku"] = json!("https://evil.example/jwks.json")),
            NOW,
            "Malformed",
        ),
        tok(
            "unknown claim",
            with(&|_, p| p["aud"] = json!("x")),
            NOW,
            "Malformed",
        ),
        tok(
            "version 2",
            with(&|_, p| p["v"] = json!(2)),
            NOW,
            "UnsupportedVersion",
        ),
        tok(
            "suite other than STRONG",
            with(&|_, p| p["suite"] = json!("WEAK")),
            NOW,
            "UnsupportedSuite",
        ),
        tok(
            "max_opens 0",
            with(&|_, p| p["max_opens"] = json!(0)),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk kid differs from key_id",
            with(&|_, p| p["jwk"]["kid"] = json!("n1_other")),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk on curve P-384",
            with(&|_, p| p["jwk"]["crv"] = json!("P-384")),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk point off the curve",
            with(&|_, p| {
                let y = p["jwk"]["y"].as_str().expect("y").to_owned();
                let mut bytes = Base64UrlUnpadded::decode_vec(&y).expect("b64");
                bytes[31] ^= 1;
                p["jwk"]["y"] = json!(b64(&bytes));
            }),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk with private part d",
            with(&|_, p| p["jwk"]["d"] = json!(b64(&[1u8; 32]))),
            NOW,
            "InvalidPublicKey",
        ),
        tok("two parts", format!("{h}.{p}"), NOW, "Malformed"),
    ];
    (section, cases)
}

/// The whole vector file.
pub fn generate() -> Value {
    let cases = seal_cases();
    let seals: Vec<Value> = cases.iter().map(seal_vector).collect();
    let (token, token_cases) = token_section(&cases[0]);
    let mut must_fail = open_must_fail(&seals);
    must_fail.extend(token_cases);
    json!({
        "description": "ok2cry protocol v1 (suite STRONG) test vectors. Normative text: docs/PROTOCOL.md. All keys are derived from the fixed inputs shown (RFC 9180 DeriveKeyPair), so these are test keys only.",
        "generator": "cargo run -p ok2cry-client --example gen_vectors > tests/vectors/protocol-v1.json",
        "suite": {
            "name": "STRONG", "version": 1, "mode": 0,
            "kem_id": 16, "kdf_id": 1, "aead_id": 2,
            "aad": "",
            "info": "\"ok2cry/v1\" || 0x00 || key_id || 0x00 || context",
            "sealed": "enc (65 bytes) || ciphertext",
        },
        "seal": seals,
        "key_token": token,
        "must_fail": must_fail,
    })
}
