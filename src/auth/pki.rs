//! The dev PKI and partner onboarding (ICC direct-onboarding flow), on rcgen.
//!
//! - [`create_dev_pki`]: a CA, a server certificate for localhost / 127.0.0.1 / ::1, one client
//!   certificate per dev principal (SAN URI `ok2cry://principal/<name>`), an empty CRL, and a
//!   `principals.toml` fragment listing the dev principals with their roles. Reused when
//!   complete, so `serve --dev` can be run again and again.
//! - [`sign_csr`]: a partner sends a CSR; the operator's CA returns a client certificate
//!   (EKU clientAuth, not a CA, random serial, validity at most 365 days, SAN URI
//!   `ok2cry://principal/<principal>`). Only the CSR's public key is used, after its signature
//!   is checked; nothing else is copied from the request, so a partner cannot choose its own
//!   identity, extensions or CA status.
//! - [`revoke`], [`revoke_cert`], [`revoke_serial`]: a new CRL with a serial added, keeping the
//!   earlier revocations (with their dates and reasons) and incrementing the CRL number. The
//!   previous CRL must be issued and signed by the same CA.
//!
//! All keys generated here are ECDSA P-256. Private key files are written with mode 0600 and
//! the dev PKI directory, when created here, with mode 0700. Error messages never contain key
//! material.
//!
//! Layer: auth. Owns certificate issuance and revocation for the dev PKI and onboarding; it
//! must not know keys or routes.

use crate::auth::principal::Role;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData,
    RevokedCertParams, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

pub use rcgen::RevocationReason;

/// Longest validity of a partner certificate, in days.
pub const MAX_PARTNER_DAYS: u32 = 365;

/// Validity of the dev CA, in days (10 years at most for a dev CA).
pub const DEV_CA_DAYS: u32 = 3650;

/// Validity of the dev server and client certificates, in days.
pub const DEV_LEAF_DAYS: u32 = 365;

/// How long a CRL issued here stays current (its `nextUpdate`), in days.
pub const CRL_NEXT_UPDATE_DAYS: i64 = 30;

/// The dev principals that get a client certificate (file stem and principal name).
pub const DEV_CLIENTS: [&str; 3] = ["card-api", "proxy", "auditor"];

/// The roles of each dev principal, as written to `principals.toml`.
pub const DEV_PRINCIPAL_ROLES: [(&str, &[Role]); 3] = [
    ("card-api", &[Role::Issuer, Role::Opener]),
    ("proxy", &[Role::Issuer, Role::Opener]),
    ("auditor", &[Role::Auditor]),
];

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
    /// Certificate or CRL generation failed.
    #[error("certificate: {0}")]
    Cert(String),
    /// An input (certificate, CRL, key, serial) is malformed or out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// The requested validity is out of bounds.
    #[error("validity must be 1 to {max_days} days and end before the CA certificate expires")]
    Validity {
        /// The longest validity allowed.
        max_days: u32,
    },
    /// The principal name has characters other than letters, digits, '-', '_' and '.'.
    #[error("principal name must be 1 to 64 letters, digits, '-', '_' or '.'")]
    PrincipalName,
    /// The certificate signing request is unusable.
    #[error("CSR: {0}")]
    Csr(String),
    /// The CA private key does not belong to the CA certificate.
    #[error("the CA key does not match the CA certificate")]
    CaKeyMismatch,
    /// A certificate or CRL was not issued (or not signed) by this CA.
    #[error("{0} was not issued by this CA")]
    WrongIssuer(&'static str),
}

fn cert_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Cert(e.to_string())
}

fn invalid(what: &str) -> impl Fn(&dyn std::fmt::Display) -> PkiError + '_ {
    move |e| PkiError::Invalid(format!("{what}: {e}"))
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
    /// CA private key.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }
    /// Server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    /// Server private key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    /// The CRL.
    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }
    /// The `[[principals]]` fragment.
    pub fn principals_toml(&self) -> PathBuf {
        self.dir.join("principals.toml")
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
    use ok2cry_client::secret_file::{self, Existing};
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    if secret {
        // A key file is 0600 from its creation; an existing one (`force`) is tightened
        // before the new key is written into it.
        secret_file::write(path, text.as_bytes(), Existing::Replace).map_err(io)
    } else {
        use std::io::Write;
        let mut file = std::fs::File::create(path).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })
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

