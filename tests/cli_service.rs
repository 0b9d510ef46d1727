//! The command line against a running service: key create, seal to its token, open through the
//! service, key delete.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestServer, get};
use std::io::Write;
use std::process::{Command, Output, Stdio};

async fn ok2cry(args: Vec<String>, stdin: Vec<u8>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&stdin).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_seal_open_delete_from_the_command_line() {
    let server = TestServer::start().await;
    let pki = server.pki();
    let conn = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for (flag, file) in [
            ("--ca", "ca.pem"),
            ("--cert", "card-api.pem"),
            ("--key", "card-api.key"),
        ] {
            v.push(flag.into());
            v.push(pki.join(file).to_str().unwrap().into());
        }
        v.push("--service".into());
        v.push(server.url(""));
        v
    };
    let out = ok2cry(
        conn(&[
            "key",
            "create",
            "--ttl",
            "60",
            "--context",
            "card:9/set-pin",
        ]),
        vec![],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), key["token"].as_str().unwrap()).unwrap();
    let jwks = common::jwks_text(&server.client("card-api"), &server.url("")).await;
    std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_owned();
    let sealed = ok2cry(
        vec![
            "seal".into(),
            "--token".into(),
            d("token"),
            "--jwks".into(),
            d("jwks.json"),
        ],
        b"0042".to_vec(),
    )
    .await;
    assert!(
        sealed.status.success(),
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let opened = ok2cry(conn(&["open"]), sealed.stdout.clone()).await;
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    assert_eq!(opened.stdout, b"0042");
    // Opened once: the second open is refused with the service's reason.
    let again = ok2cry(conn(&["open"]), sealed.stdout).await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("410"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // Delete another key early.
    let out = ok2cry(conn(&["key", "create"]), vec![]).await;
    let other: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = other["key_id"].as_str().unwrap();
    let deleted = ok2cry(conn(&["key", "delete", id]), vec![]).await;
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    let r = get(
        &server.client("card-api"),
        server.url(&format!("/v1/keys/{id}")),
    )
    .await;
    assert_eq!(r.status(), 410);
    server.stop().await;
}
