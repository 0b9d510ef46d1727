//! Key tokens (JWS compact, ES256): the round trip, and every refusal with its typed error.
//!
//! Refused tokens are built by hand (header and payload JSON, signed with the service key
//! where the point is to reach a later check), so each test fails for the one reason it names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry_client::key_token::{MAX_CLOCK_SKEW_SECS, MAX_TOKEN_LEN, TOKEN_TYPE};
use ok2cry_client::{
    Error, Jwks, KeyId, KeyToken, KeyTokenClaims, PrivateKey, PublicJwk, TokenSigner, VerifiedKey,
};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

const SIGNER_SECRET: [u8; 32] = [0x11; 32];
const OTHER_SECRET: [u8; 32] = [0x22; 32];
const NOW: u64 = 1_750_000_000;
const EXP: u64 = NOW + 300;

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).unwrap()
}

fn signer() -> TokenSigner {
    TokenSigner::from_secret_bytes(&SIGNER_SECRET).unwrap()
}

fn jwks() -> Jwks {
    Jwks {
        keys: vec![signer().public_jwk()],
    }
}

fn recipient() -> PrivateKey {
    PrivateKey::derive_from_ikm(b"key token test recipient").unwrap()
}

fn key_id() -> KeyId {
    KeyId::new("n1_AAAAAAAAAAAAAAAAAAAAAA").unwrap()
}

fn claims() -> KeyTokenClaims {
    KeyTokenClaims::new(
        "https://ok2cry.example",
        key_id(),
        &recipient().public_key(),
        NOW - 10,
        EXP,
        1,
        Some("card:42/set-pin".into()),
    )
}

fn header() -> Value {
    json!({"alg": "ES256", "typ": TOKEN_TYPE, "kid": signer().kid()})
}

fn payload() -> Value {
    serde_json::to_value(claims()).unwrap()
}

