//! Nitro attestation documents (`ok2cry_attestation`): COSE_Sign1, the CBOR payload, the
//! certificate chain, the policy; what `ok2cry attest verify` and the client's `attestation`
//! feature read.
//!
//! Mode (first byte) even: the rest is a document, verified against the pinned AWS Nitro root
//! at the time the document claims (debug allowed), so real documents (the seeds come from
//! `../shared/vectors/nitro/`) get through the chain checks and the fuzzer mutates from there.
//! Odd: the rest is a CBOR payload; the harness puts its own P-384 chain in it
//! (`certificate`, `cabundle`), signs it as a COSE_Sign1 with the chain's leaf key, and
//! verifies against that root, so the payload fields and the policy checks behind the
//! signature are fuzzed. With bit 1 of the mode set, the harness also writes [`NONCE`] into
//! the payload and the policy requires it (a fuzzer cannot guess a nonce compared in
//! constant time). A verified document must satisfy the policy it passed.

use crate::fixtures::setup;
use ciborium::value::Value;
use ok2cry_attestation::cose::{CoseSign1, es384_protected_header, sig_structure};
use ok2cry_attestation::{AttestationDocument, Policy, RootFingerprint, verify, verify_binding};
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use p384::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P384_SHA384,
};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The nonce the harness writes and requires when bit 1 of the mode is set.
pub const NONCE: [u8; 8] = *b"fuzznonc";

struct Chain {
    root_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key: SigningKey,
    /// The verification time of the odd mode: when the chain was made.
    at: SystemTime,
}

/// A root and a leaf, P-384, shaped like the Nitro ones (and like the development
/// provider's): made once per process.
static CHAIN: LazyLock<Chain> = LazyLock::new(|| {
    let now = time::OffsetDateTime::now_utc();
    let params = |cn: &str, ca: bool| {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.not_before = now - time::Duration::hours(1);
        p.not_after = now + time::Duration::days(365);
        if ca {
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        p
    };
    let root_key = setup(KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384), "root key");
    let root_params = params("ok2cry fuzz attestation root", true);
    let root = setup(root_params.self_signed(&root_key), "root");
    let issuer = Issuer::new(root_params, root_key);
    let leaf_key = setup(KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384), "leaf key");
    let leaf = setup(
        params("ok2cry-fuzz-enclave", false).signed_by(&leaf_key, &issuer),
        "leaf",
    );
    Chain {
        root_der: root.der().to_vec(),
        leaf_der: leaf.der().to_vec(),
        leaf_key: setup(
            SigningKey::from_pkcs8_der(&leaf_key.serialize_der()),
            "leaf key as p384",
        ),
        at: SystemTime::now(),
    }
});

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::input::mode(data) else {
        return;
    };
    if mode % 2 == 0 {
        as_received(rest);
    } else {
        signed_payload(rest, mode & 2 != 0);
    }
}

fn as_received(document: &[u8]) {
    let _ = CoseSign1::parse(document);
    let Ok(parsed) = AttestationDocument::parse(document) else {
        return;
    };
    let at = UNIX_EPOCH + Duration::from_millis(parsed.timestamp_ms());
    let policy = Policy::strict().danger_allow_debug();
    if let Ok(verified) = verify(document, &policy, at) {
        assert_eq!(verified.module_id(), parsed.module_id());
        assert_eq!(verified.pcrs(), parsed.pcrs());
        assert_eq!(verified.timestamp_ms(), parsed.timestamp_ms());
    }
}

/// Puts the harness chain (and, with `nonce`, the nonce) into `payload` (a CBOR map;
/// anything else is signed as it is), signs it, verifies it.
fn signed_payload(payload: &[u8], nonce: bool) {
    let chain = &*CHAIN;
    let payload = match ciborium::de::from_reader::<Value, _>(payload) {
        Ok(Value::Map(mut entries)) => {
            set(
                &mut entries,
                "certificate",
                Value::Bytes(chain.leaf_der.clone()),
            );
            set(
                &mut entries,
                "cabundle",
                Value::Array(vec![Value::Bytes(chain.root_der.clone())]),
            );
            if nonce {
                set(&mut entries, "nonce", Value::Bytes(NONCE.to_vec()));
            }
            let mut out = Vec::new();
            setup(
                ciborium::ser::into_writer(&Value::Map(entries), &mut out),
                "CBOR",
            );
            out
        }
        _ => payload.to_vec(),
    };
    let protected = setup(es384_protected_header(), "protected header");
    let to_be_signed = setup(sig_structure(&protected, &payload), "Sig_structure");
    let signature: Signature = chain.leaf_key.sign(&to_be_signed);
    let document = CoseSign1 {
        protected,
        payload,
        signature: signature.to_bytes().to_vec(),
    };
    let bytes = setup(document.to_vec(), "COSE_Sign1");
    let mut policy = Policy::strict()
        .with_root(RootFingerprint::of_certificate(&chain.root_der))
        .danger_allow_debug();
    if nonce {
        policy = policy.require_nonce(NONCE.to_vec());
    }
    if let Ok(verified) = verify(&bytes, &policy, chain.at) {
        if nonce {
            assert_eq!(verified.nonce(), Some(&NONCE[..]));
        }
        let made = UNIX_EPOCH + Duration::from_millis(verified.timestamp_ms());
        assert!(made <= chain.at + Duration::from_secs(60));
        let pcr0 = verified.pcr(0);
        assert!(pcr0.is_some(), "a verified document without PCR0");
        let zeros = pcr0.is_some_and(|p| p.iter().all(|b| *b == 0));
        assert_eq!(verified.is_debug(), zeros);
        let _ = verify_binding(&verified, &["t".to_owned()], &[0u8; 32], "t");
    }
}

fn set(entries: &mut Vec<(Value, Value)>, name: &str, value: Value) {
    entries.retain(|(k, _)| !matches!(k, Value::Text(t) if t == name));
    entries.push((Value::Text(name.to_owned()), value));
}
