//! The durable, append-only log of one node: the handle the rest of the service holds.
//!
//! - One writer thread ([`super::writer`]) owns the files. Appends are queued; the writer takes
//!   everything queued, writes it with one `write` and one `fdatasync` (group commit), then
//!   acknowledges. An event is acknowledged only once it is durable.
//! - Durable appends ([`AuditLog::append_durable`]) are for events caused by a request
//!   (creation, open, delete): the request answers only after them, and fails closed (503)
//!   when they cannot be written or when too many are already waiting (backpressure).
//! - Queued appends ([`AuditLog::append`]) are for events caused by time and shutdown
//!   (expiry, KEK rotation): destruction always proceeds, and its event is retried until
//!   written. They are bounded by the live keys and KEKs, since nothing new can be created or
//!   opened while the log cannot be written.
//! - Readers ([`super::reader`]) answer from the files and the tile hashes: a page of events,
//!   a proof or a receipt costs O(page) or O(log n), never a scan of the log.
//! - Recovery ([`super::recovery`]) runs at open.

use super::disk::{Disk, RealDisk};
use super::event::EventBody;
use super::layout::CheckpointRecord;
use super::note::{NoteSignature, NoteVerifier};
use crate::clock::Clock;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch};

/// Why the audit log failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing a file failed.
    #[error("audit log I/O: {0}")]
    Io(String),
    /// The existing log is not valid and cannot be repaired automatically.
    #[error("audit log corrupt: {0}")]
    Corrupt(String),
    /// The log is shorter than a checkpoint it already published: truncated or rolled back.
    #[error("audit log rolled back: {0}")]
    Rollback(String),
    /// The audit key is missing, unreadable or not the key of this log.
    #[error("audit key: {0}")]
    Key(String),
    /// Too many durable appends are waiting (backpressure).
    #[error("audit log busy")]
    Busy,
    /// Events could not be written before the log closed.
    #[error("audit log closed with {0} event(s) not written")]
    Unlogged(usize),
    /// The writer has stopped.
    #[error("audit log closed")]
    Closed,
    /// The events asked for are in a segment that was archived and removed locally.
    #[error("segment {0} is archived and no longer on this node")]
    Archived(u64),
}

pub(crate) fn io(e: impl std::fmt::Display) -> AuditError {
    AuditError::Io(e.to_string())
}

/// How much of the log the node re-verifies when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyOnStart {
    /// Every local segment: every checkpoint's root is recomputed from the events (reads the
    /// whole local log; the default).
    #[default]
    All,
    /// Only what recovery needs: the last two days of events (the longest a key or KEK can
    /// live), checked against the checkpoints they contain.
    Recent,
}

/// What the node tells the log about itself (for `process_started`).
#[derive(Debug, Clone, Default)]
pub struct ProcessInfo {
    /// Version.
    pub version: String,
    /// SHA-256 of the executable (hex).
    pub build_digest: String,
}

/// Options of the log.
#[derive(Clone)]
pub struct AuditOptions {
    /// The directory of the segment files.
    pub dir: PathBuf,
    /// Node id, written in every event.
    pub node: String,
    /// The checkpoint origin (one per node and audit key); also the audit key's name.
    pub origin: String,
    /// The audit key (PKCS#8 PEM, 0600), outside `dir`. Created when the log is new.
    pub key_file: PathBuf,
    /// The previous audit key, to rotate to `key_file` (the change is logged and vouched for
    /// by this key).
    pub previous_key_file: Option<PathBuf>,
    /// Rotate a segment beyond this size.
    pub segment_max_bytes: u64,
    /// How much to re-verify at start.
    pub verify_on_start: VerifyOnStart,
    /// Durable appends allowed to wait at once; beyond, [`AuditError::Busy`].
    pub max_queued: usize,
    /// How long closing retries events that cannot be written.
    pub shutdown_retry: Duration,
    /// What `process_started` records.
    pub process: ProcessInfo,
    /// The disk (the real one, or a fault-injecting one in tests).
    pub disk: Arc<dyn Disk>,
}

impl AuditOptions {
    /// Options with defaults for everything but the directory, node and key file.
    pub fn new(dir: PathBuf, node: &str, key_file: PathBuf) -> Self {
        Self {
            dir,
            node: node.to_owned(),
            origin: default_origin(node),
            key_file,
            previous_key_file: None,
            segment_max_bytes: 64 * 1024 * 1024,
            verify_on_start: VerifyOnStart::All,
            max_queued: 65_536,
            shutdown_retry: Duration::from_secs(10),
            process: ProcessInfo::default(),
            disk: Arc::new(RealDisk),
        }
    }
}

