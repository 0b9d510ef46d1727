//! HTTP over the layers below.

pub mod admission;
pub mod attestation;
pub mod auditor_view;
pub mod body;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod server;
