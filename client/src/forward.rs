//! Forwarding keys and envelopes through a proxy (feature `proxy`).
//!
//! A proxy between an end user and a card API carries two things it must not change and cannot
//! read: key tokens (`Ok2cry-Key` header, or the JSON field `ok2cry_key`) and envelopes
//! (`Ok2cry-Envelope` header in the compact form, or the JSON field `ok2cry_envelope` as the
//! JSON envelope object or the compact string). The helpers here read and write both forms and
//! check them **syntactically only** ([`KeyToken::parse`], [`Envelope::from_compact`],
//! [`Envelope::from_json_value`]): no key material is involved, and a proxy cannot verify or
//! open anything (verification is the end user's job; opening, the service's).
//!
//! [`ForwardLayer`] is a tower layer for proxies built on axum/hyper. On each request and each
//! response passing through, it checks any `Ok2cry-*` headers: a malformed one is refused
//! (400 problem+json for a request, which never reaches the inner service; a malformed header
//! in an upstream response is replaced by a 502 problem+json), and well-formed ones pass
//! through byte for byte, bodies untouched. With [`ForwardLayer::with_logging`], it logs each
//! forwarded key id, and each envelope's key id and sealed length, through `tracing` — nothing
//! else (a key id is not secret; tokens and sealed bytes are not logged).
//!
//! With [`ForwardLayer::require_attested_keys`] (features `proxy` and `attestation`) the layer
//! also *verifies* every forwarded key token against the service's attested JWK set
//! ([`crate::attested::AttestedKeys`]): a token that does not verify, has expired, or was
//! signed by a key the attestation does not commit to is refused like a malformed one (400 in
//! a request, 502 in a response), and so is every token while no attested set is held.

use crate::{Envelope, Error, KeyToken, headers};
use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// The JSON field that carries a key token (a string, the JWS compact form).
pub const JSON_KEY_FIELD: &str = "ok2cry_key";
/// The JSON field that carries an envelope (the JSON envelope object or the compact string).
pub const JSON_ENVELOPE_FIELD: &str = "ok2cry_envelope";

/// Why a forwarded key or envelope was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardError {
    /// The value does not parse; `source` says which part.
    #[error("{field}: {source}")]
    Invalid {
        /// The header or JSON field.
        field: &'static str,
        /// What was wrong.
        source: Error,
    },
    /// The header appears more than once (ambiguous: which one would the next hop use?).
    #[error("{field}: sent more than once")]
    Repeated {
        /// The header.
        field: &'static str,
    },
    /// The key token does not verify against the attested JWK set, or was signed by a key the
    /// service's attestation does not commit to (feature `attestation`).
    #[cfg(feature = "attestation")]
    #[error("{field}: not trusted through the service's attestation: {source}")]
    NotAttested {
        /// The header.
        field: &'static str,
        /// Why.
        source: crate::attested::AttestedError,
    },
    /// The header value is not visible ASCII.
    #[error("{field}: not visible ASCII text")]
    NotText {
        /// The header.
        field: &'static str,
    },
    /// The JSON field has the wrong type.
    #[error("{field}: wrong JSON type (a key is a string; an envelope an object or a string)")]
    WrongType {
        /// The JSON field.
        field: &'static str,
    },
}

fn single_header<'a>(
    map: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, ForwardError> {
    let mut values = map.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ForwardError::Repeated { field: name });
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| ForwardError::NotText { field: name })
}

/// Reads and parses the `Ok2cry-Key` header, if present.
pub fn key_from_headers(map: &HeaderMap) -> Result<Option<KeyToken>, ForwardError> {
    let field = headers::KEY_TOKEN;
    single_header(map, field)?
        .map(|v| KeyToken::parse(v).map_err(|source| ForwardError::Invalid { field, source }))
        .transpose()
}

/// Reads and parses the `Ok2cry-Envelope` header (compact form), if present.
pub fn envelope_from_headers(map: &HeaderMap) -> Result<Option<Envelope>, ForwardError> {
    let field = headers::ENVELOPE;
    single_header(map, field)?
        .map(|v| {
            Envelope::from_compact(v).map_err(|source| ForwardError::Invalid { field, source })
        })
        .transpose()
}

/// Sets the `Ok2cry-Key` header to the token, exactly as it was received.
pub fn set_key_header(map: &mut HeaderMap, token: &KeyToken) -> Result<(), ForwardError> {
    let field = headers::KEY_TOKEN;
    let value =
        HeaderValue::from_str(token.as_str()).map_err(|_| ForwardError::NotText { field })?;
    map.insert(HeaderName::from_static("ok2cry-key"), value);
    Ok(())
}

