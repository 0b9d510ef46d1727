//! The dev PKI, partner onboarding, revocation and the TLS configuration, over real TLS on
//! 127.0.0.1:0: a tiny tokio-rustls echo server completes the handshake with the service's
//! `ServerConfig` (taken from a `TlsReloader` for every connection, as the service does) and
//! writes back the verified peer identity.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ok2cry::auth::pki::{self, DevPki, DevPkiOptions};
use ok2cry::auth::principal::{CertIdentity, identity_from_cert};
use ok2cry::auth::tls::{ClientAuth, TlsReloader, TlsSettings};
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, HandshakeKind, ProtocolVersion, RootCertStore};
use rustls_pki_types::CertificateDer;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// What the server saw of one connection.
#[derive(Debug)]
struct Seen {
    /// The identity (None: no certificate), or the handshake error.
    outcome: Result<Option<CertIdentity>, String>,
    kind: Option<HandshakeKind>,
}

struct Echo {
    addr: SocketAddr,
    tls: Arc<TlsReloader>,
    seen: tokio::sync::Mutex<mpsc::UnboundedReceiver<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Echo {
    async fn start(settings: TlsSettings) -> Self {
        let tls = Arc::new(TlsReloader::new(settings).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, seen) = mpsc::unbounded_channel();
        let reloader = tls.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                // As the service does: the configuration current at accept time.
                let acceptor = tokio_rustls::TlsAcceptor::from(reloader.current());
                let tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(mut stream) => {
                            let conn = stream.get_ref().1;
                            let identity = ok2cry::auth::tls::peer_identity(conn);
                            let kind = conn.handshake_kind();
                            let line = identity.as_ref().map_or("-".to_owned(), |i| i.id.clone());
                            let _ = stream.write_all(line.as_bytes()).await;
                            let _ = stream.shutdown().await;
                            let _ = tx.send(Seen {
                                outcome: Ok(identity),
                                kind,
                            });
                        }
                        Err(e) => {
                            let _ = tx.send(Seen {
                                outcome: Err(e.to_string()),
                                kind: None,
                            });
                        }
                    }
                });
            }
        });
        Echo {
            addr,
            tls,
            seen: tokio::sync::Mutex::new(seen),
            task,
        }
    }

    async fn next_seen(&self) -> Seen {
        tokio::time::timeout(WAIT, async { self.seen.lock().await.recv().await })
            .await
            .expect("server saw no connection")
            .expect("server stopped")
    }
}

/// What the client saw: the line the server wrote, and the negotiated parameters.
#[derive(Debug)]
struct Session {
    line: String,
    version: Option<ProtocolVersion>,
    suite: Option<rustls::CipherSuite>,
    alpn: Option<Vec<u8>>,
}

