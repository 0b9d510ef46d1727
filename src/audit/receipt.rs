//! Destruction receipts: one key's events, each with an inclusion proof against a signed
//! checkpoint, verifiable offline without the rest of the log.

use super::event::{Event, EventBody, parse_time};
use super::merkle::{self, Hash};
use super::note::verify_note;
use super::store::{AuditError, AuditLog, checkpoints_path, read_segment, segments};
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

impl AuditLog {
    /// Builds the receipt of `key_id` (checkpointing first so recent events are covered).
    pub async fn receipt(&self, key_id: &str) -> Result<Option<Receipt>, AuditError> {
        self.checkpoint_now().await;
        let needle = format!(
            "\"key_id\":{}",
            serde_json::to_string(key_id).unwrap_or_default()
        );
        let mut entries = Vec::new();
        let mut checkpoints = Vec::new();
        for n in segments(self.dir())? {
            let text = std::fs::read_to_string(super::store::segment_path(self.dir(), n))
                .map_err(|e| AuditError::Io(e.to_string()))?;
            if !text.contains(&needle) {
                continue;
            }
            let (_, leaves, _) = read_segment(self.dir(), n, false)?;
            let notes =
                std::fs::read_to_string(checkpoints_path(self.dir(), n)).unwrap_or_default();
            let Some((size, note)) = notes
                .lines()
                .rev()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find_map(|v| Some((v["size"].as_u64()?, v["note"].as_str()?.to_owned())))
            else {
                continue;
            };
            let covered = &leaves[..(size as usize).min(leaves.len())];
            for (index, line) in text.lines().enumerate() {
                if index >= covered.len() || !line.contains(&needle) {
                    continue;
                }
                let Some(event) = Event::parse_line(line) else {
                    continue;
                };
                if event.body.key_id() != Some(key_id) {
                    continue;
                }
                let proof = merkle::inclusion_proof(index, covered).unwrap_or_default();
                entries.push(ReceiptEntry {
                    segment: n,
                    index: index as u64,
                    event: line.to_owned(),
                    proof: proof.iter().map(|h| Base64::encode_string(h)).collect(),
                });
            }
            checkpoints.push(SegmentCheckpoint { segment: n, note });
        }
        if entries.is_empty() {
            return Ok(None);
        }
        Ok(Some(Receipt {
            version: 1,
            key_id: key_id.to_owned(),
            key_name: self.key_name().to_owned(),
            entries,
            checkpoints,
        }))
    }
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
