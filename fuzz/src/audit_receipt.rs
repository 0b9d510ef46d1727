//! Destruction receipts (`ok2cry::audit::Receipt` as JSON, then
//! `ok2cry::audit::verify_receipt`), as `ok2cry audit receipt verify` reads them.
//!
//! Mode (first byte) even: the rest is a receipt, verified against the fixture audit key.
//! Odd: the same, after the harness re-signs the checkpoint note's body with the fixture
//! audit key (and names that key as the origin), so the seeds (real receipts of a real log)
//! verify and the fuzzer explores the events, proofs and policy behind the signature. A
//! receipt that verifies proves what it says: its key and a destruction.

use crate::audit_note::{NAME, public_key_pem, sign_body};
use ok2cry::audit::note::NoteVerifier;
use ok2cry::audit::{Receipt, verify_receipt};

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::input::mode(data) else {
        return;
    };
    let Ok(mut receipt) = serde_json::from_slice::<Receipt>(rest) else {
        return;
    };
    if mode % 2 == 1 {
        let body = match receipt.checkpoint.split_once("\n\n") {
            Some((body, _)) => body,
            None => receipt.checkpoint.as_str(),
        };
        // The origin is the body's first line; the key's name must be the origin.
        let rest = body.split_once('\n').map_or("", |(_, rest)| rest);
        receipt.checkpoint = sign_body(&format!("{NAME}\n{rest}"));
        receipt.origin = NAME.to_owned();
    }
    let Some(key) = NoteVerifier::ecdsa_from_pem(NAME, public_key_pem()) else {
        return;
    };
    if let Ok(summary) = verify_receipt(&receipt, &[key], &[], 0) {
        assert_eq!(summary.key_id, receipt.key_id);
        let round_trip: Result<Receipt, _> =
            serde_json::from_str(&serde_json::to_string(&receipt).unwrap_or_default());
        assert_eq!(round_trip.ok().as_ref(), Some(&receipt));
    }
}
