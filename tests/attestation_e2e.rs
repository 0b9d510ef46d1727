//! End to end with the development attestation provider: attestation → JWKS binding → a key
//! token verified through that chain; the same chain refuses a JWKS key that is not bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64ct::{Base64, Encoding};
use common::{TestServer, get, problem};
use ok2cry_attestation::{AttestationError, Policy, RootFingerprint, verify, verify_binding};
use ok2cry_client::{Jwks, KeyToken};
use serde_json::{Value, json};
use std::time::SystemTime;

#[tokio::test]
async fn attestation_binds_the_signing_keys_that_sign_key_tokens() {
    let server = TestServer::start().await;
    let c = server.client("card-api");
    let nonce = [7u8; 32];
    let r: Value = get(
        &c,
        server.url(&format!("/v1/attestation?nonce={}", hex::encode(nonce))),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["provider"], "development");
    let document = Base64::decode_vec(r["document"].as_str().unwrap()).unwrap();
    let dev_root = Base64::decode_vec(r["dev_root_certificate"].as_str().unwrap()).unwrap();

    // A strict policy (the pinned AWS root, no debug) refuses the development document.
    assert!(verify(&document, &Policy::strict(), SystemTime::now()).is_err());
    // The relying party opts in to the dev root and debug mode explicitly.
    let policy = Policy::strict()
        .with_root(RootFingerprint::of_certificate(&dev_root))
        .danger_allow_debug()
        .require_nonce(nonce.to_vec());
    let attested = verify(&document, &policy, SystemTime::now()).unwrap();
    // A wrong nonce is refused.
    let stale = Policy::strict()
        .with_root(RootFingerprint::of_certificate(&dev_root))
        .danger_allow_debug()
        .require_nonce(vec![8u8; 32]);
    assert!(verify(&document, &stale, SystemTime::now()).is_err());

    // The JWKS as fetched, and the audit key, must be exactly what the document commits to.
    let jwks: Jwks = get(&c, server.url("/.well-known/jwks.json"))
        .await
        .json()
        .await
        .unwrap();
    let thumbprints: Vec<String> = jwks.keys.iter().map(|k| k.thumbprint()).collect();
    let audit_key: Value = get(&server.client("auditor"), server.url("/v1/audit/key"))
        .await
        .json()
        .await
        .unwrap();
    let audit_sha =
        ok2cry::api::audit_key_spki_sha256(audit_key["public_key_pem"].as_str().unwrap()).unwrap();

    // A key token, verified through the chain: document → JWKS → token.
    let key: Value = c
        .post(server.url("/v1/keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = KeyToken::parse(key["token"].as_str().unwrap())
        .unwrap()
        .verify(&jwks, now)
        .unwrap();
    verify_binding(&attested, &thumbprints, &audit_sha, verified.signing_kid()).unwrap();

    // A JWKS key that is not bound: an extra key in the set, or a token signed by another key.
    let mut tampered = thumbprints.clone();
    tampered.push(ok2cry_client::TokenSigner::generate().kid().to_owned());
    assert_eq!(
        verify_binding(&attested, &tampered, &audit_sha, verified.signing_kid()),
        Err(AttestationError::BindingMismatch)
    );
    let outsider = ok2cry_client::TokenSigner::generate();
    assert_eq!(
        verify_binding(&attested, &thumbprints, &audit_sha, outsider.kid()),
        Err(AttestationError::KeyNotCommitted)
    );
    // Another audit key is not bound either.
    assert_eq!(
        verify_binding(&attested, &thumbprints, &[0u8; 32], verified.signing_kid()),
        Err(AttestationError::BindingMismatch)
    );

    // The client crate's proof type does the same: a JWKS trusted only through the document.
    let attested =
        ok2cry_client::attested::AttestedJwks::new(jwks.clone(), attested.clone(), &audit_sha)
            .unwrap();
    attested
        .verify_token(key["token"].as_str().unwrap(), now)
        .unwrap();
    let mut extra = jwks.clone();
    extra.keys.push(outsider.public_jwk());
    assert!(
        ok2cry_client::attested::AttestedJwks::new(
            extra,
            attested.attestation().clone(),
            &audit_sha
        )
        .is_err()
    );

    problem(get(&c, server.url("/v1/attestation")).await, 400).await;
    problem(get(&c, server.url("/v1/attestation?nonce=zz")).await, 400).await;
    server.stop().await;
}
