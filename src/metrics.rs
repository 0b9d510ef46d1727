//! Prometheus metrics, served at `/metrics`.
//!
//! Live keys, keys created, opened, failed opens, destroyed by reason, destruction lag
//! (expiry → destroyed event, for expired keys), KEK rotations and requests refused for a
//! full store. Labels never carry key ids or principals: cardinality stays bounded.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    /// Keys alive now.
    pub live_keys: Gauge,
    /// Tombstones held (destroyed keys that still answer 410), as of the last sweep.
    pub tombstones: Gauge,
    /// Keys created.
    pub created: Counter,
    /// Envelopes opened.
    pub opened: Counter,
    /// Failed opens.
    pub open_failed: Counter,
    /// Keys destroyed, by reason.
    pub destroyed: Family<Vec<(String, String)>, Counter>,
    /// Seconds between a key's expiry and its destruction (expired keys only).
    pub destruction_lag: Histogram,
    /// KEKs created after the first.
    pub kek_rotations: Counter,
    /// KEKs destroyed.
    pub kek_destroyed: Counter,
    /// Creations refused because the store was full.
    pub store_full: Counter,
    /// Creations refused because the principal had its quota of live keys.
    pub quota_exceeded: Counter,
    /// Connections refused at admission, by reason.
    pub connections_refused: Family<Vec<(String, String)>, Counter>,
    /// Connections closed by the server for a timeout, by reason.
    pub connections_closed: Family<Vec<(String, String)>, Counter>,
    /// Requests refused: the principal's source address is outside its allow list.
    pub source_refused: Counter,
    /// Sealed audit segments not yet archived (as of the last archiving pass).
    pub audit_unarchived: Gauge,
    /// Audit segments archived and read back.
    pub audit_archived: Counter,
    /// Archiving passes that failed (the local copies were kept).
    pub audit_archive_failures: Counter,
    /// The `destroyed` counter of each reason seen, looked up once: making the label set and
    /// hashing it on every destruction was the sweeper's largest cost in a profile.
    destroyed_by_reason: std::sync::Mutex<Vec<(&'static str, Counter)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ok2cry");
        let live_keys = Gauge::default();
        let tombstones = Gauge::default();
        let created = Counter::default();
        let opened = Counter::default();
        let open_failed = Counter::default();
        let destroyed = Family::<Vec<(String, String)>, Counter>::default();
        // 1 ms … ~16 s.
        let destruction_lag = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let kek_rotations = Counter::default();
        let kek_destroyed = Counter::default();
        let store_full = Counter::default();
        let quota_exceeded = Counter::default();
        let connections_refused = Family::<Vec<(String, String)>, Counter>::default();
        let connections_closed = Family::<Vec<(String, String)>, Counter>::default();
        let source_refused = Counter::default();
        registry.register(
            "source_refused",
            "Requests refused: the principal connected from outside its allow list",
            source_refused.clone(),
        );
        let audit_unarchived = Gauge::default();
        let audit_archived = Counter::default();
        let audit_archive_failures = Counter::default();
        registry.register(
            "audit_unarchived_segments",
            "Sealed audit segments not yet archived (as of the last archiving pass)",
            audit_unarchived.clone(),
        );
        registry.register(
            "audit_archived_segments",
            "Audit segments archived and checked by reading them back",
            audit_archived.clone(),
        );
        registry.register(
            "audit_archive_failures",
            "Archiving passes that failed; the local copies were kept",
            audit_archive_failures.clone(),
        );
        registry.register("live_keys", "Disposable keys alive now", live_keys.clone());
        registry.register(
            "tombstones",
            "Destroyed keys whose tombstone still answers 410 (as of the last sweep)",
            tombstones.clone(),
        );
        registry.register("keys_created", "Disposable keys created", created.clone());
        registry.register("keys_opened", "Envelopes opened", opened.clone());
        registry.register("open_failures", "Failed opens", open_failed.clone());
        registry.register(
            "keys_destroyed",
            "Disposable keys destroyed, by reason",
            destroyed.clone(),
        );
        registry.register(
            "destruction_lag_seconds",
            "Time from a key's expiry to its destruction",
            destruction_lag.clone(),
        );
        registry.register(
            "kek_rotations",
            "Key-encryption keys rotated in",
            kek_rotations.clone(),
        );
        registry.register(
            "kek_destroyed",
            "Key-encryption keys destroyed",
            kek_destroyed.clone(),
        );
        registry.register(
            "store_full",
            "Creations refused: store full",
            store_full.clone(),
        );
        registry.register(
            "quota_exceeded",
            "Creations refused: the principal's live-key quota",
            quota_exceeded.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections refused at admission, by reason",
            connections_refused.clone(),
        );
        registry.register(
            "connections_closed",
            "Connections closed by the server for a timeout, by reason",
            connections_closed.clone(),
        );
        Self {
            registry,
            live_keys,
            tombstones,
            created,
            opened,
            open_failed,
            destroyed,
            destruction_lag,
            kek_rotations,
            kek_destroyed,
            store_full,
            quota_exceeded,
            connections_refused,
            connections_closed,
            source_refused,
            audit_unarchived,
            audit_archived,
            audit_archive_failures,
            destroyed_by_reason: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Counts a request refused for its source address.
    pub fn count_source_refused(&self) {
        self.source_refused.inc();
    }

    /// Counts a destruction.
    pub fn count_destroyed(&self, reason: &'static str) {
        // A handful of reasons: a short list, and a poisoned lock leaves it valid.
        let mut known = self
            .destroyed_by_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((_, counter)) = known.iter().find(|(r, _)| *r == reason) {
            counter.inc();
            return;
        }
        let counter = self
            .destroyed
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .clone();
        counter.inc();
        known.push((reason, counter));
    }

    /// Counts a connection refused at admission (a handful of fixed reasons).
    pub fn count_connection_refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// Counts a connection the server closed (a handful of fixed reasons).
    pub fn count_connection_closed(&self, reason: &'static str) {
        self.connections_closed
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
