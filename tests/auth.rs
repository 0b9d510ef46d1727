//! Authentication and authorization over real TLS on 127.0.0.1:0: every success path and
//! every refusal named in the design (mTLS, CRL, SPKI pin, bearer JWT, roles).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::{Options, TestServer, client_with, get, problem};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt(key: &SigningKey, header: Value, claims: Value) -> String {
    let b64 = |v: &Value| Base64UrlUnpadded::encode_string(v.to_string().as_bytes());
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let sig: Signature = key.sign(input.as_bytes());
    format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&sig.to_bytes())
    )
}

struct JwtSetup {
    _dir: tempfile::TempDir,
    key: SigningKey,
    options: Options,
}

fn jwt_setup() -> JwtSetup {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    let pem_path = dir.path().join("partner.pem");
    std::fs::write(
        &pem_path,
        key.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    let keys_file = dir.path().join("jwt-keys.toml");
    ok2cry::node::config::add_partner_key(
        &keys_file,
        ok2cry::node::config::PartnerKey {
            sub: "partner-jwt".into(),
            kid: "k1".into(),
            public_key: pem_path,
        },
    )
    .unwrap();
    let options = Options {
        replace: vec![(
            "client_auth = \"required\"".into(),
            "client_auth = \"optional\"".into(),
        )],
        extra_toml: format!(
            "\n[jwt]\nenabled = true\naudience = \"ok2cry-test\"\nmax_lifetime_seconds = 60\nkeys_file = \"{}\"\n\n[[principals]]\nid = \"partner-jwt\"\nroles = [\"issuer\", \"opener\"]\n",
            keys_file.display()
        ),
        ..Default::default()
    };
    JwtSetup {
        _dir: dir,
        key,
        options,
    }
}

fn claims(jti: &str) -> Value {
    json!({"sub": "partner-jwt", "aud": "ok2cry-test", "iat": now(), "exp": now() + 30, "jti": jti})
}

fn header() -> Value {
    json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
}

#[tokio::test]
async fn jwt_partner_success_and_every_refusal() {
    let setup = jwt_setup();
    let server = TestServer::start_with(setup.options.clone()).await;
    let anon = server.anonymous();
    let create = |token: String| {
        anon.post(server.url("/v1/keys"))
            .bearer_auth(token)
            .json(&json!({"ttl_seconds": 30}))
            .send()
    };

    // Success: the JWT's sub is the principal, with its configured roles.
    let r = create(jwt(&setup.key, header(), claims("ok-1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key: Value = r.json().await.unwrap();
    assert_eq!(key["opener"], "partner-jwt");
    // mTLS principals still work on the same listener.
    let r = server
        .client("card-api")
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let other = SigningKey::generate();
    let t = now();
    let refusals: Vec<(String, &str)> = vec![
        (
            jwt(
                &setup.key,
                json!({"alg": "none", "kid": "k1"}),
                claims("r1"),
            ),
            "only ES256",
        ),
        (
            jwt(
                &setup.key,
                json!({"alg": "HS256", "kid": "k1"}),
                claims("r2"),
            ),
            "only ES256",
        ),
        (
            jwt(
                &setup.key,
                json!({"alg": "RS256", "kid": "k1"}),
                claims("r3"),
            ),
            "only ES256",
        ),
        (jwt(&other, header(), claims("r4")), "signature"),
        (
            jwt(
                &setup.key,
                json!({"alg": "ES256", "kid": "k2"}),
                claims("r5"),
            ),
            "no key registered",
        ),
        (
            jwt(
                &setup.key,
                header(),
                json!({"sub": "partner-jwt", "aud": "someone-else", "iat": t, "exp": t + 30, "jti": "r6"}),
            ),
            "audience",
        ),
        (
            jwt(
                &setup.key,
                header(),
                json!({"sub": "partner-jwt", "aud": "ok2cry-test", "iat": t, "exp": t + 61, "jti": "r7"}),
            ),
            "lifetime",
        ),
        (
            jwt(
                &setup.key,
                header(),
                json!({"sub": "partner-jwt", "aud": "ok2cry-test", "iat": t - 120, "exp": t - 90, "jti": "r8"}),
            ),
            "expired",
        ),
        ("not.a.jwt".into(), "malformed"),
    ];
    for (token, needle) in refusals {
        let p = problem(create(token).await.unwrap(), 401).await;
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{needle}: {p}"
        );
    }
    // Replay: the same token twice.
    let token = jwt(&setup.key, header(), claims("replay-1"));
    assert_eq!(create(token.clone()).await.unwrap().status(), 201);
    let p = problem(create(token).await.unwrap(), 401).await;
    assert!(p["detail"].as_str().unwrap().contains("replayed"));
    // No credentials at all.
    let p = problem(
        anon.post(server.url("/v1/keys"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("Bearer"));
    server.stop().await;
}

fn pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let server = TestServer::start().await;
    let pki = server.pki();
    let past = time::OffsetDateTime::now_utc() - time::Duration::days(10);
    let (cert, key) = ok2cry::auth::pki::issue_client(
        &pem(&pki.join("ca.pem")),
        &pem(&pki.join("ca.key")),
        "card-api",
        past,
        past + time::Duration::days(1),
    )
    .unwrap();
    std::fs::write(pki.join("old.pem"), cert).unwrap();
    std::fs::write(pki.join("old.key"), key).unwrap();
    let client = client_with(
        &pki.join("ca.pem"),
        Some((&pki.join("old.pem"), &pki.join("old.key"))),
    );
    assert!(client.get(server.url("/healthz")).send().await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn revocation_takes_effect_on_reload_without_restart() {
    let server = TestServer::start().await;
    let pki = server.pki();
    let proxy = || {
        client_with(
            &pki.join("ca.pem"),
            Some((&pki.join("proxy.pem"), &pki.join("proxy.key"))),
        )
    };
    assert_eq!(
        proxy()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let crl = ok2cry::auth::pki::revoke(
        &pem(&pki.join("ca.pem")),
        &pem(&pki.join("ca.key")),
        Some(&pem(&pki.join("crl.pem"))),
        &pem(&pki.join("proxy.pem")),
    )
    .unwrap();
    std::fs::write(pki.join("crl.pem"), crl).unwrap();
    // Not yet reloaded: still accepted.
    assert_eq!(
        proxy()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.tls.reload().unwrap();
    assert!(
        proxy().get(server.url("/healthz")).send().await.is_err(),
        "revoked certificate accepted"
    );
    // Others are unaffected.
    assert_eq!(
        get(&server.client("card-api"), server.url("/healthz"))
            .await
            .status(),
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn spki_pin_mismatch_and_unknown_principal_are_403() {
    let pin = "00".repeat(32);
    let server = TestServer::start_with(Options {
        replace: vec![(
            "id = \"ok2cry://principal/proxy\"".into(),
            format!("id = \"ok2cry://principal/proxy\"\nspki_sha256 = \"{pin}\""),
        )],
        ..Default::default()
    })
    .await;
    let p = problem(
        server
            .client("proxy")
            .post(server.url("/v1/keys"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("pinned"));
    // A valid certificate from the right CA for a principal nobody configured.
    let pki = server.pki();
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = ok2cry::auth::pki::issue_client(
        &pem(&pki.join("ca.pem")),
        &pem(&pki.join("ca.key")),
        "stranger",
        now - time::Duration::hours(1),
        now + time::Duration::days(1),
    )
    .unwrap();
    std::fs::write(pki.join("stranger.pem"), cert).unwrap();
    std::fs::write(pki.join("stranger.key"), key).unwrap();
    let stranger = client_with(
        &pki.join("ca.pem"),
        Some((&pki.join("stranger.pem"), &pki.join("stranger.key"))),
    );
    let p = problem(
        stranger
            .post(server.url("/v1/keys"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("not configured"));
    server.stop().await;
}

#[tokio::test]
async fn a_partner_csr_signed_by_the_ca_is_accepted() {
    let server = TestServer::start_with(Options {
        extra_toml: "\n[[principals]]\nid = \"ok2cry://principal/acme-bank\"\nroles = [\"issuer\", \"opener\"]\n".into(),
        ..Default::default()
    })
    .await;
    let pki = server.pki();
    // The partner makes its own key and CSR; only the CSR leaves the partner.
    let partner_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&partner_key)
        .unwrap();
    let too_long = ok2cry::auth::pki::sign_csr(
        &pem(&pki.join("ca.pem")),
        &pem(&pki.join("ca.key")),
        &csr.pem().unwrap(),
        366,
        "acme-bank",
    );
    assert!(too_long.is_err());
    let cert = ok2cry::auth::pki::sign_csr(
        &pem(&pki.join("ca.pem")),
        &pem(&pki.join("ca.key")),
        &csr.pem().unwrap(),
        365,
        "acme-bank",
    )
    .unwrap();
    std::fs::write(pki.join("acme.pem"), cert).unwrap();
    std::fs::write(pki.join("acme.key"), partner_key.serialize_pem()).unwrap();
    let acme = client_with(
        &pki.join("ca.pem"),
        Some((&pki.join("acme.pem"), &pki.join("acme.key"))),
    );
    let r = acme
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key: Value = r.json().await.unwrap();
    assert_eq!(key["opener"], "ok2cry://principal/acme-bank");
    server.stop().await;
}
