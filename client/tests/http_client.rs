//! The `http` client against a stub of the service on real TLS over loopback.
//!
//! The stub implements the routes' wire format with this crate's own `TokenSigner` and
//! `PrivateKey`; what is under test is the client: its TLS configuration (only the given CA,
//! client certificates, bearer tokens), problem+json mapping, plaintext decoding and the JWK
//! set cache with its one refresh on an unknown `kid`. The same client against the real
//! service is tested in the service's own test suite.

#![cfg(feature = "http")]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64ct::{Base64UrlUnpadded, Encoding};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use ok2cry_client::http::{CreateKey, HttpError, Ok2cryClient};
use ok2cry_client::{Envelope, Error, Jwks, KeyId, KeyTokenClaims, PrivateKey, TokenSigner};
use rcgen::{CertificateParams, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256, SanType};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let client = CertificateParams::new(vec!["card-api.test".to_owned()]).unwrap();
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The stub service's state.
struct Stub {
    signer: Mutex<Arc<TokenSigner>>,
    published: Mutex<Vec<Arc<TokenSigner>>>,
    keys: Mutex<HashMap<String, (PrivateKey, String)>>,
    jwks_fetches: AtomicUsize,
    counter: AtomicUsize,
}

#[derive(Clone, Copy)]
struct HasCert(bool);

fn problem(status: StatusCode, detail: &str, extra: Value) -> Response {
    let mut body = json!({
        "type": "https://ok2cry.dev/problems/stub",
        "title": "Refused",
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn authenticated(has_cert: HasCert, headers: &HeaderMap) -> bool {
    has_cert.0
        || headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v == "Bearer good-token")
}

async fn create(
    State(stub): State<Arc<Stub>>,
    Extension(has_cert): Extension<HasCert>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authenticated(has_cert, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "credentials required", json!({}));
    }
    let n = stub.counter.fetch_add(1, Ordering::SeqCst);
    let key_id = KeyId::new(format!("stub_{n:022}")).unwrap();
    let key = PrivateKey::generate();
    let context = body["context"].as_str().map(str::to_owned);
    let claims = KeyTokenClaims::new(
        "https://stub.test",
        key_id.clone(),
        &key.public_key(),
        now(),
        now() + 60,
        1,
        context.clone(),
    );
    let signer = stub.signer.lock().unwrap().clone();
    let token = signer.sign(&claims).unwrap();
    let view = json!({
        "key_id": key_id.as_str(),
        "token": token,
        "jwk": key.public_key().to_jwk().with_kid(key_id.as_str()),
        "created_at": "2030-01-01T00:00:00.000Z",
        "expires_at": "2030-01-01T00:01:00.000Z",
        "max_opens": 1,
        "opens_remaining": 1,
        "opener": "card-api",
    });
    stub.keys.lock().unwrap().insert(
        key_id.as_str().to_owned(),
        (key, context.unwrap_or_default()),
    );
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    response
        .headers_mut()
        .insert("ok2cry-key", HeaderValue::from_str(&token).unwrap());
    response
}

async fn get_key(State(stub): State<Arc<Stub>>, Path(id): Path<String>) -> Response {
    if stub.keys.lock().unwrap().contains_key(&id) {
        return problem(StatusCode::NOT_IMPLEMENTED, "stub", json!({}));
    }
    problem(
        StatusCode::GONE,
        "the key was destroyed",
        json!({"destroyed_at": "2030-01-01T00:00:01.000Z", "reason": "consumed"}),
    )
}

async fn open(
    State(stub): State<Arc<Stub>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let Some((key, context)) = stub.keys.lock().unwrap().remove(&id) else {
        return problem(StatusCode::GONE, "destroyed", json!({"reason": "consumed"}));
    };
    let envelope = match Envelope::from_json_value(body["envelope"].clone()) {
        Ok(e) => e,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e.to_string(), json!({})),
    };
    let key_id = KeyId::new(id).unwrap();
    match key.open(&key_id, &context, &envelope) {
        Ok(plaintext) => Json(json!({
            "key_id": key_id.as_str(),
            "plaintext": Base64UrlUnpadded::encode_string(plaintext.expose_secret()),
            "encoding": "base64url",
            "opens_remaining": 0,
        }))
        .into_response(),
        Err(_) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot open",
            json!({"key_destroyed": true}),
        ),
    }
}

async fn jwks(State(stub): State<Arc<Stub>>) -> Json<Jwks> {
    stub.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = stub
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.public_jwk())
        .collect();
    Json(Jwks { keys })
}

