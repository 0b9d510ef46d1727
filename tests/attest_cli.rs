//! `ok2cry attest verify` as a person runs it, on the real vectors (shared/vectors/): either
//! kind of evidence, said which; every PCR and the public key printed; historic documents at
//! their own time (and the error that says how); maximum age; inputs over the limit refused
//! without reading them whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn ok2cry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn shared() -> PathBuf {
    std::env::var_os("OK2CRY_SHARED")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

const NITRO_2025: &str = "vectors/nitro/aws-2025-01-06-eu-central-1.cose";
const NITRO_2025_MS: &str = "1736179625472";
/// 2024-06-01T00:00:00Z: inside every Milan certificate's validity.
const MILAN_AT_MS: &str = "1717200000000";
const MILAN_MEASUREMENT: &str = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";

fn nitro() -> String {
    shared().join(NITRO_2025).display().to_string()
}

fn milan_args() -> Vec<String> {
    let dir = shared().join("vectors/sev-snp");
    vec![
        "attest".into(),
        "verify".into(),
        "--document".into(),
        dir.join("report_milan.hex").display().to_string(),
        "--vcek".into(),
        dir.join("vcek_milan.der").display().to_string(),
        "--cert-chain".into(),
        dir.join("cert_chain_milan").display().to_string(),
        "--at-ms".into(),
        MILAN_AT_MS.into(),
    ]
}

fn run(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok2cry(&refs)
}

#[test]
fn a_nitro_document_is_said_to_be_one_with_every_pcr_and_its_public_key() {
    let out = ok2cry(&[
        "attest",
        "verify",
        "--document",
        &nitro(),
        "--at-ms",
        NITRO_2025_MS,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "platform: AWS Nitro Enclaves attestation document",
        "the AWS Nitro Enclaves root G1 (641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b)",
        "checked by the positional walk and by rustls-webpki",
        "debuggable environments refused",
        "module_id: i-0bee92034f3d60691-enc01943c5eaab3ad6a",
        "PCR9: ",
        "PCR15: ",
        "public_key: 3082",
        "NOT checked: what the evidence binds",
        "no maximum: pass --max-age",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn an_expired_certificate_error_says_how_to_verify_at_the_documents_time() {
    let out = ok2cry(&["attest", "verify", "--document", &nitro()]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("has expired"), "{stderr}");
    assert!(
        stderr.contains(&format!("pass --at-ms {NITRO_2025_MS}")),
        "{stderr}"
    );
}

#[test]
fn maximum_age_is_enforced_for_nitro() {
    let later = (NITRO_2025_MS.parse::<u64>().unwrap() + 120_000).to_string();
    let doc = nitro();
    let base = ["attest", "verify", "--document", &doc, "--max-age", "1m"];
    let fresh = ok2cry(&[&base[..], &["--at-ms", NITRO_2025_MS]].concat());
    assert!(fresh.status.success(), "{}", text(&fresh).1);
    assert!(text(&fresh).0.contains("(at most 60 s allowed)"));
    let stale = ok2cry(&[&base[..], &["--at-ms", &later]].concat());
    assert!(!stale.status.success());
    assert!(
        text(&stale).1.contains("older than the policy allows"),
        "{}",
        text(&stale).1
    );
    let bad = ok2cry(&[&base[..4], &["--max-age", "5 minutes"]].concat());
    assert!(!bad.status.success());
}

#[test]
fn the_real_milan_report_is_said_to_be_sev_snp() {
    let out = run(&milan_args());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "platform: AMD SEV-SNP report version 2 from an AMD Milan chip (VCEK Milan-B0)",
        "AMD's pinned Milan ARK (69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd)",
        "the VCEK's chip id and TCB are the report's",
        "no measurement expected (NOT checked which image runs",
        &format!("measurement: {MILAN_MEASUREMENT}"),
        "reported_tcb: bootloader=3 tee=0 snp=8 microcode=115",
        "vmpl: 0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }

    // Its measurement and TCB as a production policy would state them.
    let mut args = milan_args();
    args.extend([
        "--measurement".into(),
        MILAN_MEASUREMENT.into(),
        "--min-tcb".into(),
        "bootloader=3,tee=0,snp=8,microcode=115".into(),
        "--vmpl".into(),
        "0".into(),
    ]);
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(
        text(&out)
            .0
            .contains("the launch measurement is an expected one")
    );

    for (flag, value, error) in [
        (
            "--measurement",
            "00".repeat(48),
            "not one of the expected measurements",
        ),
        ("--min-tcb", "snp=9".to_owned(), "below the minimum"),
        ("--vmpl", "1".to_owned(), "VMPL 0"),
        (
            "--pcr",
            format!("0={}", "00".repeat(48)),
            "--pcr does not apply",
        ),
        ("--max-age", "5m".to_owned(), "carries no time"),
    ] {
        let mut args = milan_args();
        args.extend([flag.to_owned(), value]);
        let out = run(&args);
        assert!(!out.status.success(), "{flag}");
        assert!(text(&out).1.contains(error), "{flag}: {}", text(&out).1);
    }

    // The VCEK expires in 2030: verified at another time, the error says what to do.
    let mut args = milan_args();
    args.truncate(args.len() - 2);
    args.extend(["--at-ms".into(), "1950000000000".into()]);
    let out = run(&args);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("--at-ms"), "{}", text(&out).1);
}

#[test]
fn sev_snp_evidence_bundles_are_taken_too() {
    let dir = shared().join("vectors/sev-snp");
    let evidence = ok2cry_attestation::sev_snp::SevSnpEvidence::from_files(
        &std::fs::read(dir.join("report_milan.hex")).unwrap(),
        &std::fs::read(dir.join("vcek_milan.der")).unwrap(),
        &std::fs::read(dir.join("cert_chain_milan")).unwrap(),
    )
    .unwrap()
    .to_vec()
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("evidence.cbor");
    std::fs::write(&file, &evidence).unwrap();
    let out = ok2cry(&[
        "attest",
        "verify",
        "--document",
        file.to_str().unwrap(),
        "--at-ms",
        MILAN_AT_MS,
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(text(&out).0.contains("platform: AMD SEV-SNP"));
    // A bare report without its certificates: refused with what is missing.
    let bare = tmp.path().join("report.bin");
    std::fs::write(
        &bare,
        hex::decode(
            std::fs::read_to_string(dir.join("report_milan.hex"))
                .unwrap()
                .trim(),
        )
        .unwrap(),
    )
    .unwrap();
    let out = ok2cry(&["attest", "verify", "--document", bare.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("VCEK"), "{}", text(&out).1);
}

#[test]
fn oversized_inputs_are_refused_without_reading_them_whole() {
    // /dev/zero never ends: only the limit (64 KiB) plus one byte is read.
    let out = ok2cry(&["attest", "verify", "--document", "/dev/zero"]);
    assert!(!out.status.success());
    let (_, stderr) = text(&out);
    assert!(stderr.contains("larger than 65536 bytes"), "{stderr}");
    assert!(stderr.contains("nothing more was read"), "{stderr}");
    // A file of 20 KiB: over the 16 KiB evidence limit.
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.cose");
    let mut bytes = std::fs::read(shared().join(NITRO_2025)).unwrap();
    bytes.resize(20 * 1024, 0);
    std::fs::write(&big, bytes).unwrap();
    let out = ok2cry(&["attest", "verify", "--document", big.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("NOT verified"), "{}", text(&out).1);
    // Empty.
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let out = ok2cry(&["attest", "verify", "--document", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("empty evidence"), "{}", text(&out).1);
}
