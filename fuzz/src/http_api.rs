//! HTTP requests through the service's router (`ok2cry::http::routes::app`), driven with tower's
//! `oneshot` (no TLS: the caller arrives as the verified certificate identity the server
//! would attach, or as a bearer JWT). Each input gets a fresh custody (memory sink), so inputs
//! do not influence each other; the audit log (read by the auditor routes) and the
//! development attestation provider are made once per process.
//!
//! Input: byte 0 picks the route (and content type), byte 1 the caller, then
//! `param ‖ '\n' ‖ body`: `param` is the key id in the path (`@` stands for a live key made
//! for this input), the query string, or the method and path of a free request.
//!
//! What must hold for every request: no 500; every error is `application/problem+json`
//! whose `status` is the response's; key views and opened plaintexts carry
//! `Cache-Control: no-store`; an envelope sealed to a live key opens once, to its plaintext.

use crate::fixtures::{p256_key, p256_spki_pem, setup};
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry::audit::AuditLog;
use ok2cry::audit::recorder::MemoryRecorder;
use ok2cry::auth::bearer::{BearerSettings, BearerVerifier};
use ok2cry::auth::principal::{
    AuthMethod, CertIdentity, Principal, PrincipalRegistry, Role, Roles,
};
use ok2cry::clock::{Clock, SystemClock};
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::hardening::HardeningReport;
use ok2cry::http::routes::app;
use ok2cry::http::state::Attestor;
use ok2cry::http::state::{AppState, ConnInfo};
use ok2cry::metrics::Metrics;
use ok2cry::node::config::Config;
use ok2cry_attestation::DevProvider;
use ok2cry_client::{Envelope, KeyToken};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use tower::ServiceExt;

/// The bearer JWT audience of the fuzzed state.
const AUDIENCE: &str = "https://ok2cry.fuzz";
const CARD_API: &str = "ok2cry://principal/card-api";
const PROXY: &str = "ok2cry://principal/proxy";
const AUDITOR: &str = "ok2cry://principal/auditor";
/// The bearer partner's principal id (its JWT `sub`).
const PARTNER: &str = "partner";

struct Shared {
    runtime: tokio::runtime::Runtime,
    audit: AuditLog,
    attestor: Attestor,
    partner: SigningKey,
    partner_pem: String,
    /// Keeps the audit log's directory for the life of the process.
    _dir: tempfile::TempDir,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let runtime = setup(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        "runtime",
    );
    let dir = setup(tempfile::tempdir(), "temporary directory");
    let config_path = setup(
        ok2cry::node::dev::prepare(&dir.path().join("pki"), None),
        "dev config",
    );
    let config = setup(Config::from_file(&config_path), "config");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (audit, _) = setup(AuditLog::open(config.audit_options(), clock), "audit log");
    let dev = setup(DevProvider::generate(), "development attestation provider");
    let attestor = Attestor {
        dev_root: Some(dev.root_certificate().to_vec()),
        provider: Arc::new(dev),
        kind: "development",
    };
    let partner = p256_key("ok2cry fuzz: bearer partner key");
    Shared {
        runtime,
        audit,
        attestor,
        partner_pem: p256_spki_pem(&partner),
        partner,
        _dir: dir,
    }
});

fn roles(list: &[Role]) -> Roles {
    list.iter().copied().collect()
}

fn state() -> Arc<AppState> {
    let shared = &*SHARED;
    let metrics = Arc::new(Metrics::new());
    let custody = setup(
        Custody::new(
            CustodyConfig {
                max_live_keys: 64,
                ..Default::default()
            },
            Arc::new(SystemClock),
            Arc::new(MemoryRecorder::default()),
            metrics.clone(),
        ),
        "custody",
    );
    let mut principals = PrincipalRegistry::default();
    principals.insert(CARD_API, roles(&[Role::Issuer, Role::Opener]), None);
    principals.insert(PROXY, roles(&[Role::Issuer]), None);
    principals.insert(AUDITOR, roles(&[Role::Auditor]), None);
    principals.insert(PARTNER, roles(&[Role::Issuer, Role::Opener]), None);
    let mut bearer = BearerVerifier::new(BearerSettings {
        audience: AUDIENCE.into(),
        max_lifetime_secs: 60,
        clock_skew_secs: 5,
    });
    setup(
        bearer.add_key(PARTNER, "k1", &shared.partner_pem),
        "bearer key",
    );
    let hardening = HardeningReport {
        core_dumps_disabled: false,
        non_dumpable: false,
        memory_locked: false,
        notes: vec!["fuzz harness: no process hardening".into()],
    };
    Arc::new(
        AppState::new(
            Arc::new(custody),
            metrics,
            Arc::new(principals),
            hardening,
            u32::MAX,
            u32::MAX,
        )
        .with_audit(shared.audit.clone())
        .with_attestation(shared.attestor.clone())
        .with_bearer(bearer),
    )
}

