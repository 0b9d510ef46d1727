//! The auditor's view over real TLS: events, stream, checkpoints, consistency, receipts;
//! and the fail-closed behaviour when the audit log cannot be written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestServer, create, get, now_secs, open, problem, verified};
use ok2cry::audit::merkle;
use ok2cry_client::{Envelope, KeyToken};
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
    let vkey = ok2cry::audit::note::NoteVerifier::from_vkey(key["vkey"].as_str().unwrap()).unwrap();
    assert_eq!(vkey, server.audit_key());
    let summary = ok2cry::audit::verify_receipt(&receipt, &[vkey], &[], 0).unwrap();
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
async fn when_the_log_cannot_be_written_creates_and_opens_fail_closed_and_nothing_is_lost() {
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let jwks = server.ok2cry("card-api").jwks().await.unwrap();
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
    server.disk.set_fail(true);
    let r = c
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("retry-after").unwrap(), "5");
    let p = problem(r, 503).await;
    assert!(p["detail"].as_str().unwrap().contains("audit"));
    // Opens fail closed too: no plaintext without its durable record; the key is untouched.
    for (id, env) in acknowledged.iter().zip(&envelopes).take(2) {
        let r = c
            .post(server.url(&format!("/v1/keys/{id}/open")))
            .json(&json!({"envelope": env.to_json_value()}))
            .send()
            .await
            .unwrap();
        let p = problem(r, 503).await;
        assert!(!p.to_string().contains("plaintext"), "{p}");
        let k: Value = get(&c, server.url(&format!("/v1/keys/{id}")))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(k["opens_remaining"], 1);
    }
    // Readiness says so.
    let ready = get(&c, server.url("/readyz")).await;
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["audit"]["writable"], false);
    server.disk.set_fail(false);
    // Once the disk is back, the keys open; nothing acknowledged is missing and the refused
    // key never appears.
    let mut opened = 0;
    for _ in 0..100 {
        let (id, env) = (&acknowledged[opened], &envelopes[opened]);
        let r = c
            .post(server.url(&format!("/v1/keys/{id}/open")))
            .json(&json!({"envelope": env.to_json_value()}))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            opened += 1;
            if opened == 2 {
                break;
            }
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(opened, 2, "the keys did not open after the log recovered");
    let events = server.audit_events().await;
    for id in &acknowledged[..2] {
        for t in ["key_created", "key_opened", "key_destroyed"] {
            assert_eq!(
                events
                    .iter()
                    .filter(|e| e["type"] == t && e["key_id"] == id.as_str())
                    .count(),
                1,
                "{t} of {id}"
            );
        }
    }
    assert_eq!(
        events.iter().filter(|e| e["type"] == "key_created").count(),
        3
    );
    assert_eq!(get(&c, server.url("/readyz")).await.status(), 200);
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
