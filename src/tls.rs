//! TLS: the rustls server configuration, client-certificate verification with CRLs, reload.
//!
//! - TLS 1.3 and TLS 1.2 only (rustls has no older versions), AWS-LC provider.
//! - Cipher suites: TLS 1.3 AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305; TLS 1.2 ECDHE
//!   (ECDSA or RSA) with AES-GCM or ChaCha20-Poly1305 only — every suite AEAD with forward
//!   secrecy.
//! - Client certificates are verified against the configured CAs (webpki) and the configured
//!   CRLs: a revoked certificate is refused during the handshake. Revocation is checked for
//!   the end-entity certificate; a CA without a configured CRL has unknown status, which is
//!   allowed (an operator who wants revocation configures that CA's CRL).
//! - [`TlsReloader`] holds the current configuration; each new connection takes the current
//!   one, so a CRL update (reload at most hourly and on SIGHUP) applies without a restart.
//!   A failed reload keeps the previous configuration.

use crate::config::{ClientAuthMode, TlsConfig};
use crate::principal::CertIdentity;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Whether a client certificate is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every connection presents a valid certificate.
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

/// The settings named by `[tls]`.
pub fn settings_from(c: &TlsConfig) -> TlsSettings {
    TlsSettings {
        server_cert: c.cert.clone(),
        server_key: c.key.clone(),
        client_cas: c.client_ca.clone(),
        crls: c.crl.clone(),
        client_auth: match c.client_auth {
            ClientAuthMode::Required => ClientAuth::Required,
            ClientAuthMode::Optional => ClientAuth::Optional,
        },
    }
}

/// TLS material could not be loaded or is unusable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError(format!("cannot read {}: {e}", path.display())))?
        .collect();
    let certs = certs.map_err(|e| TlsError(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "{}: no certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

/// The provider: AWS-LC with the AEAD, forward-secret suites listed in the module doc.
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

/// Builds the server configuration from files.
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for path in &s.client_cas {
        for cert in certs(path)? {
            roots
                .add(cert)
                .map_err(|e| TlsError(format!("{}: {e}", path.display())))?;
        }
    }
    let mut crls = Vec::new();
    for path in &s.crls {
        let iter = CertificateRevocationListDer::pem_file_iter(path)
            .map_err(|e| TlsError(format!("cannot read {}: {e}", path.display())))?;
        for crl in iter {
            crls.push(crl.map_err(|e| TlsError(format!("{}: {e}", path.display())))?);
        }
    }
    let mut verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crls)
            .only_check_end_entity_revocation()
            .allow_unknown_revocation_status();
    if s.client_auth == ClientAuth::Optional {
        verifier = verifier.allow_unauthenticated();
    }
    let verifier = verifier
        .build()
        .map_err(|e| TlsError(format!("client certificate verifier: {e}")))?;
    let key = PrivateKeyDer::from_pem_file(&s.server_key)
        .map_err(|e| TlsError(format!("{}: {e}", s.server_key.display())))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&s.server_cert)?, key)
        .map_err(|e| TlsError(format!("server certificate/key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The current server configuration, reloadable.
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

    /// The configuration for a new connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        // Poisoning cannot leave a half-written Arc; use whatever is there.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads every file; on error keeps the previous configuration.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.settings)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }
}

/// The identity of the verified client certificate of a connection: the first SAN URI, else
/// the first SAN DNS name, else the subject CN; and the SHA-256 of its SubjectPublicKeyInfo.
pub fn peer_identity(conn: &rustls::ServerConnection) -> Option<CertIdentity> {
    identity_from_cert(conn.peer_certificates()?.first()?.as_ref())
}

/// The identity in a DER certificate (see [`peer_identity`]).
pub fn identity_from_cert(der: &[u8]) -> Option<CertIdentity> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut id = None;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let names = &san.value.general_names;
        id = names
            .iter()
            .find_map(|n| {
                if let GeneralName::URI(u) = n {
                    Some((*u).to_owned())
                } else {
                    None
                }
            })
            .or_else(|| {
                names.iter().find_map(|n| {
                    if let GeneralName::DNSName(d) = n {
                        Some((*d).to_owned())
                    } else {
                        None
                    }
                })
            });
    }
    if id.is_none() {
        id = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
    }
    let spki: [u8; 32] = Sha256::digest(cert.public_key().raw).into();
    Some(CertIdentity {
        id: id?,
        spki_sha256: spki,
    })
}

/// A client configuration trusting `ca_pem` and presenting `cert_pem` + `key_pem` (tests, CLI).
pub fn client_config(
    ca_pem: &Path,
    cert_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca_pem)? {
        roots.add(cert).map_err(|e| TlsError(e.to_string()))?;
    }
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| TlsError(format!("{}: {e}", key_pem.display())))?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(cert_pem)?, key)
        .map_err(|e| TlsError(e.to_string()))?;
    Ok(Arc::new(config))
}
