//! The dev PKI and partner onboarding (ICC direct-onboarding flow), on rcgen.
//!
//! - [`create_dev_pki`]: a CA, a server certificate for localhost / 127.0.0.1 / ::1, one client
//!   certificate per dev principal (SAN URI `ok2cry://principal/<name>`), and an empty CRL.
//!   Reused when complete, so `serve --dev` can be run again and again.
//! - [`sign_csr`]: a partner sends a CSR; the operator's CA returns a client certificate
//!   (EKU clientAuth, not a CA, random serial, validity at most 365 days).
//! - [`revoke`]: a new CRL with the certificate's serial added, keeping earlier revocations and
//!   incrementing the CRL number.
//!
//! All keys are ECDSA P-256. Private key files are written with mode 0600.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevocationReason,
    RevokedCertParams, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// Longest validity of a partner certificate.
pub const MAX_PARTNER_DAYS: u32 = 365;

/// The dev principals that get a client certificate: file stem and principal name.
pub const DEV_CLIENTS: [&str; 3] = ["card-api", "proxy", "auditor"];

/// The SAN URI of principal `name`.
pub fn principal_uri(name: &str) -> String {
    format!("ok2cry://principal/{name}")
}

/// A PKI operation failed. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Certificate generation or parsing failed.
    #[error("certificate: {0}")]
    Cert(String),
    /// The request is out of bounds.
    #[error("{0}")]
    Invalid(String),
}

fn cert_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Cert(e.to_string())
}

/// Options of [`create_dev_pki`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DevPkiOptions {
    /// Replace an existing PKI.
    pub force: bool,
}

/// Paths of a dev PKI.
#[derive(Debug, Clone)]
pub struct DevPki {
    /// The directory.
    pub dir: PathBuf,
    /// Whether it was created now (false: reused).
    pub created: bool,
}

impl DevPki {
    /// CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    /// Client certificate of `name`.
    pub fn client_cert(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }
    /// Client key of `name`.
    pub fn client_key(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| PkiError::Cert("random source unavailable".into()))?;
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and without a leading zero byte
    Ok(SerialNumber::from_slice(&bytes))
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), PkiError> {
    use std::io::Write;
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = secret;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

fn leaf_params(cn: &str, days: u32) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
    params.serial_number = Some(random_serial()?);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn client_params(name: &str, days: u32) -> Result<CertificateParams, PkiError> {
    let mut params = leaf_params(name, days)?;
    params.subject_alt_names = vec![SanType::URI(
        principal_uri(name).try_into().map_err(cert_err)?,
    )];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(params)
}

fn empty_crl(
    issuer: &Issuer<'_, KeyPair>,
    number: u64,
    revoked: Vec<RevokedCertParams>,
) -> Result<String, PkiError> {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update: now + Duration::days(30),
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(issuer)
        .map_err(cert_err)?
        .pem()
        .map_err(cert_err)
}

fn complete(dir: &Path) -> bool {
    let mut files = vec!["ca.pem", "ca.key", "server.pem", "server.key", "crl.pem"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    for c in DEV_CLIENTS {
        files.push(format!("{c}.pem"));
        files.push(format!("{c}.key"));
    }
    files.iter().all(|f| dir.join(f).is_file())
}

/// Creates the dev PKI in `dir`, or reuses a complete one (unless `force`).
pub fn create_dev_pki(dir: &Path, opts: DevPkiOptions) -> Result<DevPki, PkiError> {
    if !opts.force && complete(dir) {
        return Ok(DevPki {
            dir: dir.to_owned(),
            created: false,
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })?;

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let mut ca = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    ca.not_before = now - Duration::hours(1);
    ca.not_after = now + Duration::days(3650);
    ca.serial_number = Some(random_serial()?);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "ok2cry dev CA");
    dn.push(
        DnType::OrganizationName,
        "ok2cry development (not for production)",
    );
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(cert_err)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let mut server = leaf_params("localhost", 365)?;
    server.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(cert_err)?),
        SanType::IpAddress(IpAddr::from([127, 0, 0, 1])),
        SanType::IpAddress(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer).map_err(cert_err)?;

    write(&dir.join("ca.pem"), &ca_cert.pem(), false)?;
    write(&dir.join("ca.key"), &issuer.key().serialize_pem(), true)?;
    write(&dir.join("server.pem"), &server_cert.pem(), false)?;
    write(&dir.join("server.key"), &server_key.serialize_pem(), true)?;
    for name in DEV_CLIENTS {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
        let cert = client_params(name, 365)?
            .signed_by(&key, &issuer)
            .map_err(cert_err)?;
        write(&dir.join(format!("{name}.pem")), &cert.pem(), false)?;
        write(&dir.join(format!("{name}.key")), &key.serialize_pem(), true)?;
    }
    write(
        &dir.join("crl.pem"),
        &empty_crl(&issuer, 1, Vec::new())?,
        false,
    )?;
    Ok(DevPki {
        dir: dir.to_owned(),
        created: true,
    })
}

fn load_issuer(ca_cert_pem: &str, ca_key_pem: &str) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let key = KeyPair::from_pem(ca_key_pem).map_err(cert_err)?;
    Issuer::from_ca_cert_pem(ca_cert_pem, key).map_err(cert_err)
}

