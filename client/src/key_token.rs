//! Key tokens: a service-issued public key, signed, as a JWS compact (RFC 7515) with ES256.
//!
//! ```text
//! header  = {"alg":"ES256","typ":"ok2cry-key+jwt","kid":"<signing key thumbprint>"}
//! payload = {"iss":..,"key_id":..,"jwk":{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":key_id},
//!            "iat":..,"exp":..,"max_opens":..,"suite":"STRONG","v":1[,"context":..]}
//! ```
//!
//! A parsed [`KeyToken`] is untrusted; only [`KeyToken::verify`] yields a [`VerifiedKey`], the
//! one type that can be sealed to. [`KeyToken::parse`] does steps 1 to 3 of docs/PROTOCOL.md
//! §10.2 (text, header, claims: their shape only) and [`KeyToken::verify_with`] steps 4 to 14,
//! in that order, each with the error the table names.

use crate::json::{self, Json, Members};
use crate::jws::{self, Compact, JwsError, Part};
use crate::provider::{self, CryptoProvider, Es256Signer};
use crate::suite::{self, SUITE_NAME, VERSION};
use crate::{Error, Jwks, KeyId, PrivateKey, PublicJwk, PublicKey, b64, wire};
use serde::{Deserialize, Deserializer, Serialize};

/// The JWS `typ` of a key token.
pub const TOKEN_TYPE: &str = "ok2cry-key+jwt";
/// The only JWS algorithm accepted.
pub const ALG: &str = jws::ES256;
/// How far in the future `iat` may lie (clock skew between parties), in seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;
/// The longest token accepted, in bytes (after the surrounding whitespace is removed).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// The longest `iss`, in bytes.
pub const MAX_ISSUER_LEN: usize = 256;
/// The largest `iat` or `exp`: 2^53 − 1 (docs/PROTOCOL.md §10.1).
pub const MAX_TIME: u64 = json::MAX_INTEGER;
/// The largest `max_opens`: 2^32 − 1.
pub const MAX_OPENS: u64 = u32::MAX as u64;

/// The claims of a key token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyTokenClaims {
    /// The issuing service (its base URL or configured issuer name), 1 to 256 bytes.
    pub iss: String,
    /// The key id.
    pub key_id: KeyId,
    /// The public key to seal to.
    pub jwk: PublicJwk,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expiry, seconds since the Unix epoch: the key is destroyed no later than this.
    pub exp: u64,
    /// How many envelopes may be opened with this key.
    pub max_opens: u32,
    /// The suite name: "STRONG".
    pub suite: String,
    /// The protocol version: 1.
    pub v: u64,
    /// The context bound into `info` when sealing to this key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// The claims a token may carry; `context` is the only optional one.
const CLAIMS: [&str; 9] = [
    "iss",
    "key_id",
    "jwk",
    "iat",
    "exp",
    "max_opens",
    "suite",
    "v",
    "context",
];

impl KeyTokenClaims {
    /// Step 3 of §10.2: the claims' shape (members, types, ranges), then the key id (§2).
    fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let tree =
            json::parse(bytes).ok_or(Error::Malformed("key token claims: not strict JSON"))?;
        Self::from_tree(&tree)
    }

    fn from_tree(tree: &Json) -> Result<Self, Error> {
        const BAD: Error = Error::Malformed("key token claims: members, types or ranges");
        let m = Members::of(tree).ok_or(BAD)?;
        if !m.only(&CLAIMS) {
            return Err(BAD);
        }
        let iss = m.string("iss").ok_or(BAD)?;
        if iss.is_empty() || iss.len() > MAX_ISSUER_LEN {
            return Err(BAD);
        }
        let key_id = m.string("key_id").ok_or(BAD)?;
        let jwk = PublicJwk::from_tree(m.get("jwk").ok_or(BAD)?).map_err(|_| BAD)?;
        let iat = m.integer("iat", MAX_TIME).ok_or(BAD)?;
        let exp = m.integer("exp", MAX_TIME).ok_or(BAD)?;
        let max_opens = m
            .integer("max_opens", MAX_OPENS)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
            .ok_or(BAD)?;
        let suite = m.string("suite").ok_or(BAD)?;
        let v = m.integer("v", json::MAX_INTEGER).ok_or(BAD)?;
        let context = m.optional_string("context").map_err(|()| BAD)?;
        // Step 3, last: the key id is a key id.
        let key_id = KeyId::new(key_id)?;
        Ok(Self {
            iss: iss.to_owned(),
            key_id,
            jwk,
            iat,
            exp,
            max_opens,
            suite: suite.to_owned(),
            v,
            // "" is the same as no context (§3).
            context: context.filter(|c| !c.is_empty()).map(str::to_owned),
        })
    }
}

