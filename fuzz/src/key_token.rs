//! Key tokens (JWS compact, ES256): `KeyToken::parse`, then `verify` against the protocol
//! vectors' JWK set at the vectors' time.
//!
//! Mode (first byte) even: the rest is a token as received. Odd: the rest is
//! `header JSON ‖ 0x00 ‖ claims JSON`, which the harness encodes and signs with the vectors'
//! service signing key, so the checks behind the signature (claims, suite, lifetime, the JWK
//! inside) are fuzzed too. Both providers must agree on every verification.

use crate::fixtures::{VECTORS, setup, text, unhex};
use base64ct::{Base64UrlUnpadded, Encoding};
use ok2cry_client::provider::{AWS_LC, RUST_CRYPTO};
use ok2cry_client::{Jwks, KeyToken};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::sync::LazyLock;

struct Fixture {
    jwks: Jwks,
    now: u64,
    signer: SigningKey,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let vector = &VECTORS["key_token"];
    Fixture {
        jwks: setup(serde_json::from_value(vector["jwks"].clone()), "jwks"),
        now: setup(vector["now"].as_u64().ok_or("now"), "now"),
        signer: setup(
            SigningKey::from_slice(&unhex(text(vector, "signing_sk"))),
            "signing_sk",
        ),
    }
});

/// `b64(header).b64(claims).b64(ES256 signature)` with the vectors' signing key.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header),
        Base64UrlUnpadded::encode_string(claims)
    );
    let signature: Signature = FIXTURE.signer.sign(input.as_bytes());
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
    let Ok(parsed) = KeyToken::parse(&token) else {
        return;
    };
    let fixture = &*FIXTURE;
    let rust = parsed.verify_with(&RUST_CRYPTO, &fixture.jwks, fixture.now);
    let aws = parsed.verify_with(&AWS_LC, &fixture.jwks, fixture.now);
    assert_eq!(rust, aws);
    if let Ok(key) = rust {
        assert_eq!(key.key_id(), parsed.key_id_unverified());
        assert_eq!(key.token(), parsed.as_str());
        assert!(key.expires_at() > fixture.now);
        assert!(key.max_opens() > 0);
        // A verified key's public key is a valid point: sealing to it works.
        assert!(ok2cry_client::Envelope::seal(&key, b"fuzz").is_ok());
    }
}
