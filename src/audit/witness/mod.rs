//! Witnessed checkpoints (C2SP `tlog-witness`, `tlog-cosignature`).
//!
//! A witness follows a log's origin: it cosigns a checkpoint only if it is consistent with the
//! last one it cosigned (a consistency proof from that size), and refuses a smaller tree or
//! another history. A node submits every checkpoint to its witnesses and keeps the
//! cosignatures with the checkpoint; an auditor who requires a quorum of cosignatures on the
//! newest checkpoint, and compares with what the witnesses hold, sees any removed or
//! rewritten suffix.
//!
//! - [`protocol`]: the wire format.
//! - [`server`]: `ok2cry witness serve`: its own key, its own state file, its own process.
//! - [`client`]: the node's side: submit, collect, refuse to start on a rollback.

pub mod client;
pub mod protocol;
pub mod server;

use sha2::{Digest, Sha256};

/// The path element that names a log in the monitoring API: hex SHA-256 of its origin.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}
