//! The HTTP routes: `fn app(state) -> Router`, so tests can drive them with `oneshot` as well
//! as over real TLS.
//!
//! Every handler gets its caller as a [`crate::http::caller::Caller`], resolved from the
//! connection's verified client certificate (or, when enabled, a verified bearer JWT), and
//! checked against the caller's roles; the shared state is [`crate::http::state::AppState`].
//! Every error goes through [`AppError`].
//!
//! The handlers live by resource: [`crate::http::keys`], [`crate::http::audit`],
//! [`crate::http::operations`], [`crate::http::attestation`] and
//! [`crate::http::auditor_view::route`]; the table below is the one place they are routed.
//!
//! Layer: http. Owns the route table: it names the handlers, and no handler imports it. A
//! handler must not hold key material or write audit events: it calls [`crate::custody`], and
//! reads the audit log only for the auditor routes.

use crate::http::problem::AppError;
use crate::http::state::SharedState;
use axum::Router;

/// Declares every route once: the router is built from this table, and [`ROUTES`] lists it
/// for the test that checks each route against the OpenAPI document (src/http/openapi.rs).
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route the service answers, as (method, path in axum's syntax).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes(router: Router<SharedState>) -> Router<SharedState> {
            router $(.route($path, axum::routing::$method($handler)))*
        }
    };
}

route_table! {
    post "/v1/keys" => crate::http::keys::create_key;
    get "/v1/keys/{key_id}" => crate::http::keys::get_key;
    delete "/v1/keys/{key_id}" => crate::http::keys::delete_key;
    post "/v1/keys/{key_id}/open" => crate::http::keys::open_key;
    get "/.well-known/jwks.json" => crate::http::keys::jwks;
    get "/v1/audit/events" => crate::http::audit::audit_events;
    get "/v1/audit/stream" => crate::http::audit::audit_stream;
    get "/v1/audit/checkpoint" => crate::http::audit::audit_checkpoint;
    get "/v1/audit/consistency" => crate::http::audit::audit_consistency;
    get "/v1/audit/receipts/{key_id}" => crate::http::audit::audit_receipt;
    get "/v1/audit/key" => crate::http::audit::audit_key;
    get "/v1/audit/tlog/checkpoint" => crate::http::audit::tlog_checkpoint;
    get "/v1/audit/tlog/tile/{*path}" => crate::http::audit::tlog_tile;
    get "/v1/attestation" => crate::http::attestation::attestation;
    get "/healthz" => crate::http::operations::healthz;
    get "/readyz" => crate::http::operations::readyz;
    get "/metrics" => crate::http::operations::metrics;
    get "/openapi.json" => crate::http::openapi::serve;
    get "/audit" => crate::http::auditor_view::route::to_slash;
    get "/audit/" => crate::http::auditor_view::route::page;
    get "/audit/log/index.json" => crate::http::auditor_view::route::listing;
    get "/audit/log/{name}" => crate::http::auditor_view::route::file;
}

/// The router.
pub fn app(state: SharedState) -> Router {
    routes(Router::new())
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        // A problem document for 405 too (axum's own is an empty body); axum still adds Allow.
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .with_state(state)
}
