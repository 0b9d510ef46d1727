//! The service's side of docs/PROTOCOL.md §11.2–§11.4, over real mutual TLS on 127.0.0.1:0:
//! every protocol refusal of `POST /v1/keys/{id}/open` with its status, problem type and
//! `error` name; which refusals count against the key's failed-open budget; the order of the
//! open checks (key id mismatch before the key is looked up; 404 and 410); and what two
//! `GET /v1/keys/{id}` answers have in common.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Options, TestServer, create, get, now_secs, open, problem, verified};
use ok2cry_client::{Envelope, KeyToken};
use serde_json::{Value, json};

/// A problem document of `status` with the given type slug and `error` member.
async fn refused(r: reqwest::Response, status: u16, slug: &str, error: Option<&str>) -> Value {
    let p = problem(r, status).await;
    assert_eq!(
        p["type"],
        format!("https://ok2cry.dev/problems/{slug}"),
        "{p}"
    );
    assert_eq!(p["error"].as_str(), error, "{p}");
    p
}

async fn post_text(server: &TestServer, key_id: &str, body: String) -> reqwest::Response {
    server
        .client("card-api")
        .post(server.url(&format!("/v1/keys/{key_id}/open")))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn three_failures() -> Options {
    Options {
        extra_toml: "\n[keys]\nmax_failed_opens = 3\n".into(),
        ..Options::default()
    }
}

#[tokio::test]
async fn protocol_refusals_have_their_status_type_and_name() {
    let server = TestServer::start_with(three_failures()).await;
    let key = create(&server, "card-api", json!({"context": "card:7/set-pin"})).await;
    let key_id = key["key_id"].as_str().unwrap();
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let good = Envelope::seal(&vk, b"2468").unwrap();
    let json_text = good.to_json();
    let sealed = json_text
        .split("\"sealed\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Each of these is refused before the key is touched, however often it is sent (§11.3):
    // more than max_failed_opens of them leave the key usable.
    let before_the_key: Vec<(String, &str, &str)> = vec![
        // §10.1: a duplicate member inside the envelope object (the last one right).
        (
            format!(
                r#"{{"envelope":{{"version":1,"key_id":"n1_someone-else","key_id":"{key_id}","sealed":"{sealed}","context":"card:7/set-pin"}}}}"#
            ),
            "malformed",
            "Malformed",
        ),
        // §10.1: null is not "absent".
        (
            format!(
                r#"{{"envelope":{{"version":1,"key_id":"{key_id}","sealed":"{sealed}","context":null}}}}"#
            ),
            "malformed",
            "Malformed",
        ),
        // §10.3 step 2: the version before anything else.
        (
            format!(
                r#"{{"envelope":{{"version":2,"key_id":"{key_id}","sealed":"{sealed}","aad":""}}}}"#
            ),
            "unsupported-version",
            "UnsupportedVersion",
        ),
        (
            format!(r#"{{"envelope":"v2.{key_id}.{sealed}.x.y"}}"#),
            "unsupported-version",
            "UnsupportedVersion",
        ),
        // §4.1: correct padding is still not base64url.
        (
            format!(r#"{{"envelope":"v1.{key_id}.{sealed}=="}}"#),
            "malformed",
            "Malformed",
        ),
        // §10.3 step 5: the third part is not base64url of sealed bytes; step 4: a bad key id.
        (
            format!(r#"{{"envelope":"v1.n1.x.{sealed}"}}"#),
            "malformed",
            "Malformed",
        ),
        (
            format!(r#"{{"envelope":{{"version":1,"key_id":"a$b","sealed":"{sealed}"}}}}"#),
            "invalid-key-id",
            "InvalidKeyId",
        ),
        (
            format!(
                r#"{{"envelope":{{"version":1,"key_id":"{key_id}","sealed":"{sealed}","context":"{}"}}}}"#,
                "c".repeat(257)
            ),
            "context-too-long",
            "ContextTooLong",
        ),
        // §11.3: an envelope for another key id than the path's.
        (
            format!(
                r#"{{"envelope":{{"version":1,"key_id":"n1_someone-else","sealed":"{sealed}"}}}}"#
            ),
            "key-id-mismatch",
            "KeyIdMismatch",
        ),
    ];
    for _ in 0..2 {
        for (body, slug, error) in &before_the_key {
            refused(
                post_text(&server, key_id, body.clone()).await,
                400,
                slug,
                Some(error),
            )
            .await;
        }
    }
    // The open body itself: a duplicate "envelope" member.
    let dup = format!(r#"{{"envelope":"x","envelope":{json_text}}}"#);
    problem(post_text(&server, key_id, dup).await, 400).await;

    // A context mismatch is answered exactly as a failed decryption, and counts (§11.2).
    let other_context =
        Envelope::seal_to(vk.public_key(), vk.key_id(), "card:8/set-pin", b"1").unwrap();
    let p1 = refused(
        open(&server, "card-api", key_id, &other_context).await,
        422,
        "cannot-open",
        Some("OpenFailed"),
    )
    .await;
    let mut sealed_bytes = good.sealed().to_vec();
    let n = sealed_bytes.len();
    sealed_bytes[n - 1] ^= 1;
    let tampered = Envelope::from_parts(
        vk.key_id().clone(),
        sealed_bytes,
        Some("card:7/set-pin".into()),
    )
    .unwrap();
    let p2 = refused(
        open(&server, "card-api", key_id, &tampered).await,
        422,
        "cannot-open",
        Some("OpenFailed"),
    )
    .await;
    assert_eq!(
        p1, p2,
        "a context mismatch and a bad tag must look the same"
    );
    assert_eq!(p2["key_destroyed"], false);
    // The third failure uses up max_failed_opens = 3: the key is destroyed.
    let p3 = refused(
        open(&server, "card-api", key_id, &other_context).await,
        422,
        "cannot-open",
        Some("OpenFailed"),
    )
    .await;
    assert_eq!(p3["key_destroyed"], true);
    let gone = refused(
        open(&server, "card-api", key_id, &good).await,
        410,
        "key-destroyed",
        None,
    )
    .await;
    assert_eq!(gone["reason"], "failed_opens");
    assert!(gone["destroyed_at"].as_str().unwrap().ends_with('Z'));
    server.stop().await;
}

#[tokio::test]
async fn the_order_of_the_open_checks_and_404_versus_410() {
    let server = TestServer::start().await;
    let key = create(&server, "card-api", json!({"max_opens": 1})).await;
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    let vk = verified(
        &server,
        "card-api",
        key["token"].as_str().unwrap(),
        now_secs(),
    )
    .await;
    let envelope = Envelope::seal(&vk, b"1").unwrap();

    // A key id the node never issued: 404. The same path with an envelope for another key:
    // the request contradicts itself, 400, before any lookup.
    let unknown = "dev1_AAAAAAAAAAAAAAAAAAAAAA";
    let for_unknown = Envelope::from_parts(
        ok2cry_client::KeyId::new(unknown).unwrap(),
        envelope.sealed().to_vec(),
        None,
    )
    .unwrap();
    refused(
        open(&server, "card-api", unknown, &for_unknown).await,
        404,
        "not-found",
        None,
    )
    .await;
    refused(
        open(&server, "card-api", unknown, &envelope).await,
        400,
        "key-id-mismatch",
        Some("KeyIdMismatch"),
    )
    .await;
    // A path that is not a key id: 400 invalid-key-id.
    refused(
        server
            .client("card-api")
            .post(server.url("/v1/keys/a.b/open"))
            .json(&json!({"envelope": envelope.to_json_value()}))
            .send()
            .await
            .unwrap(),
        400,
        "invalid-key-id",
        Some("InvalidKeyId"),
    )
    .await;
    // A principal that is not the designated opener: 403 (after the lookup).
    let proxy_open = open(&server, "proxy", &key_id, &envelope).await;
    refused(proxy_open, 403, "forbidden", None).await;

    // Opened once: the key is consumed; from then on 410 with when and why, for /open and GET.
    assert_eq!(
        open(&server, "card-api", &key_id, &envelope).await.status(),
        200
    );
    let gone = refused(
        open(&server, "card-api", &key_id, &envelope).await,
        410,
        "key-destroyed",
        None,
    )
    .await;
    assert_eq!(gone["reason"], "consumed");
    let c = server.client("card-api");
    let again = refused(
        get(&c, server.url(&format!("/v1/keys/{key_id}"))).await,
        410,
        "key-destroyed",
        None,
    )
    .await;
    assert_eq!(again["destroyed_at"], gone["destroyed_at"]);
    server.stop().await;
}

#[tokio::test]
async fn each_get_signs_a_fresh_token_for_the_same_key() {
    let server = TestServer::start().await;
    let key = create(
        &server,
        "card-api",
        json!({"max_opens": 3, "context": "card:9/reveal"}),
    )
    .await;
    let key_id = key["key_id"].as_str().unwrap();
    let c = server.client("card-api");
    let jwks = server.ok2cry("card-api").jwks().await.unwrap();
    let token_of = |v: &Value| v["token"].as_str().unwrap().to_owned();
    let first: Value = get(&c, server.url(&format!("/v1/keys/{key_id}")))
        .await
        .json()
        .await
        .unwrap();
    let first = KeyToken::parse(&token_of(&first))
        .unwrap()
        .verify(&jwks, now_secs())
        .unwrap();
    let created = KeyToken::parse(&token_of(&key))
        .unwrap()
        .verify(&jwks, now_secs())
        .unwrap();
    // One open: the next GET's token says how many opens remain.
    let envelope = Envelope::seal(&first, b"x").unwrap();
    assert_eq!(
        open(&server, "card-api", key_id, &envelope).await.status(),
        200
    );
    let second: Value = get(&c, server.url(&format!("/v1/keys/{key_id}")))
        .await
        .json()
        .await
        .unwrap();
    let second = KeyToken::parse(&token_of(&second))
        .unwrap()
        .verify(&jwks, now_secs())
        .unwrap();
    for t in [&first, &second] {
        assert_eq!(t.key_id(), created.key_id());
        assert_eq!(t.public_key(), created.public_key());
        assert_eq!(t.claims().jwk, created.claims().jwk);
        assert_eq!(t.issued_at(), created.issued_at());
        assert_eq!(t.expires_at(), created.expires_at());
        assert_eq!(t.context(), created.context());
        assert_eq!(t.issuer(), created.issuer());
    }
    assert_eq!(created.max_opens(), 3);
    assert_eq!(first.max_opens(), 3);
    assert_eq!(
        second.max_opens(),
        2,
        "max_opens is the opens remaining at the GET"
    );
    // The token is not an identifier: its bytes may differ between answers (here they do,
    // since max_opens changed); what identifies the key is key_id.
    assert_ne!(first.token(), second.token());
    server.stop().await;
}
