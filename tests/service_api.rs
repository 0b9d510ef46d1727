//! The keys API over real mutual TLS on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Options, TestServer, client_with, create, get, now_secs, open, problem, verified};
use ok2cry::clock::ManualClock;
use ok2cry_client::Envelope;
use serde_json::{Value, json};

#[tokio::test]
async fn create_seal_open_then_second_open_is_refused() {
    let server = TestServer::start().await;
    let key = create(
        &server,
        "card-api",
        json!({"ttl_seconds": 60, "context": "card:42/set-pin", "label": "set-pin"}),
    )
    .await;
    let key_id = key["key_id"].as_str().unwrap();
    assert!(key_id.starts_with("dev1_"));
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    assert_eq!(vk.context(), "card:42/set-pin");
    let envelope = Envelope::seal(&vk, b"1234").unwrap();

    let r = open(&server, "card-api", key_id, &envelope).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["plaintext"], "MTIzNA"); // base64url("1234")
    assert_eq!(body["opens_remaining"], 0);

    let gone = problem(open(&server, "card-api", key_id, &envelope).await, 410).await;
    assert_eq!(gone["reason"], "consumed");
    assert!(gone["destroyed_at"].as_str().unwrap().ends_with('Z'));
    let r = get(
        &server.client("card-api"),
        server.url(&format!("/v1/keys/{key_id}")),
    )
    .await;
    assert_eq!(problem(r, 410).await["reason"], "consumed");

    // The compact header form works too.
    let key = create(&server, "card-api", json!({})).await;
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let envelope = Envelope::seal(&vk, b"5678").unwrap();
    let r = server
        .client("card-api")
        .post(server.url(&format!(
            "/v1/keys/{}/open",
            key["key_id"].as_str().unwrap()
        )))
        .header("Ok2cry-Envelope", envelope.to_compact())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let events = server.audit_events().await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"key_created")
            && kinds.contains(&"key_opened")
            && kinds.contains(&"key_destroyed")
    );
    // No secret, plaintext or context value in the log.
    let log = server.audit_text().await;
    assert!(!log.contains("card:42") && !log.contains("MTIzNA") && !log.contains("1234\""));
    server.stop().await;
}

#[tokio::test]
async fn ttl_expiry_on_a_manual_clock_refuses_open_and_logs_destruction() {
    let clock = ManualClock::new(1_900_000_000_000);
    let server = TestServer::start_with(Options {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let key = create(&server, "card-api", json!({"ttl_seconds": 5})).await;
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        1_900_000_000,
    )
    .await;
    let envelope = Envelope::seal(&vk, b"1234").unwrap();
    clock.advance_ms(5_000);
    let gone = problem(open(&server, "card-api", &key_id, &envelope).await, 410).await;
    assert_eq!(gone["reason"], "expired");
    assert_eq!(gone["destroyed_at"], "2030-03-17T17:46:45.000Z");
    let destroyed: Vec<Value> = server
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e["type"] == "key_destroyed" && e["key_id"] == key_id.as_str())
        .collect();
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0]["reason"], "expired");

    // The sweeper destroys an expired key without any request touching it.
    let key = create(&server, "card-api", json!({"ttl_seconds": 5})).await;
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    clock.advance_ms(5_000);
    let mut found = false;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if server
            .audit_events()
            .await
            .iter()
            .any(|e| e["type"] == "key_destroyed" && e["key_id"] == key_id.as_str())
        {
            found = true;
            break;
        }
    }
    assert!(found, "the sweeper did not destroy the expired key");
    server.stop().await;
}

