//! The log end to end on real files: durability, recovery, tamper detection, rollback,
//! crashes and power loss, rotation, receipts, proofs and tiles.

use super::disk::{Disk, FaultyDisk, danger::PowerLoss};
use super::event::{Lost, Timestamp, service_key_id};
use super::merkle::{self, Hash};
use super::note::{AuditSigner, NoteVerifier};
use super::verify::{Since, VerifyOptions, read_since};
use super::*;
use crate::clock::ManualClock;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) const T0: u64 = 1_900_000_000_000;

pub(crate) struct Dirs {
    _root: tempfile::TempDir,
    pub(crate) log: PathBuf,
    pub(crate) key: PathBuf,
}

pub(crate) fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("log");
    let keys = root.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    Dirs {
        log,
        key: keys.join("audit-key.pem"),
        _root: root,
    }
}

pub(crate) fn options(d: &Dirs) -> AuditOptions {
    let mut o = AuditOptions::new(d.log.clone(), "n1", d.key.clone());
    o.segment_max_bytes = 1 << 20;
    o.process.version = "test".into();
    o.process.build_digest = "00".into();
    o
}

fn open_with(d: &Dirs, clock: &ManualClock, disk: Arc<dyn Disk>) -> (AuditLog, Recovery) {
    let mut o = options(d);
    o.disk = disk;
    AuditLog::open(o, Arc::new(clock.clone())).unwrap()
}

fn open(d: &Dirs, clock: &ManualClock) -> (AuditLog, Recovery) {
    AuditLog::open(options(d), Arc::new(clock.clone())).unwrap()
}

pub(crate) fn key_id(name: &str, created: u64) -> String {
    let mut r = [0u8; 16];
    r[..name.len().min(16)].copy_from_slice(&name.as_bytes()[..name.len().min(16)]);
    service_key_id("n1", created, &r)
}

pub(crate) fn created(key: &str, expires_at: u64) -> EventBody {
    EventBody::KeyCreated {
        key_id: key.into(),
        jwk_thumbprint: "tp".into(),
        owner: "alice".into(),
        opener: "alice".into(),
        expires_at: Timestamp(expires_at),
        kek_id: 1,
        label: None,
        max_opens: 1,
    }
}

pub(crate) fn destroyed(key: &str, reason: DestroyReason, expires_at: u64) -> EventBody {
    EventBody::KeyDestroyed {
        key_id: key.into(),
        reason,
        expires_at: Timestamp(expires_at),
        lost: None,
    }
}

pub(crate) fn opened(key: &str) -> EventBody {
    EventBody::KeyOpened {
        key_id: key.into(),
        opener: "alice".into(),
        opens_used: 1,
        opens_remaining: 0,
    }
}

fn verify_with(d: &Dirs, key: &NoteVerifier, grace: u64) -> Report {
    let opts = VerifyOptions {
        log_keys: vec![key.clone()],
        grace_ms: grace,
        ..VerifyOptions::default()
    };
    verify_dir(&d.log, &opts, |_| {})
}

struct Sample {
    key: NoteVerifier,
    ids: [String; 3],
}

/// A log with three keys' lives across two processes, each stopped cleanly.
async fn sample(d: &Dirs) -> Sample {
    let clock = ManualClock::new(T0);
    let (log, _) = open(d, &clock);
    let a = key_id("a", T0);
    let b = key_id("b", T0);
    log.append_durable(vec![created(&a, T0 + 60_000)])
        .await
        .unwrap();
    clock.advance_ms(10);
    log.append_durable(vec![
        opened(&a),
        destroyed(&a, DestroyReason::Consumed, T0 + 60_000),
    ])
    .await
    .unwrap();
    log.append_durable(vec![created(&b, T0 + 1_000)])
        .await
        .unwrap();
    log.checkpoint_now().await.unwrap();
    clock.advance_ms(1_000);
    log.append(destroyed(&b, DestroyReason::Expired, T0 + 1_000));
    log.append(EventBody::ServiceStopped {});
    log.close().await.unwrap();
    let key = log.log_key().clone();
    let (log, recovery) = open(d, &clock);
    assert!(recovery.process_lost.is_empty());
    assert!(recovery.checkpoints_checked >= 2);
    let c = key_id("c", clock.now_ms());
    log.append_durable(vec![created(&c, clock.now_ms() + 120_000)])
        .await
        .unwrap();
    log.append_durable(vec![destroyed(
        &c,
        DestroyReason::Revoked,
        clock.now_ms() + 120_000,
    )])
    .await
    .unwrap();
    log.append(EventBody::ServiceStopped {});
    log.close().await.unwrap();
    Sample {
        key,
        ids: [a, b, c],
    }
}

