//! The verifier against real AWS Nitro attestation documents (shared/vectors/nitro/): accepted
//! at their own time, refused after every kind of alteration and under every policy violation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, SystemTime};

use ok2cry_attestation::{
    AttestationDocument, AttestationError, Policy, RootFingerprint, VerifiedAttestation, verify,
};
use support::{DEBUG_2024, PROD_2021, PROD_2025, at_ms, vector};
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem};

fn verify_2025(bytes: &[u8], policy: &Policy) -> Result<VerifiedAttestation, AttestationError> {
    verify(bytes, policy, at_ms(PROD_2025.1))
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("needle present")
}

/// Index of the leaf in the chain [cabundle.., leaf] of a document.
fn leaf_position(doc: &AttestationDocument) -> usize {
    doc.cabundle().len()
}

#[test]
fn real_documents_verify_at_their_own_time() {
    for (name, ts) in [PROD_2025, PROD_2021] {
        let verified = verify(&vector(name), &Policy::strict(), at_ms(ts)).unwrap();
        assert_eq!(verified.timestamp_ms(), ts, "{name}");
        assert!(!verified.is_debug());
        assert_eq!(verified.pcrs().len(), 16);
        assert!(verified.pcrs().values().all(|pcr| pcr.len() == 48));
        assert!(verified.pcr(0).unwrap().iter().any(|b| *b != 0));
    }
    let v2025 = verify(&vector(PROD_2025.0), &Policy::strict(), at_ms(PROD_2025.1)).unwrap();
    assert_eq!(v2025.module_id(), "i-0bee92034f3d60691-enc01943c5eaab3ad6a");
    assert_eq!(v2025.public_key().map(<[u8]>::len), Some(294));
    let v2021 = verify(&vector(PROD_2021.0), &Policy::strict(), at_ms(PROD_2021.1)).unwrap();
    assert_eq!(v2021.module_id(), "i-078824548edcf6519-enc01784234ec227b58");
    assert_eq!(v2021.public_key(), None);
    assert_eq!(v2021.nonce(), None);
}

#[test]
fn the_pinned_fingerprint_is_the_published_root() {
    let pem = std::fs::read(support::nitro_dir().join("aws-nitro-enclaves-root-g1.pem")).unwrap();
    let root = Certificate::from_pem(&pem).unwrap();
    let der = x509_cert::der::Encode::to_der(&root).unwrap();
    assert_eq!(
        RootFingerprint::of_certificate(&der),
        RootFingerprint::AWS_NITRO_ROOT_G1
    );
    assert_eq!(
        RootFingerprint::from_hex(
            "64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B"
        )
        .unwrap(),
        RootFingerprint::AWS_NITRO_ROOT_G1
    );
    // And it is cabundle[0] of every document.
    for (name, _) in [PROD_2025, PROD_2021, DEBUG_2024] {
        let doc = AttestationDocument::parse(&vector(name)).unwrap();
        assert_eq!(doc.cabundle()[0], der, "{name}");
    }
}

#[test]
fn tagged_cose_sign1_is_accepted_too() {
    let mut tagged = vec![0xd2]; // tag 18
    tagged.extend_from_slice(&vector(PROD_2025.0));
    verify_2025(&tagged, &Policy::strict()).unwrap();
}

#[test]
fn flipped_byte_in_payload_is_refused() {
    let bytes = vector(PROD_2025.0);
    let doc = AttestationDocument::parse(&bytes).unwrap();
    // A byte inside PCR1's value: the CBOR stays well formed, only the signature can notice.
    let at = find(&bytes, &doc.pcrs()[&1]) + 10;
    assert_eq!(
        verify_2025(&flip(&bytes, at), &Policy::strict()),
        Err(AttestationError::DocumentSignature)
    );
    // The module id, likewise.
    let at = find(&bytes, doc.module_id().as_bytes()) + 5;
    assert_eq!(
        verify_2025(&flip(&bytes, at), &Policy::strict()),
        Err(AttestationError::DocumentSignature)
    );
}

#[test]
fn flipped_byte_in_signature_is_refused() {
    let bytes = vector(PROD_2025.0);
    for at in [bytes.len() - 1, bytes.len() - 60] {
        assert_eq!(
            verify_2025(&flip(&bytes, at), &Policy::strict()),
            Err(AttestationError::DocumentSignature)
        );
    }
}

