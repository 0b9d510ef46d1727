//! Load generator: a real ok2cry node on 127.0.0.1 (started here, with its own dev PKI in a
//! temporary directory, unless --url is given), driven over mTLS with keep-alive connections.
//!
//! ```sh
//! cargo bench --bench loadgen -- --concurrency 32 --seconds 10 [--provider rustcrypto]
//! ```
//!
//! Scenarios: `create` (POST /v1/keys), `pair` (create, verify the token, seal, open), `open`
//! (open saturation: keys made and envelopes sealed first, untimed, then opened as fast as
//! the concurrency allows), `open-rate` (opens at a fixed rate). Every loop is bounded by count
//! and time and targets loopback only.
//!
//! `--connections` (default 4) spreads the workers over that many HTTP/2 connections.
//! `--provider` picks the service's crypto provider (`[crypto] provider`, default `aws-lc`).
//! The load generator's own crypto (token verification and sealing, the client side) always
//! uses AWS-LC, so that on a 2-core machine it takes as little CPU from the service as it can.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry_client::http::Ok2cryClient;
use ok2cry_client::{CryptoProvider, Envelope, Jwks, KeyToken};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    concurrency: usize,
    seconds: u64,
    max_requests: u64,
    rate: u64,
    open_keys: usize,
    connections: usize,
    provider: String,
    scenarios: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        concurrency: 32,
        seconds: 5,
        max_requests: 1_000_000,
        rate: 500,
        open_keys: 40_000,
        connections: 4,
        provider: "aws-lc".into(),
        scenarios: vec![
            "create".into(),
            "pair".into(),
            "open".into(),
            "open-rate".into(),
        ],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--concurrency" => a.concurrency = it.next().unwrap().parse().unwrap(),
            "--seconds" => a.seconds = it.next().unwrap().parse().unwrap(),
            "--max-requests" => a.max_requests = it.next().unwrap().parse().unwrap(),
            "--rate" => a.rate = it.next().unwrap().parse().unwrap(),
            "--open-keys" => a.open_keys = it.next().unwrap().parse().unwrap(),
            "--connections" => a.connections = it.next().unwrap().parse().unwrap(),
            "--provider" => a.provider = it.next().unwrap(),
            "--scenario" => a.scenarios = vec![it.next().unwrap()],
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

