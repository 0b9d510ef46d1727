//! The release provenance statement: in-toto Statement v1 with a SLSA-style predicate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ok2cry_attestation::{AttestationError, ReleaseProvenance, release_statement};
use serde_json::Value;

fn release() -> ReleaseProvenance {
    ReleaseProvenance {
        binary_name: "ok2cry".to_owned(),
        binary_sha256: [0x11; 32],
        source_uri: "git+https://example.invalid/ok2cry".to_owned(),
        source_commit: "d325ecf0123456789abcdef0123456789abcdef0".to_owned(),
        builder_id: "https://example.invalid/ok2cry/.ci/run".to_owned(),
        pcrs: [[0xa0; 48], [0xa1; 48], [0xa2; 48]],
    }
}

#[test]
fn statement_carries_subject_commit_and_pcrs() {
    let json: Value = serde_json::from_str(&release_statement(&release()).unwrap()).unwrap();
    assert_eq!(json["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(json["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(json["subject"][0]["name"], "ok2cry");
    assert_eq!(json["subject"][0]["digest"]["sha256"], "11".repeat(32));
    let build = &json["predicate"]["buildDefinition"];
    assert_eq!(
        build["resolvedDependencies"][0]["digest"]["gitCommit"],
        release().source_commit
    );
    assert_eq!(
        build["externalParameters"]["source"]["uri"],
        release().source_uri
    );
    let run = &json["predicate"]["runDetails"];
    assert_eq!(run["builder"]["id"], release().builder_id);
    for (index, byte) in ["a0", "a1", "a2"].iter().enumerate() {
        assert_eq!(
            run["byproducts"][index]["name"],
            format!("nitro-enclave-pcr{index}")
        );
        assert_eq!(
            run["byproducts"][index]["digest"]["sha384"],
            byte.repeat(48)
        );
    }
}

#[test]
fn statement_refuses_bad_input() {
    for commit in [
        "",
        "D325ECF0123456789ABCDEF0123456789ABCDEF0",
        "d325ecf",
        "g".repeat(40).as_str(),
    ] {
        let mut bad = release();
        bad.source_commit = commit.to_owned();
        assert!(
            matches!(
                release_statement(&bad),
                Err(AttestationError::InvalidInput(_))
            ),
            "{commit}"
        );
    }
    let mut bad = release();
    bad.binary_name.clear();
    assert!(matches!(
        release_statement(&bad),
        Err(AttestationError::InvalidInput(_))
    ));
    let mut sha256_commit = release();
    sha256_commit.source_commit = "ab".repeat(32);
    release_statement(&sha256_commit).unwrap();
}
