//! The Redis peer of the TTL bench (`--peer redis`), compiled only with the `redis-peer`
//! feature so that no other build compiles the Redis client. See benches/ttl.rs.

use super::rss_kib;
use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry::clock::{Clock, SystemClock};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Redis memory figures.
#[derive(Clone, Copy)]
pub struct RedisMemory {
    /// `used_memory` from `INFO memory` (what Redis's allocator holds for it).
    pub used_bytes: u64,
    /// The redis-server process's VmRSS.
    pub rss_kib: u64,
}

/// A redis-server of the bench's own, with its expiry subscriber; killed when dropped.
pub struct RedisPeer {
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
    /// The empty server's memory, measured at start.
    pub fn baseline(&self) -> RedisMemory {
        self.baseline
    }

    /// Starts redis-server on a free port, waits until it answers, subscribes to its expiry
    /// events and records the empty server's memory.
    pub fn start(hz: u32, keys: usize) -> Self {
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

    pub fn name(&self) -> String {
        format!("redis hz {}", self.hz)
    }

    pub fn describe(&self) -> String {
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
    pub fn memory(&self) -> RedisMemory {
        let mut con = self.client.get_connection().unwrap();
        let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
        RedisMemory {
            used_bytes: info_field(&info, "used_memory").unwrap().parse().unwrap(),
            rss_kib: rss_kib(&self.child.id().to_string()),
        }
    }

    pub fn all_expired(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Loads `keys` keys on a thread of its own, following `created` (ok2cry's count): every
    /// round sends one pipeline with a `PSETEX` for each key ok2cry created since the last
    /// round, each expiring `ttl_ms` after the moment the round is sent. Returns the time spent
    /// in Redis round trips.
    pub fn load_paced(
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
    pub fn finish(mut self) -> (Vec<u64>, u64) {
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
