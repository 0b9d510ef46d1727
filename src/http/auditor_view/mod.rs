//! The auditor's view: a static page that verifies a node's audit log in the browser.
//!
//! The page (HTML, CSS and small ES modules under `web/`, no build step) verifies with
//! WebCrypto alone every checkpoint signature and cosignature against the keys the auditor
//! pins, recomputes the Merkle tree and applies the rules of `ok2cry audit verify`
//! ([`crate::audit::verify`], the reference), then shows one verdict with the same reasons,
//! a key's life with its receipt, and pictures of the activity. It reads a log directory's files
//! (`FORMAT`, segments, their metadata and checkpoint records): the same files the command line
//! reads, so both judge the same thing.
//!
//! - [`page`]: the one self-contained document (style and modules inlined, a strict CSP).
//! - [`route`]: `GET /audit/` and the log's files under `/audit/log/`, for the auditor role.
//! - [`export`]: `ok2cry audit export`: a folder with a copy of the log and the page, to verify
//!   offline (opened from disk, the page asks for the folder).
//!
//! Decisions (written down in docs/AUDIT.md, "The auditor's page"): the browser authenticates
//! to `/audit/` as to the API, with the auditor's client certificate; the page never trusts a
//! key the node or the log offers; pinned keys are remembered in the browser's local storage
//! only.
//!
//! Why under [`crate::http`]: the page is served by the route table ([`crate::http::routes`]
//! names [`route`]'s handlers), so it belongs to the HTTP layer; the
//! export, which the command line calls, writes the same page to a folder. It reads the log's
//! files only to hand them out; verification happens in the browser (and in
//! [`crate::audit::verify`]), never by changing the log.

pub mod export;
pub mod page;
pub mod route;