#[test]
fn flipped_byte_in_a_certificate_is_refused() {
    let bytes = vector(PROD_2025.0);
    let doc = AttestationDocument::parse(&bytes).unwrap();
    let leaf = leaf_position(&doc);

    // Leaf: a character of the subject CN (the module id) inside the certificate's TBS.
    let leaf_start = find(&bytes, doc.certificate());
    let cn = find(doc.certificate(), doc.module_id().as_bytes()) + 3;
    assert_eq!(
        verify_2025(&flip(&bytes, leaf_start + cn), &Policy::strict()),
        Err(AttestationError::CertificateSignature { position: leaf })
    );

    // Each intermediate: the last byte of its signature value, then a byte of its TBS (its
    // subject key identifier area, well inside the TBS).
    for position in 1..doc.cabundle().len() {
        let cert = &doc.cabundle()[position];
        let start = find(&bytes, cert);
        let tampered = flip(&bytes, start + cert.len() - 1);
        assert_eq!(
            verify_2025(&tampered, &Policy::strict()),
            Err(AttestationError::CertificateSignature { position }),
            "signature of cabundle[{position}]"
        );
        let parsed = Certificate::from_der(cert).unwrap();
        let serial = parsed.tbs_certificate().serial_number().as_bytes();
        let at = start + find(cert, serial) + serial.len() - 1;
        assert_eq!(
            verify_2025(&flip(&bytes, at), &Policy::strict()),
            Err(AttestationError::CertificateSignature { position }),
            "serial of cabundle[{position}]"
        );
    }

    // Root: any change breaks the pin.
    let root_start = find(&bytes, &doc.cabundle()[0]);
    assert_eq!(
        verify_2025(&flip(&bytes, root_start + 100), &Policy::strict()),
        Err(AttestationError::UntrustedRoot)
    );
}

#[test]
fn wrong_pinned_root_is_refused() {
    let bytes = vector(PROD_2025.0);
    let mut other = *RootFingerprint::AWS_NITRO_ROOT_G1.as_bytes();
    other[31] ^= 1;
    let policy = Policy::strict().with_root(RootFingerprint::from_bytes(other));
    assert_eq!(
        verify_2025(&bytes, &policy),
        Err(AttestationError::UntrustedRoot)
    );
}

#[test]
fn time_outside_certificate_validity_is_refused() {
    let bytes = vector(PROD_2025.0);
    let doc = AttestationDocument::parse(&bytes).unwrap();
    let leaf = leaf_position(&doc);
    let validity = *Certificate::from_der(doc.certificate())
        .unwrap()
        .tbs_certificate()
        .validity();
    let not_before = validity.not_before.to_system_time();
    let not_after = validity.not_after.to_system_time();
    let second = Duration::from_secs(1);

    // The boundaries themselves are inside.
    verify(&bytes, &Policy::strict(), not_before).unwrap();
    verify(&bytes, &Policy::strict(), not_after).unwrap();

    assert_eq!(
        verify(&bytes, &Policy::strict(), not_before - second),
        Err(AttestationError::CertificateNotYetValid { position: leaf })
    );
    assert_eq!(
        verify(&bytes, &Policy::strict(), not_after + second),
        Err(AttestationError::CertificateExpired { position: leaf })
    );
    // Long after, the first certificate to fail in chain order is an intermediate; after 2049
    // the root itself.
    let year_2050 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_524_608_000);
    assert_eq!(
        verify(&bytes, &Policy::strict(), year_2050),
        Err(AttestationError::CertificateExpired { position: 0 })
    );
    // Today (or any time): the 2021 document's certificates expired long ago.
    assert!(matches!(
        verify(&vector(PROD_2021.0), &Policy::strict(), SystemTime::now()),
        Err(AttestationError::CertificateExpired { .. })
    ));
}

