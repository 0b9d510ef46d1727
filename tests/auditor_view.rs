//! The auditor's page in a real browser: Debian's Chromium, driven by playwright-core
//! (`tests/interop/auditor.mjs`), verifies logs with WebCrypto and must agree with
//! `ok2cry audit verify` (the reference) on every fixture:
//!
//! - logs written by the audit library (three processes, a crash, a KEK rotation, an audit key
//!   rotation, every record cosigned by a witness), honest and altered in every way the
//!   verifier names, and a signed log that breaks the destruction policy: the page's verdict,
//!   reasons and report are the command line's;
//! - a dev node over mutual TLS with a witness: `/audit/` for the auditor role only, a green
//!   verdict with the right counts, a key's events and a receipt the command line accepts; then
//!   `ok2cry audit export`, over a plain HTTP server and from disk (`file://`).
//!
//! Fails — never skips — when Node, playwright-core or Chromium is missing. Screenshots go to a
//! temporary folder, or to `$OK2CRY_SCREENSHOTS` (the ones in docs/ were made with
//! `OK2CRY_SCREENSHOTS=docs cargo test --test auditor_view`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

mod common;

use ok2cry::audit::event::service_key_id;
use ok2cry::audit::layout::{self, CheckpointRecord};
use ok2cry::audit::note::{AuditSigner, Cosigner, Note};
use ok2cry::audit::{
    AuditLog, AuditOptions, DestroyReason, EventBody, KekDestroyReason, OpenFailure, Timestamp,
};
use ok2cry::clock::{Clock, ManualClock};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ok2cry"))
}

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn browser_ready() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "this test needs Debian's Chromium: run scripts/test (it installs what the tests need)"
    );
    common::require_node_packages(&interop(), &["playwright-core"]);
}

/// Runs the browser on a plan; returns what each visit showed.
async fn drive(plan: Value, scratch: &Path) -> Vec<Value> {
    let path = scratch.join("plan.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(interop().join("auditor.mjs"))
            .arg("--plan")
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "browser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let visits = result["visits"].as_array().unwrap().clone();
    for v in &visits {
        assert!(
            v.get("failure").is_none(),
            "{}: {}",
            v["name"],
            v["failure"]
        );
        assert_eq!(v["errors"], json!([]), "{}: errors in the page", v["name"]);
    }
    visits
}

/// A folder over plain HTTP on 127.0.0.1:0, as `python3 -m http.server` would serve it.
async fn serve_folder(root: PathBuf) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(root));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn screenshot_dir(scratch: &Path) -> PathBuf {
    match std::env::var_os("OK2CRY_SCREENSHOTS") {
        Some(d) => {
            let d = PathBuf::from(d);
            let d = if d.is_absolute() {
                d
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(d)
            };
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        None => scratch.to_owned(),
    }
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"),
        "{} is not a screenshot",
        path.display()
    );
}

/// What an auditor trusts, given to both the command line and the page.
#[derive(Clone)]
struct Trust {
    /// `--key`: a vkey, or the path of a PEM file.
    cli_key: String,
    /// What is pasted in the page (the vkey, or the PEM text).
    page_key: String,
    /// A file the page loads the audit key from, with its "Load from a file" control.
    page_key_file: Option<PathBuf>,
    witnesses: Vec<String>,
    quorum: Option<usize>,
    grace: u64,
    held: Vec<String>,
}

impl Trust {
    fn vkey(vkey: &str) -> Self {
        Self {
            cli_key: vkey.to_owned(),
            page_key: vkey.to_owned(),
            page_key_file: None,
            witnesses: Vec::new(),
            quorum: None,
            grace: 1000,
            held: Vec::new(),
        }
    }

    fn page(&self) -> Value {
        json!({
            "logKeys": self.page_key,
            "logKeysFile": self.page_key_file,
            "witnessKeys": self.witnesses.join("\n"),
            "quorum": self.quorum.map(|q| q.to_string()).unwrap_or_default(),
            "grace": self.grace.to_string(),
            "held": self.held.join("\n"),
        })
    }
}

/// `ok2cry audit verify --json` on `log`: (success, report).
fn cli_verify(log: &Path, t: &Trust, scratch: &Path) -> (bool, Value) {
    let mut cmd = bin();
    cmd.args(["audit", "verify", "--dir"])
        .arg(log)
        .arg("--key")
        .arg(&t.cli_key)
        .args(["--grace-ms", &t.grace.to_string(), "--json"]);
    for w in &t.witnesses {
        cmd.args(["--witness", w]);
    }
    if let Some(q) = t.quorum {
        cmd.args(["--quorum", &q.to_string()]);
    }
    for (k, note) in t.held.iter().enumerate() {
        let f = scratch.join(format!("held-{k}.txt"));
        std::fs::write(&f, note).unwrap();
        cmd.arg("--checkpoint").arg(f);
    }
    let out = cmd.output().unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

/// The report with its lists sorted (the command line lists keys left alive in hash order) and
/// the paths the messages name (the CLI's directory, the page's `log`) cut off.
fn normalized(report: &Value) -> Value {
    let mut r = report.clone();
    for field in ["violations", "notes"] {
        let mut list: Vec<String> = r[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let s = v.as_str().unwrap();
                match s.find(": no FORMAT file: ") {
                    Some(at) => s[at..].to_owned(),
                    None => s.to_owned(),
                }
            })
            .collect();
        list.sort();
        r[field] = json!(list);
    }
    r
}

/// Copies a log directory's files (not subfolders).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Rewrites an export's `log/index.json` after its files were changed by hand.
fn relist(log: &Path) {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(log)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .filter(|(n, _)| ok2cry::http::auditor_view::route::is_log_file(n))
        .collect();
    files.sort();
    let files: Vec<Value> = files
        .iter()
        .map(|(n, s)| json!({"name": n, "size": s}))
        .collect();
    std::fs::write(
        log.join("index.json"),
        json!({ "files": files }).to_string(),
    )
    .unwrap();
}

