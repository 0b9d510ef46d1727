//! After a key is destroyed, its private scalar is not in this process's readable memory.
//!
//! The test scans every readable mapping of `/proc/self/mem` for the scalar. It never holds
//! the scalar itself: it holds `scalar XOR mask` and `mask`, and compares byte by byte, so the
//! only copies it could find are ones the service left behind. A positive control plants a
//! known scalar and checks the scanner finds it, so the test cannot pass by scanning nothing.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::audit::MemoryRecorder as MemorySink;
use crate::auth::principal::{AuthMethod, Role};
use crate::clock::ManualClock;
use std::io::{Read, Seek, SeekFrom};

fn readable_regions() -> Vec<(u64, u64)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = line.split_whitespace().nth(5).unwrap_or("");
            // Skip non-readable, and kernel-provided pseudo mappings that cannot be read.
            if !perms.starts_with('r')
                || path == "[vvar]"
                || path == "[vsyscall]"
                || path == "[vvar_vclock]"
            {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

/// Counts places where `mem[i..i+32] == masked ^ mask`, without forming that value.
fn count_occurrences(masked: &[u8; 32], mask: &[u8; 32]) -> usize {
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    let first = masked[0] ^ mask[0];
    let mut found = 0;
    let mut buf = vec![0u8; 1 << 20];
    for (start, end) in readable_regions() {
        let mut offset = start;
        while offset < end {
            let len = ((end - offset) as usize).min(buf.len());
            if mem.seek(SeekFrom::Start(offset)).is_err() {
                break;
            }
            let n = match mem.read(&mut buf[..len]) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            // Windows that straddle chunk boundaries are covered by overlapping reads.
            let window = &buf[..n];
            for i in 0..n.saturating_sub(31) {
                if window[i] == first && (1..32).all(|j| window[i + j] ^ mask[j] == masked[j]) {
                    found += 1;
                }
            }
            offset += if n > 31 { (n - 31) as u64 } else { n as u64 };
        }
    }
    found
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

#[test]
fn scanner_finds_a_planted_scalar() {
    let mask = random32();
    let masked = random32();
    // Planted on the heap on purpose: the positive control.
    let planted: Vec<u8> = masked.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect();
    assert!(count_occurrences(&masked, &mask) >= 1);
    drop(planted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_key_scalar_is_not_in_memory_aws_lc() {
    destroyed_key_scalar_is_not_in_memory(&ok2cry_client::provider::AWS_LC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_key_scalar_is_not_in_memory_rustcrypto() {
    destroyed_key_scalar_is_not_in_memory(&ok2cry_client::provider::RUST_CRYPTO).await;
}

/// Creates and opens keys with `provider` (keygen, ECDH and signing all touch secrets), then
/// scans memory for their scalars.
async fn destroyed_key_scalar_is_not_in_memory(
    provider: &'static dyn ok2cry_client::CryptoProvider,
) {
    let clock = ManualClock::new(1_800_000_000_000);
    let sink = Arc::new(MemorySink::default());
    let c = Custody::new(
        CustodyConfig {
            provider,
            ..CustodyConfig::default()
        },
        Arc::new(clock),
        sink,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let alice = Principal {
        id: "alice".into(),
        roles: [Role::Issuer, Role::Opener].into_iter().collect(),
        method: AuthMethod::Mtls,
    };
    let c = Arc::new(c);
    // A worker thread that stays alive through the scan, like a pooled spawn_blocking thread:
    // whatever the open leaves on its stack is still mapped when we look.
    let (work_tx, work_rx) = std::sync::mpsc::channel::<(KeyId, Envelope)>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<u32>();
    let worker = {
        let (c, alice) = (c.clone(), alice.clone());
        let runtime = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            for (id, env) in work_rx {
                let opened = runtime.block_on(c.open(&alice, &id, &env)).unwrap();
                done_tx.send(opened.opens_remaining).unwrap();
            }
        })
    };
    let mut checks = Vec::new();
    for _ in 0..8 {
        let view = c.create(&alice, CreateRequest::default()).await.unwrap();
        let mask = random32();
        let masked = c.danger_masked_scalar(&view.key_id, &mask).unwrap();
        let key = ok2cry_client::KeyToken::parse(&view.token)
            .unwrap()
            .verify(&c.signing().jwks(), 1_800_000_000)
            .unwrap();
        let env = Envelope::seal(&key, b"0000").unwrap();
        work_tx.send((view.key_id.clone(), env)).unwrap();
        assert_eq!(done_rx.recv().unwrap(), 0);
        assert!(c.get(&view.key_id).is_err());
        checks.push((masked, mask));
    }
    for (masked, mask) in &checks {
        assert_eq!(
            count_occurrences(masked, mask),
            0,
            "a destroyed key's scalar is still in memory"
        );
    }
    drop(work_tx);
    worker.join().unwrap();
}
