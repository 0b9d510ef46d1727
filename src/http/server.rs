//! The TLS listener: `run(listener, tls, state, limits, shutdown)`.
//!
//! Tests bind `127.0.0.1:0` themselves and hand the listener in, so they run the very server
//! the binary runs, over real TLS. The verified client certificate's identity is attached to
//! every request of its connection as [`ConnInfo`].
//!
//! Connection discipline (docs/SECURITY.md, "Connections"), the same for HTTP/1.1 and HTTP/2:
//!
//! - admission ([`crate::http::admission`]): a connection first holds a place in the smaller
//!   unauthenticated budget (global and per source address), and moves to the authenticated
//!   budget once a client certificate or a bearer token has been verified;
//! - the TLS handshake has a deadline;
//! - a connection waiting for a request is closed after `idle_timeout`; once the first byte of
//!   a request has arrived, its head must be complete within `header_timeout`;
//! - a request must be answered (its body read and handled) within `request_timeout`, else
//!   408 and, on HTTP/1.1, the connection is closed;
//! - in-flight requests beyond `max_concurrency`: 503; bodies beyond `max_body_bytes`: 413,
//!   refused from `Content-Length` before any of the body is read when it is declared.
//!
//! Shutdown stops accepting, asks every connection to close gracefully, waits (bounded) for
//! in-flight requests, and returns; the caller then destroys every key.
//!
//! Layer: http. Owns sockets, TLS handshakes and connection lifetimes; it must not look inside
//! requests beyond what admission and the caller's identity need.

use crate::http::admission::{Admission, AdmissionLimits, Slot};
use crate::http::problem::{AppError, PROBLEM_JSON};
use crate::http::routes::app;
use crate::http::state::{AppState, ConnInfo};
use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Response, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceBuilder;

/// Limits applied by the server.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// TLS handshake deadline.
    pub handshake_timeout: Duration,
    /// From the first byte of a request to the end of its head.
    pub header_timeout: Duration,
    /// From the end of a request's head to its response's head (body read and handling): 408.
    pub request_timeout: Duration,
    /// A connection with no request in flight and none arriving is closed after this.
    pub idle_timeout: Duration,
    /// Largest request head / header list.
    pub max_header_bytes: usize,
    /// Largest body.
    pub max_body_bytes: usize,
    /// In-flight requests.
    pub max_concurrency: usize,
    /// The connection budgets.
    pub admission: AdmissionLimits,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
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
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge("the request body is too large".into())
        }
        StatusCode::REQUEST_TIMEOUT => AppError::RequestTimeout,
        StatusCode::METHOD_NOT_ALLOWED => {
            AppError::BadRequest("method not allowed on this route".into())
        }
        s if s.is_server_error() => AppError::Internal,
        // Rejections of axum's own extractors: their text names Rust types, so it is not
        // passed on (the project's own readers give their own words).
        _ => AppError::BadRequest("the request is malformed".into()),
    };
    let mut problem = error.into_response();
    if status != StatusCode::INTERNAL_SERVER_ERROR {
        *problem.status_mut() = status;
    }
    problem
}

/// 413 from a declared `Content-Length`, before any of the body is read: on HTTP/2 the
/// client then gets the answer rather than a reset stream half-way through its upload.
async fn declared_length(
    limit: usize,
    request: Request,
    next: Next,
) -> Result<Response<Body>, AppError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge(
            "the request body is too large".into(),
        ));
    }
    Ok(next.run(request).await)
}

/// The router with every limit layer.
pub fn service(state: Arc<AppState>, limits: &ServerLimits) -> Router {
    let max_body = limits.max_body_bytes;
    app(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn(move |r, n| {
            declared_length(max_body, r, n)
        }))
        .layer(axum::middleware::map_response(problemize))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|e: tower::BoxError| async move {
                    if e.is::<tower::timeout::error::Elapsed>() {
                        AppError::RequestTimeout
                    } else {
                        AppError::Unavailable {
                            detail: "the service is at its concurrency limit".into(),
                            retry_after: 1,
                        }
                    }
                }))
                .load_shed()
                .concurrency_limit(limits.max_concurrency)
                .timeout(limits.request_timeout),
        )
}

