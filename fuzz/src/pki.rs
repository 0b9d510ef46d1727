//! The certificates, certificate requests and CRLs the CLI reads (`ok2cry certs sign-csr`,
//! `ok2cry certs revoke`: `ok2cry::auth::pki`), and the identity of a client certificate
//! (`ok2cry::auth::principal::identity_from_cert`).
//!
//! The CA is a fixture (`fuzz/fixtures/pki/`, a dev CA made by `ok2cry certs dev`, for this
//! harness only), so committed seeds stay valid. Mode (first byte) % 6:
//! 0. CSR as PEM text → `sign_csr`;
//! 1. a `CertificationRequestInfo` (DER) the harness signs with a fixture partner key → PEM →
//!    `sign_csr` (so what follows the CSR's signature check is fuzzed);
//! 2. certificate as PEM text → `revoke_cert`;
//! 3. a `TBSCertList` (DER) the harness signs with the CA key → PEM → `revoke` with it as the
//!    existing CRL (so the CRL's entries, numbers and dates are fuzzed);
//! 4. CRL DER → PEM → `revoke` with it as the existing CRL;
//! 5. certificate DER → `identity_from_cert`, and as PEM → `revoke_cert`.
//!
//! A certificate issued from a CSR must carry exactly the principal asked for; a CRL the
//! service writes must be accepted back as the existing CRL of the next revocation.

use crate::fixtures::{p256_key, setup};
use crate::wrap::{pem, signed_ecdsa, unpem};
use ok2cry::auth::pki::{PkiError, principal_uri, revoke, revoke_cert, sign_csr};
use ok2cry::auth::principal::identity_from_cert;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey;
use std::sync::LazyLock;

/// The fixture CA's certificate.
pub const CA_PEM: &str = include_str!("../fixtures/pki/ca.pem");
/// The fixture CA's key (a dev CA of this harness, never used anywhere else).
pub const CA_KEY: &str = include_str!("../fixtures/pki/ca.key");
/// A client certificate the fixture CA issued.
pub const CLIENT_PEM: &str = include_str!("../fixtures/pki/card-api.pem");
/// The fixture CA's CRL.
pub const CRL_PEM: &str = include_str!("../fixtures/pki/crl.pem");
/// The principal every CSR is signed for.
pub const PRINCIPAL: &str = "fuzz-partner";

/// The CA key, to sign the fuzzer's CRL bodies.
static CA_SIGNER: LazyLock<SigningKey> =
    LazyLock::new(|| setup(SigningKey::from_pkcs8_pem(CA_KEY), "CA key"));

/// The partner key that signs the fuzzer's CSR bodies.
pub fn partner_key() -> SigningKey {
    p256_key("ok2cry fuzz: CSR partner key")
}

static PARTNER: LazyLock<SigningKey> = LazyLock::new(partner_key);

/// Signs a `CertificationRequestInfo` with the partner key: a CSR (DER).
pub fn signed_csr(info: &[u8]) -> Vec<u8> {
    signed_ecdsa(info, &PARTNER)
}

/// Signs a `TBSCertList` with the CA key: a CRL (DER).
pub fn signed_crl(tbs: &[u8]) -> Vec<u8> {
    signed_ecdsa(tbs, &CA_SIGNER)
}

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::input::mode(data) else {
        return;
    };
    match mode % 6 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                csr(text);
            }
        }
        1 => csr(&pem("CERTIFICATE REQUEST", &signed_csr(rest))),
        2 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                revoke_certificate(text);
            }
        }
        3 => existing_crl(&pem("X509 CRL", &signed_crl(rest))),
        4 => existing_crl(&pem("X509 CRL", rest)),
        _ => {
            let _ = identity_from_cert(rest);
            revoke_certificate(&pem("CERTIFICATE", rest));
        }
    }
}

fn csr(text: &str) {
    let Ok(cert) = sign_csr(CA_PEM, CA_KEY, text, 30, PRINCIPAL) else {
        return;
    };
    let der = unpem(&cert);
    let identity = der.as_deref().map(identity_from_cert);
    assert!(
        matches!(identity, Some(Ok(ref id)) if id.id == principal_uri(PRINCIPAL)),
        "an issued certificate does not name the principal it was issued for"
    );
}

fn revoke_certificate(text: &str) {
    if let Ok(crl) = revoke_cert(CA_PEM, CA_KEY, Some(CRL_PEM), text, None) {
        next_revocation_accepts(&crl);
    }
}

fn existing_crl(crl: &str) {
    if let Ok(next) = revoke(CA_PEM, CA_KEY, Some(crl), CLIENT_PEM) {
        next_revocation_accepts(&next);
    }
}

/// A CRL written here is valid input to the next revocation (unless its CRL number is the
/// last one there is, a refusal with its own message).
fn next_revocation_accepts(crl: &str) {
    let again = revoke(CA_PEM, CA_KEY, Some(crl), CLIENT_PEM);
    let exhausted =
        matches!(&again, Err(PkiError::Invalid(m)) if m.contains("CRL number exhausted"));
    assert!(
        again.is_ok() || exhausted,
        "a CRL the service wrote is refused: {again:?}"
    );
}
