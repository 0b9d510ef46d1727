//! The log end to end on real files: durability, recovery, tamper detection, receipts.

use super::*;
use crate::clock::{ManualClock, iso8601};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const T0: u64 = 1_900_000_000_000;

fn options(dir: &Path, fault: Arc<AtomicBool>) -> AuditOptions {
    AuditOptions {
        dir: dir.to_owned(),
        node: "n1".into(),
        origin_prefix: "ok2cry.audit/n1".into(),
        segment_max_bytes: 1 << 20,
        retain_segments: None,
        fault,
    }
}

fn open(dir: &Path, clock: &ManualClock) -> (AuditLog, Recovery) {
    AuditLog::open(
        options(dir, Arc::new(AtomicBool::new(false))),
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn created(key: &str, expires_at: u64) -> EventBody {
    EventBody::KeyCreated {
        key_id: key.into(),
        jwk_thumbprint: "tp".into(),
        owner: "alice".into(),
        opener: "alice".into(),
        expires_at: iso8601(expires_at),
        kek_id: 1,
        label: None,
        max_opens: 1,
    }
}

fn destroyed(key: &str, reason: &str, expires_at: u64) -> EventBody {
    EventBody::KeyDestroyed {
        key_id: key.into(),
        reason: reason.into(),
        expires_at: iso8601(expires_at),
    }
}

fn opened(key: &str) -> EventBody {
    EventBody::KeyOpened {
        key_id: key.into(),
        opener: "alice".into(),
        opens_used: 1,
        opens_remaining: 0,
    }
}

/// A log with three keys' lives, two segments (a restart), cleanly closed.
async fn sample(dir: &Path) -> (String, String) {
    let clock = ManualClock::new(T0);
    let (log, _) = open(dir, &clock);
    log.append_durable(created("n1_a", T0 + 60_000))
        .await
        .unwrap();
    clock.advance_ms(10);
    log.append_retrying(opened("n1_a"));
    log.append_retrying(destroyed("n1_a", "consumed", T0 + 60_000));
    log.append_durable(created("n1_b", T0 + 1_000))
        .await
        .unwrap();
    log.checkpoint_now().await.unwrap();
    clock.advance_ms(1_000);
    log.append_retrying(destroyed("n1_b", "expired", T0 + 1_000));
    log.append_retrying(EventBody::ServiceStopped {});
    log.close().await;
    let (log, recovery) = open(dir, &clock);
    assert!(recovery.process_lost.is_empty());
    log.append_durable(created("n1_c", T0 + 120_000))
        .await
        .unwrap();
    log.append_retrying(destroyed("n1_c", "revoked", T0 + 120_000));
    log.close().await;
    (log.public_key_pem().to_owned(), log.key_name().to_owned())
}

#[tokio::test]
async fn a_clean_log_verifies_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, name) = sample(dir.path()).await;
    let report = verify_log(dir.path(), &pem, &name, 500);
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert_eq!(report.segments, 2);
    assert_eq!(report.keys_created, 3);
    assert_eq!(report.destroyed_by_reason.get("expired"), Some(&1));
    assert_eq!(report.lag_ms_max, Some(10));
    assert!(report.checkpoints_verified >= 3);
    // Another key does not verify it.
    let other = note::AuditSigner::generate(&name);
    assert!(!verify_log(dir.path(), &other.public_key_pem(), &name, 500).is_ok());
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn any_single_alteration_deletion_reordering_or_insertion_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, name) = sample(dir.path()).await;
    let files = [
        store::segment_path(dir.path(), 1),
        store::segment_path(dir.path(), 2),
    ];
    let notes = [
        store::checkpoints_path(dir.path(), 1),
        store::checkpoints_path(dir.path(), 2),
    ];
    let pristine: Vec<Vec<String>> = files.iter().map(|f| lines(f)).collect();
    let pristine_notes: Vec<Vec<String>> = notes.iter().map(|f| lines(f)).collect();
    let restore = || {
        for (f, l) in files.iter().zip(&pristine) {
            write_lines(f, l);
        }
        for (f, l) in notes.iter().zip(&pristine_notes) {
            write_lines(f, l);
        }
    };
    let mut cases = 0;
    for (s, file) in files.iter().enumerate() {
        let original = &pristine[s];
        for i in 0..original.len() {
            // Alter: change one character of the event (a digit of the time).
            let mut altered = original.clone();
            altered[i] = altered[i].replacen("T", "X", 1).replacen(":0", ":1", 1);
            write_lines(file, &altered);
            assert!(
                !verify_log(dir.path(), &pem, &name, 500).is_ok(),
                "alteration of segment {s} line {i} not detected"
            );
            // Delete.
            let mut deleted = original.clone();
            deleted.remove(i);
            write_lines(file, &deleted);
            assert!(
                !verify_log(dir.path(), &pem, &name, 500).is_ok(),
                "deletion of segment {s} line {i} not detected"
            );
            // Insert (a copy of the line, after it).
            let mut inserted = original.clone();
            inserted.insert(i, original[i].clone());
            write_lines(file, &inserted);
            assert!(
                !verify_log(dir.path(), &pem, &name, 500).is_ok(),
                "insertion at segment {s} line {i} not detected"
            );
            // Reorder with the next line.
            if i + 1 < original.len() {
                let mut swapped = original.clone();
                swapped.swap(i, i + 1);
                write_lines(file, &swapped);
                assert!(
                    !verify_log(dir.path(), &pem, &name, 500).is_ok(),
                    "swap at segment {s} line {i} not detected"
                );
            }
            restore();
            cases += 4;
        }
    }
    for (s, file) in notes.iter().enumerate() {
        for i in 0..pristine_notes[s].len() {
            let mut deleted = pristine_notes[s].clone();
            deleted.remove(i);
            write_lines(file, &deleted);
            assert!(
                !verify_log(dir.path(), &pem, &name, 500).is_ok(),
                "deleted checkpoint {i} of segment {s} not detected"
            );
            let mut altered = pristine_notes[s].clone();
            altered[i] = altered[i].replacen("\\n", "\\n1", 1);
            write_lines(file, &altered);
            assert!(
                !verify_log(dir.path(), &pem, &name, 500).is_ok(),
                "altered checkpoint {i} of segment {s} not detected"
            );
            restore();
            cases += 2;
        }
    }
    assert!(cases > 40);
    assert!(verify_log(dir.path(), &pem, &name, 500).is_ok());
}

