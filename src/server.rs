//! The TLS listener: `run(listener, tls, state, limits, shutdown)`.
//!
//! Tests bind `127.0.0.1:0` themselves and hand the listener in, so they run the very server
//! the binary runs, over real TLS. Each accepted connection gets a handshake deadline; the
//! verified client certificate's identity is attached to every request of that connection as
//! [`ConnInfo`]. Limits: connections at once, in-flight requests (beyond: 503), header size,
//! body size (413), whole-request time (408). Shutdown stops accepting, lets in-flight
//! requests finish (bounded), and returns; the caller then destroys every key.

use crate::api::{AppState, ConnInfo, app};
use crate::problem::{AppError, PROBLEM_JSON};
use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;

/// Limits applied by the server.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// TLS handshake deadline.
    pub handshake_timeout: Duration,
    /// Whole-request deadline.
    pub request_timeout: Duration,
    /// Largest request head / header list.
    pub max_header_bytes: usize,
    /// Largest body.
    pub max_body_bytes: usize,
    /// In-flight requests.
    pub max_concurrency: usize,
    /// Open connections.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl From<&crate::config::LimitsConfig> for ServerLimits {
    fn from(l: &crate::config::LimitsConfig) -> Self {
        Self {
            handshake_timeout: Duration::from_millis(l.handshake_timeout_ms),
            request_timeout: Duration::from_millis(l.request_timeout_ms),
            max_header_bytes: l.max_header_bytes,
            max_body_bytes: l.max_body_bytes,
            max_concurrency: l.max_concurrency,
            max_connections: l.max_connections,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Turns any error response that is not yet problem+json (axum's own rejections, 413, 408)
/// into one, keeping the status and using the text as the detail. One place for all errors.
async fn problemize(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge("the request body is too large".into())
        }
        StatusCode::REQUEST_TIMEOUT => AppError::BadRequest("the request took too long".into()),
        StatusCode::METHOD_NOT_ALLOWED => {
            AppError::BadRequest("method not allowed on this route".into())
        }
        s if s.is_server_error() => AppError::Internal,
        _ => AppError::BadRequest(if text.is_empty() {
            status.to_string()
        } else {
            text
        }),
    };
    let mut problem = error.into_response();
    if status != StatusCode::INTERNAL_SERVER_ERROR {
        *problem.status_mut() = status;
    }
    problem
}

/// The router with every limit layer.
pub fn service(state: Arc<AppState>, limits: &ServerLimits) -> Router {
    app(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::map_response(problemize))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    AppError::Unavailable {
                        detail: "the service is at its concurrency limit".into(),
                        retry_after: 1,
                    }
                }))
                .load_shed()
                .concurrency_limit(limits.max_concurrency)
                .timeout(limits.request_timeout),
        )
}

/// Runs the HTTPS server until `shutdown` resolves.
///
/// `tls` is asked for the current server configuration at each accept, so a CRL reload takes
/// effect for the next connection without a restart.
pub async fn run<T, F>(
    listener: TcpListener,
    tls: T,
    state: Arc<AppState>,
    limits: ServerLimits,
    shutdown: F,
) -> std::io::Result<()>
where
    T: Fn() -> Arc<rustls::ServerConfig> + Send + Sync + 'static,
    F: Future<Output = ()> + Send,
{
    let router = service(state, &limits);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection refused: too many connections");
            continue;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls());
        let router = router.clone();
        let limits = limits.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let tls_stream =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::info!(%peer, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let cert = crate::tls::peer_identity(tls_stream.get_ref().1);
            let info = ConnInfo { cert };
            let svc = router.layer(axum::Extension(info));
            let svc = TowerToHyperService::new(svc);
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .max_buf_size(limits.max_header_bytes.max(8192));
            builder
                .http2()
                .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), svc);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(limits.drain_timeout) => {
            tracing::warn!("shutdown: in-flight connections did not finish in time");
        }
    }
    Ok(())
}
