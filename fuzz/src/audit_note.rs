//! Signed checkpoint notes (`ok2cry::audit::note::verify_note`) and checkpoint bodies
//! (`Checkpoint::parse_body`), as an auditor or a witness receives them.
//!
//! Mode (first byte) even: the rest is a note, verified against the fixture audit key.
//! Odd: the rest is a note body, which the harness signs with the fixture audit key (in the
//! note format the service writes), so the body's parser is fuzzed behind a good signature.
//! A checkpoint that verifies must print back to a body that parses to the same checkpoint.

use crate::fixtures::{p256_key, p256_spki_pem, setup};
use base64ct::{Base64, Encoding};
use ok2cry::audit::note::{Checkpoint, verify_note};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The fixture audit key's name.
pub const NAME: &str = "ok2cry.fuzz/n1/audit";

struct AuditKey {
    key: SigningKey,
    pem: String,
    id: [u8; 4],
}

static KEY: LazyLock<AuditKey> = LazyLock::new(|| {
    let key = p256_key("ok2cry fuzz: audit key");
    let der = setup(key.verifying_key().to_public_key_der(), "SPKI DER");
    let digest = Sha256::digest(der.as_bytes());
    AuditKey {
        pem: p256_spki_pem(&key),
        id: [digest[0], digest[1], digest[2], digest[3]],
        key,
    }
});

/// The fixture audit key's SPKI PEM.
pub fn public_key_pem() -> &'static str {
    &KEY.pem
}

/// A signed note over `body` (a final newline is added when missing) by the fixture key.
pub fn sign_body(body: &str) -> String {
    let mut body = body.to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let signature: DerSignature = KEY.key.sign(body.as_bytes());
    let mut blob = KEY.id.to_vec();
    blob.extend_from_slice(signature.as_bytes());
    format!("{body}\n\u{2014} {NAME} {}\n", Base64::encode_string(&blob))
}

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::input::mode(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = Checkpoint::parse_body(text);
    let note = if mode % 2 == 0 {
        text.to_owned()
    } else {
        sign_body(text)
    };
    if let Some(checkpoint) = verify_note(&note, public_key_pem(), NAME) {
        assert!(!checkpoint.origin.is_empty());
        assert_eq!(
            Checkpoint::parse_body(&checkpoint.body()).as_ref(),
            Some(&checkpoint)
        );
    }
}