use crate::clock::Clock;

#[tokio::test]
async fn a_clean_log_verifies_with_its_summary() {
    let d = dirs();
    let s = sample(&d).await;
    let report = verify_with(&d, &s.key, 500);
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert_eq!(report.segments, 2);
    assert_eq!(report.totals.keys_created, 3);
    assert_eq!(report.totals.destroyed_by_reason.get("expired"), Some(&1));
    assert_eq!(report.lag_ms_max, Some(10));
    assert_eq!(report.newest_checkpoint, Some(report.size));
    assert!(report.checkpoints_verified >= 4, "{report:#?}");
    assert_eq!(report.origin.as_deref(), Some("ok2cry.audit/n1"));
    // Another key does not verify it.
    let other = AuditSigner::generate("ok2cry.audit/n1").verifier().unwrap();
    assert!(!verify_with(&d, &other, 500).is_ok());
    // The key is where it was configured, not in the log's directory.
    assert!(d.key.exists());
    assert!(!d.log.join("audit-key.pem").exists());
    // One tree: sequence numbers continue across the restart.
    let text = std::fs::read_to_string(layout::segment_path(&d.log, 2)).unwrap();
    let first = Event::parse_line(text.lines().next().unwrap()).unwrap();
    assert!(matches!(first.body, EventBody::ProcessStarted { .. }));
    assert!(first.seq > 0);
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
    if !lines.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn any_single_alteration_deletion_reordering_or_insertion_is_detected() {
    let d = dirs();
    let s = sample(&d).await;
    let files = [
        layout::segment_path(&d.log, 1),
        layout::segment_path(&d.log, 2),
    ];
    let records = [
        layout::checkpoints_path(&d.log, 1),
        layout::checkpoints_path(&d.log, 2),
    ];
    let pristine: Vec<Vec<String>> = files.iter().map(|f| lines(f)).collect();
    let pristine_records: Vec<Vec<String>> = records.iter().map(|f| lines(f)).collect();
    let restore = || {
        for (f, l) in files.iter().zip(&pristine) {
            write_lines(f, l);
        }
        for (f, l) in records.iter().zip(&pristine_records) {
            write_lines(f, l);
        }
    };
    let fails = |what: &str| {
        assert!(!verify_with(&d, &s.key, 500).is_ok(), "{what} not detected");
    };
    let mut cases = 0;
    for (n, file) in files.iter().enumerate() {
        let original = &pristine[n];
        for i in 0..original.len() {
            let mut altered = original.clone();
            altered[i] = altered[i].replacen("T", "X", 1).replacen(":0", ":1", 1);
            write_lines(file, &altered);
            fails(&format!("alteration of segment {n} line {i}"));
            let mut deleted = original.clone();
            deleted.remove(i);
            write_lines(file, &deleted);
            fails(&format!("deletion of segment {n} line {i}"));
            let mut inserted = original.clone();
            inserted.insert(i, original[i].clone());
            write_lines(file, &inserted);
            fails(&format!("insertion at segment {n} line {i}"));
            if i + 1 < original.len() {
                let mut swapped = original.clone();
                swapped.swap(i, i + 1);
                write_lines(file, &swapped);
                fails(&format!("swap at segment {n} line {i}"));
            }
            restore();
            cases += 4;
        }
    }
    // A checkpoint record altered (its note, its size, its frontier) is detected.
    for (n, file) in records.iter().enumerate() {
        for i in 0..pristine_records[n].len() {
            for (from, to) in [
                ("\\n", "\\n1"),
                ("\"size\":", "\"size\":1"),
                ("\"frontier\":[\"", "\"frontier\":[\"A"),
            ] {
                let mut altered = pristine_records[n].clone();
                if !altered[i].contains(from) {
                    continue;
                }
                altered[i] = altered[i].replacen(from, to, 1);
                write_lines(file, &altered);
                fails(&format!("altered checkpoint {i} of segment {n} ({from})"));
                restore();
                cases += 1;
            }
        }
    }
    // Removing every checkpoint leaves nothing signed.
    for f in &records {
        std::fs::remove_file(f).unwrap();
    }
    fails("removal of every checkpoint");
    restore();
    assert!(cases > 40);
    assert!(verify_with(&d, &s.key, 500).is_ok());
}

#[tokio::test]
async fn a_truncated_log_passes_alone_but_fails_against_a_checkpoint_held_elsewhere() {
    let d = dirs();
    let s = sample(&d).await;
    // The auditor (or a witness) kept the newest checkpoint.
    let newest = std::fs::read_to_string(store::latest_checkpoint_path(&d.key)).unwrap();
    // The operator removes the newest segment (the whole second process).
    let seg2 = layout::segment_path(&d.log, 2);
    let saved = std::fs::read(&seg2).unwrap();
    for f in [
        seg2.clone(),
        layout::meta_path(&d.log, 2),
        layout::checkpoints_path(&d.log, 2),
        layout::idx_path(&d.log, 2),
        layout::keys_path(&d.log, 2),
    ] {
        let _ = std::fs::remove_file(f);
    }
    // Alone, a cleanly cut log looks complete: this is what witnesses are for.
    assert!(verify_with(&d, &s.key, 500).is_ok());
    let opts = VerifyOptions {
        log_keys: vec![s.key.clone()],
        grace_ms: 500,
        checkpoints: vec![newest.clone()],
        ..VerifyOptions::default()
    };
    let report = verify_dir(&d.log, &opts, |_| {});
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.contains("events were removed")),
        "{report:#?}"
    );
    // The node itself refuses to start on it: the checkpoint it published is kept with its
    // key.
    let clock = ManualClock::new(T0 + 10_000);
    let e = AuditLog::open(options(&d), Arc::new(clock)).err().unwrap();
    assert!(matches!(e, AuditError::Rollback(_)), "{e}");
    std::fs::write(seg2, saved).unwrap();
}

