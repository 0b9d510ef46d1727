//! A real ok2cry node on 127.0.0.1:0 over real TLS, with a dev PKI in a temporary directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ok2cry::clock::{Clock, ManualClock, SystemClock};
use ok2cry::node::config::Config;
use ok2cry::node::{Node, NodeError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub state: Arc<ok2cry::http::state::AppState>,
    pub audit: ok2cry::audit::AuditLog,
    /// The audit log's disk: `disk.set_fail(true)` makes every write fail (a full disk).
    pub disk: Arc<ok2cry::audit::disk::FaultyDisk>,
    pub tls: Arc<ok2cry::auth::tls::TlsReloader>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), NodeError>>>,
}

/// Options for a test node.
#[derive(Default, Clone)]
pub struct Options {
    /// Extra TOML appended to the dev config (sections must not repeat the dev ones).
    pub extra_toml: String,
    /// Replace lines in the dev config: (from, to).
    pub replace: Vec<(String, String)>,
    /// Where to listen (default `127.0.0.1:0`; `[::1]:0` for IPv6).
    pub listen: Option<String>,
    /// A manual clock instead of the system clock.
    pub clock: Option<ManualClock>,
}

pub fn pki_dir(dir: &Path) -> PathBuf {
    dir.join("pki")
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki_dir(dir.path());
        let listen: std::net::SocketAddr = opts
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:0")
            .parse()
            .unwrap();
        let config_path = ok2cry::node::dev::prepare(&pki, Some(listen)).unwrap();
        let mut text = std::fs::read_to_string(&config_path).unwrap();
        // Tests do not lock the test process's memory.
        text = text.replace("mlock = \"best_effort\"", "mlock = \"off\"");
        for (from, to) in &opts.replace {
            assert!(text.contains(from.as_str()), "config has no {from:?}");
            text = text.replace(from.as_str(), to);
        }
        text.push_str(&opts.extra_toml);
        std::fs::write(&config_path, text).unwrap();
        let config = Config::from_file(&config_path).unwrap();
        let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clock: Arc<dyn Clock> = match opts.clock {
            Some(c) => Arc::new(c),
            None => Arc::new(SystemClock),
        };
        let disk = Arc::new(ok2cry::audit::disk::FaultyDisk::default());
        let node: Node = ok2cry::node::start_on(config, clock, disk.clone())
            .await
            .unwrap();
        let state = node.state.clone();
        let audit = node.audit.clone();
        let tls = node.tls.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(node.serve(listener, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            dir,
            state,
            audit,
            disk,
            tls,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn pki(&self) -> PathBuf {
        pki_dir(self.dir.path())
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    /// An HTTPS client presenting the dev certificate `who` (card-api, proxy, auditor).
    pub fn client(&self, who: &str) -> reqwest::Client {
        client_with(
            &self.pki().join("ca.pem"),
            Some((
                &self.pki().join(format!("{who}.pem")),
                &self.pki().join(format!("{who}.key")),
            )),
        )
    }

    /// An HTTPS client without a certificate.
    pub fn anonymous(&self) -> reqwest::Client {
        client_with(&self.pki().join("ca.pem"), None)
    }

    /// The client crate's [`Ok2cryClient`](ok2cry_client::http::Ok2cryClient) for this node,
    /// presenting the dev certificate `who` (card-api, proxy, auditor).
    pub fn ok2cry(&self, who: &str) -> ok2cry_client::http::Ok2cryClient {
        self.ok2cry_at(&self.url(""), who)
    }

    /// The client crate's client for `base_url` (this node, or a proxy in front of it that
    /// presents the dev server certificate), trusting the dev CA and presenting `who`.
    pub fn ok2cry_at(&self, base_url: &str, who: &str) -> ok2cry_client::http::Ok2cryClient {
        let pki = self.pki();
        ok2cry_client::http::Ok2cryClient::builder(
            base_url,
            &std::fs::read(pki.join("ca.pem")).unwrap(),
        )
        .client_identity(
            &std::fs::read(pki.join(format!("{who}.pem"))).unwrap(),
            &std::fs::read(pki.join(format!("{who}.key"))).unwrap(),
        )
        .build()
        .unwrap()
    }

    pub async fn audit_events(&self) -> Vec<serde_json::Value> {
        self.audit.flush().await;
        audit_events_in(self.audit.dir())
    }

    pub async fn audit_text(&self) -> String {
        self.audit.flush().await;
        audit_text_in(self.audit.dir())
    }

    /// The audit key as auditors pin it.
    pub fn audit_key(&self) -> ok2cry::audit::note::NoteVerifier {
        self.audit.log_key().clone()
    }

    /// Shuts the node down (as SIGTERM does) and hands back its directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self.dir
    }
}

pub fn client_with(ca: &Path, identity: Option<(&Path, &Path)>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if let Some((cert, key)) = identity {
        let mut pem = std::fs::read(cert).unwrap();
        pem.extend(std::fs::read(key).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// Asserts a problem+json response with `status`, returning its body.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let ctype = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ctype.as_deref(), Some("application/problem+json"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "problem without detail: {body}"
    );
    body
}

/// Every segment file of the log in `dir`, concatenated.
pub fn audit_text_in(dir: &Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".jsonl") && !p.to_string_lossy().contains("checkpoints")
        })
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Every event of the log in `dir`.
pub fn audit_events_in(dir: &Path) -> Vec<serde_json::Value> {
    audit_text_in(dir)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Now, in Unix seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Creates a key as `who` (asserting 201 and the Ok2cry-Key header).
pub async fn create(server: &TestServer, who: &str, body: serde_json::Value) -> serde_json::Value {
    let r = server
        .client(who)
        .post(server.url("/v1/keys"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    assert!(r.headers().get("ok2cry-key").is_some());
    r.json().await.unwrap()
}

/// Fetches the JWKS (through the client crate, as `who`) and verifies `token` at `now`.
pub async fn verified(
    server: &TestServer,
    who: &str,
    token: &str,
    now: u64,
) -> ok2cry_client::VerifiedKey {
    let jwks = server.ok2cry(who).jwks().await.unwrap();
    ok2cry_client::KeyToken::parse(token)
        .unwrap()
        .verify(&jwks, now)
        .unwrap()
}

/// Opens `envelope` with key `key_id` as `who`.
pub async fn open(
    server: &TestServer,
    who: &str,
    key_id: &str,
    envelope: &ok2cry_client::Envelope,
) -> reqwest::Response {
    server
        .client(who)
        .post(server.url(&format!("/v1/keys/{key_id}/open")))
        .json(&serde_json::json!({"envelope": envelope.to_json_value()}))
        .send()
        .await
        .unwrap()
}

/// GET `url` with `client`, expecting a response (any status).
pub async fn get(client: &reqwest::Client, url: String) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

/// `GET {base}/.well-known/jwks.json` with a raw `client`, asserting 200: the JWK set exactly
/// as served (for a file the CLI reads with `--jwks`, or a JS verifier).
pub async fn jwks_text(client: &reqwest::Client, base: &str) -> String {
    let r = get(client, format!("{base}/.well-known/jwks.json")).await;
    assert_eq!(r.status(), 200, "GET /.well-known/jwks.json");
    r.text().await.unwrap()
}

/// The JWK set fetched with a raw `client` from `base` (a node this test process did not
/// start, or a check kept independent of the client crate's own fetch). Where the test can
/// build one, `TestServer::ok2cry(who).jwks()` is the way.
pub async fn jwks(client: &reqwest::Client, base: &str) -> ok2cry_client::Jwks {
    serde_json::from_str(&jwks_text(client, base).await).unwrap()
}

/// Node.js and the pinned packages in `dir` must be installed (`scripts/test` installs them
/// from the lock file); a test fails, never skips, when they are not.
pub fn require_node_packages(dir: &Path, packages: &[&str]) {
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(node_ok, "this test needs Node.js (20 or later) on PATH");
    for package in packages {
        assert!(
            dir.join("node_modules")
                .join(package)
                .join("package.json")
                .exists(),
            "{package} is not installed in {}: run scripts/test (it installs what the tests need)",
            dir.display()
        );
    }
}
