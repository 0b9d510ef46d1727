//! JWS compact serialization (RFC 7515) with ES256, read strictly: the one reader of signed
//! tokens in the workspace. Key tokens ([`crate::key_token`]) and partners' bearer JWTs (the
//! service's `auth::bearer`) are both read here, with the same rules:
//!
//! - at most the caller's length; exactly three dot-separated parts; each part strict
//!   base64url without padding;
//! - a protected header of strict JSON (docs/PROTOCOL.md §10.1: no duplicate member) whose
//!   members are `alg` and `kid` and, optionally, `typ`, all strings. Any other member is
//!   refused, never ignored: `crit` (RFC 7515 §4.1.11: an extension the recipient does not
//!   understand must fail), and `jwk`, `jku`, `x5u`, `x5c`, which would name a key other than
//!   the one the recipient configured;
//! - the signature is checked with `alg` exactly `ES256` (`none`, HS256, RS256, ES384 … are
//!   refused) over the ASCII bytes of `<header>.<payload>` as received, with a key the caller
//!   chose from `kid` and its own configuration, never from the token.
//!
//! What the payload must hold is the caller's business: each caller reads its own claims
//! (strictly) and checks them after the signature.
//!
//! Owns: the compact form, the header rule, the ES256 check. It must not know claims, keys'
//! origins or time.

use crate::json::{self, Members};
use crate::provider::CryptoProvider;
use crate::{PublicKey, b64};

/// The only algorithm accepted.
pub const ES256: &str = "ES256";

/// Which part of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The protected header.
    Header,
    /// The payload.
    Payload,
    /// The signature.
    Signature,
}

/// Why a compact JWS was refused. Callers map each to their own error; none carries token
/// content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Longer than the caller allows.
    #[error("too long")]
    TooLong,
    /// Not three dot-separated parts.
    #[error("expected three dot-separated parts")]
    Parts,
    /// A part is not strict base64url.
    #[error("a part is not base64url")]
    Base64(Part),
    /// The header is not strict JSON.
    #[error("header: not strict JSON")]
    HeaderJson,
    /// The header has a member other than `alg`, `kid`, `typ`, lacks `alg`, or has one of
    /// another type than string.
    #[error("header: members alg, kid and typ only, as strings, each once")]
    HeaderMembers,
    /// `alg` is not `ES256`.
    #[error("algorithm not accepted")]
    Algorithm,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
}

/// The protected header, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg` (checked by [`Compact::verify_es256`], not by [`Compact::parse`]).
    pub alg: String,
    /// `kid`, if present.
    pub kid: Option<String>,
    /// `typ`, if present.
    pub typ: Option<String>,
}

/// A compact JWS, parsed but NOT verified: nothing in it may be trusted yet.
#[derive(Debug, Clone)]
pub struct Compact {
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
    /// `<header>.<payload>` as received.
    signing_input: String,
}

impl Compact {
    /// Splits and decodes `text` (at most `max_len` bytes) and reads its header.
    pub fn parse(text: &str, max_len: usize) -> Result<Self, JwsError> {
        if text.len() > max_len {
            return Err(JwsError::TooLong);
        }
        let mut parts = text.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Parts);
        };
        let header = b64::decode(h).ok_or(JwsError::Base64(Part::Header))?;
        let payload = b64::decode(p).ok_or(JwsError::Base64(Part::Payload))?;
        let signature = b64::decode(s).ok_or(JwsError::Base64(Part::Signature))?;
        Ok(Self {
            header: read_header(&header)?,
            payload,
            signature,
            signing_input: text[..h.len() + 1 + p.len()].to_owned(),
        })
    }

    /// The header, unverified.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload, unverified: for reading the claims' shape, and for choosing the key by a
    /// claim (a bearer JWT's `sub`), before [`Compact::verify_es256`].
    pub fn payload_unverified(&self) -> &[u8] {
        &self.payload
    }

    /// Checks `alg` (exactly `ES256`), then the signature with `key`.
    pub fn verify_es256(
        &self,
        provider: &dyn CryptoProvider,
        key: &PublicKey,
    ) -> Result<(), JwsError> {
        if self.header.alg != ES256 {
            return Err(JwsError::Algorithm);
        }
        provider
            .es256_verify(key, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::Signature)
    }
}

