//! The end user's app: sets a PIN (flow 1) and reveals the card number (flow 2), talking only
//! to the fintech proxy.
//!
//! `cargo run --example end_user -- --proxy https://localhost:9444 --pki dev-pki --card 42 --pin 1234`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use ok2cry_client::{Envelope, Jwks, KeyToken, LocalKey, headers};
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::main]
async fn main() {
    let pki = std::path::PathBuf::from(common::arg("pki", "dev-pki"));
    let proxy = common::arg("proxy", "https://localhost:9444");
    let card = common::arg("card", "42");
    let pin = common::arg("pin", "1234");
    let http = common::https_client(&pki);

    // Flow 1: set PIN.
    let r = http
        .post(format!("{proxy}/api/cards/{card}/pin-key"))
        .send()
        .await
        .unwrap();
    let token = r
        .headers()
        .get(headers::KEY_TOKEN)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let jwks: Jwks = http
        .get(format!("{proxy}/api/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = KeyToken::parse(&token).unwrap().verify(&jwks, now).unwrap();
    println!(
        "[user] got key {} (verified: ES256 by ok2cry key {}, context {:?})",
        key.key_id(),
        key.signing_kid(),
        key.context()
    );
    let envelope = Envelope::seal(&key, pin.as_bytes()).unwrap();
    let r = http
        .post(format!("{proxy}/api/cards/{card}/pin"))
        .header(headers::ENVELOPE, envelope.to_compact())
        .send()
        .await
        .unwrap();
    println!(
        "[user] PIN sealed and sent: card API answered {}",
        r.status()
    );
    assert!(r.status().is_success(), "set PIN failed");

    // Flow 2: reveal the card number to a key made here.
    let mine = LocalKey::generate();
    let r = http
        .post(format!("{proxy}/api/cards/{card}/reveal"))
        .json(&serde_json::json!({"jwk": mine.public_jwk()}))
        .send()
        .await
        .unwrap();
    let compact = r
        .headers()
        .get(headers::ENVELOPE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let envelope = Envelope::from_compact(&compact).unwrap();
    let pan = mine
        .open(&format!("card:{card}/reveal"), &envelope)
        .unwrap();
    println!(
        "[user] revealed card number: {}",
        String::from_utf8_lossy(pan.expose_secret())
    );
}
