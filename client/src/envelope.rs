//! Envelopes: sealed messages addressed to one key.
//!
//! JSON form: `{"version":1,"key_id":"…","sealed":"<base64url>","context":"…"}` (context
//! optional). Compact form, for the `Ok2cry-Envelope` header:
//! `v1.<key_id>.<sealed base64url>[.<context base64url>]`.
//!
//! `sealed` is `enc (65 bytes) || ciphertext`; see [`crate::suite`]. An envelope holds only
//! ciphertext, so it may be logged, copied and forwarded freely.
//!
//! Reading follows docs/PROTOCOL.md §10.3 step by step: the version first (so a later
//! version is refused as [`Error::UnsupportedVersion`] whatever its shape), then the shape,
//! the key id, the sealed bytes and the context, each with the error the table names.
//!
//! Owns: the two forms, sealing to a key ([`Envelope::seal`] and the others) and opening with
//! one ([`PrivateKey::open`] and the others, in an `impl PrivateKey` block here, because a
//! key does not know envelopes, the suite or the providers). Layering: built on `suite`,
//! `provider`, `private_key`, `public_key` and `key_token` (a [`VerifiedKey`]); none of them
//! may import this module.

use crate::json::{self, Json, Members};
use crate::provider::{self, CryptoProvider};
use crate::suite::{self, ENC_LEN, MAX_CONTEXT_LEN, MAX_SEALED_LEN, TAG_LEN, VERSION};
use crate::{Error, KeyId, Plaintext, PrivateKey, PublicKey, VerifiedKey, b64, wire};
use serde::Serialize;

/// A sealed message for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    key_id: KeyId,
    sealed: Vec<u8>,
    context: Option<String>,
}

/// The JSON form, for writing (reading is by hand, step by step).
#[derive(Serialize)]
struct EnvelopeJson {
    version: u8,
    key_id: String,
    sealed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
}

/// The members of the JSON form.
const MEMBERS: [&str; 4] = ["version", "key_id", "sealed", "context"];

/// Step 2 of the compact form: `v1` goes on; `v` followed by another integer written as §10.1
/// allows is a version this receiver does not implement; anything else is malformed.
fn compact_version(part: &str) -> Result<(), Error> {
    if part == "v1" {
        return Ok(());
    }
    let digits = part.strip_prefix('v').unwrap_or_default();
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match digits.parse::<u64>() {
        Ok(n) if canonical && n <= json::MAX_INTEGER => Err(Error::UnsupportedVersion),
        _ => Err(Error::Malformed(
            "compact envelope: expected v1.<key_id>.<sealed>[.<context>]",
        )),
    }
}