#[tokio::test]
async fn the_key_lives_apart_and_is_never_silently_replaced() {
    let d = dirs();
    let _ = sample(&d).await;
    let clock = ManualClock::new(T0 + 10_000);
    // Missing key with existing segments: refused, and nothing is created.
    let moved = d.key.with_extension("moved");
    std::fs::rename(&d.key, &moved).unwrap();
    let e = AuditLog::open(options(&d), Arc::new(clock.clone()))
        .err()
        .unwrap();
    assert!(matches!(e, AuditError::Key(_)), "{e}");
    assert!(e.to_string().contains("is missing but the log"), "{e}");
    assert!(!d.key.exists());
    // Another key: refused.
    let other = AuditSigner::generate("ok2cry.audit/n1");
    std::fs::write(&d.key, other.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let e = AuditLog::open(options(&d), Arc::new(clock.clone()))
        .err()
        .unwrap();
    assert!(matches!(e, AuditError::Key(_)), "{e}");
    assert!(
        e.to_string()
            .contains("not signed by the configured audit key"),
        "{e}"
    );
    std::fs::rename(&moved, &d.key).unwrap();
    // A key inside the log directory: refused.
    let mut inside = options(&d);
    inside.key_file = d.log.join("audit-key.pem");
    let e = AuditLog::open(inside, Arc::new(clock)).err().unwrap();
    assert!(e.to_string().contains("outside the log directory"), "{e}");
}

#[tokio::test]
async fn rotating_the_key_is_vouched_for_by_the_old_one() {
    let d = dirs();
    let s = sample(&d).await;
    let new_key = d.key.with_file_name("audit-key-2.pem");
    let signer = AuditSigner::generate("ok2cry.audit/n1");
    std::fs::write(&new_key, signer.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let mut o = options(&d);
    o.previous_key_file = Some(d.key.clone());
    o.key_file = new_key.clone();
    let clock = ManualClock::new(T0 + 20_000);
    let (log, rec) = AuditLog::open(o, Arc::new(clock.clone())).unwrap();
    assert!(rec.key_rotated);
    let k = key_id("d", clock.now_ms());
    log.append_durable(vec![created(&k, clock.now_ms() + 5_000)])
        .await
        .unwrap();
    log.append_durable(vec![destroyed(
        &k,
        DestroyReason::Revoked,
        clock.now_ms() + 5_000,
    )])
    .await
    .unwrap();
    log.append(EventBody::ServiceStopped {});
    log.close().await.unwrap();
    // An auditor who pinned the old key follows the rotation.
    let report = verify_with(&d, &s.key, 500);
    assert!(report.is_ok(), "{:#?}", report.violations);
    // The new key alone does not vouch for the history before it.
    let report = verify_with(&d, &signer.verifier().unwrap(), 500);
    assert!(!report.is_ok());
    // The next start with the new key alone is fine.
    let mut o = options(&d);
    o.key_file = new_key;
    let (log, rec) = AuditLog::open(o, Arc::new(clock)).unwrap();
    assert!(!rec.key_rotated);
    log.close().await.unwrap();
}

#[tokio::test]
async fn crash_recovery_dates_lost_keys_by_the_dead_process_and_verifies_after_any_downtime() {
    for downtime in [0u64, 5_000, 30_000, 3_600_000] {
        let d = dirs();
        let clock = ManualClock::new(T0);
        let (log, _) = open(&d, &clock);
        let live = key_id("live", T0);
        let done = key_id("done", T0);
        log.append_durable(vec![created(&live, T0 + 2_000)])
            .await
            .unwrap();
        log.append_durable(vec![created(&done, T0 + 60_000)])
            .await
            .unwrap();
        clock.advance_ms(500);
        log.append_durable(vec![destroyed(&done, DestroyReason::Revoked, T0 + 60_000)])
            .await
            .unwrap();
        log.flush().await;
        let key = log.log_key().clone();
        let last_seq = log.size() - 1;
        // The process dies (no close): half a line at the end, never acknowledged.
        drop(log);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(layout::segment_path(&d.log, 1))
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"seq\":99,\"time\":\"20").unwrap();
        clock.advance_ms(downtime);
        let (log, recovery) = open(&d, &clock);
        assert_eq!(recovery.repaired_bytes, 20);
        assert_eq!(recovery.process_lost, vec![live.clone()]);
        assert!(recovery.keks_lost == 0);
        log.append(EventBody::ServiceStopped {});
        log.close().await.unwrap();
        let report = verify_with(&d, &key, 500);
        assert!(
            report.is_ok(),
            "downtime {downtime}: {:#?}",
            report.violations
        );
        assert_eq!(
            report.totals.destroyed_by_reason.get("process_lost"),
            Some(&1)
        );
        // The destruction names the dead process's last event.
        let text = std::fs::read_to_string(layout::segment_path(&d.log, 2)).unwrap();
        let lost = text
            .lines()
            .filter_map(Event::parse_line)
            .find_map(|e| match e.body {
                EventBody::KeyDestroyed { lost: Some(l), .. } => Some(l),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            lost,
            Lost {
                seq: last_seq,
                time: Timestamp(T0 + 500)
            }
        );
    }
}

#[tokio::test]
async fn a_key_kept_past_its_expiry_by_a_live_process_is_a_violation_even_after_a_crash() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let (log, _) = open(&d, &clock);
    let k = key_id("kept", T0);
    log.append_durable(vec![created(&k, T0 + 1_000)])
        .await
        .unwrap();
    // The process lives on (it writes other events) well past the key's expiry...
    clock.advance_ms(10_000);
    let other = key_id("other", clock.now_ms());
    log.append_durable(vec![created(&other, clock.now_ms() + 60_000)])
        .await
        .unwrap();
    let key = log.log_key().clone();
    log.flush().await;
    drop(log);
    // ...then dies: the key is logged lost at its last event, 9 s after the expiry.
    let (log, _) = open(&d, &clock);
    log.close().await.unwrap();
    let report = verify_with(&d, &key, 1_000);
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.contains(&k) && v.contains("after its expiry")),
        "{:#?}",
        report.violations
    );
    // A lie in the evidence is caught: rewrite nothing, but verify a forged line by hand.
}