#[test]
fn expected_pcrs_are_enforced() {
    let bytes = vector(PROD_2025.0);
    let doc = AttestationDocument::parse(&bytes).unwrap();
    let pcrs = doc.pcrs().clone();

    let exact = [0u8, 1, 2, 8]
        .into_iter()
        .fold(Policy::strict(), |policy, index| {
            policy.expect_pcr(index, pcrs[&index].clone())
        });
    verify_2025(&bytes, &exact).unwrap();

    for index in [0u8, 1, 2, 8] {
        let mut wrong = pcrs[&index].clone();
        wrong[47] ^= 1;
        let policy = exact.clone().expect_pcr(index, wrong);
        assert_eq!(
            verify_2025(&bytes, &policy),
            Err(AttestationError::PcrMismatch { index })
        );
    }
    // A truncated expected value is a mismatch, not a prefix match.
    let policy = Policy::strict().expect_pcr(0, pcrs[&0][..32].to_vec());
    assert_eq!(
        verify_2025(&bytes, &policy),
        Err(AttestationError::PcrMismatch { index: 0 })
    );
    // A PCR the document does not carry.
    let policy = Policy::strict().expect_pcr(20, vec![0; 48]);
    assert_eq!(
        verify_2025(&bytes, &policy),
        Err(AttestationError::PcrMismatch { index: 20 })
    );
}

#[test]
fn debug_mode_document_is_refused_unless_allowed() {
    let bytes = vector(DEBUG_2024.0);
    let at = at_ms(DEBUG_2024.1);
    assert_eq!(
        verify(&bytes, &Policy::strict(), at),
        Err(AttestationError::DebugEnclave)
    );

    let verified = verify(&bytes, &Policy::strict().danger_allow_debug(), at).unwrap();
    assert!(verified.is_debug());
    assert!(verified.pcr(0).unwrap().iter().all(|b| *b == 0));
    assert_eq!(verified.user_data(), Some(&b"Hello World!\n"[..]));
    assert_eq!(verified.nonce(), Some(&b"Nonce\n"[..]));
    assert_eq!(verified.public_key().map(<[u8]>::len), Some(294));
    assert_eq!(
        verified.module_id(),
        "i-0e4fe5de7ee5abe78-enc018d3cadd7d66279"
    );
}

#[test]
fn nonce_is_enforced_when_required() {
    let debug = vector(DEBUG_2024.0);
    let at = at_ms(DEBUG_2024.1);
    let allow = Policy::strict().danger_allow_debug();
    verify(&debug, &allow.clone().require_nonce(&b"Nonce\n"[..]), at).unwrap();
    assert_eq!(
        verify(&debug, &allow.clone().require_nonce(&b"Nonce!"[..]), at),
        Err(AttestationError::NonceMismatch)
    );
    assert_eq!(
        verify(&debug, &allow.require_nonce(&b"Nonce"[..]), at),
        Err(AttestationError::NonceMismatch)
    );
    // The 2021 document carries no nonce.
    assert_eq!(
        verify(
            &vector(PROD_2021.0),
            &Policy::strict().require_nonce(vec![1; 32]),
            at_ms(PROD_2021.1)
        ),
        Err(AttestationError::NonceMissing)
    );
}

#[test]
fn timestamp_freshness_is_enforced() {
    let bytes = vector(PROD_2025.0);
    let made = at_ms(PROD_2025.1);
    let minute = Duration::from_secs(60);
    let fresh = Policy::strict().with_max_age(minute);
    verify(&bytes, &fresh, made + minute).unwrap();
    assert_eq!(
        verify(&bytes, &fresh, made + 2 * minute),
        Err(AttestationError::Stale)
    );
    // The leaf is valid from 3 s before the document time: with no skew allowed, verifying at
    // that instant sees a document from the future.
    let policy = Policy::strict().with_clock_skew(Duration::ZERO);
    assert_eq!(
        verify(&bytes, &policy, made - Duration::from_secs(2)),
        Err(AttestationError::TimestampInFuture)
    );
}

