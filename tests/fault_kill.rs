//! Real processes: a witness (`ok2cry witness serve`) and a node under concurrent create /
//! open / delete load, killed with SIGKILL three times with 0 s, 5 s and 30 s of downtime
//! before each restart. Then:
//! - `ok2cry audit verify` with the witness passes, and every acknowledged creation, open and
//!   delete is in the log;
//! - every truncation of the log (a whole segment, or lines at its end) and a rollback to an
//!   older copy are detected by the auditor against the witness, and the node refuses to
//!   start on them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

mod common;

use common::client_with;
use ok2cry_client::{Envelope, KeyToken};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ok2cry"))
}

/// Starts a process and waits for `marker` on its stdout; returns the text after it.
fn start_until(cmd: Command, marker: &str) -> (Child, String) {
    let (child, found) = start_until_all(cmd, &[marker]);
    (child, found.into_iter().next().unwrap_or_default())
}

/// Starts a process and waits for every marker on its stdout, in order; returns the word after
/// each.
fn start_until_all(mut cmd: Command, markers: &[&str]) -> (Child, Vec<String>) {
    let mut child = cmd
        .env("OK2CRY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    let mut found = Vec::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("process exited before printing {markers:?}");
        }
        eprint!("[child] {line}");
        if let Some(rest) = line.split(markers[found.len()]).nth(1) {
            found.push(rest.split_whitespace().next().unwrap_or("").to_owned());
            if found.len() == markers.len() {
                // Keep draining the pipe (and showing it) so the process never blocks on
                // logging.
                std::thread::spawn(move || {
                    for l in reader.lines().map_while(Result::ok) {
                        eprintln!("[child] {l}");
                    }
                });
                return (child, found);
            }
        }
    }
    panic!("no {markers:?} from the process");
}

