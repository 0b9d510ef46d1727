//! TTL precision and memory per live key, in process, on the system clock — and, with
//! `--peer redis`, the same measurement on the do-it-yourself alternative, side by side.
//!
//! Creates N keys (TTL 60 s by default, created as fast as two threads can), records resident memory
//! before and after, then runs the sweeper every 20 ms (as the service does) and measures, for
//! every key, the lag between its expiry and its `destroyed` event. Keys expire at the rate they
//! were created (printed), and the lag grows with that rate: compare runs at similar rates.
//!
//! ```sh
//! cargo bench --bench ttl -- --keys 100000
//! cargo bench --bench ttl -- --keys 1000000 --ttl-ms 200000
//! # the same, with Redis as a peer (scripts/redis-peer.sh installs redis-server first; the
//! # peer is compiled only with the `redis-peer` feature):
//! cargo bench --bench ttl --features redis-peer -- --keys 1000000 --ttl-ms 200000 --peer redis
//! cargo bench --bench ttl --features redis-peer -- --keys 100000 --peer redis --redis-hz 10,100
//! ```
//!
//! The Redis peer (one redis-server per `--redis-hz` value, default `10`, Redis's default):
//! - its own `redis-server` (`$REDIS_SERVER`, else from `PATH`) on 127.0.0.1 and a free port,
//!   persistence off (`--save "" --appendonly no`), keyspace notifications `Ex`; killed at the end.
//! - it receives the same keys as ok2cry, in the same run and at the same pace: a loader thread
//!   follows the ok2cry creators and sends (pipelined) one `PSETEX` (`SETEX` in milliseconds) per
//!   key created, with the same TTL. So both stores hold the same number of live keys whose
//!   expiries are spread the same way, and both expire them during the same seconds.
//! - a key is `<key id>:<expiry, Unix ms>` (a key id shaped like ok2cry's, `n1_` + 22 base64url
//!   characters; the expiry is there so the lag needs no lookup) and its value a 93-byte record:
//!   the 32-byte private scalar, the 33-byte compressed public point, created-at (8 bytes),
//!   max opens and opens (4 + 4), owner and opener ids (length-prefixed, the same `bench` as the
//!   ok2cry keys). ok2cry keeps more per key (the scalar wrapped under a KEK, a mutex, open counts).
//! - lag = the time the bench receives `__keyevent@0__:expired` for a key (a second connection,
//!   subscribed before loading) − the expiry encoded in its name. Redis deletes an expired key
//!   only when its probabilistic active-expiry cycle samples it (`hz` times a second) or when it
//!   is read; the bench never reads a key: a read after expiry returns nothing, but a key nobody
//!   reads again stays in memory until sampled, and that deletion is what the event reports.
//! - memory per key = growth of Redis's `used_memory` and of the redis-server process's VmRSS
//!   between the empty server and the loaded one, divided by the key count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry::audit::EventBody;
use ok2cry::audit::recorder::{AuditUnavailable, BoxFuture, Recorder};
use ok2cry::auth::principal::{AuthMethod, Principal, Role};
use ok2cry::clock::{Clock, SystemClock};
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::metrics::Metrics;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(feature = "redis-peer")]
mod ttl_redis;
#[cfg(feature = "redis-peer")]
use ttl_redis::RedisPeer;
#[cfg(not(feature = "redis-peer"))]
use without_redis::RedisPeer;

/// Without the `redis-peer` feature the bench has no Redis peer: `RedisPeer` has no values, so
/// the comparison code compiles (and stays checked) but cannot run, and `--peer redis` says
/// how to build it.
#[cfg(not(feature = "redis-peer"))]
mod without_redis {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::thread::JoinHandle;
    use std::time::Duration;

    pub struct RedisMemory {
        pub used_bytes: u64,
        pub rss_kib: u64,
    }

    pub enum RedisPeer {}

