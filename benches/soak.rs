//! Soak: one real node (the `ok2cry` binary, `serve --dev`, its own dev PKI in a temporary
//! directory) under a steady mixed load for a chosen time, sampled as it runs.
//!
//! ```sh
//! cargo bench --bench soak -- --minutes 60 --rate 220 --out target/soak
//! cargo bench --bench soak -- --minutes 60 --tombstone-seconds 240   # keys.tombstone_seconds
//! ```
//!
//! Tombstones are kept `keys.tombstone_seconds` (default 3,600): until then their number
//! grows with the destruction rate, as it should; after it, it is flat. `--tombstone-seconds`
//! shortens that warm-up so that an hour's run shows the flat part.
//!
//! The load, per second `--rate` creations (as `card-api`, over mTLS, HTTP/2), each with a TTL
//! drawn uniformly from 2 to 30 s; 60% of the keys are then sealed to and opened (after up to
//! one second), 10% deleted, the rest left to expire. Every `--sample` seconds (default 10) it
//! writes one line to `<out>/soak.csv`: seconds since start, the node's resident memory
//! (VmRSS of its process), live keys and tombstones (from `/metrics`), the audit log's bytes
//! on disk, requests made and errors. At the end it draws `<out>/soak.svg` (resident memory
//! over time, with the band of ±10% around its value at 5 minutes), stops the node with
//! SIGTERM, and runs `ok2cry audit verify` on its log, which must pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry_client::Envelope;
use ok2cry_client::http::{CreateKey, Ok2cryClient};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    minutes: f64,
    rate: u64,
    sample: u64,
    out: PathBuf,
    tombstone_seconds: Option<u64>,
}

fn args() -> Args {
    let mut a = Args {
        minutes: 5.0,
        rate: 220,
        sample: 10,
        out: PathBuf::from("target/soak"),
        tombstone_seconds: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--minutes" => a.minutes = it.next().unwrap().parse().unwrap(),
            "--rate" => a.rate = it.next().unwrap().parse().unwrap(),
            "--sample" => a.sample = it.next().unwrap().parse().unwrap(),
            "--out" => a.out = it.next().unwrap().into(),
            "--tombstone-seconds" => a.tombstone_seconds = it.next().map(|v| v.parse().unwrap()),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            total += if meta.is_dir() {
                dir_bytes(&entry.path())
            } else {
                meta.len()
            };
        }
    }
    total
}

/// A value of `name` in a Prometheus text exposition (no labels).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// A small, fast, seeded generator (xorshift64*): the load's choices, reproducible per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn start_node(dir: &Path, tombstone_seconds: Option<u64>) -> (Child, String) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The dev setup of `serve --dev` (PKI and configuration), with the soak's settings.
    let config = ok2cry::node::dev::prepare(dir, Some(addr)).unwrap();
    if let Some(seconds) = tombstone_seconds {
        let mut text = std::fs::read_to_string(&config).unwrap();
        assert!(!text.contains("[keys]"));
        text.push_str(&format!("\n[keys]\ntombstone_seconds = {seconds}\n"));
        std::fs::write(&config, text).unwrap();
    }
    let port = addr.port();
    let child = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--log", "warn"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("https://127.0.0.1:{port}"))
}

fn client(dir: &Path, url: &str) -> Ok2cryClient {
    let pem = |f: &str| std::fs::read(dir.join(f)).unwrap();
    Ok2cryClient::builder(url, &pem("ca.pem"))
        .client_identity(&pem("card-api.pem"), &pem("card-api.key"))
        .build()
        .unwrap()
}

/// A plain HTTPS client with the same identity, for `/metrics`.
fn raw_client(dir: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let mut pem = std::fs::read(dir.join("card-api.pem")).unwrap();
    pem.extend(std::fs::read(dir.join("card-api.key")).unwrap());
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

#[derive(Clone, Copy)]
struct Sample {
    t: f64,
    rss: u64,
    live: u64,
    tombstones: u64,
    log_bytes: u64,
    requests: u64,
    errors: u64,
}

fn svg(samples: &[Sample], minutes: f64) -> String {
    let (w, h, left, bottom) = (900.0, 420.0, 80.0, 50.0);
    let t_max = (minutes * 60.0).max(1.0);
    let at5 = samples
        .iter()
        .find(|s| s.t >= 300.0)
        .or(samples.last())
        .map_or(1, |s| s.rss);
    let y_max = samples
        .iter()
        .map(|s| s.rss)
        .max()
        .unwrap_or(1)
        .max(at5 * 12 / 10) as f64
        * 1.05;
    let x = |t: f64| left + t / t_max * (w - left - 20.0);
    let y = |v: f64| h - bottom - v / y_max * (h - bottom - 20.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
"##
    );
    // The ±10% band around the 5-minute value.
    let (lo, hi) = (at5 as f64 * 0.9, at5 as f64 * 1.1);
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#dfe9f7"/>"##,
        x(300.0),
        y(hi),
        x(t_max) - x(300.0),
        y(lo) - y(hi)
    );
    // Axes and labels.
    let _ = writeln!(
        out,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{left}" y1="20" x2="{left}" y2="{}" stroke="black"/>"##,
        h - bottom,
        w - 20.0,
        h - bottom,
        h - bottom
    );
    for i in 0..=6 {
        let t = t_max * f64::from(i) / 6.0;
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle">{:.0} min</text>"##,
            x(t),
            h - bottom + 18.0,
            t / 60.0
        );
    }
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end">{:.0} MB</text>"##,
            left - 6.0,
            y(v) + 4.0,
            v / 1e6
        );
    }
    let points: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.1},{:.1}", x(s.t), y(s.rss as f64)))
        .collect();
    let _ = writeln!(
        out,
        r##"<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{}"/>"##,
        points.join(" ")
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="16">ok2cry node resident memory (VmRSS) under steady mixed load; band: ±10% of the 5-minute value</text>"##,
        left
    );
    out.push_str("</svg>\n");
    out
}

