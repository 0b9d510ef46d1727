//! Resident bytes per tombstone: the custody's time-bucketed marks
//! (`ok2cry::custody::tombstones`) against the `moka` cache entry a tombstone used to be (the
//! key id as key, when and why as value, a time-to-live), at the same count.
//!
//! ```sh
//! cargo bench --bench tombstones                      # 1,000,000 of each
//! cargo bench --bench tombstones -- --entries 100000
//! ```
//!
//! Each store is filled in a fresh child process (this binary again, with `--one`), so that
//! one's freed memory cannot hide in the other's figure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry::audit::event::DestroyReason;
use ok2cry::custody::tombstones::{Tombstone, Tombstones};
use ok2cry_client::KeyId;
use std::time::Duration;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// A service key id: node tag, '_', 22 characters.
fn key_id(i: u64) -> KeyId {
    KeyId::new(format!("n1_{i:022}")).unwrap()
}

const T0: u64 = 1_800_000_000_000;

fn one(store: &str, entries: u64) {
    // The ids are made before the baseline: the store's own cost is what is measured (a
    // tombstone keeps no key id; the moka entry keeps its own copy).
    let ids: Vec<KeyId> = (0..entries).map(key_id).collect();
    let before = rss_bytes();
    let per = match store {
        "marks" => {
            let t = Tombstones::new(3_600_000, 10_000_000);
            // A million destructions over 20 minutes (~830 a second), inside one TTL.
            for (i, id) in ids.iter().enumerate() {
                let at = T0 + i as u64 * 1_200_000 / entries;
                t.insert(
                    id,
                    Tombstone {
                        destroyed_at: at,
                        reason: DestroyReason::ALL[i % 8],
                    },
                );
            }
            assert_eq!(t.len() as u64, entries);
            let after = rss_bytes();
            assert!(t.get(&ids[0], T0).is_some());
            after.saturating_sub(before) / entries
        }
        "moka" => {
            let cache: moka::sync::Cache<KeyId, (u64, DestroyReason)> =
                moka::sync::Cache::builder()
                    .max_capacity(10_000_000)
                    .time_to_live(Duration::from_secs(3600))
                    .build();
            for (i, id) in ids.iter().enumerate() {
                cache.insert(id.clone(), (T0 + i as u64, DestroyReason::ALL[i % 8]));
            }
            cache.run_pending_tasks();
            assert_eq!(cache.entry_count(), entries);
            rss_bytes().saturating_sub(before) / entries
        }
        other => panic!("unknown store {other}"),
    };
    println!("{store}: {entries} tombstones, {per} resident bytes each");
}

fn main() {
    let mut entries = 1_000_000u64;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--entries" => entries = args.next().unwrap().parse().unwrap(),
            "--one" => only = args.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    if let Some(store) = only {
        return one(&store, entries);
    }
    let me = std::env::current_exe().unwrap();
    for store in ["marks", "moka"] {
        let status = std::process::Command::new(&me)
            .args(["--one", store, "--entries", &entries.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
