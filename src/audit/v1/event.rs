//! The version-1 audit event model (read-only: version-2 logs use [`crate::audit::event`]).
//! One event is one line of canonical JSON in a segment file; the
//! Merkle leaf is the exact bytes of that line (without the newline).
//!
//! The types have no field for a secret, a plaintext or a context value, so none can be
//! logged by mistake.

use serde::{Deserialize, Serialize};

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// Monotonic sequence number across the whole log (all segments, all restarts).
    pub seq: u64,
    /// When it was written: ISO 8601 UTC with milliseconds.
    pub time: String,
    /// The node that wrote it.
    pub node: String,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// A segment (one Merkle tree) begins; links to the previous segment's final tree.
    SegmentStarted {
        /// This segment's number.
        segment: u64,
        /// Size of the previous segment's tree (0 if none).
        previous_size: u64,
        /// Root of the previous segment's tree (base64), if any.
        previous_root: Option<String>,
    },
    /// A signed checkpoint of this segment was published at `size` (its note is in the
    /// segment's checkpoints file).
    Checkpoint {
        /// Tree size the checkpoint covers.
        size: u64,
        /// Its root hash (base64).
        root: String,
    },
    /// The service started.
    ServiceStarted {
        /// Version.
        version: String,
        /// SHA-256 of the running executable (hex).
        build_digest: String,
        /// JWK thumbprints of the token-signing keys.
        signing_keys: Vec<String>,
    },
    /// The service stopped cleanly.
    ServiceStopped {},
    /// A KEK was created.
    KekCreated {
        /// KEK id.
        kek_id: u64,
        /// It wraps new keys until then.
        wrap_until: String,
        /// It is destroyed at this time.
        not_after: String,
    },
    /// A KEK was destroyed.
    KekDestroyed {
        /// KEK id.
        kek_id: u64,
        /// Keys it wrapped.
        keys_wrapped: u64,
    },
    /// A key was created.
    KeyCreated {
        /// Key id.
        key_id: String,
        /// RFC 7638 thumbprint of its public key.
        jwk_thumbprint: String,
        /// Creator.
        owner: String,
        /// Designated opener.
        opener: String,
        /// Expiry.
        expires_at: String,
        /// KEK that wraps it.
        kek_id: u64,
        /// Label.
        label: Option<String>,
        /// Opens allowed.
        max_opens: u32,
    },
    /// An envelope was opened.
    KeyOpened {
        /// Key id.
        key_id: String,
        /// Who opened.
        opener: String,
        /// Opens so far.
        opens_used: u32,
        /// Opens left.
        opens_remaining: u32,
    },
    /// An open failed.
    OpenFailed {
        /// Key id.
        key_id: String,
        /// Who tried.
        principal: String,
        /// Failures so far.
        failures: u32,
        /// Coarse reason: `decrypt` or `forbidden`.
        reason: String,
    },
    /// A key was destroyed.
    KeyDestroyed {
        /// Key id.
        key_id: String,
        /// consumed, expired, revoked, failed_opens, shutdown, kek_destroyed, process_lost.
        reason: String,
        /// Its expiry, to compute the destruction lag.
        expires_at: String,
    },
}

impl Event {
    /// The canonical line (without newline): `seq`, `time`, `node`, `type`, then the body's
    /// fields in declaration order.
    pub fn to_line(&self) -> String {
        let body = serde_json::to_string(&self.body).unwrap_or_else(|_| "{}".into());
        let rest = body.strip_prefix('{').unwrap_or(&body);
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        format!(
            "{{\"seq\":{},\"time\":{},\"node\":{},{}",
            self.seq,
            quote(&self.time),
            quote(&self.node),
            rest
        )
    }

    /// Parses a line, refusing anything that is not exactly the canonical form (unknown or
    /// reordered fields, whitespace, …).
    pub fn parse_line(line: &str) -> Option<Self> {
        let event: Event = serde_json::from_str(line).ok()?;
        (event.to_line() == line).then_some(event)
    }
}

impl EventBody {
    /// The key id, for key events.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Self::KeyCreated { key_id, .. }
            | Self::KeyOpened { key_id, .. }
            | Self::OpenFailed { key_id, .. }
            | Self::KeyDestroyed { key_id, .. } => Some(key_id),
            _ => None,
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` into milliseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let t = time::PrimitiveDateTime::parse(text, &format)
        .ok()?
        .assume_utc();
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_canonical_and_round_trip() {
        let e = Event {
            seq: 7,
            time: "2026-11-24T09:41:07.123Z".into(),
            node: "n1".into(),
            body: EventBody::KeyDestroyed {
                key_id: "n1_x".into(),
                reason: "expired".into(),
                expires_at: "2026-11-24T09:41:07.100Z".into(),
            },
        };
        let line = e.to_line();
        assert_eq!(
            line,
            r#"{"seq":7,"time":"2026-11-24T09:41:07.123Z","node":"n1","type":"key_destroyed","key_id":"n1_x","reason":"expired","expires_at":"2026-11-24T09:41:07.100Z"}"#
        );
        assert_eq!(Event::parse_line(&line), Some(e));
        assert_eq!(
            parse_time("2026-11-24T09:41:07.123Z"),
            Some(1_795_513_267_123)
        );
        assert_eq!(
            Event::parse_line(&line.replace("\"node\"", "\"secret\":1,\"node\"")),
            None
        );
        assert_eq!(Event::parse_line(&line.replace(",\"", ", \"")), None);
    }
}
