//! Public keys in every form a party receives them: a JWK, a JWK set, an SPKI PEM or DER,
//! SEC1 bytes; and the private scalar of a key file (what `ok2cry open --key-file` reads).
//!
//! For every key that parses: its JWK, SPKI and SEC1 forms parse back to the same key, and
//! its RFC 7638 thumbprint is the same through each. Mode (first byte) % 4 picks the form.

use ok2cry_client::{Jwks, PrivateKey, PublicJwk, PublicKey};

/// The target.
pub fn run(data: &[u8]) {
    let Some((mode, rest)) = crate::input::mode(data) else {
        return;
    };
    match mode % 4 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(jwk) = serde_json::from_str::<PublicJwk>(text)
                && let Ok(key) = jwk.to_public_key()
            {
                check(&key);
                assert_eq!(jwk.thumbprint(), key.thumbprint());
            }
            if let Ok(jwks) = Jwks::from_json(text) {
                for jwk in &jwks.keys {
                    if let Some(kid) = &jwk.kid {
                        assert!(jwks.find(kid).is_some());
                    }
                    if let Ok(key) = jwk.to_public_key() {
                        check(&key);
                    }
                }
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(rest)
                && let Ok(key) = PublicKey::from_spki_pem(text)
            {
                check(&key);
            }
        }
        2 => {
            if let Ok(key) = PublicKey::from_spki_der(rest) {
                check(&key);
            }
            if let Ok(key) = PublicKey::from_sec1_uncompressed(rest) {
                check(&key);
            }
        }
        _ => {
            // The private part of a key file: exactly 32 bytes in [1, n).
            if let Ok(private) = PrivateKey::from_secret_bytes(rest) {
                assert_eq!(private.to_secret_bytes().as_slice(), rest);
                check(&private.public_key());
            }
        }
    }
}

fn check(key: &PublicKey) {
    let jwk = key.to_jwk();
    assert_eq!(jwk.to_public_key().as_ref(), Ok(key));
    let json = serde_json::to_string(&jwk).unwrap_or_default();
    let reparsed: Result<PublicJwk, _> = serde_json::from_str(&json);
    assert_eq!(reparsed.ok().as_ref(), Some(&jwk));
    let sec1 = key.to_sec1_uncompressed();
    assert_eq!(PublicKey::from_sec1_uncompressed(&sec1).as_ref(), Ok(key));
    if let Ok(pem) = key.to_spki_pem() {
        assert_eq!(PublicKey::from_spki_pem(&pem).as_ref(), Ok(key));
    }
    assert_eq!(jwk.thumbprint(), key.thumbprint());
}
