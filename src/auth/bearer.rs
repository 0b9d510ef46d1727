//! Bearer JWT fallback for parties without mTLS (DESIGN.md §3 "Authentication").
//!
//! A partner signs a short-lived JWT with an ES256 key registered at onboarding. The service
//! accepts it only if, in this order:
//! 1. it is a three-part JWS compact of at most [`MAX_TOKEN_LEN`] bytes, read by the
//!    workspace's one strict JWS reader (`ok2cry_client::jws`, shared with key tokens): a
//!    header of `alg`, `kid` and optionally `typ` only (`crit`, `jku`, `jwk`, `x5u`, `x5c` or a
//!    member given twice are refused), `alg` exactly `ES256` (none, HS256, RS256, ES384 … are
//!    refused), a `kid`, and claims of strict JSON;
//! 2. the key registered for (`sub`, `kid`) exists (several keys per partner allow rotation);
//! 3. the signature verifies;
//! 4. `aud` equals the service's id (a string, or an array holding it);
//! 5. `iat` and `exp` are present, `exp - iat` is at most the configured lifetime (≤ 60 s),
//!    `iat` and `nbf` are not in the future beyond a small skew, and `exp` has not passed;
//! 6. its `jti` has not been seen before within its lifetime (replay refused).
//!
//! Only then does it become a [`VerifiedBearer`], the one type handlers can turn into a
//! principal.
//!
//! Layer: auth. Owns bearer token verification; it must not know keys or routes.

use ok2cry_client::PublicKey;
use ok2cry_client::jws::{Compact, JwsError};
use ok2cry_client::provider::CryptoProvider;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// The longest lifetime (`exp - iat`) the service ever accepts.
pub const MAX_LIFETIME_SECS: u64 = 60;
/// The longest bearer token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Why a bearer token was refused. The texts are safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// Not a JWS compact with JSON header and claims.
    #[error("malformed bearer token: {0}")]
    Malformed(&'static str),
    /// `alg` is not ES256.
    #[error("bearer token algorithm refused: only ES256 is accepted")]
    Algorithm,
    /// No key is registered for this `sub` and `kid`.
    #[error("no key registered for this subject and kid")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bearer token signature does not verify")]
    BadSignature,
    /// `aud` is not this service.
    #[error("bearer token audience is not this service")]
    WrongAudience,
    /// `exp - iat` is too long.
    #[error("bearer token lifetime exceeds {0} seconds")]
    LifetimeTooLong(u64),
    /// `exp` has passed.
    #[error("bearer token expired")]
    Expired,
    /// `iat` or `nbf` is in the future.
    #[error("bearer token not yet valid")]
    NotYetValid,
    /// The `jti` was used before.
    #[error("bearer token replayed (jti seen before)")]
    Replayed,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    aud: Audience,
    iat: u64,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    jti: String,
}

/// A bearer token whose every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBearer {
    /// The partner (principal id).
    pub sub: String,
    /// The token id.
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Settings of the verifier.
#[derive(Debug, Clone)]
pub struct BearerSettings {
    /// The service's id: the only `aud` accepted.
    pub audience: String,
    /// Longest `exp - iat` accepted (at most [`MAX_LIFETIME_SECS`]).
    pub max_lifetime_secs: u64,
    /// Clock skew tolerated for `iat`/`nbf` in the future and `exp` in the past.
    pub clock_skew_secs: u64,
}

/// Verifies partners' bearer JWTs.
pub struct BearerVerifier {
    settings: BearerSettings,
    keys: HashMap<(String, String), PublicKey>,
    /// ES256 verification (AWS-LC, as for every other signature the service checks).
    provider: &'static dyn CryptoProvider,
    seen: moka::sync::Cache<(String, String), ()>,
}

impl BearerVerifier {
    /// A verifier with no keys yet.
    pub fn new(mut settings: BearerSettings) -> Self {
        settings.max_lifetime_secs = settings.max_lifetime_secs.clamp(1, MAX_LIFETIME_SECS);
        // A jti must be remembered as long as a token carrying it could still be accepted.
        let remember =
            Duration::from_secs(settings.max_lifetime_secs + 2 * settings.clock_skew_secs + 1);
        Self {
            settings,
            keys: HashMap::new(),
            provider: &ok2cry_client::provider::AWS_LC,
            seen: moka::sync::Cache::builder()
                .time_to_live(remember)
                .max_capacity(10_000_000)
                .build(),
        }
    }

