//! The TLS check (issue #14, item 6): testssl.sh, a scanner we did not write (Debian package
//! `testssl.sh`, installed by scripts/test-deps), scans a dev node on 127.0.0.1 over real TLS,
//! and the test asserts on its findings (JSON):
//! - protocols: TLS 1.2 and TLS 1.3 offered; SSLv2, SSLv3, TLS 1.0 and TLS 1.1 not offered;
//! - cipher suites: every suite accepted, for every protocol, is an AEAD (AES-GCM,
//!   ChaCha20-Poly1305, AES-CCM); at least one for each of TLS 1.2 and TLS 1.3;
//! - compression: not offered (testssl's CRIME check, done over raw sockets because Debian's
//!   OpenSSL has no compression);
//! - client certificates: required at the handshake. testssl reports "certificate-based
//!   authentication" when the server sends a CertificateRequest *and* a handshake without a
//!   certificate fails; with optional client authentication the handshake succeeds and the
//!   report says so.
//!
//! `checker_reports_each_violation` feeds the checker findings that break each rule, so the
//! check itself is shown able to fail. Fails — never skips — when testssl.sh is missing.
//! About 40 s (testssl tries each of its ~370 suites).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const TESTSSL: &str = "/usr/bin/testssl";

/// One testssl finding: its id and text.
#[derive(Debug, Clone)]
struct Finding {
    id: String,
    finding: String,
    severity: String,
}

