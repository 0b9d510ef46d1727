//! Interoperability with implementations we did not write: `@hpke/core` (RFC 9180 HPKE on
//! WebCrypto) and `jose` (JWS, JWK, RFC 7638), running in Node through the scripts in
//! `tests/interop/` (interface documented in tests/interop/README.md).
//!
//! - set PIN: a Rust-signed key token + JWK set → JS verifies it and seals → Rust opens;
//! - reveal: a JS-made key pair → Rust seals to its JWK → JS opens;
//! - RFC 7638 thumbprints agree both ways;
//! - the whole vector file (tests/vectors/protocol-v1.json) holds for `protocol.mjs`, a v1
//!   receiver written from docs/PROTOCOL.md with those libraries, in Node and in headless
//!   Chromium; and deliberately lenient variants of it fail some vector.
//!
//! No service is needed. Node.js and npm must be installed: these tests fail (they do not
//! skip) without them. `node_modules` is installed with `npm ci` from the committed lock file
//! on first use.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use ok2cry_client::local_key::key_id_for;
use ok2cry_client::{
    Envelope, Jwks, KeyId, KeyToken, KeyTokenClaims, PrivateKey, PublicJwk, PublicKey, TokenSigner,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("interop")
}

/// The pinned Node packages must be installed (`scripts/test` installs them from the lock
/// file); the tests fail, never skip, when they are not.
fn ensure_node_modules() -> PathBuf {
    let dir = interop_dir();
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        node_ok,
        "the JS interop tests need Node.js (20 or later) on PATH"
    );
    for package in ["@hpke/core", "jose"] {
        assert!(
            dir.join("node_modules")
                .join(package)
                .join("package.json")
                .exists(),
            "{package} is not installed in {}: run scripts/test (it installs what the tests need)",
            dir.display()
        );
    }
    dir
}

fn node(script: &str, args: &[&str]) -> Output {
    let dir = ensure_node_modules();
    Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running node {script}: {e}"))
}

