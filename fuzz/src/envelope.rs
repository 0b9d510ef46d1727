//! Envelopes, JSON and compact (`ok2cry_client::Envelope`), the way an opener meets them:
//! parsed from untrusted text, then opened.
//!
//! For every envelope that parses: both forms round-trip to the same envelope, and opening it
//! with the protocol vectors' recipient keys gives the same result under the RustCrypto and
//! the AWS-LC providers (the same plaintext, or both refuse). The seeds are the vectors' own
//! envelopes, so the fuzzer starts from envelopes that open.

use crate::fixtures::{VECTORS, setup, text, unhex};
use ok2cry_client::provider::{AWS_LC, RUST_CRYPTO};
use ok2cry_client::{CryptoProvider, Envelope, KeyId, PrivateKey};
use std::sync::LazyLock;

/// (key id, the recipient's private key) of each seal vector.
static RECIPIENTS: LazyLock<Vec<(KeyId, PrivateKey)>> = LazyLock::new(|| {
    let seals = setup(VECTORS["seal"].as_array().ok_or("no seal vectors"), "seal");
    seals
        .iter()
        .map(|v| {
            (
                setup(KeyId::new(text(v, "key_id")), "key id"),
                setup(
                    PrivateKey::from_secret_bytes(&unhex(text(v, "skRm"))),
                    "skRm",
                ),
            )
        })
        .collect()
});

/// The target.
pub fn run(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(envelope) = Envelope::from_json(input) {
        check(&envelope);
    }
    if let Ok(envelope) = Envelope::from_compact(input) {
        check(&envelope);
    }
    if let Ok(value) = serde_json::from_str(input)
        && let Ok(envelope) = Envelope::from_json_value(value)
    {
        check(&envelope);
    }
}

fn check(envelope: &Envelope) {
    assert_eq!(
        Envelope::from_json(&envelope.to_json()).as_ref(),
        Ok(envelope)
    );
    assert_eq!(
        Envelope::from_compact(&envelope.to_compact()).as_ref(),
        Ok(envelope)
    );
    assert_eq!(
        Envelope::from_json_value(envelope.to_json_value()).as_ref(),
        Ok(envelope)
    );
    for (key_id, key) in RECIPIENTS.iter() {
        let context = envelope.context().unwrap_or_default();
        let open = |provider: &dyn CryptoProvider| {
            key.open_with(provider, key_id, context, envelope)
                .map(|p| p.expose_secret().to_vec())
        };
        // Coarse errors by design: only "opened to the same bytes" or "refused" matter.
        assert_eq!(open(&RUST_CRYPTO).ok(), open(&AWS_LC).ok());
    }
}