    impl RedisPeer {
        pub fn start(_hz: u32, _keys: usize) -> Self {
            panic!(
                "--peer redis needs the redis-peer feature: \
                 cargo bench --bench ttl --features redis-peer -- --peer redis \
                 (or scripts/redis-peer.sh)"
            )
        }
        pub fn baseline(&self) -> RedisMemory {
            match *self {}
        }
        pub fn name(&self) -> String {
            match *self {}
        }
        pub fn describe(&self) -> String {
            match *self {}
        }
        pub fn memory(&self) -> RedisMemory {
            match *self {}
        }
        pub fn all_expired(&self) -> bool {
            match *self {}
        }
        pub fn load_paced(
            &self,
            _keys: usize,
            _ttl_ms: u64,
            _created: Arc<AtomicUsize>,
            _owner: &str,
        ) -> JoinHandle<Duration> {
            match *self {}
        }
        pub fn finish(self) -> (Vec<u64>, u64) {
            match self {}
        }
    }
}

/// Records destruction lags; keeps nothing else (so memory is the custody's own).
struct LagSink {
    clock: SystemClock,
    lags: Mutex<Vec<u64>>,
}

impl Recorder for LagSink {
    fn record_durable(
        &self,
        _events: Vec<EventBody>,
    ) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        Box::pin(async { Ok(()) })
    }
    fn record(&self, event: EventBody) {
        if let EventBody::KeyDestroyed { expires_at, .. } = event {
            let lag = self.clock.now_ms().saturating_sub(expires_at.0);
            self.lags.lock().unwrap().push(lag);
        }
    }
}

/// VmRSS of a process (`self` or a pid), in KiB.
fn rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The q-quantile of sorted lags (nearest rank), or None when there are none.
fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// What one store did, for the side-by-side table.
struct Outcome {
    name: String,
    /// Growth of the process's VmRSS per live key (bytes).
    rss_per_key: f64,
    /// Growth of Redis's `used_memory` per live key (bytes); ok2cry has no such figure.
    used_per_key: Option<f64>,
    /// Sorted expiry lags (ms), one per expiry seen.
    lags: Vec<u64>,
    /// Keys still held when the bench stopped waiting.
    left: u64,
}

