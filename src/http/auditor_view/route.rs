//! `GET /audit/`: the auditor's page, and the log's files it reads, for the auditor role.
//!
//! The browser authenticates as every client of the API does: with the auditor's client
//! certificate (mutual TLS); a principal without the auditor role gets 403, a connection
//! without a certificate 401. The page reads the files `ok2cry audit verify --dir` reads:
//!
//! - `GET /audit/log/index.json`: `{"files": [{"name", "size"}]}` — `FORMAT` and every
//!   segment's events, metadata and checkpoint records (not the derived index files);
//! - `GET /audit/log/<name>`: one of them, as bytes (ranges and conditional requests work).
//!
//! Nothing else of the node's disk is reachable: a name must be exactly one of those forms.

use crate::auth::principal::Role;
use crate::http::caller::Caller;
use crate::http::problem::AppError;
use crate::http::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;
use tower::ServiceExt;

/// Whether `name` is a file of a log directory that the page reads.
pub fn is_log_file(name: &str) -> bool {
    if name == "FORMAT" {
        return true;
    }
    let Some(rest) = name.strip_prefix("segment-") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && matches!(
            &rest[digits..],
            ".jsonl" | ".meta.json" | ".checkpoints.jsonl"
        )
}

fn headers(response: &mut Response, content_type: &'static str) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The auditor's page, at `/audit/`.
#[utoipa::path(
    get, path = "/audit", tag = "auditor",
    responses(
        (status = 308, description = "To /audit/",
            headers(("Location" = String, description = "/audit/"))),
    )
)]
pub(crate) async fn to_slash(caller: Caller) -> Result<Response, AppError> {
    caller.require(Role::Auditor)?;
    Ok(Redirect::permanent("/audit/").into_response())
}

/// The auditor's page: verifies the proof of destruction in the browser (docs/AUDIT.md).
///
/// Needs the auditor role.
#[utoipa::path(
    get, path = "/audit/", tag = "auditor",
    responses(
        (status = 200, description = "The page (HTML, with a strict Content-Security-Policy)",
            body = String, content_type = "text/html; charset=utf-8"),
    )
)]
pub(crate) async fn page(caller: Caller) -> Result<Response, AppError> {
    caller.require(Role::Auditor)?;
    let page = super::page::page().map_err(|e| {
        tracing::error!(error = %e, "the auditor's page");
        AppError::Internal
    })?;
    let mut response = page.html.clone().into_response();
    headers(&mut response, "text/html; charset=utf-8");
    let csp = HeaderValue::from_str(&page.csp).map_err(|_| AppError::Internal)?;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    Ok(response)
}

fn log_dir(state: &AppState, caller: &Caller) -> Result<std::path::PathBuf, AppError> {
    caller.require(Role::Auditor)?;
    state
        .audit
        .as_ref()
        .map(|log| log.dir().to_owned())
        .ok_or_else(|| AppError::NotFound("this node has no audit log".into()))
}

/// A log file's name and size.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LogFile {
    /// `FORMAT`, or `segment-<N>.jsonl`, `.meta.json`, `.checkpoints.jsonl`.
    name: String,
    /// Bytes.
    size: u64,
}

/// The files of the audit log.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LogFiles {
    /// By name.
    files: Vec<LogFile>,
}

/// The files of the audit log that `ok2cry audit verify --dir` reads.
///
/// Needs the auditor role.
#[utoipa::path(
    get, path = "/audit/log/index.json", tag = "auditor",
    responses(
        (status = 200, description = "The files", body = LogFiles),
        (status = 404, description = "This node has no audit log",
            body = crate::http::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn listing(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, AppError> {
    let dir = log_dir(&state, &caller)?;
    let files = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<(String, u64)>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata()?;
            // Segments archived and removed locally are not part of what the node holds.
            let away = crate::audit::layout::segment_number_in(&name)
                .is_some_and(|n| crate::audit::layout::archived_away(&dir, n));
            if meta.is_file() && is_log_file(&name) && !away {
                files.push((name, meta.len()));
            }
        }
        files.sort();
        Ok(files)
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|e| {
        tracing::error!(error = %e, "listing the audit log failed");
        AppError::Internal
    })?;
    let files = files
        .into_iter()
        .map(|(name, size)| LogFile { name, size })
        .collect();
    let mut response = axum::Json(LogFiles { files }).into_response();
    headers(&mut response, "application/json");
    Ok(response)
}

/// A log file's name in a path.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct LogFileName {
    /// `FORMAT`, or `segment-<N>.jsonl`, `.meta.json`, `.checkpoints.jsonl`.
    #[param(pattern = "^(FORMAT|segment-[0-9]+\\.(jsonl|meta\\.json|checkpoints\\.jsonl))$")]
    name: String,
}

/// One file of the audit log, as bytes.
///
/// Needs the auditor role. Range and conditional requests work (RFC 9110).
#[utoipa::path(
    get, path = "/audit/log/{name}", tag = "auditor", params(LogFileName),
    responses(
        (status = 200, description = "The file", body = Vec<u8>,
            content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for", body = Vec<u8>,
            content_type = "application/octet-stream"),
        (status = 304, description = "Not modified"),
        (status = 404, description = "Not a file of the log, or no audit log",
            body = crate::http::schema::Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range is not satisfiable",
            body = crate::http::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn file(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    let dir = log_dir(&state, &caller)?;
    if !is_log_file(&name) {
        return Err(AppError::NotFound(
            "no such file: the log's files are FORMAT and segment-N.jsonl, .meta.json, .checkpoints.jsonl".into(),
        ));
    }
    let path = dir.join(&name);
    if !tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        return Err(AppError::NotFound("no such file in the log".into()));
    }
    let served = tower_http::services::ServeFile::new(&path)
        .oneshot(request)
        .await
        .map_err(|_| AppError::Internal)?;
    let mut response = served.map(axum::body::Body::new).into_response();
    if response.status().is_success() {
        headers(&mut response, "application/octet-stream");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::is_log_file;

    #[test]
    fn only_the_files_of_a_log_are_named() {
        for ok in [
            "FORMAT",
            "segment-000001.jsonl",
            "segment-000001.meta.json",
            "segment-1234567.checkpoints.jsonl",
        ] {
            assert!(is_log_file(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../audit-key.pem",
            "segment-.jsonl",
            "segment-000001.idx",
            "segment-000001.keys",
            "level-1.bin",
            "segment-000001.jsonl/..",
            "segment-00x001.jsonl",
            "format",
            "audit-key.pem",
        ] {
            assert!(!is_log_file(bad), "{bad}");
        }
    }
}