#[tokio::test]
async fn a_failing_disk_refuses_durable_appends_and_loses_nothing_queued() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let disk = Arc::new(FaultyDisk::default());
    let (log, _) = open_with(&d, &clock, disk.clone());
    let a = key_id("a", T0);
    let b = key_id("b", T0);
    log.append_durable(vec![created(&a, T0 + 60_000)])
        .await
        .unwrap();
    disk.set_fail(true);
    assert!(
        log.append_durable(vec![created(&b, T0 + 60_000)])
            .await
            .is_err()
    );
    assert!(!log.health().writable);
    log.append(destroyed(&a, DestroyReason::Expired, T0 + 60_000));
    log.flush().await;
    let text = std::fs::read_to_string(layout::segment_path(&d.log, 1)).unwrap();
    assert!(!text.contains(&b) && !text.contains("expired"));
    assert_eq!(log.health().unwritten, 1);
    disk.set_fail(false);
    // The queued event is retried and written; the refused one never appears.
    let mut written = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if std::fs::read_to_string(layout::segment_path(&d.log, 1))
            .unwrap()
            .contains("expired")
            && log.health().writable
        {
            written = true;
            break;
        }
    }
    assert!(written);
    assert!(log.health().writable);
    assert_eq!(log.health().unwritten, 0);
    let key = log.log_key().clone();
    log.append(EventBody::ServiceStopped {});
    log.close().await.unwrap();
    let report = verify_with(&d, &key, 500);
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert!(
        !std::fs::read_to_string(layout::segment_path(&d.log, 1))
            .unwrap()
            .contains(&b)
    );
}

