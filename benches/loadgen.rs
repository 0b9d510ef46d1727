//! Load generator: a real ok2cry node on 127.0.0.1 (started here, with its own dev PKI in a
//! temporary directory, unless --url is given), driven over mTLS with keep-alive connections.
//!
//! ```sh
//! cargo bench --bench loadgen -- --concurrency 32 --seconds 10
//! ```
//!
//! Scenarios: `create` (POST /v1/keys), `pair` (create, seal, open), `open-rate` (opens at a
//! fixed rate). Every loop is bounded by count and time and targets loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry_client::{Envelope, Jwks, KeyToken};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    concurrency: usize,
    seconds: u64,
    max_requests: u64,
    rate: u64,
    scenarios: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        concurrency: 32,
        seconds: 5,
        max_requests: 1_000_000,
        rate: 500,
        scenarios: vec!["create".into(), "pair".into(), "open-rate".into()],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--concurrency" => a.concurrency = it.next().unwrap().parse().unwrap(),
            "--seconds" => a.seconds = it.next().unwrap().parse().unwrap(),
            "--max-requests" => a.max_requests = it.next().unwrap().parse().unwrap(),
            "--rate" => a.rate = it.next().unwrap().parse().unwrap(),
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

async fn open(c: &reqwest::Client, url: &str, jwks: &Jwks, key: &Value) -> bool {
    let vk = KeyToken::parse(key["token"].as_str().unwrap())
        .unwrap()
        .verify(jwks, now())
        .unwrap();
    let env = Envelope::seal(&vk, b"1234").unwrap();
    let id = key["key_id"].as_str().unwrap();
    c.post(format!("{url}/v1/keys/{id}/open"))
        .json(&json!({"envelope": env.to_json_value()}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

async fn run(a: Args, url: String, pki: PathBuf) {
    let c = client(&pki);
    let jwks: Jwks = c
        .get(format!("{url}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks = Arc::new(jwks);
    println!(
        "target {url}, concurrency {}, {} s per scenario",
        a.concurrency, a.seconds
    );
    for scenario in &a.scenarios {
        let deadline = Instant::now() + Duration::from_secs(a.seconds);
        let budget = Arc::new(std::sync::atomic::AtomicU64::new(a.max_requests));
        let started = Instant::now();
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
                let (c, url, jwks) = (c.clone(), url.clone(), jwks.clone());
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
        for _ in 0..a.concurrency {
            let (c, url, jwks, budget, scenario) = (
                c.clone(),
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
        let mut lat = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap();
            lat.extend(l);
            errors += e;
        }
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
        let config_path = ok2cry::dev::prepare(&pki, Some("127.0.0.1:0".parse().unwrap())).unwrap();
        let text = std::fs::read_to_string(&config_path).unwrap().replace("mlock = \"best_effort\"", "mlock = \"off\"")
            + "\n[keys]\nmax_live_keys = 10000000\n\n[limits]\nrate_per_second = 1000000\nrate_burst = 1000000\n";
        std::fs::write(&config_path, text).unwrap();
        let config = ok2cry::config::Config::from_file(&config_path).unwrap();
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
