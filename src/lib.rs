//! # ok2cry — the disposable-key service
//!
//! A RAM-only service that issues one P-256 key pair per message exchange with a strict TTL,
//! keeps private keys wrapped under rotating key-encryption keys, opens a sealed message once
//! and destroys the key, and proves every destruction in a tamper-evident audit log.
//!
//! The modules are the layers, listed from the top down: a layer uses the ones below it and
//! never the ones above (docs/ARCHITECTURE.md: what each owns, the path of a key, the known
//! exceptions). Data flows down: [`http`] → [`custody`] → [`audit`].

// The command line (`serve`, `certs`, `audit`, `attest`, …): parses, then calls the layers below.
pub mod cli;

// Wiring: configuration, process hardening, `serve --dev`, start-up and shutdown in order.
pub mod node;

// HTTP over the layers below: the route table, the TLS server, admission, request bodies,
// the one error mapping, the API contract, attestation and the auditor's page.
pub mod http;

// The disposable keys: create, get, open once, destroy, sweep; KEKs and token-signing keys.
pub mod custody;

// Who is calling and what they may do: principals, bearer JWTs, the dev PKI, TLS verification.
pub mod auth;

// The proof of destruction: the event model, the log on disk, checkpoints, receipts, witness.
pub mod audit;

// Process hardening (no core dumps, non-dumpable, memory locked): applied by the node,
// reported by the HTTP layer.
pub mod hardening;

// Prometheus metrics, shared by every layer.
pub mod metrics;

// The time source (system, or manual for deterministic tests), shared by every layer.
pub mod clock;
