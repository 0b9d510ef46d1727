//! The memory floor of the key store's container: resident bytes per entry of a bare `moka`
//! cache shaped like the custody's (a 25-character shared key id, an `Arc` value, per-entry
//! expiry), with nothing of ok2cry's own in it. docs/PERFORMANCE.md compares the custody's
//! bytes per live key with this floor.
//!
//! ```sh
//! cargo bench --bench moka_floor                         # per-entry expiry, as the custody
//! cargo bench --bench moka_floor -- --no-expiry          # no expiry policy, for comparison
//! cargo bench --bench moka_floor -- --entries 100000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

struct TenMinutes;

impl moka::Expiry<Arc<str>, Arc<u64>> for TenMinutes {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        _value: &Arc<u64>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(600))
    }
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn main() {
    let mut entries = 1_000_000u64;
    let mut expiry = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--entries" => entries = args.next().unwrap().parse().unwrap(),
            "--no-expiry" => expiry = false,
            _ => {} // cargo bench passes --bench
        }
    }
    let before = rss_bytes();
    let builder = moka::sync::Cache::builder();
    let cache: moka::sync::Cache<Arc<str>, Arc<u64>> = if expiry {
        builder.expire_after(TenMinutes).build()
    } else {
        builder.build()
    };
    for i in 0..entries {
        // The shape of a service key id: node tag, '_', 22 characters.
        cache.insert(Arc::from(format!("n1_{i:022}")), Arc::new(i));
    }
    cache.run_pending_tasks();
    let after = rss_bytes();
    println!(
        "moka 0.12 sync cache, {entries} entries, per-entry expiry {}: {} resident bytes per entry \
         (of which the key's Arc<str> ~48 and the Arc<u64> value ~32)",
        if expiry { "on" } else { "off" },
        after.saturating_sub(before) / entries
    );
    assert_eq!(cache.entry_count(), entries);
}
