//! # ok2cry-client — protocol v1 ("STRONG")
//!
//! The wire format every party of an ok2cry exchange agrees on, and the helpers to use it.
//! The normative text is `docs/PROTOCOL.md` in the repository; this crate implements it.
//!
//! Table of contents:
//! - [`suite`]: the one cipher suite (HPKE base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
//!   AES-256-GCM) and the `info` construction.
//! - [`key_id`]: the validated key identifier.
//! - [`json`]: strict JSON reading (no duplicate members, exact integers), shared by every
//!   JSON form of the protocol.
//! - [`wire`]: rules shared by the text forms (the surrounding whitespace a receiver removes).
//! - [`jwk`]: public keys as RFC 7517 JWKs, JWK sets and RFC 7638 thumbprints.
//! - [`public_key`]: a recipient public key from a JWK, an SPKI PEM or SEC1 bytes.
//! - [`private_key`]: a P-256 private key (secret: derives nothing, zeroizes on drop).
//! - [`provider`]: the crypto provider interface and its two implementations, RustCrypto
//!   (default) and AWS-LC (feature `aws-lc`).
//! - [`rfc9180`]: HPKE for the STRONG suite, written from RFC 9180 over a provider (the module
//!   `provider::rfc9180`, re-exported here).
//! - [`key_token`]: the service-signed key token (JWS compact, ES256): parse, verify into a
//!   [`VerifiedKey`], and the issuing side.
//! - [`envelope`]: sealed messages, their JSON and compact header forms, seal and open.
//! - [`local_key`]: an ephemeral key pair made on the end user's device.
//! - [`jws`]: the one strict reader of signed tokens (JWS compact, ES256): key tokens and
//!   bearer JWTs.
//! - [`secret`]: the plaintext type.
//! - [`secret_file`]: how a secret (a private JWK, a private key PEM) is written to a file.
//! - [`error`]: the one error type of this crate.
//! - [`headers`]: the HTTP header names used to forward keys and envelopes.
//! - `http` (feature `http`): an async client of the service.
//! - `forward` (feature `proxy`): helpers and a tower layer for proxies.
//! - `attested` (feature `attestation`): trusting a JWK set only through verified attestation
//!   evidence (Nitro or SEV-SNP): the binding check over a `GET /v1/attestation` answer, the
//!   proof type `AttestedJwks`, and `AttestedKeys` for proxies; with `http`,
//!   `Ok2cryClient::attest` does it in one call and `require_attestation` makes the client use
//!   only attested keys.

mod b64;
pub mod envelope;
pub mod error;
pub mod headers;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod key_id;
pub mod key_token;
pub mod local_key;
mod params;
pub mod private_key;
pub mod provider;
pub mod public_key;
pub mod secret;
pub mod secret_file;
pub mod suite;
pub mod wire;

pub use envelope::Envelope;
pub use error::Error;
pub use jwk::{Jwks, PublicJwk};
pub use key_id::KeyId;
pub use key_token::{KeyToken, KeyTokenClaims, TokenSigner, VerifiedKey};
pub use local_key::LocalKey;
pub use private_key::PrivateKey;
pub use provider::CryptoProvider;
pub use provider::rfc9180;
pub use public_key::PublicKey;
pub use secret::Plaintext;

// An async client of the ok2cry service (feature `http`). Documented in the module itself: an
// outer doc comment here would make rustdoc resolve the module's intra-doc links from lib.rs.
#[cfg(feature = "http")]
pub mod http;

// Helpers and a tower layer for proxies that forward keys and envelopes (feature `proxy`).
#[cfg(feature = "proxy")]
pub mod forward;

// Trusting a JWK set only through a verified attestation (feature `attestation`).
#[cfg(feature = "attestation")]
pub mod attested;