#[tokio::test]
async fn closing_with_an_unwritable_disk_reports_what_could_not_be_logged() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let disk = Arc::new(FaultyDisk::default());
    let mut o = options(&d);
    o.disk = disk.clone();
    o.shutdown_retry = std::time::Duration::from_millis(300);
    let (log, _) = AuditLog::open(o, Arc::new(clock.clone())).unwrap();
    let a = key_id("a", T0);
    log.append_durable(vec![created(&a, T0 + 60_000)])
        .await
        .unwrap();
    disk.set_fail(true);
    log.append(destroyed(&a, DestroyReason::Shutdown, T0 + 60_000));
    log.append(EventBody::ServiceStopped {});
    let e = log.close().await.unwrap_err();
    assert!(matches!(e, AuditError::Unlogged(2)), "{e}");
    // The next start records the key as lost: the log stays complete.
    disk.set_fail(false);
    let (log, rec) = open(&d, &clock);
    assert_eq!(rec.process_lost, vec![a]);
    log.close().await.unwrap();
}

#[tokio::test]
async fn backpressure_refuses_durable_appends_beyond_the_queue() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let mut o = options(&d);
    o.max_queued = 0;
    let (log, _) = AuditLog::open(o, Arc::new(clock)).unwrap();
    assert!(matches!(
        log.append_durable(vec![created(&key_id("x", T0), T0 + 1)])
            .await,
        Err(AuditError::Busy)
    ));
    log.close().await.unwrap();
}

/// Power is lost at every point of a workload in turn: after recovery, every acknowledged
/// event is in the log, nothing unacknowledged is, and the log verifies.
#[tokio::test]
async fn power_loss_at_any_point_loses_nothing_acknowledged() {
    let mut points = 0;
    for budget in (0..200).step_by(7) {
        let d = dirs();
        std::fs::create_dir_all(&d.log).unwrap();
        let clock = ManualClock::new(T0);
        // A first life that ends cleanly, so the log exists.
        let (log, _) = open(&d, &clock);
        let key = log.log_key().clone();
        log.append(EventBody::ServiceStopped {});
        log.close().await.unwrap();
        let pl = Arc::new(PowerLoss::new(&[d.log.as_path(), d.key.parent().unwrap()]).unwrap());
        let Ok((log, _)) = AuditLog::open(
            {
                let mut o = options(&d);
                o.disk = pl.clone();
                o.segment_max_bytes = 2048;
                o
            },
            Arc::new(clock.clone()),
        ) else {
            continue;
        };
        pl.arm(budget);
        let mut acked = Vec::new();
        for i in 0..40 {
            let id = key_id(&format!("k{i}"), clock.now_ms());
            let ok = log
                .append_durable(vec![created(&id, clock.now_ms() + 60_000)])
                .await
                .is_ok();
            if ok {
                acked.push(id);
            }
            if i % 9 == 0 {
                log.checkpoint_now().await;
            }
            clock.advance_ms(3);
        }
        let _ = log.close().await;
        drop(log);
        pl.lose_power().unwrap();
        points += 1;
        // Recover on a healthy disk.
        let (log, rec) = open(&d, &clock);
        let text: String = layout::segment_numbers(&d.log)
            .unwrap()
            .iter()
            .map(|n| std::fs::read_to_string(layout::segment_path(&d.log, *n)).unwrap_or_default())
            .collect();
        for id in &acked {
            assert!(
                text.contains(&format!("\"type\":\"key_created\",\"key_id\":\"{id}\"")),
                "budget {budget}: acknowledged creation of {id} lost"
            );
            assert!(
                rec.process_lost.contains(id),
                "budget {budget}: {id} not closed out"
            );
        }
        log.append(EventBody::ServiceStopped {});
        log.close().await.unwrap();
        let report = verify_with(&d, &key, 500);
        assert!(report.is_ok(), "budget {budget}: {:#?}", report.violations);
    }
    assert!(points > 20);
}

