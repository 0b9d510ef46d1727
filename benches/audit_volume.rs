//! A large audit log, then `ok2cry audit verify` over it, with the verifier's peak resident
//! memory: the figure behind "verification in memory bounded by O(log n) plus one segment"
//! (docs/AUDIT.md, docs/PERFORMANCE.md).
//!
//! ```sh
//! cargo bench --bench audit_volume -- --events 10000000            # ~10 M events
//! cargo bench --bench audit_volume -- --events 1000000 --keep DIR  # keep the log in DIR
//! cargo bench --bench audit_volume -- --rate 6500                  # keys per second of log time
//! ```
//!
//! The log is written through the service's own writer (`AuditLog`, group commit, 64 MiB
//! segments, signed checkpoints) in batches of up to 1,000 events (a fifth of a second): keys created with a 30 s TTL and
//! destroyed (two in three consumed at once, one in three expired, logged 0 to 49 ms after
//! its expiry), then closed. The log's clock is a manual one advanced at `--rate` keys per
//! second (default 6,500: the create ceiling over mTLS measured here), so that the log spans
//! the time such a node would take to write it; the verifier's memory depends on the keys
//! alive in a window of log time, not on how fast the bench writes. The verifier runs as a child process (the real binary) so that its
//! peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`) is its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry::audit::event::DestroyReason;
use ok2cry::audit::{AuditLog, AuditOptions, EventBody, Timestamp};
use ok2cry::clock::Clock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

#[tokio::main]
async fn main() {
    let mut events = 1_000_000u64;
    let mut keep: Option<PathBuf> = None;
    let mut rate = 6_500u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => events = args.next().unwrap().parse().unwrap(),
            "--keep" => keep = args.next().map(PathBuf::from),
            "--rate" => rate = args.next().unwrap().parse().unwrap(),
            _ => {} // cargo bench passes --bench
        }
    }
    let temp = tempfile::tempdir().unwrap();
    let root = keep.unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("audit");
    let key = root.join("audit-key.pem");
    let mut opts = AuditOptions::new(dir.clone(), "bench", key.clone());
    opts.segment_max_bytes = 64 * 1024 * 1024;
    let t0 = 1_800_000_000_000u64;
    let clock = ok2cry::clock::ManualClock::new(t0);
    let (log, _) = AuditLog::open(opts, Arc::new(clock.clone())).unwrap();
    let start = Instant::now();
    const TTL_MS: u64 = 30_000;
    // Keys whose expiry is still ahead, by expiry: destroyed as the clock passes it.
    let mut due: std::collections::VecDeque<(u64, u64, String)> = Default::default();
    let mut written = 0u64;
    let mut made = 0u64;
    let mut pending = Vec::new();
    // A batch spans at most a fifth of a second of log time, so that an expired key's
    // destruction is logged well inside the verifier's grace.
    let batch_len = usize::try_from(rate / 5).unwrap().clamp(10, 1000);
    while written < events {
        let mut batch = Vec::with_capacity(batch_len);
        let now = t0 + made * 1000 / rate;
        while batch.len() < batch_len {
            if due.front().is_some_and(|(at, _, _)| *at <= now) {
                let (_, expires_at, key_id) = due.pop_front().unwrap();
                batch.push(EventBody::KeyDestroyed {
                    key_id,
                    reason: DestroyReason::Expired,
                    expires_at: Timestamp(expires_at),
                    lost: None,
                });
                continue;
            }
            let key_id = format!("bench_{made:020}");
            let expires_at = now + TTL_MS;
            batch.push(EventBody::KeyCreated {
                key_id: key_id.clone(),
                jwk_thumbprint: "tp".into(),
                owner: "bench".into(),
                opener: "bench".into(),
                expires_at: Timestamp(expires_at),
                kek_id: 1,
                label: None,
                max_opens: 1,
            });
            if made % 3 == 2 {
                due.push_back((expires_at + made % 50, expires_at, key_id));
            } else {
                batch.push(EventBody::KeyDestroyed {
                    key_id,
                    reason: DestroyReason::Consumed,
                    expires_at: Timestamp(expires_at),
                    lost: None,
                });
            }
            made += 1;
        }
        written += batch.len() as u64;
        pending.push(tokio::spawn(log.append_durable(batch)));
        if pending.len() >= 64 {
            for p in pending.drain(..) {
                p.await.unwrap().unwrap();
            }
        }
        let next = t0 + made * 1000 / rate;
        let current = clock.now_ms();
        if next > current {
            // The writer stamps events when it writes them: wait for this batch first.
            for p in pending.drain(..) {
                p.await.unwrap().unwrap();
            }
            clock.advance_ms(next - current);
        }
    }
    for p in pending {
        p.await.unwrap().unwrap();
    }
    log.close().await.unwrap();
    let wrote = start.elapsed();
    println!(
        "wrote {written} events in {:.1} s ({:.0}/s), {:.1} MB on disk in {}",
        wrote.as_secs_f64(),
        written as f64 / wrote.as_secs_f64(),
        dir_bytes(&dir) as f64 / 1e6,
        dir.display()
    );

    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(["audit", "verify", "--dir"])
        .arg(&dir)
        .arg("--key")
        .arg(key.with_extension("pub.pem"))
        .output()
        .unwrap();
    let took = start.elapsed();
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    println!(
        "audit verify: {} in {:.1} s ({:.0} events/s), peak RSS {:.1} MB",
        out.status,
        took.as_secs_f64(),
        written as f64 / took.as_secs_f64(),
        usage.max_rss() as f64 / 1024.0
    );
    println!(
        "{}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