fn signed_crl(
    issuer: &Issuer<'_, KeyPair>,
    number: u64,
    revoked: Vec<RevokedCertParams>,
) -> Result<String, PkiError> {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update: now + Duration::days(CRL_NEXT_UPDATE_DAYS),
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

/// The files of a complete dev PKI (`principals.toml` is derived and rewritten if missing).
fn complete(dir: &Path) -> bool {
    let fixed = ["ca.pem", "ca.key", "server.pem", "server.key", "crl.pem"];
    fixed.iter().all(|f| dir.join(f).is_file())
        && DEV_CLIENTS.iter().all(|c| {
            dir.join(format!("{c}.pem")).is_file() && dir.join(format!("{c}.key")).is_file()
        })
}

/// The `[[principals]]` fragment of the dev principals.
pub fn dev_principals_toml() -> String {
    let mut text = String::from(
        "# The dev principals and their roles (written by ok2cry; add to the configuration).\n",
    );
    for (name, roles) in DEV_PRINCIPAL_ROLES {
        let roles: Vec<String> = roles
            .iter()
            .map(|r| format!("\"{}\"", r.as_str()))
            .collect();
        text.push_str(&format!(
            "\n[[principals]]\nid = \"{}\"\nroles = [{}]\n",
            principal_uri(name),
            roles.join(", ")
        ));
    }
    text
}

/// Creates the dev PKI in `dir`, or reuses a complete one (unless `opts.force`).
///
/// Reuse does not regenerate anything: the CA, keys and certificates already there are kept
/// (only a missing `principals.toml` is written again).
pub fn create_dev_pki(dir: &Path, opts: DevPkiOptions) -> Result<DevPki, PkiError> {
    if !opts.force && complete(dir) {
        let pki = DevPki {
            dir: dir.to_owned(),
            created: false,
        };
        if !pki.principals_toml().is_file() {
            write(&pki.principals_toml(), &dev_principals_toml(), false)?;
        }
        return Ok(pki);
    }
    create_dir(dir)?;

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let mut ca = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    ca.not_before = now - Duration::hours(1);
    ca.not_after = now + Duration::days(i64::from(DEV_CA_DAYS));
    ca.serial_number = Some(random_serial()?);
    // A distinct name per dev CA: webpki matches issuers and CRLs by name, so two dev CAs
    // trusted side by side must not share one (a CRL of one would be checked against the
    // other's key and fail every handshake).
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).map_err(|_| PkiError::Cert("random source unavailable".into()))?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("ok2cry dev CA {}", hex::encode(tag)),
    );
    dn.push(
        DnType::OrganizationName,
        "ok2cry development (not for production)",
    );
    ca.distinguished_name = dn;
    // Path length 0: the dev CA signs leaves only.
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(cert_err)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let mut server = leaf_params("localhost", DEV_LEAF_DAYS)?;
    server.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(cert_err)?),
        SanType::IpAddress(IpAddr::from([127, 0, 0, 1])),
        SanType::IpAddress(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer).map_err(cert_err)?;

    let pki = DevPki {
        dir: dir.to_owned(),
        created: true,
    };
    write(&pki.ca(), &ca_cert.pem(), false)?;
    write(&pki.ca_key(), &issuer.key().serialize_pem(), true)?;
    write(&pki.server_cert(), &server_cert.pem(), false)?;
    write(&pki.server_key(), &server_key.serialize_pem(), true)?;
    for name in DEV_CLIENTS {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
        let cert = client_params(name, DEV_LEAF_DAYS)?
            .signed_by(&key, &issuer)
            .map_err(cert_err)?;
        write(&pki.client_cert(name), &cert.pem(), false)?;
        write(&pki.client_key(name), &key.serialize_pem(), true)?;
    }
    write(&pki.crl(), &signed_crl(&issuer, 1, Vec::new())?, false)?;
    write(&pki.principals_toml(), &dev_principals_toml(), false)?;
    Ok(pki)
}

