//! The API contract: the OpenAPI 3.1 document, generated from the handlers and their types.
//!
//! Each handler carries its own `#[utoipa::path]` (method, path, parameters, body, every status
//! it answers with what); the request and response types derive their schemas. This module
//! gathers them, adds what every route shares (the security schemes, the refusals any route can
//! give) and the few schemas of types that live in other crates, and serves the result at
//! `/openapi.json`. `docs/openapi.json` is a copy, kept equal by a test
//! (`OK2CRY_BLESS=1 cargo test --lib openapi` rewrites it); another test fails when a route of
//! [`crate::http::routes::ROUTES`] is not documented, or a documented one is not routed.
//!
//! Layer: http. Owns the API document and its route's handler ([`serve`]); it names the
//! handlers and [`crate::http::schema`], and nothing imports it but the route table. It must
//! not add routes (the table in [`crate::http::routes`] does).

use crate::http::schema::{Envelope, Problem};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

/// The media type of problem documents.
const PROBLEM_JSON: &str = crate::http::problem::PROBLEM_JSON;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ok2cry",
        description = "Ephemeral-key end-to-end encryption: disposable P-256 keys with a strict \
            TTL, opened once and destroyed, every destruction proven in a signed audit log. \
            Authentication: mutual TLS (a client certificate of a configured CA) or, when the \
            node enables it, `Authorization: Bearer <ES256 JWT>`. Every error is an RFC 9457 \
            problem document (`application/problem+json`) whose `type` is one of the problem \
            types below. docs/PROTOCOL.md is the normative text; this document is generated \
            from the service's code.",
        license(name = "Apache-2.0"),
    ),
    paths(
        crate::http::keys::create_key,
        crate::http::keys::get_key,
        crate::http::keys::delete_key,
        crate::http::keys::open_key,
        crate::http::keys::jwks,
        crate::http::audit::audit_events,
        crate::http::audit::audit_stream,
        crate::http::audit::audit_checkpoint,
        crate::http::audit::audit_consistency,
        crate::http::audit::audit_receipt,
        crate::http::audit::audit_key,
        crate::http::audit::tlog_checkpoint,
        crate::http::audit::tlog_tile,
        crate::http::attestation::attestation,
        crate::http::operations::healthz,
        crate::http::operations::readyz,
        crate::http::operations::metrics,
        crate::http::openapi::serve,
        crate::http::auditor_view::route::to_slash,
        crate::http::auditor_view::route::page,
        crate::http::auditor_view::route::listing,
        crate::http::auditor_view::route::file,
    ),
    components(schemas(Problem, Envelope)),
    modifiers(&Shared),
    tags(
        (name = "keys", description = "Disposable keys: create, read, open, delete"),
        (name = "audit", description = "The proof of destruction, for auditors (docs/AUDIT.md)"),
        (name = "attestation", description = "Evidence of the measured build (docs/ATTESTATION.md)"),
        (name = "auditor", description = "The auditor's page and the log files it reads"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as pretty JSON (what `/openapi.json` serves), made once.
pub fn json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // The document is plain data: serializing it cannot fail.
        serde_json::to_string_pretty(&document()).unwrap_or_default() + "\n"
    })
    .clone()
}

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", operation_id = "openapi", tag = "operations", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API",
        body = Object, content_type = "application/json")),
)]
pub(crate) async fn serve() -> Response {
    let mut response = json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// What every operation shares: the security schemes and the refusals any route can give.
struct Shared;

/// Refusals of the server's own layers, possible on every route (src/http/server.rs).
const ANY_ROUTE: [(u16, &str); 5] = [
    (
        400,
        "The request is malformed (a bad path, query or header; `bad-request`)",
    ),
    (
        408,
        "The request was not received and handled within `limits.request_timeout_ms` \
         (`request-timeout`; the connection is closed)",
    ),
    (
        413,
        "A declared body larger than `limits.max_body_bytes` (`payload-too-large`)",
    ),
    (
        500,
        "The service failed (`internal`); nothing internal is said",
    ),
    (
        503,
        "The service is at its concurrency limit or cannot do this now (`unavailable`; \
         Retry-After)",
    ),
];

/// Refusals of every authenticated route.
const AUTHENTICATED: [(u16, &str); 3] = [
    (
        401,
        "No acceptable credentials: a client certificate of a configured CA, or a valid bearer \
         JWT where enabled (`unauthenticated`)",
    ),
    (
        403,
        "The principal is not configured, its pinned key does not match, or it lacks the \
         route's role (`forbidden`)",
    ),
    (
        429,
        "The principal's rate limit (`rate-limited`; Retry-After)",
    ),
];

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                )))),
            )
            .build(),
    )
}

