//! Interoperability with the running service, through implementations we did not write
//! (Node's @hpke/core and jose): JS verifies a key token issued by the service against the
//! service's JWKS and seals a PIN; the service opens it. And the card API (Rust client) seals
//! a PAN to a JS-made key; JS opens it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestServer, jwks_text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Node and the pinned packages must be there (`scripts/test` installs them from the lock
/// file); the tests fail, never skip, when they are not.
fn ensure_node_modules() {
    common::require_node_packages(&interop_dir(), &["@hpke/core", "jose"]);
}

fn node(script: &str, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(interop_dir().join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn js_seals_to_a_service_key_and_the_service_opens() {
    ensure_node_modules();
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let key: Value = c
        .post(server.url("/v1/keys"))
        .json(&json!({"ttl_seconds": 60, "context": "card:42/set-pin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks = jwks_text(&c, &server.url("")).await;
    let token = key["token"].as_str().unwrap();
    // The end user's app: jose verifies the token against the JWKS; @hpke/core seals.
    let sealed = node(
        "seal.mjs",
        &[
            "--token",
            token,
            "--jwks",
            &jwks,
            "--plaintext",
            "4321",
            "--issuer",
            "https://localhost:0",
        ],
    );
    assert_eq!(sealed["key_id"], key["key_id"]);
    assert_eq!(sealed["context"], "card:42/set-pin");
    // jose's RFC 7638 thumbprint of the token's key equals ours.
    let ours =
        ok2cry_client::PublicJwk::thumbprint(&serde_json::from_value(key["jwk"].clone()).unwrap());
    assert_eq!(sealed["thumbprint"], ours.as_str());
    // The card API asks the service to open what JS sealed, using the compact header form.
    let key_id = key["key_id"].as_str().unwrap();
    let r = c
        .post(server.url(&format!("/v1/keys/{key_id}/open")))
        .header("Ok2cry-Envelope", sealed["compact"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let opened: Value = r.json().await.unwrap();
    assert_eq!(opened["plaintext"], "NDMyMQ"); // base64url("4321")
    server.stop().await;
}

#[tokio::test]
async fn the_rust_client_seals_a_pan_to_a_js_key_and_js_opens() {
    ensure_node_modules();
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("user.jwk");
    let made = node("keygen.mjs", &["--private-out", private.to_str().unwrap()]);
    let jwk: ok2cry_client::PublicJwk = serde_json::from_value(made["jwk"].clone()).unwrap();
    let public = ok2cry_client::PublicKey::from_jwk(&jwk).unwrap();
    let key_id = ok2cry_client::local_key::key_id_for(&public);
    assert_eq!(made["key_id"], key_id.as_str());
    let envelope =
        ok2cry_client::Envelope::seal_to(&public, &key_id, "card:42/reveal", b"4111111111111111")
            .unwrap();
    let opened = node(
        "open.mjs",
        &[
            "--private-key",
            private.to_str().unwrap(),
            "--envelope",
            &envelope.to_json(),
            "--context",
            "card:42/reveal",
        ],
    );
    assert_eq!(opened["plaintext"], "4111111111111111");
}