/// A CA loaded from PEM: its certificate (DER) and an rcgen issuer over its key.
struct Ca {
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// Loads the CA and checks that the key belongs to the certificate.
    fn load(ca_cert_pem: &str, ca_key_pem: &str) -> Result<Self, PkiError> {
        let der = CertificateDer::from_pem_slice(ca_cert_pem.as_bytes())
            .map_err(|e| invalid("CA certificate PEM")(&e))?;
        let key = KeyPair::from_pem(ca_key_pem)
            .map_err(|_| PkiError::Invalid("CA key: not a usable private key".into()))?;
        {
            let cert = parse_cert(&der, "CA certificate")?;
            if !cert.is_ca() {
                return Err(PkiError::Invalid("CA certificate: not a CA".into()));
            }
            if cert.public_key().raw != key.subject_public_key_info().as_slice() {
                return Err(PkiError::CaKeyMismatch);
            }
        }
        let issuer = Issuer::from_ca_cert_der(&der, key).map_err(cert_err)?;
        Ok(Self { der, issuer })
    }

    fn cert(&self) -> Result<X509Certificate<'_>, PkiError> {
        parse_cert(&self.der, "CA certificate")
    }
}

fn parse_cert<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, PkiError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| invalid(what)(&e))?;
    if !rest.is_empty() {
        return Err(PkiError::Invalid(format!("{what}: trailing data")));
    }
    Ok(cert)
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
    check_principal_name(name)?;
    let ca = Ca::load(ca_cert_pem, ca_key_pem)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let mut params = client_params(name, 1)?;
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.signed_by(&key, &ca.issuer).map_err(cert_err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn check_principal_name(name: &str) -> Result<(), PkiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(PkiError::PrincipalName)
    }
}

/// Checks the CSR's key: the SubjectPublicKeyInfo rcgen will write must be the one the
/// partner sent (rcgen derives the key algorithm from the CSR's signature algorithm, so a
/// P-256 key signed with SHA-384 would otherwise yield a broken certificate), and RSA keys
/// must have at least 2048 bits.
fn check_csr_key(csr_pem: &str, csr: &CertificateSigningRequestParams) -> Result<(), PkiError> {
    use rustls_pki_types::CertificateSigningRequestDer;
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::public_key::PublicKey;
    let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map_err(|e| PkiError::Csr(e.to_string()))?;
    let (_, request) = X509CertificationRequest::from_der(der.as_ref())
        .map_err(|e| PkiError::Csr(e.to_string()))?;
    let spki = &request.certification_request_info.subject_pki;
    if spki.raw != csr.public_key.subject_public_key_info().as_slice() {
        return Err(PkiError::Csr(
            "the key does not match the signature algorithm".into(),
        ));
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() < 2048 => {
            Err(PkiError::Csr("RSA keys need at least 2048 bits".into()))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(PkiError::Csr(e.to_string())),
    }
}

/// Signs a partner's CSR: a client certificate valid `days` (1 to [`MAX_PARTNER_DAYS`]) for
/// principal `principal` (the certificate's SAN URI becomes `ok2cry://principal/<principal>`).
///
/// The CSR's signature is checked (proof that the partner holds the key); only its public key
/// is used. Every attribute of the certificate — subject, SAN, key usage, EKU clientAuth,
/// basic constraints (not a CA), a random serial — is set here, never copied from the request.
/// The principal is required: a partner never picks its own identity.
pub fn sign_csr(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    csr_pem: &str,
    days: u32,
    principal: &str,
) -> Result<String, PkiError> {
    if days == 0 || days > MAX_PARTNER_DAYS {
        return Err(PkiError::Validity {
            max_days: MAX_PARTNER_DAYS,
        });
    }
    check_principal_name(principal)?;
    let csr = CertificateSigningRequestParams::from_pem(csr_pem)
        .map_err(|e| PkiError::Csr(e.to_string()))?;
    check_csr_key(csr_pem, &csr)?;
    let ca = Ca::load(ca_cert_pem, ca_key_pem)?;
    let params = client_params(principal, days)?;
    let ca_not_after = ca.cert()?.validity().not_after.timestamp();
    if params.not_after.unix_timestamp() > ca_not_after {
        return Err(PkiError::Validity {
            max_days: MAX_PARTNER_DAYS,
        });
    }
    let cert = params
        .signed_by(&csr.public_key, &ca.issuer)
        .map_err(cert_err)?;
    Ok(cert.pem())
}

/// Revokes the certificate `cert_pem` (issued by this CA) without a reason code: the new CRL
/// PEM, keeping the earlier entries of `existing_crl_pem`.
pub fn revoke(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    existing_crl_pem: Option<&str>,
    cert_pem: &str,
) -> Result<String, PkiError> {
    revoke_cert(ca_cert_pem, ca_key_pem, existing_crl_pem, cert_pem, None)
}

/// Revokes the certificate `cert_pem`, which must have been issued by this CA (issuer name
/// and signature are checked), with an optional reason: the new CRL PEM.
pub fn revoke_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    existing_crl_pem: Option<&str>,
    cert_pem: &str,
    reason: Option<RevocationReason>,
) -> Result<String, PkiError> {
    let ca = Ca::load(ca_cert_pem, ca_key_pem)?;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| invalid("certificate PEM")(&e))?;
    let cert = parse_cert(&der, "certificate")?;
    let ca_cert = ca.cert()?;
    if cert.issuer().as_raw() != ca_cert.subject().as_raw()
        || cert.verify_signature(Some(ca_cert.public_key())).is_err()
    {
        return Err(PkiError::WrongIssuer("the certificate"));
    }
    revoke_with(&ca, existing_crl_pem, cert.raw_serial(), reason)
}

