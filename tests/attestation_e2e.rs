//! End to end with the development attestation provider, over a real node on real TLS:
//! attestation → JWKS binding → a key token verified through that chain; `ok2cry attest verify
//! --url` (a real process) passes against the node and fails, with a message that says why,
//! against a TLS proxy in front of the node that swaps the JWKS (or the audit key) behind the
//! attestation; the client crate's one call and its require-attestation mode, and the proxy
//! helper's `require_attested_keys`, do the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use common::{TestServer, get, problem};
use ok2cry_attestation::{
    AttestationError, AttestationResponse, Binding, Policy, RootFingerprint, Verifier, verify,
    verify_binding,
};
use ok2cry_client::attested::{AttestedError, AttestedKeys, AuditKeyCheck};
use ok2cry_client::http::{HttpError, Ok2cryClient};
use ok2cry_client::{Jwks, KeyToken};
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test]
async fn attestation_binds_the_signing_keys_that_sign_key_tokens() {
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let nonce = [7u8; 32];
    let r: Value = get(
        &c,
        server.url(&format!("/v1/attestation?nonce={}", hex::encode(nonce))),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["provider"], "development");
    assert_eq!(r["platform"], "nitro");
    assert_eq!(r["binding"], "ok2cry-bind-v1");
    assert_eq!(r["nonce"], hex::encode(nonce));
    let document = Base64::decode_vec(r["document"].as_str().unwrap()).unwrap();
    let dev_root = Base64::decode_vec(r["dev_root_certificate"].as_str().unwrap()).unwrap();

    // A strict policy (the pinned AWS root, no debug) refuses the development document.
    assert!(verify(&document, &Policy::strict(), SystemTime::now()).is_err());
    // The relying party opts in to the dev root and debug mode explicitly.
    let policy = Policy::strict()
        .with_root(RootFingerprint::of_certificate(&dev_root))
        .danger_allow_debug()
        .require_nonce(nonce.to_vec());
    let attested = verify(&document, &policy, SystemTime::now()).unwrap();
    // A wrong nonce is refused.
    let stale = Policy::strict()
        .with_root(RootFingerprint::of_certificate(&dev_root))
        .danger_allow_debug()
        .require_nonce(vec![8u8; 32]);
    assert!(verify(&document, &stale, SystemTime::now()).is_err());

    // The JWKS as fetched, and the audit key, must be exactly what the document commits to.
    let jwks: Jwks = (*server.ok2cry("card-api").jwks().await.unwrap()).clone();
    let thumbprints: Vec<String> = jwks.keys.iter().map(|k| k.thumbprint()).collect();
    let audit_key: Value = get(&server.client("auditor"), server.url("/v1/audit/key"))
        .await
        .json()
        .await
        .unwrap();
    let audit_sha = ok2cry::http::attestation::audit_key_spki_sha256(
        audit_key["public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(r["audit_key_spki_sha256"], hex::encode(audit_sha));

    // A key token, verified through the chain: document → JWKS → token.
    let key: Value = c
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = KeyToken::parse(key["token"].as_str().unwrap())
        .unwrap()
        .verify(&jwks, now)
        .unwrap();
    verify_binding(&attested, &thumbprints, &audit_sha, verified.signing_kid()).unwrap();

    // A JWKS key that is not bound: an extra key in the set, or a token signed by another key.
    let mut tampered = thumbprints.clone();
    tampered.push(ok2cry_client::TokenSigner::generate().kid().to_owned());
    assert_eq!(
        verify_binding(&attested, &tampered, &audit_sha, verified.signing_kid()),
        Err(AttestationError::BindingMismatch)
    );
    let outsider = ok2cry_client::TokenSigner::generate();
    assert_eq!(
        verify_binding(&attested, &thumbprints, &audit_sha, outsider.kid()),
        Err(AttestationError::KeyNotCommitted)
    );
    // Another audit key is not bound either.
    assert_eq!(
        verify_binding(&attested, &thumbprints, &[0u8; 32], verified.signing_kid()),
        Err(AttestationError::BindingMismatch)
    );

    // The client crate's proof type does the same: a JWKS trusted only through the document.
    let attested =
        ok2cry_client::attested::AttestedJwks::new(jwks.clone(), attested.clone(), &audit_sha)
            .unwrap();
    attested
        .verify_token(key["token"].as_str().unwrap(), now)
        .unwrap();
    let mut extra = jwks.clone();
    extra.keys.push(outsider.public_jwk());
    assert!(
        ok2cry_client::attested::AttestedJwks::new(
            extra,
            attested.attestation().unwrap().clone(),
            &audit_sha
        )
        .is_err()
    );

    problem(get(&c, server.url("/v1/attestation")).await, 400).await;
    problem(get(&c, server.url("/v1/attestation?nonce=zz")).await, 400).await;
    // The nonce's limits, stated the same way in every refusal: 1 to 64 bytes as hex.
    for query in [
        "nonce=".to_owned(),
        format!("nonce={}", "ab".repeat(65)),
        "nonce=abc".to_owned(),
        "nonce=00&nonce=01".to_owned(),
        "nonce=00&other=1".to_owned(),
    ] {
        let body = problem(
            get(&c, server.url(&format!("/v1/attestation?{query}"))).await,
            400,
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("nonce"),
            "{query}: {body}"
        );
    }
    let longest = get(
        &c,
        server.url(&format!("/v1/attestation?nonce={}", "ab".repeat(64))),
    )
    .await;
    assert_eq!(longest.status(), 200);

    // The route and its answer are documented in the OpenAPI description the node serves:
    // every required member is one the node sends, and the node sends no undocumented one.
    let openapi: Value = get(&c, server.url("/openapi.json"))
        .await
        .json()
        .await
        .unwrap();
    assert!(openapi["paths"]["/v1/attestation"]["get"].is_object());
    let schema = &openapi["components"]["schemas"]["AttestationResponse"];
    let documented: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for member in r.as_object().unwrap().keys() {
        assert!(
            documented.contains(&member.as_str()),
            "{member} is undocumented"
        );
    }
    for required in schema["required"].as_array().unwrap() {
        assert!(
            r.get(required.as_str().unwrap()).is_some(),
            "{required} missing"
        );
    }
    server.stop().await;
}

/// The development root's fingerprint, as a relying party would pin it for a dev node.
async fn dev_root_fingerprint(server: &TestServer) -> String {
    let r: Value = get(
        &server.client("card-api"),
        server.url("/v1/attestation?nonce=01"),
    )
    .await
    .json()
    .await
    .unwrap();
    let root = Base64::decode_vec(r["dev_root_certificate"].as_str().unwrap()).unwrap();
    hex::encode(RootFingerprint::of_certificate(&root).as_bytes())
}

fn dev_verifier(fingerprint: &str) -> Verifier {
    Verifier::new().with_nitro(
        Policy::strict()
            .with_root(RootFingerprint::from_hex(fingerprint).unwrap())
            .danger_allow_debug(),
    )
}

/// Runs `ok2cry attest verify ARGS` as a real process (off the runtime's workers).
async fn attest_verify(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ok2cry"))
            .args(["attest", "verify"])
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    })
    .await
    .unwrap()
}