/// Cuts a log to its first `size` events, as an operator hiding its tail would: later segments
/// removed, the last one cut, the checkpoint records beyond the cut removed.
fn truncate_log(log: &Path, size: u64) {
    for n in layout::segment_numbers(log).unwrap() {
        let first = layout::SegmentMeta::read(log, n).unwrap().first;
        if first >= size {
            for f in [
                layout::segment_path(log, n),
                layout::meta_path(log, n),
                layout::checkpoints_path(log, n),
            ] {
                let _ = std::fs::remove_file(f);
            }
            continue;
        }
        let f = layout::segment_path(log, n);
        let mut l = lines(&f);
        l.truncate(usize::try_from(size - first).unwrap().min(l.len()));
        write_lines(&f, &l);
        let records = layout::checkpoints_path(log, n);
        if records.exists() {
            let kept: Vec<String> = lines(&records)
                .into_iter()
                .filter(|r| {
                    serde_json::from_str::<Value>(r).unwrap()["size"]
                        .as_u64()
                        .unwrap()
                        <= size
                })
                .collect();
            write_lines(&records, &kept);
        }
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Logs written by the audit library, with a manual clock.

const T0: u64 = 1_900_000_000_000;
const CARD: &str = "ok2cry://principal/card-api";
const PROXY: &str = "ok2cry://principal/proxy";
const BANK: &str = "ok2cry://principal/bank";
const MALLORY: &str = "ok2cry://principal/mallory";

fn key_id(tag: u64, created: u64) -> String {
    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&tag.to_be_bytes());
    service_key_id("n1", created, &random)
}

fn created(id: &str, who: &str, expires: u64, kek: u64, max_opens: u32) -> EventBody {
    EventBody::KeyCreated {
        key_id: id.into(),
        jwk_thumbprint: format!("tp-{}", &id[3..11]),
        owner: who.into(),
        opener: who.into(),
        expires_at: Timestamp(expires),
        kek_id: kek,
        label: (kek == 2).then(|| "card 42, set PIN".to_owned()),
        max_opens,
    }
}

fn opened(id: &str, who: &str, used: u32, max: u32) -> EventBody {
    EventBody::KeyOpened {
        key_id: id.into(),
        opener: who.into(),
        opens_used: used,
        opens_remaining: max.saturating_sub(used),
    }
}

fn destroyed(id: &str, reason: DestroyReason, expires: u64) -> EventBody {
    EventBody::KeyDestroyed {
        key_id: id.into(),
        reason,
        expires_at: Timestamp(expires),
        lost: None,
    }
}

fn kek_created(kek: u64, wrap_until: u64, not_after: u64) -> EventBody {
    EventBody::KekCreated {
        kek_id: kek,
        wrap_until: Timestamp(wrap_until),
        not_after: Timestamp(not_after),
    }
}

fn kek_destroyed(kek: u64, wrapped: u64, reason: KekDestroyReason) -> EventBody {
    EventBody::KekDestroyed {
        kek_id: kek,
        keys_wrapped: wrapped,
        reason,
        lost: None,
    }
}

fn options(dir: &Path, key: &Path) -> AuditOptions {
    let mut o = AuditOptions::new(dir.to_owned(), "n1", key.to_owned());
    // Small segments: the log spans several files, as a long-running node's does.
    o.segment_max_bytes = 4096;
    o.process.version = "0.1.0-test".into();
    o.process.build_digest = "5e1f".repeat(16);
    o
}

/// Appends events at their times, signing a checkpoint whenever 20 s of log time passed.
async fn play(log: &AuditLog, clock: &ManualClock, mut events: Vec<(u64, EventBody)>, until: u64) {
    events.sort_by_key(|(t, _)| *t);
    let mut next_checkpoint = clock.now_ms() + 20_000;
    for (t, e) in events.into_iter().filter(|(t, _)| *t < until) {
        if t >= next_checkpoint {
            log.checkpoint_now().await;
            next_checkpoint = t + 20_000;
        }
        let now = clock.now_ms();
        if t > now {
            clock.advance_ms(t - now);
        }
        log.append_durable(vec![e]).await.unwrap();
    }
}

/// Every checkpoint record cosigned by `witness`, as the node stores cosignatures: a copy of
/// the record with the signature line added, appended to the same file.
fn cosign_all(dir: &Path, witness: &Cosigner) {
    for n in layout::segment_numbers(dir).unwrap() {
        let path = layout::checkpoints_path(dir, n);
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        for r in CheckpointRecord::read_all(&path)
            .into_iter()
            .map(Result::unwrap)
        {
            let mut note = Note::parse(&r.note).unwrap();
            note.merge([witness.cosign(&note.text, T0 / 1000 + 600).unwrap()]);
            let cosigned = CheckpointRecord {
                note: note.render(),
                ..r
            };
            text.push_str(&cosigned.to_line());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
    }
}

struct Rich {
    dir: PathBuf,
    /// The log as it was after its second process (for a rollback).
    snapshot: PathBuf,
    vkey: String,
    pem: PathBuf,
    rotated_vkey: String,
    witness_vkey: String,
    /// The newest checkpoint signed by the first key, cosigned by the witness.
    witnessed: String,
    witnessed_size: u64,
    consumed_twice: String,
    lost: String,
    revoked_after_rotation: String,
}

/// Three processes of node n1: the first creates, opens, refuses and destroys keys under two
/// KEKs, then dies with keys alive; the second records them lost, works and stops cleanly; the
/// third rotates the audit key. Every checkpoint is then cosigned by a witness.
async fn rich_log(root: &Path) -> Rich {
    let dir = root.join("log");
    let keys = root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key1 = keys.join("audit-key.pem");
    let (witness, _) = Cosigner::generate("witness.test/w1").unwrap();
    let clock = ManualClock::new(T0);

    // Process 1.
    let (log, _) = AuditLog::open(options(&dir, &key1), Arc::new(clock.clone())).unwrap();
    let vkey = log.log_key().vkey();
    let mut ev: Vec<(u64, EventBody)> = vec![
        (
            T0 + 5,
            EventBody::ServiceStarted {
                signing_keys: vec!["sig-1".into()],
            },
        ),
        (T0 + 5, kek_created(1, T0 + 60_000, T0 + 100_000)),
        (T0 + 60_000, kek_created(2, T0 + 120_000, T0 + 170_000)),
    ];
    let principals = [CARD, PROXY, BANK];
    let lags = [3u64, 12, 40, 180, 650, 7, 90];
    let mut wrapped_by_1 = 0;
    let mut consumed_twice = String::new();
    for i in 0..24u64 {
        let at = T0 + 1_000 + i * 5_000;
        let who = principals[(i % 3) as usize];
        let exp = at + 20_000 + (i % 3) * 10_000;
        let kek = if at < T0 + 60_000 { 1 } else { 2 };
        if kek == 1 {
            wrapped_by_1 += 1;
        }
        let max = 1 + (i % 2) as u32;
        let id = key_id(i, at);
        ev.push((at, created(&id, who, exp, kek, max)));
        let lag = lags[(i % 7) as usize];
        match i % 5 {
            0 => {
                for k in 0..max {
                    ev.push((
                        at + 2_000 + u64::from(k) * 500,
                        opened(&id, who, k + 1, max),
                    ));
                }
                ev.push((
                    at + 2_000 + u64::from(max) * 500,
                    destroyed(&id, DestroyReason::Consumed, exp),
                ));
                if max == 2 {
                    consumed_twice = id.clone();
                }
            }
            1 => ev.push((exp + lag, destroyed(&id, DestroyReason::Expired, exp))),
            2 => ev.push((at + 4_000, destroyed(&id, DestroyReason::Revoked, exp))),
            3 => {
                ev.push((
                    at + 1_500,
                    EventBody::OpenFailed {
                        key_id: id.clone(),
                        principal: MALLORY.into(),
                        failures: 1,
                        reason: OpenFailure::Forbidden,
                    },
                ));
                ev.push((exp + lag, destroyed(&id, DestroyReason::Expired, exp)));
            }
            _ => {
                ev.push((at + 1_000, opened(&id, who, 1, max)));
                if max == 1 {
                    ev.push((at + 1_001, destroyed(&id, DestroyReason::Consumed, exp)));
                } else {
                    ev.push((exp + lag, destroyed(&id, DestroyReason::Expired, exp)));
                }
            }
        }
    }
    ev.push((
        T0 + 100_005,
        kek_destroyed(1, wrapped_by_1, KekDestroyReason::Expired),
    ));
    // The process dies at T0 + 130 s: whatever was to happen later never does.
    play(&log, &clock, ev, T0 + 130_000).await;
    log.flush().await;
    drop(log);

    // Process 2, after 5 s of downtime: the keys alive at the crash are recorded lost.
    clock.advance_ms(5_000);
    let (log, recovery) = AuditLog::open(options(&dir, &key1), Arc::new(clock.clone())).unwrap();
    assert!(!recovery.process_lost.is_empty());
    assert_eq!(recovery.keks_lost, 1);
    let lost = recovery.process_lost[0].clone();
    let p2 = clock.now_ms();
    let mut ev = vec![
        (
            p2 + 1,
            EventBody::ServiceStarted {
                signing_keys: vec!["sig-2".into()],
            },
        ),
        (p2 + 1, kek_created(11, p2 + 60_000, p2 + 120_000)),
    ];
    let mut alive = Vec::new();
    for j in 0..6u64 {
        let at = p2 + 1_000 + j * 4_000;
        let who = principals[(j % 3) as usize];
        let id = key_id(100 + j, at);
        match j % 3 {
            0 => {
                let exp = at + 10_000;
                ev.push((at, created(&id, who, exp, 11, 1)));
                ev.push((at + 1_500, opened(&id, who, 1, 1)));
                ev.push((at + 1_501, destroyed(&id, DestroyReason::Consumed, exp)));
            }
            1 => {
                let exp = at + 10_000;
                ev.push((at, created(&id, who, exp, 11, 1)));
                ev.push((exp + 25, destroyed(&id, DestroyReason::Expired, exp)));
            }
            _ => {
                let exp = at + 60_000;
                ev.push((at, created(&id, who, exp, 11, 1)));
                alive.push((id, exp));
            }
        }
    }
    let stop = p2 + 40_000;
    for (id, exp) in &alive {
        ev.push((stop, destroyed(id, DestroyReason::Shutdown, *exp)));
    }
    ev.push((stop, kek_destroyed(11, 6, KekDestroyReason::Shutdown)));
    ev.push((stop, EventBody::ServiceStopped {}));
    play(&log, &clock, ev, u64::MAX).await;
    log.close().await.unwrap();
    let snapshot = root.join("after-process-2");
    copy_dir(&dir, &snapshot);

    // Process 3 rotates the audit key (the old key vouches for the new one).
    clock.advance_ms(10_000);
    let key2 = keys.join("audit-key-2.pem");
    let signer = AuditSigner::generate("ok2cry.audit/n1");
    std::fs::write(&key2, signer.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let rotated_vkey = signer.verifier().unwrap().vkey();
    let mut o = options(&dir, &key2);
    o.previous_key_file = Some(key1.clone());
    let (log, recovery) = AuditLog::open(o, Arc::new(clock.clone())).unwrap();
    assert!(recovery.key_rotated);
    let p3 = clock.now_ms();
    let x = key_id(200, p3 + 1_000);
    let y = key_id(201, p3 + 2_000);
    play(
        &log,
        &clock,
        vec![
            (
                p3 + 1,
                EventBody::ServiceStarted {
                    signing_keys: vec!["sig-3".into()],
                },
            ),
            (p3 + 1, kek_created(21, p3 + 60_000, p3 + 120_000)),
            (p3 + 1_000, created(&x, CARD, p3 + 31_000, 21, 1)),
            (p3 + 2_000, created(&y, PROXY, p3 + 32_000, 21, 1)),
            (p3 + 3_000, opened(&x, CARD, 1, 1)),
            (
                p3 + 3_001,
                destroyed(&x, DestroyReason::Consumed, p3 + 31_000),
            ),
            (
                p3 + 4_000,
                destroyed(&y, DestroyReason::Revoked, p3 + 32_000),
            ),
            (p3 + 5_000, kek_destroyed(21, 2, KekDestroyReason::Shutdown)),
            (p3 + 5_000, EventBody::ServiceStopped {}),
        ],
        u64::MAX,
    )
    .await;
    log.close().await.unwrap();

    cosign_all(&dir, &witness);
    // What an auditor who pinned the first key holds from the witness: the newest cosigned
    // checkpoint that key signed (the first one after the rotation is signed by both keys).
    let first_key = ok2cry::audit::note::NoteVerifier::from_vkey(&vkey).unwrap();
    let (witnessed_size, witnessed) = layout::segment_numbers(&dir)
        .unwrap()
        .into_iter()
        .flat_map(|n| CheckpointRecord::read_all(&layout::checkpoints_path(&dir, n)))
        .map(Result::unwrap)
        .filter(|r| {
            let signed = Note::parse(&r.note)
                .unwrap()
                .verify(&[first_key.clone(), witness.verifier().unwrap()])
                .unwrap();
            signed.iter().all(Option::is_some)
        })
        .map(|r| (r.size, r.note))
        .max()
        .unwrap();
    Rich {
        dir,
        snapshot,
        vkey,
        pem: key1.with_extension("pub.pem"),
        rotated_vkey,
        witness_vkey: witness.verifier().unwrap().vkey(),
        witnessed,
        witnessed_size,
        consumed_twice,
        lost,
        revoked_after_rotation: y,
    }
}

/// A log whose every checkpoint verifies but whose events break the destruction policy.
async fn policy_log(root: &Path) -> (PathBuf, String) {
    let dir = root.join("log");
    let key = root.join("audit-key.pem");
    let clock = ManualClock::new(T0);
    let (log, _) = AuditLog::open(options(&dir, &key), Arc::new(clock.clone())).unwrap();
    let vkey = log.log_key().vkey();
    let a = key_id(1, T0 + 100);
    let b = key_id(2, T0 + 200);
    let c = key_id(3, T0 + 300);
    let d = key_id(4, T0 + 350);
    let e = key_id(5, T0 + 13_000);
    let ev = vec![
        (T0 + 1, kek_created(1, T0 + 5_000, T0 + 10_000)),
        (T0 + 100, created(&a, CARD, T0 + 2_000, 1, 1)),
        (T0 + 200, created(&b, CARD, T0 + 3_000, 1, 1)),
        (T0 + 300, created(&c, BANK, T0 + 60_000, 1, 1)),
        (T0 + 400, opened(&c, BANK, 1, 1)),
        (T0 + 500, opened(&c, BANK, 2, 1)),
        (
            T0 + 501,
            destroyed(&c, DestroyReason::Consumed, T0 + 60_000),
        ),
        (T0 + 600, destroyed(&d, DestroyReason::Revoked, T0 + 60_000)),
        // Opened after its expiry, by another principal; destroyed late.
        (T0 + 5_000, opened(&b, PROXY, 1, 1)),
        (
            T0 + 5_001,
            destroyed(&b, DestroyReason::Consumed, T0 + 3_000),
        ),
        (
            T0 + 6_000,
            destroyed(&a, DestroyReason::Expired, T0 + 2_000),
        ),
        (T0 + 12_500, kek_destroyed(1, 3, KekDestroyReason::Expired)),
        (T0 + 13_000, created(&e, CARD, T0 + 70_000, 1, 1)),
        (T0 + 14_000, EventBody::ServiceStopped {}),
        (T0 + 14_500, opened(&e, CARD, 1, 1)),
    ];
    play(&log, &clock, ev, u64::MAX).await;
    log.close().await.unwrap();
    (dir, vkey)
}

struct Case {
    name: String,
    trust: Trust,
    expect: Expect,
}

/// What the command line says of a fixture (the page must say the same).
#[derive(Clone, Copy)]
enum Expect {
    /// No violation.
    Ok,
    /// Fails, among others with this reason.
    Fails(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_agrees_with_the_command_line_on_every_fixture() {
    browser_ready();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let rich = rich_log(&root.join("rich")).await;
    let (policy_dir, policy_vkey) = policy_log(&root.join("policy")).await;
    let site = root.join("site");
    let scratch = root.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    use ok2cry::http::auditor_view::export::{ExportOptions, export};

    let honest = site.join("honest");
    export(&rich.dir, &honest, &ExportOptions::default()).unwrap();
    let variant = |name: &str, alter: &dyn Fn(&Path)| {
        let out = site.join(name);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::copy(honest.join("index.html"), out.join("index.html")).unwrap();
        copy_dir(&honest.join("log"), &out.join("log"));
        alter(&out.join("log"));
        relist(&out.join("log"));
    };
    let witnessed = Trust {
        witnesses: vec![rich.witness_vkey.clone()],
        quorum: Some(1),
        ..Trust::vkey(&rich.vkey)
    };
    let numbers = layout::segment_numbers(&rich.dir).unwrap();
    let newest = *numbers.last().unwrap();
    assert!(numbers.len() >= 4, "{numbers:?}");
    let mut cases = vec![Case {
        name: "honest".into(),
        trust: witnessed.clone(),
        expect: Expect::Ok,
    }];
    let mut case = |name: &str, trust: &Trust, expect: Expect, alter: &dyn Fn(&Path)| {
        variant(name, alter);
        cases.push(Case {
            name: name.into(),
            trust: trust.clone(),
            expect,
        });
    };
    // The four: an edited event, a removed event, a tail cut against a witnessed
    // checkpoint, a swapped checkpoint.
    case(
        "edited-event",
        &witnessed,
        Expect::Fails("does not describe the tree at that size"),
        &|log| {
            let f = layout::segment_path(log, 2);
            let mut l = lines(&f);
            let k = l
                .iter()
                .position(|e| e.contains("\"key_created\""))
                .unwrap();
            l[k] = l[k]
                .replacen(PROXY, MALLORY, 1)
                .replacen(CARD, MALLORY, 1)
                .replacen(BANK, MALLORY, 1);
            write_lines(&f, &l);
        },
    );
    case(
        "removed-event",
        &witnessed,
        Expect::Fails("where 5 was expected (event inserted, deleted or reordered)"),
        &|log| {
            let f = layout::segment_path(log, 1);
            let mut l = lines(&f);
            l.remove(5);
            write_lines(&f, &l);
        },
    );
    let mut cut = witnessed.clone();
    cut.held = vec![rich.witnessed.clone()];
    case(
        "truncated-tail",
        &cut,
        Expect::Fails("events were removed from its end"),
        &|log| truncate_log(log, rich.witnessed_size - 3),
    );
    case(
        "swapped-checkpoint",
        &witnessed,
        Expect::Fails("does not describe the tree at that size"),
        &|log| {
            // Two records of different sizes exchange their signed notes.
            let f = layout::checkpoints_path(log, 1);
            let mut records: Vec<Value> = lines(&f)
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let last = records.len() - 1;
            assert_ne!(records[0]["size"], records[last]["size"]);
            let first_note = records[0]["note"].clone();
            records[0]["note"] = records[last]["note"].clone();
            records[last]["note"] = first_note;
            write_lines(
                &f,
                &records.iter().map(Value::to_string).collect::<Vec<_>>(),
            );
        },
    );
    // More of what the verifier names.
    case(
        "bad-signature",
        &witnessed,
        Expect::Fails("a signature by ok2cry.audit/n1 does not verify"),
        &|log| {
            // A character inside the log's DER signature (past the key ID and DER header).
            let f = layout::checkpoints_path(log, 2);
            let mut l = lines(&f);
            let at = l[0].find("\u{2014} ok2cry.audit/n1 ").unwrap();
            let sig = at + "\u{2014} ok2cry.audit/n1 ".len() + 40;
            let c = if &l[0][sig..=sig] == "A" { "B" } else { "A" };
            l[0].replace_range(sig..=sig, c);
            write_lines(&f, &l);
        },
    );
    let other = AuditSigner::generate("ok2cry.audit/n1")
        .verifier()
        .unwrap()
        .vkey();
    case(
        "another-key",
        &Trust::vkey(&other),
        Expect::Fails("not signed by an audit key you trust"),
        &|_| {},
    );
    let (stranger, _) = Cosigner::generate("witness.test/w2").unwrap();
    let mut two = witnessed.clone();
    two.witnesses.push(stranger.verifier().unwrap().vkey());
    two.quorum = Some(2);
    case(
        "quorum-not-met",
        &two,
        Expect::Fails("carries 1 of the 2 witness cosignatures required"),
        &|_| {},
    );
    case(
        "missing-segment",
        &witnessed,
        Expect::Fails("(a segment is missing or was altered)"),
        &|log| {
            for f in [
                layout::segment_path(log, 2),
                layout::meta_path(log, 2),
                layout::checkpoints_path(log, 2),
            ] {
                std::fs::remove_file(f).unwrap();
            }
        },
    );
    case(
        "altered-metadata",
        &witnessed,
        Expect::Fails("segment 2: its metadata is missing or altered"),
        &|log| {
            let f = layout::meta_path(log, 2);
            let t = std::fs::read_to_string(&f).unwrap();
            std::fs::write(
                &f,
                t.replacen("\"segment\":2", "\"segment\":2,\"extra\":1", 1),
            )
            .unwrap();
        },
    );
    case("torn-newest-line", &witnessed, Expect::Ok, &|log| {
        let f = layout::segment_path(log, newest);
        let mut t = std::fs::read_to_string(&f).unwrap();
        t.push_str("{\"seq\":999,\"time\":\"20");
        std::fs::write(&f, t).unwrap();
    });
    case(
        "torn-middle-line",
        &witnessed,
        Expect::Fails("segment 1: the last line is incomplete"),
        &|log| {
            let f = layout::segment_path(log, 1);
            let mut t = std::fs::read_to_string(&f).unwrap();
            t.pop();
            std::fs::write(&f, t).unwrap();
        },
    );
    case(
        "forged-lost-evidence",
        &Trust::vkey(&rich.vkey),
        Expect::Fails("but its process's last event is"),
        &|log| {
            for n in layout::segment_numbers(log).unwrap() {
                let f = layout::segment_path(log, n);
                let mut l = lines(&f);
                if let Some(k) = l
                    .iter()
                    .position(|e| e.contains("\"process_lost\",\"expires_at\""))
                {
                    let e: Value = serde_json::from_str(&l[k]).unwrap();
                    let seq = e["lost"]["seq"].as_u64().unwrap();
                    l[k] = l[k].replace(
                        &format!("\"lost\":{{\"seq\":{seq},"),
                        &format!("\"lost\":{{\"seq\":{},", seq - 1),
                    );
                    write_lines(&f, &l);
                    return;
                }
            }
            panic!("no process_lost destruction");
        },
    );
    case(
        "no-format",
        &witnessed,
        Expect::Fails("no FORMAT file"),
        &|log| std::fs::remove_file(log.join("FORMAT")).unwrap(),
    );
    let mut strict = Trust::vkey(&rich.vkey);
    strict.grace = 0;
    case(
        "no-grace",
        &strict,
        Expect::Fails("after its expiry (grace 0 ms)"),
        &|_| {},
    );
    let pem = Trust {
        cli_key: rich.pem.display().to_string(),
        page_key: String::new(),
        page_key_file: Some(rich.pem.clone()),
        ..Trust::vkey(&rich.vkey)
    };
    case("pem-key", &pem, Expect::Ok, &|_| {});
    // Logs made apart: a rollback to an older copy, a partial export, a policy-breaking log.
    export(
        &rich.snapshot,
        &site.join("rolled-back"),
        &ExportOptions::default(),
    )
    .unwrap();
    cases.push(Case {
        name: "rolled-back".into(),
        trust: cut.clone(),
        expect: Expect::Fails("events were removed from its end"),
    });
    export(
        &rich.dir,
        &site.join("partial"),
        &ExportOptions {
            from_segment: Some(3),
        },
    )
    .unwrap();
    cases.push(Case {
        name: "partial".into(),
        trust: witnessed.clone(),
        // Keys and KEKs created before the partial log's first segment and destroyed after it
        // are notes, not violations.
        expect: Expect::Ok,
    });
    export(&policy_dir, &site.join("policy"), &ExportOptions::default()).unwrap();
    cases.push(Case {
        name: "policy".into(),
        trust: Trust::vkey(&policy_vkey),
        expect: Expect::Fails("opened by ok2cry://principal/proxy, not its designated opener"),
    });

    let addr = serve_folder(site.clone()).await;
    let shots = screenshot_dir(&scratch);
    let receipts = scratch.join("receipts");
    std::fs::create_dir_all(&receipts).unwrap();
    let csv_dir = scratch.join("csv");
    std::fs::create_dir_all(&csv_dir).unwrap();
    let mut visits: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "url": format!("http://{addr}/{}/index.html", c.name),
                "trust": c.trust.page(),
            })
        })
        .collect();
    // The honest log, searched: a key opened twice, a key lost with its process, a key of the
    // rotated audit key; the filters and CSVs; local storage.
    visits[0]["key"] = json!(rich.lost);
    visits[0]["receiptOut"] = json!(receipts.join("lost.json"));
    visits[0]["filters"] = json!({"principal": PROXY});
    visits[0]["csvDir"] = json!(csv_dir);
    visits[0]["reload"] = json!(true);
    let extra = [
        (
            "honest-consumed",
            rich.consumed_twice.clone(),
            "consumed.json",
        ),
        (
            "honest-rotated",
            rich.revoked_after_rotation.clone(),
            "rotated.json",
        ),
    ];
    for (name, key, file) in &extra {
        visits.push(json!({
            "name": name,
            "url": format!("http://{addr}/honest/index.html"),
            "trust": witnessed.page(),
            "key": key,
            "receiptOut": receipts.join(file),
        }));
    }
    // The pictures of docs/AUDIT.md: this log verified, with a key found; the tail cut.
    visits[cases.len()]["screenshot"] = json!(shots.join("auditor-verified.png"));
    let cut_at = cases
        .iter()
        .position(|c| c.name == "truncated-tail")
        .unwrap();
    visits[cut_at]["screenshot"] = json!(shots.join("auditor-failed.png"));
    // A time window and a node, with the events' CSV.
    let all_events: Vec<Value> = common::audit_events_in(&rich.dir);
    let second = |k: usize| all_events[k]["time"].as_str().unwrap()[..19].to_owned();
    let (from, to) = (
        second(all_events.len() / 3),
        second(all_events.len() * 2 / 3),
    );
    let window_csv = scratch.join("csv-window");
    std::fs::create_dir_all(&window_csv).unwrap();
    visits.push(json!({
        "name": "honest-window",
        "url": format!("http://{addr}/honest/index.html"),
        "trust": witnessed.page(),
        "filters": {"from": from, "to": to, "node": "n1"},
        "csvDir": window_csv,
    }));
    let window_at = visits.len() - 1;
    // From disk: the page opened as a file, the folder chosen with the picker.
    visits.push(json!({
        "name": "honest-from-disk",
        "url": format!("file://{}", honest.join("index.html").display()),
        "trust": witnessed.page(),
        "folder": honest,
    }));
    let seen = drive(json!({ "visits": visits }), &scratch).await;

    for (c, v) in cases.iter().zip(&seen) {
        let log = site.join(&c.name).join("log");
        let (ok, cli) = cli_verify(&log, &c.trust, &scratch);
        let verdict = &v["verdict"];
        let page_report = &v["report"];
        assert_eq!(
            normalized(page_report),
            normalized(&cli),
            "{}: the page's report differs from the command line's",
            c.name
        );
        assert_eq!(
            verdict["state"],
            if ok { "ok" } else { "failed" },
            "{}",
            c.name
        );
        // The page shows every reason the command line gives, in its words.
        assert_eq!(
            verdict["violations"], page_report["violations"],
            "{}",
            c.name
        );
        assert_eq!(verdict["notes"], page_report["notes"], "{}", c.name);
        match c.expect {
            Expect::Fails(reason) => {
                assert!(!ok, "{}: the command line did not fail", c.name);
                assert!(
                    verdict["violations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r.as_str().unwrap().contains(reason)),
                    "{}: no violation says {reason:?}: {:#}",
                    c.name,
                    verdict["violations"]
                );
                assert!(
                    verdict["title"].as_str().unwrap().starts_with("Failed:"),
                    "{}",
                    c.name
                );
            }
            Expect::Ok => {
                assert!(ok, "{}: {cli:#}", c.name);
                assert_eq!(verdict["title"], "Verified: no violation", "{}", c.name);
            }
        }
    }
    // The honest log's counts, as the summary shows them.
    let honest_visit = &seen[0];
    let (_, cli) = cli_verify(&honest.join("log"), &witnessed, &scratch);
    let summary = &honest_visit["verdict"]["summary"];
    assert_eq!(
        summary["keys created"],
        cli["totals"]["keys_created"].to_string()
    );
    assert_eq!(
        summary["events"],
        format!("{} (leaves 0..{})", cli["totals"]["events"], cli["size"])
    );
    assert_eq!(
        summary["witnessed up to size"],
        cli["witnessed_size"].to_string()
    );
    assert!(
        cli["totals"]["destroyed_by_reason"]["process_lost"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(
        honest_visit["verdict"]["basis"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b
                .as_str()
                .unwrap()
                .contains("the log rotated to, vouched for by a key you trust")),
        "{:#}",
        honest_visit["verdict"]["basis"]
    );
    // The partial export is verified from its first segment on, with the note the CLI gives.
    let partial = &seen[cases.iter().position(|c| c.name == "partial").unwrap()];
    assert!(
        partial["verdict"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("earlier segments are not present")
    );
    assert!(
        partial["verdict"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n
                .as_str()
                .unwrap()
                .contains("KEK 1 destroyed, created before the verified range")),
        "{:#}",
        partial["verdict"]["notes"]
    );
    // Remembered: after a reload the keys are back and the log is verified again at once.
    assert_eq!(honest_visit["afterReload"]["restored"], rich.vkey.as_str());
    assert_eq!(honest_visit["afterReload"]["state"], "ok");
    // From disk, the same verdict.
    let disk = seen.last().unwrap();
    assert_eq!(normalized(&disk["report"]), normalized(&cli));
    assert!(
        disk["verdict"]["source"]
            .as_str()
            .unwrap()
            .contains("honest/log"),
        "{}",
        disk["verdict"]["source"]
    );

    // Key searches: the events, and receipts the command line accepts.
    let lost = &honest_visit["key"];
    let types: Vec<&str> = lost["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"key_created"), "{lost:#}");
    assert_eq!(types.last(), Some(&"key_destroyed"), "{lost:#}");
    assert!(
        lost["rows"].as_array().unwrap().last().unwrap()["cells"][4]
            .as_str()
            .unwrap()
            .starts_with("process_lost")
    );
    assert!(
        lost["receipt"]
            .as_str()
            .unwrap()
            .starts_with("Inclusion proven in this browser: verified: key"),
        "{lost:#}"
    );
    let consumed = &seen[cases.len()]["key"];
    let types: Vec<&str> = consumed["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["key_created", "key_opened", "key_opened", "key_destroyed"],
        "{consumed:#}"
    );
    let searched = [
        (honest_visit, "lost.json"),
        (&seen[cases.len()], extra[0].2),
        (&seen[cases.len() + 1], extra[1].2),
    ];
    for (visit, file) in searched {
        let receipt = receipts.join(file);
        // The page names the key that signed the receipt's checkpoint: after the rotation, the
        // new key.
        let hint = visit["key"]["hint"].as_str().unwrap();
        assert!(hint.contains(&rich.rotated_vkey), "{hint}");
        let out = bin()
            .args([
                "audit",
                "receipt",
                "verify",
                "--key",
                &rich.rotated_vkey,
                "--witness",
                &rich.witness_vkey,
            ])
            .arg(&receipt)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The CLI's line is the one the page showed.
        assert!(
            visit["key"]["receipt"]
                .as_str()
                .unwrap()
                .contains(text.trim()),
            "{}\n{text}",
            visit["key"]["receipt"]
        );
        assert!(text.contains("1 witness cosignature(s)"), "{text}");
    }
    assert_png(&shots.join("auditor-verified.png"));
    assert_png(&shots.join("auditor-failed.png"));
    let lost_receipt: Value =
        serde_json::from_slice(&std::fs::read(receipts.join("lost.json")).unwrap()).unwrap();
    assert_eq!(lost_receipt["evidence"].as_array().unwrap().len(), 2);

    // Filters and CSV: the principal's events and opens, exactly.
    let events: Vec<Value> = common::audit_events_in(&rich.dir);
    let owned: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "key_created" && (e["owner"] == PROXY || e["opener"] == PROXY))
        .map(|e| e["key_id"].as_str().unwrap())
        .collect();
    let mine = |e: &Value| match e["type"].as_str().unwrap() {
        "key_created" => e["owner"] == PROXY || e["opener"] == PROXY,
        "key_opened" => e["opener"] == PROXY,
        "open_failed" => e["principal"] == PROXY,
        _ => e["key_id"].as_str().is_some_and(|k| owned.contains(k)),
    };
    let expected: Vec<u64> = events
        .iter()
        .filter(|e| mine(e))
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let csv_path = honest_visit["csv"]["ok2cry-events.csv"].as_str().unwrap();
    let csv_text = std::fs::read_to_string(csv_path).unwrap();
    let rows: Vec<&str> = csv_text.lines().collect();
    assert_eq!(rows[0], "seq,time_utc,node,type,key_id,principal,detail");
    let seqs: Vec<u64> = rows[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, expected);
    assert!(
        honest_visit["filterStatus"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} of {} event(s)", expected.len(), events.len()))
    );
    let opens = std::fs::read_to_string(
        honest_visit["csv"]["ok2cry-opens-by-principal.csv"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let proxy_opens = events
        .iter()
        .filter(|e| e["type"] == "key_opened" && e["opener"] == PROXY)
        .count();
    assert_eq!(
        opens,
        format!("principal,opens,refused_opens\r\n{PROXY},{proxy_opens},0\r\n")
    );
    let per_minute = std::fs::read_to_string(
        honest_visit["csv"]["ok2cry-keys-per-minute.csv"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let created_total: u64 = per_minute
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(created_total as usize, owned.len());
    for f in ["ok2cry-destruction-lag.csv", "ok2cry-timeline.csv"] {
        assert!(honest_visit["csv"][f].is_string(), "{f}");
    }
    let timeline =
        std::fs::read_to_string(honest_visit["csv"]["ok2cry-timeline.csv"].as_str().unwrap())
            .unwrap();
    for what in [
        "process started",
        "service stopped",
        "process lost",
        "KEK created",
        "KEK destroyed",
        "audit key rotated",
    ] {
        assert!(
            timeline.contains(what),
            "the timeline has no {what}: {timeline}"
        );
    }
    // The time window (UTC seconds, both ends included) and the node: exactly those events.
    let window = &seen[window_at];
    let in_window: Vec<u64> = events
        .iter()
        .filter(|e| {
            let t = &e["time"].as_str().unwrap()[..19];
            t >= from.as_str() && t <= to.as_str() && e["node"] == "n1"
        })
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(!in_window.is_empty() && in_window.len() < events.len());
    let csv_text =
        std::fs::read_to_string(window["csv"]["ok2cry-events.csv"].as_str().unwrap()).unwrap();
    let seqs: Vec<u64> = csv_text
        .lines()
        .skip(1)
        .map(|r| r.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, in_window);
    let status = window["filterStatus"].as_str().unwrap();
    assert!(
        status.starts_with(&format!(
            "{} of {} event(s) between {from}",
            in_window.len(),
            events.len()
        )) && status.contains(", node n1"),
        "{status}"
    );
    let timeline =
        std::fs::read_to_string(window["csv"]["ok2cry-timeline.csv"].as_str().unwrap()).unwrap();
    for row in timeline.lines().skip(1) {
        let t = &row[..19];
        assert!(
            t >= from.as_str() && t <= to.as_str(),
            "a timeline mark outside the window: {row}"
        );
    }
    for fig in honest_visit["figures"].as_array().unwrap() {
        assert_eq!(
            fig["svg"], true,
            "{} has no picture with a text alternative",
            fig["id"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A dev node with a witness.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serves_the_page_to_auditors_and_an_export_verifies_offline() {
    use common::{create, get, now_secs, open, problem, verified};
    use ok2cry::audit::witness::server::{LogConfig, Witness, WitnessConfig, keygen, serve};
    browser_ready();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let scratch = root.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();

    // The audit key first, so the witness knows the log's key; then the witness.
    let key_file = root.join("audit-key.pem");
    let signer = AuditSigner::generate("ok2cry.audit/dev1");
    std::fs::write(&key_file, signer.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let log_vkey = signer.verifier().unwrap().vkey();
    let witness_vkey = keygen("witness.test/w1", &root.join("w.pem")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let witness_addr = listener.local_addr().unwrap();
    let witness = Arc::new(
        Witness::new(
            &WitnessConfig {
                name: "witness.test/w1".into(),
                listen: witness_addr,
                key_file: root.join("w.pem"),
                state_file: root.join("w-state.json"),
                logs: vec![LogConfig {
                    origin: "ok2cry.audit/dev1".into(),
                    keys: vec![log_vkey.clone()],
                }],
            },
            Arc::new(ok2cry::clock::SystemClock),
        )
        .unwrap(),
    );
    tokio::spawn(serve(witness, listener, std::future::pending()));

    let server = common::TestServer::start_with(common::Options {
        replace: vec![
            (
                "key_file = \"audit-key.pem\"".into(),
                format!("key_file = \"{}\"", key_file.display()),
            ),
            (
                "checkpoint_interval_seconds = 10".into(),
                format!(
                    "checkpoint_interval_seconds = 1\nwitness_quorum = 1\nwitness_retry_seconds = 1\n\n[[audit.witnesses]]\nurl = \"http://{witness_addr}\"\nkey = \"{witness_vkey}\""
                ),
            ),
        ],
        // No KEK rotation while the page reads: a checkpoint signed then would wait a moment
        // for its cosignature, and the page would rightly say so.
        ..common::Options::default()
    })
    .await;

    // Keys as the card API and the proxy would make them.
    let card = "card-api";
    let mut ids = Vec::new();
    for k in 0..6 {
        let body = if k == 5 {
            json!({"ttl_seconds": 60, "opener": "ok2cry://principal/proxy"})
        } else if k >= 3 {
            json!({"ttl_seconds": 1})
        } else {
            json!({"ttl_seconds": 60})
        };
        let key = create(&server, card, body).await;
        let id = key["key_id"].as_str().unwrap().to_owned();
        let vk = verified(&server, card, key["token"].as_str().unwrap(), now_secs()).await;
        let envelope = ok2cry_client::Envelope::seal(&vk, b"2468").unwrap();
        match k {
            0 | 1 => assert_eq!(open(&server, card, &id, &envelope).await.status(), 200),
            2 => {
                let r = server
                    .client(card)
                    .delete(server.url(&format!("/v1/keys/{id}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 204);
            }
            5 => {
                // The card API may not open it; the proxy, its designated opener, may.
                assert_eq!(open(&server, card, &id, &envelope).await.status(), 403);
                assert_eq!(open(&server, "proxy", &id, &envelope).await.status(), 200);
            }
            _ => {}
        }
        ids.push(id);
    }
    // The short keys expire; then a checkpoint covering everything is cosigned by the witness.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut events = server.audit_events().await;
    while events.iter().filter(|e| e["reason"] == "expired").count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the short keys did not expire"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        events = server.audit_events().await;
    }
    let size = events.len() as u64;
    while !server
        .audit
        .latest_checkpoint()
        .is_some_and(|r| r.size >= size && r.note.contains("\u{2014} witness.test/w1 "))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no witnessed checkpoint"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // `/audit/` is for the auditor role only.
    problem(get(&server.client(card), server.url("/audit/")).await, 403).await;
    problem(
        get(&server.client(card), server.url("/audit/log/index.json")).await,
        403,
    )
    .await;
    let auditor = server.client("auditor");
    let r = get(&auditor, server.url("/audit/log/audit-key.pem")).await;
    assert_eq!(r.status(), 404);
    let listing: Value = get(&auditor, server.url("/audit/log/index.json"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"FORMAT") && names.contains(&"segment-000001.jsonl"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| ok2cry::http::auditor_view::route::is_log_file(n)),
        "{names:?}"
    );

    let pki = server.pki();
    let trust = Trust {
        witnesses: vec![witness_vkey.clone()],
        quorum: Some(1),
        ..Trust::vkey(&log_vkey)
    };
    let receipt = scratch.join("receipt.json");
    let origin = format!("https://127.0.0.1:{}", server.addr.port());
    let seen = drive(
        json!({"visits": [{
            "name": "node",
            "url": server.url("/audit/"),
            "clientCertificate": {"origin": origin, "certPath": pki.join("auditor.pem"), "keyPath": pki.join("auditor.key")},
            "trust": trust.page(),
            "key": ids[5],
            "receiptOut": receipt,
            "filters": {},
            "screenshot": scratch.join("node.png"),
        }]}),
        &scratch,
    )
    .await;
    let node = &seen[0];
    assert_eq!(node["status"], 200);
    assert!(
        node["csp"]
            .as_str()
            .unwrap()
            .contains("script-src 'sha256-"),
        "{}",
        node["csp"]
    );
    let verdict = &node["verdict"];
    assert_eq!(verdict["state"], "ok", "{verdict:#}");
    let report = &node["report"];
    assert_eq!(report["totals"]["keys_created"], 6);
    assert_eq!(
        report["totals"]["destroyed_by_reason"],
        json!({"consumed": 3, "expired": 2, "revoked": 1})
    );
    assert_eq!(verdict["summary"]["keys created"], "6");
    assert_eq!(
        verdict["summary"]["destroyed by reason"],
        "consumed: 3, expired: 2, revoked: 1"
    );
    assert!(report["witnessed_size"].as_u64().unwrap() >= 1);
    // The same counts from the command line, on the same directory.
    let (ok, cli) = cli_verify(server.audit.dir(), &trust, &scratch);
    assert!(ok, "{cli:#}");
    assert_eq!(
        cli["totals"]["keys_created"],
        report["totals"]["keys_created"]
    );
    assert_eq!(
        cli["totals"]["destroyed_by_reason"],
        report["totals"]["destroyed_by_reason"]
    );
    // The proxy's key: created, refused to the card API, opened by the proxy, consumed.
    let key = &node["key"];
    let types: Vec<&str> = key["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["key_created", "open_failed", "key_opened", "key_destroyed"],
        "{key:#}"
    );
    assert!(
        key["rows"][1]["cells"][3]
            .as_str()
            .unwrap()
            .contains("card-api")
    );
    assert!(
        key["rows"][2]["cells"][3]
            .as_str()
            .unwrap()
            .contains("proxy")
    );
    let out = bin()
        .args([
            "audit",
            "receipt",
            "verify",
            "--key",
            &log_vkey,
            "--witness",
            &witness_vkey,
        ])
        .arg(&receipt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("verified: key {} ", ids[5])));
    assert_png(&scratch.join("node.png"));

    // The node stops; its log is exported and verified from the folder, over plain HTTP and from
    // disk, with the same report as the command line's; an edited copy fails with its reason.
    let dir = server.stop().await;
    let log = dir.path().join("pki/audit");
    let site = root.join("site");
    let out = bin()
        .args(["audit", "export", "--dir"])
        .arg(&log)
        .arg("--out")
        .arg(site.join("export"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("exported 1 segment(s)"));
    let edited = site.join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    std::fs::copy(site.join("export/index.html"), edited.join("index.html")).unwrap();
    copy_dir(&site.join("export/log"), &edited.join("log"));
    let f = layout::segment_path(&edited.join("log"), 1);
    let mut l = lines(&f);
    let k = l.iter().position(|e| e.contains("\"key_opened\"")).unwrap();
    l[k] = l[k].replace("\"opens_used\":1", "\"opens_used\":0");
    write_lines(&f, &l);
    relist(&edited.join("log"));
    // The page alone, from the ok2cry the auditor trusts, opens a folder received elsewhere.
    let out = bin()
        .args(["audit", "export", "--out"])
        .arg(site.join("own"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(site.join("own/index.html")).unwrap(),
        std::fs::read(site.join("export/index.html")).unwrap()
    );
    let addr = serve_folder(site.clone()).await;
    let seen = drive(
        json!({"visits": [
            {"name": "export", "url": format!("http://{addr}/export/index.html"), "trust": trust.page()},
            {"name": "own-page", "url": format!("file://{}", site.join("own/index.html").display()),
             "trust": trust.page(), "folder": site.join("export"), "receiptFile": receipt},
            {"name": "edited", "url": format!("http://{addr}/edited/index.html"), "trust": trust.page(),
             "screenshot": scratch.join("edited.png")},
        ]}),
        &scratch,
    )
    .await;
    let (ok, cli) = cli_verify(&site.join("export/log"), &trust, &scratch);
    assert!(ok, "{cli:#}");
    for v in &seen[..2] {
        assert_eq!(
            v["verdict"]["state"], "ok",
            "{}: {:#}",
            v["name"], v["verdict"]
        );
        assert_eq!(normalized(&v["report"]), normalized(&cli), "{}", v["name"]);
    }
    // The node's final events are in: every key and KEK destroyed at shutdown.
    assert_eq!(cli["totals"]["keys_created"], 6);
    assert_eq!(
        seen[1]["receiptCheck"]["ok"], true,
        "{:#}",
        seen[1]["receiptCheck"]
    );
    assert!(
        seen[1]["receiptCheck"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("verified: key {} ", ids[5]))
    );
    let (ok, cli) = cli_verify(&edited.join("log"), &trust, &scratch);
    assert!(!ok);
    let bad = &seen[2];
    assert_eq!(bad["verdict"]["state"], "failed");
    assert_eq!(normalized(&bad["report"]), normalized(&cli));
    assert!(
        bad["verdict"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v
                .as_str()
                .unwrap()
                .contains("does not describe the tree at that size")),
        "{:#}",
        bad["verdict"]
    );
    assert_png(&scratch.join("edited.png"));
}
