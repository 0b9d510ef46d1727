//! The archive end to end on real files: shipped and read back, local copies removed only
//! once archived and re-checked, a corrupted object caught, verification from the archive
//! alone and under the local directory, recovery after local removal, archive retention.

use super::*;
use crate::audit::layout;
use crate::audit::note::NoteVerifier;
use crate::audit::source::LocalDir;
use crate::audit::tests::{Dirs, T0, created, destroyed, dirs, key_id, opened, options};
use crate::audit::verify::{VerifyOptions, verify_source};
use crate::audit::{AuditError, AuditLog, DestroyReason, Report};
use crate::clock::ManualClock;
use std::sync::Arc;

const DAY: u64 = 24 * 3600 * 1000;

/// A log of small segments: `rounds` keys created, opened and destroyed, a checkpoint after
/// each round; several sealed segments and an open one.
async fn busy_log(d: &Dirs, clock: &ManualClock, rounds: usize) -> AuditLog {
    let mut o = options(d);
    o.segment_max_bytes = 4096;
    let (log, _) = AuditLog::open(o, Arc::new(clock.clone())).unwrap();
    for i in 0..rounds {
        let now = crate::clock::Clock::now_ms(clock);
        let k = key_id(&format!("k{i}"), now);
        log.append_durable(vec![created(&k, now + 60_000)])
            .await
            .unwrap();
        clock.advance_ms(5);
        log.append_durable(vec![
            opened(&k),
            destroyed(&k, DestroyReason::Consumed, now + 60_000),
        ])
        .await
        .unwrap();
        log.checkpoint_now().await.unwrap();
    }
    log
}

fn archiver(d: &Dirs, archive: &std::path::Path, clock: &ManualClock, r: Retention) -> Archiver {
    let store = ArchiveStore::open(Location::Dir(archive.to_path_buf()), None, None).unwrap();
    Archiver::new(
        d.log.clone(),
        "ok2cry.audit/n1".into(),
        Arc::new(store),
        r,
        Arc::new(clock.clone()),
    )
}

fn sealed(d: &Dirs) -> Vec<u64> {
    layout::segment_numbers(&d.log)
        .unwrap()
        .into_iter()
        .filter(|&n| layout::SegmentMeta::read(&d.log, n).is_some_and(|m| m.sealed.is_some()))
        .collect()
}

/// Verifies on a blocking thread (an archive source blocks on its requests).
async fn verify(src: impl crate::audit::source::LogSource + 'static, key: &NoteVerifier) -> Report {
    let opts = VerifyOptions {
        log_keys: vec![key.clone()],
        grace_ms: 1000,
        ..VerifyOptions::default()
    };
    tokio::task::spawn_blocking(move || verify_source(&src, &opts, |_| {}))
        .await
        .unwrap()
}

fn archive_source(dir: &std::path::Path) -> ArchiveSource {
    let store = ArchiveStore::open(Location::Dir(dir.to_path_buf()), None, None).unwrap();
    ArchiveSource::new(Arc::new(store), tokio::runtime::Handle::current())
}