/// Revokes the certificate with serial number `serial` (big-endian bytes, as in the
/// certificate) with an optional reason: the new CRL PEM.
///
/// The new CRL keeps every entry of `existing_crl_pem` (which must be issued and signed by
/// this CA) and carries its CRL number plus one. Revoking a serial already listed keeps the
/// original entry.
pub fn revoke_serial(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    existing_crl_pem: Option<&str>,
    serial: &[u8],
    reason: Option<RevocationReason>,
) -> Result<String, PkiError> {
    let ca = Ca::load(ca_cert_pem, ca_key_pem)?;
    revoke_with(&ca, existing_crl_pem, serial, reason)
}

fn reason_from_code(code: u8) -> Option<RevocationReason> {
    Some(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        8 => RevocationReason::RemoveFromCrl,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => return None,
    })
}

fn time_of(ts: i64) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::from_unix_timestamp(ts)
        .map_err(|_| PkiError::Invalid("CRL: date out of range".into()))
}

fn revoke_with(
    ca: &Ca,
    existing_crl_pem: Option<&str>,
    serial: &[u8],
    reason: Option<RevocationReason>,
) -> Result<String, PkiError> {
    // A serial number is a positive INTEGER of at most 20 octets (RFC 5280 §4.1.2.2).
    if serial.is_empty() || serial.len() > 21 || serial.iter().all(|b| *b == 0) {
        return Err(PkiError::Invalid("serial number out of range".into()));
    }
    let now = OffsetDateTime::now_utc();
    let mut revoked = Vec::new();
    let mut number = 0u64;
    if let Some(old) = existing_crl_pem {
        let der = CertificateRevocationListDer::from_pem_slice(old.as_bytes())
            .map_err(|e| invalid("CRL PEM")(&e))?;
        let (_, crl) =
            CertificateRevocationList::from_der(der.as_ref()).map_err(|e| invalid("CRL")(&e))?;
        let ca_cert = ca.cert()?;
        if crl.issuer().as_raw() != ca_cert.subject().as_raw()
            || crl.verify_signature(ca_cert.public_key()).is_err()
        {
            return Err(PkiError::WrongIssuer("the existing CRL"));
        }
        if let Some(n) = crl.crl_number() {
            number = u64::try_from(n.clone())
                .map_err(|_| PkiError::Invalid("CRL: CRL number out of range".into()))?;
        }
        for entry in crl.iter_revoked_certificates() {
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(entry.raw_serial()),
                revocation_time: time_of(entry.revocation_date.timestamp())?,
                reason_code: entry.reason_code().and_then(|(_, r)| reason_from_code(r.0)),
                invalidity_date: entry
                    .invalidity_date()
                    .map(|(_, t)| time_of(t.timestamp()))
                    .transpose()?,
            });
        }
    }
    let serial = SerialNumber::from_slice(serial);
    if !revoked.iter().any(|r| r.serial_number == serial) {
        revoked.push(RevokedCertParams {
            serial_number: serial,
            revocation_time: now,
            reason_code: reason,
            invalidity_date: None,
        });
    }
    let next = number
        .checked_add(1)
        .ok_or_else(|| PkiError::Invalid("CRL: CRL number exhausted".into()))?;
    signed_crl(&ca.issuer, next, revoked)
}
