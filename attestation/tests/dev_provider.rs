//! The development provider: its documents round-trip through the real verifier only when the
//! caller pins its root AND allows debug; a strict policy never accepts them. Also the binding
//! between a document's user_data and the service's keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, SystemTime};

use ok2cry_attestation::{
    AttestationError, AttestationProvider, DevProvider, Policy, RootFingerprint, binding_user_data,
    verify, verify_binding,
};

fn dev_policy(provider: &DevProvider) -> Policy {
    Policy::strict()
        .with_root(provider.root_fingerprint())
        .danger_allow_debug()
}

#[test]
fn dev_document_round_trips_with_dev_root_and_debug_allowed() {
    let provider = DevProvider::generate().unwrap();
    let nonce = [7u8; 32];
    let doc = provider
        .attest(Some(&nonce), Some(b"hello"), Some(b"spki"))
        .unwrap();
    let verified = verify(
        &doc,
        &dev_policy(&provider).require_nonce(nonce),
        SystemTime::now(),
    )
    .unwrap();
    assert!(verified.module_id().starts_with("dev-"));
    assert_eq!(verified.module_id(), provider.module_id());
    assert!(verified.is_debug());
    assert!(
        verified
            .pcrs()
            .values()
            .all(|pcr| pcr.iter().all(|b| *b == 0))
    );
    assert_eq!(verified.nonce(), Some(&nonce[..]));
    assert_eq!(verified.user_data(), Some(&b"hello"[..]));
    assert_eq!(verified.public_key(), Some(&b"spki"[..]));

    let bare = provider.attest(None, None, None).unwrap();
    let verified = verify(&bare, &dev_policy(&provider), SystemTime::now()).unwrap();
    assert_eq!(
        (
            verified.nonce(),
            verified.user_data(),
            verified.public_key()
        ),
        (None, None, None)
    );
}

#[test]
fn strict_policy_refuses_dev_documents() {
    let provider = DevProvider::generate().unwrap();
    let doc = provider.attest(Some(b"n"), None, None).unwrap();
    let now = SystemTime::now();
    assert_ne!(
        provider.root_fingerprint(),
        RootFingerprint::AWS_NITRO_ROOT_G1
    );
    assert_eq!(
        verify(&doc, &Policy::strict(), now),
        Err(AttestationError::UntrustedRoot)
    );
    // Allowing debug is not enough: the root is still AWS's.
    assert_eq!(
        verify(&doc, &Policy::strict().danger_allow_debug(), now),
        Err(AttestationError::UntrustedRoot)
    );
    // Pinning the dev root is not enough: the document is debug mode.
    assert_eq!(
        verify(
            &doc,
            &Policy::strict().with_root(provider.root_fingerprint()),
            now
        ),
        Err(AttestationError::DebugEnclave)
    );
    // Another dev provider's root does not verify this one's documents.
    let other = DevProvider::generate().unwrap();
    assert_eq!(
        verify(&doc, &dev_policy(&other), now),
        Err(AttestationError::UntrustedRoot)
    );
}

#[test]
fn dev_documents_are_checked_like_real_ones() {
    let provider = DevProvider::generate().unwrap();
    let doc = provider.attest(Some(b"nonce"), None, None).unwrap();
    let policy = dev_policy(&provider);
    let now = SystemTime::now();
    let mut bad_sig = doc.clone();
    *bad_sig.last_mut().unwrap() ^= 1;
    assert_eq!(
        verify(&bad_sig, &policy, now),
        Err(AttestationError::DocumentSignature)
    );
    assert_eq!(
        verify(&doc, &policy.clone().require_nonce(&b"other"[..]), now),
        Err(AttestationError::NonceMismatch)
    );
    assert_eq!(
        verify(&doc, &policy.clone().expect_pcr(0, vec![1; 48]), now),
        Err(AttestationError::PcrMismatch { index: 0 })
    );
    // Certificates are backdated one hour and valid for a year.
    assert_eq!(
        verify(&doc, &policy, now - Duration::from_secs(2 * 3600)),
        Err(AttestationError::CertificateNotYetValid { position: 0 })
    );
    assert_eq!(
        verify(&doc, &policy, now + Duration::from_secs(400 * 24 * 3600)),
        Err(AttestationError::CertificateExpired { position: 0 })
    );
}

#[test]
fn dev_provider_keeps_the_nsm_limits() {
    let provider = DevProvider::generate().unwrap();
    assert!(matches!(
        provider.attest(None, Some(&[0; 513]), None),
        Err(AttestationError::InvalidInput(_))
    ));
    assert!(matches!(
        provider.attest(Some(&[0; 513]), None, None),
        Err(AttestationError::InvalidInput(_))
    ));
    assert!(matches!(
        provider.attest(None, None, Some(&[])),
        Err(AttestationError::InvalidInput(_))
    ));
    provider
        .attest(Some(&[0; 512]), Some(&[0; 512]), Some(&[0; 1024]))
        .unwrap();
}

#[test]
fn binding_commits_the_signing_keys_and_audit_key() {
    let provider = DevProvider::generate().unwrap();
    let jwks = vec![
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".to_owned(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k".to_owned(),
    ];
    let audit = [0x42u8; 32];
    let user_data = binding_user_data(&jwks, &audit);
    assert!(user_data.len() <= 512);
    let doc = provider.attest(Some(b"n"), Some(&user_data), None).unwrap();
    let verified = verify(&doc, &dev_policy(&provider), SystemTime::now()).unwrap();

    verify_binding(&verified, &jwks, &audit, &jwks[0]).unwrap();
    verify_binding(&verified, &jwks, &audit, &jwks[1]).unwrap();
    // The JWKS may list its keys in another order.
    let reversed: Vec<String> = jwks.iter().rev().cloned().collect();
    verify_binding(&verified, &reversed, &audit, &jwks[1]).unwrap();

    assert_eq!(
        verify_binding(&verified, &jwks, &audit, "not-a-committed-key"),
        Err(AttestationError::KeyNotCommitted)
    );
    // A JWKS with an extra (uncommitted) key, or without one, does not match the commitment.
    let mut extra = jwks.clone();
    extra.push("AAAA".to_owned());
    assert_eq!(
        verify_binding(&verified, &extra, &audit, "AAAA"),
        Err(AttestationError::BindingMismatch)
    );
    assert_eq!(
        verify_binding(&verified, &jwks[..1], &audit, &jwks[0]),
        Err(AttestationError::BindingMismatch)
    );
    assert_eq!(
        verify_binding(&verified, &jwks, &[0x43; 32], &jwks[0]),
        Err(AttestationError::BindingMismatch)
    );
}

#[test]
fn binding_refuses_documents_without_it() {
    let jwks = vec!["NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".to_owned()];
    let audit = [0x42u8; 32];
    let prod = support::vector(support::PROD_2021.0);
    let verified = verify(
        &prod,
        &Policy::strict(),
        support::at_ms(support::PROD_2021.1),
    )
    .unwrap();
    assert_eq!(
        verify_binding(&verified, &jwks, &audit, &jwks[0]),
        Err(AttestationError::UserDataMissing)
    );
    let debug = support::vector(support::DEBUG_2024.0);
    let policy = Policy::strict().danger_allow_debug();
    let verified = verify(&debug, &policy, support::at_ms(support::DEBUG_2024.1)).unwrap();
    assert_eq!(
        verify_binding(&verified, &jwks, &audit, &jwks[0]),
        Err(AttestationError::BindingMismatch)
    );
}
