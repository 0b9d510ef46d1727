//! Configuration: a TOML file, overridden by environment variables and flags (see [`crate::cli`]),
//! validated at start with messages that say what is wrong and where.
//!
//! Durations are in seconds (`*_seconds`) or milliseconds (`*_ms`) as named; sizes in bytes.
//!
//! Layer: node. Owns the configuration's shape, defaults and validation, and the partner-keys
//! file. It must not start anything: [`crate::node`] wires, this module only reads and checks.

use crate::auth::principal::Role;
use crate::auth::tls::{ClientAuth, TlsSettings};
use crate::custody::CustodyConfig;
use crate::hardening::MlockMode;
use crate::http::admission::AdmissionLimits;
use crate::http::server::ServerLimits;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem, said plainly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// `[tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to (PEM).
    pub client_ca: Vec<PathBuf>,
    /// CRLs (PEM), re-read every `crl_reload_seconds` and on SIGHUP.
    #[serde(default)]
    pub crl: Vec<PathBuf>,
    /// Client certificates required or optional.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// How often CRLs are re-read (at most 3600).
    #[serde(default = "default_crl_reload")]
    pub crl_reload_seconds: u64,
}

fn default_crl_reload() -> u64 {
    3600
}

impl TlsConfig {
    /// The TLS layer's settings (`crate::auth::tls` owns their type).
    pub fn settings(&self) -> TlsSettings {
        TlsSettings {
            server_cert: self.cert.clone(),
            server_key: self.key.clone(),
            client_cas: self.client_ca.clone(),
            crls: self.crl.clone(),
            client_auth: self.client_auth,
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Shortest TTL a client may ask for.
    pub min_ttl_seconds: u64,
    /// Longest TTL a client may ask for.
    pub max_ttl_seconds: u64,
    /// TTL when none is asked for.
    pub default_ttl_seconds: u64,
    /// Most opens a key may allow.
    pub max_opens: u32,
    /// Most keys alive at once; beyond, creation gets 503.
    pub max_live_keys: usize,
    /// Most keys alive at once created by one principal; beyond, creation gets 429.
    pub max_live_keys_per_principal: usize,
    /// Failed opens that destroy a key.
    pub max_failed_opens: u32,
    /// KEK rotation period.
    pub kek_rotation_seconds: u64,
    /// Signing-key rotation period.
    pub signing_rotation_seconds: u64,
    /// How long a destroyed key answers 410 (then 404).
    pub tombstone_seconds: u64,
    /// Sweeper period, milliseconds.
    pub sweep_interval_ms: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            min_ttl_seconds: 1,
            max_ttl_seconds: 3600,
            default_ttl_seconds: 300,
            max_opens: 100,
            max_live_keys: 1_000_000,
            max_live_keys_per_principal: 250_000,
            max_failed_opens: 5,
            kek_rotation_seconds: 600,
            signing_rotation_seconds: 3600,
            tombstone_seconds: 3600,
            sweep_interval_ms: 20,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Largest request head (HTTP/1.1) or header list (HTTP/2).
    pub max_header_bytes: usize,
    /// TLS handshake deadline.
    pub handshake_timeout_ms: u64,
    /// From the first byte of a request to the end of its head.
    pub header_timeout_ms: u64,
    /// From the end of a request's head to the head of its response (body read and handling);
    /// beyond, 408.
    pub request_timeout_ms: u64,
    /// A connection with no request in flight is closed after this (HTTP/1.1 keep-alive and
    /// HTTP/2 alike).
    pub idle_timeout_ms: u64,
    /// Requests in flight at once; beyond, 503.
    pub max_concurrency: usize,
    /// Requests per second per principal (token bucket refill).
    pub rate_per_second: u32,
    /// Burst per principal.
    pub rate_burst: u32,
    /// Authenticated connections open at once.
    pub max_connections: usize,
    /// Connections not (yet) authenticated open at once: before and during the TLS handshake,
    /// and without a client certificate until a bearer token verifies.
    pub max_unauthenticated_connections: usize,
    /// Of those, from one source address.
    pub max_unauthenticated_per_address: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 128 * 1024,
            max_header_bytes: 16 * 1024,
            handshake_timeout_ms: 5_000,
            header_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            idle_timeout_ms: 30_000,
            max_concurrency: 1024,
            rate_per_second: 2_000,
            rate_burst: 4_000,
            max_connections: 4096,
            max_unauthenticated_connections: 512,
            max_unauthenticated_per_address: 32,
        }
    }
}

