//! The audit event model: the one event type of the service. Custody, the node and recovery
//! emit [`EventBody`] values; the log stamps each with its sequence number (its leaf index in
//! the node's Merkle tree), its time and the node id, and writes it as one line of canonical
//! JSON. The Merkle leaf is the exact bytes of that line (without the newline).
//!
//! The types have no field for a secret, a plaintext or a context value, so none can be
//! logged by mistake. Reasons are enums, named once here.

use crate::clock::{Millis, iso8601};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, written as ISO 8601 UTC with milliseconds (`2026-11-24T09:41:07.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub Millis);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&iso8601(self.0))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_time(&text)
            .map(Timestamp)
            .ok_or_else(|| serde::de::Error::custom("not an ISO 8601 UTC time with milliseconds"))
    }
}

/// Why a key was destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DestroyReason {
    /// Its opens were used up.
    Consumed,
    /// Its TTL ran out.
    Expired,
    /// Deleted early by its creator or opener.
    Revoked,
    /// Too many failed opens.
    FailedOpens,
    /// The service shut down.
    Shutdown,
    /// Its KEK was destroyed before it (crypto-shredded).
    KekDestroyed,
    /// The process that held it died; recorded by the next start (`lost` dates it).
    ProcessLost,
    /// The request that created it was cancelled before the key was handed out.
    Aborted,
}

impl DestroyReason {
    /// Every reason, in the order the docs list them.
    pub const ALL: [DestroyReason; 8] = [
        Self::Consumed,
        Self::Expired,
        Self::Revoked,
        Self::FailedOpens,
        Self::Shutdown,
        Self::KekDestroyed,
        Self::ProcessLost,
        Self::Aborted,
    ];

    /// The reason's name in the API, the log and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Consumed => "consumed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::FailedOpens => "failed_opens",
            Self::Shutdown => "shutdown",
            Self::KekDestroyed => "kek_destroyed",
            Self::ProcessLost => "process_lost",
            Self::Aborted => "aborted",
        }
    }
}

/// Why a key-encryption key was destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KekDestroyReason {
    /// Its lifetime ended (it outlived every key it may have wrapped).
    Expired,
    /// The service shut down.
    Shutdown,
    /// The process that held it died; recorded by the next start (`lost` dates it).
    ProcessLost,
}

/// Why an open was refused (deliberately coarse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenFailure {
    /// The envelope did not decrypt (tampered, wrong key, wrong context, …).
    Decrypt,
    /// The caller is not the key's designated opener.
    Forbidden,
}

/// Evidence for a `process_lost` destruction: the dead process's last durable event. The
/// key (or KEK) lived in that process's RAM only, so it was gone at the latest then; the
/// verifier checks that this is indeed the last event before the next `process_started`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    /// Sequence number of the dead process's last event.
    pub seq: u64,
    /// Its time.
    pub time: Timestamp,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    /// The first event of every process: a new epoch of the node's log. Everything a process
    /// held in RAM (keys, KEKs) lives within one epoch.
    ProcessStarted {
        /// Version of the service.
        version: String,
        /// SHA-256 of the running executable (hex).
        build_digest: String,
    },
    /// The service is ready (after recovery and the first KEK).
    ServiceStarted {
        /// JWK thumbprints of the token-signing keys.
        signing_keys: Vec<String>,
    },
    /// The service stopped cleanly: every key and KEK was destroyed before this event.
    ServiceStopped {},
    /// The audit key changes: checkpoints after this event are signed by `new_key` (and the
    /// first of them also by the old key, which vouches for the change).
    AuditKeyRotated {
        /// The new key as a C2SP signed-note verifier key (`name+id+base64`).
        new_key: String,
    },
    /// A KEK was created.
    KekCreated {
        /// KEK id (unique within the process).
        kek_id: u64,
        /// It wraps new keys until then.
        wrap_until: Timestamp,
        /// It is destroyed at this time.
        not_after: Timestamp,
    },
    /// A KEK was destroyed.
    KekDestroyed {
        /// KEK id.
        kek_id: u64,
        /// Keys it wrapped.
        keys_wrapped: u64,
        /// Why.
        reason: KekDestroyReason,
        /// For `process_lost`: the dead process's last durable event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lost: Option<Lost>,
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
        expires_at: Timestamp,
        /// KEK that wraps it.
        kek_id: u64,
        /// Label.
        label: Option<String>,
        /// Opens allowed.
        max_opens: u32,
    },
    /// An envelope was opened; written before the plaintext is handed out.
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
    /// An open was refused.
    OpenFailed {
        /// Key id.
        key_id: String,
        /// Who tried.
        principal: String,
        /// Failures so far.
        failures: u32,
        /// Coarse reason.
        reason: OpenFailure,
    },
    /// A key was destroyed.
    KeyDestroyed {
        /// Key id.
        key_id: String,
        /// Why.
        reason: DestroyReason,
        /// Its expiry, to compute the destruction lag.
        expires_at: Timestamp,
        /// For `process_lost`: the dead process's last durable event, when the key died with
        /// it at the latest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lost: Option<Lost>,
    },
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

    /// The event's type name, as in the `type` member.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ProcessStarted { .. } => "process_started",
            Self::ServiceStarted { .. } => "service_started",
            Self::ServiceStopped {} => "service_stopped",
            Self::AuditKeyRotated { .. } => "audit_key_rotated",
            Self::KekCreated { .. } => "kek_created",
            Self::KekDestroyed { .. } => "kek_destroyed",
            Self::KeyCreated { .. } => "key_created",
            Self::KeyOpened { .. } => "key_opened",
            Self::OpenFailed { .. } => "open_failed",
            Self::KeyDestroyed { .. } => "key_destroyed",
        }
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// Its leaf index in the node's tree (0, 1, 2, … across every segment and restart).
    pub seq: u64,
    /// When it was written.
    pub time: Timestamp,
    /// The node that wrote it.
    pub node: String,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// The canonical line (without newline): `seq`, `time`, `node`, `type`, then the body's
    /// fields in declaration order, no whitespace.
    pub fn to_line(&self) -> String {
        line(self.seq, self.time, &self.node, &self.body)
    }

    /// Parses a line, refusing anything that is not exactly the canonical form (unknown or
    /// reordered fields, whitespace, escapes written differently, …).
    pub fn parse_line(line: &str) -> Option<Self> {
        let event: Event = serde_json::from_str(line).ok()?;
        (event.to_line() == line).then_some(event)
    }
}

/// The canonical line of an event.
pub fn line(seq: u64, time: Timestamp, node: &str, body: &EventBody) -> String {
    // Serializing these types cannot fail (no maps with non-string keys, no custom errors).
    let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let rest = body.strip_prefix('{').unwrap_or(&body);
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        "{{\"seq\":{seq},\"time\":\"{}\",\"node\":{},{rest}",
        iso8601(time.0),
        quote(node),
    )
}

/// Bytes of creation time at the start of a service key id's random part.
const KEY_ID_TIME_BYTES: usize = 6;
/// Random bytes after them.
const KEY_ID_RANDOM_BYTES: usize = 16;

/// A service key id: `<node>_<base64url(creation time in ms, 6 bytes big-endian || 16 random
/// bytes)>`. The creation time lets the log find a key's events (receipts) and lets a
/// verifier bound its memory; it is not secret (the key token carries `iat` too).
pub fn service_key_id(
    node: &str,
    created_ms: Millis,
    random: &[u8; KEY_ID_RANDOM_BYTES],
) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut bytes = [0u8; KEY_ID_TIME_BYTES + KEY_ID_RANDOM_BYTES];
    bytes[..KEY_ID_TIME_BYTES].copy_from_slice(&created_ms.to_be_bytes()[8 - KEY_ID_TIME_BYTES..]);
    bytes[KEY_ID_TIME_BYTES..].copy_from_slice(random);
    format!("{node}_{}", Base64UrlUnpadded::encode_string(&bytes))
}

/// The creation time embedded in a service key id, if it has that form.
pub fn key_id_created_ms(key_id: &str) -> Option<Millis> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let (_, rest) = key_id.split_once('_')?;
    let bytes = Base64UrlUnpadded::decode_vec(rest).ok()?;
    if bytes.len() != KEY_ID_TIME_BYTES + KEY_ID_RANDOM_BYTES {
        return None;
    }
    let mut time = [0u8; 8];
    time[8 - KEY_ID_TIME_BYTES..].copy_from_slice(&bytes[..KEY_ID_TIME_BYTES]);
    Some(u64::from_be_bytes(time))
}

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` into milliseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Option<Millis> {
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
            time: Timestamp(1_795_513_267_123),
            node: "n1".into(),
            body: EventBody::KeyDestroyed {
                key_id: "n1_x".into(),
                reason: DestroyReason::Expired,
                expires_at: Timestamp(1_795_513_267_100),
                lost: None,
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
        assert_eq!(
            Event::parse_line(&line.replace("expired", "evaporated")),
            None
        );
        // An explicit null for an absent optional member is not canonical.
        assert_eq!(
            Event::parse_line(&line.replace("}", ",\"lost\":null}")),
            None
        );
    }

    #[test]
    fn process_lost_carries_its_evidence() {
        let e = Event {
            seq: 9,
            time: Timestamp(2_000),
            node: "n1".into(),
            body: EventBody::KeyDestroyed {
                key_id: "n1_y".into(),
                reason: DestroyReason::ProcessLost,
                expires_at: Timestamp(1_500),
                lost: Some(Lost {
                    seq: 8,
                    time: Timestamp(1_000),
                }),
            },
        };
        let line = e.to_line();
        assert!(
            line.ends_with(r#""lost":{"seq":8,"time":"1970-01-01T00:00:01.000Z"}}"#),
            "{line}"
        );
        assert_eq!(Event::parse_line(&line), Some(e));
    }

    #[test]
    fn service_key_ids_carry_their_creation_time() {
        let id = service_key_id("n1", 1_795_513_267_123, &[7u8; 16]);
        assert!(id.starts_with("n1_"));
        assert_eq!(id.len(), 3 + 30);
        assert_eq!(key_id_created_ms(&id), Some(1_795_513_267_123));
        // The example of docs/PROTOCOL.md §2.
        assert_eq!(id, "n1_AaIM7jOzBwcHBwcHBwcHBwcHBwcHBw");
        assert!(ok2cry_client::KeyId::new(&id).is_ok());
        // Ids of another form (version 1: 16 random bytes) carry no time.
        assert_eq!(key_id_created_ms("n1_AAECAwQFBgcICQoLDA0ODw"), None);
        assert_eq!(key_id_created_ms("nounderscore"), None);
    }

    #[test]
    fn every_reason_has_its_name() {
        for r in DestroyReason::ALL {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
    }
}