#[tokio::test]
async fn crash_recovery_repairs_a_torn_tail_and_closes_out_lost_keys() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let (log, _) = open(dir.path(), &clock);
    log.append_durable(created("n1_live", T0 + 60_000))
        .await
        .unwrap();
    log.append_durable(created("n1_done", T0 + 60_000))
        .await
        .unwrap();
    log.append_retrying(destroyed("n1_done", "consumed", T0 + 60_000));
    log.flush().await;
    let (pem, name) = (log.public_key_pem().to_owned(), log.key_name().to_owned());
    // The process dies mid-write: half a line at the end, no final checkpoint.
    drop(log);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(store::segment_path(dir.path(), 1))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":99,\"time\":\"20").unwrap();
    clock.advance_ms(5_000);
    let (log, recovery) = open(dir.path(), &clock);
    assert_eq!(recovery.repaired_bytes, 20);
    assert_eq!(recovery.process_lost, vec!["n1_live".to_owned()]);
    log.close().await;
    let report = verify_log(dir.path(), &pem, &name, 500);
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert_eq!(report.destroyed_by_reason.get("process_lost"), Some(&1));
}

#[tokio::test]
async fn a_failing_writer_refuses_durable_appends_and_loses_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let fault = Arc::new(AtomicBool::new(false));
    let (log, _) =
        AuditLog::open(options(dir.path(), fault.clone()), Arc::new(clock.clone())).unwrap();
    log.append_durable(created("n1_a", T0 + 60_000))
        .await
        .unwrap();
    fault.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        log.append_durable(created("n1_b", T0 + 60_000))
            .await
            .is_err()
    );
    log.append_retrying(destroyed("n1_a", "consumed", T0 + 60_000));
    log.flush().await;
    let text = std::fs::read_to_string(store::segment_path(dir.path(), 1)).unwrap();
    assert!(!text.contains("n1_b") && !text.contains("consumed"));
    fault.store(false, std::sync::atomic::Ordering::SeqCst);
    // The queued event is retried and written; the refused one never appears.
    let mut written = false;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if std::fs::read_to_string(store::segment_path(dir.path(), 1))
            .unwrap()
            .contains("consumed")
        {
            written = true;
            break;
        }
    }
    assert!(written);
    let (pem, name) = (log.public_key_pem().to_owned(), log.key_name().to_owned());
    log.close().await;
    let report = verify_log(dir.path(), &pem, &name, 500);
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert!(
        !std::fs::read_to_string(store::segment_path(dir.path(), 1))
            .unwrap()
            .contains("n1_b")
    );
}