/// The default checkpoint origin of a node.
pub fn default_origin(node: &str) -> String {
    format!("ok2cry.audit/{node}")
}

/// Where the latest checkpoint is kept beside the audit key (outside the log directory), so a
/// log shortened behind the node's back is refused at the next start.
pub fn latest_checkpoint_path(key_file: &Path) -> PathBuf {
    key_file.with_extension("checkpoint")
}

/// The verifier keys of the audit keys this node used before (one vkey per line), kept beside
/// the key: the log's older checkpoints were signed by them.
pub fn key_history_path(key_file: &Path) -> PathBuf {
    key_file.with_extension("history")
}

/// What recovery found and did at start.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// Keys created but never destroyed by a process that died: now logged `process_lost`.
    pub process_lost: Vec<String>,
    /// KEKs of a process that died: now logged `process_lost`.
    pub keks_lost: usize,
    /// Bytes cut from a torn last line.
    pub repaired_bytes: u64,
    /// Segments found.
    pub segments: usize,
    /// Events re-read and checked.
    pub events_checked: u64,
    /// Checkpoints whose roots were recomputed and matched.
    pub checkpoints_checked: usize,
    /// The tree size found.
    pub size: u64,
    /// Whether the audit key was rotated at this start.
    pub key_rotated: bool,
}

pub(crate) type Ack = oneshot::Sender<Result<u64, AuditError>>;

pub(crate) enum Cmd {
    Append {
        events: Vec<EventBody>,
        ack: Option<Ack>,
    },
    Checkpoint {
        ack: oneshot::Sender<Option<CheckpointRecord>>,
    },
    Cosigned {
        size: u64,
        signatures: Vec<NoteSignature>,
    },
    Flush {
        ack: oneshot::Sender<()>,
    },
    Close {
        ack: oneshot::Sender<Result<(), AuditError>>,
    },
}

/// One segment as readers see it.
#[derive(Debug, Clone)]
pub(crate) struct SegmentView {
    pub number: u64,
    pub first: u64,
    pub opened_ms: u64,
    /// Leaves, once sealed (the current segment: None).
    pub sealed_count: Option<u64>,
}

/// What readers may read: everything below `size` is durable and its tiles are written.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub size: u64,
    pub segments: Vec<SegmentView>,
    /// The current segment's key index (digest, leaf), in leaf order.
    pub current_keys: Vec<super::layout::KeyRecord>,
}

/// State shared between the writer and readers.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub origin: String,
    pub view: RwLock<View>,
    pub latest: RwLock<Option<CheckpointRecord>>,
    pub writable: AtomicBool,
    pub last_error: Mutex<Option<String>>,
    /// Events queued but not yet written (queued appends and failed retries).
    pub unwritten: AtomicU64,
}

impl Shared {
    pub(crate) fn read_view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        // Only replaced whole by the writer; a poisoned lock still holds a consistent view.
        self.view.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_view(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.view.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn latest(&self) -> Option<CheckpointRecord> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_latest(&self, record: CheckpointRecord) {
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(record);
    }
}

/// Whether the log can take events now.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditHealth {
    /// The last write succeeded.
    pub writable: bool,
    /// Events waiting to be written.
    pub unwritten: u64,
    /// The last write error, if the log is not writable.
    pub error: Option<String>,
    /// The tree size.
    pub size: u64,
}

pub(crate) struct Inner {
    pub tx: Mutex<mpsc::Sender<Cmd>>,
    pub shared: Arc<Shared>,
    pub events: broadcast::Sender<String>,
    pub queued: AtomicUsize,
    pub max_queued: usize,
    pub log_key: NoteVerifier,
    pub public_key_pem: String,
    pub node: String,
    pub checkpoints: watch::Receiver<Option<CheckpointRecord>>,
    pub clock: Arc<dyn Clock>,
}

/// The audit log (cheap to clone).
#[derive(Clone)]
pub struct AuditLog {
    pub(crate) inner: Arc<Inner>,
}

/// Decrements the queued-append count when the append is answered or abandoned.
struct QueuedGuard(Arc<Inner>);

