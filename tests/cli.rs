//! The command line as a person or a script uses it: keygen, seal, open; audit verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn ok2cry(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ok2cry"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn keygen_seal_open_round_trip_and_the_key_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("me.jwk");
    let out = ok2cry(&["keygen", "--out", key.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout).unwrap();
    assert!(
        !public.contains("\"d\""),
        "public output leaks the private key"
    );
    std::fs::write(dir.path().join("me.pub.jwk"), &public).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let pub_path = dir.path().join("me.pub.jwk");
    let sealed = ok2cry(
        &[
            "seal",
            "--jwk",
            pub_path.to_str().unwrap(),
            "--context",
            "reveal:card-7",
        ],
        b"4111111111111111",
    );
    assert!(
        sealed.status.success(),
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let envelope = sealed.stdout;
    assert!(!String::from_utf8_lossy(&envelope).contains("4111"));
    // Wrong context: refused, key kept.
    let wrong = ok2cry(
        &[
            "open",
            "--key-file",
            key.to_str().unwrap(),
            "--context",
            "other",
        ],
        &envelope,
    );
    assert!(!wrong.status.success());
    assert!(key.exists());
    let opened = ok2cry(
        &[
            "open",
            "--key-file",
            key.to_str().unwrap(),
            "--context",
            "reveal:card-7",
        ],
        &envelope,
    );
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    assert_eq!(opened.stdout, b"4111111111111111");
    assert!(
        !key.exists(),
        "the key file must be destroyed after opening"
    );
}

#[test]
fn seal_to_a_verified_key_token_and_compact_output() {
    use ok2cry_client::{Jwks, KeyId, KeyTokenClaims, PrivateKey, TokenSigner};
    let dir = tempfile::tempdir().unwrap();
    let signer = TokenSigner::generate();
    let key = PrivateKey::generate();
    let id = KeyId::new("n1_clitest").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = KeyTokenClaims::new(
        "ok2cry",
        id.clone(),
        &key.public_key(),
        now,
        now + 60,
        1,
        Some("ctx".into()),
    );
    std::fs::write(dir.path().join("token"), signer.sign(&claims).unwrap()).unwrap();
    std::fs::write(
        dir.path().join("jwks.json"),
        serde_json::to_string(&Jwks {
            keys: vec![signer.public_jwk()],
        })
        .unwrap(),
    )
    .unwrap();
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_owned();
    let out = ok2cry(
        &[
            "seal",
            "--token",
            &d("token"),
            "--jwks",
            &d("jwks.json"),
            "--compact",
        ],
        b"1234",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compact = String::from_utf8(out.stdout).unwrap();
    assert!(compact.starts_with("v1.n1_clitest."));
    let env = ok2cry_client::Envelope::from_compact(compact.trim()).unwrap();
    assert_eq!(key.open(&id, "ctx", &env).unwrap().expose_secret(), b"1234");
    // A token checked against another service's keys is refused.
    let other = TokenSigner::generate();
    std::fs::write(
        dir.path().join("other.json"),
        serde_json::to_string(&Jwks {
            keys: vec![other.public_jwk()],
        })
        .unwrap(),
    )
    .unwrap();
    let refused = ok2cry(
        &["seal", "--token", &d("token"), "--jwks", &d("other.json")],
        b"1234",
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown signing key"));
}

fn shared() -> std::path::PathBuf {
    std::env::var_os("OK2CRY_SHARED")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

#[test]
fn attest_verify_a_real_nitro_document_at_its_own_time() {
    let doc = shared().join("vectors/nitro/aws-2025-01-06-eu-central-1.cose");
    let doc = doc.to_str().unwrap();
    let out = ok2cry(
        &[
            "attest",
            "verify",
            "--document",
            doc,
            "--at-ms",
            "1736179625472",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("module_id: i-0bee92034f3d60691-enc01943c5eaab3ad6a"),
        "{text}"
    );
    // Now (its leaf certificate expired long ago), with a nonce it lacks, or a wrong PCR0.
    assert!(
        !ok2cry(&["attest", "verify", "--document", doc], b"")
            .status
            .success()
    );
    assert!(
        !ok2cry(
            &[
                "attest",
                "verify",
                "--document",
                doc,
                "--at-ms",
                "1736179625472",
                "--nonce",
                "00"
            ],
            b""
        )
        .status
        .success()
    );
    let wrong_pcr0 = format!("0={}", "ab".repeat(48));
    assert!(
        !ok2cry(
            &[
                "attest",
                "verify",
                "--document",
                doc,
                "--at-ms",
                "1736179625472",
                "--pcr",
                &wrong_pcr0
            ],
            b""
        )
        .status
        .success()
    );
}

/// The CLI reads envelopes, JWKs and JWK sets by docs/PROTOCOL.md §10: surrounding SP/HT/CR/LF
/// is removed, nothing else; padding, duplicate members and an over-lenient JWK are refused,
/// and a refused envelope leaves the key file in place.
#[test]
fn the_cli_reads_by_the_protocol_rules() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("me.jwk");
    let key_path = key.to_str().unwrap();
    let out = ok2cry(&["keygen", "--out", key_path], b"");
    assert!(out.status.success());
    let public = String::from_utf8(out.stdout).unwrap();
    let pub_path = dir.path().join("me.pub.jwk");
    std::fs::write(&pub_path, &public).unwrap();
    let sealed = ok2cry(
        &["seal", "--jwk", pub_path.to_str().unwrap(), "--compact"],
        b"1234",
    );
    assert!(sealed.status.success());
    let compact = String::from_utf8(sealed.stdout).unwrap().trim().to_owned();
    let open = |stdin: &str| ok2cry(&["open", "--key-file", key_path], stdin.as_bytes());
    let refused = |stdin: &str, why: &str| {
        let out = open(stdin);
        assert!(!out.status.success(), "{why}: accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("envelope"), "{why}: {stderr}");
        assert!(
            key.exists(),
            "{why}: the key file must survive a refused envelope"
        );
    };
    refused(&format!("{compact}\u{a0}"), "a trailing no-break space");
    refused(&format!("\u{c}{compact}"), "a leading form feed");
    let (head, sealed_part) = compact.rsplit_once('.').unwrap();
    let padding = "=".repeat((4 - sealed_part.len() % 4) % 4);
    assert!(!padding.is_empty());
    refused(&format!("{head}.{sealed_part}{padding}"), "correct padding");
    let key_id = head.split('.').nth(1).unwrap();
    refused(
        &format!(r#"{{"version":1,"key_id":"x","key_id":"{key_id}","sealed":"{sealed_part}"}}"#),
        "a duplicate member",
    );
    refused(&format!("v2.{key_id}.{sealed_part}.a.b"), "version 2");
    refused(
        &format!(r#"{{"version":1,"key_id":"{key_id}","sealed":"{sealed_part}","context":null}}"#),
        "a null context",
    );
    // A JWK with a member the protocol does not allow is refused when sealing.
    let mut jwk: serde_json::Value = serde_json::from_str(&public).unwrap();
    jwk["n"] = serde_json::json!("AQAB");
    std::fs::write(&pub_path, jwk.to_string()).unwrap();
    let out = ok2cry(&["seal", "--jwk", pub_path.to_str().unwrap()], b"1");
    assert!(!out.status.success());
    // Surrounded by CR, LF, HT and SP, the same envelope opens.
    let out = open(&format!("\r\n\t {compact} \t\r\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"1234");
}