#[tokio::main]
async fn main() {
    let a = args();
    std::fs::create_dir_all(&a.out).unwrap();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("dev");
    let (mut node, url) = start_node(&dir, a.tombstone_seconds);
    let pid = node.id();
    // Wait for the dev PKI and the listener.
    let started = Instant::now();
    let api = loop {
        if dir.join("card-api.key").exists() {
            let api = client(&dir, &url);
            if api.jwks().await.is_ok() {
                break api;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "node did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let api = Arc::new(api);
    let requests = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let limit = Arc::new(tokio::sync::Semaphore::new(512));
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(a.minutes * 60.0);

    // The sampler.
    let sampler = {
        let (raw, url) = (raw_client(&dir), url.clone());
        let (requests, errors, dir) = (requests.clone(), errors.clone(), dir.clone());
        let (every, out) = (a.sample, a.out.clone());
        tokio::spawn(async move {
            let mut csv =
                String::from("seconds,rss_bytes,live_keys,tombstones,log_bytes,requests,errors\n");
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            loop {
                tick.tick().await;
                let metrics = match raw.get(format!("{url}/metrics")).send().await {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                let s = Sample {
                    t: t0.elapsed().as_secs_f64(),
                    rss: rss_of(pid),
                    live: metric(&metrics, "ok2cry_live_keys"),
                    tombstones: metric(&metrics, "ok2cry_tombstones"),
                    log_bytes: dir_bytes(&dir.join("audit")),
                    requests: requests.load(Ordering::Relaxed),
                    errors: errors.load(Ordering::Relaxed),
                };
                let _ = writeln!(
                    csv,
                    "{:.0},{},{},{},{},{},{}",
                    s.t, s.rss, s.live, s.tombstones, s.log_bytes, s.requests, s.errors
                );
                std::fs::write(out.join("soak.csv"), &csv).unwrap();
                samples.push(s);
                if Instant::now() >= end {
                    return samples;
                }
            }
        })
    };

    // The load: one creation every 1/rate seconds.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / a.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < end {
        tick.tick().await;
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            errors.fetch_add(1, Ordering::Relaxed); // the node fell behind
            continue;
        };
        let ttl = 2 + rng.below(29);
        let fate = rng.below(10);
        let wait = Duration::from_millis(rng.below(1000));
        let (api, requests, errors) = (api.clone(), requests.clone(), errors.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let count = |ok: bool| {
                requests.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            };
            let request = CreateKey {
                ttl_seconds: Some(ttl),
                ..CreateKey::default()
            };
            let created = api.create_key(&request).await;
            count(created.is_ok());
            let Ok(created) = created else { return };
            match fate {
                0..=5 => {
                    tokio::time::sleep(wait).await;
                    let sealed = match api.verify_token(&created.token).await {
                        Ok(key) => Envelope::seal(&key, b"4111111111111111").ok(),
                        Err(_) => None,
                    };
                    match sealed {
                        Some(envelope) => count(api.open(&created.key_id, &envelope).await.is_ok()),
                        None => count(false),
                    }
                }
                6 => {
                    tokio::time::sleep(wait).await;
                    count(api.delete_key(&created.key_id).await.is_ok());
                }
                _ => {}
            }
        });
    }
    let samples = sampler.await.unwrap();
    std::fs::write(a.out.join("soak.svg"), svg(&samples, a.minutes)).unwrap();

    // Stop the node cleanly, then verify its log.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = node.wait().unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(["audit", "verify", "--dir"])
        .arg(dir.join("audit"))
        .arg("--key")
        .arg(dir.join("audit-key.pub.pem"))
        .output()
        .unwrap();
    let last = samples.last().copied();
    let at5 = samples.iter().find(|s| s.t >= 300.0).copied();
    println!(
        "soak: {} minutes at {} creations/s, keys.tombstone_seconds {}; node exit {status}",
        a.minutes,
        a.rate,
        a.tombstone_seconds
            .map_or("3600 (default)".to_string(), |s| s.to_string())
    );
    if let (Some(at5), Some(last)) = (at5, last) {
        let max_after = samples
            .iter()
            .filter(|s| s.t >= 300.0)
            .map(|s| s.rss)
            .max()
            .unwrap_or(0);
        println!(
            "rss at 5 min {:.1} MB, at the end {:.1} MB, highest after 5 min {:.1} MB ({:+.1}% of the 5-minute value)",
            at5.rss as f64 / 1e6,
            last.rss as f64 / 1e6,
            max_after as f64 / 1e6,
            (max_after as f64 / at5.rss as f64 - 1.0) * 100.0
        );
    }
    if let Some(last) = last {
        println!(
            "requests {}, errors {}, live keys {}, tombstones {}, log {:.1} MB",
            last.requests,
            last.errors,
            last.live,
            last.tombstones,
            last.log_bytes as f64 / 1e6
        );
    }
    println!(
        "audit verify: {}\n{}",
        verify.status,
        String::from_utf8_lossy(&verify.stdout)
            .lines()
            .last()
            .unwrap_or_default()
    );
    println!("wrote {}/soak.csv and soak.svg", a.out.display());
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