impl Drop for QueuedGuard {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AuditLog {
    pub(crate) fn send(&self, cmd: Cmd) -> Result<(), AuditError> {
        self.inner
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(cmd)
            .map_err(|_| AuditError::Closed)
    }

    /// Appends `events` (in order, in one batch) and resolves once they are durable, with the
    /// sequence number of the first. Fails when they cannot be written, or at once when too
    /// many appends are already waiting.
    ///
    /// The events are handed to the writer when this is called, not when the future is first
    /// polled: dropping the future does not cancel the write, and a caller can rely on the
    /// order of its calls.
    pub fn append_durable(
        &self,
        events: Vec<EventBody>,
    ) -> impl std::future::Future<Output = Result<u64, AuditError>> + Send + 'static {
        let queued = self.inner.queued.fetch_add(1, Ordering::SeqCst);
        let guard = QueuedGuard(self.inner.clone());
        let sent = if queued >= self.inner.max_queued {
            Err(AuditError::Busy)
        } else {
            let (ack, rx) = oneshot::channel();
            self.send(Cmd::Append {
                events,
                ack: Some(ack),
            })
            .map(|()| rx)
        };
        async move {
            let _guard = guard;
            let rx = sent?;
            rx.await.map_err(|_| AuditError::Closed)?
        }
    }

    /// Appends without waiting; never fails to the caller (queued and retried until written).
    pub fn append(&self, body: EventBody) {
        self.inner.shared.unwritten.fetch_add(1, Ordering::SeqCst);
        if self
            .send(Cmd::Append {
                events: vec![body],
                ack: None,
            })
            .is_err()
        {
            tracing::error!("audit writer stopped; an event could not be queued");
        }
    }

    /// Signs a checkpoint of the tree now (unless nothing was added since the last one) and
    /// returns it.
    pub async fn checkpoint_now(&self) -> Option<CheckpointRecord> {
        let (ack, rx) = oneshot::channel();
        self.send(Cmd::Checkpoint { ack }).ok()?;
        rx.await.ok().flatten()
    }

    /// Adds witnesses' cosignatures to the stored checkpoint of `size`.
    pub fn add_cosignatures(&self, size: u64, signatures: Vec<NoteSignature>) {
        let _ = self.send(Cmd::Cosigned { size, signatures });
    }

    /// Resolves once every event appended before the call was written (or queued for retry).
    pub async fn flush(&self) {
        let (ack, rx) = oneshot::channel();
        if self.send(Cmd::Flush { ack }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Writes what is queued (retrying for `shutdown_retry`), signs a final checkpoint, seals
    /// the segment and stops the writer. Fails with the number of events it could not write.
    pub async fn close(&self) -> Result<(), AuditError> {
        let (ack, rx) = oneshot::channel();
        self.send(Cmd::Close { ack })?;
        rx.await.map_err(|_| AuditError::Closed)?
    }

    /// The latest signed checkpoint record (its note carries the cosignatures collected).
    pub fn latest_checkpoint(&self) -> Option<CheckpointRecord> {
        self.inner.shared.latest()
    }

    /// Waits for checkpoints (the witness client follows this).
    pub fn watch_checkpoints(&self) -> watch::Receiver<Option<CheckpointRecord>> {
        self.inner.checkpoints.clone()
    }

    /// Live events (canonical lines).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.events.subscribe()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.shared.dir
    }

    /// The checkpoint origin (and audit key name).
    pub fn origin(&self) -> &str {
        &self.inner.shared.origin
    }

    /// The audit key (SPKI PEM).
    pub fn public_key_pem(&self) -> &str {
        &self.inner.public_key_pem
    }

    /// The audit key as a signed-note verifier.
    pub fn log_key(&self) -> &NoteVerifier {
        &self.inner.log_key
    }

    /// The audit key's name (the origin).
    pub fn key_name(&self) -> &str {
        self.inner.log_key.name()
    }

    /// The node id.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Leaves in the tree (durable events).
    pub fn size(&self) -> u64 {
        self.inner.shared.read_view().size
    }

    /// Whether the log can take events now, and what is waiting.
    pub fn health(&self) -> AuditHealth {
        let s = &self.inner.shared;
        let writable = s.writable.load(Ordering::SeqCst);
        AuditHealth {
            writable,
            unwritten: s.unwritten.load(Ordering::SeqCst),
            error: if writable {
                None
            } else {
                s.last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            },
            size: self.size(),
        }
    }

    /// The time source.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
}
