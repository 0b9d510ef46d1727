//! # ok2cry — the disposable-key service
//!
//! A RAM-only service that issues one P-256 key pair per message exchange with a strict TTL,
//! keeps private keys wrapped under rotating key-encryption keys, opens a sealed message once
//! and destroys the key, and proves every destruction in a tamper-evident audit log.
//!
//! Table of contents:
//! - [`node::config`]: configuration (TOML file, environment, flags), validated at start.
//! - [`clock`]: the time source (system, or manual for deterministic tests).
//! - [`auth::principal`]: who is calling and what they may do.
//! - [`auth::bearer`]: the bearer JWT fallback for parties without mTLS.
//! - [`auth::pki`]: the dev PKI and partner onboarding (CSR signing, revocation).
//! - [`auth::tls`]: the rustls server configuration, client-certificate verification, reload.
//! - [`custody::kek`]: key-encryption keys: rotation, wrapping, destruction.
//! - [`custody::signing`]: the service's token-signing keys and the JWK set.
//! - [`custody`]: the disposable keys: create, get, open once, destroy, sweep.
//! - [`metrics`]: Prometheus metrics.
//! - [`http::problem`]: the one error type of the HTTP layer, as RFC 9457 problem+json.
//! - [`http::routes`]: the HTTP routes (`fn app(state) -> Router`).
//! - [`http::attestation`]: `GET /v1/attestation`, evidence bound to the node's keys.
//! - [`http::server`]: the TLS listener and `run(listener, …, shutdown)`.
//! - [`node`]: start-up and shutdown of a whole node, in order.
//! - [`audit`]: the audit log: the event model, one Merkle tree per node, signed and
//!   witnessed checkpoints, receipts, offline verification, the witness.
//! - [`http::auditor_view`]: the auditor's page (`/audit/`, `ok2cry audit export`): the log verified
//!   in the browser with the rules of [`audit::verify`].
//! - [`node::dev`]: `serve --dev`, a local setup with a dev PKI.
//! - [`node::hardening`]: RAM-only process hardening (core dumps, dumpable, mlockall).
//! - [`cli`]: the command line.
//! - [`cli::attest`]: `ok2cry attest …`: verify evidence and its binding, write provenance.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod custody;
pub mod http;
pub mod metrics;
pub mod node;