#[tokio::test]
async fn concurrent_opens_exactly_one_succeeds() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let key = create(&server, "card-api", json!({})).await;
        let key_id = key["key_id"].as_str().unwrap().to_owned();
        let vk = verified(
            &server,
            "card-api",
            key["token"].as_str().unwrap(),
            now_secs(),
        )
        .await;
        let envelope = Envelope::seal(&vk, b"1234").unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let client = server.client("card-api");
            let url = server.url(&format!("/v1/keys/{key_id}/open"));
            let body = json!({"envelope": envelope.to_json_value()});
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 410),
            "{statuses:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn full_store_answers_503_with_retry_after() {
    let server = TestServer::start_with(Options {
        extra_toml: "\n[keys]\nmax_live_keys = 2\n".into(),
        ..Default::default()
    })
    .await;
    let a = create(&server, "card-api", json!({})).await;
    create(&server, "card-api", json!({})).await;
    let r = server
        .client("card-api")
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    problem(r, 503).await;
    // Nothing live was evicted.
    let r = get(
        &server.client("card-api"),
        server.url(&format!("/v1/keys/{}", a["key_id"].as_str().unwrap())),
    )
    .await;
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn no_certificate_or_foreign_ca_is_refused_at_the_handshake() {
    let server = TestServer::start().await;
    let err = server
        .anonymous()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let other = tempfile::tempdir().unwrap();
    ok2cry::auth::pki::create_dev_pki(other.path(), ok2cry::auth::pki::DevPkiOptions::default())
        .unwrap();
    let foreign = client_with(
        &server.pki().join("ca.pem"),
        Some((
            &other.path().join("card-api.pem"),
            &other.path().join("card-api.key"),
        )),
    );
    assert!(foreign.get(server.url("/healthz")).send().await.is_err());
    // The right certificate works.
    assert_eq!(
        get(&server.client("card-api"), server.url("/healthz"))
            .await
            .status(),
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn roles_and_designated_opener_are_enforced() {
    let server = TestServer::start().await;
    // card-api creates a key for the proxy to open.
    let key = create(
        &server,
        "card-api",
        json!({"opener": "ok2cry://principal/proxy"}),
    )
    .await;
    let key_id = key["key_id"].as_str().unwrap();
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let envelope = Envelope::seal(&vk, b"9999").unwrap();
    let refused = problem(open(&server, "card-api", key_id, &envelope).await, 403).await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("designated opener")
    );
    // The auditor cannot create or open.
    let r = server
        .client("auditor")
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        problem(r, 403).await["detail"]
            .as_str()
            .unwrap()
            .contains("issuer")
    );
    problem(open(&server, "auditor", key_id, &envelope).await, 403).await;
    // The key is still usable by its opener.
    assert_eq!(
        open(&server, "proxy", key_id, &envelope).await.status(),
        200
    );
    // An opener that is not a configured principal is refused at creation.
    let r = server
        .client("card-api")
        .post(server.url("/v1/keys"))
        .json(&json!({"opener": "mallory"}))
        .send()
        .await
        .unwrap();
    assert!(
        problem(r, 400).await["detail"]
            .as_str()
            .unwrap()
            .contains("opener")
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_that_says_what_was_wrong_and_loses_nothing() {
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"ttl_seconds": 0}), "ttl"),
        (json!({"ttl_seconds": 999999}), "ttl"),
        (json!({"max_opens": 0}), "max_opens"),
        (json!({"max_opens": 1000000}), "max_opens"),
        (json!({"context": "x".repeat(300)}), "context"),
        (json!({"label": "a\u{0007}b"}), "label"),
        (
            json!({"ttl_seconds": "sixty"}),
            "ttl_seconds must be an integer",
        ),
        (json!({"bogus": 1}), "unknown member \"bogus\""),
    ];
    for (body, needle) in cases {
        let r = c
            .post(server.url("/v1/keys"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{body}: {p}"
        );
    }
    let r = c
        .post(server.url("/v1/keys"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;

    let key = create(&server, "card-api", json!({"context": "ctx"})).await;
    let key_id = key["key_id"].as_str().unwrap();
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let good = Envelope::seal(&vk, b"1234").unwrap();
    let open_url = server.url(&format!("/v1/keys/{key_id}/open"));

    // Malformed envelopes: 400, nothing consumed.
    for body in [
        json!({}),
        json!({"envelope": 5}),
        json!({"envelope": "v1.not-an-envelope"}),
        json!({"envelope": {"version": 2, "key_id": key_id, "sealed": "AAAA"}}),
        json!({"envelope": {"version": 1, "key_id": key_id, "sealed": "!!!"}}),
        json!({"envelope": {"version": 1, "key_id": "bad key", "sealed": "AAAA"}}),
    ] {
        let r = c.post(&open_url).json(&body).send().await.unwrap();
        problem(r, 400).await;
    }
    // An envelope for another key: 400, not counted.
    let other = create(&server, "card-api", json!({})).await;
    let vk_other = verified(
        &server,
        "card-api",
        other["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let for_other = Envelope::seal(&vk_other, b"1").unwrap();
    let p = problem(
        c.post(&open_url)
            .json(&json!({"envelope": for_other.to_json_value()}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("another key"));
    // Tampered ciphertext: 422, counted, key still usable.
    let mut sealed = good.sealed().to_vec();
    let n = sealed.len();
    sealed[n - 1] ^= 0x01;
    let tampered = Envelope::from_parts(vk.key_id().clone(), sealed, Some("ctx".into())).unwrap();
    let p = problem(
        c.post(&open_url)
            .json(&json!({"envelope": tampered.to_json_value()}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["key_destroyed"], false);
    // Wrong context in the envelope: refused before decryption.
    let wrong_ctx = Envelope::seal_to(vk.public_key(), vk.key_id(), "other", b"1234").unwrap();
    problem(
        c.post(&open_url)
            .json(&json!({"envelope": wrong_ctx.to_json_value()}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    // Bad key ids, unknown keys, too large bodies.
    problem(get(&c, server.url("/v1/keys/bad.id")).await, 400).await;
    problem(get(&c, server.url("/v1/keys/dev1_doesnotexist")).await, 404).await;
    let huge = json!({"envelope": "v1.a.".to_owned() + &"A".repeat(200_000)});
    problem(c.post(&open_url).json(&huge).send().await.unwrap(), 413).await;
    problem(get(&c, server.url("/no/such/route")).await, 404).await;
    // A known route with a method it does not take: a problem document too (found by the
    // http_api fuzz target; axum's default 405 had an empty body), and the Allow header.
    let r = get(&c, server.url("/v1/keys")).await;
    assert_eq!(
        r.headers().get("allow").map(|v| v.to_str().unwrap()),
        Some("POST")
    );
    problem(r, 405).await;
    problem(c.put(&open_url).send().await.unwrap(), 405).await;

    // After all that, the key still opens.
    let r = c
        .post(&open_url)
        .json(&json!({"envelope": good.to_json_value()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn delete_jwks_readyz_metrics_openapi() {
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let key = create(&server, "card-api", json!({})).await;
    let key_id = key["key_id"].as_str().unwrap();
    problem(
        server
            .client("proxy")
            .delete(server.url(&format!("/v1/keys/{key_id}")))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(
        c.delete(server.url(&format!("/v1/keys/{key_id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let p = problem(
        get(&c, server.url(&format!("/v1/keys/{key_id}"))).await,
        410,
    )
    .await;
    assert_eq!(p["reason"], "revoked");

    let jwks: Value = get(&c, server.url("/.well-known/jwks.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert_eq!(jwks["keys"][0]["use"], "sig");
    let ready: Value = get(&c, server.url("/readyz")).await.json().await.unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["hardening"]["core_dumps_disabled"], true);
    let metrics = get(&c, server.url("/metrics")).await.text().await.unwrap();
    assert!(metrics.contains("ok2cry_keys_created_total 1"), "{metrics}");
    assert!(
        metrics.contains("ok2cry_keys_destroyed_total{reason=\"revoked\"} 1"),
        "{metrics}"
    );
    let openapi: Value = get(&c, server.url("/openapi.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/v1/keys/{key_id}/open"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_destroys_every_key_and_kek() {
    let server = TestServer::start().await;
    create(&server, "card-api", json!({})).await;
    create(&server, "card-api", json!({})).await;
    let audit_dir = server.audit.dir().to_owned();
    let _dir = server.stop().await;
    let events = common::audit_events_in(&audit_dir);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "key_destroyed" && e["reason"] == "shutdown")
            .count(),
        2
    );
    assert!(events.iter().any(|e| e["type"] == "kek_destroyed"));
    // The last event: service stopped, covered by the final checkpoint.
    let n = events.len();
    assert_eq!(events[n - 1]["type"], "service_stopped");
    let records = std::fs::read_to_string(ok2cry::audit::layout::checkpoints_path(
        &audit_dir,
        ok2cry::audit::layout::segment_numbers(&audit_dir)
            .unwrap()
            .last()
            .copied()
            .unwrap(),
    ))
    .unwrap();
    let last: Value = serde_json::from_str(records.lines().last().unwrap()).unwrap();
    assert_eq!(last["size"], n as u64);
}