/// The context part of the compact form: strict base64url, at most 256 bytes (checked before
/// UTF-8), UTF-8. An empty part is the same as none.
fn compact_context(part: &str) -> Result<Option<String>, Error> {
    let bytes = b64::decode(part).ok_or(Error::Malformed("context: not base64url"))?;
    if bytes.len() > MAX_CONTEXT_LEN {
        return Err(Error::ContextTooLong);
    }
    let text = String::from_utf8(bytes).map_err(|_| Error::Malformed("context: not UTF-8"))?;
    Ok(Some(text).filter(|c| !c.is_empty()))
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
        check_sealed(&sealed)?;
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

    /// Parses the JSON form (docs/PROTOCOL.md §10.3, JSON steps 1 to 6).
    pub fn from_json(json: &str) -> Result<Self, Error> {
        // 1: strict JSON, an object.
        let tree = json::parse(json.as_bytes())
            .ok_or(Error::Malformed("envelope JSON: not strict JSON"))?;
        Self::from_json_tree(&tree)
    }

    /// Parses the JSON form from a value already read by `serde_json`.
    ///
    /// A `serde_json::Value` has already dropped duplicate members (it keeps the last), which
    /// §10.1 refuses: when the JSON text is at hand, use [`Envelope::from_json`] on the text.
    pub fn from_json_value(value: serde_json::Value) -> Result<Self, Error> {
        Self::from_json(&value.to_string())
    }

    /// Parses the JSON form from a tree read by the strict reader ([`json::parse`]), as the
    /// service does with the envelope member of an open request.
    pub fn from_json_tree(tree: &Json) -> Result<Self, Error> {
        const BAD: Error = Error::Malformed("envelope JSON: members or their types");
        let m = Members::of(tree).ok_or(Error::Malformed("envelope JSON: not an object"))?;
        // 2: the version, before anything else about the shape.
        match m.get("version") {
            Some(Json::Integer(1)) => {}
            Some(v) if v.as_integer(json::MAX_INTEGER).is_some() => {
                return Err(Error::UnsupportedVersion);
            }
            _ => {
                return Err(Error::Malformed(
                    "envelope JSON: version must be an integer",
                ));
            }
        }
        // 3: the other members and their types (`null` is never allowed).
        if !m.only(&MEMBERS) {
            return Err(BAD);
        }
        let key_id = m.string("key_id").ok_or(BAD)?;
        let sealed = m.string("sealed").ok_or(BAD)?;
        let context = m.optional_string("context").map_err(|()| BAD)?;
        // 4: the key id.
        let key_id = KeyId::new(key_id)?;
        // 5: the sealed bytes.
        let sealed = b64::decode(sealed).ok_or(Error::Malformed("sealed: not base64url"))?;
        // 6: the context (already Unicode; its UTF-8 length is checked by from_parts).
        Self::from_parts(key_id, sealed, context.map(str::to_owned))
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

    /// Parses the compact form (docs/PROTOCOL.md §10.3, compact steps 1 to 6).
    pub fn from_compact(text: &str) -> Result<Self, Error> {
        // 1: surrounding whitespace (SP, HT, LF, CR only), then the parts.
        let parts: Vec<&str> = wire::trim(text).split('.').collect();
        // 2: the version, before the number of parts.
        compact_version(parts.first().copied().unwrap_or_default())?;
        // 3: three or four parts.
        let (key_id, sealed, context) = match parts[..] {
            [_, key_id, sealed] => (key_id, sealed, None),
            [_, key_id, sealed, context] => (key_id, sealed, Some(context)),
            _ => {
                return Err(Error::Malformed(
                    "compact envelope: expected v1.<key_id>.<sealed>[.<context>]",
                ));
            }
        };
        // 4: the key id.
        let key_id = KeyId::new(key_id)?;
        // 5: the sealed bytes (length and point form are checked by from_parts, before 6).
        let sealed = b64::decode(sealed).ok_or(Error::Malformed("sealed: not base64url"))?;
        check_sealed(&sealed)?;
        // 6: the context.
        let context = match context {
            None => None,
            Some(c) => compact_context(c)?,
        };
        Self::from_parts(key_id, sealed, context)
    }

    /// Parses either form: after the surrounding whitespace, text that starts with `{` is the
    /// JSON form, anything else the compact form.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = wire::trim(text);
        if text.starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_compact(text)
        }
    }
}

/// Opening, defined here rather than in `private_key`: a key does not know envelopes, the
/// suite or the providers; opening needs all three.
impl PrivateKey {
    /// Opens `envelope`, which must be for `key_id` and, if it names a context, for `context`
    /// (default provider).
    ///
    /// `key_id` and `context` come from the opener's own records, never from the envelope:
    /// they are bound into `info`, so a mismatch also makes decryption fail.
    pub fn open(
        &self,
        key_id: &KeyId,
        context: &str,
        envelope: &Envelope,
    ) -> Result<Plaintext, Error> {
        self.open_with(provider::default_provider(), key_id, context, envelope)
    }

    /// [`PrivateKey::open`] with the given provider.
    pub fn open_with(
        &self,
        provider: &dyn CryptoProvider,
        key_id: &KeyId,
        context: &str,
        envelope: &Envelope,
    ) -> Result<Plaintext, Error> {
        if envelope.key_id() != key_id {
            return Err(Error::KeyIdMismatch);
        }
        if let Some(named) = envelope.context()
            && named != context
        {
            return Err(Error::ContextMismatch);
        }
        self.open_sealed_with(provider, key_id, context, envelope.sealed())
    }

    /// Opens raw sealed bytes (`enc || ciphertext`) for `key_id` and `context` (default
    /// provider).
    pub fn open_sealed(
        &self,
        key_id: &KeyId,
        context: &str,
        sealed: &[u8],
    ) -> Result<Plaintext, Error> {
        self.open_sealed_with(provider::default_provider(), key_id, context, sealed)
    }

    /// [`PrivateKey::open_sealed`] with the given provider.
    pub fn open_sealed_with(
        &self,
        provider: &dyn CryptoProvider,
        key_id: &KeyId,
        context: &str,
        sealed: &[u8],
    ) -> Result<Plaintext, Error> {
        let info = suite::info(key_id, context);
        suite::open_bytes(provider, self, &info, sealed).map(Plaintext::from_zeroizing)
    }
}

/// Step 5: 82 to 65 617 bytes, starting with 0x04.
fn check_sealed(sealed: &[u8]) -> Result<(), Error> {
    if sealed.len() < ENC_LEN + TAG_LEN + 1 || sealed.len() > MAX_SEALED_LEN {
        return Err(Error::Malformed("sealed: wrong length"));
    }
    if sealed[0] != 0x04 {
        return Err(Error::Malformed("sealed: enc is not an uncompressed point"));
    }
    Ok(())
}
