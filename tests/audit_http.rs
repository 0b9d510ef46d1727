//! The auditor's view over real TLS: events, stream, checkpoints, consistency, receipts;
//! and the fail-closed behaviour when the audit log cannot be written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestServer, create, get, now_secs, open, problem, verified};
use ok2cry::audit::merkle;
use ok2cry_client::{Envelope, Jwks, KeyToken};
use serde_json::{Value, json};

async fn create_and_open(server: &TestServer) -> String {
    let key = create(server, "card-api", json!({})).await;
    let vk = verified(
        server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let env = Envelope::seal(&vk, b"1234").unwrap();
    let id = key["key_id"].as_str().unwrap().to_owned();
    assert_eq!(open(server, "card-api", &id, &env).await.status(), 200);
    id
}

#[tokio::test]
async fn auditor_reads_events_checkpoints_proofs_and_receipts() {
    let server = TestServer::start().await;
    let auditor = server.client("auditor");
    let mut stream = get(&auditor, server.url("/v1/audit/stream")).await;
    assert_eq!(stream.status(), 200);
    let key_id = create_and_open(&server).await;

    // The live stream delivers the new events.
    let mut seen = String::new();
    while !seen.contains(&key_id) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("data: {\"seq\":"));
    drop(stream);

    // Paging.
    let page: Value = get(&auditor, server.url("/v1/audit/events?after=0&limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["events"][0]["seq"], 1);
    problem(
        get(&auditor, server.url("/v1/audit/events?limit=0")).await,
        400,
    )
    .await;
    problem(
        get(&auditor, server.url("/v1/audit/events?after=x")).await,
        400,
    )
    .await;

    // The audit key, a checkpoint, a consistency proof between two checkpoints.
    let key: Value = get(&auditor, server.url("/v1/audit/key"))
        .await
        .json()
        .await
        .unwrap();
    let pem = key["public_key_pem"].as_str().unwrap();
    let name = key["key_name"].as_str().unwrap();
    let first = get(&auditor, server.url("/v1/audit/checkpoint"))
        .await
        .text()
        .await
        .unwrap();
    let first = ok2cry::audit::note::verify_note(&first, pem, name).unwrap();
    create_and_open(&server).await;
    let receipt: Value = get(
        &auditor,
        server.url(&format!("/v1/audit/receipts/{key_id}")),
    )
    .await
    .json()
    .await
    .unwrap();
    let second = get(&auditor, server.url("/v1/audit/checkpoint"))
        .await
        .text()
        .await
        .unwrap();
    let second = ok2cry::audit::note::verify_note(&second, pem, name).unwrap();
    assert!(second.size > first.size);
    let proof: Value = get(
        &auditor,
        server.url(&format!(
            "/v1/audit/consistency?old={}&new={}",
            first.size, second.size
        )),
    )
    .await
    .json()
    .await
    .unwrap();
    let hashes: Vec<merkle::Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            <base64ct::Base64 as base64ct::Encoding>::decode_vec(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    assert!(merkle::verify_consistency(
        first.size,
        second.size,
        &first.root,
        &second.root,
        &hashes
    ));

    // The receipt verifies offline with the audit key.
    let receipt: ok2cry::audit::Receipt = serde_json::from_value(receipt).unwrap();
    let summary = ok2cry::audit::verify_receipt(&receipt, pem).unwrap();
    assert_eq!(summary.reason, "consumed");
    assert_eq!(summary.opens, 1);

    // Only auditors.
    problem(
        get(&server.client("card-api"), server.url("/v1/audit/events")).await,
        403,
    )
    .await;
    problem(
        get(&auditor, server.url("/v1/audit/receipts/dev1_nosuchkey")).await,
        404,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn when_the_log_cannot_be_written_creation_fails_closed_and_opens_go_on() {
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let jwks: Jwks = get(&c, server.url("/.well-known/jwks.json"))
        .await
        .json()
        .await
        .unwrap();
    let mut acknowledged = Vec::new();
    let mut envelopes = Vec::new();
    for _ in 0..3 {
        let key: Value = c
            .post(server.url("/v1/keys"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let vk = KeyToken::parse(key["token"].as_str().unwrap())
            .unwrap()
            .verify(&jwks, now_secs())
            .unwrap();
        envelopes.push(Envelope::seal(&vk, b"1234").unwrap());
        acknowledged.push(key["key_id"].as_str().unwrap().to_owned());
    }
    server.audit.set_fail(true);
    let r = c
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("retry-after").unwrap(), "5");
    let p = problem(r, 503).await;
    assert!(p["detail"].as_str().unwrap().contains("audit"));
    // Opens still work while the disk is failing.
    for (id, env) in acknowledged.iter().zip(&envelopes).take(2) {
        let r = c
            .post(server.url(&format!("/v1/keys/{id}/open")))
            .json(&json!({"envelope": env.to_json_value()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    server.audit.set_fail(false);
    // Once the disk is back, the queued opened/destroyed events are written; nothing
    // acknowledged is missing and the refused key never appears.
    let mut complete = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let events = server.audit_events().await;
        let destroyed = |id: &str| {
            events
                .iter()
                .any(|e| e["type"] == "key_destroyed" && e["key_id"] == id)
        };
        if destroyed(&acknowledged[0]) && destroyed(&acknowledged[1]) {
            complete = true;
            for id in &acknowledged {
                assert!(
                    events
                        .iter()
                        .any(|e| e["type"] == "key_created" && e["key_id"] == id.as_str())
                );
            }
            assert_eq!(
                events.iter().filter(|e| e["type"] == "key_created").count(),
                3
            );
            break;
        }
    }
    assert!(complete, "queued events were not written after recovery");
    assert_eq!(
        c.post(server.url("/v1/keys"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    server.stop().await;
}
