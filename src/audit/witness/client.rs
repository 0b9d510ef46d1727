//! The node's side of witnessing: submit each checkpoint with a consistency proof from the
//! size the witness last cosigned, keep the cosignatures with the checkpoint, and treat a
//! witness that holds a larger or another tree as proof that this log was rolled back.

use super::protocol::{AddCheckpoint, parse_cosignatures, parse_size};
use crate::audit::layout::CheckpointRecord;
use crate::audit::note::{Note, NoteSignature, NoteVerifier};
use crate::audit::store::AuditLog;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A witness the node submits to.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// Its submission URL prefix (`…/add-checkpoint` is appended).
    pub url: String,
    /// Its key.
    pub key: NoteVerifier,
}

/// Why a submission failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The witness could not be reached or answered something else.
    #[error("witness {0}: {1}")]
    Unavailable(String, String),
    /// The witness holds a larger tree than this log: the log lost events.
    #[error(
        "witness {name} has cosigned size {witnessed} but this log has {size}: the log was truncated or rolled back"
    )]
    Rollback {
        /// Witness.
        name: String,
        /// Its size.
        witnessed: u64,
        /// Ours.
        size: u64,
    },
    /// The witness refuses this tree as inconsistent with what it cosigned.
    #[error("witness {0} refuses the log: {1}")]
    Inconsistent(String, String),
}

/// What the node knows of each witness.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct WitnessInfo {
    /// Key name.
    pub name: String,
    /// The size it last cosigned, as far as we know.
    pub cosigned: Option<u64>,
    /// The last error.
    pub error: Option<String>,
    /// Whether it proved this log rolled back or inconsistent.
    pub conflict: bool,
}

/// The node's witnesses and their status (cheap to share).
pub struct Witnessing {
    endpoints: Vec<WitnessEndpoint>,
    quorum: usize,
    http: reqwest::Client,
    status: Mutex<Vec<WitnessInfo>>,
}

impl Witnessing {
    /// Witnessing with these endpoints; `quorum` of them must cosign a checkpoint for it to be
    /// witnessed.
    pub fn new(endpoints: Vec<WitnessEndpoint>, quorum: usize, http: reqwest::Client) -> Self {
        let status = endpoints
            .iter()
            .map(|e| WitnessInfo {
                name: e.key.name().to_owned(),
                ..WitnessInfo::default()
            })
            .collect();
        Self {
            endpoints,
            quorum,
            http,
            status: Mutex::new(status),
        }
    }