fn identity(pki: &Path, who: &str) -> Vec<String> {
    vec![
        "--ca".into(),
        pki.join("ca.pem").display().to_string(),
        "--cert".into(),
        pki.join(format!("{who}.pem")).display().to_string(),
        "--key".into(),
        pki.join(format!("{who}.key")).display().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attest_verify_url_passes_and_says_what_it_checked() {
    let server = TestServer::start().await;
    let fp = dev_root_fingerprint(&server).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let dev = vec![
        "--root-fingerprint".to_owned(),
        fp.clone(),
        "--allow-debug".to_owned(),
    ];

    let mut args = vec!["--url".to_owned(), url.clone()];
    args.extend(identity(&server.pki(), "card-api"));
    args.extend(dev.clone());
    let (ok, out, err) = attest_verify(args).await;
    assert!(ok, "{err}");
    for expected in [
        "provider: development",
        "platform: AWS Nitro Enclaves attestation document",
        "IS debuggable: it proves nothing",
        "verified: binding (ok2cry-bind-v1): the evidence commits to",
        "(the nonce sent)",
        "verified: JWKS: exactly the",
        // card-api may not read the audit key: said, not hidden.
        "NOT checked: the audit key itself (this client's credentials lack the auditor role (403))",
        "no PCR expected (NOT checked which image runs",
        "PCR0: ",
        "PCR15: ",
        "public_key: (none)",
        "user_data: 6f6b32637279",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    // With the auditor's certificate the audit key is fetched and checked too.
    let mut args = vec!["--url".to_owned(), url.clone()];
    args.extend(identity(&server.pki(), "auditor"));
    args.extend(dev.clone());
    let (ok, out, err) = attest_verify(args).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("verified: audit key: the one fetched has the committed SPKI digest"),
        "{out}"
    );

    // Without pinning the development root: refused, and told how to pin it.
    let mut args = vec!["--url".to_owned(), url.clone()];
    args.extend(identity(&server.pki(), "card-api"));
    let (ok, _, err) = attest_verify(args).await;
    assert!(!ok);
    assert!(err.contains("NOT verified"), "{err}");

    // A PCR that is not the document's: refused.
    let mut args = vec![
        "--url".to_owned(),
        url.clone(),
        "--pcr".into(),
        format!("0={}", "ab".repeat(48)),
    ];
    args.extend(identity(&server.pki(), "card-api"));
    args.extend(dev.clone());
    let (ok, _, err) = attest_verify(args).await;
    assert!(!ok);
    assert!(err.contains("PCR0 does not match"), "{err}");
    // SEV-SNP flags on Nitro evidence are an error, not silently ignored.
    let mut args = vec![
        "--url".to_owned(),
        url.clone(),
        "--measurement".into(),
        "00".repeat(48),
    ];
    args.extend(identity(&server.pki(), "card-api"));
    args.extend(dev.clone());
    let (ok, _, err) = attest_verify(args).await;
    assert!(!ok);
    assert!(err.contains("--measurement does not apply"), "{err}");

    // The saved JSON, with the JWKS and audit key the relying party uses, and its nonce.
    let nonce = "5a".repeat(32);
    let body = get(
        &server.client("card-api"),
        server.url(&format!("/v1/attestation?nonce={nonce}")),
    )
    .await
    .text()
    .await
    .unwrap();
    let jwks = common::jwks_text(&server.client("card-api"), &server.url("")).await;
    let audit: Value = get(&server.client("auditor"), server.url("/v1/audit/key"))
        .await
        .json()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("attestation.json");
    let jwks_file = dir.path().join("jwks.json");
    let audit_file = dir.path().join("audit.pem");
    std::fs::write(&saved, &body).unwrap();
    std::fs::write(&jwks_file, &jwks).unwrap();
    std::fs::write(&audit_file, audit["public_key_pem"].as_str().unwrap()).unwrap();
    let file_args = |extra: &[&str]| {
        let mut args = vec!["--document".to_owned(), saved.display().to_string()];
        args.extend(dev.clone());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let (ok, out, err) = attest_verify(file_args(&[
        "--jwks",
        jwks_file.to_str().unwrap(),
        "--audit-key",
        audit_file.to_str().unwrap(),
        "--nonce",
        &nonce,
    ]))
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("verified: JWKS: exactly the"), "{out}");
    assert!(
        out.contains("verified: audit key: the one fetched"),
        "{out}"
    );
    assert!(out.contains("(the nonce sent)"), "{out}");
    // Without --jwks: the binding is checked, the JWKS in use is not, and it says so.
    let (ok, out, err) = attest_verify(file_args(&[])).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("NOT checked: that the JWKS you use is the committed set"),
        "{out}"
    );
    assert!(out.contains("NOT checked to be yours"), "{out}");
    // Another nonce than the one sent: refused.
    let (ok, _, err) = attest_verify(file_args(&["--nonce", "00"])).await;
    assert!(!ok);
    assert!(err.contains("another nonce"), "{err}");
    // The JSON's claims edited (a thumbprint more): the evidence does not commit to them.
    let mut edited: Value = serde_json::from_str(&body).unwrap();
    edited["jwks_thumbprints"]
        .as_array_mut()
        .unwrap()
        .push(json!("AAAA"));
    std::fs::write(&saved, edited.to_string()).unwrap();
    let (ok, _, err) = attest_verify(file_args(&[])).await;
    assert!(!ok);
    assert!(err.contains("does not commit"), "{err}");
    // --max-age: the document is fresh now; the historic one is not.
    std::fs::write(&saved, &body).unwrap();
    let (ok, _, err) = attest_verify(file_args(&["--max-age", "5m"])).await;
    assert!(ok, "{err}");
    let made: u64 = {
        let r = AttestationResponse::from_json(body.as_bytes()).unwrap();
        ok2cry_attestation::AttestationDocument::parse(&r.document_bytes().unwrap())
            .unwrap()
            .timestamp_ms()
    };
    let later = (made + 3_600_000).to_string();
    let (ok, _, err) = attest_verify(file_args(&["--max-age", "5m", "--at-ms", &later])).await;
    assert!(!ok);
    assert!(err.contains("older than the policy allows"), "{err}");
    server.stop().await;
}

/// A TLS reverse proxy in front of `server`, presenting the node's own (dev PKI) server
/// certificate: it forwards each request to the node as `who`, except the paths in `replace`,
/// which it answers itself with the given JSON.
async fn tampering_proxy(
    server: &TestServer,
    who: &str,
    replace: HashMap<&'static str, String>,
) -> SocketAddr {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let pki = server.pki();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(ok2cry::auth::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let upstream = server.client(who);
    let base = server.url("");
    let replace = Arc::new(replace);
    let app = Router::new().fallback(move |uri: Uri| {
        let upstream = upstream.clone();
        let base = base.clone();
        let replace = replace.clone();
        async move {
            if let Some(body) = replace.get(uri.path()) {
                return ([(header::CONTENT_TYPE, "application/json")], body.clone())
                    .into_response();
            }
            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let answer = upstream.get(format!("{base}{path}")).send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let ctype = answer
                .headers()
                .get("content-type")
                .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let body = answer.bytes().await.unwrap();
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response.headers_mut().insert(header::CONTENT_TYPE, ctype);
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_swapped_behind_the_attestation_is_refused() {
    let server = TestServer::start().await;
    let fp = dev_root_fingerprint(&server).await;
    let verifier = dev_verifier(&fp);
    let node_url = format!("https://127.0.0.1:{}", server.addr.port());
    // Fetched raw, not by the client crate whose `attest` is checked against it.
    let real = common::jwks(&server.client("card-api"), &server.url("")).await;
    let outsider = ok2cry_client::TokenSigner::generate();

    // The node itself passes, through the client crate's one call.
    let direct = server.ok2cry("auditor");
    let service = direct.attest(&verifier).await.unwrap();
    assert_eq!(service.jwks.jwks(), &real);
    assert!(matches!(service.audit_key, AuditKeyCheck::Attested { .. }));

    // A proxy that adds a key of its own to the JWKS.
    let mut extended = real.clone();
    extended.keys.push(outsider.public_jwk());
    let proxy = tampering_proxy(
        &server,
        "card-api",
        HashMap::from([(
            "/.well-known/jwks.json",
            serde_json::to_string(&extended).unwrap(),
        )]),
    )
    .await;
    let proxy_url = format!("https://127.0.0.1:{}", proxy.port());
    let mut args = vec!["--url".to_owned(), proxy_url.clone()];
    args.extend(identity(&server.pki(), "card-api"));
    args.extend([
        "--root-fingerprint".to_owned(),
        fp.clone(),
        "--allow-debug".into(),
    ]);
    let (ok, out, err) = attest_verify(args.clone()).await;
    assert!(!ok, "a swapped JWKS was accepted:\n{out}");
    assert!(
        err.contains(&format!(
            "NOT verified: the JWK set served is not the attested one: 1 key(s) not committed by \
             the attestation ({})",
            outsider.kid()
        )),
        "{err}"
    );
    let swapped = server.ok2cry_at(&proxy_url, "card-api");
    match swapped.attest(&verifier).await {
        Err(HttpError::Attestation(AttestedError::JwksNotAttested { extra, missing })) => {
            assert_eq!(extra, vec![outsider.kid().to_owned()]);
            assert!(missing.is_empty());
        }
        other => panic!("expected JwksNotAttested, got {other:?}"),
    }

    // A proxy that replaces the JWKS with its own key only.
    let replaced = Jwks {
        keys: vec![outsider.public_jwk()],
    };
    let proxy = tampering_proxy(
        &server,
        "card-api",
        HashMap::from([(
            "/.well-known/jwks.json",
            serde_json::to_string(&replaced).unwrap(),
        )]),
    )
    .await;
    let proxy_url = format!("https://127.0.0.1:{}", proxy.port());
    let mut args = vec!["--url".to_owned(), proxy_url.clone()];
    args.extend(identity(&server.pki(), "card-api"));
    args.extend([
        "--root-fingerprint".to_owned(),
        fp.clone(),
        "--allow-debug".into(),
    ]);
    let (ok, _, err) = attest_verify(args).await;
    assert!(!ok);
    assert!(
        err.contains("1 key(s) not committed") && err.contains("committed key(s) missing"),
        "{err}"
    );
    // A client that requires attestation does not trust a token through that proxy, even one
    // the proxy signed with its own key; directly, it trusts the node's own tokens.
    let key = common::create(&server, "card-api", json!({})).await;
    let token = key["token"].as_str().unwrap();
    let strict_via_proxy = Ok2cryClient::builder(
        &proxy_url,
        &std::fs::read(server.pki().join("ca.pem")).unwrap(),
    )
    .client_identity(
        &std::fs::read(server.pki().join("card-api.pem")).unwrap(),
        &std::fs::read(server.pki().join("card-api.key")).unwrap(),
    )
    .require_attestation(verifier.clone())
    .build()
    .unwrap();
    assert!(matches!(
        strict_via_proxy.verify_token(token).await,
        Err(HttpError::Attestation(
            AttestedError::JwksNotAttested { .. }
        ))
    ));
    let strict_direct = Ok2cryClient::builder(
        &node_url,
        &std::fs::read(server.pki().join("ca.pem")).unwrap(),
    )
    .client_identity(
        &std::fs::read(server.pki().join("card-api.pem")).unwrap(),
        &std::fs::read(server.pki().join("card-api.key")).unwrap(),
    )
    .require_attestation(verifier.clone())
    .build()
    .unwrap();
    let verified = strict_direct.verify_token(token).await.unwrap();
    assert_eq!(verified.key_id().as_str(), key["key_id"].as_str().unwrap());

    // A proxy (with the auditor's identity upstream) that swaps the audit key.
    let other_pem = ok2cry_client::PrivateKey::generate()
        .public_key()
        .to_spki_pem()
        .unwrap();
    let proxy = tampering_proxy(
        &server,
        "auditor",
        HashMap::from([(
            "/v1/audit/key",
            json!({"key_name": "swapped", "public_key_pem": other_pem}).to_string(),
        )]),
    )
    .await;
    let proxy_url = format!("https://127.0.0.1:{}", proxy.port());
    let mut args = vec!["--url".to_owned(), proxy_url.clone()];
    args.extend(identity(&server.pki(), "auditor"));
    args.extend([
        "--root-fingerprint".to_owned(),
        fp.clone(),
        "--allow-debug".into(),
    ]);
    let (ok, _, err) = attest_verify(args).await;
    assert!(!ok);
    assert!(
        err.contains("the audit key served is not the attested one"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_helper_trusts_only_attested_key_tokens() {
    let server = TestServer::start().await;
    let fp = dev_root_fingerprint(&server).await;
    let service = server
        .ok2cry("proxy")
        .attest(&dev_verifier(&fp))
        .await
        .unwrap();
    let keys = AttestedKeys::new();
    let upstream = || Router::new().fallback(|| async { (StatusCode::OK, "upstream answered") });
    let layered = |keys: AttestedKeys| {
        upstream().layer(ok2cry_client::forward::ForwardLayer::new().require_attested_keys(keys))
    };
    let request = |token: &str| {
        Request::post("/")
            .header("ok2cry-key", token)
            .body(Body::empty())
            .unwrap()
    };
    let key = common::create(&server, "card-api", json!({})).await;
    let token = key["token"].as_str().unwrap();

    // Before any attested set is held, every key token is refused.
    let refused = layered(keys.clone()).oneshot(request(token)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    keys.set(service.jwks);
    let passed = layered(keys.clone()).oneshot(request(token)).await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);

    // A well-formed token signed by a key the attestation does not commit to.
    let outsider = ok2cry_client::TokenSigner::generate();
    let claims = KeyToken::parse(token).unwrap().verify(
        &server.ok2cry("card-api").jwks().await.unwrap(),
        common::now_secs(),
    );
    let forged = outsider.sign(claims.unwrap().claims()).unwrap();
    let refused = layered(keys.clone())
        .oneshot(request(&forged))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("not trusted through the service's attestation"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn without_an_audit_log_the_endpoint_commits_to_no_audit_key() {
    use ok2cry::auth::principal::CertIdentity;
    use ok2cry::http::routes::app;
    use ok2cry::http::state::{AppState, ConnInfo};
    let server = TestServer::start().await;
    let node = &server.state;
    // The same node's keys and attestation provider, behind a router without an audit log.
    let state = AppState::new(
        node.custody.clone(),
        node.metrics.clone(),
        node.principals.clone(),
        node.hardening.clone(),
        100,
        100,
    )
    .with_attestation(node.attestation.clone().unwrap());
    let nonce = [3u8; 16];
    let mut request = Request::get(format!("/v1/attestation?nonce={}", hex::encode(nonce)))
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(ConnInfo {
        cert: Some(CertIdentity {
            id: "ok2cry://principal/card-api".into(),
            spki_sha256: [0; 32],
        }),
        slot: None,
        peer: None,
    });
    let response = app(Arc::new(state)).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["audit_key_spki_sha256"], Value::Null);
    let parsed = AttestationResponse::from_json(&body).unwrap();
    let claimed = parsed.claimed_binding().unwrap();
    assert_eq!(claimed.audit_key_spki_sha256(), None);

    let root = parsed.dev_root_bytes().unwrap().unwrap();
    let fingerprint = hex::encode(RootFingerprint::of_certificate(&root).as_bytes());
    let verified = dev_verifier(&fingerprint)
        .verify(&parsed.document_bytes().unwrap(), SystemTime::now())
        .unwrap();
    claimed.check(&verified, &nonce).unwrap();
    // What the endpoint used to commit to (32 zero bytes) is not what it commits to now.
    let zeros = Binding::new(claimed.jwks_thumbprints(), Some(&[0u8; 32]));
    assert_eq!(
        zeros.check(&verified, &nonce),
        Err(AttestationError::BindingMismatch)
    );
    server.stop().await;
}