/// Issues a client certificate for `name` with a fresh key, valid from `not_before` to
/// `not_after` (tests and tools): (cert, key) PEM.
pub fn issue_client(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<(String, String), PkiError> {
    let issuer = load_issuer(ca_cert_pem, ca_key_pem)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let mut params = client_params(name, 1)?;
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.signed_by(&key, &issuer).map_err(cert_err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Signs a partner's CSR: a client certificate valid `days` (≤ 365) for principal `principal`
/// (the certificate's SAN URI becomes `ok2cry://principal/<principal>`).
///
/// Only the CSR's public key is used (its signature is checked first); every attribute of the
/// certificate is set here, never copied from the request.
pub fn sign_csr(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    csr_pem: &str,
    days: u32,
    principal: &str,
) -> Result<String, PkiError> {
    if days == 0 || days > MAX_PARTNER_DAYS {
        return Err(PkiError::Invalid(format!(
            "validity must be 1 to {MAX_PARTNER_DAYS} days"
        )));
    }
    let csr = CertificateSigningRequestParams::from_pem(csr_pem)
        .map_err(|e| PkiError::Invalid(format!("CSR: {e}")))?;
    let name = principal;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(PkiError::Invalid(
            "principal name must be letters, digits, '-', '_' or '.'".into(),
        ));
    }
    let issuer = load_issuer(ca_cert_pem, ca_key_pem)?;
    let params = client_params(name, days)?;
    let cert = params
        .signed_by(&csr.public_key, &issuer)
        .map_err(cert_err)?;
    Ok(cert.pem())
}

/// Adds `cert_pem`'s serial to the CRL (keeping earlier entries) and returns the new CRL PEM.
pub fn revoke(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    existing_crl_pem: Option<&str>,
    cert_pem: &str,
) -> Result<String, PkiError> {
    use x509_parser::prelude::FromDer;
    let issuer = load_issuer(ca_cert_pem, ca_key_pem)?;
    let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| PkiError::Invalid(format!("certificate PEM: {e}")))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert_der.as_ref())
        .map_err(|e| PkiError::Invalid(format!("certificate: {e}")))?;
    let serial = cert.raw_serial().to_vec();
    let now = OffsetDateTime::now_utc();
    let mut revoked = Vec::new();
    let mut number = 1u64;
    if let Some(old) = existing_crl_pem {
        let der = CertificateRevocationListDer::from_pem_slice(old.as_bytes())
            .map_err(|e| PkiError::Invalid(format!("CRL PEM: {e}")))?;
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(der.as_ref())
                .map_err(|e| PkiError::Invalid(format!("CRL: {e}")))?;
        number = crl
            .crl_number()
            .and_then(|n| u64::try_from(n.clone()).ok())
            .unwrap_or(1);
        for entry in crl.iter_revoked_certificates() {
            let when = OffsetDateTime::from_unix_timestamp(entry.revocation_date.timestamp())
                .unwrap_or(now);
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(entry.raw_serial()),
                revocation_time: when,
                reason_code: None,
                invalidity_date: None,
            });
        }
    }
    if !revoked.iter().any(|r| r.serial_number.to_bytes() == serial) {
        revoked.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial),
            revocation_time: now,
            reason_code: Some(RevocationReason::CessationOfOperation),
            invalidity_date: None,
        });
    }
    empty_crl(&issuer, number.saturating_add(1), revoked)
}