/// Kills a process when the test ends, however it ends.
struct Reaper(u32);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn start_node(config: &Path) -> (Child, u16) {
    let mut cmd = bin();
    cmd.args(["serve", "--config"]).arg(config);
    let (child, found) = start_until_all(cmd, &["addr=127.0.0.1:", "node ready: serving"]);
    (child, found[0].parse().unwrap())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn wait(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[derive(Default)]
struct Acknowledged {
    created: Vec<String>,
    opened: Vec<String>,
    deleted: Vec<String>,
}

/// Creates, opens and deletes keys from 6 workers until `stop_at`; records every operation the
/// node acknowledged.
async fn load(port: u16, pki: PathBuf, stop_at: Instant, acked: Arc<Mutex<Acknowledged>>) {
    let url = move |p: &str| format!("https://127.0.0.1:{port}{p}");
    let client = client_with(
        &pki.join("ca.pem"),
        Some((&pki.join("card-api.pem"), &pki.join("card-api.key"))),
    );
    let jwks = common::jwks(&client, &url("")).await;
    let mut workers = Vec::new();
    for w in 0..6u64 {
        let (client, jwks, acked) = (client.clone(), jwks.clone(), acked.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < stop_at {
                // Short lives, so keys expire across the kill and the downtime.
                let ttl = 1 + (i + w) % 4;
                let Ok(r) = client
                    .post(url("/v1/keys"))
                    .json(&json!({"ttl_seconds": ttl}))
                    .send()
                    .await
                else {
                    break;
                };
                if r.status() != 201 {
                    break;
                }
                let Ok(key) = r.json::<Value>().await else {
                    break;
                };
                let id = key["key_id"].as_str().unwrap().to_owned();
                acked.lock().unwrap().created.push(id.clone());
                match (i + w) % 3 {
                    0 => {
                        let vk = KeyToken::parse(key["token"].as_str().unwrap())
                            .unwrap()
                            .verify(&jwks, now_secs())
                            .unwrap();
                        let env = Envelope::seal(&vk, b"1234").unwrap();
                        if let Ok(r) = client
                            .post(url(&format!("/v1/keys/{id}/open")))
                            .json(&json!({"envelope": env.to_json_value()}))
                            .send()
                            .await
                            && r.status() == 200
                        {
                            acked.lock().unwrap().opened.push(id);
                        }
                    }
                    1 => {
                        if let Ok(r) = client.delete(url(&format!("/v1/keys/{id}"))).send().await
                            && r.status() == 204
                        {
                            acked.lock().unwrap().deleted.push(id);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
}

fn verify_cli(audit: &Path, pki: &Path, witness_vkey: &str, witness_url: &str) -> Output {
    bin()
        .args(["audit", "verify", "--dir"])
        .arg(audit)
        .arg("--key")
        .arg(pki.join("audit-key.pub.pem"))
        .args(["--origin", "ok2cry.audit/dev1", "--witness", witness_vkey])
        .args(["--witness-url", witness_url, "--quorum", "1"])
        .output()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_with_downtime_then_a_witnessed_log_verifies_and_cannot_be_cut() {
    let dir = tempfile::tempdir().unwrap();
    let pki: PathBuf = dir.path().join("pki");
    let config = ok2cry::node::dev::prepare(&pki, Some("127.0.0.1:0".parse().unwrap())).unwrap();

    // The audit key first, so the witness can be told the log's key before the node starts.
    let out = bin()
        .args(["audit", "keygen", "--origin", "ok2cry.audit/dev1", "--out"])
        .arg(pki.join("audit-key.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log_vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // The witness: its own key, state and process.
    let wdir = dir.path().join("witness");
    std::fs::create_dir_all(&wdir).unwrap();
    let out = bin()
        .args(["witness", "keygen", "--name", "witness.test/w1", "--out"])
        .arg(wdir.join("w.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let witness_vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        wdir.join("witness.toml"),
        format!(
            "name = \"witness.test/w1\"\nlisten = \"127.0.0.1:{port}\"\nkey_file = \"w.pem\"\nstate_file = \"state.json\"\n\n[[logs]]\norigin = \"ok2cry.audit/dev1\"\nkeys = [\"{log_vkey}\"]\n"
        ),
    )
    .unwrap();
    let mut wcmd = bin();
    wcmd.args(["witness", "serve", "--config"])
        .arg(wdir.join("witness.toml"));
    let (witness, witness_url) = start_until(wcmd, "listening on ");
    let _reap_witness = Reaper(witness.id());
    assert_eq!(witness_url, format!("http://127.0.0.1:{port}"));

    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("mlock = \"best_effort\"", "mlock = \"off\"")
        .replace(
            "checkpoint_interval_seconds = 10",
            &format!(
                "checkpoint_interval_seconds = 1\nwitness_quorum = 1\nwitness_retry_seconds = 1\n\n[[audit.witnesses]]\nurl = \"{witness_url}\"\nkey = \"{witness_vkey}\""
            ),
        );
    std::fs::write(&config, text).unwrap();

    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let audit = pki.join("audit");
    let snapshot = dir.path().join("audit-after-first-crash");
    for (round, downtime) in [0u64, 5, 30].into_iter().enumerate() {
        let (mut node, port) = start_node(&config);
        let _reap = Reaper(node.id());
        let stop_at = Instant::now() + Duration::from_millis(2500);
        let loader = tokio::spawn(load(port, pki.clone(), stop_at, acked.clone()));
        // Kill while the load is running.
        tokio::time::sleep(Duration::from_millis(1800)).await;
        node.kill().unwrap(); // SIGKILL
        node.wait().unwrap();
        loader.await.unwrap();
        if round == 0 {
            copy_dir(&audit, &snapshot);
        }
        tokio::time::sleep(Duration::from_secs(downtime)).await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.created.len() > 60,
        "too little load: {}",
        acked.created.len()
    );
    assert!(!acked.opened.is_empty() && !acked.deleted.is_empty());

    // A last start closes out the third crash; a clean stop witnesses the final checkpoint.
    let (node, _port) = start_node(&config);
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&node);
    let status = wait(node);
    assert!(status.success(), "{status:?}");

    // Every acknowledged operation is in the log.
    let events = common::audit_events_in(&audit);
    let has = |t: &str, id: &str| events.iter().any(|e| e["type"] == t && e["key_id"] == id);
    for id in &acked.created {
        assert!(
            has("key_created", id),
            "acknowledged creation of {id} missing"
        );
        assert!(has("key_destroyed", id), "key {id} has no destroyed event");
    }
    for id in &acked.opened {
        assert!(has("key_opened", id), "acknowledged open of {id} missing");
    }
    for id in &acked.deleted {
        assert!(
            events.iter().any(|e| e["type"] == "key_destroyed"
                && e["key_id"] == id.as_str()
                && e["reason"] == "revoked"),
            "acknowledged delete of {id} missing"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "key_destroyed" && e["reason"] == "process_lost")
    );

    // The auditor's command line, with the witness: OK.
    let out = verify_cli(&audit, &pki, &witness_vkey, &witness_url);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("result: OK") && text.contains("process_lost"),
        "{text}"
    );

    // Truncations of the witnessed log: the newest segment removed, or lines cut from its end.
    let segments = ok2cry::audit::layout::segment_numbers(&audit).unwrap();
    let newest = *segments.last().unwrap();
    let cut = dir.path().join("cut-segment");
    copy_dir(&audit, &cut);
    for f in [
        ok2cry::audit::layout::segment_path(&cut, newest),
        ok2cry::audit::layout::meta_path(&cut, newest),
        ok2cry::audit::layout::checkpoints_path(&cut, newest),
        ok2cry::audit::layout::idx_path(&cut, newest),
        ok2cry::audit::layout::keys_path(&cut, newest),
    ] {
        let _ = std::fs::remove_file(f);
    }
    let out = verify_cli(&cut, &pki, &witness_vkey, &witness_url);
    assert!(!out.status.success(), "a removed segment was not detected");
    assert!(String::from_utf8_lossy(&out.stdout).contains("events were removed"));
    for lines_cut in [1usize, 3] {
        let tail = dir.path().join(format!("cut-lines-{lines_cut}"));
        copy_dir(&audit, &tail);
        let seg = ok2cry::audit::layout::segment_path(&tail, newest);
        let text = std::fs::read_to_string(&seg).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let kept = lines[..lines.len() - lines_cut].join("\n") + "\n";
        std::fs::write(&seg, kept).unwrap();
        // The records of checkpoints beyond the cut go too, as a careful operator would.
        let records = ok2cry::audit::layout::checkpoints_path(&tail, newest);
        let size = events.len() - lines_cut;
        let kept: Vec<String> = std::fs::read_to_string(&records)
            .unwrap()
            .lines()
            .filter(|l| {
                serde_json::from_str::<Value>(l).unwrap()["size"]
                    .as_u64()
                    .unwrap()
                    <= size as u64
            })
            .map(str::to_owned)
            .collect();
        std::fs::write(
            &records,
            kept.join("\n") + if kept.is_empty() { "" } else { "\n" },
        )
        .unwrap();
        let out = verify_cli(&tail, &pki, &witness_vkey, &witness_url);
        assert!(
            !out.status.success(),
            "{lines_cut} line(s) cut from the end were not detected: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // A rollback to an older copy of the whole log.
    let out = verify_cli(&snapshot, &pki, &witness_vkey, &witness_url);
    assert!(!out.status.success(), "a rollback was not detected");

    // The node refuses to start on a rolled-back log: first by the checkpoint kept beside its
    // key, and, when that is rolled back too, by the witness.
    let rolled = pki.join("audit");
    let current = dir.path().join("audit-current");
    std::fs::rename(&rolled, &current).unwrap();
    copy_dir(&snapshot, &rolled);
    let out = bin()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("rolled back") || err.contains("removed"),
        "{err}"
    );
    let mark = pki.join("audit-key.checkpoint");
    std::fs::remove_file(&mark).unwrap();
    let out = bin()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("witness witness.test/w1 has cosigned size"),
        "{err}"
    );

    sigterm(&witness);
    assert!(wait(witness).success());
}
