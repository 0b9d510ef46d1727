//! An async client of the ok2cry service (feature `http`).
//!
//! [`Ok2cryClient`] speaks HTTPS only (rustls, TLS 1.2 or later) and trusts only the CA
//! certificates it is given, never the platform's roots: the service is a party one has
//! onboarded with, not a public web site. It authenticates with a client certificate (mutual
//! TLS, the primary method) or, for parties without mTLS, with a bearer JWT taken fresh from a
//! [`BearerTokenProvider`] for every request (the service refuses replayed `jti`s and
//! lifetimes over 60 s, so tokens are never cached here).
//!
//! Refusals by the service are RFC 9457 problem documents; they come back as
//! [`HttpError::Status`] with the parsed [`Problem`]. Everything else that can go wrong has its
//! own variant of the `#[non_exhaustive]` [`HttpError`].
//!
//! Secrets: an opened plaintext is decoded from the response straight into a [`Plaintext`]
//! (zeroized on drop); the response buffer and the base64url text are zeroized too. The
//! transport's own buffers (hyper's chunks) are out of this crate's reach.

use crate::{Envelope, Error, Jwks, KeyId, KeyToken, Plaintext, PublicJwk, VerifiedKey, b64};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// The largest response body read (JSON documents, problem documents, audit pages).
pub const MAX_RESPONSE_LEN: usize = 4 * 1024 * 1024;
/// The default timeout of one request, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fetched JWK set is used before it is fetched again.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// The media type of problem documents.
const PROBLEM_JSON: &str = "application/problem+json";

/// The error of a bearer token provider.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Supplies a bearer JWT for each request (for parties without a client certificate).
///
/// Called once per request: the service refuses a replayed `jti` and a lifetime over 60 s, so
/// return a fresh token each time. Closures `Fn() -> Result<String, BoxError>` implement it.
pub trait BearerTokenProvider: Send + Sync {
    /// A fresh token (the JWT compact form, without the `Bearer ` prefix).
    fn bearer_token(&self) -> Result<String, BoxError>;
}

impl<F> BearerTokenProvider for F
where
    F: Fn() -> Result<String, BoxError> + Send + Sync,
{
    fn bearer_token(&self) -> Result<String, BoxError> {
        self()
    }
}