#[tokio::test]
async fn receipts_verify_offline_and_fail_after_any_tampering() {
    let d = dirs();
    let s = sample(&d).await;
    let clock = ManualClock::new(T0 + 10_000);
    let (log, _) = open(&d, &clock);
    let receipt = log.receipt(&s.ids[1]).await.unwrap().unwrap();
    let keys = [s.key.clone()];
    let summary = verify_receipt(&receipt, &keys, &[], 0).unwrap();
    assert_eq!(summary.reason, "expired");
    assert_eq!(summary.lag_ms, 10);
    assert!(log.receipt("n1_unknown").await.unwrap().is_none());
    // A key whose events are in another segment than the log's current one.
    let c = verify_receipt(
        &log.receipt(&s.ids[2]).await.unwrap().unwrap(),
        &keys,
        &[],
        0,
    )
    .unwrap();
    assert_eq!(c.reason, "revoked");
    // A receipt for a key still alive does not prove destruction.
    let alive = key_id("alive", clock.now_ms());
    log.append_durable(vec![created(&alive, clock.now_ms() + 60_000)])
        .await
        .unwrap();
    let r = log.receipt(&alive).await.unwrap().unwrap();
    assert!(verify_receipt(&r, &keys, &[], 0).is_err());
    // Requiring a witness that did not cosign fails.
    let (w, _) = note::Cosigner::generate("witness.test/w1").unwrap();
    assert!(verify_receipt(&receipt, &keys, &[w.verifier().unwrap()], 1).is_err());

    let json = serde_json::to_string(&receipt).unwrap();
    let mut tampered_count = 0;
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
        assert!(
            verify_receipt(&parsed, &keys, &[], 0).is_err(),
            "tampering at {i} not detected"
        );
        tampered_count += 1;
    }
    assert!(tampered_count > 500, "{tampered_count}");
    log.close().await.unwrap();
}

#[tokio::test]
async fn a_lost_keys_receipt_carries_and_checks_its_evidence() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let (log, _) = open(&d, &clock);
    let k = key_id("lost", T0);
    log.append_durable(vec![created(&k, T0 + 5_000)])
        .await
        .unwrap();
    clock.advance_ms(100);
    log.append_durable(vec![created(&key_id("x", clock.now_ms()), T0 + 60_000)])
        .await
        .unwrap();
    let key = log.log_key().clone();
    drop(log);
    clock.advance_ms(60_000);
    let (log, _) = open(&d, &clock);
    let receipt = log.receipt(&k).await.unwrap().unwrap();
    assert_eq!(receipt.evidence.len(), 2);
    let summary = verify_receipt(&receipt, std::slice::from_ref(&key), &[], 0).unwrap();
    assert_eq!(summary.reason, "process_lost");
    assert_eq!(summary.lag_ms, 100 - 5_000);
    // Evidence that does not match the destruction is refused.
    let mut bad = receipt.clone();
    bad.evidence.swap(0, 1);
    assert!(verify_receipt(&bad, std::slice::from_ref(&key), &[], 0).is_err());
    let mut none = receipt;
    none.evidence.clear();
    assert!(verify_receipt(&none, &[key], &[], 0).is_err());
    log.close().await.unwrap();
}

/// Segments rotate; pages, proofs and tiles read from disk agree with the tree computed in
/// memory, across segment boundaries.
#[tokio::test]
async fn reads_proofs_and_tiles_from_disk_match_the_tree() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let mut o = options(&d);
    o.segment_max_bytes = 8 * 1024;
    let (log, _) = AuditLog::open(o, Arc::new(clock.clone())).unwrap();
    for i in 0..700 {
        let id = key_id(&format!("k{i}"), clock.now_ms());
        log.append_durable(vec![
            created(&id, clock.now_ms() + 60_000),
            destroyed(&id, DestroyReason::Revoked, clock.now_ms() + 60_000),
        ])
        .await
        .unwrap();
        if i % 50 == 0 {
            clock.advance_ms(1);
        }
    }
    log.flush().await;
    let numbers = layout::segment_numbers(&d.log).unwrap();
    assert!(numbers.len() > 5, "{numbers:?}");
    let all = log.events_after(None, 10_000).unwrap();
    assert_eq!(all.len() as u64, log.size());
    let leaves: Vec<Hash> = all
        .iter()
        .map(|l| merkle::leaf_hash(l.as_bytes()))
        .collect();
    for (i, l) in all.iter().enumerate() {
        assert_eq!(Event::parse_line(l).unwrap().seq, i as u64);
    }
    // Pages at every offset around tile and segment boundaries.
    for after in [
        None,
        Some(0),
        Some(254),
        Some(255),
        Some(256),
        Some(700),
        Some(1390),
    ] {
        let page = log.events_after(after, 37).unwrap();
        let from = after.map_or(0, |a| a as usize + 1);
        assert_eq!(page, all[from..(from + 37).min(all.len())].to_vec());
    }
    let size = leaves.len() as u64;
    for (old, new) in [
        (1u64, size),
        (255, 256),
        (256, 512),
        (300, 1111),
        (size, size),
        (777, size),
    ] {
        let proof = log.consistency_proof(old, new).unwrap().unwrap();
        assert_eq!(
            proof,
            merkle::consistency_proof(old as usize, &leaves[..new as usize]).unwrap()
        );
        assert!(merkle::verify_consistency(
            old,
            new,
            &merkle::root(&leaves[..old as usize]),
            &merkle::root(&leaves[..new as usize]),
            &proof
        ));
    }
    for index in [0u64, 1, 255, 256, 1000, size - 1] {
        let proof = log.inclusion_proof(index, size).unwrap().unwrap();
        assert_eq!(
            proof,
            merkle::inclusion_proof(index as usize, &leaves).unwrap()
        );
    }
    assert_eq!(log.root_at(size).unwrap().unwrap(), merkle::root(&leaves));
    // Tiles: level 0 is leaf hashes, level 1 the hashes of full level-0 tiles.
    let t0 = log.tile(0, 1, 256).unwrap();
    assert_eq!(t0, leaves[256..512].concat());
    let t1 = log.tile(1, 0, 5).unwrap();
    let expected: Vec<u8> = (0..5)
        .flat_map(|j| merkle::root(&leaves[j * 256..(j + 1) * 256]))
        .collect();
    assert_eq!(t1, expected);
    assert!(log.tile(1, 0, 6).is_err());
    let bundle = log.entry_bundle(0, 3).unwrap();
    let first_len = u16::from_be_bytes([bundle[0], bundle[1]]) as usize;
    assert_eq!(&bundle[2..2 + first_len], all[0].as_bytes());
    // A key's events are found through the key index, sealed segments included.
    let id = key_id("k3", T0 + 1);
    let found = log.key_events(&id).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    let key = log.log_key().clone();
    log.append(EventBody::ServiceStopped {});
    log.close().await.unwrap();
    assert!(verify_with(&d, &key, 500).is_ok());
}

