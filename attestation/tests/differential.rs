//! Differential test of certificate-chain validation.
//!
//! The verifier accepts a chain only if two validators do: the positional walk written in this
//! crate (`certificate::walk_chain`) and rustls-webpki (`cert_path::validate`). Here the two are
//! held against each other, and against a third, independent implementation, OpenSSL's
//! `openssl verify` (a real process), over:
//! - every real chain: the three AWS Nitro documents and the AMD Milan chain at their own times,
//!   two development-provider documents, and an OpenSSL-made AMD-style chain;
//! - each of those at every certificate's validity boundaries (one second before and after
//!   each notBefore and notAfter, and the boundaries themselves);
//! - every single-byte alteration of every certificate below the root (OpenSSL on a
//!   deterministic sample of them, to keep the process count reasonable);
//! - structural changes: an intermediate left out, a leaf from another chain, intermediates in
//!   another order.
//!
//! Expected agreement, and the documented exceptions:
//! - the walk and webpki give the same verdict in every case, except two by design: webpki
//!   builds a path from certificates in any order, the walk takes the chain only in the order
//!   given (root first), so reordered intermediates are refused by the walk alone (and so by
//!   the verifier); and webpki does not check its trust anchor's own validity dates, the walk
//!   (like OpenSSL) does, so at the root's boundaries the walk may refuse where webpki accepts
//!   (never the reverse);
//! - OpenSSL agrees everywhere except exactly at a notAfter second, which it treats as
//!   expired; RFC 5280 §4.1.2.5 (and the walk, and webpki) count it as valid. OpenSSL is
//!   therefore asked one second inside and outside each boundary, not at it.
//!
//! Root alterations are not in the differential: every validator trusts its anchor as given;
//! the root is protected by the fingerprint pin that runs before both validators (every byte of
//! the AWS and AMD roots is altered in the nitro_vectors and sev_snp_vectors tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use ok2cry_attestation::certificate::walk_chain;
use ok2cry_attestation::{
    AttestationDocument, AttestationProvider, ChainProfile, DevProvider, cert_path,
};
use support::synthetic::{self, Chain, SPL};
use support::{DEBUG_2024, MILAN_AT_MS, PROD_2021, PROD_2025, at_ms, milan, vector};
use x509_cert::Certificate;
use x509_cert::der::Decode;

/// One chain to validate: root first, leaf last.
#[derive(Clone)]
struct Case {
    name: String,
    chain: Vec<Vec<u8>>,
    at: SystemTime,
    profile: ChainProfile,
}

impl Case {
    fn refs(&self) -> Vec<&[u8]> {
        self.chain.iter().map(Vec::as_slice).collect()
    }
    fn walk(&self) -> bool {
        walk_chain(&self.refs(), self.at, self.profile).is_ok()
    }
    fn webpki(&self) -> bool {
        cert_path::validate(&self.refs(), self.at, self.profile).is_ok()
    }
    fn with_at(&self, at: SystemTime, label: &str) -> Self {
        Self {
            name: format!("{} {label}", self.name),
            at,
            ..self.clone()
        }
    }
}