/// Sets the `Ok2cry-Envelope` header to the envelope's compact form.
pub fn set_envelope_header(map: &mut HeaderMap, envelope: &Envelope) -> Result<(), ForwardError> {
    let field = headers::ENVELOPE;
    let value = HeaderValue::from_str(&envelope.to_compact())
        .map_err(|_| ForwardError::NotText { field })?;
    map.insert(HeaderName::from_static("ok2cry-envelope"), value);
    Ok(())
}

/// Reads and parses the `ok2cry_key` field of a JSON object, if present.
pub fn key_from_json(object: &Map<String, Value>) -> Result<Option<KeyToken>, ForwardError> {
    let field = JSON_KEY_FIELD;
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(token)) => KeyToken::parse(token)
            .map(Some)
            .map_err(|source| ForwardError::Invalid { field, source }),
        Some(_) => Err(ForwardError::WrongType { field }),
    }
}

/// Reads and parses the `ok2cry_envelope` field of a JSON object (the JSON envelope object or
/// the compact string), if present.
pub fn envelope_from_json(object: &Map<String, Value>) -> Result<Option<Envelope>, ForwardError> {
    let field = JSON_ENVELOPE_FIELD;
    let parsed = match object.get(field) {
        None => return Ok(None),
        Some(Value::String(compact)) => Envelope::from_compact(compact),
        Some(value @ Value::Object(_)) => Envelope::from_json_value(value.clone()),
        Some(_) => return Err(ForwardError::WrongType { field }),
    };
    parsed
        .map(Some)
        .map_err(|source| ForwardError::Invalid { field, source })
}

/// Sets the `ok2cry_key` field of a JSON object to the token, exactly as it was received.
pub fn set_key_json(object: &mut Map<String, Value>, token: &KeyToken) {
    object.insert(
        JSON_KEY_FIELD.to_owned(),
        Value::String(token.as_str().to_owned()),
    );
}

/// Sets the `ok2cry_envelope` field of a JSON object to the envelope's JSON object form.
pub fn set_envelope_json(object: &mut Map<String, Value>, envelope: &Envelope) {
    object.insert(JSON_ENVELOPE_FIELD.to_owned(), envelope.to_json_value());
}

/// What the layer found in one message's headers.
struct Found {
    key: Option<KeyToken>,
    envelope: Option<Envelope>,
}

fn check_headers(map: &HeaderMap, policy: &KeyPolicy) -> Result<Found, ForwardError> {
    let found = Found {
        key: key_from_headers(map)?,
        envelope: envelope_from_headers(map)?,
    };
    policy.check(found.key.as_ref())?;
    Ok(found)
}

/// What the layer requires of key tokens beyond their syntax.
#[derive(Debug, Clone, Default)]
enum KeyPolicy {
    /// Syntax only.
    #[default]
    Syntax,
    /// Verified against the attested JWK set held here.
    #[cfg(feature = "attestation")]
    Attested(crate::attested::AttestedKeys),
}

impl KeyPolicy {
    fn check(&self, key: Option<&KeyToken>) -> Result<(), ForwardError> {
        match (self, key) {
            (Self::Syntax, _) | (_, None) => Ok(()),
            #[cfg(feature = "attestation")]
            (Self::Attested(keys), Some(token)) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                keys.verify_token(token.as_str(), now)
                    .map(|_| ())
                    .map_err(|source| ForwardError::NotAttested {
                        field: headers::KEY_TOKEN,
                        source,
                    })
            }
        }
    }
}

fn log_found(direction: &'static str, found: &Found) {
    if let Some(key) = &found.key {
        tracing::info!(
            direction,
            key_id = %key.key_id_unverified(),
            "forwarding ok2cry key"
        );
    }
    if let Some(envelope) = &found.envelope {
        tracing::info!(
            direction,
            key_id = %envelope.key_id(),
            sealed_len = envelope.sealed().len(),
            "forwarding ok2cry envelope"
        );
    }
}