async fn connect_as(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<Session> {
    let run = async {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let mut stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        let conn = stream.get_ref().1;
        let version = conn.protocol_version();
        let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let mut line = String::new();
        // In TLS 1.3 the client finishes its handshake before the server has checked the
        // client certificate; a refusal arrives here, as an alert, while reading.
        stream.read_to_string(&mut line).await?;
        Ok(Session {
            line,
            version,
            suite,
            alpn,
        })
    };
    tokio::time::timeout(WAIT, run)
        .await
        .expect("client timed out")
}

async fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<Session> {
    connect_as(addr, config, "localhost").await
}

fn dev_pki(dir: &Path) -> DevPki {
    pki::create_dev_pki(dir, DevPkiOptions::default()).unwrap()
}

/// A dev PKI in a temporary directory (kept as long as the directory is).
fn fresh_pki() -> (tempfile::TempDir, DevPki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = dev_pki(dir.path());
    (dir, pki)
}

/// A client of `other`'s PKI (same principal name, same file layout, another CA) is refused
/// in the handshake as an unknown issuer, never admitted or downgraded to anonymous.
async fn assert_stranger_refused(echo: &Echo, pki: &DevPki, other: &DevPki) {
    let stranger = ok2cry::auth::tls::client_config(
        &pki.ca(),
        &other.client_cert("card-api"),
        &other.client_key("card-api"),
    )
    .unwrap();
    let error = assert_refused(echo, connect(echo.addr, stranger).await).await;
    assert!(error.contains("UnknownIssuer"), "{error}");
}

fn settings(pki: &DevPki, client_auth: ClientAuth) -> TlsSettings {
    TlsSettings {
        server_cert: pki.server_cert(),
        server_key: pki.server_key(),
        client_cas: vec![pki.ca()],
        crls: vec![pki.crl()],
        client_auth,
    }
}

fn client_for(pki: &DevPki, name: &str) -> Arc<ClientConfig> {
    ok2cry::auth::tls::client_config(&pki.ca(), &pki.client_cert(name), &pki.client_key(name))
        .unwrap()
}

fn roots(ca: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

fn anonymous_client(pki: &DevPki) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(ok2cry::auth::tls::provider())
            .with_protocol_versions(ok2cry::auth::tls::PROTOCOL_VERSIONS)
            .unwrap()
            .with_root_certificates(roots(&pki.ca()))
            .with_no_client_auth(),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn cert_der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// Asserts that a connection was refused in the handshake, on both sides; returns the
/// server's error.
async fn assert_refused(echo: &Echo, client: std::io::Result<Session>) -> String {
    let seen = echo.next_seen().await;
    let Err(server_error) = seen.outcome else {
        panic!("server accepted the connection: {seen:?}");
    };
    match client {
        Err(_) => {}
        Ok(session) => panic!("client got {:?} from a refused handshake", session.line),
    }
    server_error
}

async fn assert_accepted_as(echo: &Echo, client: std::io::Result<Session>, id: &str) -> Session {
    let session = client.expect("handshake refused");
    assert_eq!(session.line, id);
    let seen = echo.next_seen().await;
    assert_eq!(seen.outcome.unwrap().map(|i| i.id).as_deref(), Some(id));
    session
}

#[test]
fn dev_pki_is_complete_private_and_reused() {
    use x509_parser::extensions::GeneralName;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pki");
    let pki = dev_pki(&root);
    assert!(pki.created);

    for name in [
        "ca.key",
        "server.key",
        "card-api.key",
        "proxy.key",
        "auditor.key",
    ] {
        let path = root.join(name);
        assert!(path.is_file(), "{name} missing");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
        }
    }
    for name in [
        "ca.pem",
        "server.pem",
        "card-api.pem",
        "proxy.pem",
        "auditor.pem",
        "crl.pem",
    ] {
        assert!(root.join(name).is_file(), "{name} missing");
    }

    // The CA: a CA, ECDSA P-256, valid at most 10 years.
    let ca_der = cert_der(&read(&pki.ca()));
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    assert!(ca.is_ca());
    let life = ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp();
    assert!(life <= 3651 * 86_400, "CA valid {life} s");
    assert_eq!(
        ca.public_key().algorithm.algorithm.to_id_string(),
        "1.2.840.10045.2.1"
    );

    // The server certificate names localhost, 127.0.0.1 and ::1.
    let server_der = cert_der(&read(&pki.server_cert()));
    let (_, server) = x509_parser::parse_x509_certificate(&server_der).unwrap();
    let san = server.subject_alternative_name().unwrap().unwrap();
    let names = &san.value.general_names;
    assert!(names.contains(&GeneralName::DNSName("localhost")));
    assert!(names.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
    let v6: [u8; 16] = std::net::Ipv6Addr::LOCALHOST.octets();
    assert!(names.contains(&GeneralName::IPAddress(&v6)));

    // The client certificates carry the principal URIs.
    for name in pki::DEV_CLIENTS {
        let id = identity_from_cert(&cert_der(&read(&pki.client_cert(name)))).unwrap();
        assert_eq!(id.id, format!("ok2cry://principal/{name}"));
    }

    // principals.toml lists the dev principals with their roles.
    let table: toml::Table = read(&pki.principals_toml()).parse().unwrap();
    let principals = table["principals"].as_array().unwrap();
    let roles_of = |id: &str| -> Vec<String> {
        let p = principals
            .iter()
            .find(|p| p["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("{id} not listed"));
        p["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(principals.len(), 3);
    assert_eq!(
        roles_of("ok2cry://principal/card-api"),
        ["issuer", "opener"]
    );
    assert_eq!(roles_of("ok2cry://principal/proxy"), ["issuer", "opener"]);
    assert_eq!(roles_of("ok2cry://principal/auditor"), ["auditor"]);

    // Reused as is, unless forced.
    let ca_before = read(&pki.ca());
    let key_before = read(&pki.client_key("card-api"));
    let again = dev_pki(&root);
    assert!(!again.created);
    assert_eq!(read(&pki.ca()), ca_before);
    assert_eq!(read(&pki.client_key("card-api")), key_before);

    // An incomplete directory is regenerated.
    std::fs::remove_file(pki.client_key("proxy")).unwrap();
    let regenerated = dev_pki(&root);
    assert!(regenerated.created);
    assert_ne!(read(&pki.ca()), ca_before);

    let forced_before = read(&pki.ca());
    let forced = pki::create_dev_pki(&root, DevPkiOptions { force: true }).unwrap();
    assert!(forced.created);
    assert_ne!(read(&pki.ca()), forced_before);
}

#[tokio::test]
async fn card_api_is_identified_by_its_san_uri() {
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;

    let session = assert_accepted_as(
        &echo,
        connect(echo.addr, client_for(&pki, "card-api")).await,
        "ok2cry://principal/card-api",
    )
    .await;
    assert_eq!(session.version, Some(ProtocolVersion::TLSv1_3));

    // The SPKI hash is the one of the certificate on file.
    let on_file = identity_from_cert(&cert_der(&read(&pki.client_cert("card-api")))).unwrap();
    let session = connect_as(echo.addr, client_for(&pki, "card-api"), "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.line, "ok2cry://principal/card-api");
    let seen = echo.next_seen().await.outcome.unwrap().unwrap();
    assert_eq!(seen, on_file);

    // Each principal is told apart.
    assert_accepted_as(
        &echo,
        connect(echo.addr, client_for(&pki, "auditor")).await,
        "ok2cry://principal/auditor",
    )
    .await;
}

#[tokio::test]
async fn alpn_offers_h2_then_http11() {
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    let config = ok2cry::auth::tls::server_config(&settings(&pki, ClientAuth::Required)).unwrap();
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    for (offer, expect) in [
        (vec![b"http/1.1".to_vec(), b"h2".to_vec()], b"h2".to_vec()),
        (vec![b"http/1.1".to_vec()], b"http/1.1".to_vec()),
    ] {
        let mut client = (*client_for(&pki, "card-api")).clone();
        client.alpn_protocols = offer;
        let session = assert_accepted_as(
            &echo,
            connect(echo.addr, Arc::new(client)).await,
            "ok2cry://principal/card-api",
        )
        .await;
        assert_eq!(session.alpn, Some(expect));
    }
}

#[tokio::test]
async fn no_client_certificate_is_refused_when_required() {
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    let client = connect(echo.addr, anonymous_client(&pki)).await;
    let error = assert_refused(&echo, client).await;
    assert!(error.to_lowercase().contains("no certificate"), "{error}");
}

#[tokio::test]
async fn optional_client_auth_admits_anonymous_but_still_verifies_certificates() {
    let (_dir, pki) = fresh_pki();
    let (_other_dir, other) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Optional)).await;

    // Without a certificate: admitted, with no certificate identity (JWT fallback).
    let session = connect(echo.addr, anonymous_client(&pki)).await.unwrap();
    assert_eq!(session.line, "-");
    assert_eq!(echo.next_seen().await.outcome.unwrap(), None);

    // With a valid one: identified.
    assert_accepted_as(
        &echo,
        connect(echo.addr, client_for(&pki, "proxy")).await,
        "ok2cry://principal/proxy",
    )
    .await;

    // With one from another CA: refused, not downgraded to anonymous.
    assert_stranger_refused(&echo, &pki, &other).await;
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    let (_dir, pki) = fresh_pki();
    let (_other_dir, other) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;

    // Same principal name, same file layout, other CA.
    assert_stranger_refused(&echo, &pki, &other).await;
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let (dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = pki::issue_client(
        &read(&pki.ca()),
        &read(&pki.ca_key()),
        "late",
        now - time::Duration::days(10),
        now - time::Duration::days(1),
    )
    .unwrap();
    std::fs::write(dir.path().join("late.pem"), cert).unwrap();
    std::fs::write(dir.path().join("late.key"), key).unwrap();
    let client = ok2cry::auth::tls::client_config(
        &pki.ca(),
        &dir.path().join("late.pem"),
        &dir.path().join("late.key"),
    )
    .unwrap();
    let error = assert_refused(&echo, connect(echo.addr, client).await).await;
    assert!(error.contains("expired"), "{error}");
}

#[tokio::test]
async fn revoked_certificate_is_refused_after_reload_without_restart() {
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    // One client configuration throughout: it keeps its session tickets, so the test also
    // shows that a revoked certificate cannot come back by session resumption.
    let card_api = client_for(&pki, "card-api");

    assert_accepted_as(
        &echo,
        connect(echo.addr, card_api.clone()).await,
        "ok2cry://principal/card-api",
    )
    .await;
    // Resumption works before the reload (so the check after it means something)...
    let session = connect(echo.addr, card_api.clone()).await.unwrap();
    assert_eq!(session.line, "ok2cry://principal/card-api");
    let seen = echo.next_seen().await;
    assert_eq!(seen.kind, Some(HandshakeKind::Resumed));
    assert_eq!(
        seen.outcome.unwrap().unwrap().id,
        "ok2cry://principal/card-api"
    );

    let crl = pki::revoke(
        &read(&pki.ca()),
        &read(&pki.ca_key()),
        Some(&read(&pki.crl())),
        &read(&pki.client_cert("card-api")),
    )
    .unwrap();
    std::fs::write(pki.crl(), crl).unwrap();

    // Until the reload, the configuration in force is the old one.
    assert_accepted_as(
        &echo,
        connect(echo.addr, card_api.clone()).await,
        "ok2cry://principal/card-api",
    )
    .await;

    echo.tls.reload().unwrap();
    let error = assert_refused(&echo, connect(echo.addr, card_api.clone()).await).await;
    assert!(error.contains("Revoked"), "{error}");
    // A fresh client (no session to resume) is refused as well.
    let error = assert_refused(
        &echo,
        connect(echo.addr, client_for(&pki, "card-api")).await,
    )
    .await;
    assert!(error.contains("Revoked"), "{error}");

    // The other principals are untouched, on the same listener.
    assert_accepted_as(
        &echo,
        connect(echo.addr, client_for(&pki, "proxy")).await,
        "ok2cry://principal/proxy",
    )
    .await;
}

#[tokio::test]
async fn failed_reload_keeps_the_previous_configuration() {
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;

    // A CRL file that holds no CRL would turn revocation off: refused, old config kept.
    std::fs::write(pki.crl(), "not a CRL\n").unwrap();
    let error = echo.tls.reload().unwrap_err();
    assert!(error.to_string().contains("crl.pem"), "{error}");
    assert_accepted_as(
        &echo,
        connect(echo.addr, client_for(&pki, "card-api")).await,
        "ok2cry://principal/card-api",
    )
    .await;

    // A missing server key: refused, old config kept.
    std::fs::remove_file(pki.server_key()).unwrap();
    assert!(echo.tls.reload().is_err());
    assert_accepted_as(
        &echo,
        connect(echo.addr, client_for(&pki, "card-api")).await,
        "ok2cry://principal/card-api",
    )
    .await;
}

#[test]
fn revoke_keeps_earlier_serials_and_increments_the_crl_number() {
    use x509_parser::prelude::FromDer;
    use x509_parser::revocation_list::CertificateRevocationList;
    let (_dir, pki) = fresh_pki();
    let (ca, ca_key) = (read(&pki.ca()), read(&pki.ca_key()));
    let serial_of = |name: &str| {
        let der = cert_der(&read(&pki.client_cert(name)));
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.raw_serial().to_vec()
    };
    // (CRL number, [(serial, reason code)])
    type Crl = (u64, Vec<(Vec<u8>, Option<u8>)>);
    let parse = |pem: &str| -> Crl {
        let der = rustls_pki_types::CertificateRevocationListDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec();
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        let number = u64::try_from(crl.crl_number().unwrap().clone()).unwrap();
        let entries = crl
            .iter_revoked_certificates()
            .map(|e| (e.raw_serial().to_vec(), e.reason_code().map(|(_, r)| r.0)))
            .collect();
        (number, entries)
    };

    let empty = read(&pki.crl());
    assert_eq!(parse(&empty), (1, vec![]));

    let first = pki::revoke_cert(
        &ca,
        &ca_key,
        Some(&empty),
        &read(&pki.client_cert("proxy")),
        Some(pki::RevocationReason::KeyCompromise),
    )
    .unwrap();
    assert_eq!(parse(&first), (2, vec![(serial_of("proxy"), Some(1))]));

    let second = pki::revoke(
        &ca,
        &ca_key,
        Some(&first),
        &read(&pki.client_cert("card-api")),
    )
    .unwrap();
    assert_eq!(
        parse(&second),
        (
            3,
            vec![(serial_of("proxy"), Some(1)), (serial_of("card-api"), None)]
        )
    );

    // Revoking again keeps one entry; the number still moves on.
    let third = pki::revoke_serial(&ca, &ca_key, Some(&second), &serial_of("proxy"), None).unwrap();
    let (number, entries) = parse(&third);
    assert_eq!(number, 4);
    assert_eq!(entries.len(), 2);

    // A certificate or a CRL of another CA is refused; so is a CA key that is not the CA's.
    let (_other_dir, other) = fresh_pki();
    let e = pki::revoke(
        &ca,
        &ca_key,
        Some(&third),
        &read(&other.client_cert("proxy")),
    )
    .unwrap_err();
    assert!(matches!(e, pki::PkiError::WrongIssuer(_)), "{e}");
    let e = pki::revoke(
        &ca,
        &ca_key,
        Some(&read(&other.crl())),
        &read(&pki.client_cert("auditor")),
    )
    .unwrap_err();
    assert!(matches!(e, pki::PkiError::WrongIssuer(_)), "{e}");
    let e = pki::revoke(
        &ca,
        &read(&other.ca_key()),
        None,
        &read(&pki.client_cert("auditor")),
    )
    .unwrap_err();
    assert!(matches!(e, pki::PkiError::CaKeyMismatch), "{e}");
    // No key material in the message.
    assert!(!e.to_string().contains("PRIVATE"));
}

fn partner_csr(
    subject_cn: &str,
    extra: impl FnOnce(&mut rcgen::CertificateParams),
) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject_cn);
    extra(&mut params);
    let csr = params.serialize_request(&key).unwrap();
    (csr.pem().unwrap(), key.serialize_pem())
}

#[tokio::test]
async fn partner_csr_is_signed_and_accepted() {
    let (dir, pki) = fresh_pki();
    let (ca, ca_key) = (read(&pki.ca()), read(&pki.ca_key()));
    let (csr, key) = partner_csr("acme-bank", |_| {});
    let cert = pki::sign_csr(&ca, &ca_key, &csr, 365, "acme-bank").unwrap();

    // A client-authentication leaf, not a CA, ≤ 365 days, random serial, the partner's key.
    let der = cert_der(&cert);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(!parsed.is_ca());
    let eku = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth && !eku.any);
    let days = (parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp())
        / 86_400;
    assert!((365..=366).contains(&days), "{days} days");
    let partner_key = rcgen::KeyPair::from_pem(&key).unwrap();
    assert_eq!(
        parsed.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&partner_key)
    );
    let again = pki::sign_csr(&ca, &ca_key, &csr, 30, "acme-bank").unwrap();
    let again_der = cert_der(&again);
    let (_, again) = x509_parser::parse_x509_certificate(&again_der).unwrap();
    assert_ne!(parsed.raw_serial(), again.raw_serial());
    assert!(parsed.raw_serial().len() >= 16);

    // Over TLS: the partner is who the operator named.
    std::fs::write(dir.path().join("partner.pem"), &cert).unwrap();
    std::fs::write(dir.path().join("partner.key"), &key).unwrap();
    let client = ok2cry::auth::tls::client_config(
        &pki.ca(),
        &dir.path().join("partner.pem"),
        &dir.path().join("partner.key"),
    )
    .unwrap();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    assert_accepted_as(
        &echo,
        connect(echo.addr, client).await,
        "ok2cry://principal/acme-bank",
    )
    .await;
}

#[test]
fn sign_csr_takes_nothing_but_the_key_from_the_request() {
    let (_dir, pki) = fresh_pki();
    // The partner asks for a CA certificate, another identity and server authentication.
    let (csr, _) = partner_csr("admin", |p| {
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.subject_alt_names = vec![
            rcgen::SanType::URI("ok2cry://principal/admin".try_into().unwrap()),
            rcgen::SanType::DnsName("admin.example".try_into().unwrap()),
        ];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    });
    let cert = pki::sign_csr(&read(&pki.ca()), &read(&pki.ca_key()), &csr, 30, "acme").unwrap();
    let der = cert_der(&cert);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(!parsed.is_ca());
    let eku = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    assert_eq!(
        identity_from_cert(&der).unwrap().id,
        "ok2cry://principal/acme"
    );
    let san = parsed.subject_alternative_name().unwrap().unwrap();
    assert_eq!(san.value.general_names.len(), 1);
}

#[test]
fn sign_csr_refuses_bad_requests() {
    let (_dir, pki) = fresh_pki();
    let (ca, ca_key) = (read(&pki.ca()), read(&pki.ca_key()));
    let (csr, _) = partner_csr("acme", |_| {});

    for days in [0, 366, 3650] {
        let e = pki::sign_csr(&ca, &ca_key, &csr, days, "acme").unwrap_err();
        assert!(
            matches!(e, pki::PkiError::Validity { max_days: 365 }),
            "{days}: {e}"
        );
    }
    for name in [
        "",
        "a/b",
        "acme bank",
        "ok2cry://principal/x",
        &"x".repeat(65),
    ] {
        let e = pki::sign_csr(&ca, &ca_key, &csr, 30, name).unwrap_err();
        assert!(matches!(e, pki::PkiError::PrincipalName), "{name:?}: {e}");
    }

    // A CSR whose signature does not verify (one byte of the public key flipped).
    let mut der = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(csr.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec();
    let (_, request) =
        <x509_parser::certification_request::X509CertificationRequest as x509_parser::prelude::FromDer<
            '_,
            _,
        >>::from_der(&der)
        .unwrap();
    let spki = request.certification_request_info.subject_pki.raw;
    let at = spki.as_ptr() as usize - der.as_ptr() as usize + spki.len() - 1;
    der[at] ^= 0x01;
    let tampered = pem_of("CERTIFICATE REQUEST", &der);
    let e = pki::sign_csr(&ca, &ca_key, &tampered, 30, "acme").unwrap_err();
    assert!(matches!(e, pki::PkiError::Csr(_)), "{e}");

    let e = pki::sign_csr(&ca, &ca_key, "not a CSR", 30, "acme").unwrap_err();
    assert!(matches!(e, pki::PkiError::Csr(_)), "{e}");
}

fn pem_of(label: &str, der: &[u8]) -> String {
    use base64ct::Encoding;
    let b64 = base64ct::Base64::encode_string(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn self_signed(params: rcgen::CertificateParams) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn identity_precedence_is_uri_then_dns_then_cn() {
    use rcgen::{CertificateParams, DnType, SanType};
    let with = |sans: Vec<SanType>, cn: Option<&str>| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        p.subject_alt_names = sans;
        identity_from_cert(&self_signed(p))
    };
    let uri = |u: &str| SanType::URI(u.try_into().unwrap());
    let dns = |d: &str| SanType::DnsName(d.try_into().unwrap());
    let ip = SanType::IpAddress([10, 0, 0, 1].into());

    // URI wins over DNS and CN, wherever it sits in the SAN; the first URI.
    let id = with(
        vec![
            dns("a.example"),
            uri("ok2cry://principal/a"),
            uri("ok2cry://principal/b"),
        ],
        Some("cn-a"),
    );
    assert_eq!(id.unwrap().id, "ok2cry://principal/a");
    // DNS over CN; the first DNS name.
    let id = with(
        vec![ip.clone(), dns("a.example"), dns("b.example")],
        Some("cn-a"),
    );
    assert_eq!(id.unwrap().id, "a.example");
    // CN when the SAN has neither.
    assert_eq!(with(vec![ip], Some("cn-a")).unwrap().id, "cn-a");
    assert_eq!(with(vec![], Some("cn-a")).unwrap().id, "cn-a");
    // Nothing at all: no identity.
    assert!(matches!(
        with(vec![], None),
        Err(ok2cry::auth::principal::IdentityError(_))
    ));
    // Garbage is not a certificate.
    assert!(identity_from_cert(b"not DER").is_err());

    // The SPKI hash is SHA-256 of the SubjectPublicKeyInfo DER.
    use sha2::Digest;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(vec!["x.example".to_owned()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    let der = p.self_signed(&key).unwrap().der().to_vec();
    let expected: [u8; 32] =
        sha2::Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key)).into();
    assert_eq!(identity_from_cert(&der).unwrap().spki_sha256, expected);
}

#[tokio::test]
async fn a_dns_named_client_certificate_is_known_by_its_dns_name() {
    let (dir, pki) = fresh_pki();
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &read(&pki.ca()),
        rcgen::KeyPair::from_pem(&read(&pki.ca_key())).unwrap(),
    )
    .unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["gateway.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ignored-cn");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.path().join("gw.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("gw.key"), key.serialize_pem()).unwrap();
    let client = ok2cry::auth::tls::client_config(
        &pki.ca(),
        &dir.path().join("gw.pem"),
        &dir.path().join("gw.key"),
    )
    .unwrap();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    assert_accepted_as(&echo, connect(echo.addr, client).await, "gateway.example").await;
}

fn tls12_client(
    pki: &DevPki,
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
) -> Arc<ClientConfig> {
    let mut provider = ok2cry::auth::tls::provider().as_ref().clone();
    if let Some(suites) = suites {
        provider.cipher_suites = suites;
    }
    let cert: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.client_cert("card-api"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(pki.client_key("card-api")).unwrap();
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots(&pki.ca()))
            .with_client_auth_cert(cert, key)
            .unwrap(),
    )
}

#[tokio::test]
async fn tls12_client_works_with_an_aead_suite() {
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    let session = assert_accepted_as(
        &echo,
        connect(echo.addr, tls12_client(&pki, None)).await,
        "ok2cry://principal/card-api",
    )
    .await;
    assert_eq!(session.version, Some(ProtocolVersion::TLSv1_2));
    let suite = format!("{:?}", session.suite.unwrap());
    assert!(suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{suite}");
    assert!(
        suite.contains("_GCM_") || suite.contains("CHACHA20_POLY1305"),
        "{suite}"
    );

    // TLS 1.2 revocation works the same way.
    let crl = pki::revoke(
        &read(&pki.ca()),
        &read(&pki.ca_key()),
        Some(&read(&pki.crl())),
        &read(&pki.client_cert("card-api")),
    )
    .unwrap();
    std::fs::write(pki.crl(), crl).unwrap();
    echo.tls.reload().unwrap();
    let error = assert_refused(&echo, connect(echo.addr, tls12_client(&pki, None)).await).await;
    assert!(error.contains("Revoked"), "{error}");
}

#[tokio::test]
async fn tls12_client_without_a_usable_suite_fails() {
    // rustls cannot offer CBC or non-forward-secret suites at all; the nearest a client can
    // get is offering only suites the server's certificate cannot serve (ECDHE-RSA against
    // an ECDSA certificate): the server must refuse rather than pick anything else.
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    let (_dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;
    let client = tls12_client(
        &pki,
        Some(vec![
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]),
    );
    let error = assert_refused(&echo, connect(echo.addr, client).await).await;
    assert!(error.contains("NoCipherSuitesInCommon"), "{error}");
}

#[test]
fn server_offers_only_aead_forward_secret_suites_and_tls12_or_13() {
    let (_dir, pki) = fresh_pki();
    let config = ok2cry::auth::tls::server_config(&settings(&pki, ClientAuth::Required)).unwrap();
    let names: Vec<String> = config
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert_eq!(
        names,
        [
            "TLS13_AES_256_GCM_SHA384",
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ]
    );
    for name in &names {
        assert!(
            name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"),
            "{name}"
        );
        assert!(
            name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"),
            "{name}"
        );
        assert!(!name.contains("CBC") && !name.contains("SHA1"), "{name}");
    }
    // Exactly TLS 1.2 and 1.3.
    let versions: Vec<ProtocolVersion> = config
        .crypto_provider()
        .cipher_suites
        .iter()
        .map(|s| s.version().version)
        .collect();
    assert!(
        versions
            .iter()
            .all(|v| matches!(v, ProtocolVersion::TLSv1_2 | ProtocolVersion::TLSv1_3))
    );
    // The provider is AWS-LC's, whatever the process default is.
    assert_eq!(
        format!("{:?}", config.crypto_provider().kx_groups),
        format!(
            "{:?}",
            rustls::crypto::aws_lc_rs::default_provider().kx_groups
        )
    );
}

fn openssl_available() -> bool {
    std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(WAIT, cmd.output())
        .await
        .expect("openssl timed out")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn openssl_sees_tls11_refused_and_the_certificate_request() {
    if !openssl_available() {
        eprintln!("SKIPPED: no openssl binary on PATH");
        return;
    }
    let (dir, pki) = fresh_pki();
    let echo = Echo::start(settings(&pki, ClientAuth::Required)).await;

    // TLS 1.1 (enabled on the client side with SECLEVEL=0) is refused by the server.
    let (ok, text) = s_client(echo.addr, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]).await;
    assert!(!ok, "TLS 1.1 handshake succeeded:\n{text}");
    assert!(text.contains("alert"), "no alert from the server:\n{text}");
    assert!(echo.next_seen().await.outcome.is_err());

    // TLS 1.2 without a client certificate: the CertificateRequest names the dev CA.
    let (_, text) = s_client(echo.addr, &["-tls1_2"]).await;
    assert!(
        text.contains("Acceptable client certificate CA names"),
        "no CertificateRequest:\n{text}"
    );
    assert!(text.contains("ok2cry dev CA"), "{text}");
    assert!(echo.next_seen().await.outcome.is_err());

    // TLS 1.3 with the card-api certificate: verified on both sides.
    let ca = pki.ca();
    let cert = pki.client_cert("card-api");
    let key = pki.client_key("card-api");
    let (ok, text) = s_client(
        echo.addr,
        &[
            "-tls1_3",
            "-CAfile",
            ca.to_str().unwrap(),
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-verify_return_error",
        ],
    )
    .await;
    assert!(ok, "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    // (s_client may close on end of input before the echoed line arrives: the server's view
    // is the one that counts.)
    assert_eq!(
        echo.next_seen().await.outcome.unwrap().unwrap().id,
        "ok2cry://principal/card-api"
    );

    // The partner side of docs/ONBOARDING.md, with openssl: key, CSR, signed, accepted.
    let key = dir.path().join("partner.key");
    let csr = dir.path().join("partner.csr");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-noout",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        "/CN=acme-bank",
        "-out",
        csr.to_str().unwrap(),
    ]);
    let cert = pki::sign_csr(
        &read(&ca),
        &read(&pki.ca_key()),
        &read(&csr),
        365,
        "acme-bank",
    )
    .unwrap();
    let cert_path = dir.path().join("partner.pem");
    std::fs::write(&cert_path, cert).unwrap();
    let client = ok2cry::auth::tls::client_config(&ca, &cert_path, &key).unwrap();
    assert_accepted_as(
        &echo,
        connect(echo.addr, client).await,
        "ok2cry://principal/acme-bank",
    )
    .await;
}