/// `b64(header).b64(payload).b64(ES256 signature by secret)`.
fn sign_raw(header: &[u8], payload: &[u8], secret: &[u8; 32]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let key = SigningKey::from_slice(secret).unwrap();
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn sign(header: &Value, payload: &Value) -> String {
    sign_raw(
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(payload).unwrap(),
        &SIGNER_SECRET,
    )
}

fn verify_at(compact: &str, jwks: &Jwks, now: u64) -> Result<VerifiedKey, Error> {
    KeyToken::parse(compact)?.verify(jwks, now)
}

fn verify(compact: &str) -> Result<VerifiedKey, Error> {
    verify_at(compact, &jwks(), NOW)
}

fn err(compact: &str) -> Error {
    match verify(compact) {
        Ok(_) => panic!("token accepted: {compact}"),
        Err(e) => e,
    }
}

/// A named change to one part of a token.
type Mangle = fn(&str) -> String;

fn is_malformed(e: &Error) -> bool {
    matches!(e, Error::Malformed(_))
}

#[test]
fn sign_and_verify_round_trip() {
    let token = signer().sign(&claims()).unwrap();
    let verified = verify(&token).unwrap();
    assert_eq!(verified.key_id(), &key_id());
    assert_eq!(verified.public_key(), &recipient().public_key());
    assert_eq!(verified.context(), "card:42/set-pin");
    assert_eq!(verified.expires_at(), EXP);
    assert_eq!(verified.issued_at(), NOW - 10);
    assert_eq!(verified.max_opens(), 1);
    assert_eq!(verified.issuer(), "https://ok2cry.example");
    assert_eq!(verified.signing_kid(), signer().kid());
    assert_eq!(verified.token(), token);
    assert_eq!(verified.claims(), &claims());
    // The unverified key id is readable for routing.
    assert_eq!(
        KeyToken::parse(&token).unwrap().key_id_unverified(),
        &key_id()
    );
    // Signing is deterministic (RFC 6979), and the hand-built path (members sorted by
    // serde_json::Value) verifies to the same claims.
    assert_eq!(signer().sign(&claims()).unwrap(), token);
    assert_eq!(
        verify(&sign(&header(), &payload())).unwrap().claims(),
        &claims()
    );
    // The signing key id is the RFC 7638 thumbprint of its public key.
    assert_eq!(signer().kid(), signer().public_jwk().thumbprint());
    // Surrounding whitespace (a header value with a trailing newline) is tolerated.
    assert!(verify(&format!(" {token}\n")).is_ok());
}

#[test]
fn expired_at_exp_and_after() {
    let token = signer().sign(&claims()).unwrap();
    assert!(verify_at(&token, &jwks(), EXP - 1).is_ok());
    assert_eq!(verify_at(&token, &jwks(), EXP), Err(Error::Expired));
    assert_eq!(verify_at(&token, &jwks(), EXP + 1), Err(Error::Expired));
    assert_eq!(verify_at(&token, &jwks(), u64::MAX), Err(Error::Expired));
}

#[test]
fn issued_in_the_future_beyond_skew() {
    let mut p = payload();
    p["iat"] = json!(NOW + MAX_CLOCK_SKEW_SECS);
    assert!(verify(&sign(&header(), &p)).is_ok(), "within the skew");
    p["iat"] = json!(NOW + MAX_CLOCK_SKEW_SECS + 1);
    assert_eq!(verify(&sign(&header(), &p)), Err(Error::NotYetValid));
    // iat after exp is malformed whatever the clock says.
    p["iat"] = json!(EXP + 1);
    assert!(is_malformed(&err(&sign(&header(), &p))));
}

#[test]
fn wrong_algorithms_are_refused_before_anything_else() {
    let p = serde_json::to_vec(&payload()).unwrap();
    for (alg, sig_len) in [
        ("none", 0usize),
        ("HS256", 32),
        ("ES384", 96),
        ("ES512", 132),
        ("RS256", 256),
        ("PS256", 256),
        ("EdDSA", 64),
        ("es256", 64),
        ("ES256K", 64),
        ("", 64),
    ] {
        let h = serde_json::to_vec(&json!({"alg": alg, "typ": TOKEN_TYPE, "kid": signer().kid()}))
            .unwrap();
        let token = format!("{}.{}.{}", b64(&h), b64(&p), b64(&vec![0x5a; sig_len]));
        assert_eq!(err(&token), Error::UnsupportedAlgorithm, "alg {alg:?}");
        // Even a real ES256 signature over that header does not help.
        let signed = sign_raw(&h, &p, &SIGNER_SECRET);
        assert_eq!(err(&signed), Error::UnsupportedAlgorithm, "alg {alg:?}");
    }
    // alg missing or not a string.
    for h in [
        json!({"typ": TOKEN_TYPE, "kid": signer().kid()}),
        json!({"alg": null, "typ": TOKEN_TYPE, "kid": signer().kid()}),
        json!({"alg": ["ES256"], "typ": TOKEN_TYPE, "kid": signer().kid()}),
    ] {
        assert!(is_malformed(&err(&sign(&h, &payload()))), "{h}");
    }
}

#[test]
fn missing_or_unknown_kid() {
    // The header has exactly alg, typ and kid (docs/PROTOCOL.md §10.2 step 2): a missing kid
    // is malformed, like a missing alg or typ.
    let h = json!({"alg": "ES256", "typ": TOKEN_TYPE});
    assert!(is_malformed(&err(&sign(&h, &payload()))));
    let h = json!({"alg": "ES256", "typ": TOKEN_TYPE, "kid": "not-a-key-we-know"});
    assert_eq!(err(&sign(&h, &payload())), Error::UnknownSigningKey);
    // An empty JWK set knows no key.
    let token = signer().sign(&claims()).unwrap();
    assert_eq!(
        verify_at(&token, &Jwks::default(), NOW),
        Err(Error::UnknownSigningKey)
    );
}

#[test]
fn every_flipped_signature_bit_is_refused() {
    let token = signer().sign(&claims()).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = unb64(sig);
    assert_eq!(sig.len(), 64);
    for i in 0..sig.len() * 8 {
        let mut bad = sig.clone();
        bad[i / 8] ^= 1 << (i % 8);
        let t = format!("{input}.{}", b64(&bad));
        assert_eq!(err(&t), Error::BadSignature, "bit {i}");
    }
    // Wrong lengths: DER form, truncated, extended, empty.
    for bad in [&sig[..63], &[sig.as_slice(), &[0]].concat()[..], &[][..]] {
        assert_eq!(err(&format!("{input}.{}", b64(bad))), Error::BadSignature);
    }
    let der = Signature::from_slice(&sig).unwrap().to_der();
    assert_eq!(
        err(&format!("{input}.{}", b64(der.as_bytes()))),
        Error::BadSignature
    );
    // r = 0 or s = 0.
    let zero_r = [&[0u8; 32][..], &sig[32..]].concat();
    assert_eq!(
        err(&format!("{input}.{}", b64(&zero_r))),
        Error::BadSignature
    );
}

#[test]
fn every_flipped_payload_or_header_bit_is_refused() {
    let token = signer().sign(&claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut bad_signature = 0;
    for part in 0..2 {
        let bytes = unb64(parts[part]);
        for i in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            p[part] = b64(&bad);
            let e = err(&p.join("."));
            if e == Error::BadSignature {
                bad_signature += 1;
            }
        }
    }
    // Most flips still parse and are caught by the signature.
    assert!(bad_signature > 500, "{bad_signature}");
}

#[test]
fn signature_by_another_key_under_the_same_kid() {
    let token = sign_raw(
        &serde_json::to_vec(&header()).unwrap(),
        &serde_json::to_vec(&payload()).unwrap(),
        &OTHER_SECRET,
    );
    assert_eq!(err(&token), Error::BadSignature);
    // A JWK set that maps the kid to another key refuses the genuine token too.
    let other = TokenSigner::from_secret_bytes(&OTHER_SECRET).unwrap();
    let mut jwk = other.public_jwk();
    jwk.kid = Some(signer().kid().to_owned());
    let genuine = signer().sign(&claims()).unwrap();
    assert_eq!(
        verify_at(&genuine, &Jwks { keys: vec![jwk] }, NOW),
        Err(Error::BadSignature)
    );
}

#[test]
fn malformed_jwk_in_claims() {
    let good = payload();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut off_curve = good.clone();
    let y = off_curve["jwk"]["y"].as_str().unwrap().to_owned();
    let mut y_bytes = unb64(&y);
    y_bytes[31] ^= 0x01;
    off_curve["jwk"]["y"] = json!(b64(&y_bytes));
    cases.push(("off-curve point", off_curve));
    let mut p384 = good.clone();
    p384["jwk"]["crv"] = json!("P-384");
    cases.push(("P-384", p384));
    let mut okp = good.clone();
    okp["jwk"]["kty"] = json!("OKP");
    cases.push(("kty OKP", okp));
    let mut short = good.clone();
    let x = unb64(short["jwk"]["x"].as_str().unwrap());
    short["jwk"]["x"] = json!(b64(&x[1..]));
    cases.push(("31-byte x", short));
    let mut long = good.clone();
    long["jwk"]["x"] = json!(b64(&[&[0u8][..], &x].concat()));
    cases.push(("33-byte x", long));
    let mut padded = good.clone();
    padded["jwk"]["x"] = json!(format!("{}=", b64(&x)));
    cases.push(("padded x", padded));
    let mut with_d = good.clone();
    with_d["jwk"]["d"] = json!(b64(&[7u8; 32]));
    cases.push(("private d", with_d));
    let mut identity = good.clone();
    identity["jwk"]["x"] = json!(b64(&[0u8; 32]));
    identity["jwk"]["y"] = json!(b64(&[0u8; 32]));
    cases.push(("all-zero point", identity));
    for (name, p) in cases {
        assert_eq!(err(&sign(&header(), &p)), Error::InvalidPublicKey, "{name}");
    }
    // Missing coordinates do not even parse.
    let mut missing = good.clone();
    missing["jwk"].as_object_mut().unwrap().remove("y");
    assert!(is_malformed(&err(&sign(&header(), &missing))));
    // WebCrypto's extra JWK members are tolerated.
    let mut webcrypto = good;
    webcrypto["jwk"]["ext"] = json!(true);
    webcrypto["jwk"]["key_ops"] = json!([]);
    assert!(verify(&sign(&header(), &webcrypto)).is_ok());
}

#[test]
fn wrong_typ() {
    for typ in [
        json!("JWT"),
        json!("ok2cry-key"),
        json!("OK2CRY-KEY+JWT"),
        json!(""),
    ] {
        let h = json!({"alg": "ES256", "typ": typ, "kid": signer().kid()});
        assert_eq!(err(&sign(&h, &payload())), Error::WrongTokenType, "{typ}");
    }
    // A missing typ is malformed (§10.2 step 2), not a wrong type.
    let h = json!({"alg": "ES256", "kid": signer().kid()});
    assert!(is_malformed(&err(&sign(&h, &payload()))));
}

#[test]
fn unknown_header_members_are_refused() {
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jku", json!("https://evil.example/jwks.json")),
        ("jwk", serde_json::to_value(signer().public_jwk()).unwrap()),
        ("x5u", json!("https://evil.example/cert")),
        ("x5c", json!([])),
        ("b64", json!(false)),
        ("cty", json!("JWT")),
        ("zip", json!("DEF")),
    ] {
        let mut h = header();
        h[name] = value;
        assert!(is_malformed(&err(&sign(&h, &payload()))), "{name}");
    }
}