impl<'de> Deserialize<'de> for KeyTokenClaims {
    /// As strict as step 3 of docs/PROTOCOL.md §10.2 (shape, ranges, key id); the checks of
    /// the later steps are [`KeyToken::verify`]'s.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tree = json::deserialize(d)?;
        Self::from_tree(&tree).map_err(serde::de::Error::custom)
    }
}

/// A key token parsed but not verified. Nothing in it may be trusted yet.
#[derive(Debug, Clone)]
pub struct KeyToken {
    compact: String,
    jws: Compact,
    /// The header's `kid` (required for a key token).
    kid: String,
    claims: KeyTokenClaims,
}

/// A key token whose signature, algorithm, suite, lifetime and public key have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    signing_kid: String,
    claims: KeyTokenClaims,
    public_key: PublicKey,
    token: String,
}

impl KeyToken {
    /// Parses a JWS compact key token: steps 1 to 3 of docs/PROTOCOL.md §10.2 (the text and
    /// its three parts; the header: exactly `alg`, `typ`, `kid`; the claims: members, types and
    /// ranges, then the key id). Strict base64url and strict JSON throughout.
    pub fn parse(compact: &str) -> Result<Self, Error> {
        // Step 1.
        let compact = wire::trim(compact);
        const BAD_HEADER: Error =
            Error::Malformed("key token header: expected exactly alg, typ and kid, as strings");
        let jws = Compact::parse(compact, MAX_TOKEN_LEN).map_err(|e| match e {
            JwsError::TooLong => Error::Malformed("key token: too long"),
            JwsError::Base64(Part::Header) => Error::Malformed("key token header: not base64url"),
            JwsError::Base64(Part::Payload) => Error::Malformed("key token claims: not base64url"),
            JwsError::Base64(Part::Signature) => {
                Error::Malformed("key token signature: not base64url")
            }
            JwsError::HeaderJson => Error::Malformed("key token header: not strict JSON"),
            JwsError::HeaderMembers => BAD_HEADER,
            _ => Error::Malformed("key token: expected three dot-separated parts"),
        })?;
        // Step 2: a key token's header has all three members.
        let (Some(kid), Some(_)) = (jws.header().kid.clone(), jws.header().typ.as_ref()) else {
            return Err(BAD_HEADER);
        };
        // Step 3.
        let claims = KeyTokenClaims::from_json(jws.payload_unverified())?;
        Ok(Self {
            compact: compact.to_owned(),
            jws,
            kid,
            claims,
        })
    }

    /// The key id claimed, NOT verified: for routing by proxies and load balancers only.
    pub fn key_id_unverified(&self) -> &KeyId {
        &self.claims.key_id
    }

    /// The compact form, as received (without surrounding whitespace).
    pub fn as_str(&self) -> &str {
        &self.compact
    }

    /// Verifies the token against the service's JWK set at time `now` (Unix seconds), with
    /// the default provider.
    pub fn verify(&self, jwks: &Jwks, now: u64) -> Result<VerifiedKey, Error> {
        self.verify_with(provider::default_provider(), jwks, now)
    }