impl LimitsConfig {
    /// The HTTP server's limits (`crate::http::server` owns their type).
    pub fn server_limits(&self) -> ServerLimits {
        let l = self;
        ServerLimits {
            handshake_timeout: Duration::from_millis(l.handshake_timeout_ms),
            header_timeout: Duration::from_millis(l.header_timeout_ms),
            request_timeout: Duration::from_millis(l.request_timeout_ms),
            idle_timeout: Duration::from_millis(l.idle_timeout_ms),
            max_header_bytes: l.max_header_bytes,
            max_body_bytes: l.max_body_bytes,
            max_concurrency: l.max_concurrency,
            admission: AdmissionLimits {
                max_authenticated: l.max_connections,
                max_unauthenticated: l.max_unauthenticated_connections,
                max_unauthenticated_per_address: l.max_unauthenticated_per_address,
            },
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Directory of the log's segment files.
    pub dir: PathBuf,
    /// The audit key (PKCS#8 PEM, 0600), outside `dir`; created with a new log.
    pub key_file: PathBuf,
    /// The previous audit key, to rotate to `key_file` at the next start.
    pub previous_key_file: Option<PathBuf>,
    /// The checkpoint origin; default `ok2cry.audit/<node_id>`.
    pub origin: Option<String>,
    /// Segment size before rotation.
    pub segment_max_bytes: u64,
    /// How often a signed checkpoint is published.
    pub checkpoint_interval_seconds: u64,
    /// How much of the log is re-verified at start: "all" (default) or "recent".
    pub verify_on_start: crate::audit::VerifyOnStart,
    /// Durable appends allowed to wait at once; beyond, requests get 503.
    pub max_queued_events: usize,
    /// How long shutdown retries events it cannot write before giving up (and exiting
    /// non-zero).
    pub shutdown_retry_seconds: u64,
    /// Witnesses the checkpoints are submitted to.
    pub witnesses: Vec<WitnessConfig>,
    /// Cosignatures a checkpoint needs to count as witnessed (for readiness and metrics).
    pub witness_quorum: usize,
    /// How often a witness that is behind is retried.
    pub witness_retry_seconds: u64,
    /// Removed: it deleted the proof of destruction with the segments.
    pub retain_segments: Option<usize>,
    /// Where sealed segments are archived (none: they all stay local).
    pub archive: Option<ArchiveConfig>,
    /// How long archived segments stay on the node too.
    pub keep_local: KeepLocalConfig,
}

/// `[audit.archive]`: sealed segments, zstd-compressed, shipped and read back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// `s3://bucket/prefix` or a directory. One node's log per location.
    pub to: String,
    /// The S3 endpoint (`https://…`; `http://` only on loopback). S3 only.
    pub endpoint: Option<String>,
    /// The S3 signing region. S3 only; default `us-east-1`.
    pub region: Option<String>,
    /// A file (0600) with the S3 keys as TOML: `access_key_id = "…"`,
    /// `secret_access_key = "…"`. Default: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub credentials_file: Option<PathBuf>,
    /// How often sealed segments are looked for (default 60).
    #[serde(default = "default_archive_interval")]
    pub interval_seconds: u64,
    /// Archived segments older than this many days are deleted from the archive; 0: never.
    /// Default 366 (PCI DSS v4.0 10.5.1: 12 months).
    #[serde(default = "default_archive_days")]
    pub retain_days: u64,
}

fn default_archive_interval() -> u64 {
    60
}

fn default_archive_days() -> u64 {
    crate::audit::archive::shipper::DEFAULT_ARCHIVE_DAYS
}

/// `[audit.keep_local]`: when the local copy of an archived segment may go. Without either
/// limit every segment stays local. Never an unarchived segment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepLocalConfig {
    /// Archived segments older than this many days are removed locally.
    pub days: Option<u64>,
    /// The oldest archived segments are removed locally while the local segments exceed
    /// this many bytes.
    pub max_bytes: Option<u64>,
}