fn findings(json: &Value) -> Vec<Finding> {
    json.as_array()
        .expect("testssl's JSON output is an array of findings")
        .iter()
        .map(|f| Finding {
            id: f["id"].as_str().unwrap_or_default().to_owned(),
            finding: f["finding"].as_str().unwrap_or_default().to_owned(),
            severity: f["severity"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

fn is_aead(iana_name: &str) -> bool {
    iana_name.contains("_GCM_")
        || iana_name.contains("CHACHA20_POLY1305")
        || iana_name.contains("_CCM")
}

/// Every rule the findings break, in words; empty when the server passes.
fn violations(findings: &[Finding]) -> Vec<String> {
    let mut out = Vec::new();
    let get = |id: &str| findings.iter().find(|f| f.id == id);
    for id in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        match get(id) {
            Some(f) if f.finding.starts_with("not offered") => {}
            Some(f) => out.push(format!("{id} must not be offered: {}", f.finding)),
            None => out.push(format!("no finding for {id}")),
        }
    }
    for id in ["TLS1_2", "TLS1_3"] {
        match get(id) {
            Some(f) if f.finding.starts_with("offered") => {}
            Some(f) => out.push(format!("{id} must be offered: {}", f.finding)),
            None => out.push(format!("no finding for {id}")),
        }
    }
    match get("CRIME_TLS") {
        Some(f) if f.finding.starts_with("not vulnerable") => {}
        Some(f) => out.push(format!("TLS compression: {}", f.finding)),
        None => out.push("no finding for CRIME_TLS (compression)".into()),
    }
    match get("service") {
        Some(f) if f.finding.contains("certificate-based authentication") => {}
        Some(f) => out.push(format!(
            "a handshake without a client certificate succeeded: {}",
            f.finding
        )),
        None => out.push("no finding for the service (client authentication)".into()),
    }
    let mut suites = [0usize; 2];
    for f in findings.iter().filter(|f| f.id.starts_with("cipher-")) {
        let iana = f.finding.split_whitespace().last().unwrap_or_default();
        if !is_aead(iana) {
            out.push(format!("non-AEAD cipher suite accepted: {}", f.finding));
        }
        if f.id.starts_with("cipher-tls1_2_") {
            suites[0] += 1;
        } else if f.id.starts_with("cipher-tls1_3_") {
            suites[1] += 1;
        } else {
            out.push(format!("a suite of another protocol: {}", f.finding));
        }
    }
    for (count, version) in suites.iter().zip(["TLS 1.2", "TLS 1.3"]) {
        if *count == 0 {
            out.push(format!("no {version} cipher suite found"));
        }
    }
    for f in findings
        .iter()
        .filter(|f| f.severity == "FATAL" || f.id == "scanProblem")
    {
        out.push(format!("testssl could not scan: {} {}", f.id, f.finding));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn testssl_finds_tls12_13_aead_only_no_compression_client_certificate_required() {
    assert!(
        Path::new(TESTSSL).exists(),
        "{TESTSSL} is missing: run scripts/test-deps (Debian package testssl.sh)"
    );
    let server = common::TestServer::start().await;
    let out = tempfile::tempdir().unwrap();
    let json_path = out.path().join("testssl.json");
    let target = format!("127.0.0.1:{}", server.addr.port());
    let scan = tokio::process::Command::new(TESTSSL)
        .args([
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--nodns",
            "none",
        ])
        .args(["--connect-timeout", "10", "--openssl-timeout", "10"])
        // -p protocols, -E each cipher suite per protocol, -C compression (CRIME).
        .args(["-p", "-E", "-C", "--jsonfile"])
        .arg(&json_path)
        .arg(&target)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), scan)
        .await
        .expect("testssl did not finish within 5 minutes")
        .expect("testssl could not be started");
    let text = std::fs::read_to_string(&json_path).unwrap_or_else(|e| {
        panic!(
            "testssl wrote no JSON ({e}); exit {:?}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let findings = findings(&serde_json::from_str(&text).unwrap());
    let problems = violations(&findings);
    assert!(
        problems.is_empty(),
        "TLS check failed:\n  {}\n\ntestssl output:\n{}",
        problems.join("\n  "),
        String::from_utf8_lossy(&output.stdout)
    );
    server.stop().await;
}

#[test]
fn checker_reports_each_violation() {
    let finding = |id: &str, text: &str| Finding {
        id: id.into(),
        finding: text.into(),
        severity: "INFO".into(),
    };
    let good = vec![
        finding("SSLv2", "not offered"),
        finding("SSLv3", "not offered"),
        finding("TLS1", "not offered"),
        finding("TLS1_1", "not offered"),
        finding("TLS1_2", "offered"),
        finding("TLS1_3", "offered with final"),
        finding("CRIME_TLS", "not vulnerable"),
        finding(
            "service",
            "certificate-based authentication => skipping all HTTP checks",
        ),
        finding(
            "cipher-tls1_2_xc02c",
            "TLS 1.2 xc02c ECDHE-ECDSA-AES256-GCM-SHA384 ECDH 253 AESGCM 256 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ),
        finding(
            "cipher-tls1_3_x1303",
            "TLS 1.3 x1303 TLS_CHACHA20_POLY1305_SHA256 ECDH 253 ChaCha20 256 TLS_CHACHA20_POLY1305_SHA256",
        ),
    ];
    assert_eq!(violations(&good), Vec::<String>::new());
    let replace = |id: &str, text: &str| {
        let mut v: Vec<Finding> = good.iter().filter(|f| f.id != id).cloned().collect();
        v.push(finding(id, text));
        v
    };
    let bad = [
        replace("TLS1", "offered (deprecated)"),
        replace("SSLv3", "offered (NOT ok)"),
        replace("TLS1_3", "not offered"),
        replace("CRIME_TLS", "VULNERABLE (NOT ok)"),
        replace("service", "HTTP"),
        replace(
            "cipher-tls1_2_xc013",
            "TLS 1.2 xc013 ECDHE-RSA-AES128-SHA ECDH 253 AES 128 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        ),
        replace(
            "cipher-tls1_xc02b",
            "TLS 1 xc02b ECDHE-ECDSA-AES128-GCM-SHA256 ECDH 253 AESGCM 128 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ),
        good.iter()
            .filter(|f| !f.id.starts_with("cipher-tls1_3"))
            .cloned()
            .collect(),
        good.iter()
            .filter(|f| f.id != "CRIME_TLS")
            .cloned()
            .collect(),
    ];
    for findings in bad {
        assert_eq!(violations(&findings).len(), 1, "{findings:?}");
    }
}