    /// [`KeyToken::verify`] with the given provider (for the ES256 check): steps 4 to 14 of
    /// docs/PROTOCOL.md §10.2, in order.
    pub fn verify_with(
        &self,
        provider: &dyn CryptoProvider,
        jwks: &Jwks,
        now: u64,
    ) -> Result<VerifiedKey, Error> {
        // 4, 5: algorithm and type.
        let header = self.jws.header();
        if header.alg != jws::ES256 {
            return Err(Error::UnsupportedAlgorithm);
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(Error::WrongTokenType);
        }
        // 6: the signing key.
        let verifying_key = jwks.verifying_key(&self.kid)?;
        // 7: the signature, over the ASCII bytes of `<header>.<payload>` as received.
        self.jws
            .verify_es256(provider, &verifying_key)
            .map_err(|_| Error::BadSignature)?;

        // The signature is good: the claims are the service's. Now check what they say.
        let claims = &self.claims;
        // 8, 9: version and suite.
        if claims.v != u64::from(VERSION) {
            return Err(Error::UnsupportedVersion);
        }
        if claims.suite != SUITE_NAME {
            return Err(Error::UnsupportedSuite);
        }
        // 10, 11, 12: time.
        if claims.iat > claims.exp {
            return Err(Error::Malformed("key token: iat after exp"));
        }
        if now >= claims.exp {
            return Err(Error::Expired);
        }
        if claims.iat > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(Error::NotYetValid);
        }
        // 13: the JWK names the same key id, if it names one.
        if claims
            .jwk
            .kid
            .as_deref()
            .is_some_and(|k| k != claims.key_id.as_str())
        {
            return Err(Error::Malformed("key token: jwk kid differs from key_id"));
        }
        // 14: context length, then the public key itself.
        if let Some(context) = &claims.context {
            suite::check_context(context)?;
        }
        let public_key = claims.jwk.to_public_key()?;
        Ok(VerifiedKey {
            signing_kid: self.kid.clone(),
            claims: claims.clone(),
            public_key,
            token: self.compact.clone(),
        })
    }
}

impl VerifiedKey {
    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.claims.key_id
    }
    /// The public key to seal to.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    /// Expiry, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.claims.exp
    }
    /// Issued at, Unix seconds.
    pub fn issued_at(&self) -> u64 {
        self.claims.iat
    }
    /// How many opens the key allows.
    pub fn max_opens(&self) -> u32 {
        self.claims.max_opens
    }
    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.claims.iss
    }
    /// The context to bind when sealing ("" when none).
    pub fn context(&self) -> &str {
        self.claims.context.as_deref().unwrap_or("")
    }
    /// The `kid` of the service key that signed the token.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }
    /// All claims.
    pub fn claims(&self) -> &KeyTokenClaims {
        &self.claims
    }
    /// The token, compact form.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The issuing side: a service signing key (ES256) that signs key tokens.
///
/// A secret type: derives nothing; the key is held by a provider's [`Es256Signer`], which
/// zeroizes it (or has its library cleanse it) on drop.
pub struct TokenSigner {
    key: Box<dyn Es256Signer>,
    kid: String,
}

impl TokenSigner {
    /// A fresh signing key from the operating system's random source (default provider).
    pub fn generate() -> Self {
        Self::from_private(&PrivateKey::generate(), provider::default_provider())
            .unwrap_or_else(|_| unreachable_signer())
    }

    /// A fresh signing key made and used by `provider`.
    pub fn generate_with(provider: &dyn CryptoProvider) -> Result<Self, Error> {
        let (private, _) = provider.generate_p256()?;
        Self::from_private(&private, provider)
    }

