//! A real service process under concurrent create/open load, killed with SIGKILL. On
//! restart the log verifies, every key created before the kill has a destroyed event, and no
//! acknowledged key is missing from the log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

mod common;

use common::client_with;
use ok2cry_client::{Envelope, Jwks, KeyToken};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn start(config: &Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(["serve", "--config"])
        .arg(config)
        .env("OK2CRY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("server exited before listening");
        }
        if let Some(rest) = line.split("addr=127.0.0.1:").nth(1) {
            let port: u16 = rest.split_whitespace().next().unwrap().parse().unwrap();
            // Keep draining the pipe so the server never blocks on logging.
            std::thread::spawn(move || for _ in reader.lines() {});
            return (child, port);
        }
    }
    panic!("server did not report its address");
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_then_restart_closes_out_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let pki: PathBuf = dir.path().join("pki");
    let config = ok2cry::dev::prepare(&pki, Some("127.0.0.1:0".parse().unwrap())).unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("mlock = \"best_effort\"", "mlock = \"off\"");
    std::fs::write(&config, text).unwrap();

    let (mut child, port) = start(&config);
    eprintln!("started on {port}");
    let url = move |p: &str| format!("https://127.0.0.1:{port}{p}");
    let client = client_with(
        &pki.join("ca.pem"),
        Some((&pki.join("card-api.pem"), &pki.join("card-api.key"))),
    );
    let jwks: Jwks = client
        .get(url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop_at = Instant::now() + Duration::from_millis(1500);
    let mut workers = Vec::new();
    for w in 0..6 {
        let (client, jwks, acknowledged) = (client.clone(), jwks.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < stop_at {
                let Ok(r) = client
                    .post(url("/v1/keys"))
                    .json(&json!({"ttl_seconds": 300}))
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
                acknowledged.lock().unwrap().push(id.clone());
                // Open every other key; leave the rest alive for the kill.
                if (i + w).is_multiple_of(2) {
                    let vk = KeyToken::parse(key["token"].as_str().unwrap())
                        .unwrap()
                        .verify(&jwks, now_secs())
                        .unwrap();
                    let env = Envelope::seal(&vk, b"1234").unwrap();
                    let _ = client
                        .post(url(&format!("/v1/keys/{id}/open")))
                        .json(&json!({"envelope": env.to_json_value()}))
                        .send()
                        .await;
                }
                i += 1;
            }
        }));
    }
    eprintln!("load running");
    // Kill while the load is running.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in workers {
        let _ = w.await;
    }
    eprintln!("killed; workers done");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "too little load: {}",
        acknowledged.len()
    );

    // Restart: recovery closes out the lost keys. Then a clean stop seals the log.
    let (child, _port) = start(&config);
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait(child);
    assert!(status.success(), "{status:?}");

    let audit = pki.join("audit");
    let events = common::audit_events_in(&audit);
    let created: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "key_created")
        .map(|e| e["key_id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(
            created.contains(&id.as_str()),
            "acknowledged key {id} missing from the log"
        );
        assert!(
            events
                .iter()
                .any(|e| e["type"] == "key_destroyed" && e["key_id"] == id.as_str()),
            "key {id} has no destroyed event"
        );
    }
    for id in &created {
        assert!(
            events
                .iter()
                .any(|e| e["type"] == "key_destroyed" && e["key_id"] == *id)
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "key_destroyed" && e["reason"] == "process_lost")
    );
    let pem = std::fs::read_to_string(audit.join("audit-key.pub.pem")).unwrap();
    let name = ok2cry::audit::verify::key_name_in(&audit).unwrap();
    let report = ok2cry::audit::verify_log(&audit, &pem, &name, 1000);
    assert!(report.is_ok(), "{:#?}", report.violations);

    // The auditor's command line says the same, then catches a single altered event.
    let cli = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_ok2cry"))
            .args(["audit", "verify", "--dir"])
            .arg(dir)
            .arg("--key")
            .arg(audit.join("audit-key.pub.pem"))
            .output()
            .unwrap()
    };
    let out = cli(&audit);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("result: OK") && text.contains("process_lost"),
        "{text}"
    );
    let first = ok2cry::audit::store::segment_path(&audit, 1);
    let original = std::fs::read_to_string(&first).unwrap();
    std::fs::write(
        &first,
        original.replacen("\"reason\":\"consumed\"", "\"reason\":\"revoked\"", 1),
    )
    .unwrap();
    let out = cli(&audit);
    assert!(!out.status.success(), "an altered event was not detected");
    assert!(String::from_utf8_lossy(&out.stdout).contains("VIOLATION"));
}

fn wait(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
