//! Bearer JWTs (`ok2cry::auth::bearer::BearerVerifier`), the fallback authentication of partners
//! without mTLS: what arrives in `Authorization: Bearer …`.
//!
//! Mode (first byte) even: the rest is the token. Odd: the rest is
//! `header JSON ‖ 0x00 ‖ claims JSON`, signed by the harness with the partner key registered
//! under (`partner`, `k1`), so audience, lifetime, time and `jti` checks are fuzzed too. A
//! verifier is made per input, so the replay cache does not carry over between inputs.
//! A token that verifies must name the registered partner, be unexpired, and be refused as a
//! replay the second time.

use crate::fixtures::{p256_key, p256_spki_pem, setup};
use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry::auth::bearer::{BearerError, BearerSettings, BearerVerifier};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::sync::LazyLock;

/// The service's id, the only `aud` accepted.
pub const AUDIENCE: &str = "https://ok2cry.fuzz";
/// Verification time (Unix seconds), 2027-01-15.
pub const NOW: u64 = 1_800_000_000;
const SKEW: u64 = 5;

static PARTNER: LazyLock<(SigningKey, String)> = LazyLock::new(|| {
    let key = p256_key("ok2cry fuzz: bearer partner key");
    let pem = p256_spki_pem(&key);
    (key, pem)
});

/// `b64(header).b64(claims).b64(signature)` with the registered partner key.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header),
        Base64UrlUnpadded::encode_string(claims)
    );
    let signature: Signature = PARTNER.0.sign(input.as_bytes());
    format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&signature.to_bytes())
    )
}

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::input::mode(data) else {
        return;
    };
    let token = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        let (header, claims) = match rest.iter().position(|b| *b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        sign(header, claims)
    };
    let mut verifier = BearerVerifier::new(BearerSettings {
        audience: AUDIENCE.into(),
        max_lifetime_secs: 60,
        clock_skew_secs: SKEW,
    });
    setup(verifier.add_key("partner", "k1", &PARTNER.1), "partner key");
    if let Ok(verified) = verifier.verify(&token, NOW) {
        assert_eq!(verified.sub, "partner");
        assert!(verified.exp + SKEW > NOW);
        assert!(!verified.jti.is_empty() && verified.jti.len() <= 256);
        assert_eq!(verifier.verify(&token, NOW), Err(BearerError::Replayed));
    }
}
