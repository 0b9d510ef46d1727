//! Public keys as RFC 7517 JWKs (kty "EC", crv "P-256"), JWK sets, and RFC 7638 thumbprints.
//!
//! Two readings, as docs/PROTOCOL.md §7 defines them:
//!
//! - a **JWK** (the `jwk` claim of a key token, an end user's public key): its members are
//!   exactly `kty`, `crv`, `x`, `y` (strings, required) and optionally `kid`, `use`, `alg`
//!   (strings), `ext` (boolean), `key_ops` (array of strings) and `d` (any value); anything
//!   else is [`Error::Malformed`]. Whether it is a P-256 public key is checked when it is used
//!   ([`PublicJwk::to_public_key`]): `kty` EC, `crv` P-256, no `d`, `x` and `y` strict
//!   base64url of 32 bytes each, the point on the curve, else [`Error::InvalidPublicKey`].
//! - a **JWK set** (the service's signing keys): an object whose `keys` is an array of objects;
//!   other members are ignored (RFC 7517 §5), and so are entries that are not ES256 P-256 public
//!   signing keys. A `kid` carried by more than one entry names no key ([`Jwks::verifying_key`]).
//!
//! Owns: the JWK and JWK set forms, thumbprints, and the JWK form of a [`PublicKey`]
//! ([`PublicKey::from_jwk`], [`PublicKey::to_jwk`], [`PublicKey::thumbprint`], in an
//! `impl PublicKey` block here). Layering: built on `public_key`, `json` and `jws` (the name
//! `ES256`); it must not import `key_token`, which is built on it.

use crate::json::{self, Json, Members};
use crate::{Error, PublicKey, b64};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// An EC P-256 public JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    /// Key type: must be "EC".
    pub kty: String,
    /// Curve: must be "P-256".
    pub crv: String,
    /// X coordinate, 32 bytes, base64url.
    pub x: String,
    /// Y coordinate, 32 bytes, base64url.
    pub y: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use ("sig" for service signing keys, "enc" for sealing keys).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Algorithm ("ES256" for service signing keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Whether a private part (`d`, of any value, `null` included) was present. Present only
    /// to be refused.
    #[serde(skip)]
    private_part: bool,
}

/// The members a JWK may have (§7): the four required, then the tolerated ones.
const JWK_MEMBERS: [&str; 10] = [
    "kty", "crv", "x", "y", "kid", "use", "alg", "ext", "key_ops", "d",
];

impl PublicJwk {
    /// A JWK from coordinates already encoded.
    pub fn ec_p256(x: String, y: String) -> Self {
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
            kid: None,
            use_: None,
            alg: None,
            private_part: false,
        }
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `use` and `alg`.
    pub fn with_use_alg(mut self, use_: &str, alg: &str) -> Self {
        self.use_ = Some(use_.into());
        self.alg = Some(alg.into());
        self
    }