fn app(stub: Arc<Stub>) -> Router {
    Router::new()
        .route("/v1/keys", post(create))
        .route(
            "/v1/keys/{id}",
            get(get_key).delete(|| async { StatusCode::NO_CONTENT }),
        )
        .route("/v1/keys/{id}/open", post(open))
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/v1/audit/events",
            get(|RawQuery(q): RawQuery| async move { Json(json!({"query": q})) }),
        )
        .route(
            "/v1/audit/checkpoint",
            get(|| async { "stub.test/log\n1\nAAAA\n\n— stub sig\n" }),
        )
        .route(
            "/v1/audit/receipts/{id}",
            get(|Path(id): Path<String>| async move { Json(json!({"key_id": id})) }),
        )
        .with_state(stub)
}

/// Serves `app` over TLS on 127.0.0.1:0; client certificates are verified when sent and
/// optional (the bearer path is tested too).
async fn serve(pki: &Pki, stub: Arc<Stub>) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(pki.server_cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(stub);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let has_cert = HasCert(tls.get_ref().1.peer_certificates().is_some());
                let svc = TowerToHyperService::new(router.layer(Extension(has_cert)));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

fn stub() -> Arc<Stub> {
    let signer = Arc::new(TokenSigner::generate());
    Arc::new(Stub {
        signer: Mutex::new(signer.clone()),
        published: Mutex::new(vec![signer]),
        keys: Mutex::new(HashMap::new()),
        jwks_fetches: AtomicUsize::new(0),
        counter: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn set_pin_round_trip_over_mtls() {
    let pki = pki();
    let stub = stub();
    let addr = serve(&pki, stub.clone()).await;
    let client = Ok2cryClient::builder(
        format!("https://localhost:{}/", addr.port()),
        pki.ca_pem.as_bytes(),
    )
    .client_identity(pki.client_cert.as_bytes(), pki.client_key.as_bytes())
    .build()
    .unwrap();

    let created = client
        .create_key(&CreateKey {
            ttl_seconds: Some(60),
            context: Some("card:42/set-pin".into()),
            ..CreateKey::default()
        })
        .await
        .unwrap();
    assert_eq!(created.opener.as_deref(), Some("card-api"));
    let verified = client.verify_token(&created.token).await.unwrap();
    assert_eq!(verified.key_id(), &created.key_id);
    assert_eq!(verified.context(), "card:42/set-pin");
    let envelope = Envelope::seal(&verified, b"1234").unwrap();
    let plaintext = client.open(&created.key_id, &envelope).await.unwrap();
    assert_eq!(plaintext.expose_secret(), b"1234");

    // Consumed: GET is 410 with the problem's when and why; a second open is 410 too.
    let err = client.get_key(&created.key_id).await.unwrap_err();
    assert!(err.is_gone(), "{err}");
    let problem = err.problem().unwrap();
    assert_eq!(problem.reason.as_deref(), Some("consumed"));
    assert_eq!(
        problem.destroyed_at.as_deref(),
        Some("2030-01-01T00:00:01.000Z")
    );
    assert_eq!(
        err.to_string(),
        "service refused (410): the key was destroyed"
    );
    let Err(err) = client.open(&created.key_id, &envelope).await else {
        panic!("opened a consumed key")
    };
    assert_eq!(err.status(), Some(410));

    // A tampered envelope: 422 with key_destroyed.
    let created = client.create_key(&CreateKey::default()).await.unwrap();
    let verified = client.verify_token(&created.token).await.unwrap();
    let good = Envelope::seal(&verified, b"5678").unwrap();
    let mut sealed = good.sealed().to_vec();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    let bad = Envelope::from_parts(created.key_id.clone(), sealed, None).unwrap();
    let Err(err) = client.open(&created.key_id, &bad).await else {
        panic!("opened a tampered envelope")
    };
    assert_eq!(err.status(), Some(422));
    assert_eq!(err.problem().unwrap().key_destroyed, Some(true));

    client.delete_key(&created.key_id).await.unwrap();
    assert_eq!(
        client.audit_events(Some(5), Some(10)).await.unwrap()["query"],
        "after=5&limit=10"
    );
    assert_eq!(
        client.audit_events(None, None).await.unwrap()["query"],
        Value::Null
    );
    assert!(
        client
            .audit_checkpoint()
            .await
            .unwrap()
            .starts_with("stub.test/log\n")
    );
    assert_eq!(
        client.audit_receipt(&created.key_id).await.unwrap()["key_id"],
        created.key_id.as_str()
    );
    // One JWK set fetch served every verification above.
    assert_eq!(stub.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn jwks_is_refreshed_once_on_an_unknown_kid() {
    let pki = pki();
    let stub = stub();
    let addr = serve(&pki, stub.clone()).await;
    let client = Ok2cryClient::builder(
        format!("https://127.0.0.1:{}", addr.port()),
        pki.ca_pem.as_bytes(),
    )
    .client_identity(pki.client_cert.as_bytes(), pki.client_key.as_bytes())
    .build()
    .unwrap();
    let first = client.create_key(&CreateKey::default()).await.unwrap();
    client.verify_token(&first.token).await.unwrap();
    assert_eq!(stub.jwks_fetches.load(Ordering::SeqCst), 1);

    // The service rotates its signing key: the cached set does not know the new kid.
    let rotated = Arc::new(TokenSigner::generate());
    *stub.signer.lock().unwrap() = rotated.clone();
    stub.published.lock().unwrap().push(rotated);
    let second = client.create_key(&CreateKey::default()).await.unwrap();
    client.verify_token(&second.token).await.unwrap();
    assert_eq!(stub.jwks_fetches.load(Ordering::SeqCst), 2);
    // The old key is still published (recently retired): no fetch needed.
    client.verify_token(&first.token).await.unwrap();
    assert_eq!(stub.jwks_fetches.load(Ordering::SeqCst), 2);

    // A signer the service never published: one refresh, then a typed error.
    let stranger = TokenSigner::generate();
    let key = PrivateKey::generate();
    let claims = KeyTokenClaims::new(
        "https://stub.test",
        KeyId::new("x_1").unwrap(),
        &key.public_key(),
        now(),
        now() + 60,
        1,
        None,
    );
    let forged = stranger.sign(&claims).unwrap();
    let err = client.verify_token(&forged).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Protocol(Error::UnknownSigningKey)),
        "{err}"
    );
    assert_eq!(stub.jwks_fetches.load(Ordering::SeqCst), 3);
    // Garbage is a protocol error without any fetch.
    let err = client.verify_token("a.b.c").await.unwrap_err();
    assert!(
        matches!(err, HttpError::Protocol(Error::Malformed(_))),
        "{err}"
    );
    assert_eq!(stub.jwks_fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn bearer_tokens_and_tls_refusals() {
    let pki = pki();
    let stub = stub();
    let addr = serve(&pki, stub).await;
    let url = format!("https://localhost:{}", addr.port());

    // A bearer token per request.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let client = Ok2cryClient::builder(&url, pki.ca_pem.as_bytes())
        .bearer(move || -> Result<String, ok2cry_client::http::BoxError> {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok("good-token".to_owned())
        })
        .build()
        .unwrap();
    client.create_key(&CreateKey::default()).await.unwrap();
    client.create_key(&CreateKey::default()).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // No credentials: the stub's 401 problem comes back typed.
    let anonymous = Ok2cryClient::builder(&url, pki.ca_pem.as_bytes())
        .build()
        .unwrap();
    let err = anonymous
        .create_key(&CreateKey::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.problem().unwrap().detail.as_deref(),
        Some("credentials required")
    );

    // A failing provider is an Auth error; nothing is sent.
    let failing = Ok2cryClient::builder(&url, pki.ca_pem.as_bytes())
        .bearer(|| -> Result<String, ok2cry_client::http::BoxError> { Err("no key".into()) })
        .build()
        .unwrap();
    let err = failing.create_key(&CreateKey::default()).await.unwrap_err();
    assert!(matches!(err, HttpError::Auth(_)), "{err}");

    // A client that trusts another CA (and not the platform's roots) refuses the server.
    let other = pki_other_ca();
    let distrustful = Ok2cryClient::builder(&url, other.as_bytes())
        .client_identity(pki.client_cert.as_bytes(), pki.client_key.as_bytes())
        .build()
        .unwrap();
    let err = distrustful.jwks().await.unwrap_err();
    assert!(matches!(err, HttpError::Transport(_)), "{err}");

    // A bad identity PEM is a configuration error.
    let err = Ok2cryClient::builder(&url, pki.ca_pem.as_bytes())
        .client_identity_pem(pki.client_cert.as_bytes())
        .build()
        .unwrap_err();
    assert!(matches!(err, HttpError::Config(_)), "{err}");
}

fn pki_other_ca() -> String {
    pki().ca_pem
}