fn read_header(bytes: &[u8]) -> Result<Header, JwsError> {
    let tree = json::parse(bytes).ok_or(JwsError::HeaderJson)?;
    let m = Members::of(&tree).ok_or(JwsError::HeaderMembers)?;
    if !m.only(&["alg", "kid", "typ"]) {
        return Err(JwsError::HeaderMembers);
    }
    let optional = |name| {
        m.optional_string(name)
            .map(|v| v.map(str::to_owned))
            .map_err(|()| JwsError::HeaderMembers)
    };
    Ok(Header {
        alg: m.string("alg").ok_or(JwsError::HeaderMembers)?.to_owned(),
        kid: optional("kid")?,
        typ: optional("typ")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::all;
    use crate::{LocalKey, PrivateKey};

    fn sign(key: &PrivateKey, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes())
        );
        let signer = crate::provider::default_provider()
            .es256_signer(key)
            .unwrap();
        let signature = signer.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(&signature))
    }

    #[test]
    fn a_good_token_verifies_with_every_provider_and_only_with_its_key() {
        let key = PrivateKey::generate();
        let token = sign(
            &key,
            r#"{"alg":"ES256","kid":"k1","typ":"x"}"#,
            r#"{"a":1}"#,
        );
        let jws = Compact::parse(&token, 8192).unwrap();
        assert_eq!(jws.header().kid.as_deref(), Some("k1"));
        assert_eq!(jws.header().typ.as_deref(), Some("x"));
        assert_eq!(jws.payload_unverified(), br#"{"a":1}"#);
        for provider in all() {
            jws.verify_es256(provider, &key.public_key()).unwrap();
            let other = LocalKey::generate();
            assert_eq!(
                jws.verify_es256(provider, other.public_key()),
                Err(JwsError::Signature)
            );
        }
    }

    #[test]
    fn the_form_is_strict() {
        let key = PrivateKey::generate();
        let good = sign(&key, r#"{"alg":"ES256","kid":"k"}"#, "{}");
        assert_eq!(Compact::parse(&good, 10).unwrap_err(), JwsError::TooLong);
        assert_eq!(Compact::parse("a.b", 100).unwrap_err(), JwsError::Parts);
        assert_eq!(
            Compact::parse(&format!("{good}.x"), 1000).unwrap_err(),
            JwsError::Parts
        );
        assert_eq!(
            Compact::parse(&format!("{good}="), 1000).unwrap_err(),
            JwsError::Base64(Part::Signature)
        );
        assert_eq!(
            Compact::parse(&format!("+{good}"), 1000).unwrap_err(),
            JwsError::Base64(Part::Header)
        );
        let header = |h: &str| Compact::parse(&sign(&key, h, "{}"), 1000).map(|_| ());
        for refused in [
            r#"{"alg":"ES256","kid":"k","crit":["exp"]}"#,
            r#"{"alg":"ES256","kid":"k","jku":"https://x"}"#,
            r#"{"alg":"ES256","kid":"k","jwk":{}}"#,
            r#"{"alg":"ES256","kid":"k","x5u":"https://x"}"#,
            r#"{"alg":"ES256","kid":"k","x5c":[]}"#,
            r#"{"kid":"k"}"#,
            r#"{"alg":1,"kid":"k"}"#,
            r#"{"alg":"ES256","kid":null}"#,
            r#"[]"#,
        ] {
            assert_eq!(header(refused), Err(JwsError::HeaderMembers), "{refused}");
        }
        assert_eq!(
            header(r#"{"alg":"ES256","kid":"k","kid":"j"}"#),
            Err(JwsError::HeaderJson)
        );
        assert_eq!(header("not json"), Err(JwsError::HeaderJson));
    }

    #[test]
    fn only_es256_is_accepted() {
        let key = PrivateKey::generate();
        for alg in ["none", "HS256", "RS256", "ES384", "es256", "ES256 "] {
            let token = sign(&key, &format!(r#"{{"alg":"{alg}","kid":"k"}}"#), "{}");
            let jws = Compact::parse(&token, 1000).unwrap();
            assert_eq!(
                jws.verify_es256(crate::provider::default_provider(), &key.public_key()),
                Err(JwsError::Algorithm)
            );
        }
    }

    #[test]
    fn the_signature_covers_the_header_and_the_payload_as_received() {
        let key = PrivateKey::generate();
        let token = sign(&key, r#"{"alg":"ES256","kid":"k"}"#, r#"{"a":1}"#);
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let swapped = format!("{head}.{}.{signature}", b64::encode(br#"{"a":2}"#));
        let jws = Compact::parse(&swapped, 1000).unwrap();
        assert_eq!(
            jws.verify_es256(crate::provider::default_provider(), &key.public_key()),
            Err(JwsError::Signature)
        );
    }
}