/// Runs a script that must succeed and returns its JSON output.
fn node_ok(script: &str, args: &[&str]) -> Value {
    let out = node(script, args);
    assert!(
        out.status.success(),
        "node {script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "node {script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs a script that must fail; returns its error message.
fn node_err(script: &str, args: &[&str]) -> String {
    let out = node(script, args);
    assert!(
        !out.status.success(),
        "node {script} should have failed but printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "a failing script prints nothing on stdout"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64url(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

struct Issued {
    signer: TokenSigner,
    key: PrivateKey,
    key_id: KeyId,
    token: String,
}

fn issue(context: Option<&str>, iat: u64, exp: u64) -> Issued {
    let signer = TokenSigner::generate();
    let key = PrivateKey::generate();
    let key_id = KeyId::new("node1_q2Vp3Yb8WmA4nT0rXc7LfQ").unwrap();
    let claims = KeyTokenClaims::new(
        "https://ok2cry.test",
        key_id.clone(),
        &key.public_key(),
        iat,
        exp,
        1,
        context.map(str::to_owned),
    );
    let token = signer.sign(&claims).unwrap();
    Issued {
        signer,
        key,
        key_id,
        token,
    }
}

fn jwks_json(signers: &[&TokenSigner]) -> String {
    serde_json::to_string(&Jwks {
        keys: signers.iter().map(|s| s.public_jwk()).collect(),
    })
    .unwrap()
}

#[test]
fn set_pin_rust_token_js_verifies_and_seals_rust_opens() {
    let context = "card:4711/set-pin";
    let issued = issue(Some(context), now(), now() + 300);
    let jwks = jwks_json(&[&issued.signer]);
    // The Rust side accepts its own token (sanity) before JS sees it.
    let verified = KeyToken::parse(&issued.token)
        .unwrap()
        .verify(&Jwks::from_json(&jwks).unwrap(), now())
        .unwrap();
    assert_eq!(verified.context(), context);

    let out = node_ok(
        "seal.mjs",
        &[
            "--token",
            &issued.token,
            "--jwks",
            &jwks,
            "--plaintext",
            "1234",
            "--issuer",
            "https://ok2cry.test",
        ],
    );
    assert_eq!(out["key_id"], issued.key_id.as_str());
    assert_eq!(out["context"], context);
    assert_eq!(out["signing_kid"], issued.signer.kid());
    // jose's RFC 7638 thumbprint of the token's JWK equals ours.
    assert_eq!(
        out["thumbprint"],
        issued.key.public_key().thumbprint().as_str()
    );

    let envelope = Envelope::from_json_value(out["envelope"].clone()).unwrap();
    assert_eq!(envelope.context(), Some(context));
    let compact = Envelope::from_compact(out["compact"].as_str().unwrap()).unwrap();
    assert_eq!(compact, envelope);
    let plaintext = issued.key.open(&issued.key_id, context, &envelope).unwrap();
    assert_eq!(plaintext.expose_secret(), b"1234");
    // The context is bound into info: opening under another context fails.
    assert!(
        issued
            .key
            .open_sealed(&issued.key_id, "card:1/set-pin", envelope.sealed())
            .is_err()
    );
}

#[test]
fn set_pin_binary_plaintext_without_context() {
    let issued = issue(None, now(), now() + 60);
    let jwks = jwks_json(&[&issued.signer]);
    let pan: Vec<u8> = (0u8..=255).chain([0, 0xff, 7]).collect();
    let out = node_ok(
        "seal.mjs",
        &[
            "--token",
            &issued.token,
            "--jwks",
            &jwks,
            "--plaintext-b64url",
            &b64url(&pan),
        ],
    );
    assert_eq!(out["context"], "");
    assert!(out["envelope"].get("context").is_none());
    let envelope = Envelope::from_json_value(out["envelope"].clone()).unwrap();
    let plaintext = issued.key.open(&issued.key_id, "", &envelope).unwrap();
    assert_eq!(plaintext.expose_secret(), pan.as_slice());
}

#[test]
fn js_refuses_tokens_that_do_not_verify() {
    let issued = issue(None, now(), now() + 60);
    let other = TokenSigner::generate();
    // Signed by a key that is not in the JWK set.
    let err = node_err(
        "seal.mjs",
        &[
            "--token",
            &issued.token,
            "--jwks",
            &jwks_json(&[&other]),
            "--plaintext",
            "1",
        ],
    );
    assert!(err.contains("ERR_JWKS_NO_MATCHING_KEY"), "{err}");

    // A flipped signature bit.
    let mut tampered = issued.token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let jwks = jwks_json(&[&issued.signer]);
    let err = node_err(
        "seal.mjs",
        &["--token", &tampered, "--jwks", &jwks, "--plaintext", "1"],
    );
    assert!(err.contains("signature"), "{err}");

    // Expired.
    let expired = issue(None, now() - 600, now() - 300);
    let err = node_err(
        "seal.mjs",
        &[
            "--token",
            &expired.token,
            "--jwks",
            &jwks_json(&[&expired.signer]),
            "--plaintext",
            "1",
        ],
    );
    assert!(err.contains("ERR_JWT_EXPIRED"), "{err}");
}

#[test]
fn reveal_js_key_rust_seals_js_opens() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("device-key.json");
    let key_file = key_file.to_str().unwrap();
    let out = node_ok("keygen.mjs", &["--private-out", key_file]);

    let jwk: PublicJwk = serde_json::from_value(out["jwk"].clone()).unwrap();
    let public = PublicKey::from_jwk(&jwk).unwrap();
    // jose's thumbprint (the JS key id) equals ours.
    assert_eq!(out["key_id"], public.thumbprint().as_str());
    let key_id = key_id_for(&public);
    assert_eq!(out["key_id"], key_id.as_str());

    let context = "card:4711/reveal";
    let pan = "4111111111111111";
    let envelope = Envelope::seal_to(&public, &key_id, context, pan.as_bytes()).unwrap();

    // JSON form.
    let opened = node_ok(
        "open.mjs",
        &[
            "--private-key",
            key_file,
            "--envelope",
            &envelope.to_json(),
            "--context",
            context,
        ],
    );
    assert_eq!(opened["key_id"], key_id.as_str());
    assert_eq!(opened["plaintext"], pan);
    assert_eq!(opened["plaintext_b64url"], b64url(pan.as_bytes()).as_str());

    // Compact (header) form.
    let opened = node_ok(
        "open.mjs",
        &[
            "--private-key",
            key_file,
            "--envelope",
            &envelope.to_compact(),
            "--context",
            context,
        ],
    );
    assert_eq!(opened["plaintext"], pan);

    // The opener's context is checked and bound into info.
    let err = node_err(
        "open.mjs",
        &[
            "--private-key",
            key_file,
            "--envelope",
            &envelope.to_json(),
            "--context",
            "card:1/reveal",
        ],
    );
    assert!(err.contains("context"), "{err}");
    let no_context_named =
        Envelope::from_parts(key_id.clone(), envelope.sealed().to_vec(), None).unwrap();
    let err = node_err(
        "open.mjs",
        &[
            "--private-key",
            key_file,
            "--envelope",
            &no_context_named.to_json(),
            "--context",
            "card:1/reveal",
        ],
    );
    assert!(err.contains("OpenFailed"), "{err}");

    // A flipped ciphertext bit is refused.
    let mut sealed = envelope.sealed().to_vec();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    let tampered = Envelope::from_parts(key_id.clone(), sealed, Some(context.into())).unwrap();
    let err = node_err(
        "open.mjs",
        &[
            "--private-key",
            key_file,
            "--envelope",
            &tampered.to_json(),
            "--context",
            context,
        ],
    );
    assert!(err.contains("OpenFailed"), "{err}");

    // An envelope for another key is refused before any decryption.
    let other = PrivateKey::generate().public_key();
    let elsewhere = Envelope::seal_to(&other, &key_id_for(&other), "", b"x").unwrap();
    let err = node_err(
        "open.mjs",
        &[
            "--private-key",
            key_file,
            "--envelope",
            &elsewhere.to_json(),
        ],
    );
    assert!(err.contains("another key"), "{err}");
}

#[test]
fn thumbprints_agree_for_many_keys() {
    // Each JS key pair's jose thumbprint equals the Rust thumbprint of the same JWK; each Rust
    // key's thumbprint equals the one jose computes from the token's `jwk` claim.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let path = dir.path().join(format!("k{i}.json"));
        let out = node_ok("keygen.mjs", &["--private-out", path.to_str().unwrap()]);
        let jwk: PublicJwk = serde_json::from_value(out["jwk"].clone()).unwrap();
        assert_eq!(out["key_id"], jwk.thumbprint().as_str());
        assert_eq!(
            out["key_id"],
            PublicKey::from_jwk(&jwk).unwrap().thumbprint().as_str()
        );
    }
    for _ in 0..3 {
        let issued = issue(None, now(), now() + 60);
        let out = node_ok(
            "seal.mjs",
            &[
                "--token",
                &issued.token,
                "--jwks",
                &jwks_json(&[&issued.signer]),
                "--plaintext",
                "x",
            ],
        );
        assert_eq!(
            out["thumbprint"],
            issued.key.public_key().thumbprint().as_str()
        );
    }
}

fn vector_file() -> PathBuf {
    interop_dir()
        .join("..")
        .join("vectors")
        .join("protocol-v1.json")
}

fn vector_counts() -> (usize, usize, usize) {
    let text = std::fs::read_to_string(vector_file()).unwrap();
    let f: Value = serde_json::from_str(&text).unwrap();
    let n = |k: &str| f[k].as_array().unwrap().len();
    (n("seal"), n("must_pass"), n("must_fail"))
}

/// One run of protocol.mjs over the vector file: every vector behaves as the file says.
fn assert_all_vectors_hold(result: &Value, runtime: &str) {
    let (seal, must_pass, must_fail) = vector_counts();
    assert_eq!(result["counts"]["seal"], seal, "{runtime}");
    assert_eq!(result["counts"]["must_pass"], must_pass, "{runtime}");
    assert_eq!(result["counts"]["must_fail"], must_fail, "{runtime}");
    assert_eq!(
        result["failures"],
        serde_json::json!([]),
        "{runtime}: vectors that do not hold"
    );
}

/// A deliberately lenient reader lets through at least one must-fail case, each of them one
/// that the case's name says such a reader lets through.
fn assert_lenient_reader_caught(result: &Value, what: &str, name_mentions: &[&str]) {
    let accepted: Vec<&str> = result["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!accepted.is_empty(), "{what}: no vector catches it");
    for name in &accepted {
        assert!(
            name_mentions.iter().any(|m| name.contains(m)),
            "{what} let through {name:?}, which is not about it"
        );
    }
}

/// The whole vector file through protocol.mjs — a receiver written from docs/PROTOCOL.md alone,
/// with @hpke/core and jose — in Node: every seal vector opens, the key token and every
/// must-pass case verify or open, every must-fail case is refused with the named error.
#[test]
fn node_holds_to_every_vector() {
    let vectors = vector_file();
    let out = node_ok("vectors.mjs", &["--vectors", vectors.to_str().unwrap()]);
    assert_all_vectors_hold(&out, "node");
}

/// The vectors have teeth: the same receiver made deliberately lenient — a base64url decoder
/// that accepts padding or ignores non-zero unused bits, a JSON reader that keeps the last or
/// the first of duplicate members — fails at least one vector each.
#[test]
fn lenient_node_readers_fail_some_vector() {
    let vectors = vector_file();
    let vectors = vectors.to_str().unwrap();
    for (option, value, mentions) in [
        ("--base64", "padding", &["padding"][..]),
        ("--base64", "trailing", &["unused bits"][..]),
        ("--json", "last", &["twice", "duplicate"][..]),
        ("--json", "first", &["twice", "duplicate"][..]),
    ] {
        let out = node_ok("vectors.mjs", &["--vectors", vectors, option, value]);
        assert_lenient_reader_caught(&out, &format!("{option} {value}"), mentions);
    }
}

/// The same receiver and vector file in headless Chromium (Debian's package, driven by
/// playwright-core), on the browser's WebCrypto: strict, then each lenient reader.
#[test]
fn chromium_holds_to_every_vector() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "this test needs Debian's Chromium: run scripts/test (it installs what the tests need)"
    );
    let dir = ensure_node_modules();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is not installed: run scripts/test"
    );
    let vectors = vector_file();
    let out = node_ok(
        "vectors-browser.mjs",
        &["--vectors", vectors.to_str().unwrap()],
    );
    assert_all_vectors_hold(&out["strict"], "chromium");
    assert_lenient_reader_caught(&out["padding"], "chromium padding", &["padding"]);
    assert_lenient_reader_caught(&out["trailing"], "chromium trailing bits", &["unused bits"]);
    assert_lenient_reader_caught(&out["last"], "chromium last-wins", &["twice", "duplicate"]);
    assert_lenient_reader_caught(
        &out["first"],
        "chromium first-wins",
        &["twice", "duplicate"],
    );
}