/// What a connection is doing, for its watchdog.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Requests whose response (head and body) is not yet finished.
    in_flight: AtomicUsize,
    /// Milliseconds since `start` when the connection last became idle.
    idle_since: AtomicU64,
    /// Milliseconds since `start` of the first byte read while idle; `u64::MAX`: none.
    first_byte: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            first_byte: AtomicU64::new(u64::MAX),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let now = self.now_ms();
            let _ =
                self.first_byte
                    .compare_exchange(u64::MAX, now, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Why the connection should be closed now, if it should.
    fn expired(&self, limits: &ServerLimits) -> Option<&'static str> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let now = self.now_ms();
        let first = self.first_byte.load(Ordering::SeqCst);
        if first != u64::MAX {
            let header = u64::try_from(limits.header_timeout.as_millis()).unwrap_or(u64::MAX);
            return (now.saturating_sub(first) >= header).then_some("header timeout");
        }
        let idle = u64::try_from(limits.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let since = self.idle_since.load(Ordering::SeqCst);
        (now.saturating_sub(since) >= idle).then_some("idle timeout")
    }
}

/// A request in flight; when its response is finished (or dropped) the connection may idle.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        if a.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            a.idle_since.store(a.now_ms(), Ordering::SeqCst);
            a.first_byte.store(u64::MAX, Ordering::SeqCst);
        }
    }
}

/// A request body that stays alive until the response is finished, whoever reads it.
///
/// On HTTP/2, dropping a request body that is still arriving resets the stream (CANCEL) at
/// once, before the answer has gone out: a 413 or 408 would reach the client as a stream
/// error. Kept until the response ends, the unread body is reset with NO_ERROR after a
/// complete answer instead (RFC 9113 §8.1), which clients read as the answer.
struct KeptBody(Arc<std::sync::Mutex<Body>>);

impl axum::body::HttpBody for KeptBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut body = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).size_hint()
    }
}

/// The most of a request body read and thrown away after an early answer.
const DRAIN_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Reads what is left of a request body after its answer (a 413 sent from its declared
/// length, say), at most [`DRAIN_MAX_BYTES`] for at most `within`, so that the client, still
/// sending, reads the answer: on HTTP/2 the stream ends cleanly rather than with a reset; on
/// HTTP/1.1 the connection is not closed under the client's upload (a TCP reset that can
/// discard the answer in the client's buffers). Beyond either bound the body is dropped.
async fn drain(kept: Arc<std::sync::Mutex<Body>>, within: Duration) {
    let mut body = KeptBody(kept);
    let mut read = 0usize;
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len());
            if read > DRAIN_MAX_BYTES {
                return;
            }
        }
    })
    .await;
}

/// Counts requests in flight on one connection, until their response bodies end; keeps each
/// request body until then ([`KeptBody`]), and drains what the handler left unread.
async fn track(
    activity: Arc<Activity>,
    drain_within: Duration,
    request: Request,
    next: Next,
) -> Response<Body> {
    let guard = activity.begin();
    let http1 = request.version() <= Version::HTTP_11;
    let (parts, body) = request.into_parts();
    let kept = Arc::new(std::sync::Mutex::new(body));
    let request = Request::from_parts(parts, Body::new(KeptBody(kept.clone())));
    let mut response = next.run(request).await;
    if http1 && response.status() == StatusCode::REQUEST_TIMEOUT {
        // The rest of a slow body may still be on its way: do not read it as a next request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let (parts, body) = response.into_parts();
    let unread =
        !axum::body::HttpBody::is_end_stream(&*kept.lock().unwrap_or_else(|e| e.into_inner()));
    if unread && parts.status != StatusCode::REQUEST_TIMEOUT {
        tokio::spawn(drain(kept.clone(), drain_within));
    }
    let body = body.map_frame(move |frame| {
        let _in_flight = &guard;
        let _request_body = &kept;
        frame
    });
    Response::from_parts(parts, Body::new(body))
}

/// The connection's stream, noting when bytes arrive.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Open connection tasks, so that shutdown can wait for them.
#[derive(Debug, Default)]
struct Tasks {
    open: AtomicUsize,
    done: Notify,
}

struct TaskGuard(Arc<Tasks>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.done.notify_waiters();
        }
    }
}

