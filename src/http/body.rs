//! Request bodies, read strictly and in one place (docs/SECURITY.md, "Input").
//!
//! A JSON body must be sent as `application/json` (415 otherwise) and be one JSON object
//! read by the protocol's strict reader (docs/PROTOCOL.md §10.1: no member twice at any
//! depth, bounded nesting, integers apart from other numbers) with only the members its route
//! documents, none of them `null`. Errors are in the project's own words: they name the
//! member and what it must be, never a Rust type.
//!
//! Layer: http. Owns how request bodies are read; it must not interpret what they ask for.

use crate::http::problem::AppError;
use axum::http::{HeaderMap, header};
use ok2cry_client::json::{self, Json};

/// The media type of every JSON request body.
pub const JSON: &str = "application/json";

/// Whether the request declares a JSON body: `application/json`, with at most a
/// `charset=utf-8` parameter (RFC 8259 §8.1: JSON is UTF-8).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return false;
    }
    parts.all(|p| {
        let p = p.trim();
        p.is_empty()
            || p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            })
    })
}

/// A member name as shown in an error: bounded, and printable.
fn shown(name: &str) -> String {
    let mut s: String = name
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// A JSON object body whose members have been checked against the route's list.
#[derive(Debug)]
pub struct Object {
    tree: Json,
}

impl Object {
    /// Reads `body` as a JSON object with members among `allowed`. `Ok(None)` for an empty
    /// body (routes where every member is optional).
    pub fn read(
        headers: &HeaderMap,
        body: &[u8],
        allowed: &[&str],
    ) -> Result<Option<Self>, AppError> {
        Self::read_or(headers, body, allowed, || {
            AppError::BadRequest(
                "the body is not strict JSON: malformed, a member named twice, or nested too deeply"
                    .into(),
            )
        })
    }

    /// As [`Object::read`], with `not_strict` the error for a body the strict reader refuses
    /// (an open request's body carries an envelope: docs/PROTOCOL.md §11.2 calls that
    /// `Malformed`).
    pub fn read_or(
        headers: &HeaderMap,
        body: &[u8],
        allowed: &[&str],
        not_strict: impl FnOnce() -> AppError,
    ) -> Result<Option<Self>, AppError> {
        if body.is_empty() {
            return Ok(None);
        }
        if !is_json(headers) {
            return Err(AppError::UnsupportedMediaType(format!(
                "the body must be sent as {JSON}"
            )));
        }
        let tree = json::parse(body).ok_or_else(not_strict)?;
        let Some(members) = tree.as_object() else {
            return Err(AppError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        };
        if let Some((name, _)) = members.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
            return Err(AppError::BadRequest(format!(
                "unknown member \"{}\"; this request takes {}",
                shown(name),
                if allowed.is_empty() {
                    "no members".to_owned()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        Ok(Some(Self { tree }))
    }

    fn get(&self, name: &str) -> Option<&Json> {
        json::Members::of(&self.tree).and_then(|m| m.get(name))
    }

    /// An optional integer member in `min..=max` (`null` is refused like any other type).
    pub fn integer(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_integer(max)
                .filter(|n| *n >= min)
                .map(Some)
                .ok_or_else(|| {
                    AppError::BadRequest(format!("{name} must be an integer from {min} to {max}"))
                }),
        }
    }

    /// An optional string member (`null` is refused like any other type).
    pub fn string(&self, name: &str) -> Result<Option<&str>, AppError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| AppError::BadRequest(format!("{name} must be a string"))),
        }
    }

    /// A required member, as read.
    pub fn required(&self, name: &str) -> Result<&Json, AppError> {
        self.get(name)
            .ok_or_else(|| AppError::BadRequest(format!("the member {name} is required")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn status(r: Result<Option<Object>, AppError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => axum::response::IntoResponse::into_response(e)
                .status()
                .as_u16(),
        }
    }

    #[test]
    fn media_types() {
        let body = br#"{"a":1}"#;
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert_eq!(
                status(Object::read(&headers(ok), body, &["a"])),
                200,
                "{ok}"
            );
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "application/json-patch+json",
            "application/jsonx",
        ] {
            assert_eq!(
                status(Object::read(&headers(bad), body, &["a"])),
                415,
                "{bad}"
            );
        }
        assert_eq!(status(Object::read(&HeaderMap::new(), body, &["a"])), 415);
        // No body, no type needed.
        assert!(
            Object::read(&HeaderMap::new(), b"", &["a"])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn shapes_members_and_types() {
        let h = headers("application/json");
        let read = |b: &str| Object::read(&h, b.as_bytes(), &["a", "s"]);
        for bad in [
            "[1,2]",
            "1",
            "\"a\"",
            "null",
            r#"{"a":1,"a":1}"#,
            r#"{"a":1,"x":2}"#,
            r#"{"a":1} {}"#,
            "{",
        ] {
            assert_eq!(status(read(bad)), 400, "{bad}");
        }
        let o = read(r#"{"a":5,"s":"x"}"#).unwrap().unwrap();
        assert_eq!(o.integer("a", 1, 10).unwrap(), Some(5));
        assert_eq!(o.string("s").unwrap(), Some("x"));
        assert!(o.integer("a", 6, 10).is_err());
        assert!(o.string("a").is_err());
        let o = read(r#"{"a":null,"s":null}"#).unwrap().unwrap();
        assert!(o.integer("a", 0, 10).is_err());
        assert!(o.string("s").is_err());
        let o = read(r#"{"a":1.0}"#).unwrap().unwrap();
        assert!(o.integer("a", 0, 10).is_err());
        let o = read("{}").unwrap().unwrap();
        assert_eq!(o.integer("a", 0, 10).unwrap(), None);
        assert!(o.required("a").is_err());
    }

    #[test]
    fn errors_are_in_our_words() {
        let h = headers("application/json");
        let e = Object::read(&h, br#"{"\u0007evil":1}"#, &["a"]).unwrap_err();
        let AppError::BadRequest(text) = e else {
            panic!("{e:?}")
        };
        assert!(text.contains("?evil"), "{text}");
        assert!(!text.contains("struct"), "{text}");
    }
}
