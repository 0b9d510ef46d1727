//! Public keys as RFC 7517 JWKs (kty "EC", crv "P-256"), JWK sets, and RFC 7638 thumbprints.
//!
//! Parsing is strict where it matters for safety: only EC P-256 public keys, coordinates of
//! exactly 32 bytes in unpadded base64url, the point on the curve, and no private part (`d`).
//! Members other libraries add (WebCrypto's `ext`, `key_ops`) are tolerated.

use crate::{Error, PublicKey, b64};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An EC P-256 public JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A private part. Present only to be refused.
    #[serde(default, skip_serializing)]
    d: Option<serde_json::Value>,
}

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
            d: None,
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

    /// Validates the JWK and returns the point.
    pub fn to_public_key(&self) -> Result<PublicKey, Error> {
        if self.kty != "EC" || self.crv != "P-256" || self.d.is_some() {
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

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A JWK set (RFC 7517 §5), as published at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// Parses a JWK set from JSON.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json).map_err(|_| Error::Malformed("JWK set"))
    }

    /// The key with `kid`, if any.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let good = PublicJwk::ec_p256(
            "q8fkmkxrNWbXfQMErdxu0OmFEv_M9QXmqOPrJcaFE28".into(),
            "hTFIVEh23nbA8u-ZzcOgXM9d7Xhgx8AhI4-eIHPSNWw".into(),
        );
        assert!(good.to_public_key().is_ok());
        let mut with_d = good.clone();
        with_d.d = Some(serde_json::json!("AAAA"));
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
        let mut padded = good;
        padded.x.push('=');
        assert_eq!(padded.to_public_key(), Err(Error::InvalidPublicKey));
    }
}