    /// Reads a JWK from JSON text (strict JSON, §10.1; members as in the module docs).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let tree = json::parse(text.as_bytes()).ok_or(Error::Malformed("JWK: not strict JSON"))?;
        Self::from_tree(&tree)
    }

    /// Reads a JWK from a strict JSON tree: the member set and types, not the values.
    pub(crate) fn from_tree(tree: &Json) -> Result<Self, Error> {
        const BAD: Error = Error::Malformed("JWK: members or their types");
        let m = Members::of(tree).ok_or(BAD)?;
        if !m.only(&JWK_MEMBERS) {
            return Err(BAD);
        }
        let required = |name| m.string(name).map(str::to_owned).ok_or(BAD);
        let optional = |name| {
            m.optional_string(name)
                .map(|s| s.map(str::to_owned))
                .map_err(|()| BAD)
        };
        let ext_ok = matches!(m.get("ext"), None | Some(Json::Bool(_)));
        let key_ops_ok = match m.get("key_ops") {
            None => true,
            Some(Json::Array(ops)) => ops.iter().all(|op| op.as_str().is_some()),
            Some(_) => false,
        };
        if !ext_ok || !key_ops_ok {
            return Err(BAD);
        }
        Ok(Self {
            kty: required("kty")?,
            crv: required("crv")?,
            x: required("x")?,
            y: required("y")?,
            kid: optional("kid")?,
            use_: optional("use")?,
            alg: optional("alg")?,
            private_part: m.get("d").is_some(),
        })
    }

    /// A JWK set entry, read leniently (RFC 7517 §5: entries a verifier cannot use are
    /// ignored, not refused). Members of the wrong type become values no check accepts, so the
    /// entry is kept (its `kid` still counts for duplicates) but is never usable.
    fn from_set_entry(m: &Members<'_>) -> Self {
        let text = |name| m.string(name).unwrap_or_default().to_owned();
        // Absent stays absent; present but not a string becomes "" (never "ES256" or "sig").
        let optional = |name| {
            m.get(name)
                .map(|v| v.as_str().unwrap_or_default().to_owned())
        };
        Self {
            kty: text("kty"),
            crv: text("crv"),
            x: text("x"),
            y: text("y"),
            kid: m.string("kid").map(str::to_owned),
            use_: optional("use"),
            alg: optional("alg"),
            private_part: m.get("d").is_some(),
        }
    }

    /// Validates the JWK as a P-256 public key and returns the point (§7, §10.2 step 14).
    pub fn to_public_key(&self) -> Result<PublicKey, Error> {
        if self.kty != "EC" || self.crv != "P-256" || self.private_part {
            return Err(Error::InvalidPublicKey);
        }
        let x = b64::decode(&self.x).ok_or(Error::InvalidPublicKey)?;
        let y = b64::decode(&self.y).ok_or(Error::InvalidPublicKey)?;
        if x.len() != 32 || y.len() != 32 {
            return Err(Error::InvalidPublicKey);
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        PublicKey::from_sec1_uncompressed(&sec1)
    }

    /// The RFC 7638 thumbprint: SHA-256 over `{"crv":..,"kty":..,"x":..,"y":..}`, base64url.
    pub fn thumbprint(&self) -> String {
        // RFC 7638 §3: the required members in lexicographic order, no whitespace. The values
        // are base64url or fixed names, so no JSON escaping is needed; serde_json makes sure.
        let canonical = format!(
            r#"{{"crv":{},"kty":{},"x":{},"y":{}}}"#,
            json_string(&self.crv),
            json_string(&self.kty),
            json_string(&self.x),
            json_string(&self.y)
        );
        b64::encode(&Sha256::digest(canonical.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for PublicJwk {
    /// As strict as [`PublicJwk::from_json`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tree = json::deserialize(d)?;
        Self::from_tree(&tree).map_err(serde::de::Error::custom)
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A JWK set (RFC 7517 §5), as published at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Jwks {
    /// The keys, in the order of the set; entries that cannot verify a token are kept (they
    /// are ignored by [`Jwks::verifying_key`], but their `kid` counts for duplicates).
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// Parses a JWK set from JSON text (strict JSON, §10.1): an object with `keys`, an array of
    /// objects. Other members and unusable entries are ignored; anything else is
    /// [`Error::Malformed`].
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let tree =
            json::parse(json.as_bytes()).ok_or(Error::Malformed("JWK set: not strict JSON"))?;
        Self::from_tree(&tree)
    }

    fn from_tree(tree: &Json) -> Result<Self, Error> {
        const BAD: Error = Error::Malformed("JWK set: expected {\"keys\": [objects]}");
        let set = Members::of(tree).ok_or(BAD)?;
        let Some(Json::Array(entries)) = set.get("keys") else {
            return Err(BAD);
        };
        let keys = entries
            .iter()
            .map(|entry| Members::of(entry).map(|m| PublicJwk::from_set_entry(&m)))
            .collect::<Option<Vec<_>>>()
            .ok_or(BAD)?;
        Ok(Self { keys })
    }

    /// The entry with `kid`, if exactly one entry carries it.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        let mut matching = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
        match (matching.next(), matching.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }

    /// The key that verifies tokens signed under `kid` (§7.3, §10.2 step 6): exactly one entry
    /// carries `kid`, and it is an EC P-256 public key (no `d`, a valid point) whose `alg`, if
    /// present, is `ES256` and whose `use`, if present, is `sig`. Otherwise
    /// [`Error::UnknownSigningKey`], whatever is wrong with the entry.
    pub fn verifying_key(&self, kid: &str) -> Result<PublicKey, Error> {
        let jwk = self.find(kid).ok_or(Error::UnknownSigningKey)?;
        if jwk.alg.as_deref().is_some_and(|a| a != crate::jws::ES256)
            || jwk.use_.as_deref().is_some_and(|u| u != "sig")
        {
            return Err(Error::UnknownSigningKey);
        }
        jwk.to_public_key().map_err(|_| Error::UnknownSigningKey)
    }
}

/// The JWK form of a public key, defined here rather than in `public_key`, which does not
/// know JWKs.
impl PublicKey {
    /// Parses an EC P-256 public JWK.
    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, Error> {
        jwk.to_public_key()
    }

    /// The key as a public JWK (kty EC, crv P-256, x, y).
    pub fn to_jwk(&self) -> PublicJwk {
        let sec1 = self.to_sec1_uncompressed();
        PublicJwk::ec_p256(b64::encode(&sec1[1..33]), b64::encode(&sec1[33..65]))
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        self.to_jwk().thumbprint()
    }
}

impl<'de> Deserialize<'de> for Jwks {
    /// As strict as [`Jwks::from_json`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tree = json::deserialize(d)?;
        Self::from_tree(&tree).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "q8fkmkxrNWbXfQMErdxu0OmFEv_M9QXmqOPrJcaFE28";
    const Y: &str = "hTFIVEh23nbA8u-ZzcOgXM9d7Xhgx8AhI4-eIHPSNWw";

    // RFC 7638 gives an RSA example only. The key here is pkRm of the first RFC 9180
    // DHKEM(P-256) base-mode vector; the expected thumbprint was computed independently
    // (Python hashlib over the RFC 7638 canonical member string). The Node interop test also
    // checks thumbprints against `jose`'s calculateJwkThumbprint.
    #[test]
    fn thumbprint_of_an_rfc9180_vector_key() {
        let jwk: PublicJwk = serde_json::from_str(
            r#"{"kty":"EC","crv":"P-256","x":"q8fkmkxrNWbXfQMErdxu0OmFEv_M9QXmqOPrJcaFE28","y":"hTFIVEh23nbA8u-ZzcOgXM9d7Xhgx8AhI4-eIHPSNWw","use":"enc","kid":"1"}"#,
        )
        .unwrap();
        assert!(jwk.to_public_key().is_ok());
        assert_eq!(
            jwk.thumbprint(),
            "EGvZeGi1O4j5UjNnSJp0lMFKiS7B0J-qp9ccvAO8wUs"
        );
    }

    #[test]
    fn refuses_private_wrong_curve_and_bad_coordinates() {
        let good = PublicJwk::ec_p256(X.into(), Y.into());
        assert!(good.to_public_key().is_ok());
        let mut with_d = good.clone();
        with_d.private_part = true;
        assert_eq!(with_d.to_public_key(), Err(Error::InvalidPublicKey));
        let mut p384 = good.clone();
        p384.crv = "P-384".into();
        assert_eq!(p384.to_public_key(), Err(Error::InvalidPublicKey));
        let mut off_curve = good.clone();
        off_curve.y = "hTFIVEh23nbA8u-ZzcOgXM9d7Xhgx8AhI4-eIHPSNWg".into();
        assert_eq!(off_curve.to_public_key(), Err(Error::InvalidPublicKey));
        let mut short = good.clone();
        short.x = "q8fkmkxrNWbXfQMErdxu0OmFEv_M9QXmqOPrJcaFE2".into();
        assert_eq!(short.to_public_key(), Err(Error::InvalidPublicKey));
        let mut padded = good.clone();
        padded.x.push('=');
        assert_eq!(padded.to_public_key(), Err(Error::InvalidPublicKey));
        // The last character of a 32-byte coordinate carries 2 unused bits: they must be 0.
        let mut trailing = good;
        trailing.x = format!("{}9", &X[..X.len() - 1]);
        assert_eq!(trailing.to_public_key(), Err(Error::InvalidPublicKey));
    }

    #[test]
    fn member_set_and_types() {
        let with = |extra: &str| {
            PublicJwk::from_json(&format!(
                r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"{extra}}}"#
            ))
        };
        // Tolerated members.
        let webcrypto =
            with(r#","ext":true,"key_ops":["deriveBits"],"use":"enc","alg":"ECDH-ES","kid":"k""#)
                .unwrap();
        assert!(webcrypto.to_public_key().is_ok());
        // d of any value (null included) is a private key.
        for d in [r#","d":null"#, r#","d":"AAAA""#, r#","d":{}"#] {
            assert_eq!(
                with(d).unwrap().to_public_key(),
                Err(Error::InvalidPublicKey),
                "{d}"
            );
        }
        // Anything else, a wrong type or null is malformed.
        for bad in [
            r#","foo":1"#,
            r#","ext":"true""#,
            r#","key_ops":"deriveBits""#,
            r#","key_ops":[1]"#,
            r#","kid":null"#,
            r#","use":5"#,
            r#","x":"again""#,
        ] {
            assert!(matches!(with(bad), Err(Error::Malformed(_))), "{bad}");
        }
        assert!(matches!(
            PublicJwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"a"}"#),
            Err(Error::Malformed(_))
        ));
        // serde reading is as strict.
        assert!(
            serde_json::from_str::<PublicJwk>(
                r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","n":"c"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn jwk_sets_ignore_unusable_entries_and_ambiguous_kids() {
        let entry = |kid: &str, extra: &str| {
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"{kid}"{extra}}}"#)
        };
        let set = |entries: &[String]| {
            Jwks::from_json(&format!(r#"{{"keys":[{}]}}"#, entries.join(","))).unwrap()
        };
        assert!(set(&[entry("a", "")]).verifying_key("a").is_ok());
        assert!(
            set(&[entry("a", r#","alg":"ES256","use":"sig","x5c":[]"#)])
                .verifying_key("a")
                .is_ok()
        );
        for extra in [
            r#","alg":"ES384""#,
            r#","use":"enc""#,
            r#","alg":7"#,
            r#","d":null"#,
        ] {
            assert_eq!(
                set(&[entry("a", extra)]).verifying_key("a"),
                Err(Error::UnknownSigningKey),
                "{extra}"
            );
        }
        // A kid on two entries (even an unusable one) names no key.
        assert_eq!(
            set(&[entry("a", ""), entry("a", "")]).verifying_key("a"),
            Err(Error::UnknownSigningKey)
        );
        let rsa = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"a"}"#.to_owned();
        assert_eq!(
            set(&[rsa.clone(), entry("a", "")]).verifying_key("a"),
            Err(Error::UnknownSigningKey)
        );
        // Entries of other kinds do not disturb the others.
        let other = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"b"}"#.to_owned();
        assert!(set(&[other, entry("a", "")]).verifying_key("a").is_ok());
        // Other top-level members are ignored; the shape is not optional.
        assert!(Jwks::from_json(&format!(r#"{{"keys":[{}],"extra":1}}"#, entry("a", ""))).is_ok());
        for bad in [
            r#"{"keys":1}"#,
            r#"{"keys":[1]}"#,
            r#"{}"#,
            r#"[]"#,
            r#"{"keys":[],"keys":[]}"#,
        ] {
            assert!(
                matches!(Jwks::from_json(bad), Err(Error::Malformed(_))),
                "{bad}"
            );
        }
        assert!(
            Jwks::from_json(&format!(r#"{{"keys":[{}]}}"#, entry("a", r#","x":"dup""#))).is_err()
        );
    }
}