#[tokio::test]
async fn since_verifies_only_what_is_new_and_keeps_the_rules() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let (log, _) = open(&d, &clock);
    let key = log.log_key().clone();
    let early = key_id("early", T0);
    log.append_durable(vec![created(&early, T0 + 600_000)])
        .await
        .unwrap();
    for i in 0..100 {
        let id = key_id(&format!("a{i}"), clock.now_ms());
        log.append_durable(vec![
            created(&id, clock.now_ms() + 1_000),
            destroyed(&id, DestroyReason::Revoked, clock.now_ms() + 1_000),
        ])
        .await
        .unwrap();
    }
    log.checkpoint_now().await.unwrap();
    let opts = VerifyOptions {
        log_keys: vec![key.clone()],
        grace_ms: 500,
        ..VerifyOptions::default()
    };
    let first = verify_dir(&d.log, &opts, |_| {});
    assert!(first.is_ok(), "{:#?}", first.violations);
    let state = serde_json::to_string(first.resume.as_ref().unwrap()).unwrap();
    // A day's increment: the early key is destroyed now.
    clock.advance_ms(5_000);
    for i in 0..50 {
        let id = key_id(&format!("b{i}"), clock.now_ms());
        log.append_durable(vec![
            created(&id, clock.now_ms() + 1_000),
            destroyed(&id, DestroyReason::Revoked, clock.now_ms() + 1_000),
        ])
        .await
        .unwrap();
    }
    log.append_durable(vec![destroyed(
        &early,
        DestroyReason::Revoked,
        T0 + 600_000,
    )])
    .await
    .unwrap();
    log.append(EventBody::ServiceStopped {});
    log.close().await.unwrap();
    let since = read_since(&state).unwrap();
    let report = verify_dir(
        &d.log,
        &VerifyOptions {
            since: Some(since),
            ..opts.clone()
        },
        |_| {},
    );
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert_eq!(report.totals.events, 102, "only the increment is read");
    assert_eq!(report.first_leaf, first.newest_checkpoint.unwrap());
    // From a bare checkpoint: the early key is unknown, a note rather than a violation.
    let note = first.resume.as_ref().unwrap().checkpoint.clone();
    let report = verify_dir(
        &d.log,
        &VerifyOptions {
            since: Some(Since::Checkpoint(note)),
            ..opts.clone()
        },
        |_| {},
    );
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert!(report.notes.iter().any(|n| n.contains(&early)));
    // A state from another log (its checkpoint does not verify) is refused.
    let mut forged: verify::ResumeState = serde_json::from_str(&state).unwrap();
    let mut lines: Vec<String> = forged.checkpoint.split('\n').map(str::to_owned).collect();
    lines[1] = (lines[1].parse::<u64>().unwrap() - 1).to_string();
    forged.checkpoint = lines.join("\n");
    let report = verify_dir(
        &d.log,
        &VerifyOptions {
            since: Some(Since::State(forged)),
            ..opts
        },
        |_| {},
    );
    assert!(!report.is_ok());
}

