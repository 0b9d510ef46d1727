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
use ok2cry_client::provider::CryptoProvider;
use ok2cry_client::{
    Envelope, Error, Jwks, KeyId, KeyToken, KeyTokenClaims, LocalKey, PrivateKey, TokenSigner,
    VerifiedKey,
};
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://ok2cry.example";
pub const IAT: u64 = 1_750_000_000;
pub const EXP: u64 = IAT + 300;
pub const NOW: u64 = IAT + 1;
pub const SIGNING_IKM: &[u8] = b"ok2cry protocol v1 test vector: service signing key";
/// The longest token (docs/PROTOCOL.md §6).
const MAX_TOKEN_LEN: usize = ok2cry_client::key_token::MAX_TOKEN_LEN;

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// The name of an error variant, as written in the vector file.
pub fn error_name(e: &Error) -> &'static str {
    e.name()
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
    sign_text(
        key,
        &serde_json::to_string(header).expect("json"),
        &serde_json::to_string(payload).expect("json"),
    )
}

/// Signs header and payload given as JSON text (duplicate members, numbers as written).
fn sign_text(key: &p256::ecdsa::SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

/// A base64url text in the standard alphabet (`+` and `/` for `-` and `_`); it must use them.
fn standard_alphabet(text: &str) -> String {
    assert!(
        text.contains(['-', '_']),
        "{text} reads the same in both alphabets"
    );
    text.replace('-', "+").replace('_', "/")
}

/// The order n of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `n - s`, big-endian, for 0 < s < n.
fn order_minus(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

/// The token with its signature part replaced by `signature` (base64url-encoded here).
fn with_signature(token: &str, signature: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').expect("three parts");
    format!("{input}.{}", b64(signature))
}

/// The token with its signature part replaced by `text` as given.
fn with_signature_text(token: &str, text: &str) -> String {
    let (input, _) = token.rsplit_once('.').expect("three parts");
    format!("{input}.{text}")
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

/// Verifies as a receiver does: the JWK set (the case's own JSON text, or the file's), then
/// the token at the case's `now` (default provider).
pub fn token_case(case: &Value, file_jwks: &Jwks) -> Result<VerifiedKey, Error> {
    token_case_with(ok2cry_client::provider::default_provider(), case, file_jwks)
}

/// [`token_case`] with the given provider.
pub fn token_case_with(
    provider: &dyn CryptoProvider,
    case: &Value,
    file_jwks: &Jwks,
) -> Result<VerifiedKey, Error> {
    let jwks = match case.get("jwks_json") {
        Some(text) => Jwks::from_json(text.as_str().expect("jwks_json"))?,
        None => file_jwks.clone(),
    };
    KeyToken::parse(case["token"].as_str().expect("token"))?.verify_with(
        provider,
        &jwks,
        case["now"].as_u64().expect("now"),
    )
}

/// Opens as a receiver does: parse the envelope, then open with the opener's own record
/// (default provider).
pub fn open_case(case: &Value) -> Result<Vec<u8>, Error> {
    open_case_with(ok2cry_client::provider::default_provider(), case)
}

/// [`open_case`] with the given provider.
pub fn open_case_with(provider: &dyn CryptoProvider, case: &Value) -> Result<Vec<u8>, Error> {
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
                .open_sealed_with(
                    provider,
                    &key_id,
                    &context,
                    &hex::decode(input).expect("hex"),
                )
                .map(|p| p.expose_secret().to_vec());
        }
        other => panic!("unknown form {other}"),
    };
    key.open_with(provider, &key_id, &context, &envelope)
        .map(|p| p.expose_secret().to_vec())
}

/// A base64url text with its correct `=` padding added (it must need some).
fn padded(text: &str) -> String {
    let pad = (4 - text.len() % 4) % 4;
    assert!(pad > 0, "{text} needs no padding");
    format!("{text}{}", "=".repeat(pad))
}

/// A base64url text whose last character carries non-zero unused bits: it decodes, with a
/// lenient decoder, to the same bytes.
fn nonzero_trailing_bits(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert!(text.len() % 4 >= 2, "{text} has no unused bits");
    let last = text.as_bytes()[text.len() - 1];
    let value = ALPHABET.iter().position(|&c| c == last).expect("base64url");
    assert_eq!(value & 1, 0, "unused bits already set");
    let mut out = text[..text.len() - 1].to_owned();
    out.push(ALPHABET[value | 1] as char);
    assert!(Base64UrlUnpadded::decode_vec(&out).is_err());
    out
}

/// The open cases (must-fail and must-pass) built from the seal vectors.
struct OpenCases<'a> {
    seals: &'a [Value],
}

