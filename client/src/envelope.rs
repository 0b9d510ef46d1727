//! Envelopes: sealed messages addressed to one key.
//!
//! JSON form: `{"version":1,"key_id":"…","sealed":"<base64url>","context":"…"}` (context
//! optional). Compact form, for the `Ok2cry-Envelope` header:
//! `v1.<key_id>.<sealed base64url>[.<context base64url>]`.
//!
//! `sealed` is `enc (65 bytes) || ciphertext`; see [`crate::suite`]. An envelope holds only
//! ciphertext, so it may be logged, copied and forwarded freely.

use crate::provider::{self, CryptoProvider};
use crate::suite::{self, ENC_LEN, MAX_SEALED_LEN, TAG_LEN, VERSION};
use crate::{Error, KeyId, PublicKey, VerifiedKey, b64};
use serde::{Deserialize, Serialize};

/// A sealed message for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    key_id: KeyId,
    sealed: Vec<u8>,
    context: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeJson {
    version: u8,
    key_id: String,
    sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<String>,
}

impl Envelope {
    /// Seals `plaintext` to a verified service key, binding its key id and context (default
    /// provider).
    pub fn seal(key: &VerifiedKey, plaintext: &[u8]) -> Result<Self, Error> {
        Self::seal_with(provider::default_provider(), key, plaintext)
    }

    /// [`Envelope::seal`] with the given provider.
    pub fn seal_with(
        provider: &dyn CryptoProvider,
        key: &VerifiedKey,
        plaintext: &[u8],
    ) -> Result<Self, Error> {
        Self::seal_to_with(
            provider,
            key.public_key(),
            key.key_id(),
            key.context(),
            plaintext,
        )
    }

    /// Seals to a raw public key (an end user's own key) under `key_id` and `context` (default
    /// provider).
    pub fn seal_to(
        public_key: &PublicKey,
        key_id: &KeyId,
        context: &str,
        plaintext: &[u8],
    ) -> Result<Self, Error> {
        Self::seal_to_with(
            provider::default_provider(),
            public_key,
            key_id,
            context,
            plaintext,
        )
    }

    /// [`Envelope::seal_to`] with the given provider.
    pub fn seal_to_with(
        provider: &dyn CryptoProvider,
        public_key: &PublicKey,
        key_id: &KeyId,
        context: &str,
        plaintext: &[u8],
    ) -> Result<Self, Error> {
        suite::check_context(context)?;
        let info = suite::info(key_id, context);
        let sealed = suite::seal_bytes(provider, public_key, &info, plaintext)?;
        Ok(Self {
            key_id: key_id.clone(),
            sealed,
            context: Some(context.to_owned()).filter(|c| !c.is_empty()),
        })
    }

    /// Builds an envelope from parts, validating them.
    pub fn from_parts(
        key_id: KeyId,
        sealed: Vec<u8>,
        context: Option<String>,
    ) -> Result<Self, Error> {
        if sealed.len() < ENC_LEN + TAG_LEN + 1 || sealed.len() > MAX_SEALED_LEN {
            return Err(Error::Malformed("sealed: wrong length"));
        }
        if sealed[0] != 0x04 {
            return Err(Error::Malformed("sealed: enc is not an uncompressed point"));
        }
        let context = context.filter(|c| !c.is_empty());
        if let Some(c) = &context {
            suite::check_context(c)?;
        }
        Ok(Self {
            key_id,
            sealed,
            context,
        })
    }

    /// The key this envelope is for.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }
    /// `enc || ciphertext`.
    pub fn sealed(&self) -> &[u8] {
        &self.sealed
    }
    /// The context the sender bound, if it said.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        let json = EnvelopeJson {
            version: VERSION,
            key_id: self.key_id.as_str().to_owned(),
            sealed: b64::encode(&self.sealed),
            context: self.context.clone(),
        };
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// The JSON form as a value (to embed in a larger document).
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::json!({
            "version": VERSION,
            "key_id": self.key_id.as_str(),
            "sealed": b64::encode(&self.sealed),
        })
        .as_object()
        .cloned()
        .map(|mut m| {
            if let Some(c) = &self.context {
                m.insert("context".into(), serde_json::Value::String(c.clone()));
            }
            serde_json::Value::Object(m)
        })
        .unwrap_or_default()
    }

    /// Parses the JSON form.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let parsed: EnvelopeJson =
            serde_json::from_str(json).map_err(|_| Error::Malformed("envelope JSON"))?;
        Self::from_json_parts(parsed)
    }

    /// Parses the JSON form from a value.
    pub fn from_json_value(value: serde_json::Value) -> Result<Self, Error> {
        let parsed: EnvelopeJson =
            serde_json::from_value(value).map_err(|_| Error::Malformed("envelope JSON"))?;
        Self::from_json_parts(parsed)
    }

    fn from_json_parts(parsed: EnvelopeJson) -> Result<Self, Error> {
        if parsed.version != VERSION {
            return Err(Error::UnsupportedVersion);
        }
        let key_id = KeyId::new(parsed.key_id)?;
        let sealed =
            b64::decode(&parsed.sealed).ok_or(Error::Malformed("sealed: not base64url"))?;
        Self::from_parts(key_id, sealed, parsed.context)
    }

    /// The compact form: `v1.<key_id>.<sealed>[.<context>]`, all base64url but the key id.
    pub fn to_compact(&self) -> String {
        let mut out = format!("v{VERSION}.{}.{}", self.key_id, b64::encode(&self.sealed));
        if let Some(c) = &self.context {
            out.push('.');
            out.push_str(&b64::encode(c.as_bytes()));
        }
        out
    }

    /// Parses the compact form.
    pub fn from_compact(text: &str) -> Result<Self, Error> {
        let mut parts = text.trim().split('.');
        let version = parts.next().ok_or(Error::Malformed("compact envelope"))?;
        if version != "v1" {
            return Err(if version.starts_with('v') {
                Error::UnsupportedVersion
            } else {
                Error::Malformed("compact envelope: expected v1.<key_id>.<sealed>[.<context>]")
            });
        }
        let (Some(key_id), Some(sealed), context, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Malformed(
                "compact envelope: expected v1.<key_id>.<sealed>[.<context>]",
            ));
        };
        let key_id = KeyId::new(key_id)?;
        let sealed = b64::decode(sealed).ok_or(Error::Malformed("sealed: not base64url"))?;
        let context = match context {
            None => None,
            Some(c) => {
                let bytes = b64::decode(c).ok_or(Error::Malformed("context: not base64url"))?;
                Some(String::from_utf8(bytes).map_err(|_| Error::Malformed("context: not UTF-8"))?)
            }
        };
        Self::from_parts(key_id, sealed, context)
    }
}