    /// Registers a partner key (SPKI PEM) under `sub` and `kid`.
    pub fn add_key(&mut self, sub: &str, kid: &str, spki_pem: &str) -> Result<(), BearerError> {
        let key = PublicKey::from_spki_pem(spki_pem.trim())
            .map_err(|_| BearerError::Malformed("partner key is not a P-256 SPKI PEM"))?;
        self.keys.insert((sub.to_owned(), kid.to_owned()), key);
        Ok(())
    }

    /// Number of registered keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Verifies `token` at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<VerifiedBearer, BearerError> {
        // The one strict JWS reader of the workspace (ok2cry_client::jws): the form, the
        // header (alg, kid, typ only), then ES256 with the registered key.
        let jws = Compact::parse(token, MAX_TOKEN_LEN).map_err(|e| {
            BearerError::Malformed(match e {
                JwsError::TooLong => "too long",
                JwsError::Parts => "expected three dot-separated parts",
                JwsError::Base64(_) => "a part is not base64url",
                _ => "header: members alg, kid and typ only, each once",
            })
        })?;
        if jws.header().alg != ok2cry_client::jws::ES256 {
            return Err(BearerError::Algorithm);
        }
        let kid = jws
            .header()
            .kid
            .clone()
            .ok_or(BearerError::Malformed("kid missing"))?;
        // Strict JSON (no member twice) before serde reads the claims.
        let payload = jws.payload_unverified();
        if ok2cry_client::json::parse(payload).is_none() {
            return Err(BearerError::Malformed("claims"));
        }
        let claims: Claims =
            serde_json::from_slice(payload).map_err(|_| BearerError::Malformed("claims"))?;
        let key = self
            .keys
            .get(&(claims.sub.clone(), kid))
            .ok_or(BearerError::UnknownKey)?;
        jws.verify_es256(self.provider, key)
            .map_err(|_| BearerError::BadSignature)?;

