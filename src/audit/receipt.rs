//! Destruction receipts: one key's events, each with an inclusion proof against one signed
//! (and, when witnesses are configured, cosigned) checkpoint of the node's tree, verifiable
//! offline without the rest of the log.
//!
//! A key lost with its process carries the evidence for its date: the dead process's last
//! event and the `process_started` right after it, both proven in the same tree.

use super::event::{DestroyReason, Event, EventBody};
use super::merkle::{self, Hash};
use super::note::{Note, NoteVerifier};
use super::store::{AuditError, AuditLog};
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

/// Receipt format version.
pub const RECEIPT_VERSION: u8 = 2;

/// One event with its proof.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptEntry {
    /// Leaf index (the event's `seq`).
    pub index: u64,
    /// The event line, exactly as logged.
    pub event: String,
    /// Inclusion proof (base64 hashes) against the receipt's checkpoint.
    pub proof: Vec<String>,
}

/// A destruction receipt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Format version: 2.
    pub version: u8,
    /// The log's origin.
    pub origin: String,
    /// The key.
    pub key_id: String,
    /// The signed checkpoint every proof refers to (with the cosignatures collected).
    pub checkpoint: String,
    /// The key's events, oldest first.
    pub entries: Vec<ReceiptEntry>,
    /// For a key lost with its process: the process's last event and the next
    /// `process_started`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<ReceiptEntry>,
}

/// What a verified receipt proves.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReceiptSummary {
    /// The key.
    pub key_id: String,
    /// When its creation was logged.
    pub created_at: String,
    /// Its expiry.
    pub expires_at: String,
    /// When it was destroyed (for `process_lost`: the dead process's last event).
    pub destroyed_at: String,
    /// Why.
    pub reason: String,
    /// Opens in the receipt.
    pub opens: u32,
    /// Destruction time minus expiry, in milliseconds (negative: before expiry).
    pub lag_ms: i64,
    /// The checkpoint's tree size.
    pub checkpoint_size: u64,
    /// Witnesses (of those given) whose cosignature verified.
    pub witnesses: usize,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receipt does not verify: {0}")]
pub struct ReceiptError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, ReceiptError> {
    Err(ReceiptError(msg.into()))
}

fn b64_hashes(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(|h| Base64::encode_string(h)).collect()
}

impl AuditLog {
    /// Builds the receipt of `key_id` against the latest checkpoint (signing one first if the
    /// key's events are newer). `None` when the log has no event for the key.
    pub async fn receipt(&self, key_id: &str) -> Result<Option<Receipt>, AuditError> {
        let log = self.clone();
        let key = key_id.to_owned();
        let found = tokio::task::spawn_blocking(move || log.key_events(&key))
            .await
            .map_err(|e| AuditError::Io(e.to_string()))??;
        if found.is_empty() {
            return Ok(None);
        }
        let mut evidence_at = None;
        if let Some(Some(EventBody::KeyDestroyed {
            reason: DestroyReason::ProcessLost,
            lost: Some(lost),
            ..
        })) = found
            .last()
            .map(|(_, l)| Event::parse_line(l).map(|e| e.body))
        {
            evidence_at = Some(lost.seq);
        }
        let needed = found
            .iter()
            .map(|(i, _)| *i)
            .chain(evidence_at.map(|s| s + 1))
            .max()
            .unwrap_or(0);
        let record = match self.latest_checkpoint() {
            Some(r) if r.size > needed => r,
            _ => self
                .checkpoint_now()
                .await
                .ok_or_else(|| AuditError::Io("no checkpoint could be signed".into()))?,
        };
        let log = self.clone();
        let key = key_id.to_owned();
        tokio::task::spawn_blocking(move || {
            let size = record.size;
            let entry = |index: u64, event: String| -> Result<ReceiptEntry, AuditError> {
                let proof = log
                    .inclusion_proof(index, size)?
                    .ok_or_else(|| AuditError::Corrupt(format!("no proof for leaf {index}")))?;
                Ok(ReceiptEntry {
                    index,
                    event,
                    proof: b64_hashes(&proof),
                })
            };
            let mut entries = Vec::new();
            for (index, line) in found {
                if index < size {
                    entries.push(entry(index, line)?);
                }
            }
            let mut evidence = Vec::new();
            if let Some(seq) = evidence_at {
                for (i, line) in (seq..).zip(log.events_after(seq.checked_sub(1), 2)?) {
                    evidence.push(entry(i, line)?);
                }
            }
            Ok(Some(Receipt {
                version: RECEIPT_VERSION,
                origin: log.origin().to_owned(),
                key_id: key,
                checkpoint: record.note,
                entries,
                evidence,
            }))
        })
        .await
        .map_err(|e| AuditError::Io(e.to_string()))?
    }
}

