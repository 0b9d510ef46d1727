//! What the targets share: the project's protocol vectors, fixture keys derived from fixed
//! labels, and a helper for harness set-up.
//!
//! Nothing here is reachable from fuzz input: it runs once per process, before the first
//! input, and a failure is a broken harness, so it stops the process with a message.

use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The project's protocol vectors (`tests/vectors/protocol-v1.json`): envelopes that open,
/// tokens that verify, and the keys behind them.
pub static VECTORS: LazyLock<Value> = LazyLock::new(|| {
    setup(
        serde_json::from_str(include_str!("../../tests/vectors/protocol-v1.json")),
        "tests/vectors/protocol-v1.json",
    )
});

/// The value of a harness set-up step; stops the process when set-up itself fails.
#[allow(clippy::panic)]
pub fn setup<T, E: std::fmt::Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("fuzz harness set-up failed ({what}): {e:?}"),
    }
}

/// [`setup`] for an `Option`.
pub fn setup_some<T>(value: Option<T>, what: &str) -> T {
    setup(value.ok_or("missing"), what)
}

/// A string member of a JSON object, for set-up.
pub fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    setup_some(value[key].as_str(), key)
}

/// Hex-decodes a fixture string.
pub fn unhex(hex_digits: &str) -> Vec<u8> {
    setup(hex::decode(hex_digits), "hex fixture")
}

/// A P-256 signing key derived from `label` (SHA-256 of it as the scalar): the same key in
/// every run, so the committed seeds stay signed by it.
pub fn p256_key(label: &str) -> SigningKey {
    let scalar = Sha256::digest(label.as_bytes());
    setup(SigningKey::from_slice(&scalar), label)
}

/// The SPKI PEM of a P-256 signing key.
pub fn p256_spki_pem(key: &SigningKey) -> String {
    setup(
        key.verifying_key().to_public_key_pem(LineEnding::LF),
        "SPKI PEM",
    )
}
