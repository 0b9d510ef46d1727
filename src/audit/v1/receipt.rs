//! Version-1 destruction receipts (one tree per segment): one key's events, each with an inclusion proof against a signed
//! checkpoint, verifiable offline without the rest of the log.

use super::event::{Event, EventBody, parse_time};
use crate::audit::merkle::{self, Hash};
use crate::audit::note::verify_note;
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

/// One event of the key, with its proof.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReceiptEntry {
    /// Segment (tree) number.
    pub segment: u64,
    /// Leaf index in that tree.
    pub index: u64,
    /// The event line, exactly as logged.
    pub event: String,
    /// Inclusion proof (base64 hashes) against that segment's checkpoint.
    pub proof: Vec<String>,
}

/// A signed checkpoint of one segment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SegmentCheckpoint {
    /// Segment number.
    pub segment: u64,
    /// The signed note.
    pub note: String,
}

/// A destruction receipt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Format version: 1.
    pub version: u8,
    /// The key.
    pub key_id: String,
    /// Name of the checkpoint signing key.
    pub key_name: String,
    /// The key's events, oldest first.
    pub entries: Vec<ReceiptEntry>,
    /// The checkpoints the proofs refer to.
    pub checkpoints: Vec<SegmentCheckpoint>,
}

/// What a verified receipt proves.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReceiptSummary {
    /// The key.
    pub key_id: String,
    /// When it was created (log time).
    pub created_at: String,
    /// Its expiry.
    pub expires_at: String,
    /// When its destruction was logged.
    pub destroyed_at: String,
    /// Why.
    pub reason: String,
    /// Opens.
    pub opens: u32,
    /// Destruction time minus expiry, in milliseconds (negative: before expiry).
    pub lag_ms: i64,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receipt does not verify: {0}")]
pub struct ReceiptError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, ReceiptError> {
    Err(ReceiptError(msg.into()))
}

/// Verifies a receipt offline against the audit public key.
pub fn verify_receipt(
    receipt: &Receipt,
    public_key_pem: &str,
) -> Result<ReceiptSummary, ReceiptError> {
    if receipt.version != 1 {
        return fail("unsupported receipt version");
    }
    let mut created: Option<(String, String, u32)> = None;
    let mut destroyed: Option<(String, String)> = None;
    let mut opens = 0u32;
    let mut last_seq = None;
    for entry in &receipt.entries {
        let Some(cp) = receipt
            .checkpoints
            .iter()
            .find(|c| c.segment == entry.segment)
        else {
            return fail(format!("no checkpoint for segment {}", entry.segment));
        };
        let Some(checkpoint) = verify_note(&cp.note, public_key_pem, &receipt.key_name) else {
            return fail(format!(
                "checkpoint of segment {} is not signed by the given key",
                entry.segment
            ));
        };
        if !checkpoint.origin.ends_with(&format!("/{}", entry.segment)) {
            return fail("checkpoint origin does not name the segment");
        }
        let proof: Option<Vec<Hash>> = entry
            .proof
            .iter()
            .map(|p| Base64::decode_vec(p).ok().and_then(|v| v.try_into().ok()))
            .collect();
        let Some(proof) = proof else {
            return fail("malformed proof hash");
        };
        let leaf = merkle::leaf_hash(entry.event.as_bytes());
        if !merkle::verify_inclusion(
            entry.index,
            checkpoint.size,
            &leaf,
            &proof,
            &checkpoint.root,
        ) {
            return fail(format!(
                "event at segment {} index {} is not in the signed tree",
                entry.segment, entry.index
            ));
        }
        let Some(event) = Event::parse_line(&entry.event) else {
            return fail("an event is not canonical");
        };
        if event.body.key_id() != Some(receipt.key_id.as_str()) {
            return fail("an event is for another key");
        }
        if last_seq.is_some_and(|s| event.seq <= s) {
            return fail("events out of order");
        }
        last_seq = Some(event.seq);
        if destroyed.is_some() {
            return fail("an event follows the destruction");
        }
        match &event.body {
            EventBody::KeyCreated {
                expires_at,
                max_opens,
                ..
            } => {
                if created.is_some() {
                    return fail("created twice");
                }
                created = Some((event.time.clone(), expires_at.clone(), *max_opens));
            }
            EventBody::KeyOpened { .. } => opens += 1,
            EventBody::KeyDestroyed { reason, .. } => {
                destroyed = Some((event.time.clone(), reason.clone()))
            }
            _ => {}
        }
    }
    let Some((created_at, expires_at, max_opens)) = created else {
        return fail("no creation event");
    };
    let Some((destroyed_at, reason)) = destroyed else {
        return fail("no destruction event: the key is not (yet) proven destroyed");
    };
    if opens > max_opens {
        return fail("more opens than allowed");
    }
    let lag_ms = match (parse_time(&destroyed_at), parse_time(&expires_at)) {
        (Some(d), Some(e)) => d as i64 - e as i64,
        _ => return fail("malformed time"),
    };
    Ok(ReceiptSummary {
        key_id: receipt.key_id.clone(),
        created_at,
        expires_at,
        destroyed_at,
        reason,
        opens,
        lag_ms,
    })
}
