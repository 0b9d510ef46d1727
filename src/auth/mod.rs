//! Who is calling, and what they may do.
//!
//! Owns the identities and roles of principals ([`principal`]), bearer JWT verification
//! ([`bearer`]), the dev PKI and partner onboarding ([`pki`]), and the rustls server
//! configuration with client-certificate verification ([`tls`]). The HTTP layer asks it who a
//! caller is; custody keeps the [`principal::Principal`] that created or may open a key.
//!
//! It must not import [`crate::http`], [`crate::custody`] or [`crate::audit`]: it knows
//! nothing of keys or routes. (Known exception: [`tls`] takes its settings as types of
//! [`crate::node::config`]; docs/ARCHITECTURE.md.)

pub mod bearer;
pub mod pki;
pub mod principal;
pub mod tls;