fn main() {
    let mut keys = 100_000usize;
    let mut ttl_ms = 60_000u64;
    let mut peer: Option<String> = None;
    let mut redis_hz: Vec<u32> = vec![10];
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keys" => keys = args.next().unwrap().parse().unwrap(),
            // Longer than creating all the keys takes, so none expires before the sweeper runs.
            "--ttl-ms" => ttl_ms = args.next().unwrap().parse().unwrap(),
            "--peer" => peer = args.next(),
            // One redis-server per value (e.g. `10,100`); 10 is Redis's default.
            "--redis-hz" => {
                redis_hz = args
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|h| h.trim().parse().unwrap())
                    .collect()
            }
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
    // The peers start (and subscribe to their expiry events) before anything is measured, so
    // their connections are part of this process's baseline.
    let peers: Vec<RedisPeer> = match peer.as_deref() {
        None => Vec::new(),
        Some("redis") => redis_hz
            .iter()
            .map(|&hz| RedisPeer::start(hz, keys))
            .collect(),
        Some(other) => panic!("unknown --peer {other:?} (known: redis)"),
    };
    for p in &peers {
        println!("peer: {}", p.describe());
    }
    let before = rss_kib("self");
    let started = Instant::now();
    // Keys created so far by ok2cry: the peers' loaders follow it.
    let created = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (custody, me, created) = (custody.clone(), me.clone(), created.clone());
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
                    created.fetch_add(1, Ordering::Release);
                }
            })
        })
        .collect();
    let loaders: Vec<_> = peers
        .iter()
        .map(|p| p.load_paced(keys, ttl_ms, created.clone(), &me.id))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let created_in = started.elapsed();
    let after = rss_kib("self");
    println!(
        "{keys} live keys created in {:.1} s ({:.1}k keys/s); resident memory {} MiB -> {} MiB: {:.0} bytes per live key",
        created_in.as_secs_f64(),
        keys as f64 / created_in.as_secs_f64() / 1000.0,
        before / 1024,
        after / 1024,
        (after.saturating_sub(before) * 1024) as f64 / keys as f64
    );
    let mut loaded = Vec::new();
    for (p, l) in peers.iter().zip(loaders) {
        let load_busy = l.join().unwrap();
        let memory = p.memory();
        println!(
            "{}: {keys} keys loaded alongside (pipelined PSETEX, {:.1} s spent waiting on Redis); \
             used_memory {} MiB -> {} MiB, VmRSS {} MiB -> {} MiB",
            p.name(),
            load_busy.as_secs_f64(),
            p.baseline().used_bytes >> 20,
            memory.used_bytes >> 20,
            p.baseline().rss_kib >> 10,
            memory.rss_kib >> 10,
        );
        loaded.push(memory);
    }
    // The service's sweeper: every 20 ms. With peers, go on until they have expired theirs too.
    let deadline = Instant::now() + Duration::from_millis(ttl_ms + 60_000);
    while (custody.live_keys() > 0 || peers.iter().any(|p| !p.all_expired()))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        custody.sweep();
    }
    let mut lags = sink.lags.lock().unwrap().clone();
    lags.sort_unstable();
    println!(
        "destruction lag over {} keys: p50 {} ms, p99 {} ms, max {} ms (live keys left: {})",
        lags.len(),
        quantile(&lags, 0.50).unwrap_or(0),
        quantile(&lags, 0.99).unwrap_or(0),
        lags.last().copied().unwrap_or(0),
        custody.live_keys()
    );
    if peers.is_empty() {
        return;
    }
    let mut outcomes = vec![Outcome {
        name: "ok2cry (in process)".into(),
        rss_per_key: (after.saturating_sub(before) * 1024) as f64 / keys as f64,
        used_per_key: None,
        lags,
        left: custody.live_keys() as u64,
    }];
    for (p, memory) in peers.into_iter().zip(loaded) {
        let per_key = |b: u64, a: u64| a.saturating_sub(b) as f64 / keys as f64;
        let name = p.name();
        let rss_per_key = per_key(p.baseline().rss_kib * 1024, memory.rss_kib * 1024);
        let used_per_key = Some(per_key(p.baseline().used_bytes, memory.used_bytes));
        let (lags, left) = p.finish();
        outcomes.push(Outcome {
            name,
            rss_per_key,
            used_per_key,
            lags,
            left,
        });
    }
    // Keys expire at the pace they were created: the lag of both stores depends on that rate.
    let rate = keys as f64 / created_in.as_secs_f64();
    print_side_by_side(keys, ttl_ms, rate, &outcomes);
}

/// The table: one column per store.
fn print_side_by_side(keys: usize, ttl_ms: u64, rate: f64, outcomes: &[Outcome]) {
    let row = |label: &str, cell: &dyn Fn(&Outcome) -> String| {
        let cells: Vec<String> = outcomes
            .iter()
            .map(|o| format!("{:>22}", cell(o)))
            .collect();
        println!("{label:<34}{}", cells.join(""));
    };
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{v} ms"));
    println!(
        "\nside by side, same run: {keys} keys, TTL {ttl_ms} ms, expiring at {:.1}k keys/s \
         (the creation rate)",
        rate / 1000.0
    );
    row("", &|o| o.name.clone());
    row("memory per key: process VmRSS", &|o| {
        format!("{:.0} B", o.rss_per_key)
    });
    row("memory per key: used_memory", &|o| {
        o.used_per_key.map_or("-".into(), |u| format!("{u:.0} B"))
    });
    row("expiry lag p50", &|o| ms(quantile(&o.lags, 0.50)));
    row("expiry lag p99", &|o| ms(quantile(&o.lags, 0.99)));
    row("expiry lag max", &|o| ms(o.lags.last().copied()));
    row("expiries seen", &|o| o.lags.len().to_string());
    row("keys left at the end", &|o| o.left.to_string());
}
