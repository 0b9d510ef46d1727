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
//! # the same, with Redis as a peer (scripts/redis-peer.sh installs redis-server first):
//! cargo bench --bench ttl -- --keys 1000000 --ttl-ms 200000 --peer redis
//! cargo bench --bench ttl -- --keys 100000 --peer redis --redis-hz 10,100
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

use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry::audit::EventBody;
use ok2cry::audit::recorder::{AuditUnavailable, BoxFuture, Recorder};
use ok2cry::clock::{Clock, SystemClock};
use ok2cry::custody::{CreateRequest, Custody, CustodyConfig};
use ok2cry::metrics::Metrics;
use ok2cry::principal::{AuthMethod, Principal, Role};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
            p.baseline.used_bytes >> 20,
            memory.used_bytes >> 20,
            p.baseline.rss_kib >> 10,
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
        let rss_per_key = per_key(p.baseline.rss_kib * 1024, memory.rss_kib * 1024);
        let used_per_key = Some(per_key(p.baseline.used_bytes, memory.used_bytes));
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

/// Redis memory figures.
#[derive(Clone, Copy)]
struct RedisMemory {
    /// `used_memory` from `INFO memory` (what Redis's allocator holds for it).
    used_bytes: u64,
    /// The redis-server process's VmRSS.
    rss_kib: u64,
}

/// A redis-server of the bench's own, with its expiry subscriber; killed when dropped.
struct RedisPeer {
    hz: u32,
    child: Child,
    /// Its working directory (nothing is written there: persistence is off).
    _dir: tempfile::TempDir,
    client: redis::Client,
    version: String,
    effort: String,
    baseline: RedisMemory,
    /// Expiry events received so far.
    received: Arc<AtomicUsize>,
    /// Set once every loaded key's expiry event has arrived.
    done: Arc<AtomicBool>,
    subscriber: Option<JoinHandle<Vec<u64>>>,
}

/// The channel Redis publishes expiry (deletion of an expired key) on, for database 0.
const EXPIRED_CHANNEL: &str = "__keyevent@0__:expired";

