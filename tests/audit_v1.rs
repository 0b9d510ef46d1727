//! Logs of format 1 still verify (with the corrected crash rule), alterations still fail, and
//! the node refuses to write format 2 into a format-1 directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit-v1")
}

fn copy(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(fixture()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn verify(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(["audit", "verify", "--dir"])
        .arg(dir)
        .arg("--key")
        .arg(dir.join("audit-key.pub.pem"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_format_1_log_with_a_crash_verifies_and_an_alteration_fails() {
    let dir = tempfile::tempdir().unwrap();
    copy(dir.path());
    let (ok, text) = verify(dir.path());
    assert!(ok, "{text}");
    assert!(text.contains("process_lost: 3"), "{text}");
    // A single altered event fails.
    let seg = dir.path().join("segment-000001.jsonl");
    let original = std::fs::read_to_string(&seg).unwrap();
    std::fs::write(
        &seg,
        original.replacen("\"reason\":\"revoked\"", "\"reason\":\"consumed\"", 1),
    )
    .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok && text.contains("VIOLATION"), "{text}");
}

#[test]
fn the_node_will_not_write_into_a_format_1_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    copy(&log);
    let mut opts = ok2cry::audit::AuditOptions::new(log, "dev1", dir.path().join("key.pem"));
    opts.process.version = "test".into();
    let e = ok2cry::audit::AuditLog::open(opts, std::sync::Arc::new(ok2cry::clock::SystemClock))
        .err()
        .unwrap();
    assert!(e.to_string().contains("format 1"), "{e}");
}