fn add_refusals(operation: &mut Operation) {
    // An empty requirement (`security: [{}]`) marks a route that needs no authentication.
    let public = operation
        .security
        .as_ref()
        .is_some_and(|s| s.iter().any(|r| *r == SecurityRequirement::default()));
    let extra = if public { &[][..] } else { &AUTHENTICATED[..] };
    for (status, description) in ANY_ROUTE.iter().chain(extra) {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem_response(description));
    }
}

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mutualTLS",
            SecurityScheme::MutualTls {
                description: Some(
                    "A client certificate issued by a CA in tls.client_ca; its principal is \
                     the certificate's subject (docs/PROTOCOL.md §12)"
                        .into(),
                ),
                extensions: None,
                deprecated: None,
            },
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An ES256 JWT from a configured issuer, where the node enables bearer \
                         tokens (docs/OPERATIONS.md, [bearer])",
                    ))
                    .build(),
            ),
        );
        doc.security = Some(vec![
            SecurityRequirement::new("mutualTLS", Vec::<String>::new()),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_refusals(operation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::schema::{Jwk, jwk_schema, problem_schema};
    use base64ct::Encoding;
    use serde_json::Value;
    use std::collections::BTreeSet;
    use utoipa::PartialSchema;

    fn doc() -> Value {
        serde_json::from_str(&json()).unwrap()
    }

    /// docs/openapi.json is this document; `OK2CRY_BLESS=1` rewrites it.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
        if std::env::var_os("OK2CRY_BLESS").is_some() {
            std::fs::write(path, json()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert!(
            committed == json(),
            "docs/openapi.json differs from the generated document: run \
             OK2CRY_BLESS=1 cargo test --lib openapi and commit it"
        );
    }

    /// Doc comments become the document's descriptions: none may speak of the code.
    #[test]
    fn the_document_does_not_speak_of_the_code() {
        let doc = json();
        for internal in ["crate::", "[`", "Self::", "ok2cry::"] {
            assert!(
                !doc.contains(internal),
                "docs/openapi.json mentions {internal}"
            );
        }
    }

    /// Every route is documented with its method, and every documented operation is routed.
    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routed: BTreeSet<(String, String)> = crate::http::routes::ROUTES
            .iter()
            .map(|(method, path)| (method.to_string(), path.replace("{*", "{")))
            .collect();
        let doc = doc();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        assert_eq!(routed, documented);
        // Each with a summary and at least one success.
        for (method, path) in &documented {
            let op = &doc["paths"][path][method];
            assert!(op["summary"].is_string(), "{method} {path}: no summary");
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                statuses
                    .iter()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{method} {path}: no success"
            );
        }
    }

    /// The service's router is built only from the table of src/http/routes.rs, so a route added
    /// anywhere else would escape the test above.
    #[test]
    fn routes_are_added_only_through_the_table() {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut stack = vec![std::path::PathBuf::from(src)];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                // The witness (src/audit/witness/server.rs) is another service, with its
                // own routes (C2SP tlog-witness).
                if path.is_dir() && !path.ends_with("audit/witness") {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let calls = text.matches(".route(").count() + text.matches(".nest(").count();
                    let allowed = usize::from(path.ends_with("http/routes.rs"));
                    if calls > allowed && !path.ends_with("openapi.rs") {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "routes outside the table: {offenders:?}"
        );
    }

    /// Every refusal an operation can give is a documented problem document; every problem
    /// type the service writes is in the Problem schema's enumeration, and nothing else.
    #[test]
    fn problem_types_are_the_ones_the_service_writes() {
        let doc = doc();
        let listed: BTreeSet<String> =
            doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
        let written = crate::http::problem::tests_support::every_problem_type();
        assert_eq!(listed, written);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"][PROBLEM_JSON]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }

    /// The hand-written schemas read back to exactly the JSON written (nothing dropped).
    #[test]
    fn hand_written_schemas_are_kept_whole() {
        let cases = [
            (
                "Problem",
                <Problem as PartialSchema>::schema(),
                problem_schema(),
            ),
            ("Jwk", <Jwk as PartialSchema>::schema(), jwk_schema()),
        ];
        for (name, parsed, written) in cases {
            assert_eq!(serde_json::to_value(parsed).unwrap(), written, "{name}");
        }
        for name in ["Jwks", "Envelope", "AttestationResponse"] {
            assert!(
                doc()["components"]["schemas"][name]["properties"].is_object(),
                "{name}"
            );
        }
    }

    fn properties(name: &str) -> BTreeSet<String> {
        doc()["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn members(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    /// The create request's schema has exactly the members the handler reads.
    #[test]
    fn create_request_members() {
        let read: BTreeSet<String> = crate::http::keys::CREATE_MEMBERS
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(properties("CreateKeyRequest"), read);
        assert_eq!(
            doc()["components"]["schemas"]["CreateKeyRequest"]["additionalProperties"],
            false
        );
    }

    /// The schemas of other crates' types list exactly what those types serialize.
    #[test]
    fn other_crates_types_match_their_schemas() {
        let key = ok2cry_client::LocalKey::generate();
        let jwk = key.public_jwk().with_kid("k").with_use_alg("sig", "ES256");
        let jwk = serde_json::to_value(jwk).unwrap();
        assert!(members(&jwk).is_subset(&properties("Jwk")));
        let attestation = ok2cry_attestation::response::AttestationResponse {
            platform: "nitro".into(),
            provider: "development".into(),
            document: String::new(),
            nonce: "00".into(),
            binding: "ok2cry-bind-v1".into(),
            jwks_thumbprints: vec![],
            audit_key_spki_sha256: None,
            dev_root_certificate: Some(String::new()),
            warning: Some(String::new()),
        };
        assert_eq!(
            members(&serde_json::to_value(attestation).unwrap()),
            properties("AttestationResponse")
        );
        let sealed = base64ct::Base64UrlUnpadded::encode_string(&[4u8; 65 + 16 + 1]);
        let envelope =
            ok2cry_client::Envelope::from_compact(&format!("v1.k1.{sealed}.YQ")).unwrap();
        let envelope: Value = serde_json::from_str(&envelope.to_json()).unwrap();
        assert_eq!(members(&envelope), properties("Envelope"));
    }

    /// The key-id pattern says what `KeyId::new` accepts.
    #[test]
    fn key_id_pattern() {
        assert_eq!(
            crate::http::schema::KEY_ID_PATTERN,
            format!(
                "^[A-Za-z0-9_-]{{1,{}}}$",
                ok2cry_client::key_id::MAX_KEY_ID_LEN
            )
        );
        let doc = json();
        assert!(!doc.contains("\"pattern\": \"^[A-Za-z0-9_-]{1,64}$\""));
        assert!(doc.matches(crate::http::schema::KEY_ID_PATTERN).count() >= 4);
    }
}
