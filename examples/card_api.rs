//! A card-issuing API (the party that holds PINs and card numbers).
//!
//! - "set PIN" (flow 1): asks ok2cry for a disposable key bound to the card, hands the key token
//!   out (`Ok2cry-Key`), later receives the sealed PIN (`Ok2cry-Envelope`) and has ok2cry open
//!   it once.
//! - "reveal" (flow 2): receives the end user's own public key (a JWK), seals the card number
//!   to it with `ok2cry-client`, and returns the envelope.
//!
//! `cargo run --example card_api -- --listen 127.0.0.1:9443 --ok2cry https://127.0.0.1:8443 --pki dev-pki`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ok2cry_client::http::{CreateKey, Ok2cryClient};
use ok2cry_client::{Envelope, PublicJwk, PublicKey, headers, local_key::key_id_for};
use serde_json::Value;
use std::sync::Arc;

struct Card {
    ok2cry: Ok2cryClient,
}

/// The demo's card numbers (test PANs, never real).
fn pan_of(card: &str) -> String {
    format!(
        "4000 0000 0000 {:0>4}",
        card.chars()
            .filter(char::is_ascii_digit)
            .take(4)
            .collect::<String>()
    )
}

async fn jwks(State(s): State<Arc<Card>>) -> Response {
    Json((*s.ok2cry.jwks().await.unwrap()).clone()).into_response()
}

async fn pin_key(State(s): State<Arc<Card>>, Path(card): Path<String>) -> Response {
    let request = CreateKey {
        ttl_seconds: Some(120),
        context: Some(format!("card:{card}/set-pin")),
        label: Some("set-pin".into()),
        ..Default::default()
    };
    let key = s.ok2cry.create_key(&request).await.unwrap();
    println!(
        "[card-api] card {card}: disposable key {} issued for set-PIN",
        key.key_id
    );
    let mut response = StatusCode::CREATED.into_response();
    response.headers_mut().insert(
        headers::KEY_TOKEN,
        HeaderValue::from_str(&key.token).unwrap(),
    );
    response
}

async fn set_pin(State(s): State<Arc<Card>>, Path(card): Path<String>, h: HeaderMap) -> Response {
    let Some(compact) = h.get(headers::ENVELOPE).and_then(|v| v.to_str().ok()) else {
        return (StatusCode::BAD_REQUEST, "missing Ok2cry-Envelope").into_response();
    };
    let Ok(envelope) = Envelope::from_compact(compact) else {
        return (StatusCode::BAD_REQUEST, "malformed envelope").into_response();
    };
    if envelope.context() != Some(format!("card:{card}/set-pin").as_str()) {
        return (StatusCode::BAD_REQUEST, "envelope is for another card").into_response();
    }
    match s.ok2cry.open(envelope.key_id(), &envelope).await {
        Ok(pin) => {
            // The PIN would go to the card processor here; it is never logged.
            println!(
                "[card-api] card {card}: PIN set ({} digits); ok2cry destroyed the key",
                pin.len()
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
    }
}

async fn reveal(Path(card): Path<String>, Json(body): Json<Value>) -> Response {
    let Ok(jwk) = serde_json::from_value::<PublicJwk>(body["jwk"].clone()) else {
        return (StatusCode::BAD_REQUEST, "missing jwk").into_response();
    };
    let Ok(public) = PublicKey::from_jwk(&jwk) else {
        return (StatusCode::BAD_REQUEST, "invalid public key").into_response();
    };
    let key_id = key_id_for(&public);
    let envelope = Envelope::seal_to(
        &public,
        &key_id,
        &format!("card:{card}/reveal"),
        pan_of(&card).as_bytes(),
    )
    .unwrap();
    println!("[card-api] card {card}: card number sealed to the end user's key {key_id}");
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(
        headers::ENVELOPE,
        HeaderValue::from_str(&envelope.to_compact()).unwrap(),
    );
    response
}

#[tokio::main]
async fn main() {
    let pki = std::path::PathBuf::from(common::arg("pki", "dev-pki"));
    let ok2cry_url = common::arg("ok2cry", "https://127.0.0.1:8443");
    let listen = common::arg("listen", "127.0.0.1:9443");
    let ok2cry = Ok2cryClient::builder(ok2cry_url, &std::fs::read(pki.join("ca.pem")).unwrap())
        .client_identity(
            &std::fs::read(pki.join("card-api.pem")).unwrap(),
            &std::fs::read(pki.join("card-api.key")).unwrap(),
        )
        .build()
        .unwrap();
    let state = Arc::new(Card { ok2cry });
    let router = Router::new()
        .route("/jwks", get(jwks))
        .route("/cards/{card}/pin-key", post(pin_key))
        .route("/cards/{card}/pin", post(set_pin))
        .route("/cards/{card}/reveal", post(reveal))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    println!(
        "[card-api] listening on https://{}",
        listener.local_addr().unwrap()
    );
    common::serve_https(listener, &pki, router).await;
}