    /// The configured quorum.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Each witness's status.
    pub fn status(&self) -> Vec<WitnessInfo> {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a witness proved the log inconsistent.
    pub fn conflict(&self) -> bool {
        self.status().iter().any(|s| s.conflict)
    }

    fn update(&self, i: usize, f: impl FnOnce(&mut WitnessInfo)) {
        if let Some(s) = self
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(i)
        {
            f(s);
        }
    }

    /// Submits `record` to witness `i`; returns its cosignature lines.
    async fn submit(
        &self,
        log: &AuditLog,
        i: usize,
        record: &CheckpointRecord,
    ) -> Result<Vec<NoteSignature>, WitnessError> {
        let endpoint = &self.endpoints[i];
        let name = endpoint.key.name().to_owned();
        let note = Note::parse(&record.note)
            .map_err(|e| WitnessError::Unavailable(name.clone(), e.to_string()))?;
        let size = record.size;
        let mut old = self.status().get(i).and_then(|s| s.cosigned).unwrap_or(0);
        for _ in 0..3 {
            if old > size {
                return Err(WitnessError::Rollback {
                    name,
                    witnessed: old,
                    size,
                });
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                let log = log.clone();
                tokio::task::spawn_blocking(move || log.consistency_proof(old, size))
                    .await
                    .map_err(|e| WitnessError::Unavailable(name.clone(), e.to_string()))?
                    .map_err(|e| WitnessError::Unavailable(name.clone(), e.to_string()))?
                    .unwrap_or_default()
            };
            let body = AddCheckpoint {
                old,
                proof,
                note: Note {
                    text: note.text.clone(),
                    signatures: note
                        .signatures
                        .iter()
                        .filter(|s| s.name == log.key_name())
                        .cloned()
                        .collect(),
                },
            }
            .render();
            let url = format!("{}/add-checkpoint", endpoint.url.trim_end_matches('/'));
            let response = self
                .http
                .post(&url)
                .body(body)
                .send()
                .await
                .map_err(|e| WitnessError::Unavailable(name.clone(), e.to_string()))?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| WitnessError::Unavailable(name.clone(), e.to_string()))?;
            match status {
                200 => {
                    let sigs = parse_cosignatures(&text).ok_or_else(|| {
                        WitnessError::Unavailable(name.clone(), "malformed cosignature".into())
                    })?;
                    let mut cosigned = note.clone();
                    cosigned.merge(sigs.clone());
                    let verified = cosigned
                        .verify(std::slice::from_ref(&endpoint.key))
                        .map_err(|e| WitnessError::Unavailable(name.clone(), e.to_string()))?;
                    if verified[0].is_none() {
                        return Err(WitnessError::Unavailable(
                            name,
                            "the answer carries no cosignature by the configured witness key"
                                .into(),
                        ));
                    }
                    let ours: Vec<_> = sigs
                        .into_iter()
                        .filter(|s| {
                            s.name == endpoint.key.name() && s.key_id == endpoint.key.key_id()
                        })
                        .collect();
                    return Ok(ours);
                }
                409 => {
                    let theirs = parse_size(&text).ok_or_else(|| {
                        WitnessError::Unavailable(name.clone(), "malformed 409 answer".into())
                    })?;
                    if theirs > size {
                        return Err(WitnessError::Rollback {
                            name,
                            witnessed: theirs,
                            size,
                        });
                    }
                    old = theirs;
                }
                422 => return Err(WitnessError::Inconsistent(name, text.trim().to_owned())),
                other => {
                    return Err(WitnessError::Unavailable(
                        name,
                        format!("HTTP {other}: {}", text.trim()),
                    ));
                }
            }
        }
        Err(WitnessError::Unavailable(
            name,
            "the witness's size kept changing".into(),
        ))
    }

    /// Submits `record` to every witness at once and stores the cosignatures with it.
    /// Returns the first conflict (rollback or inconsistency) a witness proved.
    pub async fn witness(&self, log: &AuditLog, record: &CheckpointRecord) -> Option<WitnessError> {
        let results = futures_util::future::join_all(
            (0..self.endpoints.len()).map(|i| self.submit(log, i, record)),
        )
        .await;
        let mut sigs = Vec::new();
        let mut conflict = None;
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(s) => {
                    sigs.extend(s);
                    self.update(i, |st| {
                        st.cosigned = Some(record.size);
                        st.error = None;
                    });
                }
                Err(e) => {
                    let is_conflict = !matches!(e, WitnessError::Unavailable(..));
                    if is_conflict {
                        tracing::error!(error = %e, "WITNESS CONFLICT: this log is not what the witness cosigned");
                        conflict.get_or_insert(e.clone());
                    } else {
                        tracing::warn!(error = %e, "witness unavailable; will retry");
                    }
                    self.update(i, |st| {
                        st.error = Some(e.to_string());
                        st.conflict |= is_conflict;
                    });
                }
            }
        }
        if !sigs.is_empty() {
            log.add_cosignatures(record.size, sigs);
            log.flush().await;
        }
        conflict
    }

    /// Follows the log's checkpoints for as long as the node runs, retrying witnesses that
    /// are behind every `retry`.
    pub async fn run(self: Arc<Self>, log: AuditLog, retry: Duration) {
        let mut rx = log.watch_checkpoints();
        let mut last_done = 0u64;
        loop {
            let record = rx.borrow_and_update().clone();
            if let Some(record) = record {
                let behind = self
                    .status()
                    .iter()
                    .any(|s| s.cosigned != Some(record.size) && !s.conflict);
                if record.size != last_done || behind {
                    self.witness(&log, &record).await;
                    last_done = record.size;
                }
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(retry) => {},
            }
        }
    }
}
