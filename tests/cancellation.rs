//! Requests dropped mid-flight cannot leave the log and the store disagreeing: a storm of
//! creations and opens cancelled at random points (client timeouts that drop the request,
//! HTTP/2 streams reset, connections closed, the server's own request timeout) leaves every
//! durable `key_created` followed by a live key or a logged destruction, an exact live-key
//! count (0 once every key expired), and a log that verifies with no violation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Options, TestServer, client_with, now_secs};
use ok2cry::audit::{VerifyOptions, verify_dir};
use ok2cry_client::{Envelope, KeyToken};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_storm_leaves_an_exact_store_and_a_log_without_violations() {
    // A tight server-side request timeout cancels handlers from the inside too.
    let server = TestServer::start_with(Options {
        replace: vec![(
            "[hardening]".into(),
            // A storm of reconnecting HTTP/1.1 clients from one address: this test is about
            // cancellation, not about the per-address budget of handshakes.
            "[limits]\nrequest_timeout_ms = 40\nmax_unauthenticated_per_address = 512\n\n[hardening]"
                .into(),
        )],
        ..Options::default()
    })
    .await;
    let pki = server.pki();
    let jwks = server.ok2cry("card-api").jwks().await.unwrap();
    // Two long-lived clients, one speaking HTTP/2 (a timeout resets the stream) and one
    // HTTP/1.1 (a timeout closes the connection); per-request timeouts around the time a
    // creation takes (key generation, signing, fsync of the log) cut requests everywhere.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca.pem")).unwrap()).unwrap();
    let identity = reqwest::Identity::from_pem(
        &[
            std::fs::read(pki.join("card-api.pem")).unwrap(),
            std::fs::read(pki.join("card-api.key")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let h2 = reqwest::Client::builder()
        .tls_certs_only([ca.clone()])
        .identity(identity.clone())
        .build()
        .unwrap();
    let h1 = reqwest::Client::builder()
        .tls_certs_only([ca])
        .identity(identity)
        .http1_only()
        .build()
        .unwrap();
    // Warm both connections up.
    for c in [&h2, &h1] {
        c.get(server.url("/healthz")).send().await.unwrap();
    }
    // Rounds of 400 requests until enough of them reached custody (on a loaded machine most
    // of a round's requests may be cut before they arrive).
    let mut delivered = 0;
    for round in 0..10u64 {
        let mut tasks = Vec::new();
        for i in round * 400..(round + 1) * 400 {
            let url = server.url("/v1/keys");
            let base = server.url("");
            let jwks = jwks.clone();
            let client = if i % 3 == 0 { h1.clone() } else { h2.clone() };
            tasks.push(tokio::spawn(async move {
                let timeout = Duration::from_millis(1 + (i * 7) % 25);
                let Ok(r) = client
                    .post(&url)
                    .timeout(timeout)
                    .json(&json!({"ttl_seconds": 1}))
                    .send()
                    .await
                else {
                    return (0, 0);
                };
                if r.status() != 201 {
                    return (0, 0);
                }
                let Ok(key) = r.json::<Value>().await else {
                    return (1, 0);
                };
                // Half of the delivered keys get an open that may be cancelled too.
                if i % 2 == 0 {
                    let id = key["key_id"].as_str().unwrap();
                    let vk = KeyToken::parse(key["token"].as_str().unwrap())
                        .unwrap()
                        .verify(&jwks, now_secs())
                        .unwrap();
                    let env = Envelope::seal(&vk, b"1234").unwrap();
                    let opened = client
                        .post(format!("{base}/v1/keys/{id}/open"))
                        .timeout(timeout)
                        .json(&json!({"envelope": env.to_json_value()}))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    return (1, u64::from(opened));
                }
                (1, 0)
            }));
        }
        for t in tasks {
            delivered += t.await.unwrap().0;
        }
        if server.state.metrics.created.get() >= 40 {
            break;
        }
    }
    // Every key lives one second: wait until the store is empty.
    let mut live = usize::MAX;
    for _ in 0..100 {
        live = server.state.custody.live_keys();
        if live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live, 0, "the live-key count did not return to 0");
    // The service is still fine for a patient client.
    let c = client_with(
        &pki.join("ca.pem"),
        Some((&pki.join("card-api.pem"), &pki.join("card-api.key"))),
    );
    assert_eq!(
        c.post(server.url("/v1/keys"))
            .json(&json!({"ttl_seconds": 1}))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let key = server.audit_key();
    let dir = server.audit.dir().to_owned();
    let _keep = server.stop().await;
    let events = common::audit_events_in(&dir);
    let created: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "key_created")
        .map(|e| e["key_id"].as_str().unwrap())
        .collect();
    assert!(
        created.len() as u64 >= delivered,
        "{} < {delivered}",
        created.len()
    );
    assert!(
        created.len() >= 20,
        "the storm did not reach custody: {} creations",
        created.len()
    );
    for id in &created {
        assert_eq!(
            events
                .iter()
                .filter(|e| e["type"] == "key_destroyed" && e["key_id"] == *id)
                .count(),
            1,
            "key {id}"
        );
    }
    let report = verify_dir(
        &dir,
        &VerifyOptions {
            log_keys: vec![key],
            grace_ms: 1000,
            ..VerifyOptions::default()
        },
        |_| {},
    );
    assert!(report.is_ok(), "{:#?}", report.violations);
    eprintln!(
        "storm: {} created in the log, {delivered} delivered, destroyed by reason {:?}",
        created.len(),
        report.totals.destroyed_by_reason
    );
}