/// Every suffix cut from a log (one line, two, … all but the first) is detected by an auditor
/// who holds the newest checkpoint (saved, or fetched from a witness), whether or not the
/// checkpoint records beyond the cut are removed too.
#[tokio::test]
async fn every_suffix_truncation_is_detected_against_a_held_checkpoint() {
    let d = dirs();
    let s = sample(&d).await;
    let held = std::fs::read_to_string(store::latest_checkpoint_path(&d.key)).unwrap();
    let seg = layout::segment_path(&d.log, 2);
    let records = layout::checkpoints_path(&d.log, 2);
    let original = lines(&seg);
    let original_records = lines(&records);
    let first = Event::parse_line(&original[0]).unwrap().seq;
    let opts = VerifyOptions {
        log_keys: vec![s.key.clone()],
        grace_ms: 500,
        checkpoints: vec![held],
        ..VerifyOptions::default()
    };
    assert!(verify_dir(&d.log, &opts, |_| {}).is_ok());
    for cut in 1..original.len() {
        let kept = &original[..original.len() - cut];
        write_lines(&seg, kept);
        let size = first + kept.len() as u64;
        for drop_records in [false, true] {
            let recs: Vec<String> = original_records
                .iter()
                .filter(|l| {
                    !drop_records
                        || serde_json::from_str::<serde_json::Value>(l).unwrap()["size"]
                            .as_u64()
                            .unwrap()
                            <= size
                })
                .cloned()
                .collect();
            write_lines(&records, &recs);
            let report = verify_dir(&d.log, &opts, |_| {});
            assert!(
                report
                    .violations
                    .iter()
                    .any(|v| v.contains("events were removed")),
                "cut {cut} (records dropped: {drop_records}) not detected: {:#?}",
                report.violations
            );
        }
    }
    write_lines(&seg, &original);
    write_lines(&records, &original_records);
    assert!(verify_dir(&d.log, &opts, |_| {}).is_ok());
}

#[tokio::test]
async fn a_kek_created_before_the_verified_range_is_a_note_like_a_key() {
    let d = dirs();
    let clock = ManualClock::new(T0);
    let (log, _) = open(&d, &clock);
    let key = log.log_key().clone();
    let kek_created = EventBody::KekCreated {
        kek_id: 7,
        wrap_until: Timestamp(T0 + 60_000),
        not_after: Timestamp(T0 + 120_000),
    };
    let kek_destroyed = || EventBody::KekDestroyed {
        kek_id: 7,
        keys_wrapped: 0,
        reason: KekDestroyReason::Expired,
        lost: None,
    };
    log.append_durable(vec![kek_created]).await.unwrap();
    log.checkpoint_now().await.unwrap();
    let opts = VerifyOptions {
        log_keys: vec![key.clone()],
        grace_ms: 500,
        ..VerifyOptions::default()
    };
    let first = verify_dir(&d.log, &opts, |_| {});
    assert!(first.is_ok(), "{:#?}", first.violations);
    let note = first.resume.as_ref().unwrap().checkpoint.clone();
    // The KEK ends its life after the checkpoint the auditor starts from.
    clock.advance_ms(120_000);
    log.append_durable(vec![kek_destroyed()]).await.unwrap();
    log.checkpoint_now().await.unwrap();
    let from_checkpoint = VerifyOptions {
        since: Some(Since::Checkpoint(note)),
        ..opts.clone()
    };
    let report = verify_dir(&d.log, &from_checkpoint, |_| {});
    assert!(report.is_ok(), "{:#?}", report.violations);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("KEK 7 destroyed, created before the verified range")),
        "{:#?}",
        report.notes
    );
    // The whole log knows the KEK: no note, no violation.
    let whole = verify_dir(&d.log, &opts, |_| {});
    assert!(whole.is_ok(), "{:#?}", whole.violations);
    assert!(!whole.notes.iter().any(|n| n.contains("KEK 7")));
    // Destroyed twice within the range stays a violation, lenient or not.
    log.append_durable(vec![kek_destroyed()]).await.unwrap();
    log.checkpoint_now().await.unwrap();
    for o in [&from_checkpoint, &opts] {
        let report = verify_dir(&d.log, o, |_| {});
        assert!(
            report
                .violations
                .iter()
                .any(|v| v.contains("KEK 7 destroyed but not alive")),
            "{:#?}",
            report.violations
        );
    }
    log.close().await.unwrap();
}