#[test]
fn duplicate_members_are_refused() {
    // A classic JWS confusion: two parsers reading different "alg" or "key_id" values.
    let kid = signer().kid().to_owned();
    let h = format!(r#"{{"alg":"none","alg":"ES256","typ":"{TOKEN_TYPE}","kid":"{kid}"}}"#);
    let p = serde_json::to_vec(&payload()).unwrap();
    assert!(is_malformed(&err(&sign_raw(
        h.as_bytes(),
        &p,
        &SIGNER_SECRET
    ))));
    let mut p = serde_json::to_string(&payload()).unwrap();
    p.pop();
    p.push_str(r#","key_id":"n1_other"}"#);
    let h = serde_json::to_vec(&header()).unwrap();
    assert!(is_malformed(&err(&sign_raw(
        &h,
        p.as_bytes(),
        &SIGNER_SECRET
    ))));
}

#[test]
fn unknown_or_missing_claims_are_refused() {
    for (name, value) in [
        ("aud", json!("someone")),
        ("nbf", json!(NOW)),
        ("sub", json!("x")),
        ("max_open", json!(1)),
    ] {
        let mut p = payload();
        p[name] = value;
        assert!(is_malformed(&err(&sign(&header(), &p))), "{name}");
    }
    for name in [
        "iss",
        "key_id",
        "jwk",
        "iat",
        "exp",
        "max_opens",
        "suite",
        "v",
    ] {
        let mut p = payload();
        p.as_object_mut().unwrap().remove(name);
        assert!(is_malformed(&err(&sign(&header(), &p))), "missing {name}");
    }
    // Wrong types.
    for (name, value) in [
        ("iat", json!("1750000000")),
        ("exp", json!(-1)),
        ("exp", json!(1.5)),
        ("max_opens", json!(-1)),
        ("v", json!("1")),
        ("key_id", json!("bad key id")),
        ("context", json!(null)),
    ] {
        let mut p = payload();
        p[name] = value;
        let e = verify(&sign(&header(), &p));
        if name == "key_id" {
            // A key id outside §2 is InvalidKeyId, as in an envelope (§10.2 step 3).
            assert_eq!(e.unwrap_err(), Error::InvalidKeyId);
        } else {
            // null is never a value of the protocol: not "absent" (§10.1).
            assert!(is_malformed(&e.unwrap_err()), "{name}");
        }
    }
    // An empty context is the same as none (§3).
    let mut p = payload();
    p["context"] = json!("");
    assert_eq!(verify(&sign(&header(), &p)).unwrap().context(), "");
}

#[test]
fn wrong_suite_or_version() {
    for suite in ["WEAK", "strong", ""] {
        let mut p = payload();
        p["suite"] = json!(suite);
        assert_eq!(
            err(&sign(&header(), &p)),
            Error::UnsupportedSuite,
            "{suite}"
        );
    }
    for v in [0u8, 2, 255] {
        let mut p = payload();
        p["v"] = json!(v);
        assert_eq!(err(&sign(&header(), &p)), Error::UnsupportedVersion, "{v}");
    }
}

#[test]
fn other_claim_checks() {
    let mut p = payload();
    p["max_opens"] = json!(0);
    assert!(is_malformed(&err(&sign(&header(), &p))));
    let mut p = payload();
    p["jwk"]["kid"] = json!("n1_someone_else");
    assert!(is_malformed(&err(&sign(&header(), &p))));
    let mut p = payload();
    p["context"] = json!("x".repeat(257));
    assert_eq!(err(&sign(&header(), &p)), Error::ContextTooLong);
    p["context"] = json!("x".repeat(256));
    assert!(verify(&sign(&header(), &p)).is_ok());
}

#[test]
fn checks_happen_in_the_documented_order() {
    // alg before typ and kid.
    let h = json!({"alg": "HS256", "typ": "JWT", "kid": "unknown"});
    assert_eq!(err(&sign(&h, &payload())), Error::UnsupportedAlgorithm);
    // typ before kid.
    let h = json!({"alg": "ES256", "typ": "JWT", "kid": "unknown"});
    assert_eq!(err(&sign(&h, &payload())), Error::WrongTokenType);
    // Signature before every claim: an expired token with a wrong suite and version, signed
    // by the wrong key, is a bad signature.
    let mut p = payload();
    p["v"] = json!(2);
    p["suite"] = json!("WEAK");
    p["exp"] = json!(1);
    let token = sign_raw(
        &serde_json::to_vec(&header()).unwrap(),
        &serde_json::to_vec(&p).unwrap(),
        &OTHER_SECRET,
    );
    assert_eq!(err(&token), Error::BadSignature);
    // v before suite before time.
    assert_eq!(err(&sign(&header(), &p)), Error::UnsupportedVersion);
    p["v"] = json!(1);
    assert_eq!(err(&sign(&header(), &p)), Error::UnsupportedSuite);
    p["suite"] = json!("STRONG");
    p["iat"] = json!(0);
    assert_eq!(err(&sign(&header(), &p)), Error::Expired);
    // Time before the public key.
    p["jwk"]["crv"] = json!("P-384");
    assert_eq!(err(&sign(&header(), &p)), Error::Expired);
}

#[test]
fn non_base64url_and_wrong_part_counts() {
    let token = signer().sign(&claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    for part in 0..3 {
        let manglers: [(&str, Mangle); 6] = [
            ("padding", |s: &str| format!("{s}=")),
            ("plus", |s: &str| format!("+{}", &s[1..])),
            ("slash", |s: &str| format!("/{}", &s[1..])),
            ("inner space", |s: &str| format!("{} {}", &s[..4], &s[4..])),
            ("one char short", |s: &str| s[..s.len() - 1].to_owned()),
            ("empty", |_: &str| String::new()),
        ];
        for (name, mangle) in manglers {
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            p[part] = mangle(parts[part]);
            let e = err(&p.join("."));
            // Part 2 decodes to a wrong-length signature in some cases: a bad signature.
            assert!(
                is_malformed(&e) || (part == 2 && e == Error::BadSignature),
                "part {part} {name}: {e:?}"
            );
        }
    }
    let two = format!("{}.{}", parts[0], parts[1]);
    let four = format!("{token}.{}", parts[2]);
    for bad in [
        "",
        ".",
        "..",
        "...",
        parts[0],
        two.as_str(),
        four.as_str(),
        &format!("{token}."),
    ] {
        assert!(is_malformed(&err(bad)), "{bad:?}");
    }
    // Too long.
    let huge = format!("{}.{}.{}", parts[0], "A".repeat(MAX_TOKEN_LEN), parts[2]);
    assert!(is_malformed(&err(&huge)));
    // Not JSON, or JSON that is not an object.
    for body in [&b"not json"[..], b"[]", b"null", b"\"ES256\""] {
        let t = sign_raw(
            body,
            &serde_json::to_vec(&payload()).unwrap(),
            &SIGNER_SECRET,
        );
        assert!(is_malformed(&err(&t)));
    }
}

#[test]
fn jwks_entries_with_wrong_alg_or_use() {
    let token = signer().sign(&claims()).unwrap();
    let with = |f: &dyn Fn(&mut PublicJwk)| {
        let mut jwk = signer().public_jwk();
        f(&mut jwk);
        Jwks { keys: vec![jwk] }
    };
    for (name, jwks) in [
        ("alg ES384", with(&|j| j.alg = Some("ES384".into()))),
        ("alg none", with(&|j| j.alg = Some("none".into()))),
        ("use enc", with(&|j| j.use_ = Some("enc".into()))),
    ] {
        assert_eq!(
            verify_at(&token, &jwks, NOW),
            Err(Error::UnknownSigningKey),
            "{name}"
        );
    }
    // alg and use absent: allowed (RFC 7517 makes them optional).
    let bare = with(&|j| {
        j.alg = None;
        j.use_ = None;
    });
    assert!(verify_at(&token, &bare, NOW).is_ok());
    // A JWK set entry that is not a valid P-256 key is ignored (§7.3): its kid is unknown.
    let bad_point = with(&|j| j.crv = "P-384".into());
    assert_eq!(
        verify_at(&token, &bad_point, NOW),
        Err(Error::UnknownSigningKey)
    );
    // JWK set JSON with a private part is parsed, and the entry ignored.
    let mut value = serde_json::to_value(signer().public_jwk()).unwrap();
    value["d"] = json!(b64(&SIGNER_SECRET));
    let jwks = Jwks::from_json(&json!({"keys": [value]}).to_string()).unwrap();
    assert_eq!(verify_at(&token, &jwks, NOW), Err(Error::UnknownSigningKey));
    // The same kid twice names no key, even when both entries are the right key.
    let twice = Jwks {
        keys: vec![signer().public_jwk(), signer().public_jwk()],
    };
    assert_eq!(
        verify_at(&token, &twice, NOW),
        Err(Error::UnknownSigningKey)
    );
    // The right key found among several.
    let other = TokenSigner::from_secret_bytes(&OTHER_SECRET).unwrap();
    let two = Jwks {
        keys: vec![other.public_jwk(), signer().public_jwk()],
    };
    assert!(verify_at(&token, &two, NOW).is_ok());
    assert!(Jwks::from_json("{\"keys\": 1}").is_err());
}
