//! Replays every fuzz target's corpus (`fuzz/corpus/<target>/`) and the reproducers of past
//! findings (`fuzz/regressions/<target>/`) through the targets' bodies, on stable, in
//! `cargo test`: CI's guard against a regression of anything the fuzzers found or covered.
//! A panic in a target fails the test with the file that caused it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    out.sort();
    out
}

/// Runs every file of `<kind>/<target>/` through its target; returns how many ran. Fails
/// with the list of every file that made its target panic.
fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    let mut findings = Vec::new();
    for (name, run) in ok2cry_fuzz::TARGETS {
        for file in files(&root.join(kind).join(name)) {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                findings.push(format!("{name}: {}", file.display()));
            }
            replayed += 1;
        }
    }
    assert!(
        findings.is_empty(),
        "inputs that make a target panic (see the panics above):\n  {}",
        findings.join("\n  ")
    );
    replayed
}

#[test]
fn every_target_has_a_seed_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in ok2cry_fuzz::TARGETS {
        let seeds = files(&root.join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name}/ is empty");
        let harness = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(harness.is_file(), "no harness {}", harness.display());
    }
}

#[test]
fn corpus_replays_without_a_finding() {
    assert!(replay("corpus") > 0);
}

#[test]
fn regressions_replay_without_a_finding() {
    replay("regressions");
}
