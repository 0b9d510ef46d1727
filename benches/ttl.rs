//! TTL precision and memory per live key, in process, on the system clock.
//!
//! Creates N keys (TTL 60 s by default, created as fast as two threads can), records resident memory
//! before and after, then runs the sweeper every 20 ms (as the service does) and measures, for
//! every key, the lag between its expiry and its `destroyed` event.
//!
//! ```sh
//! cargo bench --bench ttl -- --keys 100000
//! cargo bench --bench ttl -- --keys 1000000 --ttl-ms 200000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry::clock::{Clock, SystemClock};
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::lifecycle::{AuditUnavailable, BoxFuture, Lifecycle, LifecycleSink};
use ok2cry::metrics::Metrics;
use ok2cry::principal::{AuthMethod, Principal, Role};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records destruction lags; keeps nothing else (so memory is the custody's own).
struct LagSink {
    clock: SystemClock,
    lags: Mutex<Vec<u64>>,
}

impl LifecycleSink for LagSink {
    fn record_durable(&self, _event: Lifecycle) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        Box::pin(async { Ok(()) })
    }
    fn record(&self, event: Lifecycle) {
        if let Lifecycle::KeyDestroyed { expires_at, .. } = event {
            let lag = self.clock.now_ms().saturating_sub(expires_at);
            self.lags.lock().unwrap().push(lag);
        }
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let mut keys = 100_000usize;
    let mut ttl_ms = 60_000u64;
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keys" => keys = args.next().unwrap().parse().unwrap(),
            // Longer than creating all the keys takes, so none expires before the sweeper runs.
            "--ttl-ms" => ttl_ms = args.next().unwrap().parse().unwrap(),
            _ => {}
        }
    }
    let sink = Arc::new(LagSink {
        clock: SystemClock,
        lags: Mutex::new(Vec::with_capacity(keys)),
    });
    let config = CustodyConfig {
        max_live_keys: keys + 10,
        max_ttl_ms: 3_600_000,
        ..Default::default()
    };
    let custody = Arc::new(
        Custody::new(
            config,
            Arc::new(SystemClock),
            sink.clone(),
            Arc::new(Metrics::new()),
        )
        .unwrap(),
    );
    let me = Principal {
        id: "bench".into(),
        roles: [Role::Issuer, Role::Opener].into_iter().collect(),
        method: AuthMethod::Mtls,
    };
    let before = rss_kib();
    let started = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (custody, me) = (custody.clone(), me.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                for _ in (t..keys).step_by(2) {
                    rt.block_on(custody.create(
                        &me,
                        CreateRequest {
                            ttl_ms: Some(ttl_ms),
                            ..Default::default()
                        },
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let created_in = started.elapsed();
    let after = rss_kib();
    println!(
        "{keys} live keys created in {:.1} s; resident memory {} MiB -> {} MiB: {:.0} bytes per live key",
        created_in.as_secs_f64(),
        before / 1024,
        after / 1024,
        (after.saturating_sub(before) * 1024) as f64 / keys as f64
    );
    // The service's sweeper: every 20 ms.
    let deadline = Instant::now() + Duration::from_millis(ttl_ms + 60_000);
    while custody.live_keys() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        custody.sweep();
    }
    let mut lags = sink.lags.lock().unwrap().clone();
    lags.sort_unstable();
    let p = |q: f64| lags[((q * lags.len() as f64).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "destruction lag over {} keys: p50 {} ms, p99 {} ms, max {} ms (live keys left: {})",
        lags.len(),
        p(0.50),
        p(0.99),
        lags.last().copied().unwrap_or(0),
        custody.live_keys()
    );
}
