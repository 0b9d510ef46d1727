//! Destruction receipts (`ok2cry::audit::Receipt` as JSON, then
//! `ok2cry::audit::verify_receipt`), as `ok2cry audit receipt verify` reads them.
//!
//! Mode (first byte) even: the rest is a receipt, verified against the fixture audit key.
//! Odd: the same, after the harness re-signs every checkpoint note's body with the fixture
//! audit key (and names that key), so the seeds (real receipts of a real log) verify and the
//! fuzzer explores the events, proofs and policy behind the signatures. A receipt that
//! verifies proves what it says: its key, a creation and a destruction at parseable times.

use crate::audit_note::{NAME, public_key_pem, sign_body};
use ok2cry::audit::event::parse_time;
use ok2cry::audit::{Receipt, verify_receipt};

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::mode(data) else {
        return;
    };
    let Ok(mut receipt) = serde_json::from_slice::<Receipt>(rest) else {
        return;
    };
    if mode % 2 == 1 {
        receipt.key_name = NAME.to_owned();
        for checkpoint in &mut receipt.checkpoints {
            let body = match checkpoint.note.split_once("\n\n") {
                Some((body, _)) => body,
                None => checkpoint.note.as_str(),
            };
            checkpoint.note = sign_body(body);
        }
    }
    if let Ok(summary) = verify_receipt(&receipt, public_key_pem()) {
        assert_eq!(summary.key_id, receipt.key_id);
        let destroyed = parse_time(&summary.destroyed_at);
        let expires = parse_time(&summary.expires_at);
        assert!(destroyed.is_some() && expires.is_some());
        let round_trip: Result<Receipt, _> =
            serde_json::from_str(&serde_json::to_string(&receipt).unwrap_or_default());
        assert_eq!(round_trip.ok().as_ref(), Some(&receipt));
    }
}