/// An RFC 9457 problem response. The detail names the field and what was wrong with its
/// syntax; it never echoes the value.
fn problem(status: StatusCode, slug: &str, title: &str, detail: String) -> Response<Body> {
    let body = serde_json::json!({
        "type": format!("https://ok2cry.dev/problems/{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A tower layer that checks `Ok2cry-*` headers in both directions and forwards well-formed
/// ones untouched. See the [module documentation](self).
#[derive(Debug, Clone, Default)]
pub struct ForwardLayer {
    log: bool,
    keys: KeyPolicy,
}

impl ForwardLayer {
    /// A layer that checks and forwards, without logging.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also verify every forwarded key token against the attested JWK set in `keys`, which the
    /// application keeps current (e.g. from `Ok2cryClient::attest`, after each signing-key
    /// rotation). While `keys` holds no set, every key token is refused.
    #[cfg(feature = "attestation")]
    pub fn require_attested_keys(mut self, keys: crate::attested::AttestedKeys) -> Self {
        self.keys = KeyPolicy::Attested(keys);
        self
    }

    /// Also log each forwarded key id, and each envelope's key id and sealed length, at INFO.
    pub fn with_logging(mut self, log: bool) -> Self {
        self.log = log;
        self
    }
}

impl<S> Layer<S> for ForwardLayer {
    type Service = Forward<S>;

    fn layer(&self, inner: S) -> Forward<S> {
        Forward {
            inner,
            log: self.log,
            keys: self.keys.clone(),
        }
    }
}

/// The service made by [`ForwardLayer`].
#[derive(Debug, Clone)]
pub struct Forward<S> {
    inner: S,
    log: bool,
    keys: KeyPolicy,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Forward<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let log = self.log;
        let keys = self.keys.clone();
        match check_headers(request.headers(), &keys) {
            Ok(found) => {
                if log {
                    log_found("request", &found);
                }
            }
            Err(e) => {
                if log {
                    tracing::warn!(direction = "request", error = %e, "refused malformed ok2cry header");
                }
                let refused = problem(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "Bad request",
                    e.to_string(),
                );
                return Box::pin(async move { Ok(refused) });
            }
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            match check_headers(response.headers(), &keys) {
                Ok(found) => {
                    if log {
                        log_found("response", &found);
                    }
                    Ok(response.map(Body::new))
                }
                Err(e) => {
                    // The upstream broke the protocol; do not pass its answer on.
                    tracing::warn!(direction = "response", error = %e, "upstream sent a malformed ok2cry header");
                    Ok(problem(
                        StatusCode::BAD_GATEWAY,
                        "bad-gateway",
                        "Bad gateway",
                        format!("the upstream response is malformed: {e}"),
                    ))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyId, KeyTokenClaims, PrivateKey, TokenSigner};
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    async fn collect(body: Body) -> Vec<u8> {
        axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec()
    }

    fn token() -> String {
        let signer = TokenSigner::generate();
        let key = PrivateKey::generate();
        let claims = KeyTokenClaims::new(
            "https://ok2cry.test",
            KeyId::new("n1_AAAAAAAAAAAAAAAAAAAAAA").unwrap(),
            &key.public_key(),
            1_700_000_000,
            1_700_000_060,
            1,
            Some("card:42".into()),
        );
        signer.sign(&claims).unwrap()
    }

    fn envelope() -> Envelope {
        let key = PrivateKey::generate();
        Envelope::seal_to(
            &key.public_key(),
            &KeyId::new("n1_AAAAAAAAAAAAAAAAAAAAAA").unwrap(),
            "card:42",
            b"1234",
        )
        .unwrap()
    }

    /// An upstream that echoes the request's Ok2cry headers and body back, and adds
    /// `x-upstream` so the test sees the response really came from it.
    fn echo_upstream() -> Router {
        Router::new().route(
            "/",
            post(|headers: HeaderMap, body: Bytes| async move {
                let mut response = Response::new(Body::from(body));
                for name in ["ok2cry-key", "ok2cry-envelope"] {
                    for v in headers.get_all(name) {
                        response.headers_mut().append(name, v.clone());
                    }
                }
                response
                    .headers_mut()
                    .insert("x-upstream", HeaderValue::from_static("1"));
                response
            }),
        )
    }

    fn proxied() -> Router {
        echo_upstream().layer(ForwardLayer::new().with_logging(true))
    }

    fn request(headers: &[(&str, &str)], body: &'static [u8]) -> Request<Body> {
        let mut builder = Request::post("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::from(body)).unwrap()
    }

    #[tokio::test]
    async fn well_formed_headers_and_bodies_pass_byte_for_byte() {
        let token = token();
        let compact = envelope().to_compact();
        let body: &'static [u8] = b"\x00\xffnot even JSON {\"ok2cry_key\": 7}";
        let response = proxied()
            .oneshot(request(
                &[("Ok2cry-Key", &token), ("Ok2cry-Envelope", &compact)],
                body,
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-upstream"], "1");
        assert_eq!(
            response.headers()["ok2cry-key"].as_bytes(),
            token.as_bytes()
        );
        assert_eq!(
            response.headers()["ok2cry-envelope"].as_bytes(),
            compact.as_bytes()
        );
        assert_eq!(collect(response.into_body()).await, body);
    }

    #[tokio::test]
    async fn no_ok2cry_headers_is_fine() {
        let response = proxied().oneshot(request(&[], b"hello")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(collect(response.into_body()).await, b"hello");
    }

    #[tokio::test]
    async fn malformed_request_headers_are_refused_before_the_upstream() {
        let token = token();
        let compact = envelope().to_compact();
        let mut truncated_token = token.clone();
        truncated_token.truncate(token.len() - 5);
        let bad_b64 = compact.replacen("v1.", "v1.n1_AAAAAAAAAAAAAAAAAAAAAA.", 1);
        let cases: Vec<Vec<(&str, &str)>> = vec![
            vec![("Ok2cry-Key", "not-a-token")],
            vec![("Ok2cry-Key", "a.b.c")],
            vec![("Ok2cry-Key", &truncated_token)],
            vec![("Ok2cry-Key", &token), ("Ok2cry-Key", &token)],
            vec![("Ok2cry-Envelope", "v2.a.b")],
            vec![("Ok2cry-Envelope", "v1.bad key.AAAA")],
            vec![("Ok2cry-Envelope", &bad_b64)],
            vec![("Ok2cry-Envelope", "v1.k.AAAA")],
            vec![("Ok2cry-Key", &token), ("Ok2cry-Envelope", "garbage")],
        ];
        for headers in cases {
            let response = proxied().oneshot(request(&headers, b"x")).await.unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{headers:?}");
            assert!(response.headers().get("x-upstream").is_none());
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/problem+json"
            );
            let body: Value = serde_json::from_slice(&collect(response.into_body()).await).unwrap();
            assert_eq!(body["status"], 400);
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.starts_with("Ok2cry-"), "{detail}");
        }
    }

    #[tokio::test]
    async fn non_ascii_header_is_refused() {
        let mut req = request(&[], b"");
        req.headers_mut()
            .insert("ok2cry-key", HeaderValue::from_bytes(b"\xe9t\xe9").unwrap());
        let response = proxied().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn malformed_response_headers_become_502() {
        let upstream = Router::new().route(
            "/",
            post(|| async {
                let mut response = Response::new(Body::from("secret-ish upstream body"));
                response
                    .headers_mut()
                    .insert("ok2cry-envelope", HeaderValue::from_static("v1.k.!!!"));
                response
            }),
        );
        let response = upstream
            .layer(ForwardLayer::new())
            .oneshot(request(&[], b""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert!(response.headers().get("ok2cry-envelope").is_none());
        let body = collect(response.into_body()).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], 502);
        assert!(!body.to_string().contains("upstream body"));
    }

    #[test]
    fn header_helpers_round_trip() {
        let compact_token = token();
        let token = KeyToken::parse(&compact_token).unwrap();
        let envelope = envelope();
        let mut map = HeaderMap::new();
        assert!(key_from_headers(&map).unwrap().is_none());
        assert!(envelope_from_headers(&map).unwrap().is_none());
        set_key_header(&mut map, &token).unwrap();
        set_envelope_header(&mut map, &envelope).unwrap();
        assert_eq!(map["ok2cry-key"].as_bytes(), compact_token.as_bytes());
        let read = key_from_headers(&map).unwrap().unwrap();
        assert_eq!(read.as_str(), compact_token);
        assert_eq!(envelope_from_headers(&map).unwrap(), Some(envelope.clone()));
        map.append("ok2cry-envelope", HeaderValue::from_static("v1.k.x"));
        assert_eq!(
            envelope_from_headers(&map),
            Err(ForwardError::Repeated {
                field: headers::ENVELOPE
            })
        );
    }

    #[test]
    fn json_helpers_round_trip_and_refuse_wrong_types() {
        let compact_token = token();
        let token = KeyToken::parse(&compact_token).unwrap();
        let envelope = envelope();
        let mut object = Map::new();
        object.insert("card_id".into(), Value::from("42"));
        assert!(key_from_json(&object).unwrap().is_none());
        assert!(envelope_from_json(&object).unwrap().is_none());
        set_key_json(&mut object, &token);
        set_envelope_json(&mut object, &envelope);
        assert_eq!(object[JSON_KEY_FIELD], compact_token.as_str());
        assert_eq!(
            object[JSON_ENVELOPE_FIELD]["key_id"],
            envelope.key_id().as_str()
        );
        let read = key_from_json(&object).unwrap().unwrap();
        assert_eq!(read.as_str(), compact_token);
        assert_eq!(envelope_from_json(&object).unwrap(), Some(envelope.clone()));
        // The compact string form is accepted too.
        object.insert(
            JSON_ENVELOPE_FIELD.into(),
            Value::from(envelope.to_compact()),
        );
        assert_eq!(envelope_from_json(&object).unwrap(), Some(envelope));
        object.insert(JSON_KEY_FIELD.into(), Value::from(7));
        assert_eq!(
            key_from_json(&object).map(|_| ()),
            Err(ForwardError::WrongType {
                field: JSON_KEY_FIELD
            })
        );
        object.insert(
            JSON_ENVELOPE_FIELD.into(),
            serde_json::json!({"version": 1, "key_id": "k", "sealed": "AAAA", "extra": 1}),
        );
        assert!(matches!(
            envelope_from_json(&object),
            Err(ForwardError::Invalid {
                field: JSON_ENVELOPE_FIELD,
                ..
            })
        ));
    }
}