/// A bearer JWT of the partner that verifies now (a fresh `jti` each time).
fn partner_token() -> String {
    static JTI: AtomicU64 = AtomicU64::new(0);
    let now = SystemClock.now_ms() / 1000;
    let header = r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#;
    let claims = serde_json::json!({
        "sub": PARTNER, "aud": AUDIENCE, "iat": now, "exp": now + 30,
        "jti": format!("fuzz-{}", JTI.fetch_add(1, Ordering::Relaxed)),
    })
    .to_string();
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims.as_bytes())
    );
    let signature: p256::ecdsa::Signature = SHARED.partner.sign(input.as_bytes());
    format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&signature.to_bytes())
    )
}

/// Percent-encodes everything but unreserved characters (and, in a query, `=` and `&`).
fn encode(raw: &str, query: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (query && matches!(b, b'=' | b'&'));
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the request is and what its answer must be.
struct Plan {
    request: Request<Body>,
    /// The plaintext a successful open must return.
    sealed_plaintext: Option<Vec<u8>>,
}

/// The target.
pub fn run(data: &[u8]) {
    let [route, caller, rest @ ..] = data else {
        return;
    };
    let (param, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(param) = std::str::from_utf8(param) else {
        return;
    };
    let shared = &*SHARED;
    shared.runtime.block_on(async {
        let state = state();
        let Some(plan) = plan(&state, *route, *caller, param, body).await else {
            return;
        };
        let response = match app(state).oneshot(plan.request).await {
            Ok(r) => r,
            Err(infallible) => match infallible {},
        };
        check(response, plan.sealed_plaintext).await;
    });
}

async fn plan(
    state: &Arc<AppState>,
    route: u8,
    caller: u8,
    param: &str,
    body: &[u8],
) -> Option<Plan> {
    // A live key of card-api, made only when the request names one.
    let live = if param == "@" || route % 13 == 11 {
        let owner = Principal {
            id: CARD_API.into(),
            roles: roles(&[Role::Issuer, Role::Opener]),
            method: AuthMethod::Mtls,
        };
        Some(
            state
                .custody
                .create(&owner, CreateRequest::default())
                .await
                .ok()?,
        )
    } else {
        None
    };
    let key = match &live {
        Some(view) if param == "@" => view.key_id.to_string(),
        _ => encode(param, false),
    };
    let query = encode(param, true);
    let mut sealed_plaintext = None;
    let mut headers: Vec<(header::HeaderName, HeaderValue)> = Vec::new();
    let (method, uri, body): (Method, String, Vec<u8>) = match route % 13 {
        0 => (Method::POST, "/v1/keys".into(), body.to_vec()),
        1 => (Method::GET, format!("/v1/keys/{key}"), Vec::new()),
        2 => (Method::DELETE, format!("/v1/keys/{key}"), Vec::new()),
        3 => (Method::POST, format!("/v1/keys/{key}/open"), body.to_vec()),
        4 => {
            let value = HeaderValue::from_bytes(body).ok()?;
            headers.push((header::HeaderName::from_static("ok2cry-envelope"), value));
            (Method::POST, format!("/v1/keys/{key}/open"), Vec::new())
        }
        5 => (Method::GET, format!("/v1/audit/events?{query}"), Vec::new()),
        6 => (
            Method::GET,
            format!("/v1/audit/consistency?{query}"),
            Vec::new(),
        ),
        7 => (Method::GET, format!("/v1/audit/receipts/{key}"), Vec::new()),
        8 => (Method::GET, format!("/v1/attestation?{query}"), Vec::new()),
        9 => {
            let paths = [
                "/v1/audit/checkpoint",
                "/v1/audit/key",
                "/.well-known/jwks.json",
                "/healthz",
                "/readyz",
                "/metrics",
                "/openapi.json",
            ];
            let path = paths[usize::from(param.len() as u8) % paths.len()];
            (Method::GET, path.into(), body.to_vec())
        }
        10 => {
            // A free request: `METHOD` in the param, the path in the body (never the
            // endless audit stream, whose body a oneshot cannot finish reading).
            let method = Method::from_bytes(param.as_bytes()).ok()?;
            let path = std::str::from_utf8(body).ok()?;
            if !path.starts_with('/') || path.contains("stream") {
                return None;
            }
            (method, path.to_owned(), Vec::new())
        }
        11 => {
            // An envelope sealed to the live key, in the form and with the context byte 0
            // and the param pick.
            let view = live.as_ref()?;
            let jwks = state.custody.signing().jwks();
            let now = SystemClock.now_ms() / 1000;
            let key = KeyToken::parse(&view.token).ok()?.verify(&jwks, now).ok()?;
            let envelope = Envelope::seal(&key, body).ok()?;
            sealed_plaintext = Some(body.to_vec());
            let envelope = if route & 0x80 == 0 {
                envelope.to_json_value()
            } else {
                serde_json::Value::String(envelope.to_compact())
            };
            let request = serde_json::json!({ "envelope": envelope }).to_string();
            (
                Method::POST,
                format!("/v1/keys/{}/open", view.key_id),
                request.into_bytes(),
            )
        }
        _ => {
            let view = live.as_ref()?;
            (
                Method::POST,
                format!("/v1/keys/{}/open", view.key_id),
                body.to_vec(),
            )
        }
    };
    let mut request = Request::builder().method(method).uri(uri);
    // Bits 4-5 of byte 0: the content type sent.
    match (route >> 4) & 3 {
        0 => {}
        1 => request = request.header(header::CONTENT_TYPE, "application/json"),
        2 => request = request.header(header::CONTENT_TYPE, "text/plain"),
        _ => request = request.header(header::CONTENT_TYPE, "application/json; charset=utf-8"),
    }
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let cert = |id: &str| ConnInfo {
        cert: Some(CertIdentity {
            id: id.into(),
            spki_sha256: [7; 32],
        }),
        slot: None,
        peer: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 40_000))),
    };
    match caller % 6 {
        0 => request = request.extension(cert(CARD_API)),
        1 => request = request.extension(cert(PROXY)),
        2 => request = request.extension(cert(AUDITOR)),
        3 => request = request.extension(cert("ok2cry://principal/stranger")),
        4 => {
            let value = HeaderValue::from_str(&format!("Bearer {param}")).ok()?;
            request = request.header(header::AUTHORIZATION, value);
        }
        _ => {
            let value = HeaderValue::from_str(&format!("Bearer {}", partner_token())).ok()?;
            request = request.header(header::AUTHORIZATION, value);
        }
    }
    if !caller.is_multiple_of(6) {
        // Only card-api (the live key's owner and opener) must be able to open it.
        sealed_plaintext = None;
    }
    let request = request.body(Body::from(body)).ok()?;
    Some(Plan {
        request,
        sealed_plaintext,
    })
}

async fn check(response: Response<Body>, sealed_plaintext: Option<Vec<u8>>) {
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "a 500");
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let no_store = response
        .headers()
        .get(header::CACHE_CONTROL)
        .is_some_and(|v| v == "no-store");
    if content_type.starts_with("text/event-stream") {
        return;
    }
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), 1 << 20).await else {
        return;
    };
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(content_type, "application/problem+json");
        let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(problem["status"].as_u64(), Some(u64::from(status.as_u16())));
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        return;
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if json.get("plaintext").is_some() || json.get("token").is_some() {
        assert!(
            no_store,
            "a key view or plaintext without Cache-Control: no-store"
        );
    }
    if let Some(expected) = sealed_plaintext
        && (1..=ok2cry_client::suite::MAX_PLAINTEXT_LEN).contains(&expected.len())
    {
        assert_eq!(status, StatusCode::OK, "a live key did not open");
        let plaintext = json["plaintext"]
            .as_str()
            .and_then(|p| Base64UrlUnpadded::decode_vec(p).ok());
        assert_eq!(plaintext.as_deref(), Some(expected.as_slice()));
    }
}