fn report(name: &str, mut lat: Vec<Duration>, elapsed: Duration, errors: u64) {
    lat.sort_unstable();
    let n = lat.len();
    let p = |q: f64| {
        lat.get(((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name:<10} {n:>8} ok {errors:>5} err {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        n as f64 / elapsed.as_secs_f64(),
        p(0.50).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn client(pki: &std::path::Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca.pem")).unwrap()).unwrap();
    let mut pem = std::fs::read(pki.join("card-api.pem")).unwrap();
    pem.extend(std::fs::read(pki.join("card-api.key")).unwrap());
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

/// The client crate's client, as card-api (the bench fetches the JWK set with it).
fn ok2cry_client(url: &str, pki: &std::path::Path) -> Ok2cryClient {
    let pem = |f: &str| std::fs::read(pki.join(f)).unwrap();
    Ok2cryClient::builder(url, &pem("ca.pem"))
        .client_identity(&pem("card-api.pem"), &pem("card-api.key"))
        .build()
        .unwrap()
}

async fn create(c: &reqwest::Client, url: &str) -> Option<Value> {
    let r = c
        .post(format!("{url}/v1/keys"))
        .json(&json!({"ttl_seconds": 300}))
        .send()
        .await
        .ok()?;
    if r.status() != 201 {
        return None;
    }
    r.json().await.ok()
}

/// Waits for the workers and pools their latencies and error counts.
async fn gather(tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, u64)>>) -> (Vec<Duration>, u64) {
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        errors += e;
    }
    (lat, errors)
}

/// The client for worker `w`: workers are spread over the connections.
fn pick(clients: &[reqwest::Client], w: usize) -> reqwest::Client {
    clients[w % clients.len()].clone()
}

/// The client side's crypto: AWS-LC (see the module docs).
const CLIENT_CRYPTO: &dyn CryptoProvider = &ok2cry_client::provider::AWS_LC;

/// Verifies a created key's token and seals a PIN to it.
fn seal_for(jwks: &Jwks, key: &Value) -> (String, Envelope) {
    let vk = KeyToken::parse(key["token"].as_str().unwrap())
        .unwrap()
        .verify_with(CLIENT_CRYPTO, jwks, now())
        .unwrap();
    let env = Envelope::seal_with(CLIENT_CRYPTO, &vk, b"1234").unwrap();
    (key["key_id"].as_str().unwrap().to_owned(), env)
}

async fn open_sealed(c: &reqwest::Client, url: &str, id: &str, env: &Envelope) -> bool {
    c.post(format!("{url}/v1/keys/{id}/open"))
        .json(&json!({"envelope": env.to_json_value()}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn open(c: &reqwest::Client, url: &str, jwks: &Jwks, key: &Value) -> bool {
    let (id, env) = seal_for(jwks, key);
    open_sealed(c, url, &id, &env).await
}

/// Makes `n` keys with `concurrency` workers and seals an envelope to each (not timed).
async fn prepare_sealed(
    clients: &[reqwest::Client],
    url: &str,
    jwks: &Jwks,
    n: usize,
    concurrency: usize,
) -> Vec<(String, Envelope)> {
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let share = n / concurrency + usize::from(w < n % concurrency);
        let (c, url, jwks) = (pick(clients, w), url.to_owned(), jwks.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                if let Some(k) = create(&c, &url).await {
                    out.push(seal_for(&jwks, &k));
                }
            }
            out
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

async fn run(a: Args, url: String, pki: PathBuf) {
    // Several HTTP/2 connections (one client each), as several proxy instances would hold:
    // one connection's TLS and framing run on one task, so one connection is one core at most.
    let clients: Vec<reqwest::Client> = (0..a.connections.max(1)).map(|_| client(&pki)).collect();
    let c = clients[0].clone();
    let jwks = ok2cry_client(&url, &pki).jwks().await.unwrap();
    println!(
        "target {url}, service provider {}, concurrency {} over {} connections, {} s per scenario",
        a.provider, a.concurrency, a.connections, a.seconds
    );
    for scenario in &a.scenarios {
        let deadline = Instant::now() + Duration::from_secs(a.seconds);
        let budget = Arc::new(std::sync::atomic::AtomicU64::new(a.max_requests));
        let started = Instant::now();
        if scenario == "open" {
            // Open saturation: only the opens are timed.
            let sealed = prepare_sealed(&clients, &url, &jwks, a.open_keys, a.concurrency).await;
            let queue = Arc::new(std::sync::Mutex::new(sealed));
            let deadline = Instant::now() + Duration::from_secs(a.seconds);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..a.concurrency {
                let (c, url, queue) = (pick(&clients, w), url.clone(), queue.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    while Instant::now() < deadline {
                        let Some((id, env)) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        let t = Instant::now();
                        if open_sealed(&c, &url, &id, &env).await {
                            lat.push(t.elapsed())
                        } else {
                            errors += 1
                        }
                    }
                    (lat, errors)
                }));
            }
            let (lat, errors) = gather(tasks).await;
            let left = queue.lock().unwrap().len();
            report("open", lat, started.elapsed(), errors);
            if left == 0 {
                println!("           (ran out of keys before the deadline: raise --open-keys)");
            }
            continue;
        }
        if scenario == "open-rate" {
            let mut tasks = Vec::new();
            // Keys made first (not timed), then opens paced at a fixed total rate.
            let total = (a.rate * a.seconds) as usize;
            let mut keys = Vec::with_capacity(total);
            for _ in 0..total {
                if let Some(k) = create(&c, &url).await {
                    keys.push(k);
                }
            }
            let interval = Duration::from_secs_f64(1.0 / a.rate as f64);
            let started = Instant::now();
            for (i, key) in keys.into_iter().enumerate() {
                let at = started + interval * i as u32;
                let (c, url, jwks) = (pick(&clients, i), url.clone(), jwks.clone());
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep_until(at.into()).await;
                    let t = Instant::now();
                    (open(&c, &url, &jwks, &key).await, t.elapsed())
                }));
            }
            let mut lat = Vec::new();
            let mut errors = 0;
            for t in tasks {
                let (ok, d) = t.await.unwrap();
                if ok { lat.push(d) } else { errors += 1 }
            }
            report("open-rate", lat, started.elapsed(), errors);
            continue;
        }
        let mut tasks = Vec::new();
        for w in 0..a.concurrency {
            let (c, url, jwks, budget, scenario) = (
                pick(&clients, w),
                url.clone(),
                jwks.clone(),
                budget.clone(),
                scenario.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline
                    && budget.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
                {
                    let t = Instant::now();
                    let ok = match create(&c, &url).await {
                        Some(k) if scenario == "pair" => open(&c, &url, &jwks, &k).await,
                        Some(_) => true,
                        None => false,
                    };
                    if ok {
                        lat.push(t.elapsed())
                    } else {
                        errors += 1
                    }
                }
                (lat, errors)
            }));
        }
        let (lat, errors) = gather(tasks).await;
        report(scenario, lat, started.elapsed(), errors);
    }
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        let config_path = ok2cry::node::dev::prepare(&pki, Some("127.0.0.1:0".parse().unwrap())).unwrap();
        let text = std::fs::read_to_string(&config_path).unwrap().replace("mlock = \"best_effort\"", "mlock = \"off\"")
            + "\n[keys]\nmax_live_keys = 10000000\n\n[limits]\nrate_per_second = 1000000\nrate_burst = 1000000\n"
            + &format!("\n[crypto]\nprovider = \"{}\"\n", a.provider);
        std::fs::write(&config_path, text).unwrap();
        let config = ok2cry::node::config::Config::from_file(&config_path).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let node = ok2cry::node::start(config, Arc::new(ok2cry::clock::SystemClock)).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(node.serve(listener, async move {
            let _ = rx.await;
        }));
        run(a, url, pki).await;
        let _ = tx.send(());
        let _ = server.await;
    });
}
