//! Per-principal source-address allow lists over real TLS, on IPv4 and IPv6 loopback: a
//! principal inside its ranges is served, one outside is refused (403, logged, counted), and a
//! principal without a list is unaffected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Options, TestServer, get, problem};
use serde_json::json;

fn restricted(card_api: &str, auditor: &str, listen: &str) -> Options {
    Options {
        listen: Some(listen.into()),
        replace: vec![
            (
                "id = \"ok2cry://principal/card-api\"".into(),
                format!("id = \"ok2cry://principal/card-api\"\nallow_from = {card_api}"),
            ),
            (
                "id = \"ok2cry://principal/auditor\"".into(),
                format!("id = \"ok2cry://principal/auditor\"\nallow_from = {auditor}"),
            ),
        ],
        ..Options::default()
    }
}

async fn create_status(server: &TestServer, who: &str) -> reqwest::Response {
    server
        .client(who)
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ipv4_loopback_inside_and_outside_the_lists() {
    let server = TestServer::start_with(restricted(
        r#"["10.0.0.0/8", "::1/128"]"#,
        r#"["127.0.0.0/8"]"#,
        "127.0.0.1:0",
    ))
    .await;
    // card-api may come only from 10/8 or ::1: refused from 127.0.0.1.
    let body = problem(create_status(&server, "card-api").await, 403).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("may not connect from this address"),
        "{body}"
    );
    // The auditor's list holds 127/8: served.
    let key = get(&server.client("auditor"), server.url("/v1/audit/key")).await;
    assert_eq!(key.status(), 200);
    // proxy has no list: served from anywhere.
    assert_eq!(create_status(&server, "proxy").await.status(), 201);
    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("ok2cry_source_refused_total 1"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn ipv6_loopback_inside_and_outside_the_lists() {
    let server = TestServer::start_with(restricted(
        r#"["::1/128"]"#,
        r#"["127.0.0.0/8", "fd00::/8"]"#,
        "[::1]:0",
    ))
    .await;
    assert!(server.url("/").starts_with("https://[::1]:"));
    assert_eq!(create_status(&server, "card-api").await.status(), 201);
    let refused = get(&server.client("auditor"), server.url("/v1/audit/key")).await;
    problem(refused, 403).await;
    let metrics = server.state.metrics.render();
    assert!(
        metrics.contains("ok2cry_source_refused_total 1"),
        "{metrics}"
    );
    server.stop().await;
}
