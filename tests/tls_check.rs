//! The TLS check (issue #14, item 6): testssl.sh, a scanner we did not write (Debian package
//! `testssl.sh`, installed by scripts/test-deps), scans a dev node on 127.0.0.1 over real TLS,
//! and the test asserts on its findings (JSON):
//! - protocols: TLS 1.2 and TLS 1.3 offered; SSLv2, SSLv3, TLS 1.0 and TLS 1.1 not offered;
//! - cipher suites: every suite accepted, for every protocol, is an AEAD (AES-GCM,
//!   ChaCha20-Poly1305, AES-CCM); at least one for each of TLS 1.2 and TLS 1.3;
//! - compression: not offered (testssl's CRIME check, done over raw sockets because Debian's
//!   OpenSSL has no compression);
//! - client certificates: required at the handshake. testssl must not get an HTTP answer
//!   without a certificate (it reports "certificate-based authentication" when it sees the
//!   CertificateRequest and the refusal, but over TLS 1.3 its detection races with the
//!   server's alert, see `violations`); and the test's own clients show it deterministically:
//!   over TLS 1.2 and TLS 1.3, no HTTP answer without a certificate, `200` with one.
//!
//! `checker_reports_each_violation` feeds the checker findings that break each rule, and
//! `handshake_check_fails_when_client_certificates_are_optional` runs the handshake check
//! against a node with optional client authentication, so the check itself is shown able to
//! fail. Fails — never skips — when testssl.sh is missing.
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
    // testssl decides "certificate-based authentication" from an `openssl s_client` run with
    // no input: over TLS 1.3 the client's side of the handshake ends before the server reads
    // the (empty) client certificate, and when s_client exits before the server's
    // certificate_required alert arrives (a loaded machine), testssl sees a successful
    // handshake and reports "Couldn't determine service". So only an HTTP answer to testssl's
    // anonymous request fails here; `anonymous_handshake_refusals` checks the requirement
    // itself, deterministically.
    match get("service") {
        Some(f) if f.finding.starts_with("HTTP") => out.push(format!(
            "a client without a certificate got an HTTP answer: {}",
            f.finding
        )),
        Some(_) => {}
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
    let mut problems = violations(&findings);
    problems.extend(anonymous_handshake_refusals(&server).await);
    assert!(
        problems.is_empty(),
        "TLS check failed:\n  {}\n\ntestssl output:\n{}",
        problems.join("\n  "),
        String::from_utf8_lossy(&output.stdout)
    );
    server.stop().await;
}

/// An HTTPS client of `server` speaking only TLS `version`, with the dev certificate `who`
/// or none.
fn client_for(
    server: &common::TestServer,
    version: reqwest::tls::Version,
    who: Option<&str>,
) -> reqwest::Client {
    let pki = server.pki();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.join("ca.pem")).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .tls_version_min(version)
        .tls_version_max(version);
    if let Some(who) = who {
        let mut pem = std::fs::read(pki.join(format!("{who}.pem"))).unwrap();
        pem.extend(std::fs::read(pki.join(format!("{who}.key"))).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// The client-certificate rule, checked without testssl's race: over TLS 1.2 and TLS 1.3 a
/// request without a certificate gets no HTTP answer at all (the server ends the handshake),
/// while the same request with the card-api certificate gets `200` (so the refusal is the
/// certificate's, not the protocol version's or the server's). The client waits for the
/// server's answer, so the alert cannot be missed. Every rule broken, in words.
async fn anonymous_handshake_refusals(server: &common::TestServer) -> Vec<String> {
    let mut out = Vec::new();
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let url = server.url("/healthz");
        match client_for(server, version, Some("card-api"))
            .get(&url)
            .send()
            .await
        {
            Ok(r) if r.status() == reqwest::StatusCode::OK => {}
            Ok(r) => out.push(format!(
                "{version:?} with a client certificate: {} from /healthz",
                r.status()
            )),
            Err(e) => out.push(format!(
                "{version:?} with a client certificate failed: {e:?}"
            )),
        }
        if let Ok(r) = client_for(server, version, None).get(&url).send().await {
            out.push(format!(
                "{version:?} without a client certificate: the handshake succeeded ({} from /healthz)",
                r.status()
            ));
        }
    }
    out
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
    let raced = good
        .iter()
        .cloned()
        .map(|f| match f.id.as_str() {
            "service" => finding(
                "service",
                "Couldn't determine service, skipping all HTTP checks",
            ),
            _ => f,
        })
        .collect::<Vec<_>>();
    assert_eq!(violations(&raced), Vec::<String>::new());
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

/// The handshake check can fail: with `tls.client_auth = "optional"` a client without a
/// certificate completes the handshake over both versions, and the check reports both.
#[tokio::test(flavor = "multi_thread")]
async fn handshake_check_fails_when_client_certificates_are_optional() {
    let server = common::TestServer::start_with(common::Options {
        replace: vec![(
            "client_auth = \"required\"".into(),
            "client_auth = \"optional\"".into(),
        )],
        ..Default::default()
    })
    .await;
    let problems = anonymous_handshake_refusals(&server).await;
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|p| p.contains("without a client certificate: the handshake succeeded")),
        "{problems:#?}"
    );
    server.stop().await;
}