    /// A signing key from its big-endian scalar (tests and vectors), default provider.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_secret_bytes_with(provider::default_provider(), bytes)
    }

    /// A signing key from its big-endian scalar, used by `provider`.
    pub fn from_secret_bytes_with(
        provider: &dyn CryptoProvider,
        bytes: &[u8],
    ) -> Result<Self, Error> {
        Self::from_private(&PrivateKey::from_secret_bytes(bytes)?, provider)
    }

    fn from_private(private: &PrivateKey, provider: &dyn CryptoProvider) -> Result<Self, Error> {
        let key = provider.es256_signer(private)?;
        let kid = key.public_key().thumbprint();
        Ok(Self { key, kid })
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK with `kid`, `use` "sig" and `alg` "ES256", for the JWK set.
    pub fn public_jwk(&self) -> PublicJwk {
        self.key
            .public_key()
            .to_jwk()
            .with_kid(self.kid.clone())
            .with_use_alg("sig", ALG)
    }

    /// Signs `claims` into a compact JWS.
    ///
    /// Refuses ([`Error::Malformed`]) claims that a receiver would refuse for their shape or
    /// their consistency (an empty or over-long `iss`, `iat` after `exp`, a time beyond
    /// 2^53 − 1, `max_opens` 0, a context over 256 bytes, a `jwk.kid` other than the key id),
    /// so the issuing side never signs what §10.2 rejects.
    pub fn sign(&self, claims: &KeyTokenClaims) -> Result<String, Error> {
        /// The header a key token is signed with, members in this order.
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'a str,
            typ: &'a str,
            kid: &'a str,
        }
        let header = Header {
            alg: ALG,
            typ: TOKEN_TYPE,
            kid: &self.kid,
        };
        let header =
            serde_json::to_vec(&header).map_err(|_| Error::Malformed("key token header"))?;
        let payload =
            serde_json::to_vec(claims).map_err(|_| Error::Malformed("key token payload"))?;
        let reread = KeyTokenClaims::from_json(&payload)?;
        if reread != *claims
            || claims.iat > claims.exp
            || claims
                .context
                .as_deref()
                .is_some_and(|c| c.is_empty() || suite::check_context(c).is_err())
            || claims
                .jwk
                .kid
                .as_deref()
                .is_some_and(|k| k != claims.key_id.as_str())
        {
            return Err(Error::Malformed("key token claims a receiver would refuse"));
        }
        let mut compact = format!("{}.{}", b64::encode(&header), b64::encode(&payload));
        let signature = self.key.sign(compact.as_bytes())?;
        compact.push('.');
        compact.push_str(&b64::encode(&signature));
        Ok(compact)
    }
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_signer() -> ! {
    panic!("invariant broken: the RustCrypto provider makes a signer from any valid scalar")
}

impl KeyTokenClaims {
    /// Claims for a STRONG v1 key.
    pub fn new(
        iss: impl Into<String>,
        key_id: KeyId,
        public_key: &PublicKey,
        iat: u64,
        exp: u64,
        max_opens: u32,
        context: Option<String>,
    ) -> Self {
        let jwk = public_key.to_jwk().with_kid(key_id.as_str());
        Self {
            iss: iss.into(),
            key_id,
            jwk,
            iat,
            exp,
            max_opens,
            suite: SUITE_NAME.into(),
            v: u64::from(VERSION),
            context: context.filter(|c| !c.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_read_by_serde_are_as_strict_as_step_3() {
        let key = PrivateKey::derive_from_ikm(b"claims serde test").unwrap();
        let claims = KeyTokenClaims::new(
            "iss",
            KeyId::new("n1_x").unwrap(),
            &key.public_key(),
            1,
            2,
            1,
            Some("ctx".into()),
        );
        let text = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            serde_json::from_str::<KeyTokenClaims>(&text).unwrap(),
            claims
        );
        let dup = text.replacen('{', r#"{"iss":"other","#, 1);
        assert!(serde_json::from_str::<KeyTokenClaims>(&dup).is_err());
        let null_context = text.replace(r#""context":"ctx""#, r#""context":null"#);
        assert!(serde_json::from_str::<KeyTokenClaims>(&null_context).is_err());
    }
}
