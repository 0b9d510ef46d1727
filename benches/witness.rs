//! Durable audit events per second and key-creation latency, with and without witnessing, in
//! one run (docs/PERFORMANCE.md, "Audit log with witnesses").
//!
//! `cargo bench --bench witness -- [--seconds 5] [--creates 2000] [--writers 1000]`
//!
//! - Durable events/s: `--writers` tasks (default 1000, as in the crypto bench's group-commit
//!   case) append durable events (1 per append, as creations do) for
//!   `--seconds`; every append waits for its group commit (`fdatasync`).
//! - With witnessing: the same, while the node's checkpoint task signs a checkpoint every second
//!   and the witness client submits each to a real witness (`ok2cry witness`'s server, on
//!   127.0.0.1 over HTTP) with a consistency proof read from the tiles on disk.
//! - Create latency: `--creates` sequential key creations through custody (key generation,
//!   wrapping, token signing, durable `key_created`), p50/p99/max, in each setting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry::audit::note::NoteVerifier;
use ok2cry::audit::witness::client::{WitnessEndpoint, Witnessing};
use ok2cry::audit::witness::server::{LogConfig, Witness, WitnessConfig, keygen};
use ok2cry::audit::{AuditLog, AuditOptions, EventBody, Timestamp};
use ok2cry::auth::principal::{AuthMethod, Principal, Role};
use ok2cry::clock::SystemClock;
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == &format!("--{name}"))
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Setup {
    _dir: tempfile::TempDir,
    log: AuditLog,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    witnessing: Option<Arc<Witnessing>>,
}

async fn setup(witnessed: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = AuditOptions::new(
        dir.path().join("log"),
        "bench",
        dir.path().join("audit-key.pem"),
    );
    opts.segment_max_bytes = 1 << 30;
    let (log, _) = tokio::task::spawn_blocking(move || AuditLog::open(opts, Arc::new(SystemClock)))
        .await
        .unwrap()
        .unwrap();
    let mut tasks = Vec::new();
    let mut witnessing = None;
    if witnessed {
        let wkey = dir.path().join("w.pem");
        let vkey = keygen("witness.bench/w1", &wkey).unwrap();
        let config = WitnessConfig {
            name: "witness.bench/w1".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            key_file: wkey,
            state_file: dir.path().join("w-state.json"),
            logs: vec![LogConfig {
                origin: log.origin().to_owned(),
                keys: vec![log.log_key().vkey()],
            }],
        };
        let witness = Arc::new(Witness::new(&config, Arc::new(SystemClock)).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tasks.push(tokio::spawn(async move {
            let _ = ok2cry::audit::witness::server::serve(
                witness,
                listener,
                std::future::pending::<()>(),
            )
            .await;
        }));
        let w = Arc::new(Witnessing::new(
            vec![WitnessEndpoint {
                url,
                key: NoteVerifier::from_vkey(&vkey).unwrap(),
            }],
            1,
            reqwest::Client::new(),
        ));
        tasks.push(tokio::spawn(
            w.clone().run(log.clone(), Duration::from_secs(1)),
        ));
        // The node's checkpoint task, every second.
        let l = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                l.checkpoint_now().await;
            }
        }));
        witnessing = Some(w);
    }
    Setup {
        _dir: dir,
        log,
        tasks,
        witnessing,
    }
}

fn created(i: u64) -> EventBody {
    EventBody::KeyCreated {
        key_id: format!("bench_{i}"),
        jwk_thumbprint: "tp".into(),
        owner: "bench".into(),
        opener: "bench".into(),
        expires_at: Timestamp(1_893_456_000_000),
        kek_id: 1,
        label: None,
        max_opens: 1,
    }
}

async fn durable_rate(log: &AuditLog, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..arg("writers", 1000) {
        let (log, done) = (log.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w << 32;
            while Instant::now() < stop {
                log.append_durable(vec![created(i)]).await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn create_latency(log: &AuditLog, creates: u64) -> (f64, f64, f64) {
    let custody = Arc::new(
        Custody::new(
            CustodyConfig {
                max_live_keys: 10_000_000,
                ..CustodyConfig::default()
            },
            Arc::new(SystemClock),
            Arc::new(log.clone()),
            Arc::new(Metrics::new()),
        )
        .unwrap(),
    );
    let me = Principal {
        id: "bench".into(),
        roles: [Role::Issuer, Role::Opener].into_iter().collect(),
        method: AuthMethod::Mtls,
    };
    let mut lat = Vec::with_capacity(creates as usize);
    for _ in 0..creates {
        let t = Instant::now();
        custody.create(&me, CreateRequest::default()).await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
    (q(0.5), q(0.99), lat[lat.len() - 1])
}

fn main() {
    let seconds = arg("seconds", 5);
    let creates = arg("creates", 2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("| setting | durable events/s | create p50 ms | create p99 ms | create max ms | witnessed size at end |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for witnessed in [false, true] {
            let s = setup(witnessed).await;
            let rate = durable_rate(&s.log, seconds).await;
            let (p50, p99, max) = create_latency(&s.log, creates).await;
            let witnessed_size = match &s.witnessing {
                Some(w) => {
                    // Let the last checkpoint go out, then read what the witness cosigned.
                    tokio::time::sleep(Duration::from_millis(2500)).await;
                    w.status()[0]
                        .cosigned
                        .map(|c| format!("{c} of {}", s.log.size()))
                        .unwrap_or_else(|| "-".into())
                }
                None => "-".into(),
            };
            println!(
                "| {} | {rate:.0} | {p50:.2} | {p99:.2} | {max:.2} | {witnessed_size} |",
                if witnessed {
                    "witnessed (1 witness, checkpoint every 1 s)"
                } else {
                    "no witness"
                }
            );
            for t in s.tasks {
                t.abort();
            }
            let _ = s.log.close().await;
        }
    });
}
