//! Key identifiers.
//!
//! A key id is 1 to 128 characters of `[A-Za-z0-9_-]`. The service's ids are
//! `<node>_<22 base64url characters of 16 random bytes>`, so a load balancer can route on the
//! node tag; an end user's own key uses its RFC 7638 JWK thumbprint. The charset keeps key ids
//! free of the `0x00` separator of `info` and of the `.` separator of the compact envelope.

use crate::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// The longest key id accepted.
pub const MAX_KEY_ID_LEN: usize = 128;

/// A validated key id.
///
/// Cheap to clone: the text is shared (`Arc<str>`), so the service's cache key, its entry and
/// its expiry index hold one copy between them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Arc<str>);

impl KeyId {
    /// Validates `text` as a key id.
    pub fn new(text: impl Into<String>) -> Result<Self, Error> {
        let text = text.into();
        let ok = !text.is_empty()
            && text.len() <= MAX_KEY_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(text.into()))
        } else {
            Err(Error::InvalidKeyId)
        }
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The node tag: the part before the first `_`, if the id has one.
    pub fn node_tag(&self) -> Option<&str> {
        self.0.split_once('_').map(|(node, _)| node)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KeyId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        KeyId::new(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_charset_and_refuses_the_rest() {
        assert!(KeyId::new("node1_AbC-_09").is_ok());
        assert_eq!(
            KeyId::new("a".repeat(128)).map(|k| k.as_str().len()),
            Ok(128)
        );
        for bad in ["", "a.b", "a b", "a\0b", "é", "a/b", &"a".repeat(129)] {
            assert_eq!(KeyId::new(bad), Err(Error::InvalidKeyId), "{bad:?}");
        }
    }

    #[test]
    fn node_tag_is_the_prefix() {
        let id = KeyId::new("nodeA_xyz_w").unwrap();
        assert_eq!(id.node_tag(), Some("nodeA"));
        assert_eq!(KeyId::new("plain").unwrap().node_tag(), None);
    }
}