fn proven(entry: &ReceiptEntry, size: u64, root: &Hash, what: &str) -> Result<Event, ReceiptError> {
    let proof: Option<Vec<Hash>> = entry
        .proof
        .iter()
        .map(|p| Base64::decode_vec(p).ok().and_then(|v| v.try_into().ok()))
        .collect();
    let Some(proof) = proof else {
        return fail("malformed proof hash");
    };
    let leaf = merkle::leaf_hash(entry.event.as_bytes());
    if !merkle::verify_inclusion(entry.index, size, &leaf, &proof, root) {
        return fail(format!(
            "{what} at index {} is not in the signed tree",
            entry.index
        ));
    }
    let Some(event) = Event::parse_line(&entry.event) else {
        return fail(format!("{what} at index {} is not canonical", entry.index));
    };
    if event.seq != entry.index {
        return fail(format!(
            "{what} at index {} names another index",
            entry.index
        ));
    }
    Ok(event)
}

/// Verifies a receipt offline against the audit key(s) you trust, and, if you give witness
/// keys, requires `quorum` of them to have cosigned its checkpoint.
pub fn verify_receipt(
    receipt: &Receipt,
    log_keys: &[NoteVerifier],
    witnesses: &[NoteVerifier],
    quorum: usize,
) -> Result<ReceiptSummary, ReceiptError> {
    if receipt.version != RECEIPT_VERSION {
        return fail("unsupported receipt version");
    }
    let note = Note::parse(&receipt.checkpoint).map_err(|e| ReceiptError(e.to_string()))?;
    let checkpoint = note.checkpoint().map_err(|e| ReceiptError(e.to_string()))?;
    if checkpoint.origin != receipt.origin {
        return fail("the checkpoint is for another log");
    }
    let signed = note
        .verify(log_keys)
        .map_err(|e| ReceiptError(e.to_string()))?;
    if signed.iter().all(Option::is_none) {
        return fail("the checkpoint is not signed by the given audit key");
    }
    let cosigned = note
        .verify(witnesses)
        .map_err(|e| ReceiptError(e.to_string()))?
        .iter()
        .filter(|s| s.is_some())
        .count();
    if cosigned < quorum {
        return fail(format!(
            "the checkpoint carries {cosigned} of the {quorum} witness cosignatures required"
        ));
    }
    let (size, root) = (checkpoint.size, checkpoint.root);
    let mut created: Option<(Event, String, u32)> = None;
    let mut destroyed: Option<(Event, DestroyReason, String)> = None;
    let mut opens = 0u32;
    let mut last_index = None;
    for entry in &receipt.entries {
        let event = proven(entry, size, &root, "an event")?;
        if event.body.key_id() != Some(receipt.key_id.as_str()) {
            return fail("an event is for another key");
        }
        if last_index.is_some_and(|i| entry.index <= i) {
            return fail("events out of order");
        }
        last_index = Some(entry.index);
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
                created = Some((
                    event.clone(),
                    crate::clock::iso8601(expires_at.0),
                    *max_opens,
                ));
            }
            EventBody::KeyOpened { .. } => opens += 1,
            EventBody::KeyDestroyed { reason, .. } => {
                destroyed = Some((event.clone(), *reason, String::new()));
            }
            _ => {}
        }
        if created.is_none() {
            return fail("the first event is not the key's creation");
        }
    }
    let Some((created_event, expires_at, max_opens)) = created else {
        return fail("no creation event");
    };
    let Some((destroyed_event, reason, _)) = destroyed else {
        return fail("no destruction event: the key is not (yet) proven destroyed");
    };
    if opens > max_opens {
        return fail("more opens than allowed");
    }
    let EventBody::KeyDestroyed {
        expires_at: exp,
        lost,
        ..
    } = &destroyed_event.body
    else {
        return fail("no destruction event");
    };
    let destroyed_ms = if reason == DestroyReason::ProcessLost {
        let Some(lost) = lost else {
            return fail("a process_lost destruction without its evidence");
        };
        let [last, next] = receipt.evidence.as_slice() else {
            return fail("a process_lost destruction needs two evidence events");
        };
        let last_event = proven(last, size, &root, "evidence")?;
        let next_event = proven(next, size, &root, "evidence")?;
        if last.index != lost.seq || last_event.time != lost.time {
            return fail("the evidence is not the event the destruction names");
        }
        if next.index != last.index + 1
            || !matches!(next_event.body, EventBody::ProcessStarted { .. })
        {
            return fail("the evidence's event is not the last one before a restart");
        }
        if last.index < created_event.seq {
            return fail("the process named as lost ended before the key was created");
        }
        lost.time.0
    } else {
        destroyed_event.time.0
    };
    Ok(ReceiptSummary {
        key_id: receipt.key_id.clone(),
        created_at: crate::clock::iso8601(created_event.time.0),
        expires_at,
        destroyed_at: crate::clock::iso8601(destroyed_ms),
        reason: reason.as_str().to_owned(),
        opens,
        lag_ms: destroyed_ms as i64 - exp.0 as i64,
        checkpoint_size: size,
        witnesses: cosigned,
    })
}
