//! Strict JSON reading (docs/PROTOCOL.md §10.1): the one JSON reader behind every JSON form
//! of the protocol (envelopes, key token header and claims, JWKs, JWK sets).
//!
//! `serde_json` does the grammar (RFC 8259: UTF-8, escapes, no lone surrogates, no trailing
//! data, no leading zeros); this module adds what the protocol asks beyond it, which generic
//! readers do not check:
//!
//! - no member name twice in any object, at any depth (names compared after unescaping), so
//!   two readers can never see different values (a reader that keeps the last duplicate and
//!   one that keeps the first);
//! - at most [`MAX_DEPTH`] nested arrays and objects;
//! - integers kept apart from other numbers: an integer is written `0` or `[1-9][0-9]*` (no
//!   sign, fraction or exponent) and read exactly; [`MAX_INTEGER`] bounds every integer of
//!   the protocol, so that a reader whose numbers are IEEE doubles (JavaScript) agrees.
//!
//! The tree keeps members in document order. Typed readers (envelope, key token, JWK) take
//! members from it by name and refuse what their tables do not allow.

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeSet;
use std::fmt;

/// The largest integer of the protocol: 2^53 − 1, the largest integer an IEEE double (every
/// JavaScript number) holds exactly.
pub const MAX_INTEGER: u64 = (1 << 53) - 1;

/// The deepest nesting of arrays and objects accepted (the outermost object is depth 1).
pub const MAX_DEPTH: usize = 32;

/// A JSON value read strictly.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number written as a non-negative integer (`0` or `[1-9][0-9]*`) that fits in 64 bits.
    Integer(u64),
    /// Any other number: negative, with a fraction or an exponent, or beyond 64 bits.
    OtherNumber,
    String(String),
    Array(Vec<Json>),
    /// Members in document order; names are unique.
    Object(Vec<(String, Json)>),
}

/// Reads one JSON text strictly. `None` when it is not JSON, has a duplicate member name at
/// any depth, or nests deeper than [`MAX_DEPTH`].
pub fn parse(bytes: &[u8]) -> Option<Json> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Seed { depth: 0 }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

impl Json {
    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value, if this is an integer no larger than `max` (itself at most [`MAX_INTEGER`]).
    pub fn as_integer(&self, max: u64) -> Option<u64> {
        match self {
            Json::Integer(n) if *n <= max.min(MAX_INTEGER) => Some(*n),
            _ => None,
        }
    }
}

/// Reading an object's members by name.
pub struct Members<'a>(&'a [(String, Json)]);

impl<'a> Members<'a> {
    pub fn of(value: &'a Json) -> Option<Self> {
        value.as_object().map(Self)
    }

    /// The member called `name`, if present (names are unique).
    pub fn get(&self, name: &str) -> Option<&'a Json> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether every member is one of `allowed`.
    pub fn only(&self, allowed: &[&str]) -> bool {
        self.0.iter().all(|(n, _)| allowed.contains(&n.as_str()))
    }

    /// A required string member.
    pub fn string(&self, name: &str) -> Option<&'a str> {
        self.get(name)?.as_str()
    }

    /// An optional string member: `Ok(None)` when absent, `Err` when present but not a string
    /// (`null` included: no member of the protocol may be `null`).
    pub(crate) fn optional_string(&self, name: &str) -> Result<Option<&'a str>, ()> {
        match self.get(name) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(_) => Err(()),
        }
    }

    /// A required integer member in `0..=max`.
    pub fn integer(&self, name: &str, max: u64) -> Option<u64> {
        self.get(name)?.as_integer(max)
    }
}

struct Seed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(StrictVisitor { depth: self.depth })
    }
}

struct StrictVisitor {
    depth: usize,
}

impl StrictVisitor {
    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            Err(E::custom("JSON nested too deeply"))
        } else {
            Ok(depth)
        }
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    // serde_json calls visit_u64 only for a number written without sign, fraction or exponent
    // that fits in 64 bits; `-0`, `1.0`, `1e3` and longer integers arrive as i64 or f64.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Integer(v))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::OtherNumber)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::OtherNumber)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let depth = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed { depth })? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let depth = self.nested()?;
        let mut names = BTreeSet::new();
        let mut members = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if !names.insert(name.clone()) {
                return Err(de::Error::custom("duplicate member name"));
            }
            let value = map.next_value_seed(Seed { depth })?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

/// Deserializes a strict tree from any serde deserializer (used by the `Deserialize` impls of
/// the protocol's public types, so that `serde_json::from_str::<Jwks>` is as strict as
/// [`parse`]).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
    Seed { depth: 0 }.deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Json {
        parse(text.as_bytes()).unwrap_or_else(|| panic!("refused: {text}"))
    }

    fn refused(text: &str) {
        assert_eq!(parse(text.as_bytes()), None, "accepted: {text}");
    }

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        refused(r#"{"a":1,"a":1}"#);
        refused(r#"{"a":{"b":1,"b":2}}"#);
        refused(r#"{"a":[{"b":1,"b":2}]}"#);
        // Names are compared after unescaping.
        refused(r#"{"a":1,"\u0061":2}"#);
        assert!(matches!(
            ok(r#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#),
            Json::Object(_)
        ));
    }

    #[test]
    fn integers_are_kept_apart() {
        assert_eq!(ok("0"), Json::Integer(0));
        assert_eq!(ok("9007199254740991"), Json::Integer(MAX_INTEGER));
        assert_eq!(
            ok("9007199254740991").as_integer(u64::MAX),
            Some(MAX_INTEGER)
        );
        assert_eq!(ok("9007199254740992").as_integer(u64::MAX), None);
        for other in [
            "-0",
            "-1",
            "1.0",
            "1e3",
            "1E3",
            "0.5",
            "18446744073709551616",
        ] {
            assert_eq!(ok(other), Json::OtherNumber, "{other}");
        }
        for bad in ["01", "+1", ".5", "1.", "0x10", "NaN", "Infinity"] {
            refused(bad);
        }
    }

    #[test]
    fn grammar_is_serde_json_s() {
        for bad in [
            "",
            " ",
            "{",
            "{}x",
            "{} {}",
            "\u{feff}{}",
            "{'a':1}",
            r#"{"a":1,}"#,
            r#"["\ud800"]"#,
            r#"["\udc00"]"#,
            "[\"\t\"]",
        ] {
            refused(bad);
        }
        assert!(matches!(ok(" \t\r\n{}\n"), Json::Object(_)));
        assert_eq!(ok(r#""\ud83d\udd11""#), Json::String("\u{1f511}".into()));
        // Invalid UTF-8.
        assert_eq!(parse(b"[\"\xff\"]"), None);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(MAX_DEPTH).as_bytes()).is_some());
        assert!(parse(deep(MAX_DEPTH + 1).as_bytes()).is_none());
    }

    #[test]
    fn members_by_name() {
        let v = ok(r#"{"s":"x","n":5,"z":null}"#);
        let m = Members::of(&v).unwrap();
        assert_eq!(m.string("s"), Some("x"));
        assert_eq!(m.integer("n", 5), Some(5));
        assert_eq!(m.integer("n", 4), None);
        assert_eq!(m.optional_string("absent"), Ok(None));
        assert_eq!(m.optional_string("z"), Err(()));
        assert!(m.only(&["s", "n", "z"]));
        assert!(!m.only(&["s", "n"]));
    }
}
