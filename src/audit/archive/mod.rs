//! The audit archive: sealed segments, compressed with zstd, in a directory or an S3 bucket,
//! read back and checked before a local copy may go, and kept 12 months by default.
//!
//! - [`object`]: the objects' names, and the mark of an archived segment.
//! - [`store`]: the archive's objects (a directory, or S3 through SigV4-signed requests).
//! - [`shipper`]: the node's archiving pass (upload, read-back check, local and archive
//!   retention).
//! - [`source`]: the archive as a log to verify, alone or under a local directory.
//!
//! An archive holds one node's log (one origin), as flat objects:
//!
//! ```text
//! FORMAT                              "ok2cry-audit-log 2", as in the log directory
//! ORIGIN                              the checkpoint origin, so two logs never mix
//! segment-000001.jsonl.zst            the sealed segment's events, zstd-compressed
//! segment-000001.meta.json            its metadata (first leaf, frontier, sealed SHA-256)
//! segment-000001.checkpoints.jsonl    the checkpoints signed while it was current
//! ```
//!
//! Beside each archived segment in the log directory, `segment-N.archived.json` records where
//! it went and the SHA-256 of the object read back.

pub mod object;
pub mod shipper;
pub mod source;
pub mod store;

pub use object::{
    Archived, checkpoints_object, events_object, events_object_number, mark_path, meta_object,
};
pub use shipper::{Archiver, PassReport, Retention};
pub use source::{ArchiveSource, Layered};
pub use store::{ArchiveError, ArchiveStore, Location, S3Endpoint, S3Keys};

#[cfg(test)]
mod tests;