#[test]
fn malformed_and_foreign_algorithm_documents_are_refused() {
    let bytes = vector(PROD_2025.0);
    // Protected header {1: -36} (ES512) instead of {1: -35}.
    assert_eq!(&bytes[..6], &[0x84, 0x44, 0xa1, 0x01, 0x38, 0x22]);
    let mut es512 = bytes.clone();
    es512[5] = 0x23;
    assert!(matches!(
        verify_2025(&es512, &Policy::strict()),
        Err(AttestationError::UnsupportedAlgorithm(_))
    ));
    // Truncated, empty, trailing garbage, oversized.
    for bad in [
        &bytes[..bytes.len() - 1],
        &[][..],
        &[bytes.as_slice(), &[0]].concat()[..],
    ] {
        assert!(matches!(
            verify_2025(bad, &Policy::strict()),
            Err(AttestationError::Malformed(_))
        ));
    }
    assert!(matches!(
        verify_2025(&vec![0u8; 20_000], &Policy::strict()),
        Err(AttestationError::Malformed(_))
    ));
    // Digest "SHA384" renamed to "SHA256" (same length): refused as an algorithm, before any
    // signature is looked at.
    let at = find(&bytes, b"SHA384");
    let mut sha256 = bytes.clone();
    sha256[at + 3..at + 6].copy_from_slice(b"256");
    assert!(matches!(
        verify_2025(&sha256, &Policy::strict()),
        Err(AttestationError::UnsupportedAlgorithm(_))
    ));
}

/// Every single-byte alteration of a whole document (COSE structure, payload, certificates,
/// signature) is refused. One test per document so the harness runs them side by side.
fn every_single_byte_alteration_is_refused(name: &str, ms: u64, policy: &Policy) {
    let bytes = vector(name);
    verify(&bytes, policy, at_ms(ms)).unwrap();
    for index in 0..bytes.len() {
        assert!(
            verify(&flip(&bytes, index), policy, at_ms(ms)).is_err(),
            "{name}: flipping byte {index} was accepted"
        );
    }
}

#[test]
fn every_single_byte_alteration_of_the_2025_document_is_refused() {
    every_single_byte_alteration_is_refused(PROD_2025.0, PROD_2025.1, &Policy::strict());
}

#[test]
fn every_single_byte_alteration_of_the_2021_document_is_refused() {
    every_single_byte_alteration_is_refused(PROD_2021.0, PROD_2021.1, &Policy::strict());
}

#[test]
fn every_single_byte_alteration_of_the_debug_document_is_refused() {
    // Debug allowed, so that only the alteration can cause the refusal.
    let policy = Policy::strict().danger_allow_debug();
    every_single_byte_alteration_is_refused(DEBUG_2024.0, DEBUG_2024.1, &policy);
}

#[test]
fn truncated_empty_and_oversized_documents_are_refused() {
    let verifier = ok2cry_attestation::Verifier::strict();
    for (name, ms) in [PROD_2025, PROD_2021, DEBUG_2024] {
        let bytes = vector(name);
        for len in 0..bytes.len() {
            assert!(
                verifier.verify(&bytes[..len], at_ms(ms)).is_err(),
                "{name}: a {len}-byte prefix was accepted"
            );
        }
    }
    assert!(matches!(
        verifier.verify(&[], at_ms(PROD_2025.1)),
        Err(AttestationError::Malformed(_))
    ));
    let mut oversized = vector(PROD_2025.0);
    oversized.resize(ok2cry_attestation::MAX_EVIDENCE_LEN + 1, 0);
    assert!(matches!(
        verifier.verify(&oversized, at_ms(PROD_2025.1)),
        Err(AttestationError::Malformed(_))
    ));
    // The platform-neutral verifier says which kind it verified; one without a Nitro policy
    // refuses Nitro documents.
    let verified = verifier
        .verify(&vector(PROD_2025.0), at_ms(PROD_2025.1))
        .unwrap();
    assert_eq!(verified.platform(), ok2cry_attestation::Platform::Nitro);
    assert_eq!(
        verified.as_nitro().map(VerifiedAttestation::module_id),
        Some("i-0bee92034f3d60691-enc01943c5eaab3ad6a")
    );
    assert_eq!(
        ok2cry_attestation::Verifier::new()
            .with_sev_snp(ok2cry_attestation::sev_snp::SevSnpPolicy::strict())
            .verify(&vector(PROD_2025.0), at_ms(PROD_2025.1)),
        Err(AttestationError::PlatformNotAllowed("AWS Nitro Enclaves"))
    );
}