/// An RFC 9457 problem document, as the service sends with every refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Problem {
    /// The problem type (a URI reference).
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    /// A short summary of the problem type.
    #[serde(default)]
    pub title: Option<String>,
    /// The HTTP status the service meant.
    #[serde(default)]
    pub status: Option<u16>,
    /// What was wrong, for people.
    #[serde(default)]
    pub detail: Option<String>,
    /// For 410 Gone: when the key was destroyed (ISO 8601).
    #[serde(default)]
    pub destroyed_at: Option<String>,
    /// For 410 Gone: why the key was destroyed (consumed, expired, revoked, …).
    #[serde(default)]
    pub reason: Option<String>,
    /// For a failed open: whether the failure destroyed the key.
    #[serde(default)]
    pub key_destroyed: Option<bool>,
    /// Any other members.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// Everything that can go wrong talking to the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The client could not be configured (bad URL, CA or identity PEM).
    #[error("client configuration: {0}")]
    Config(String),
    /// The service answered with an error status; `problem` is its problem document, if it sent
    /// one that parsed.
    #[error("service refused ({status}){}", problem_suffix(.problem.as_deref()))]
    Status {
        /// The HTTP status.
        status: u16,
        /// The problem document (boxed: it is large and errors travel by value).
        problem: Option<Box<Problem>>,
        /// The `Retry-After` header in seconds (429 and 503), if sent.
        retry_after: Option<u64>,
    },
    /// The request did not complete: connection, TLS handshake, timeout, or the body could not
    /// be read.
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),
    /// The response was not what the protocol says (wrong media type, bad JSON, too large, a
    /// key id other than the one asked for…).
    #[error("unexpected response: {0}")]
    InvalidResponse(String),
    /// The bearer token provider failed.
    #[error("bearer token provider: {0}")]
    Auth(#[source] BoxError),
    /// A protocol check failed (e.g. a key token that does not verify, an unknown signing key
    /// even after refreshing the JWK set).
    #[error(transparent)]
    Protocol(#[from] Error),
    /// The service's attestation, or the JWK set or audit key it commits to, was refused
    /// (feature `attestation`).
    #[cfg(feature = "attestation")]
    #[error(transparent)]
    Attestation(#[from] crate::attested::AttestedError),
}

fn problem_suffix(problem: Option<&Problem>) -> String {
    match problem.and_then(|p| p.detail.as_deref().or(p.title.as_deref())) {
        Some(text) => format!(": {text}"),
        None => String::new(),
    }
}

impl HttpError {
    /// The HTTP status, when the service answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem document, when the service sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Status { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// Whether the key was destroyed (410 Gone).
    pub fn is_gone(&self) -> bool {
        self.status() == Some(410)
    }
}

/// The body of `POST /v1/keys`. Every field is optional; the service applies its defaults and
/// bounds and says what was out of range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CreateKey {
    /// Lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// How many envelopes may be opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_opens: Option<u32>,
    /// The principal allowed to open (by default, the creator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opener: Option<String>,
    /// The context bound into `info` (a card id and purpose, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// A label for the audit log (not secret, not interpreted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A live key as the service describes it (`POST /v1/keys`, `GET /v1/keys/{id}`).
///
/// Nothing here is verified: verify `token` with [`Ok2cryClient::verify_token`] before sealing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    /// The key id.
    pub key_id: KeyId,
    /// The signed key token (JWS compact).
    pub token: String,
    /// The public key.
    pub jwk: PublicJwk,
    /// When the key was created (ISO 8601 UTC).
    pub created_at: String,
    /// When the key expires (ISO 8601 UTC).
    pub expires_at: String,
    /// Opens allowed in all.
    pub max_opens: u32,
    /// Opens left.
    pub opens_remaining: u32,
    /// The principal allowed to open.
    #[serde(default)]
    pub opener: Option<String>,
}

/// The body of a successful open. Deliberately not `Debug`: it holds the plaintext.
#[derive(Deserialize)]
struct OpenResponse {
    key_id: String,
    plaintext: String,
    encoding: String,
}

/// How requests are authenticated.
#[derive(Clone)]
enum Auth {
    /// By the client certificate configured in the TLS layer (or not at all, for public routes).
    Tls,
    /// By a bearer JWT per request.
    Bearer(Arc<dyn BearerTokenProvider>),
}

/// A cached JWK set (and, when attestation is required, the attestation it passed).
#[derive(Clone)]
struct CachedJwks {
    jwks: Arc<Jwks>,
    fetched: Instant,
    #[cfg(feature = "attestation")]
    attested: Option<Arc<crate::attested::AttestedJwks>>,
}

/// Builds an [`Ok2cryClient`].
pub struct ClientBuilder {
    base_url: String,
    ca_pem: Vec<u8>,
    identity_pem: Option<Zeroizing<Vec<u8>>>,
    bearer: Option<Arc<dyn BearerTokenProvider>>,
    timeout: Duration,
    jwks_max_age: Duration,
    #[cfg(feature = "attestation")]
    require_attestation: Option<ok2cry_attestation::Verifier>,
}

impl ClientBuilder {
    /// Authenticates with a client certificate: `pem` holds the certificate chain and the
    /// private key (PKCS#8, SEC1 or PKCS#1), in any order.
    pub fn client_identity_pem(mut self, pem: &[u8]) -> Self {
        self.identity_pem = Some(Zeroizing::new(pem.to_vec()));
        self
    }

    /// Authenticates with a client certificate given as separate certificate and key PEMs.
    pub fn client_identity(mut self, cert_pem: &[u8], key_pem: &[u8]) -> Self {
        let mut pem = Zeroizing::new(Vec::with_capacity(cert_pem.len() + key_pem.len() + 1));
        pem.extend_from_slice(cert_pem);
        pem.push(b'\n');
        pem.extend_from_slice(key_pem);
        self.identity_pem = Some(pem);
        self
    }

    /// Authenticates with a bearer JWT from `provider` on every request.
    pub fn bearer(mut self, provider: impl BearerTokenProvider + 'static) -> Self {
        self.bearer = Some(Arc::new(provider));
        self
    }

    /// The timeout of one request (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a fetched JWK set is used (default [`DEFAULT_JWKS_MAX_AGE`]). An unknown `kid`
    /// refreshes it at once regardless.
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// Trusts key tokens only through the service's attestation (feature `attestation`): every
    /// JWK set the client uses is fetched together with fresh attestation evidence (a random
    /// nonce per fetch) and accepted only if `verifier` accepts the evidence and the evidence
    /// commits to exactly that set; a token is accepted only if a committed key signed it.
    /// See [`Ok2cryClient::attest`].
    #[cfg(feature = "attestation")]
    pub fn require_attestation(mut self, verifier: ok2cry_attestation::Verifier) -> Self {
        self.require_attestation = Some(verifier);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Ok2cryClient, HttpError> {
        let base = reqwest::Url::parse(self.base_url.trim())
            .map_err(|e| HttpError::Config(format!("base URL: {e}")))?;
        if base.scheme() != "https" {
            return Err(HttpError::Config(
                "base URL: only https is supported".into(),
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(HttpError::Config(
                "base URL: must not have a query or fragment".into(),
            ));
        }
        let roots = reqwest::Certificate::from_pem_bundle(&self.ca_pem)
            .map_err(|e| HttpError::Config(format!("CA PEM: {e}")))?;
        if roots.is_empty() {
            return Err(HttpError::Config("CA PEM: no certificate found".into()));
        }
        let mut builder = reqwest::Client::builder()
            .tls_backend_rustls()
            // Only the CAs given: never the platform's roots.
            .tls_certs_only(roots)
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .https_only(true)
            .timeout(self.timeout)
            .user_agent(concat!("ok2cry-client/", env!("CARGO_PKG_VERSION")))
            // Redirects would send credentials and envelopes elsewhere: never follow them.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &self.identity_pem {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|e| HttpError::Config(format!("client identity PEM: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| HttpError::Config(format!("TLS client: {e}")))?;
        let auth = match self.bearer {
            Some(provider) => Auth::Bearer(provider),
            None => Auth::Tls,
        };
        Ok(Ok2cryClient {
            base: base.as_str().trim_end_matches('/').to_owned(),
            http,
            auth,
            jwks: Mutex::new(None),
            jwks_refresh: tokio::sync::Mutex::new(()),
            jwks_max_age: self.jwks_max_age,
            #[cfg(feature = "attestation")]
            require_attestation: self.require_attestation,
        })
    }
}

/// An async client of the ok2cry service.
///
/// Cheap to share: wrap it in an `Arc`; requests may run concurrently.
pub struct Ok2cryClient {
    base: String,
    http: reqwest::Client,
    auth: Auth,
    // A std mutex: it is held only to swap an `Arc`, never across an `.await`.
    jwks: Mutex<Option<CachedJwks>>,
    // Single flight for JWK set fetches: concurrent verifications that all meet an unknown kid
    // wait for one fetch instead of each sending their own.
    jwks_refresh: tokio::sync::Mutex<()>,
    jwks_max_age: Duration,
    #[cfg(feature = "attestation")]
    require_attestation: Option<ok2cry_attestation::Verifier>,
}

impl std::fmt::Debug for Ok2cryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ok2cryClient")
            .field("base", &self.base)
            .field(
                "auth",
                &match self.auth {
                    Auth::Tls => "tls",
                    Auth::Bearer(_) => "bearer",
                },
            )
            .finish_non_exhaustive()
    }
}

impl Ok2cryClient {
    /// Starts building a client of the service at `base_url` (e.g. `https://ok2cry.internal:8443`)
    /// that trusts the CA certificate(s) in `ca_pem`, and nothing else.
    pub fn builder(base_url: impl Into<String>, ca_pem: &[u8]) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            ca_pem: ca_pem.to_vec(),
            identity_pem: None,
            bearer: None,
            timeout: DEFAULT_TIMEOUT,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            #[cfg(feature = "attestation")]
            require_attestation: None,
        }
    }

    /// `POST /v1/keys`: asks for a disposable key.
    pub async fn create_key(&self, request: &CreateKey) -> Result<CreatedKey, HttpError> {
        let response = self
            .send(self.request(Method::POST, "/v1/keys")?.json(request))
            .await?;
        let created: CreatedKey = json_body(response).await?;
        Ok(created)
    }

    /// `GET /v1/keys/{key_id}`: a live key. A destroyed key is [`HttpError::Status`] 410, with
    /// `destroyed_at` and `reason` in its [`Problem`].
    pub async fn get_key(&self, key_id: &KeyId) -> Result<CreatedKey, HttpError> {
        let path = format!("/v1/keys/{key_id}");
        let response = self.send(self.request(Method::GET, &path)?).await?;
        let key: CreatedKey = json_body(response).await?;
        if &key.key_id != key_id {
            return Err(HttpError::InvalidResponse(
                "the service described another key".into(),
            ));
        }
        Ok(key)
    }

    /// `POST /v1/keys/{key_id}/open`: has the service open `envelope` with the key.
    ///
    /// The plaintext is decoded straight into a [`Plaintext`]; the response buffer and the
    /// base64url text are zeroized.
    pub async fn open(&self, key_id: &KeyId, envelope: &Envelope) -> Result<Plaintext, HttpError> {
        let path = format!("/v1/keys/{key_id}/open");
        let body = serde_json::json!({ "envelope": envelope.to_json_value() });
        let response = self
            .send(self.request(Method::POST, &path)?.json(&body))
            .await?;
        check_json_media_type(&response)?;
        let bytes = read_limited(response).await?;
        let parsed: OpenResponse = serde_json::from_slice(&bytes)
            .map_err(|_| HttpError::InvalidResponse("open: not the expected JSON".into()))?;
        drop(bytes);
        // Moving the String into `Zeroizing` keeps its one heap buffer: no copy is made.
        let text = Zeroizing::new(parsed.plaintext);
        if parsed.key_id != key_id.as_str() {
            return Err(HttpError::InvalidResponse(
                "open: the service answered for another key".into(),
            ));
        }
        if parsed.encoding != "base64url" {
            return Err(HttpError::InvalidResponse(
                "open: plaintext encoding is not base64url".into(),
            ));
        }
        let plaintext = b64::decode(&text)
            .ok_or_else(|| HttpError::InvalidResponse("open: plaintext is not base64url".into()))?;
        Ok(Plaintext::new(plaintext))
    }

    /// `DELETE /v1/keys/{key_id}`: destroys the key early.
    pub async fn delete_key(&self, key_id: &KeyId) -> Result<(), HttpError> {
        let path = format!("/v1/keys/{key_id}");
        self.send(self.request(Method::DELETE, &path)?).await?;
        Ok(())
    }

    /// The service's JWK set (`GET /.well-known/jwks.json`), from the cache while it is younger
    /// than the configured maximum age. With [`ClientBuilder::require_attestation`], only an
    /// attested set.
    pub async fn jwks(&self) -> Result<Arc<Jwks>, HttpError> {
        if let Some(cached) = self.cached_jwks(true) {
            return Ok(cached.jwks);
        }
        Ok(self.refresh_jwks(None, false).await?.jwks)
    }

    /// Fetches the JWK set again, whatever the cache holds, and caches it.
    pub async fn refresh_jwks_now(&self) -> Result<Arc<Jwks>, HttpError> {
        Ok(self.refresh_jwks(None, true).await?.jwks)
    }

    /// Verifies a key token against the service's JWK set at the current time (with
    /// [`ClientBuilder::require_attestation`]: against the attested set, and only if a
    /// committed key signed it).
    ///
    /// If the token's signing key is not in the cached set (the service rotated its signing
    /// key), the set is fetched once more; a kid still unknown is
    /// `HttpError::Protocol(Error::UnknownSigningKey)`.
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedKey, HttpError> {
        let parsed = KeyToken::parse(token)?;
        let cached = match self.cached_jwks(true) {
            Some(cached) => cached,
            None => self.refresh_jwks(None, false).await?,
        };
        match Self::check_token(&parsed, &cached) {
            Err(HttpError::Protocol(Error::UnknownSigningKey)) => {
                let fresh = self.refresh_jwks(Some(&cached.jwks), false).await?;
                Self::check_token(&parsed, &fresh)
            }
            other => other,
        }
    }

    fn check_token(token: &KeyToken, cached: &CachedJwks) -> Result<VerifiedKey, HttpError> {
        #[cfg(feature = "attestation")]
        if let Some(attested) = &cached.attested {
            use crate::attested::AttestedError;
            return attested
                .verify_token(token.as_str(), unix_now())
                .map_err(|e| match e {
                    AttestedError::Token(error) => HttpError::Protocol(error),
                    other => HttpError::Attestation(other),
                });
        }
        Ok(token.verify(&cached.jwks, unix_now())?)
    }

    /// `GET /v1/audit/events?after=N&limit=M` (auditor role): one page of audit events,
    /// `{"events": [...], "next_after": N|null}`.
    pub async fn audit_events(
        &self,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<serde_json::Value, HttpError> {
        let mut query = Vec::new();
        if let Some(after) = after {
            query.push(format!("after={after}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let path = if query.is_empty() {
            "/v1/audit/events".to_owned()
        } else {
            format!("/v1/audit/events?{}", query.join("&"))
        };
        let response = self.send(self.request(Method::GET, &path)?).await?;
        json_body(response).await
    }

    /// `GET /v1/audit/checkpoint` (auditor role): the latest signed checkpoint, a C2SP
    /// signed note, as text.
    pub async fn audit_checkpoint(&self) -> Result<String, HttpError> {
        let response = self
            .send(self.request(Method::GET, "/v1/audit/checkpoint")?)
            .await?;
        let bytes = read_limited(response).await?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| HttpError::InvalidResponse("checkpoint is not UTF-8".into()))
    }

    /// `GET /v1/audit/receipts/{key_id}` (auditor role): the key's destruction receipt (its
    /// events, inclusion proofs and a signed checkpoint), to verify offline.
    pub async fn audit_receipt(&self, key_id: &KeyId) -> Result<serde_json::Value, HttpError> {
        let path = format!("/v1/audit/receipts/{key_id}");
        let response = self.send(self.request(Method::GET, &path)?).await?;
        json_body(response).await
    }

    /// `GET /v1/attestation?nonce=<hex>`: the service's attestation answer, unverified.
    #[cfg(feature = "attestation")]
    pub async fn attestation_response(
        &self,
        nonce: &[u8],
    ) -> Result<ok2cry_attestation::AttestationResponse, HttpError> {
        let path = format!("/v1/attestation?nonce={}", hex_lower(nonce));
        let response = self.send(self.request(Method::GET, &path)?).await?;
        json_body(response).await
    }

    /// `GET /v1/audit/key` (auditor role): the audit checkpoint key, SPKI PEM.
    pub async fn audit_key_pem(&self) -> Result<String, HttpError> {
        #[derive(Deserialize)]
        struct AuditKey {
            public_key_pem: String,
        }
        let response = self
            .send(self.request(Method::GET, "/v1/audit/key")?)
            .await?;
        let key: AuditKey = json_body(response).await?;
        Ok(key.public_key_pem)
    }

    /// Checks the service's attestation end to end, in one call: asks for evidence with a
    /// fresh random nonce, fetches the JWK set and, when this client's credentials may read
    /// it, the audit key, and verifies with
    /// [`verify_service_attestation`](crate::attested::verify_service_attestation) that the
    /// evidence passes `verifier`, answers the nonce, and commits to exactly that JWK set and
    /// audit key. An audit key this client may not read (no auditor role) is reported as
    /// [`AuditKeyCheck::NotChecked`](crate::attested::AuditKeyCheck::NotChecked), not refused.
    #[cfg(feature = "attestation")]
    pub async fn attest(
        &self,
        verifier: &ok2cry_attestation::Verifier,
    ) -> Result<crate::attested::AttestedService, HttpError> {
        use crate::attested::{AuditKeyCheck, verify_service_attestation};
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce)
            .map_err(|e| HttpError::Config(format!("no random nonce: {e}")))?;
        let response = self.attestation_response(&nonce).await?;
        let jwks = self.get_jwks().await?;
        let (audit_pem, not_fetched) = match self.audit_key_pem().await {
            Ok(pem) => (Some(pem), None),
            Err(HttpError::Status { status: 403, .. }) => (
                None,
                Some("this client's credentials lack the auditor role (403)".to_owned()),
            ),
            Err(HttpError::Status { status: 404, .. }) => (
                None,
                Some("the service has no audit log to read the key from (404)".to_owned()),
            ),
            Err(other) => return Err(other),
        };
        let mut service = verify_service_attestation(
            &response,
            verifier,
            SystemTime::now(),
            Some(&nonce),
            &jwks,
            audit_pem.as_deref(),
        )?;
        if let (AuditKeyCheck::NotChecked { reason, .. }, Some(why)) =
            (&mut service.audit_key, not_fetched)
        {
            *reason = why;
        }
        Ok(service)
    }

    // ---- internals ----

    fn cached_jwks(&self, fresh_only: bool) -> Option<CachedJwks> {
        let guard = self.jwks.lock().ok()?;
        guard
            .as_ref()
            .filter(|c| !fresh_only || c.fetched.elapsed() < self.jwks_max_age)
            .cloned()
    }

    /// Fetches the JWK set (through the attestation, when required) and caches it. Unless
    /// `force`, a set that another task fetched while this one waited for the lock is used
    /// instead: a fresh set when `stale` is `None`, or a fresh set other than `stale`.
    async fn refresh_jwks(
        &self,
        stale: Option<&Arc<Jwks>>,
        force: bool,
    ) -> Result<CachedJwks, HttpError> {
        let _single_flight = self.jwks_refresh.lock().await;
        if !force && let Some(current) = self.cached_jwks(true) {
            let usable = match stale {
                None => true,
                Some(stale) => !Arc::ptr_eq(stale, &current.jwks),
            };
            if usable {
                return Ok(current);
            }
        }
        let entry = self.fetch_jwks().await?;
        if let Ok(mut guard) = self.jwks.lock() {
            *guard = Some(entry.clone());
        }
        Ok(entry)
    }

    #[cfg(not(feature = "attestation"))]
    async fn fetch_jwks(&self) -> Result<CachedJwks, HttpError> {
        Ok(CachedJwks {
            jwks: Arc::new(self.get_jwks().await?),
            fetched: Instant::now(),
        })
    }

    #[cfg(feature = "attestation")]
    async fn fetch_jwks(&self) -> Result<CachedJwks, HttpError> {
        let (jwks, attested) = match &self.require_attestation {
            None => (self.get_jwks().await?, None),
            Some(verifier) => {
                let service = self.attest(verifier).await?;
                (service.jwks.jwks().clone(), Some(Arc::new(service.jwks)))
            }
        };
        Ok(CachedJwks {
            jwks: Arc::new(jwks),
            fetched: Instant::now(),
            attested,
        })
    }

    /// `GET /.well-known/jwks.json`, uncached.
    async fn get_jwks(&self) -> Result<Jwks, HttpError> {
        let response = self
            .send(self.request(Method::GET, "/.well-known/jwks.json")?)
            .await?;
        json_body(response).await
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, HttpError> {
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(ACCEPT, "application/json, application/problem+json");
        if let Auth::Bearer(provider) = &self.auth {
            let token = Zeroizing::new(provider.bearer_token().map_err(HttpError::Auth)?);
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
                    HttpError::Auth("the bearer token is not a valid header value".into())
                })?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        Ok(builder)
    }

    /// Sends a request; a non-2xx answer becomes [`HttpError::Status`].
    async fn send(&self, request: RequestBuilder) -> Result<Response, HttpError> {
        let response = request.send().await.map_err(HttpError::Transport)?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(status_error(response).await)
    }
}

/// Turns an error response into [`HttpError::Status`], parsing its problem document if any.
async fn status_error(response: Response) -> HttpError {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let is_problem = media_type(response.headers())
        .is_some_and(|m| m == PROBLEM_JSON || m == "application/json");
    let problem = if is_problem {
        match read_limited(response).await {
            Ok(bytes) => serde_json::from_slice::<Problem>(&bytes).ok().map(Box::new),
            Err(_) => None,
        }
    } else {
        None
    };
    HttpError::Status {
        status: status.as_u16(),
        problem,
        retry_after,
    }
}

fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    Some(essence)
}

