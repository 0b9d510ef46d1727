//! Release provenance: an in-toto Statement v1 with a SLSA-style provenance predicate.
//!
//! The statement says: this binary (name, SHA-256) was built from this source commit, and the
//! enclave image built from it measures to these PCR0/1/2 values. A relying party that trusts
//! the statement's signer (the statement itself is unsigned here; sign it with any DSSE tool)
//! can map the PCRs in a verified attestation document back to a source commit, and anyone can
//! check the claim by rebuilding (see attestation/README.md, "Reproducing PCR0").
//!
//! Layout (in-toto Statement v1, predicate type SLSA provenance v1):
//! - `subject`: the binary, digest `sha256`;
//! - `predicate.buildDefinition.resolvedDependencies[0]`: the source, digest `gitCommit`;
//! - `predicate.runDetails.byproducts`: `nitro-enclave-pcr0`, `-pcr1`, `-pcr2`, digest `sha384`
//!   (the PCR value, which is a SHA-384 measurement, not the hash of a file).

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{AttestationError, Result};

/// in-toto Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance v1 predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The build type this project defines for its enclave release build.
pub const BUILD_TYPE: &str = "https://ok2cry.invalid/build/nitro-enclave/v1";

/// What a release statement records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseProvenance {
    /// The binary's file name (e.g. `ok2cry`).
    pub binary_name: String,
    /// SHA-256 of the binary.
    pub binary_sha256: [u8; 32],
    /// Where the source lives (e.g. `git+https://example.invalid/ok2cry`).
    pub source_uri: String,
    /// The git commit built: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
    pub source_commit: String,
    /// Who built it (a URI naming the builder, e.g. the CI workflow).
    pub builder_id: String,
    /// PCR0, PCR1, PCR2 of the enclave image (48 bytes each), as `nitro-cli build-enclave`
    /// prints them.
    pub pcrs: [[u8; 48]; 3],
}

#[derive(Serialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: &'static str,
    subject: Vec<Value>,
    #[serde(rename = "predicateType")]
    predicate_type: &'static str,
    predicate: Value,
}

/// Builds the statement as JSON. Refuses an empty name or URI and a malformed commit id.
pub fn release_statement(release: &ReleaseProvenance) -> Result<String> {
    if release.binary_name.is_empty()
        || release.source_uri.is_empty()
        || release.builder_id.is_empty()
    {
        return Err(AttestationError::InvalidInput(
            "empty binary name, source URI or builder id",
        ));
    }
    let commit = &release.source_commit;
    let commit_ok = matches!(commit.len(), 40 | 64)
        && commit
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !commit_ok {
        return Err(AttestationError::InvalidInput(
            "source commit is not 40 or 64 lowercase hex",
        ));
    }
    let byproducts: Vec<Value> = release
        .pcrs
        .iter()
        .enumerate()
        .map(|(index, pcr)| {
            json!({
                "name": format!("nitro-enclave-pcr{index}"),
                "digest": { "sha384": hex::encode(pcr) },
            })
        })
        .collect();
    let statement = Statement {
        type_: STATEMENT_TYPE,
        subject: vec![json!({
            "name": release.binary_name,
            "digest": { "sha256": hex::encode(release.binary_sha256) },
        })],
        predicate_type: PREDICATE_TYPE,
        predicate: json!({
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "source": { "uri": release.source_uri, "digest": { "gitCommit": commit } },
                    "command": "cargo build --locked --release && nitro-cli build-enclave",
                },
                "resolvedDependencies": [
                    { "uri": release.source_uri, "digest": { "gitCommit": commit } },
                ],
            },
            "runDetails": {
                "builder": { "id": release.builder_id },
                "byproducts": byproducts,
            },
        }),
    };
    serde_json::to_string_pretty(&statement)
        .map_err(|_| AttestationError::InvalidInput("statement serialization failed"))
}