/// `[[audit.witnesses]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Its URL prefix (`/add-checkpoint` is appended).
    pub url: String,
    /// Its verifier key (vkey: `name+id+base64`), from `ok2cry witness keygen`.
    pub key: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("audit"),
            key_file: PathBuf::from("audit-key.pem"),
            previous_key_file: None,
            origin: None,
            segment_max_bytes: 64 * 1024 * 1024,
            checkpoint_interval_seconds: 10,
            verify_on_start: crate::audit::VerifyOnStart::All,
            max_queued_events: 65_536,
            shutdown_retry_seconds: 10,
            witnesses: Vec::new(),
            witness_quorum: 0,
            witness_retry_seconds: 10,
            retain_segments: None,
            archive: None,
            keep_local: KeepLocalConfig::default(),
        }
    }
}

/// `[hardening]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HardeningConfig {
    /// Lock memory (no swap).
    pub mlock: MlockMode,
}

/// `[jwt]`: the bearer JWT fallback for partners without mTLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Off unless set.
    #[serde(default)]
    pub enabled: bool,
    /// The service's id: the `aud` every token must carry.
    pub audience: String,
    /// Longest `exp - iat` accepted, at most 60.
    #[serde(default = "default_jwt_lifetime")]
    pub max_lifetime_seconds: u64,
    /// Clock skew tolerated.
    #[serde(default = "default_jwt_skew")]
    pub clock_skew_seconds: u64,
    /// File of registered partner keys (`[[keys]] sub, kid, public_key`), written by
    /// `ok2cry partners add-jwt-key`.
    pub keys_file: PathBuf,
}

fn default_jwt_lifetime() -> u64 {
    60
}
fn default_jwt_skew() -> u64 {
    5
}

/// One registered partner JWT key.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartnerKey {
    /// The partner's principal id (`sub` of its tokens).
    pub sub: String,
    /// Key id (`kid` header of its tokens).
    pub kid: String,
    /// Path of the ES256 public key (SPKI PEM), relative to the keys file.
    pub public_key: PathBuf,
}

#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct PartnerKeysFile {
    #[serde(default)]
    keys: Vec<PartnerKey>,
}

/// Reads the partner keys file (a missing file means no keys). Paths become absolute.
pub fn read_partner_keys(path: &Path) -> Result<Vec<PartnerKey>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return err(format!("cannot read {}: {e}", path.display())),
    };
    let file: PartnerKeysFile =
        toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(file
        .keys
        .into_iter()
        .map(|mut k| {
            if k.public_key.is_relative() {
                k.public_key = base.join(&k.public_key);
            }
            k
        })
        .collect())
}

/// Adds a partner key to the keys file (creating it), refusing a duplicate (`sub`, `kid`).
pub fn add_partner_key(path: &Path, key: PartnerKey) -> Result<(), ConfigError> {
    let mut file: PartnerKeysFile = match std::fs::read_to_string(path) {
        Ok(t) => toml::from_str(&t).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PartnerKeysFile::default(),
        Err(e) => return err(format!("cannot read {}: {e}", path.display())),
    };
    if file
        .keys
        .iter()
        .any(|k| k.sub == key.sub && k.kid == key.kid)
    {
        return err(format!(
            "{}: a key for sub {} and kid {} is already registered",
            path.display(),
            key.sub,
            key.kid
        ));
    }
    file.keys.push(key);
    let text = toml::to_string(&file).map_err(|e| ConfigError(e.to_string()))?;
    std::fs::write(path, text)
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))
}

/// Which attestation provider answers `GET /v1/attestation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttestationMode {
    /// No attestation endpoint (404).
    #[default]
    Off,
    /// The development provider: a self-made chain, debug-mode PCRs; proves nothing about the
    /// build and no strict policy accepts it.
    Dev,
    /// The Nitro Secure Module (only inside an enclave, binary built with feature `nsm`).
    Nsm,
    /// AMD SEV-SNP through the Linux configfs-tsm report interface (Azure and Google Cloud
    /// confidential VMs); the certificates come from the host's certificate table.
    #[serde(rename = "sev-snp")]
    SevSnp,
}