fn check_json_media_type(response: &Response) -> Result<(), HttpError> {
    match media_type(response.headers()) {
        Some(m) if m == "application/json" || m.ends_with("+json") => Ok(()),
        _ => Err(HttpError::InvalidResponse(format!(
            "expected a JSON response, got status {} with another media type",
            response.status()
        ))),
    }
}

async fn json_body<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, HttpError> {
    check_json_media_type(&response)?;
    let bytes = read_limited(response).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| HttpError::InvalidResponse(format!("JSON body: {e}")))
}

/// Reads a body of at most [`MAX_RESPONSE_LEN`] bytes into a buffer that zeroizes on drop.
async fn read_limited(mut response: Response) -> Result<Zeroizing<Vec<u8>>, HttpError> {
    let hint = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    if hint > MAX_RESPONSE_LEN {
        return Err(HttpError::InvalidResponse("response body too large".into()));
    }
    // Reserve up front so that growing the buffer does not leave unzeroized copies behind.
    let mut body = Zeroizing::new(Vec::with_capacity(hint.max(1024)));
    while let Some(chunk) = response.chunk().await.map_err(HttpError::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_LEN {
            return Err(HttpError::InvalidResponse("response body too large".into()));
        }
        if body.len() + chunk.len() > body.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (body.len() + chunk.len()).max(body.capacity() * 2),
            ));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(feature = "attestation")]
fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_parse_with_extensions() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"https://ok2cry.dev/problems/gone","title":"Key destroyed","status":410,
                "detail":"the key was destroyed","destroyed_at":"2025-01-01T00:00:00.000Z",
                "reason":"consumed","trace":"x"}"#,
        )
        .unwrap();
        assert_eq!(p.status, Some(410));
        assert_eq!(p.reason.as_deref(), Some("consumed"));
        assert_eq!(p.extensions["trace"], "x");
        let e = HttpError::Status {
            status: 410,
            problem: Some(Box::new(p)),
            retry_after: None,
        };
        assert!(e.is_gone());
        assert_eq!(
            e.to_string(),
            "service refused (410): the key was destroyed"
        );
    }

    #[test]
    fn create_key_omits_unset_fields() {
        let body = CreateKey {
            ttl_seconds: Some(60),
            ..CreateKey::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"ttl_seconds":60}"#
        );
        assert_eq!(serde_json::to_string(&CreateKey::default()).unwrap(), "{}");
    }

    #[test]
    fn builder_refuses_plain_http_and_missing_ca() {
        let err = Ok2cryClient::builder("http://127.0.0.1:1", b"")
            .build()
            .unwrap_err();
        assert!(matches!(err, HttpError::Config(_)), "{err}");
        let err = Ok2cryClient::builder("https://127.0.0.1:1", b"not a pem")
            .build()
            .unwrap_err();
        assert!(matches!(err, HttpError::Config(_)), "{err}");
    }
}