impl Tasks {
    fn enter(self: &Arc<Self>) -> TaskGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        TaskGuard(self.clone())
    }

    async fn all_done(&self) {
        loop {
            let notified = self.done.notified();
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// How often a connection's watchdog looks: a tenth of the shortest timeout, 50 ms to 1 s.
fn watch_period(limits: &ServerLimits) -> Duration {
    (limits.header_timeout.min(limits.idle_timeout) / 10)
        .clamp(Duration::from_millis(50), Duration::from_secs(1))
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
    let router = service(state.clone(), &limits);
    let admission = Admission::new(limits.admission);
    let tasks = Arc::new(Tasks::default());
    let (stop, stopping) = watch::channel(false);
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
        let slot = match admission.arrive(peer.ip()) {
            Ok(slot) => Arc::new(slot),
            Err(refusal) => {
                state.metrics.count_connection_refused(refusal.as_str());
                tracing::debug!(%peer, reason = refusal.as_str(), "connection refused");
                continue;
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls());
        let connection = Connection {
            router: router.clone(),
            limits: limits.clone(),
            state: state.clone(),
            slot,
            stopping: stopping.clone(),
            _task: tasks.enter(),
        };
        tokio::spawn(connection.serve(acceptor, stream, peer));
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(limits.drain_timeout, tasks.all_done())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: in-flight connections did not finish in time");
    }
    Ok(())
}

/// One accepted connection.
struct Connection {
    router: Router,
    limits: ServerLimits,
    state: Arc<AppState>,
    slot: Arc<Slot>,
    stopping: watch::Receiver<bool>,
    _task: TaskGuard,
}

impl Connection {
    async fn serve(
        mut self,
        acceptor: tokio_rustls::TlsAcceptor,
        stream: tokio::net::TcpStream,
        peer: std::net::SocketAddr,
    ) {
        let _ = stream.set_nodelay(true);
        let limits = &self.limits;
        let tls_stream =
            match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
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
        let cert = crate::auth::tls::peer_identity(tls_stream.get_ref().1);
        if cert.is_some()
            && let Err(refusal) = self.slot.authenticate()
        {
            self.state
                .metrics
                .count_connection_refused(refusal.as_str());
            tracing::warn!(%peer, "connection closed: the authenticated budget is spent");
            return;
        }
        let activity = Activity::new();
        let info = ConnInfo {
            cert,
            slot: Some(self.slot.clone()),
            peer: Some(peer),
        };
        let tracked = activity.clone();
        let drain_within = limits.request_timeout;
        let svc =
            self.router
                .clone()
                .layer(axum::Extension(info))
                .layer(axum::middleware::from_fn(move |r, n| {
                    track(tracked.clone(), drain_within, r, n)
                }));
        let svc = TowerToHyperService::new(svc);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(Some(128));
        let io = Watched {
            inner: tls_stream,
            activity: activity.clone(),
        };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
        tokio::pin!(conn);
        let mut tick = tokio::time::interval(watch_period(limits));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            let deadline =
                closing.unwrap_or_else(|| tokio::time::Instant::now() + limits.drain_timeout);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stopping.changed(), if closing.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(tokio::time::Instant::now() + limits.drain_timeout);
                }
                _ = tick.tick(), if closing.is_none() => {
                    if let Some(why) = activity.expired(limits) {
                        tracing::debug!(%peer, reason = why, "closing connection");
                        self.state.metrics.count_connection_closed(why);
                        conn.as_mut().graceful_shutdown();
                        // An idle connection has nothing to finish; give a half-read request
                        // head no more time.
                        closing = Some(tokio::time::Instant::now() + Duration::from_millis(100));
                    }
                }
                () = tokio::time::sleep_until(deadline), if closing.is_some() => {
                    tracing::debug!(%peer, "connection dropped after its close deadline");
                    return;
                }
            }
        }
    }
}
