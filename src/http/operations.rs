//! The operational routes (API tag `operations`): liveness, readiness and metrics (the API
//! document, under the same tag, is served by `crate::http::openapi`).
//!
//! Layer: http. They report the state of the layers below; they change nothing.

use crate::hardening::HardeningReport;
use crate::http::problem::AppError;
use crate::http::schema::Problem;
use crate::http::state::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::Ordering;
use utoipa::ToSchema;

/// Liveness.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "The process answers", body = String,
        content_type = "text/plain; charset=utf-8")),
)]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Whether the node takes keys now, and why not.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// Keys can be created and opened.
    ready: bool,
    /// Not shutting down.
    accepting: bool,
    /// Keys can be created.
    can_create: bool,
    /// Keys can be opened.
    can_open: bool,
    /// Live keys on this node.
    live_keys: u64,
    /// The audit log's state; absent without a log.
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: Option<crate::audit::AuditHealth>,
    /// The witnesses' state; absent without witnesses.
    #[serde(skip_serializing_if = "Option::is_none")]
    witnesses: Option<Vec<crate::audit::witness::client::WitnessInfo>>,
    /// What process hardening achieved.
    hardening: HardeningReport,
}

/// Readiness, with the audit log's, the witnesses' and hardening's state.
#[utoipa::path(
    get, path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready (`not-ready`): the problem document carries \
            the members of Readiness too; Retry-After", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn readyz(State(state): State<SharedState>) -> Response {
    let accepting = state.ready.load(Ordering::SeqCst);
    let audit = state.audit.as_ref().map(|a| a.health());
    let writable = audit.as_ref().is_none_or(|h| h.writable);
    let witnesses = state.witnessing.as_ref().map(|w| w.status());
    let conflict = state.witnessing.as_ref().is_some_and(|w| w.conflict());
    // Keys can be created and opened only while the log takes events: both fail closed.
    let ready = accepting && writable && !conflict;
    let body = Readiness {
        ready,
        accepting,
        can_create: ready,
        can_open: accepting && writable,
        live_keys: state.custody.live_keys() as u64,
        audit,
        witnesses,
        hardening: state.hardening.clone(),
    };
    if ready {
        return (StatusCode::OK, Json(body)).into_response();
    }
    let mut why = Vec::new();
    if !accepting {
        why.push("shutting down");
    }
    if !writable {
        why.push("the audit log cannot be written, so keys can be neither created nor opened");
    }
    if conflict {
        why.push("a witness holds another history of this log");
    }
    let report = match serde_json::to_value(&body) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    AppError::NotReady {
        detail: format!("this node cannot take keys now: {}", why.join("; ")),
        report,
    }
    .into_response()
}

/// Metrics, in the OpenMetrics text format (docs/OPERATIONS.md lists them).
#[utoipa::path(
    get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "The metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")),
)]
pub(crate) async fn metrics(State(state): State<SharedState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