/// Which crypto provider the service uses (`[crypto] provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ProviderName {
    /// AWS-LC through aws-lc-rs: the fast path, the default.
    #[default]
    #[serde(rename = "aws-lc")]
    AwsLc,
    /// RustCrypto (pure Rust): the portable reference.
    #[serde(rename = "rustcrypto")]
    RustCrypto,
}

impl ProviderName {
    /// The provider itself.
    pub fn provider(self) -> &'static dyn ok2cry_client::CryptoProvider {
        match self {
            Self::AwsLc => &ok2cry_client::provider::AWS_LC,
            Self::RustCrypto => &ok2cry_client::provider::RUST_CRYPTO,
        }
    }
}

/// `[crypto]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoConfig {
    /// The provider: "aws-lc" (default) or "rustcrypto".
    pub provider: ProviderName,
}

/// `[attestation]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AttestationConfig {
    /// The provider.
    pub provider: AttestationMode,
}

/// `[[principals]]`: who may call, with which roles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalConfig {
    /// Principal id: certificate SAN URI / DNS / CN, or JWT `sub`.
    pub id: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Optional SPKI pin: hex SHA-256 of the certificate's SubjectPublicKeyInfo.
    #[serde(default)]
    pub spki_sha256: Option<String>,
    /// Optional source-address allow list (CIDR ranges, or single addresses), checked on the
    /// connection's peer address. Absent: any address.
    #[serde(default)]
    pub allow_from: Option<Vec<String>>,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Node tag (prefix of key ids, for routing): 1–16 of `[a-z0-9]`.
    #[serde(default = "default_node")]
    pub node_id: String,
    /// `iss` of key tokens.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// TLS.
    pub tls: TlsConfig,
    /// Key limits.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Process hardening.
    #[serde(default)]
    pub hardening: HardeningConfig,
    /// Principals.
    #[serde(default)]
    pub principals: Vec<PrincipalConfig>,
    /// Bearer JWT fallback.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// Attestation.
    #[serde(default)]
    pub attestation: AttestationConfig,
    /// Crypto provider.
    #[serde(default)]
    pub crypto: CryptoConfig,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_node() -> String {
    "n1".into()
}
fn default_issuer() -> String {
    "ok2cry".into()
}

