//! A fintech proxy between the end user's app and the card API. It forwards key tokens and
//! envelopes untouched (checking only that they are well formed, with `ForwardLayer`) and logs
//! everything it forwards — which is only ever ciphertext and public keys.
//!
//! It also serves the end user's web page (`examples/web/`), which runs on the TypeScript SDK:
//! under `/sdk/` the built `@ok2cry/client` (`sdk/typescript/dist`, made by `npm run build` there,
//! which `scripts/test-deps` does) and under `/modules/` the pinned npm packages it uses
//! (`sdk/typescript/node_modules`: @hpke/core, jose, @humanwhocodes/momoa).
//!
//! `cargo run --example proxy -- --listen 127.0.0.1:9444 --upstream https://localhost:9443 --pki dev-pki`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ok2cry_client::forward::ForwardLayer;
use ok2cry_client::headers;
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};

struct Proxy {
    upstream: String,
    client: reqwest::Client,
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().strip_prefix("/api").unwrap_or(uri.path());
    let mut request = p
        .client
        .request(method.clone(), format!("{}{path}", p.upstream))
        .body(body.clone());
    for name in [headers::KEY_TOKEN, headers::ENVELOPE, "content-type"] {
        if let Some(v) = h.get(name) {
            request = request.header(name, v.clone());
            println!(
                "[proxy] -> {method} {path} {name}: {}",
                v.to_str().unwrap_or("?")
            );
        }
    }
    if !body.is_empty() {
        println!(
            "[proxy] -> {method} {path} body: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let Ok(upstream) = request.send().await else {
        return (StatusCode::BAD_GATEWAY, "upstream unreachable").into_response();
    };
    let status = upstream.status();
    let mut response = Response::builder().status(status.as_u16());
    for name in [headers::KEY_TOKEN, headers::ENVELOPE, "content-type"] {
        if let Some(v) = upstream.headers().get(name) {
            println!(
                "[proxy] <- {status} {path} {name}: {}",
                v.to_str().unwrap_or("?")
            );
            response = response.header(name, v.clone());
        }
    }
    let bytes = upstream.bytes().await.unwrap_or_default();
    if !bytes.is_empty() {
        println!(
            "[proxy] <- {status} {path} body: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    response.body(Body::from(bytes)).unwrap()
}

#[tokio::main]
async fn main() {
    let pki = std::path::PathBuf::from(common::arg("pki", "dev-pki"));
    let upstream = common::arg("upstream", "https://localhost:9443");
    let listen = common::arg("listen", "127.0.0.1:9444");
    let state = Arc::new(Proxy {
        upstream,
        client: common::https_client(&pki),
    });
    // The layer refuses malformed Ok2cry-* headers in both directions; it never needs a key.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let web = root.join("examples/web");
    let sdk = root.join("sdk/typescript");
    let modules = common::arg("modules", &sdk.join("node_modules").display().to_string());
    let router = Router::new()
        .route_service("/", ServeFile::new(web.join("index.html")))
        .route_service("/app.mjs", ServeFile::new(web.join("app.mjs")))
        .nest_service("/sdk", ServeDir::new(sdk.join("dist")))
        .nest_service("/modules", ServeDir::new(modules))
        .fallback(forward)
        .with_state(state)
        .layer(ForwardLayer::new().with_logging(true));
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
    println!(
        "[proxy] listening on https://{}",
        listener.local_addr().unwrap()
    );
    common::serve_https(listener, &pki, router).await;
}
