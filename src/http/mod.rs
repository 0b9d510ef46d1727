//! HTTP over the layers below: the only layer that speaks HTTP to the service's callers.
//!
//! Owns the route table ([`routes`], the one place routes are added) and the handlers by
//! resource ([`keys`], [`audit`], [`operations`], [`attestation`]), the TLS listener and
//! connection discipline ([`server`], [`admission`]), strict request bodies ([`body`]), the
//! one error type mapped to problem+json ([`problem`]), the API contract ([`openapi`]) and
//! the auditor's page ([`auditor_view`]).
//!
//! A handler authenticates the caller (through [`crate::auth`]), calls [`crate::custody`] or
//! reads the audit log through [`crate::audit`]'s read side, and maps the result to a
//! response. It must not hold key material, write audit events or write the log's files (the
//! auditor's page only reads them, to hand them out as they are), and must not import
//! [`crate::node`] or [`crate::cli`] (known exceptions: docs/ARCHITECTURE.md).

pub mod admission;
pub mod attestation;
pub mod audit;
pub mod auditor_view;
pub mod body;
pub mod caller;
pub mod keys;
pub mod openapi;
pub mod operations;
pub mod problem;
pub mod routes;
pub mod schema;
pub mod server;
pub mod state;
