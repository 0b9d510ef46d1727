//! The audit log: the product's proof of destruction.
//!
//! One append-only log per node: every event is a leaf of one Merkle tree (RFC 9162) that
//! grows across every segment file and restart, with one checkpoint origin. Checkpoints are
//! C2SP signed notes, cosigned by independent witnesses (C2SP tlog-witness), so that neither a
//! crash nor the operator can remove or rewrite what was logged without it being seen.
//!
//! This layer owns the event model and everything about the log; custody and the node emit
//! events through [`Recorder`] and never touch files. It must not depend on custody, HTTP or
//! configuration types.
//!
//! - [`event`]: the one event model (typed reasons), one canonical JSON line per event.
//! - [`merkle`]: RFC 9162 hashing, proofs over any [`merkle::TreeSource`], the frontier.
//! - [`note`]: C2SP signed notes: the log's ECDSA signature, witnesses' Ed25519 cosignatures.
//! - [`disk`]: durable appends and the hooks for fault injection and simulated power loss.
//! - [`layout`]: the files of a log directory.
//! - [`store`]: the log's handle: durable and queued appends, checkpoints, health.
//! - [`writer`]: the writer thread (group commit, tiles, index, checkpoints, rotation).
//! - [`recovery`]: opening a log: checks, repair, rollback refusal, lost processes.
//! - [`reader`]: events by position, proofs, tiles and a key's events, from files.
//! - [`tiles`]: C2SP tlog-tiles paths over the node's tree.
//! - [`recorder`]: the interface custody emits through.
//! - [`receipt`]: destruction receipts verifiable offline.
//! - [`source`]: a log to read in order: a directory, the archive, both, or a node's tiles.
//! - [`archive`]: sealed segments compressed, shipped, read back and kept 12 months.
//! - [`verify`]: streaming verification of a whole log with the destruction policy.
//! - [`witness`]: the witness (server and client) of C2SP tlog-witness.
//! - [`v1`]: read-only support for logs of format 1.

pub mod archive;
pub mod disk;
pub mod event;
pub mod layout;
pub mod merkle;
pub mod note;
pub mod reader;
pub mod receipt;
pub mod recorder;
pub mod recovery;
pub mod source;
pub mod store;
pub mod tiles;
pub mod v1;
pub mod verify;
pub mod witness;
pub(crate) mod writer;

#[cfg(test)]
pub(crate) mod tests;

pub use event::{DestroyReason, Event, EventBody, KekDestroyReason, OpenFailure, Timestamp};
pub use receipt::{Receipt, ReceiptSummary, verify_receipt};
pub use recorder::{AuditUnavailable, MemoryRecorder, Recorder};
pub use store::{AuditError, AuditHealth, AuditLog, AuditOptions, Recovery, VerifyOnStart};
pub use verify::{Report, VerifyOptions, verify_dir};

impl AuditLog {
    /// Opens (or creates) a log; see [`recovery`].
    pub fn open(
        opts: AuditOptions,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<(Self, Recovery), AuditError> {
        recovery::open(opts, clock)
    }
}