fn pem(der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// `openssl verify` of the case: the root as the only CA file, the certificates between as
/// untrusted intermediates, at the case's time (whole seconds).
fn openssl(case: &Case, dir: &Path) -> bool {
    let (root, rest) = case.chain.split_first().unwrap();
    let (leaf, intermediates) = rest.split_last().unwrap();
    std::fs::write(dir.join("root.pem"), pem(root)).unwrap();
    std::fs::write(dir.join("leaf.pem"), pem(leaf)).unwrap();
    let secs = case
        .at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut command = Command::new("openssl");
    command.current_dir(dir).args([
        "verify",
        "-attime",
        &secs.to_string(),
        "-CAfile",
        "root.pem",
    ]);
    if !intermediates.is_empty() {
        let bundle: String = intermediates.iter().map(|der| pem(der)).collect();
        std::fs::write(dir.join("untrusted.pem"), bundle).unwrap();
        command.args(["-untrusted", "untrusted.pem"]);
    }
    command.arg("leaf.pem");
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (scripts/test-deps installs it): {e}"));
    out.status.success()
}

fn validity(der: &[u8]) -> (SystemTime, SystemTime) {
    let v = *Certificate::from_der(der)
        .unwrap()
        .tbs_certificate()
        .validity();
    (v.not_before.to_system_time(), v.not_after.to_system_time())
}

fn nitro_case(name: &str, bytes: &[u8], at: SystemTime) -> Case {
    let doc = AttestationDocument::parse(bytes).unwrap();
    let mut chain = doc.cabundle().to_vec();
    chain.push(doc.certificate().to_vec());
    Case {
        name: name.to_owned(),
        chain,
        at,
        profile: ChainProfile::Nitro,
    }
}

fn nitro_cases() -> Vec<Case> {
    [PROD_2025, PROD_2021, DEBUG_2024]
        .into_iter()
        .map(|(name, ms)| nitro_case(name, &vector(name), at_ms(ms)))
        .collect()
}

fn dev_case(n: usize) -> Case {
    let dev = DevProvider::generate().unwrap();
    let doc = dev.attest(Some(b"nonce"), None, None).unwrap();
    nitro_case(
        &format!("development provider {n}"),
        &doc,
        SystemTime::now(),
    )
}

fn milan_case() -> Case {
    let m = milan();
    Case {
        name: "AMD Milan".into(),
        chain: vec![m.ark, m.ask, m.vcek],
        at: at_ms(MILAN_AT_MS),
        profile: ChainProfile::AmdSev,
    }
}

fn synthetic_case() -> Case {
    let synthetic = Chain::new(
        ok2cry_attestation::sev_snp::Product::Genoa,
        synthetic::chip_id(5),
        SPL,
    );
    Case {
        name: "OpenSSL-made AMD-style chain".into(),
        chain: vec![synthetic.ark, synthetic.ask, synthetic.vcek],
        at: synthetic::after_issue(),
        profile: ChainProfile::AmdSev,
    }
}

fn real_cases() -> Vec<Case> {
    let mut cases = nitro_cases();
    cases.extend([dev_case(0), dev_case(1), milan_case(), synthetic_case()]);
    cases
}

/// Every single-byte alteration of every certificate below the root of `case`: the walk and
/// webpki both refuse; OpenSSL too, on every 29th alteration.
fn alterations_agree(case: &Case) {
    let dir = tempfile::tempdir().unwrap();
    let (mut compared, mut by_openssl) = (0usize, 0usize);
    for position in 1..case.chain.len() {
        for index in 0..case.chain[position].len() {
            let mut altered = case.clone();
            altered.chain[position][index] ^= 0x01;
            altered.name = format!("{}: cert {position} byte {index}", case.name);
            let (walk, webpki) = (altered.walk(), altered.webpki());
            assert_eq!(
                walk, webpki,
                "{}: walk {walk}, webpki {webpki}",
                altered.name
            );
            assert!(!walk, "{} was accepted", altered.name);
            if compared % 29 == 0 {
                assert!(
                    !openssl(&altered, dir.path()),
                    "openssl accepted {}",
                    altered.name
                );
                by_openssl += 1;
            }
            compared += 1;
        }
    }
    assert!(by_openssl > 10, "{}", case.name);
    eprintln!(
        "{}: {compared} altered chains, {by_openssl} also through openssl",
        case.name
    );
}

#[test]
fn real_chains_are_accepted_by_all_three() {
    let dir = tempfile::tempdir().unwrap();
    for case in real_cases() {
        assert!(case.walk(), "walk refused {}", case.name);
        assert!(case.webpki(), "webpki refused {}", case.name);
        assert!(openssl(&case, dir.path()), "openssl refused {}", case.name);
    }
}

#[test]
fn validity_boundaries_agree() {
    let dir = tempfile::tempdir().unwrap();
    let second = Duration::from_secs(1);
    let mut compared = 0;
    for case in real_cases() {
        for (position, der) in case.chain.iter().enumerate() {
            let (from, until) = validity(der);
            for (at, label, ask_openssl) in [
                (from - second, "notBefore-1s", true),
                (from, "notBefore", true),
                (until, "notAfter", false),
                (until + second, "notAfter+1s", true),
                (until - second, "notAfter-1s", true),
            ] {
                let timed = case.with_at(at, &format!("cert {position} {label}"));
                let (walk, webpki) = (timed.walk(), timed.webpki());
                let (root_from, root_until) = validity(&timed.chain[0]);
                if (root_from..=root_until).contains(&at) {
                    assert_eq!(walk, webpki, "{}: walk {walk}, webpki {webpki}", timed.name);
                } else {
                    // webpki does not look at its trust anchor's dates; the walk (and OpenSSL)
                    // refuse a chain whose root is expired or not yet valid.
                    assert!(!walk, "{}: the walk accepted an invalid root", timed.name);
                }
                // OpenSSL counts a notAfter second as expired (see the module docs): it is not
                // asked at any certificate's notAfter.
                let at_some_not_after = timed.chain.iter().any(|der| validity(der).1 == at);
                if ask_openssl && !at_some_not_after {
                    let openssl = openssl(&timed, dir.path());
                    assert_eq!(
                        walk, openssl,
                        "{}: walk {walk}, openssl {openssl}",
                        timed.name
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 50, "{compared}");
}

// One test per chain, so that the test harness spreads them over the cores.
#[test]
fn alterations_agree_nitro_2025() {
    alterations_agree(&nitro_cases()[0]);
}

#[test]
fn alterations_agree_nitro_2021() {
    alterations_agree(&nitro_cases()[1]);
}

#[test]
fn alterations_agree_nitro_debug_2024() {
    alterations_agree(&nitro_cases()[2]);
}

#[test]
fn alterations_agree_development_provider() {
    alterations_agree(&dev_case(0));
}

#[test]
fn alterations_agree_amd_milan() {
    alterations_agree(&milan_case());
}

#[test]
fn alterations_agree_amd_synthetic() {
    alterations_agree(&synthetic_case());
}

#[test]
fn structural_changes_agree_except_order() {
    let dir = tempfile::tempdir().unwrap();
    let cases = real_cases();
    let real_nitro: Vec<&Case> = cases
        .iter()
        .filter(|c| c.profile == ChainProfile::Nitro && c.chain.len() > 2)
        .collect();
    for case in &real_nitro {
        // Each intermediate left out.
        for position in 1..case.chain.len() - 1 {
            let mut missing = (*case).clone();
            missing.chain.remove(position);
            missing.name = format!("{} without cert {position}", case.name);
            assert!(!missing.walk(), "{}", missing.name);
            assert!(!missing.webpki(), "{}", missing.name);
            assert!(!openssl(&missing, dir.path()), "{}", missing.name);
        }
        // Intermediates reversed: the walk (order as given) refuses; webpki and OpenSSL build
        // a path anyway. The verifier needs both, so it refuses.
        let mut reordered = (*case).clone();
        let last = reordered.chain.len() - 1;
        reordered.chain[1..last].reverse();
        assert!(!reordered.walk(), "{} reordered", case.name);
        assert!(reordered.webpki(), "{} reordered", case.name);
        assert!(openssl(&reordered, dir.path()), "{} reordered", case.name);
    }
    // A leaf from another document, under this document's intermediates.
    let (a, b) = (real_nitro[0], real_nitro[1]);
    let mut foreign = a.clone();
    *foreign.chain.last_mut().unwrap() = b.chain.last().unwrap().clone();
    foreign.name = format!("{} with the leaf of {}", a.name, b.name);
    assert!(!foreign.walk(), "{}", foreign.name);
    assert!(!foreign.webpki(), "{}", foreign.name);
    assert!(!openssl(&foreign, dir.path()), "{}", foreign.name);
    // A Nitro chain under the AMD profile and the reverse: refused by both (algorithms).
    let amd = cases
        .iter()
        .find(|c| c.profile == ChainProfile::AmdSev)
        .unwrap();
    for (case, profile) in [(a, ChainProfile::AmdSev), (amd, ChainProfile::Nitro)] {
        let crossed = Case {
            profile,
            ..case.clone()
        };
        assert!(!crossed.walk(), "{} under {profile:?}", case.name);
        assert!(!crossed.webpki(), "{} under {profile:?}", case.name);
    }
}