impl Config {
    /// Reads and validates a TOML file. Relative paths in it are taken from the file's folder.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let mut config = Self::from_toml(&text)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
        if let Some(base) = path.parent() {
            config.resolve_paths(base);
        }
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.tls.cert);
        fix(&mut self.tls.key);
        self.tls.client_ca.iter_mut().for_each(fix);
        self.tls.crl.iter_mut().for_each(fix);
        fix(&mut self.audit.dir);
        fix(&mut self.audit.key_file);
        if let Some(p) = &mut self.audit.previous_key_file {
            fix(p);
        }
        if let Some(jwt) = &mut self.jwt {
            fix(&mut jwt.keys_file);
        }
    }

    /// Checks every bound; says which setting is wrong and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = &self.node_id;
        if n.is_empty()
            || n.len() > 16
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return err("node_id must be 1 to 16 characters of a-z and 0-9");
        }
        // docs/PROTOCOL.md §7: a receiver refuses a token whose `iss` is empty or over 256 bytes.
        if self.issuer.is_empty() || self.issuer.len() > ok2cry_client::key_token::MAX_ISSUER_LEN {
            return err("issuer must be 1 to 256 bytes");
        }
        let k = &self.keys;
        if k.min_ttl_seconds == 0 {
            return err("keys.min_ttl_seconds must be at least 1");
        }
        if k.max_ttl_seconds < k.min_ttl_seconds || k.max_ttl_seconds > 86_400 {
            return err(
                "keys.max_ttl_seconds must be between keys.min_ttl_seconds and 86400 (one day)",
            );
        }
        if k.default_ttl_seconds < k.min_ttl_seconds || k.default_ttl_seconds > k.max_ttl_seconds {
            return err(
                "keys.default_ttl_seconds must lie between keys.min_ttl_seconds and keys.max_ttl_seconds",
            );
        }
        if k.max_opens == 0 || k.max_opens > 10_000 {
            return err("keys.max_opens must be between 1 and 10000");
        }
        if k.max_live_keys == 0 || k.max_live_keys > 50_000_000 {
            return err("keys.max_live_keys must be between 1 and 50000000");
        }
        if k.max_live_keys_per_principal == 0 {
            return err("keys.max_live_keys_per_principal must be positive");
        }
        if k.max_failed_opens == 0 {
            return err("keys.max_failed_opens must be at least 1");
        }
        if k.kek_rotation_seconds == 0 || k.kek_rotation_seconds > 86_400 {
            return err("keys.kek_rotation_seconds must be between 1 and 86400");
        }
        if k.signing_rotation_seconds == 0 || k.signing_rotation_seconds > 30 * 86_400 {
            return err("keys.signing_rotation_seconds must be between 1 and 2592000");
        }
        if k.sweep_interval_ms == 0 || k.sweep_interval_ms > 1_000 {
            return err("keys.sweep_interval_ms must be between 1 and 1000");
        }
        let l = &self.limits;
        if l.max_body_bytes < 1024 || l.max_body_bytes > 16 * 1024 * 1024 {
            return err("limits.max_body_bytes must be between 1024 and 16777216");
        }
        if l.max_header_bytes < 1024 || l.max_header_bytes > 1024 * 1024 {
            return err("limits.max_header_bytes must be between 1024 and 1048576");
        }
        if l.handshake_timeout_ms == 0
            || l.header_timeout_ms == 0
            || l.request_timeout_ms == 0
            || l.idle_timeout_ms == 0
        {
            return err(
                "limits.handshake_timeout_ms, header_timeout_ms, request_timeout_ms and idle_timeout_ms must be positive",
            );
        }
        if l.max_unauthenticated_connections == 0 || l.max_unauthenticated_per_address == 0 {
            return err(
                "limits.max_unauthenticated_connections and max_unauthenticated_per_address must be positive",
            );
        }
        if l.max_concurrency == 0
            || l.max_connections == 0
            || l.rate_per_second == 0
            || l.rate_burst == 0
        {
            return err(
                "limits.max_concurrency, max_connections, rate_per_second and rate_burst must be positive",
            );
        }
        if self.tls.client_ca.is_empty() {
            return err("tls.client_ca must name at least one CA certificate file");
        }
        if self.tls.crl_reload_seconds == 0 || self.tls.crl_reload_seconds > 3600 {
            return err(
                "tls.crl_reload_seconds must be between 1 and 3600 (CRLs are re-read at least hourly)",
            );
        }
        if self.audit.segment_max_bytes < 4096 {
            return err("audit.segment_max_bytes must be at least 4096");
        }
        if self.audit.checkpoint_interval_seconds == 0 {
            return err("audit.checkpoint_interval_seconds must be positive");
        }
        if self.audit.retain_segments.is_some() {
            return err(
                "audit.retain_segments was removed: deleting segments deletes the proof of destruction in them (see docs/AUDIT.md for archiving)",
            );
        }
        let keep_local = &self.audit.keep_local;
        if keep_local.days.is_some() || keep_local.max_bytes.is_some() {
            if self.audit.archive.is_none() {
                return err(
                    "audit.keep_local needs audit.archive: only archived segments are ever removed locally",
                );
            }
            if keep_local.days == Some(0) {
                return err("audit.keep_local.days must be at least 1");
            }
        }
        if let Some(a) = &self.audit.archive {
            let location = crate::audit::archive::Location::parse(&a.to)
                .map_err(|e| ConfigError(format!("audit.archive.to: {e}")))?;
            let s3 = matches!(location, crate::audit::archive::Location::S3 { .. });
            if s3 && a.endpoint.is_none() {
                return err("audit.archive: an s3:// archive needs an endpoint");
            }
            if !s3 && (a.endpoint.is_some() || a.region.is_some() || a.credentials_file.is_some()) {
                return err(
                    "audit.archive: endpoint, region and credentials_file are for s3:// archives",
                );
            }
            if a.interval_seconds == 0 {
                return err("audit.archive.interval_seconds must be positive");
            }
            if let crate::audit::archive::Location::Dir(d) = &location
                && d == &self.audit.dir
            {
                return err("audit.archive.to must not be audit.dir");
            }
        }
        if self.audit.max_queued_events == 0 {
            return err("audit.max_queued_events must be positive");
        }
        if self.audit.witness_quorum > self.audit.witnesses.len() {
            return err("audit.witness_quorum is larger than the number of audit.witnesses");
        }
        if self.audit.witness_retry_seconds == 0 {
            return err("audit.witness_retry_seconds must be positive");
        }
        for w in &self.audit.witnesses {
            crate::audit::note::NoteVerifier::from_vkey(&w.key)
                .ok()
                .filter(crate::audit::note::NoteVerifier::is_cosigner)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "audit.witnesses: {}: key is not a witness verifier key (name+id+base64 of an Ed25519 cosigner)",
                        w.url
                    ))
                })?;
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return err(format!("audit.witnesses: {} is not an http(s) URL", w.url));
            }
        }
        if let Some(jwt) = &self.jwt {
            if jwt.audience.is_empty() {
                return err("jwt.audience must not be empty");
            }
            if jwt.max_lifetime_seconds == 0 || jwt.max_lifetime_seconds > 60 {
                return err("jwt.max_lifetime_seconds must be between 1 and 60");
            }
            if jwt.clock_skew_seconds > 30 {
                return err("jwt.clock_skew_seconds must be at most 30");
            }
            if jwt.enabled && self.tls.client_auth == ClientAuth::Required {
                return err(
                    "jwt.enabled needs tls.client_auth = \"optional\" (clients without certificates must be able to connect)",
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.principals {
            if p.id.is_empty() {
                return err("principals: an id is empty");
            }
            if !seen.insert(&p.id) {
                return err(format!("principals: {} is listed twice", p.id));
            }
            if p.roles.is_empty() {
                return err(format!("principals: {} has no roles", p.id));
            }
            if let Some(pin) = &p.spki_sha256
                && (pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return err(format!(
                    "principals: {}: spki_sha256 must be 64 hex characters",
                    p.id
                ));
            }
        }
        Ok(())
    }

    /// The audit log's settings.
    pub fn audit_options(&self) -> crate::audit::AuditOptions {
        let a = &self.audit;
        let mut o =
            crate::audit::AuditOptions::new(a.dir.clone(), &self.node_id, a.key_file.clone());
        if let Some(origin) = &a.origin {
            o.origin.clone_from(origin);
        }
        o.previous_key_file.clone_from(&a.previous_key_file);
        o.segment_max_bytes = a.segment_max_bytes;
        o.verify_on_start = a.verify_on_start;
        o.max_queued = a.max_queued_events;
        o.shutdown_retry = std::time::Duration::from_secs(a.shutdown_retry_seconds);
        o
    }

    /// The archiver of `[audit.archive]`, if one is configured. S3 keys come from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub fn archiver(
        &self,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Option<crate::audit::archive::Archiver>, ConfigError> {
        use crate::audit::archive::{
            ArchiveStore, Archiver, Location, Retention, S3Endpoint, S3Keys,
        };
        let Some(a) = &self.audit.archive else {
            return Ok(None);
        };
        let err =
            |e: crate::audit::archive::ArchiveError| ConfigError(format!("audit.archive: {e}"));
        let location = Location::parse(&a.to).map_err(err)?;
        let (endpoint, keys) = match &location {
            Location::Dir(_) => (None, None),
            Location::S3 { .. } => (
                a.endpoint.as_ref().map(|url| S3Endpoint {
                    url: url.clone(),
                    region: a.region.clone().unwrap_or_else(|| "us-east-1".into()),
                }),
                Some(match &a.credentials_file {
                    Some(path) => S3Keys::from_file(path).map_err(err)?,
                    None => S3Keys::from_env().map_err(err)?,
                }),
            ),
        };
        let store = ArchiveStore::open(location, endpoint.as_ref(), keys).map_err(err)?;
        const DAY_MS: u64 = 24 * 3600 * 1000;
        let retention = Retention {
            keep_local_ms: self.audit.keep_local.days.map(|d| d.saturating_mul(DAY_MS)),
            keep_local_bytes: self.audit.keep_local.max_bytes,
            archive_ms: (a.retain_days > 0).then(|| a.retain_days.saturating_mul(DAY_MS)),
        };
        Ok(Some(Archiver::new(
            self.audit.dir.clone(),
            self.audit_options().origin,
            std::sync::Arc::new(store),
            retention,
            clock,
        )))
    }

    /// The custody's settings.
    pub fn custody(&self) -> CustodyConfig {
        let k = &self.keys;
        CustodyConfig {
            node_id: self.node_id.clone(),
            issuer: self.issuer.clone(),
            min_ttl_ms: k.min_ttl_seconds * 1000,
            max_ttl_ms: k.max_ttl_seconds * 1000,
            default_ttl_ms: k.default_ttl_seconds * 1000,
            max_opens_limit: k.max_opens,
            max_live_keys: k.max_live_keys,
            max_live_keys_per_principal: k.max_live_keys_per_principal,
            max_failed_opens: k.max_failed_opens,
            kek_rotation_ms: k.kek_rotation_seconds * 1000,
            signing_rotation_ms: k.signing_rotation_seconds * 1000,
            tombstone_ttl_ms: k.tombstone_seconds * 1000,
            max_tombstones: 1_000_000,
            max_label_len: 128,
            provider: self.crypto.provider.provider(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [tls]
        cert = "server.pem"
        key = "server.key"
        client_ca = ["ca.pem"]
    "#;

    #[test]
    fn attestation_providers_are_named() {
        for (name, mode) in [
            ("off", AttestationMode::Off),
            ("dev", AttestationMode::Dev),
            ("nsm", AttestationMode::Nsm),
            ("sev-snp", AttestationMode::SevSnp),
        ] {
            let c = Config::from_toml(&format!("{MINIMAL}\n[attestation]\nprovider = \"{name}\""))
                .unwrap();
            assert_eq!(c.attestation.provider, mode);
        }
    }

    #[test]
    fn minimal_config_has_safe_defaults() {
        let c = Config::from_toml(MINIMAL).unwrap();
        assert_eq!(c.tls.client_auth, ClientAuth::Required);
        assert_eq!(c.keys.max_ttl_seconds, 3600);
        assert_eq!(c.hardening.mlock, MlockMode::BestEffort);
    }

    #[test]
    fn bad_settings_are_named() {
        let cases = [
            ("node_id = \"N-1\"", "node_id"),
            ("[keys]\nmax_ttl_seconds = 0", "keys.max_ttl_seconds"),
            ("[keys]\nsweep_interval_ms = 5000", "keys.sweep_interval_ms"),
            ("[limits]\nmax_body_bytes = 10", "limits.max_body_bytes"),
            ("[keys]\nbogus = 1", "unknown field"),
        ];
        for (extra, needle) in cases {
            let text = if extra.starts_with('[') {
                format!("{MINIMAL}\n{extra}")
            } else {
                format!("{extra}\n{MINIMAL}")
            };
            let e = Config::from_toml(&text).unwrap_err();
            assert!(e.0.contains(needle), "{extra}: {e}");
        }
        let dup = format!(
            "{MINIMAL}\n[[principals]]\nid = \"a\"\nroles = [\"issuer\"]\n[[principals]]\nid = \"a\"\nroles = [\"opener\"]"
        );
        assert!(
            Config::from_toml(&dup)
                .unwrap_err()
                .0
                .contains("listed twice")
        );
        let crl = MINIMAL.replace(
            "client_ca = [\"ca.pem\"]",
            "client_ca = [\"ca.pem\"]\ncrl_reload_seconds = 7200",
        );
        assert!(Config::from_toml(&crl).unwrap_err().0.contains("hourly"));
    }
}