        let audience_ok = match &claims.aud {
            Audience::One(a) => *a == self.settings.audience,
            Audience::Many(all) => all.contains(&self.settings.audience),
        };
        if !audience_ok {
            return Err(BearerError::WrongAudience);
        }
        let skew = self.settings.clock_skew_secs;
        if claims.exp <= claims.iat || claims.exp - claims.iat > self.settings.max_lifetime_secs {
            return Err(BearerError::LifetimeTooLong(
                self.settings.max_lifetime_secs,
            ));
        }
        if claims.iat > now + skew || claims.nbf.is_some_and(|nbf| nbf > now + skew) {
            return Err(BearerError::NotYetValid);
        }
        if now >= claims.exp + skew {
            return Err(BearerError::Expired);
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(BearerError::Malformed("jti must be 1 to 256 characters"));
        }
        // Insert-if-absent is atomic per key: of two concurrent uses of one jti, one wins.
        let entry = self
            .seen
            .entry((claims.sub.clone(), claims.jti.clone()))
            .or_insert(());
        if !entry.is_fresh() {
            return Err(BearerError::Replayed);
        }
        Ok(VerifiedBearer {
            sub: claims.sub,
            jti: claims.jti,
            exp: claims.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::elliptic_curve::Generate;
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn b64(v: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(v)
    }

    fn jwt(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }

    fn setup() -> (BearerVerifier, SigningKey) {
        let key = SigningKey::generate();
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let mut v = BearerVerifier::new(BearerSettings {
            audience: "ok2cry-test".into(),
            max_lifetime_secs: 60,
            clock_skew_secs: 5,
        });
        v.add_key("partner-a", "k1", &pem).unwrap();
        (v, key)
    }

    fn claims(jti: &str) -> serde_json::Value {
        json!({"sub": "partner-a", "aud": "ok2cry-test", "iat": NOW, "exp": NOW + 30, "jti": jti})
    }

    fn header() -> serde_json::Value {
        json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
    }

    #[test]
    fn accepts_a_good_token_once() {
        let (v, key) = setup();
        let t = jwt(&key, header(), claims("a"));
        assert_eq!(v.verify(&t, NOW).unwrap().sub, "partner-a");
        assert_eq!(v.verify(&t, NOW + 1), Err(BearerError::Replayed));
    }

    #[test]
    fn refuses_every_bad_token() {
        let (v, key) = setup();
        let other = SigningKey::generate();
        let mut c = claims("x");
        let cases: Vec<(String, BearerError)> = vec![
            (
                jwt(&key, json!({"alg": "none", "kid": "k1"}), claims("1")),
                BearerError::Algorithm,
            ),
            (
                jwt(&key, json!({"alg": "HS256", "kid": "k1"}), claims("2")),
                BearerError::Algorithm,
            ),
            (
                jwt(&key, json!({"alg": "RS256", "kid": "k1"}), claims("3")),
                BearerError::Algorithm,
            ),
            (
                jwt(&key, json!({"alg": "ES384", "kid": "k1"}), claims("4")),
                BearerError::Algorithm,
            ),
            (
                jwt(&key, json!({"alg": "ES256", "kid": "k9"}), claims("5")),
                BearerError::UnknownKey,
            ),
            (
                jwt(&other, header(), claims("6")),
                BearerError::BadSignature,
            ),
            (
                jwt(&key, header(), {
                    c["aud"] = json!("someone-else");
                    c.clone()
                }),
                BearerError::WrongAudience,
            ),
            (
                jwt(
                    &key,
                    header(),
                    json!({"sub": "partner-a", "aud": ["x", "ok2cry-test"], "iat": NOW, "exp": NOW + 61, "jti": "7"}),
                ),
                BearerError::LifetimeTooLong(60),
            ),
            (
                jwt(
                    &key,
                    header(),
                    json!({"sub": "partner-a", "aud": "ok2cry-test", "iat": NOW - 100, "exp": NOW - 50, "jti": "8"}),
                ),
                BearerError::Expired,
            ),
            (
                jwt(
                    &key,
                    header(),
                    json!({"sub": "partner-a", "aud": "ok2cry-test", "iat": NOW + 20, "exp": NOW + 40, "jti": "9"}),
                ),
                BearerError::NotYetValid,
            ),
            (
                jwt(
                    &key,
                    header(),
                    json!({"sub": "partner-a", "aud": "ok2cry-test", "iat": NOW, "exp": NOW + 30, "nbf": NOW + 20, "jti": "10"}),
                ),
                BearerError::NotYetValid,
            ),
            (
                jwt(
                    &key,
                    header(),
                    json!({"sub": "partner-a", "aud": "ok2cry-test", "iat": NOW, "exp": NOW + 30}),
                ),
                BearerError::Malformed("claims"),
            ),
            (
                "a.b".into(),
                BearerError::Malformed("expected three dot-separated parts"),
            ),
        ];
        // Header members beyond alg, kid and typ are refused, not ignored, even when signed.
        let header_refused =
            BearerError::Malformed("header: members alg, kid and typ only, each once");
        let mut cases = cases;
        for (n, extra) in [
            json!({"crit": ["exp"], "exp": 1}),
            json!({"crit": []}),
            json!({"jku": "https://attacker.example/jwks.json"}),
            json!({"jwk": {"kty": "EC"}}),
            json!({"x5u": "https://attacker.example/cert.pem"}),
            json!({"x5c": ["AAAA"]}),
            json!({"b64": false}),
        ]
        .into_iter()
        .enumerate()
        {
            let mut h = header();
            h.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            cases.push((
                jwt(&key, h, claims(&format!("h{n}"))),
                header_refused.clone(),
            ));
        }
        // A member twice (JSON that serde_json's Value would collapse), built by hand.
        let twice = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"ES256","kid":"k1","kid":"k1"}"#),
            b64(claims("h9").to_string().as_bytes()),
            b64(&[0u8; 64])
        );
        cases.push((twice, header_refused.clone()));
        for (token, expected) in cases {
            assert_eq!(v.verify(&token, NOW), Err(expected.clone()), "{expected:?}");
        }
        // A tampered payload under a good signature.
        let good = jwt(&key, header(), claims("11"));
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(claims("12").to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(v.verify(&forged, NOW), Err(BearerError::BadSignature));
    }

    #[test]
    fn lifetime_is_capped_at_sixty_seconds_even_if_configured_higher() {
        let v = BearerVerifier::new(BearerSettings {
            audience: "a".into(),
            max_lifetime_secs: 3600,
            clock_skew_secs: 0,
        });
        assert_eq!(v.settings.max_lifetime_secs, 60);
    }
}
