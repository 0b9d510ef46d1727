//! The audit transparency log: the product's proof of destruction.
//!
//! - [`event`]: the event model (one canonical JSON line per event).
//! - [`merkle`]: RFC 9162 hashing, inclusion and consistency proofs.
//! - [`note`]: C2SP signed-note checkpoints, signed with the audit key (ECDSA P-256).
//! - [`store`]: the durable store: segments, group commit, fail-closed durability, recovery.
//! - [`receipt`]: destruction receipts verifiable offline.
//! - [`verify`]: offline verification of a whole log with the destruction policy.

pub mod event;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod store;
pub mod verify;

#[cfg(test)]
mod tests;

pub use event::{Event, EventBody};
pub use receipt::{Receipt, ReceiptSummary, verify_receipt};
pub use store::{AuditError, AuditLog, AuditOptions, Recovery};
pub use verify::{Report, verify_log};