#[tokio::test]
async fn receipts_verify_offline_and_fail_after_any_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, _) = sample(dir.path()).await;
    // Reopen to build a receipt (as the running service would).
    let clock = ManualClock::new(T0 + 10_000);
    let (log, _) = open(dir.path(), &clock);
    let receipt = log.receipt("n1_b").await.unwrap().unwrap();
    let summary = verify_receipt(&receipt, &pem).unwrap();
    assert_eq!(summary.reason, "expired");
    assert_eq!(summary.lag_ms, 10);
    assert!(log.receipt("n1_unknown").await.unwrap().is_none());
    // A receipt for a key still alive does not prove destruction.
    log.append_durable(created("n1_alive", T0 + 60_000))
        .await
        .unwrap();
    let alive = log.receipt("n1_alive").await.unwrap().unwrap();
    assert!(verify_receipt(&alive, &pem).is_err());

    let json = serde_json::to_string(&receipt).unwrap();
    let mut tampered_count = 0;
    // Flip every character of every event, proof and note that can be flipped.
    for (i, c) in json.char_indices() {
        let replacement = match c {
            '0'..='8' => char::from(c as u8 + 1),
            'a'..='y' => char::from(c as u8 + 1),
            'A'..='Y' => char::from(c as u8 + 1),
            _ => continue,
        };
        let mut t = json.clone();
        t.replace_range(i..i + 1, &replacement.to_string());
        let Ok(parsed) = serde_json::from_str::<Receipt>(&t) else {
            continue;
        };
        if parsed == receipt {
            continue;
        }
        // Changing the key name to one that is not on the note makes verification fail too.
        assert!(
            verify_receipt(&parsed, &pem).is_err(),
            "tampering at {i} not detected"
        );
        tampered_count += 1;
    }
    assert!(tampered_count > 500);
    log.close().await;
}

#[tokio::test]
async fn memory_is_bounded_by_segment_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut opts = options(dir.path(), Arc::new(AtomicBool::new(false)));
    opts.segment_max_bytes = 4096;
    opts.retain_segments = Some(3);
    let (log, _) = AuditLog::open(opts, Arc::new(clock)).unwrap();
    for i in 0..400 {
        log.append_durable(created(&format!("n1_{i}"), T0 + 60_000))
            .await
            .unwrap();
        log.append_retrying(destroyed(&format!("n1_{i}"), "consumed", T0 + 60_000));
    }
    log.close().await;
    let present = store::segments(dir.path()).unwrap();
    assert_eq!(present.len(), 3, "{present:?}");
    assert!(present[0] > 1);
    // The retained tail still verifies on its own, with a note that it starts later.
    let report = verify_log(dir.path(), log.public_key_pem(), log.key_name(), 500);
    assert!(
        report.violations.iter().all(|v| !v.contains("signature")),
        "{:#?}",
        report.violations
    );
    assert!(report.notes.iter().any(|n| n.contains("earlier segments")));
}
