//! TLS (being written by the PKI/TLS work; this minimal part lets the server compile).

use crate::principal::CertIdentity;
use sha2::{Digest, Sha256};

/// The identity of the verified client certificate of a connection.
pub fn peer_identity(conn: &rustls::ServerConnection) -> Option<CertIdentity> {
    let der = conn.peer_certificates()?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let mut id = None;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name {
                id = Some((*uri).to_owned());
                break;
            }
        }
        if id.is_none() {
            for name in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                    id = Some((*dns).to_owned());
                    break;
                }
            }
        }
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
