//! TLS: the rustls server configuration, client-certificate verification with CRLs, reload.
//!
//! - TLS 1.3 and TLS 1.2 only (rustls implements nothing older), with the AWS-LC provider
//!   (`rustls::crypto::aws_lc_rs`) set explicitly, never the process default.
//! - Cipher suites ([`CIPHER_SUITES`]): TLS 1.3 AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305;
//!   TLS 1.2 ECDHE (ECDSA or RSA) with AES-GCM or ChaCha20-Poly1305 only — every suite AEAD
//!   with forward secrecy. ALPN: `h2`, then `http/1.1`.
//! - Client certificates are verified with rustls' `WebPkiClientVerifier` against the
//!   configured CAs and CRLs, for every certificate of the chain below the trust anchor. A
//!   certificate listed on a CRL of its issuer is refused during the handshake. A CRL whose
//!   issuer matches but whose signature does not verify fails the handshake too (fail closed).
//! - Unknown revocation status — no configured CRL was issued by the certificate's issuer —
//!   is allowed: an operator who relies on revocation configures the CRL of every CA they
//!   trust. CRL `nextUpdate` is not enforced (the CRL files are local and re-read; an
//!   outdated CRL still lists what it lists).
//! - With [`ClientAuth::Required`] a connection without a certificate is refused in the
//!   handshake; with [`ClientAuth::Optional`] (bearer JWT fallback) it proceeds without a
//!   certificate identity, but a certificate that is presented is verified all the same.
//! - [`TlsReloader`] holds the current configuration; each new connection takes the current
//!   one, so a CRL update (reload at most hourly and on SIGHUP) applies to new connections
//!   without a restart. A failed reload keeps the previous configuration and returns the
//!   error. Each configuration has its own session cache, so a session established before a
//!   reload cannot be resumed after it: a revoked certificate cannot come back by resumption.
//!   Connections already established are not affected by a reload.
//!
//! Layer: auth. Owns the rustls server configuration and its settings type ([`TlsSettings`],
//! [`ClientAuth`]: the node's configuration parses `[tls]` into them); it must not read
//! requests (the HTTP layer does) nor import the node's configuration.

use crate::auth::principal::{CertIdentity, identity_from_cert};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Whether a client certificate is required (`tls.client_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Every connection presents a valid certificate from a configured CA (the default).
    #[default]
    Required,
    /// Certificates are verified when presented (the bearer JWT fallback covers the rest).
    Optional,
}

/// Where the TLS material lives.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Server certificate chain (PEM).
    pub server_cert: PathBuf,
    /// Server private key (PEM).
    pub server_key: PathBuf,
    /// Client CAs (PEM).
    pub client_cas: Vec<PathBuf>,
    /// CRLs (PEM).
    pub crls: Vec<PathBuf>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
}

/// TLS material could not be loaded or is unusable. Messages name files, never key material.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM object.
    #[error("{path}: {detail}")]
    File {
        /// Which file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The client-certificate verifier could not be built (e.g. no client CA).
    #[error("client certificate verifier: {0}")]
    Verifier(String),
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, detail: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect();
    let certs = certs.map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate found"));
    }
    Ok(certs)
}

fn crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let crls: Result<Vec<_>, _> = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect();
    let crls = crls.map_err(|e| file_err(path, e))?;
    // A configured CRL file without a CRL would silently turn revocation off.
    if crls.is_empty() {
        return Err(file_err(path, "no CRL found"));
    }
    Ok(crls)
}

/// The cipher suites offered and accepted, in order of preference.
pub const CIPHER_SUITES: [rustls::SupportedCipherSuite; 9] = {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    [
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
};

/// The provider: AWS-LC restricted to [`CIPHER_SUITES`].
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = CIPHER_SUITES.to_vec();
    Arc::new(provider)
}

/// The protocol versions: TLS 1.3 and TLS 1.2.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Builds the server configuration from files (see the module docs for the policy).
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for path in &s.client_cas {
        for cert in certs(path)? {
            roots.add(cert).map_err(|e| file_err(path, e))?;
        }
    }
    let mut all_crls = Vec::new();
    for path in &s.crls {
        all_crls.extend(crls(path)?);
    }
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(all_crls)
            .allow_unknown_revocation_status();
    if s.client_auth == ClientAuth::Optional {
        verifier = verifier.allow_unauthenticated();
    }
    let verifier = verifier
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&s.server_key).map_err(|e| {
        // The PEM error names the problem (missing section, I/O), never the key bytes.
        file_err(&s.server_key, e)
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&s.server_cert)?, key)
        .map_err(|e| TlsError::Config(format!("server certificate/key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The current server configuration, reloadable.
///
/// Why a `RwLock<Arc<_>>`: every new connection takes a cheap `Arc` clone under a read lock
/// that is held for nanoseconds; a reload builds the whole new configuration outside the lock
/// and only swaps the `Arc` under the write lock, so handshakes never wait on file I/O.
pub struct TlsReloader {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsReloader {
    /// Loads the configuration once.
    pub fn new(settings: TlsSettings) -> Result<Self, TlsError> {
        let config = server_config(&settings)?;
        Ok(Self {
            settings,
            current: RwLock::new(config),
        })
    }

    /// The settings the files are read from.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration for a new connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        // Poisoning cannot leave a half-written Arc; use whatever is there.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads every file (certificate, key, CAs, CRLs) and swaps the configuration in for
    /// new connections. On error the previous configuration stays in force and the error is
    /// returned for the caller to report.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.settings)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }
}

/// The identity of the verified client certificate of a connection (precedence in
/// [`crate::auth::principal`]), or `None` without a certificate.
///
/// Call this only after the handshake completed: rustls exposes the peer certificates of a
/// server connection once its verifier has accepted them.
pub fn peer_identity(conn: &rustls::ServerConnection) -> Option<CertIdentity> {
    if conn.is_handshaking() {
        return None;
    }
    identity_from_cert(conn.peer_certificates()?.first()?.as_ref()).ok()
}

/// A client configuration trusting `ca_pem` and presenting `cert_pem` + `key_pem` (tests, CLI),
/// with the same provider, suites and versions as the server.
pub fn client_config(
    ca_pem: &Path,
    cert_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca_pem)? {
        roots.add(cert).map_err(|e| file_err(ca_pem, e))?;
    }
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(|e| file_err(key_pem, e))?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(cert_pem)?, key)
        .map_err(|e| TlsError::Config(format!("client certificate/key: {e}")))?;
    Ok(Arc::new(config))
}
