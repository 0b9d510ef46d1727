//! Key tokens: a service-issued public key, signed, as a JWS compact (RFC 7515) with ES256.
//!
//! ```text
//! header  = {"alg":"ES256","typ":"ok2cry-key+jwt","kid":"<signing key thumbprint>"}
//! payload = {"iss":..,"key_id":..,"jwk":{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":key_id},
//!            "iat":..,"exp":..,"max_opens":..,"suite":"STRONG","v":1[,"context":..]}
//! ```
//!
//! A parsed [`KeyToken`] is untrusted; only [`KeyToken::verify`] yields a [`VerifiedKey`], the
//! one type that can be sealed to. Checks happen in the order given in docs/PROTOCOL.md §6.

use crate::provider::{self, CryptoProvider, Es256Signer};
use crate::suite::{self, SUITE_NAME, VERSION};
use crate::{Error, Jwks, KeyId, PrivateKey, PublicJwk, PublicKey, b64};
use serde::{Deserialize, Serialize};

/// The JWS `typ` of a key token.
pub const TOKEN_TYPE: &str = "ok2cry-key+jwt";
/// The only JWS algorithm accepted.
pub const ALG: &str = "ES256";
/// How far in the future `iat` may lie (clock skew between parties), in seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;
/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The JWS protected header of a key token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// The claims of a key token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyTokenClaims {
    /// The issuing service (its base URL or configured issuer name).
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
    pub v: u8,
    /// The context bound into `info` when sealing to this key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// A key token parsed but not verified. Nothing in it may be trusted yet.
#[derive(Debug, Clone)]
pub struct KeyToken {
    compact: String,
    header: Header,
    claims: KeyTokenClaims,
    signature: Vec<u8>,
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
    /// Parses a JWS compact key token (strict base64url, strict JSON, no unknown members).
    pub fn parse(compact: &str) -> Result<Self, Error> {
        let compact = compact.trim();
        if compact.len() > MAX_TOKEN_LEN {
            return Err(Error::Malformed("key token: too long"));
        }
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed(
                "key token: expected three dot-separated parts",
            ));
        };
        let header_bytes = b64::decode(h).ok_or(Error::Malformed("key token header"))?;
        let header: Header = serde_json::from_slice(&header_bytes)
            .map_err(|_| Error::Malformed("key token header"))?;
        let payload_bytes = b64::decode(p).ok_or(Error::Malformed("key token payload"))?;
        let claims: KeyTokenClaims = serde_json::from_slice(&payload_bytes)
            .map_err(|_| Error::Malformed("key token payload"))?;
        let signature = b64::decode(s).ok_or(Error::Malformed("key token signature"))?;
        Ok(Self {
            compact: compact.to_owned(),
            header,
            claims,
            signature,
        })
    }

    /// The key id claimed, NOT verified: for routing by proxies and load balancers only.
    pub fn key_id_unverified(&self) -> &KeyId {
        &self.claims.key_id
    }

    /// The compact form, as received.
    pub fn as_str(&self) -> &str {
        &self.compact
    }

    /// Verifies the token against the service's JWK set at time `now` (Unix seconds), with
    /// the default provider.
    pub fn verify(&self, jwks: &Jwks, now: u64) -> Result<VerifiedKey, Error> {
        self.verify_with(provider::default_provider(), jwks, now)
    }

    /// [`KeyToken::verify`] with the given provider (for the ES256 check).
    pub fn verify_with(
        &self,
        provider: &dyn CryptoProvider,
        jwks: &Jwks,
        now: u64,
    ) -> Result<VerifiedKey, Error> {
        if self.header.alg != ALG {
            return Err(Error::UnsupportedAlgorithm);
        }
        if self.header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(Error::WrongTokenType);
        }
        let kid = self.header.kid.as_deref().ok_or(Error::UnknownSigningKey)?;
        let jwk = jwks.find(kid).ok_or(Error::UnknownSigningKey)?;
        if jwk.alg.as_deref().is_some_and(|a| a != ALG)
            || jwk.use_.as_deref().is_some_and(|u| u != "sig")
        {
            return Err(Error::UnknownSigningKey);
        }
        let verifying_key = jwk.to_public_key()?;
        let signing_input = match self.compact.rfind('.') {
            Some(end) => &self.compact[..end],
            None => return Err(Error::BadSignature),
        };
        provider
            .es256_verify(&verifying_key, signing_input.as_bytes(), &self.signature)
            .map_err(|_| Error::BadSignature)?;

        // The signature is good: the claims are the service's. Now check what they say.
        let claims = &self.claims;
        if claims.v != VERSION {
            return Err(Error::UnsupportedVersion);
        }
        if claims.suite != SUITE_NAME {
            return Err(Error::UnsupportedSuite);
        }
        if claims.iat > claims.exp {
            return Err(Error::Malformed("key token: iat after exp"));
        }
        if now >= claims.exp {
            return Err(Error::Expired);
        }
        if claims.iat > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(Error::NotYetValid);
        }
        if claims.max_opens == 0 {
            return Err(Error::Malformed("key token: max_opens is 0"));
        }
        if claims
            .jwk
            .kid
            .as_deref()
            .is_some_and(|k| k != claims.key_id.as_str())
        {
            return Err(Error::Malformed("key token: jwk kid differs from key_id"));
        }
        if let Some(context) = &claims.context {
            suite::check_context(context)?;
        }
        let public_key = claims.jwk.to_public_key()?;
        Ok(VerifiedKey {
            signing_kid: kid.to_owned(),
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
    pub fn sign(&self, claims: &KeyTokenClaims) -> Result<String, Error> {
        let header = Header {
            alg: ALG.into(),
            typ: Some(TOKEN_TYPE.into()),
            kid: Some(self.kid.clone()),
        };
        let header =
            serde_json::to_vec(&header).map_err(|_| Error::Malformed("key token header"))?;
        let payload =
            serde_json::to_vec(claims).map_err(|_| Error::Malformed("key token payload"))?;
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
            v: VERSION,
            context: context.filter(|c| !c.is_empty()),
        }
    }
}