const KEEP_ONE_DAY: Retention = Retention {
    keep_local_ms: Some(DAY),
    keep_local_bytes: None,
    archive_ms: Some(366 * DAY),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_checked_removed_locally_verified_from_the_archive_and_expired() {
    let d = dirs();
    let archive = d.log.with_file_name("archive");
    let clock = ManualClock::new(T0);
    let log = busy_log(&d, &clock, 60).await;
    let sealed_now = sealed(&d);
    assert!(sealed_now.len() >= 3, "{sealed_now:?}");
    let key = log.log_key().clone();
    let a = archiver(&d, &archive, &clock, KEEP_ONE_DAY);

    // Archived and checked, but young: every local copy stays.
    let first = a.pass().await;
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(first.archived, sealed_now);
    assert!(first.removed_local.is_empty());
    assert_eq!(first.unarchived, 0);
    for &n in &sealed_now {
        let mark = Archived::read(&d.log, n).unwrap();
        let zst = std::fs::read(archive.join(events_object(n))).unwrap();
        assert_eq!(mark.zst_bytes, zst.len() as u64);
        let raw = std::fs::read(layout::segment_path(&d.log, n)).unwrap();
        assert_eq!(zstd::decode_all(&zst[..]).unwrap(), raw);
        assert!(zst.len() < raw.len());
    }
    assert_eq!(
        std::fs::read_to_string(archive.join("ORIGIN")).unwrap(),
        "ok2cry.audit/n1\n"
    );
    // A second pass has nothing to do.
    let again = a.pass().await;
    assert!(again.archived.is_empty() && again.removed_local.is_empty());

    // Two days on: the archived segments leave the node; the current one never does.
    clock.advance_ms(2 * DAY);
    let second = a.pass().await;
    assert!(second.failures.is_empty(), "{:?}", second.failures);
    assert_eq!(second.removed_local, sealed_now);
    for &n in &sealed_now {
        assert!(!layout::segment_path(&d.log, n).exists());
        assert!(layout::meta_path(&d.log, n).exists());
    }
    // Readers say "archived" for what is gone, and still read what is local.
    assert!(matches!(
        log.events_after(None, 10),
        Err(AuditError::Archived(n)) if n == sealed_now[0]
    ));
    let size = log.size();
    assert_eq!(log.events_after(Some(size - 2), 10).unwrap().len(), 1);

    // The archive alone verifies (every sealed segment, from leaf 0).
    let alone = verify(archive_source(&archive), &key).await;
    assert!(alone.is_ok(), "{:?}", alone.violations);
    assert_eq!(alone.first_leaf, 0);
    assert_eq!(alone.segments, sealed_now.len());
    // The local directory alone verifies what it still holds, and says where it starts.
    let local = verify(LocalDir::new(&d.log), &key).await;
    assert!(local.is_ok(), "{:?}", local.violations);
    assert!(local.first_leaf > 0);
    // Both together: the whole log.
    let both = verify(
        Layered::new(LocalDir::new(&d.log), archive_source(&archive)),
        &key,
    )
    .await;
    assert!(both.is_ok(), "{:?}", both.violations);
    assert_eq!(both.first_leaf, 0);
    assert_eq!(both.segments, sealed_now.len() + 1);

    // A restart re-verifies what is local and goes on.
    log.close().await.unwrap();
    let (log, recovery) = AuditLog::open(options(&d), Arc::new(clock.clone())).unwrap();
    assert!(recovery.size >= size);
    log.close().await.unwrap();

    // Past the archive's retention: every sealed segment (the restart sealed two more) is
    // archived, checked, removed locally and, being older than the retention, deleted; but
    // the newest segment of the directory always stays.
    let mut sealed_then = sealed(&d);
    assert!(sealed_then.len() > sealed_now.len() + 1);
    let newest = sealed_then.pop().unwrap();
    clock.advance_ms(400 * DAY);
    let third = a.pass().await;
    assert!(third.failures.is_empty(), "{:?}", third.failures);
    assert_eq!(third.expired, sealed_then);
    for &n in &sealed_then {
        assert!(!archive.join(events_object(n)).exists());
        assert!(!layout::meta_path(&d.log, n).exists());
    }
    assert!(layout::segment_path(&d.log, newest).exists());
    // What remains still verifies, and the log still opens.
    let local = verify(LocalDir::new(&d.log), &key).await;
    assert!(local.is_ok(), "{:?}", local.violations);
    let (log, _) = AuditLog::open(options(&d), Arc::new(clock.clone())).unwrap();
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_archived_object_is_caught_and_the_local_copy_kept() {
    let d = dirs();
    let archive = d.log.with_file_name("archive");
    let clock = ManualClock::new(T0);
    let log = busy_log(&d, &clock, 30).await;
    let sealed_now = sealed(&d);
    assert!(!sealed_now.is_empty());
    let a = archiver(&d, &archive, &clock, KEEP_ONE_DAY);
    assert!(a.pass().await.failures.is_empty());

    // The archived copy of the first segment is altered; when its local copy is due to go,
    // the re-check catches it.
    let n = sealed_now[0];
    let object = archive.join(events_object(n));
    let mut zst = std::fs::read(&object).unwrap();
    let mid = zst.len() / 2;
    zst[mid] ^= 1;
    std::fs::write(&object, &zst).unwrap();
    clock.advance_ms(2 * DAY);
    let caught = a.pass().await;
    assert_eq!(caught.failures.len(), 1, "{caught:?}");
    assert!(caught.failures[0].contains("missing or altered"));
    assert!(caught.removed_local.is_empty());
    assert!(layout::segment_path(&d.log, n).exists());
    assert!(Archived::read(&d.log, n).is_none());

    // The next pass archives it again, checks it, and only then lets the local copy go.
    let healed = a.pass().await;
    assert!(healed.failures.is_empty(), "{:?}", healed.failures);
    assert_eq!(healed.archived, vec![n]);
    assert_eq!(healed.removed_local, sealed_now);

    log.close().await.unwrap();
    let key = log.log_key().clone();
    let report = verify(archive_source(&archive), &key).await;
    assert!(report.is_ok(), "{:?}", report.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_segment_that_changed_since_sealing_is_not_archived() {
    let d = dirs();
    let archive = d.log.with_file_name("archive");
    let clock = ManualClock::new(T0);
    let log = busy_log(&d, &clock, 30).await;
    let n = sealed(&d)[0];
    let path = layout::segment_path(&d.log, n);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let a = archiver(&d, &archive, &clock, KEEP_ONE_DAY);
    let report = a.pass().await;
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].contains("does not match the hash recorded"));
    assert!(report.archived.is_empty());
    assert!(!archive.join(events_object(n)).exists());
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_holding_another_log_is_refused() {
    let d = dirs();
    let archive = d.log.with_file_name("archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("FORMAT"), layout::FORMAT).unwrap();
    std::fs::write(archive.join("ORIGIN"), "ok2cry.audit/another-node\n").unwrap();
    let clock = ManualClock::new(T0);
    let log = busy_log(&d, &clock, 30).await;
    let report = archiver(&d, &archive, &clock, KEEP_ONE_DAY).pass().await;
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].contains("another log"));
    assert!(report.archived.is_empty());
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_limit_removes_the_oldest_archived_first_and_never_an_unarchived_one() {
    let d = dirs();
    let archive = d.log.with_file_name("archive");
    let clock = ManualClock::new(T0);
    let log = busy_log(&d, &clock, 60).await;
    let sealed_now = sealed(&d);
    assert!(sealed_now.len() >= 3);
    // A limit of one byte: everything archived may go, but only what is archived.
    let by_size = Retention {
        keep_local_ms: None,
        keep_local_bytes: Some(1),
        archive_ms: None,
    };
    // The archive cannot be written (a file where its directory should be): nothing is
    // archived, so nothing is removed, however small the limit.
    std::fs::write(&archive, b"not a directory").unwrap();
    let blocked = archiver(&d, &archive, &clock, by_size).pass().await;
    assert!(!blocked.failures.is_empty());
    assert!(blocked.removed_local.is_empty());
    assert_eq!(blocked.unarchived, sealed_now.len());
    for &n in &sealed_now {
        assert!(layout::segment_path(&d.log, n).exists());
    }
    std::fs::remove_file(&archive).unwrap();
    let report = archiver(&d, &archive, &clock, by_size).pass().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.removed_local, sealed_now);
    log.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosignatures_added_after_archiving_are_uploaded_again_for_a_day() {
    let d = dirs();
    let archive = d.log.with_file_name("archive");
    let clock = ManualClock::new(T0);
    let log = busy_log(&d, &clock, 30).await;
    let n = sealed(&d)[0];
    let a = archiver(&d, &archive, &clock, KEEP_ONE_DAY);
    assert!(a.pass().await.failures.is_empty());
    let local = layout::checkpoints_path(&d.log, n);
    let archived = archive.join(checkpoints_object(n));
    assert_eq!(
        std::fs::read(&local).unwrap(),
        std::fs::read(&archived).unwrap()
    );
    // A cosigned copy of a record is appended (as the witness client does).
    let mut text = std::fs::read_to_string(&local).unwrap();
    let first = text.lines().next().unwrap().to_owned();
    text.push_str(&first);
    text.push('\n');
    std::fs::write(&local, &text).unwrap();
    let report = a.pass().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.refreshed, vec![n]);
    assert_eq!(std::fs::read_to_string(&archived).unwrap(), text);
    assert!(a.pass().await.refreshed.is_empty());
    // After a day, records are no longer compared.
    clock.advance_ms(DAY + 1);
    text.push_str(&first);
    text.push('\n');
    std::fs::write(&local, &text).unwrap();
    let late = a.pass().await;
    assert!(late.refreshed.is_empty(), "{late:?}");
    log.close().await.unwrap();
}

#[test]
fn event_object_names_round_trip() {
    assert_eq!(events_object_number(&events_object(42)), Some(42));
    assert_eq!(events_object_number("segment-000042.meta.json"), None);
    assert_eq!(events_object_number("segment-x.jsonl.zst"), None);
    assert_eq!(
        layout::segment_number_in("segment-000042.meta.json"),
        Some(42)
    );
    assert_eq!(layout::segment_number_in("segment-7.jsonl"), Some(7));
    assert_eq!(layout::segment_number_in("segment-.jsonl"), None);
    assert_eq!(layout::segment_number_in("level-1.bin"), None);
}