impl RedisPeer {
    /// Starts redis-server on a free port, waits until it answers, subscribes to its expiry
    /// events and records the empty server's memory.
    fn start(hz: u32, keys: usize) -> Self {
        let bin = std::env::var_os("REDIS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| "redis-server".into());
        let dir = tempfile::tempdir().unwrap();
        // A free port: the kernel picks one for a listener we close at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("redis.log");
        let mut child = Command::new(&bin)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            // Persistence off: a key store in RAM only, like ok2cry.
            .args(["--save", "", "--appendonly", "no"])
            .args(["--hz", &hz.to_string(), "--notify-keyspace-events", "Ex"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e}; install Debian's redis-server with \
                     `scripts/redis-peer.sh --install-only` (or set REDIS_SERVER)",
                    bin.display()
                )
            });
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let give_up = Instant::now() + Duration::from_secs(10);
        let mut con = loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "redis-server exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let con = client.get_connection_with_timeout(Duration::from_millis(200));
            if let Ok(mut con) = con
                && redis::cmd("PING").query::<String>(&mut con).is_ok()
            {
                break con;
            }
            if Instant::now() > give_up {
                panic!("redis-server did not answer on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let info: String = redis::cmd("INFO").arg("server").query(&mut con).unwrap();
        let version = info_field(&info, "redis_version").unwrap_or("?").to_owned();
        let effort: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("active-expire-effort")
            .query(&mut con)
            .unwrap();
        let received = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let subscriber = Some(subscribe(&client, keys, received.clone(), done.clone()));
        let mut peer = RedisPeer {
            hz,
            child,
            _dir: dir,
            client,
            version,
            effort: effort.get(1).cloned().unwrap_or_default(),
            baseline: RedisMemory {
                used_bytes: 0,
                rss_kib: 0,
            },
            received,
            done,
            subscriber,
        };
        peer.baseline = peer.memory();
        peer
    }

    fn name(&self) -> String {
        format!("redis hz {}", self.hz)
    }

    fn describe(&self) -> String {
        format!(
            "redis-server {} (pid {}, Debian package), hz {}, active-expire-effort {}, \
             save \"\", appendonly no, notify-keyspace-events Ex",
            self.version,
            self.child.id(),
            self.hz,
            self.effort
        )
    }

    /// `used_memory` and the process's VmRSS now.
    fn memory(&self) -> RedisMemory {
        let mut con = self.client.get_connection().unwrap();
        let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
        RedisMemory {
            used_bytes: info_field(&info, "used_memory").unwrap().parse().unwrap(),
            rss_kib: rss_kib(&self.child.id().to_string()),
        }
    }

    fn all_expired(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Loads `keys` keys on a thread of its own, following `created` (ok2cry's count): every
    /// round sends one pipeline with a `PSETEX` for each key ok2cry created since the last
    /// round, each expiring `ttl_ms` after the moment the round is sent. Returns the time spent
    /// in Redis round trips.
    fn load_paced(
        &self,
        keys: usize,
        ttl_ms: u64,
        created: Arc<AtomicUsize>,
        owner: &str,
    ) -> JoinHandle<Duration> {
        let mut con = self.client.get_connection().unwrap();
        let owner = owner.to_owned();
        std::thread::spawn(move || {
            let clock = SystemClock;
            let mut loaded = 0usize;
            let mut busy = Duration::ZERO;
            let mut pipe = redis::pipe();
            while loaded < keys {
                let target = created.load(Ordering::Acquire).min(keys);
                if target == loaded {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let now = clock.now_ms();
                let expires_at = now + ttl_ms;
                pipe.clear();
                for _ in loaded..target {
                    pipe.cmd("PSETEX")
                        .arg(format!("{}:{expires_at}", key_id()))
                        .arg(ttl_ms)
                        .arg(record(now, &owner))
                        .ignore();
                }
                let t = Instant::now();
                pipe.exec(&mut con).unwrap();
                busy += t.elapsed();
                loaded = target;
            }
            busy
        })
    }

    /// Stops the subscriber, counts what is left, kills the server; returns the sorted lags and
    /// the number of keys still in the database.
    fn finish(mut self) -> (Vec<u64>, u64) {
        let mut con = self.client.get_connection().unwrap();
        let left: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        if !self.all_expired() {
            // Wakes a subscriber still waiting for expiries that did not come in time.
            redis::cmd("PUBLISH")
                .arg(EXPIRED_CHANNEL)
                .arg(STOP)
                .exec(&mut con)
                .unwrap();
        }
        let mut lags = self.subscriber.take().unwrap().join().unwrap();
        lags.sort_unstable();
        assert_eq!(lags.len(), self.received.load(Ordering::Acquire));
        (lags, left)
    }
}

impl Drop for RedisPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the bench publishes on the expiry channel to stop its own subscriber.
const STOP: &str = "bench:stop";

/// Subscribes to the expiry events (before returning), then on a thread of its own records,
/// for every expired key, now − the expiry encoded in its name; returns the lags when all
/// `keys` have come or when told to stop.
fn subscribe(
    client: &redis::Client,
    keys: usize,
    received: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
) -> JoinHandle<Vec<u64>> {
    let mut con = client.get_connection().unwrap();
    let (subscribed_tx, subscribed_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let clock = SystemClock;
        let mut pubsub = con.as_pubsub();
        pubsub.subscribe(EXPIRED_CHANNEL).unwrap();
        subscribed_tx.send(()).unwrap();
        let mut lags = Vec::with_capacity(keys);
        while lags.len() < keys {
            let msg = pubsub.get_message().unwrap();
            let now = clock.now_ms();
            let name = msg.get_payload_bytes();
            if name == STOP.as_bytes() {
                break;
            }
            let expires_at: u64 = std::str::from_utf8(name)
                .ok()
                .and_then(|n| n.rsplit(':').next())
                .and_then(|e| e.parse().ok())
                .unwrap_or_else(|| panic!("unexpected expired key {name:?}"));
            lags.push(now.saturating_sub(expires_at));
            received.fetch_add(1, Ordering::Release);
        }
        done.store(true, Ordering::Release);
        lags
    });
    subscribed_rx.recv().unwrap();
    handle
}

/// A key id shaped like ok2cry's: node id, `_`, 16 random bytes in base64url (25 characters).
fn key_id() -> String {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).unwrap();
    format!("n1_{}", Base64UrlUnpadded::encode_string(&random))
}

/// The value a do-it-yourself store would keep per key (93 bytes with owner = opener = `bench`):
/// scalar (32) ‖ compressed public point (33) ‖ created-at ms (8) ‖ max opens (4) ‖ opens (4) ‖
/// owner and opener, each as one length byte and its bytes.
fn record(created_at: u64, owner: &str) -> Vec<u8> {
    let mut secret = [0u8; 64];
    getrandom::fill(&mut secret).unwrap();
    let mut v = Vec::with_capacity(128);
    v.extend_from_slice(&secret[..32]);
    v.push(0x02);
    v.extend_from_slice(&secret[32..]);
    v.extend_from_slice(&created_at.to_be_bytes());
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    for id in [owner, owner] {
        v.push(id.len() as u8);
        v.extend_from_slice(id.as_bytes());
    }
    v
}

/// A `field:value` line of Redis's `INFO` text.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim)
}