impl OpenCases<'_> {
    fn s(&self, i: usize, k: &str) -> String {
        self.seals[i][k].as_str().expect(k).to_owned()
    }

    /// A case opened with the key, key id and context of `seal[i]`.
    fn case(&self, i: usize, section: &str, name: &str, form: &str, input: String) -> Value {
        json!({
            "kind": "open", "name": name, "section": section, "form": form, "input": input,
            "opener_skR": self.s(i, "skRm"), "opener_key_id": self.s(i, "key_id"),
            "opener_context": self.s(i, "context"),
        })
    }

    fn fail(
        &self,
        i: usize,
        section: &str,
        name: &str,
        form: &str,
        input: String,
        error: &str,
    ) -> Value {
        let mut c = self.case(i, section, name, form, input);
        c["error"] = json!(error);
        c
    }

    fn pass(&self, i: usize, section: &str, name: &str, form: &str, input: String) -> Value {
        let mut c = self.case(i, section, name, form, input);
        c["plaintext"] = json!(self.s(i, "plaintext"));
        c
    }
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
    let case = |name: &str,
                section: &str,
                form: &str,
                input: String,
                sk: String,
                kid: String,
                ctx: String,
                err: &str| {
        json!({
            "name": name, "section": section, "form": form, "input": input,
            "opener_skR": sk, "opener_key_id": kid, "opener_context": ctx, "error": err,
        })
    };
    let (sk, kid, ctx) = (s("skRm"), s("key_id"), s("context"));
    let sealed_b64 = b64(&sealed);
    let c = OpenCases { seals };
    // seal[3]: a 256-byte context, whose base64url has unused bits and needs padding.
    let (kid3, ctx3, sealed3) = (c.s(3, "key_id"), c.s(3, "context"), c.s(3, "sealed_b64url"));
    let ctx3_b64 = b64(ctx3.as_bytes());
    let json_with = |members: &str| format!("{{{members}}}");
    let mut cases = vec![
        case("last tag byte flipped", "§10.3 step 9", "compact", compact_with(&flip(sealed.len() - 1)), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("first ciphertext byte flipped", "§10.3 step 9", "compact", compact_with(&flip(65)), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("enc x coordinate flipped", "§10.3 step 9", "compact", compact_with(&flip(1)), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("enc is not an uncompressed point (0x02 prefix)", "§10.3 step 5", "compact", compact_with(&[&[0x02u8][..], &sealed[1..]].concat()), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("truncated by one byte", "§10.3 step 9", "compact", compact_with(&sealed[..sealed.len() - 1]), sk.clone(), kid.clone(), ctx.clone(), "OpenFailed"),
        case("shorter than enc || tag || 1 byte", "§10.3 step 5", "compact", compact_with(&sealed[..81]), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("wrong recipient key", "§10.3 step 9", "json", s("envelope_json"), other_sk, kid.clone(), ctx.clone(), "OpenFailed"),
        case("envelope for another key id", "§10.3 step 7", "json", s("envelope_json"), sk.clone(), "n1_someone-else".into(), ctx.clone(), "KeyIdMismatch"),
        case("raw sealed bytes opened under another key id", "§10.3 step 9", "sealed_hex", s("sealed"), sk.clone(), "n1_someone-else".into(), ctx.clone(), "OpenFailed"),
        case("envelope names another context than the opener's record", "§10.3 step 8", "json", s("envelope_json"), sk.clone(), kid.clone(), "card:43/set-pin".into(), "ContextMismatch"),
        case("context absent from the envelope, opener's record differs", "§10.3 step 9", "compact", format!("v1.{}.{}", kid, b64(&sealed)), sk.clone(), kid.clone(), "card:43/set-pin".into(), "OpenFailed"),
        case("context absent from the envelope, opener's record has none", "§10.3 step 9", "compact", format!("v1.{}.{}", kid, b64(&sealed)), sk.clone(), kid.clone(), String::new(), "OpenFailed"),
        case("version 2 (JSON)", "§10.3 step 2", "json", json!({"version": 2, "key_id": kid, "sealed": b64(&sealed), "context": ctx}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "UnsupportedVersion"),
        case("version 2 (compact)", "§10.3 step 2", "compact", format!("v2.{}.{}", kid, b64(&sealed)), sk.clone(), kid.clone(), ctx.clone(), "UnsupportedVersion"),
        case("unknown JSON member", "§10.3 step 3", "json", json!({"version": 1, "key_id": kid, "sealed": b64(&sealed), "context": ctx, "aad": ""}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("padded base64url", "§4.1", "compact", format!("v1.{}.{}=", kid, b64(&sealed)), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("standard base64 alphabet", "§4.1", "json", json!({"version": 1, "key_id": kid, "sealed": b64(&sealed).replace('-', "+").replace('_', "/") + "+/", "context": ctx}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("compact with five parts", "§10.3 step 3", "compact", format!("{}.{}", compact_with(&sealed), b64(b"x")), sk.clone(), kid.clone(), ctx.clone(), "Malformed"),
        case("key id with a dot", "§10.3 step 4", "json", json!({"version": 1, "key_id": "n1.x", "sealed": b64(&sealed)}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "InvalidKeyId"),
        case("context longer than 256 bytes", "§10.3 step 6", "json", json!({"version": 1, "key_id": kid, "sealed": b64(&sealed), "context": "x".repeat(257)}).to_string(), sk.clone(), kid.clone(), ctx.clone(), "ContextTooLong"),
    ];
    for case in &mut cases {
        case["kind"] = json!("open");
    }
    let compact0 = s("envelope_compact");
    let ctx_b64 = b64(ctx.as_bytes());
    cases.extend([
        // §4.1: base64url, exactly. A decoder that accepts padding or non-zero unused bits
        // reads these as the right bytes, and opens them.
        c.fail(0, "§4.1", "sealed with correct == padding (compact)", "compact", format!("v1.{kid}.{}.{ctx_b64}", padded(&sealed_b64)), "Malformed"),
        c.fail(0, "§4.1", "sealed with correct == padding (JSON)", "json", json!({"version": 1, "key_id": kid, "sealed": padded(&sealed_b64), "context": ctx}).to_string(), "Malformed"),
        c.fail(0, "§4.1", "sealed with non-zero unused bits in its last character (compact)", "compact", format!("v1.{kid}.{}.{ctx_b64}", nonzero_trailing_bits(&sealed_b64)), "Malformed"),
        c.fail(0, "§4.1", "sealed with non-zero unused bits in its last character (JSON)", "json", json!({"version": 1, "key_id": kid, "sealed": nonzero_trailing_bits(&sealed_b64), "context": ctx}).to_string(), "Malformed"),
        c.fail(3, "§4.1", "context part with correct == padding", "compact", format!("v1.{kid3}.{sealed3}.{}", padded(&ctx3_b64)), "Malformed"),
        c.fail(3, "§4.1", "context part with non-zero unused bits", "compact", format!("v1.{kid3}.{sealed3}.{}", nonzero_trailing_bits(&ctx3_b64)), "Malformed"),
        c.fail(0, "§4.1", "sealed with an inner line break (MIME style)", "compact", format!("v1.{kid}.{}\n{}.{ctx_b64}", &sealed_b64[..76], &sealed_b64[76..]), "Malformed"),
        // §10.1: only SP, HT, LF and CR surround a compact envelope.
        c.fail(0, "§10.1", "compact preceded by a form feed", "compact", format!("\u{c}{compact0}"), "Malformed"),
        c.fail(0, "§10.1", "compact followed by a vertical tab", "compact", format!("{compact0}\u{b}"), "Malformed"),
        c.fail(0, "§10.1", "compact followed by a no-break space (U+00A0)", "compact", format!("{compact0}\u{a0}"), "Malformed"),
        c.fail(0, "§10.1", "compact followed by an em space (U+2003)", "compact", format!("{compact0}\u{2003}"), "Malformed"),
        c.fail(0, "§10.1", "compact preceded by a byte order mark (U+FEFF)", "compact", format!("\u{feff}{compact0}"), "Malformed"),
        // §10.3 step 2: the version, classified before the parts are counted.
        c.fail(0, "§10.3 step 2", "compact version v0", "compact", format!("v0.{kid}.{sealed_b64}"), "UnsupportedVersion"),
        c.fail(0, "§10.3 step 2", "compact version v01 (leading zero)", "compact", format!("v01.{kid}.{sealed_b64}"), "Malformed"),
        c.fail(0, "§10.3 step 2", "compact version V1 (upper case)", "compact", format!("V1.{kid}.{sealed_b64}"), "Malformed"),
        c.fail(0, "§10.3 step 2", "compact version v without digits", "compact", format!("v.{kid}.{sealed_b64}"), "Malformed"),
        c.fail(0, "§10.3 step 2", "compact version v9007199254740992 (beyond 2^53 - 1)", "compact", format!("v9007199254740992.{kid}.{sealed_b64}"), "Malformed"),
        c.fail(0, "§10.3 step 2", "compact version v2 with six parts: the version wins over the part count", "compact", "v2.a.b.c.d.e".to_owned(), "UnsupportedVersion"),
        c.fail(0, "§10.3 step 3", "compact v1 with two parts", "compact", format!("v1.{kid}"), "Malformed"),
        // §10.3 steps 4 to 6, and their order.
        c.fail(0, "§10.3 step 4", "compact: bad key id and bad sealed: the key id wins", "compact", format!("v1.n1$x.{}=", sealed_b64), "InvalidKeyId"),
        c.fail(0, "§10.3 step 4", "key id of 129 characters", "compact", format!("v1.{}.{sealed_b64}", "k".repeat(129)), "InvalidKeyId"),
        c.fail(0, "§10.3 step 6", "context part of 257 bytes that are not UTF-8: the length wins", "compact", format!("v1.{kid}.{sealed_b64}.{}", b64(&[0xff; 257])), "ContextTooLong"),
        c.fail(0, "§10.3 step 6", "context part that is not UTF-8", "compact", format!("v1.{kid}.{sealed_b64}.{}", b64(&[0x63, 0xff, 0x64])), "Malformed"),
        c.fail(0, "§10.3 step 6", "context part that is a UTF-16 surrogate encoded in UTF-8 (CESU)", "compact", format!("v1.{kid}.{sealed_b64}.{}", b64(&[0xed, 0xa0, 0x80])), "Malformed"),
        // §10.1 and §10.3 (JSON): duplicates, null, numbers, order.
        c.fail(0, "§10.1", "duplicate key_id member, the last one right (a last-wins reader opens it)", "json", json_with(&format!(r#""version":1,"key_id":"n1_someone-else","key_id":"{kid}","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "duplicate key_id member, the first one right (a first-wins reader opens it)", "json", json_with(&format!(r#""version":1,"key_id":"{kid}","key_id":"n1_someone-else","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "duplicate version member (2, then 1)", "json", json_with(&format!(r#""version":2,"version":1,"key_id":"{kid}","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "duplicate context member (another, then the right one)", "json", json_with(&format!(r#""version":1,"key_id":"{kid}","sealed":"{sealed_b64}","context":"card:43/set-pin","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "duplicate member names written with an escape", "json", json_with(&format!(r#""version":1,"key_id":"{kid}","\u006bey_id":"{kid}","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.3 step 3", "envelope context null", "json", json_with(&format!(r#""version":1,"key_id":"{kid}","sealed":"{sealed_b64}","context":null"#)), "Malformed"),
        c.fail(0, "§10.3 step 3", "key_id null", "json", json_with(&format!(r#""version":1,"key_id":null,"sealed":"{sealed_b64}""#)), "Malformed"),
        c.fail(0, "§10.1", "version 1.0 (a fraction)", "json", json_with(&format!(r#""version":1.0,"key_id":"{kid}","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "version 1e0 (an exponent)", "json", json_with(&format!(r#""version":1e0,"key_id":"{kid}","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "version \"1\" (a string)", "json", json_with(&format!(r#""version":"1","key_id":"{kid}","sealed":"{sealed_b64}","context":"{ctx}""#)), "Malformed"),
        c.fail(0, "§10.1", "version 9007199254740992 (beyond 2^53 - 1)", "json", json_with(&format!(r#""version":9007199254740992,"key_id":"{kid}","sealed":"{sealed_b64}""#)), "Malformed"),
        c.fail(0, "§10.3 step 2", "version 0", "json", json_with(&format!(r#""version":0,"key_id":"{kid}","sealed":"{sealed_b64}""#)), "UnsupportedVersion"),
        c.fail(0, "§10.3 step 2", "version 2 with an unknown member: the version wins", "json", json_with(&format!(r#""version":2,"key_id":"{kid}","sealed":"{sealed_b64}","enc":"x""#)), "UnsupportedVersion"),
        c.fail(0, "§10.3 step 2", "version missing", "json", json_with(&format!(r#""key_id":"{kid}","sealed":"{sealed_b64}""#)), "Malformed"),
        c.fail(0, "§10.3 step 3", "sealed missing", "json", json_with(&format!(r#""version":1,"key_id":"{kid}""#)), "Malformed"),
        c.fail(0, "§10.3 step 3", "JSON that is not an object", "json", format!(r#"["{compact0}"]"#), "Malformed"),
        c.fail(0, "§10.1", "JSON preceded by a byte order mark", "json", format!("\u{feff}{}", s("envelope_json")), "Malformed"),
        c.fail(0, "§10.1", "context with a lone surrogate escape", "json", json_with(&format!(r#""version":1,"key_id":"{kid}","sealed":"{sealed_b64}","context":"card:42/set-pin\ud800""#)), "Malformed"),
        c.fail(0, "§10.3 step 9", "raw sealed bytes of an empty plaintext (81 bytes)", "sealed_hex", {
            let info = ok2cry_client::suite::info(&KeyId::new(kid.clone()).expect("key id"), &ctx);
            let pk = hex::decode(s("pkRm")).expect("hex");
            let empty = independent_seal(&pk, &info, b"", &ikm("ok2cry v1 vector ephemeral 5"));
            assert_eq!(empty.len(), 81);
            hex::encode(empty)
        }, "OpenFailed"),
        c.fail(0, "§10.3 step 7", "for another key id and naming another context: the key id wins", "json", json!({"version": 1, "key_id": "n1_someone-else", "sealed": sealed_b64, "context": "card:43/set-pin"}).to_string(), "KeyIdMismatch"),
    ]);
    // Every case fails as stated before it is written.
    for c in &cases {
        let want = c["error"].as_str().expect("error").to_owned();
        match open_case(c) {
            Ok(_) => panic!("must-fail case opened: {}", c["name"]),
            Err(e) => assert_eq!(error_name(&e), want, "{}", c["name"]),
        }
    }
    cases
}

fn open_must_pass(seals: &[Value]) -> Vec<Value> {
    let c = OpenCases { seals };
    let (kid0, compact0, sealed0, ctx0) = (
        c.s(0, "key_id"),
        c.s(0, "envelope_compact"),
        c.s(0, "sealed_b64url"),
        c.s(0, "context"),
    );
    let (kid1, sealed1) = (c.s(1, "key_id"), c.s(1, "sealed_b64url"));
    let (kid3, sealed3) = (c.s(3, "key_id"), c.s(3, "sealed_b64url"));
    let escaped_ctx3: String = c
        .s(3, "context")
        .chars()
        .map(|ch| {
            if ch.is_ascii() {
                ch.to_string()
            } else {
                format!("\\u{:04x}", ch as u32)
            }
        })
        .collect();
    let escaped_kid0: String = kid0
        .chars()
        .map(|ch| format!("\\u{:04x}", ch as u32))
        .collect();
    let cases = vec![
        c.pass(0, "§10.1", "compact surrounded by SP, HT, CR and LF", "compact", format!(" \t\r\n{compact0}\r\n\t ")),
        c.pass(1, "§10.3 step 6", "compact with an empty fourth part: no context", "compact", format!("v1.{kid1}.{sealed1}.")),
        c.pass(1, "§5", "JSON with \"context\": \"\": no context", "json", format!(r#"{{"version":1,"key_id":"{kid1}","sealed":"{sealed1}","context":""}}"#)),
        c.pass(0, "§10.1", "JSON members in another order, with insignificant whitespace", "json", format!("{{ \"context\" : \"{ctx0}\" ,\n\t\"sealed\":\"{sealed0}\",\r\n \"key_id\":\"{kid0}\", \"version\" : 1 }}\n")),
        c.pass(0, "§10.1", "JSON key_id and member name written with escapes", "json", format!(r#"{{"version":1,"\u006bey_id":"{escaped_kid0}","sealed":"{sealed0}","context":"{ctx0}"}}"#)),
        c.pass(3, "§10.1", "JSON context with its non-ASCII character escaped", "json", format!(r#"{{"version":1,"key_id":"{kid3}","sealed":"{sealed3}","context":"{escaped_ctx3}"}}"#)),
    ];
    for case in &cases {
        let opened = open_case(case).unwrap_or_else(|e| panic!("{}: {e:?}", case["name"]));
        assert_eq!(
            hex::encode(opened),
            case["plaintext"].as_str().expect("plaintext"),
            "{}",
            case["name"]
        );
    }
    cases
}

fn token_section(first: &SealCase) -> (Value, Vec<Value>, Vec<Value>) {
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
    let (h, p, sig) = {
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

    let tok = |name: &str, section: &str, token: String, now: u64, err: &str| json!({"kind": "token", "name": name, "section": section, "token": token, "now": now, "error": err});
    let tok_jwks = |name: &str, section: &str, jwks_json: String, err: &str| json!({"kind": "token", "name": name, "section": section, "token": token, "now": NOW, "jwks_json": jwks_json, "error": err});
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let with = |f: &dyn Fn(&mut Value, &mut Value)| {
        let (mut hh, mut pp) = (header.clone(), payload.clone());
        f(&mut hh, &mut pp);
        sign_raw(&raw_key, &hh, &pp)
    };
    let text = |h: &str, p: &str| sign_text(&raw_key, h, p);
    let header_text = serde_json::to_string(&header).expect("json");
    let payload_text = serde_json::to_string(&payload).expect("json");
    // The payload text with `"<member>":<value>` written as `"<member>":<written>`.
    let payload_with = |member: &str, written: &str| {
        let current = format!("\"{member}\":{}", payload[member]);
        assert!(payload_text.contains(&current), "{member}");
        payload_text.replace(&current, &format!("\"{member}\":{written}"))
    };
    let none = format!(
        "{}.{}.",
        b64(&serde_json::to_vec(
            &json!({"alg": "none", "typ": "ok2cry-key+jwt", "kid": signer.kid()})
        )
        .expect("json")),
        p
    );
    let kid = signer.kid().to_owned();
    let sig_bytes = Base64UrlUnpadded::decode_vec(sig).expect("b64");
    let entry = serde_json::to_value(signer.public_jwk()).expect("jwk");
    let entry_text = serde_json::to_string(&entry).expect("jwk");
    let x = entry["x"].as_str().expect("x").to_owned();
    let y = entry["y"].as_str().expect("y").to_owned();
    let set = |entries: &[String]| format!(r#"{{"keys":[{}]}}"#, entries.join(","));
    let entry_with = |f: &dyn Fn(&mut Value)| {
        let mut e = entry.clone();
        f(&mut e);
        serde_json::to_string(&e).expect("jwk")
    };
    let no_jwk_kid = |p: &mut Value| {
        p["jwk"].as_object_mut().expect("jwk").remove("kid");
    };
    let cases = vec![
        tok(
            "expired: now == exp",
            "§10.2 step 11",
            token.clone(),
            EXP,
            "Expired",
        ),
        tok(
            "expired: now > exp",
            "§10.2 step 11",
            token.clone(),
            EXP + 3600,
            "Expired",
        ),
        tok(
            "issued more than 60 s in the future",
            "§10.2 step 12",
            token.clone(),
            IAT - 61,
            "NotYetValid",
        ),
        tok(
            "alg none, empty signature",
            "§10.2 step 4",
            none,
            NOW,
            "UnsupportedAlgorithm",
        ),
        tok(
            "alg HS256",
            "§10.2 step 4",
            with(&|h, _| h["alg"] = json!("HS256")),
            NOW,
            "UnsupportedAlgorithm",
        ),
        tok(
            "typ JWT",
            "§10.2 step 5",
            with(&|h, _| h["typ"] = json!("JWT")),
            NOW,
            "WrongTokenType",
        ),
        tok(
            "kid not in the JWK set",
            "§10.2 step 6",
            with(&|h, _| h["kid"] = json!("unknown")),
            NOW,
            "UnknownSigningKey",
        ),
        tok(
            "signature changed",
            "§10.2 step 7",
            flipped,
            NOW,
            "BadSignature",
        ),
        tok(
            "unknown header member jku",
            "§10.2 step 2",
            with(&|h, _| h["jku"] = json!("https://evil.example/jwks.json")),
            NOW,
            "Malformed",
        ),
        tok(
            "unknown claim",
            "§10.2 step 3",
            with(&|_, p| p["aud"] = json!("x")),
            NOW,
            "Malformed",
        ),
        tok(
            "version 2",
            "§10.2 step 8",
            with(&|_, p| p["v"] = json!(2)),
            NOW,
            "UnsupportedVersion",
        ),
        tok(
            "suite other than STRONG",
            "§10.2 step 9",
            with(&|_, p| p["suite"] = json!("WEAK")),
            NOW,
            "UnsupportedSuite",
        ),
        tok(
            "max_opens 0",
            "§10.2 step 3",
            with(&|_, p| p["max_opens"] = json!(0)),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk kid differs from key_id",
            "§10.2 step 13",
            with(&|_, p| p["jwk"]["kid"] = json!("n1_other")),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk on curve P-384",
            "§10.2 step 15",
            with(&|_, p| p["jwk"]["crv"] = json!("P-384")),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk point off the curve",
            "§10.2 step 15",
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
            "§10.2 step 15",
            with(&|_, p| p["jwk"]["d"] = json!(b64(&[1u8; 32]))),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "two parts",
            "§10.2 step 1",
            format!("{h}.{p}"),
            NOW,
            "Malformed",
        ),
        // Step 1: text, length and base64url.
        tok(
            "followed by a form feed",
            "§10.1",
            format!("{token}\u{c}"),
            NOW,
            "Malformed",
        ),
        tok(
            "preceded by a no-break space (U+00A0)",
            "§10.1",
            format!("\u{a0}{token}"),
            NOW,
            "Malformed",
        ),
        tok(
            "signature with correct == padding",
            "§4.1",
            with_signature_text(&token, &padded(sig)),
            NOW,
            "Malformed",
        ),
        tok(
            "signature with non-zero unused bits in its last character",
            "§4.1",
            with_signature_text(&token, &nonzero_trailing_bits(sig)),
            NOW,
            "Malformed",
        ),
        tok(
            "claims part with correct = padding",
            "§4.1",
            format!("{h}.{}.{sig}", padded(p)),
            NOW,
            "Malformed",
        ),
        tok(
            "signature part in the standard base64 alphabet",
            "§4.1",
            with_signature_text(&token, &standard_alphabet(sig)),
            NOW,
            "Malformed",
        ),
        tok(
            "8 193 bytes long (one over the limit)",
            "§10.2 step 1",
            long_token(&raw_key, &header_text, &payload, MAX_TOKEN_LEN + 1),
            NOW,
            "Malformed",
        ),
        // Step 2: the header has exactly alg, typ and kid, strings.
        tok(
            "header without kid",
            "§10.2 step 2",
            with(&|h, _| {
                h.as_object_mut().expect("object").remove("kid");
            }),
            NOW,
            "Malformed",
        ),
        tok(
            "header without typ",
            "§10.2 step 2",
            with(&|h, _| {
                h.as_object_mut().expect("object").remove("typ");
            }),
            NOW,
            "Malformed",
        ),
        tok(
            "header without alg",
            "§10.2 step 2",
            with(&|h, _| {
                h.as_object_mut().expect("object").remove("alg");
            }),
            NOW,
            "Malformed",
        ),
        tok(
            "header alg null",
            "§10.2 step 2",
            with(&|h, _| h["alg"] = Value::Null),
            NOW,
            "Malformed",
        ),
        tok(
            "header kid a number",
            "§10.2 step 2",
            with(&|h, _| h["kid"] = json!(7)),
            NOW,
            "Malformed",
        ),
        tok(
            "header with alg twice (none, then ES256): a last-wins reader verifies it",
            "§10.1",
            text(
                &format!(r#"{{"alg":"none","alg":"ES256","typ":"ok2cry-key+jwt","kid":"{kid}"}}"#),
                &payload_text,
            ),
            NOW,
            "Malformed",
        ),
        tok(
            "header with alg twice (ES256, then none): a first-wins reader verifies it",
            "§10.1",
            text(
                &format!(r#"{{"alg":"ES256","alg":"none","typ":"ok2cry-key+jwt","kid":"{kid}"}}"#),
                &payload_text,
            ),
            NOW,
            "Malformed",
        ),
        // Step 3: claims' members, types and ranges; the key id.
        tok(
            "claims with key_id twice (another, then the right one)",
            "§10.1",
            text(
                &header_text,
                &payload_text.replacen('{', r#"{"key_id":"n1_someone-else","#, 1),
            ),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk with crv twice (P-384, then P-256)",
            "§10.1",
            text(
                &header_text,
                &payload_text.replacen(r#""crv":"P-256""#, r#""crv":"P-384","crv":"P-256""#, 1),
            ),
            NOW,
            "Malformed",
        ),
        tok(
            "iat negative",
            "§10.1",
            text(&header_text, &payload_with("iat", "-1")),
            NOW,
            "Malformed",
        ),
        tok(
            "iat with a fraction (1750000000.0)",
            "§10.1",
            text(&header_text, &payload_with("iat", &format!("{IAT}.0"))),
            NOW,
            "Malformed",
        ),
        tok(
            "iat with an exponent (1.75e9)",
            "§10.1",
            text(&header_text, &payload_with("iat", "1.75e9")),
            NOW,
            "Malformed",
        ),
        tok(
            "exp 2^53 (beyond 2^53 - 1)",
            "§10.1",
            text(&header_text, &payload_with("exp", "9007199254740992")),
            NOW,
            "Malformed",
        ),
        tok(
            "max_opens 2^32",
            "§10.2 step 3",
            with(&|_, p| p["max_opens"] = json!(1u64 << 32)),
            NOW,
            "Malformed",
        ),
        tok(
            "max_opens 2^40",
            "§10.2 step 3",
            with(&|_, p| p["max_opens"] = json!(1u64 << 40)),
            NOW,
            "Malformed",
        ),
        tok(
            "v 1.0",
            "§10.1",
            text(&header_text, &payload_with("v", "1.0")),
            NOW,
            "Malformed",
        ),
        tok(
            "v \"1\"",
            "§10.2 step 3",
            with(&|_, p| p["v"] = json!("1")),
            NOW,
            "Malformed",
        ),
        tok(
            "v 256",
            "§10.2 step 8",
            with(&|_, p| p["v"] = json!(256)),
            NOW,
            "UnsupportedVersion",
        ),
        tok(
            "claim context null",
            "§10.2 step 3",
            with(&|_, p| p["context"] = Value::Null),
            NOW,
            "Malformed",
        ),
        tok(
            "iss empty",
            "§10.2 step 3",
            with(&|_, p| p["iss"] = json!("")),
            NOW,
            "Malformed",
        ),
        tok(
            "iss of 257 bytes",
            "§10.2 step 3",
            with(&|_, p| p["iss"] = json!("i".repeat(257))),
            NOW,
            "Malformed",
        ),
        tok(
            "iss a number",
            "§10.2 step 3",
            with(&|_, p| p["iss"] = json!(1)),
            NOW,
            "Malformed",
        ),
        tok(
            "key_id with a dot",
            "§10.2 step 3",
            with(&|_, p| {
                p["key_id"] = json!("n1.x");
                no_jwk_kid(p);
            }),
            NOW,
            "InvalidKeyId",
        ),
        tok(
            "key_id of 129 characters",
            "§10.2 step 3",
            with(&|_, p| {
                p["key_id"] = json!("k".repeat(129));
                no_jwk_kid(p);
            }),
            NOW,
            "InvalidKeyId",
        ),
        tok(
            "jwk with an unknown member",
            "§10.2 step 3",
            with(&|_, p| p["jwk"]["foo"] = json!("bar")),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk ext a string",
            "§10.2 step 3",
            with(&|_, p| p["jwk"]["ext"] = json!("true")),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk key_ops not an array",
            "§10.2 step 3",
            with(&|_, p| p["jwk"]["key_ops"] = json!("deriveBits")),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk without y",
            "§10.2 step 3",
            with(&|_, p| {
                p["jwk"].as_object_mut().expect("jwk").remove("y");
            }),
            NOW,
            "Malformed",
        ),
        tok(
            "jwk not an object",
            "§10.2 step 3",
            with(&|_, p| p["jwk"] = json!("EC")),
            NOW,
            "Malformed",
        ),
        tok(
            "key_id invalid and alg none: step 3 comes before step 4",
            "§10.2 step 3",
            with(&|h, p| {
                h["alg"] = json!("none");
                p["key_id"] = json!("n1.x");
                no_jwk_kid(p);
            }),
            NOW,
            "InvalidKeyId",
        ),
        // Steps 4 to 15: order and values.
        tok(
            "alg HS256 and typ JWT: alg first",
            "§10.2 step 4",
            with(&|h, _| {
                h["alg"] = json!("HS256");
                h["typ"] = json!("JWT");
            }),
            NOW,
            "UnsupportedAlgorithm",
        ),
        tok(
            "typ JWT and kid unknown: typ first",
            "§10.2 step 5",
            with(&|h, _| {
                h["typ"] = json!("JWT");
                h["kid"] = json!("unknown");
            }),
            NOW,
            "WrongTokenType",
        ),
        tok(
            "bad signature, v 2, suite WEAK, expired: the signature first",
            "§10.2 step 7",
            with_signature(
                &with(&|_, p| {
                    p["v"] = json!(2);
                    p["suite"] = json!("WEAK");
                    p["exp"] = json!(IAT + 1);
                }),
                &[7u8; 64],
            ),
            NOW,
            "BadSignature",
        ),
        tok(
            "signature s = n (out of range)",
            "§10.2 step 7",
            with_signature(&token, &[&sig_bytes[..32], &P256_ORDER[..]].concat()),
            NOW,
            "BadSignature",
        ),
        tok(
            "signature r = 0",
            "§10.2 step 7",
            with_signature(&token, &[&[0u8; 32][..], &sig_bytes[32..]].concat()),
            NOW,
            "BadSignature",
        ),
        tok(
            "signature DER-encoded",
            "§10.2 step 7",
            with_signature(
                &token,
                p256::ecdsa::Signature::from_slice(&sig_bytes)
                    .expect("sig")
                    .to_der()
                    .as_bytes(),
            ),
            NOW,
            "BadSignature",
        ),
        tok(
            "iat after exp",
            "§10.2 step 10",
            with(&|_, p| p["iat"] = json!(EXP + 1)),
            NOW,
            "Malformed",
        ),
        tok(
            "expired and jwk on P-384: time first",
            "§10.2 step 11",
            with(&|_, p| p["jwk"]["crv"] = json!("P-384")),
            EXP,
            "Expired",
        ),
        tok(
            "context of 257 bytes",
            "§10.2 step 14",
            with(&|_, p| p["context"] = json!("c".repeat(257))),
            NOW,
            "ContextTooLong",
        ),
        tok(
            "jwk x with correct = padding",
            "§4.1",
            with(&|_, p| p["jwk"]["x"] = json!(padded(p["jwk"]["x"].as_str().expect("x")))),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk x with non-zero unused bits",
            "§4.1",
            with(&|_, p| {
                p["jwk"]["x"] = json!(nonzero_trailing_bits(p["jwk"]["x"].as_str().expect("x")))
            }),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk x of 33 bytes",
            "§10.2 step 15",
            with(&|_, p| {
                let x =
                    Base64UrlUnpadded::decode_vec(p["jwk"]["x"].as_str().expect("x")).expect("b64");
                p["jwk"]["x"] = json!(b64(&[&[0u8][..], &x].concat()));
            }),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk d null",
            "§10.2 step 15",
            with(&|_, p| p["jwk"]["d"] = Value::Null),
            NOW,
            "InvalidPublicKey",
        ),
        tok(
            "jwk kty OKP",
            "§10.2 step 15",
            with(&|_, p| p["jwk"]["kty"] = json!("OKP")),
            NOW,
            "InvalidPublicKey",
        ),
        // §7.4: the JWK set.
        tok_jwks(
            "JWK set with the signing key twice (same kid)",
            "§7.4",
            set(&[entry_text.clone(), entry_text.clone()]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set: the kid also on an RSA entry",
            "§7.4",
            set(&[
                r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"KID"}"#.replace("KID", &kid),
                entry_text.clone(),
            ]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set entry with d",
            "§7.4",
            set(&[entry_with(&|e| e["d"] = json!(b64(&signing_secret)))]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set entry on P-384",
            "§7.4",
            set(&[entry_with(&|e| e["crv"] = json!("P-384"))]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set entry with alg ES384",
            "§7.4",
            set(&[entry_with(&|e| e["alg"] = json!("ES384"))]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set entry with use enc",
            "§7.4",
            set(&[entry_with(&|e| e["use"] = json!("enc"))]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set entry off the curve",
            "§7.4",
            set(&[entry_with(&|e| {
                let mut bytes = Base64UrlUnpadded::decode_vec(&y).expect("b64");
                bytes[31] ^= 1;
                e["y"] = json!(b64(&bytes));
            })]),
            "UnknownSigningKey",
        ),
        tok_jwks(
            "JWK set entry with x twice (another, then the right one): a last-wins reader verifies",
            "§10.1",
            set(&[entry_text.replacen(
                r#""x":"#,
                &format!(r#""x":"{}","x":"#, b64(&[1u8; 32])),
                1,
            )]),
            "Malformed",
        ),
        tok_jwks(
            "JWK set with keys twice (empty, then the right one)",
            "§10.1",
            format!(r#"{{"keys":[],"keys":[{entry_text}]}}"#),
            "Malformed",
        ),
        tok_jwks(
            "JWK set keys not an array",
            "§7.4",
            format!(r#"{{"keys":{entry_text}}}"#),
            "Malformed",
        ),
        tok_jwks(
            "JWK set entry not an object",
            "§7.4",
            format!(r#"{{"keys":[{entry_text},"{x}"]}}"#),
            "Malformed",
        ),
    ];
    // Every case fails as stated before it is written.
    for c in &cases {
        match token_case(c, &jwks) {
            Ok(_) => panic!("must-fail token verified: {}", c["name"]),
            Err(e) => assert_eq!(
                error_name(&e),
                c["error"].as_str().expect("error"),
                "{}",
                c["name"]
            ),
        }
    }

    let ok = |name: &str, section: &str, token: String, now: u64, context: &str| {
        json!({"kind": "token", "name": name, "section": section, "token": token, "now": now,
               "key_id": claims.key_id.as_str(), "context": context})
    };
    let ok_jwks = |name: &str, section: &str, jwks_json: String| {
        json!({"kind": "token", "name": name, "section": section, "token": token, "now": NOW,
               "jwks_json": jwks_json, "key_id": claims.key_id.as_str(), "context": first.context})
    };
    let ctx = first.context.as_str();
    let high_s = [&sig_bytes[..32], &order_minus(&sig_bytes[32..])[..]].concat();
    let passes = vec![
        ok(
            "surrounded by SP, HT, CR and LF",
            "§10.1",
            format!("\r\n\t {token} \t\r\n"),
            NOW,
            ctx,
        ),
        ok(
            "signature with the other S (n - s)",
            "§10.2 step 7",
            with_signature(&token, &high_s),
            NOW,
            ctx,
        ),
        ok(
            "context \"\": no context",
            "§3",
            with(&|_, p| p["context"] = json!("")),
            NOW,
            "",
        ),
        ok(
            "no context member",
            "§7.2",
            with(&|_, p| {
                p.as_object_mut().expect("claims").remove("context");
            }),
            NOW,
            "",
        ),
        ok(
            "jwk with the tolerated members ext, key_ops, use and alg",
            "§7.3",
            with(&|_, p| {
                p["jwk"]["ext"] = json!(true);
                p["jwk"]["key_ops"] = json!(["deriveBits"]);
                p["jwk"]["use"] = json!("enc");
                p["jwk"]["alg"] = json!("ECDH-ES");
            }),
            NOW,
            ctx,
        ),
        ok(
            "jwk without kid",
            "§7.3",
            with(&|_, p| no_jwk_kid(p)),
            NOW,
            ctx,
        ),
        ok(
            "exp 2^53 - 1, max_opens 2^32 - 1",
            "§10.1",
            with(&|_, p| {
                p["exp"] = json!(MAX_INT);
                p["max_opens"] = json!(u64::from(u32::MAX));
            }),
            NOW,
            ctx,
        ),
        ok(
            "iat exactly 60 s in the future",
            "§10.2 step 12",
            token.clone(),
            IAT - 60,
            ctx,
        ),
        ok(
            "iat 0 (the epoch)",
            "§10.1",
            with(&|_, p| p["iat"] = json!(0)),
            NOW,
            ctx,
        ),
        ok(
            "iss of 256 bytes",
            "§7.2",
            with(&|_, p| p["iss"] = json!("i".repeat(256))),
            NOW,
            ctx,
        ),
        ok(
            "header members in another order, alg written with escapes",
            "§10.1",
            text(
                &format!(r#"{{"kid":"{kid}", "typ":"ok2cry-key+jwt", "alg":"ES\u0032\u00356"}}"#),
                &payload_text,
            ),
            NOW,
            ctx,
        ),
        ok(
            "8 192 bytes long (the limit)",
            "§10.2 step 1",
            long_token(&raw_key, &header_text, &payload, MAX_TOKEN_LEN),
            NOW,
            ctx,
        ),
        ok_jwks(
            "JWK set entry without alg and use, with other members; other entries and top-level members",
            "§7.4",
            format!(
                r#"{{"keys":[{{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa-1"}},{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","kid":"{kid}","x5c":[],"key_ops":["verify"]}},{{"kid":"nothing"}}],"next_rotation":"2026-01-01"}}"#
            ),
        ),
        ok_jwks(
            "JWK set: an unusable entry under another kid does not matter",
            "§7.4",
            set(&[
                entry_with(&|e| {
                    e["kid"] = json!("other");
                    e["crv"] = json!("P-384");
                }),
                entry_text.clone(),
            ]),
        ),
    ];
    for c in &passes {
        let verified = token_case(c, &jwks).unwrap_or_else(|e| panic!("{}: {e:?}", c["name"]));
        assert_eq!(
            verified.key_id().as_str(),
            c["key_id"].as_str().expect("key_id")
        );
        assert_eq!(verified.context(), c["context"].as_str().expect("context"));
    }
    (section, cases, passes)
}

/// The largest integer of the protocol, 2^53 - 1.
pub const MAX_INT: u64 = (1 << 53) - 1;

/// A validly signed token of exactly `len` bytes: the `jwk` claim carries a `key_ops` entry as
/// filler (a tolerated member).
fn long_token(
    key: &p256::ecdsa::SigningKey,
    header_text: &str,
    payload: &Value,
    len: usize,
) -> String {
    // An ES256 signature is 64 bytes: 86 base64url characters. Base64url lengths skip one
    // value in four, so the header may also carry insignificant whitespace (§10.1).
    for spaces in 0..4 {
        let header = header_text.replacen('{', &format!("{{{}", " ".repeat(spaces)), 1);
        let length = |payload_text: &str| {
            b64(header.as_bytes()).len() + 1 + b64(payload_text.as_bytes()).len() + 1 + 86
        };
        for filler in 0..len {
            let mut p = payload.clone();
            p["jwk"]["key_ops"] = json!(["x".repeat(filler)]);
            let text = serde_json::to_string(&p).expect("json");
            if length(&text) == len {
                let token = sign_text(key, &header, &text);
                assert_eq!(token.len(), len);
                return token;
            }
            if length(&text) > len {
                break;
            }
        }
    }
    panic!("no token of {len} bytes");
}

/// The whole vector file.
pub fn generate() -> Value {
    let cases = seal_cases();
    let seals: Vec<Value> = cases.iter().map(seal_vector).collect();
    let (token, token_cases, token_passes) = token_section(&cases[0]);
    let mut must_fail = open_must_fail(&seals);
    must_fail.extend(token_cases);
    let mut must_pass = open_must_pass(&seals);
    must_pass.extend(token_passes);
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
        "must_pass": must_pass,
    })
}
