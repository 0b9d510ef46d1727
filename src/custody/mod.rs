//! Custody of disposable keys: create, get, open once, destroy, sweep.
//!
//! - A private key is generated here, wrapped at once under the current KEK ([`crate::custody::kek`])
//!   and stored only wrapped, in a `moka` cache whose per-entry expiry is a backstop.
//! - Strict TTL: every read checks expiry against the [`Clock`]; an expired key is never
//!   opened. A sweeper (`sweep`, driven every few milliseconds by the server) destroys keys as
//!   their expiry passes, from an expiry-ordered index, so the destroyed event is prompt.
//! - Open-once is atomic: each entry's state sits behind its own mutex and an open holds the
//!   entry ("busy") from the decryption until its events are durable, so of two concurrent
//!   opens exactly one sees the key alive.
//! - Requests fail closed: the plaintext of an open is handed out only once its `key_opened`
//!   event is durable, a created key only once `key_created` is; when the log cannot take
//!   them, the request fails (503) and the key is left untouched.
//! - Cancellation-safe: creation and opening run as their own tasks, so a request dropped
//!   mid-flight (timeout, reset, client gone) cannot leave a durable event without its effect.
//!   A key whose creation is durable but whose requester went away is destroyed at once
//!   (reason `aborted`); the live-key count stays exact.
//! - No live key is ever evicted for space: a full store refuses new keys
//!   ([`CustodyError::StoreFull`]).
//! - After destruction a small tombstone (when, why) answers `410 Gone` for
//!   `tombstone_ttl_ms` ([`tombstones`]: a 64-bit mark in a time bucket, not a cache entry,
//!   so memory follows the destruction rate, not the number of keys ever made).
//!
//! Layer: custody. This folder owns the disposable keys in RAM, their KEKs ([`kek`]) and the
//! token-signing keys ([`signing`]) and the tombstones of destroyed ones ([`tombstones`]). It builds the events of [`crate::audit::event`] and
//! emits them through [`crate::audit::recorder::Recorder`]; it must not reach the log's store,
//! writer or files, must not touch the network, and must not import [`crate::http`],
//! [`crate::node`] or [`crate::cli`].

pub mod kek;
pub mod signing;
pub mod tombstones;

use crate::audit::event::{
    DestroyReason, EventBody, KekDestroyReason, OpenFailure, Timestamp, service_key_id,
};
use crate::audit::recorder::Recorder;
use crate::auth::principal::Principal;
use crate::clock::{Clock, Millis};
use crate::custody::kek::{KekError, KekInfo, KekRing, WrappedKey};
use crate::custody::signing::SigningRing;
use crate::custody::tombstones::{Tombstone, Tombstones};
use crate::metrics::Metrics;
use ok2cry_client::{
    CryptoProvider, Envelope, KeyId, KeyTokenClaims, Plaintext, PrivateKey, PublicKey,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Limits and identity of the custody.
#[derive(Debug, Clone)]
pub struct CustodyConfig {
    /// Node tag, the prefix of every key id.
    pub node_id: String,
    /// The `iss` of key tokens.
    pub issuer: String,
    /// Shortest TTL accepted.
    pub min_ttl_ms: u64,
    /// Longest TTL accepted.
    pub max_ttl_ms: u64,
    /// TTL when the request names none.
    pub default_ttl_ms: u64,
    /// Most opens a key may allow.
    pub max_opens_limit: u32,
    /// Most keys alive at once.
    pub max_live_keys: usize,
    /// Most keys alive at once created by one principal.
    pub max_live_keys_per_principal: usize,
    /// Failed opens that destroy a key.
    pub max_failed_opens: u32,
    /// KEK rotation period.
    pub kek_rotation_ms: u64,
    /// Signing-key rotation period.
    pub signing_rotation_ms: u64,
    /// How long a tombstone answers 410.
    pub tombstone_ttl_ms: u64,
    /// Most tombstones kept.
    pub max_tombstones: u64,
    /// Longest label, in bytes.
    pub max_label_len: usize,
    /// The crypto provider for key generation, token signing and opening.
    pub provider: &'static dyn CryptoProvider,
}

impl Default for CustodyConfig {
    fn default() -> Self {
        Self {
            node_id: "n1".into(),
            issuer: "ok2cry".into(),
            min_ttl_ms: 1_000,
            max_ttl_ms: 3_600_000,
            default_ttl_ms: 300_000,
            max_opens_limit: 100,
            max_live_keys: 1_000_000,
            max_live_keys_per_principal: 1_000_000,
            max_failed_opens: 5,
            kek_rotation_ms: 600_000,
            signing_rotation_ms: 3_600_000,
            tombstone_ttl_ms: 3_600_000,
            max_tombstones: 1_000_000,
            max_label_len: 128,
            provider: &ok2cry_client::provider::AWS_LC,
        }
    }
}

/// A request to create a key.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// TTL; the configured default when absent.
    pub ttl_ms: Option<u64>,
    /// Opens allowed; 1 when absent.
    pub max_opens: Option<u32>,
    /// The principal allowed to open; the creator when absent.
    pub opener: Option<String>,
    /// Application context bound into `info` (not secret, but never logged).
    pub context: Option<String>,
    /// A label for the audit log.
    pub label: Option<String>,
}

/// A key as handed out.
#[derive(Debug, Clone)]
pub struct KeyView {
    /// Key id.
    pub key_id: KeyId,
    /// The signed key token.
    pub token: String,
    /// The public key.
    pub public_key: PublicKey,
    /// Creation time.
    pub created_at: Millis,
    /// Expiry.
    pub expires_at: Millis,
    /// Opens allowed in all.
    pub max_opens: u32,
    /// Opens left.
    pub opens_remaining: u32,
    /// Designated opener.
    pub opener: String,
}

/// The result of a successful open.
pub struct Opened {
    /// The plaintext (secret).
    pub plaintext: Plaintext,
    /// Opens left; 0 means the key has been destroyed.
    pub opens_remaining: u32,
}

/// Why a custody operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    /// The request is out of range; the text says what was wrong.
    #[error("{0}")]
    Invalid(String),
    /// No such key (never existed, or its tombstone has gone too).
    #[error("no such key")]
    NotFound,
    /// The key was destroyed.
    #[error("key destroyed ({reason})", reason = reason.as_str())]
    Gone {
        /// When.
        destroyed_at: Millis,
        /// Why.
        reason: DestroyReason,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The store is full.
    #[error("key store full")]
    StoreFull,
    /// The principal has as many live keys as its quota allows.
    #[error("live-key quota reached")]
    QuotaExceeded {
        /// The quota.
        quota: usize,
    },
    /// The audit log cannot record creation; creation fails closed.
    #[error("audit log unavailable")]
    AuditUnavailable,
    /// The envelope could not be opened (deliberately coarse).
    #[error("cannot open envelope")]
    OpenFailed {
        /// Whether this failure used up the allowed failures and destroyed the key.
        key_destroyed: bool,
    },
    /// The envelope is not for this key.
    #[error("envelope is for another key id")]
    WrongKey,
    /// Another open or delete of this key is in progress.
    #[error("another operation on this key is in progress")]
    Busy,
    /// The key was destroyed, but the audit log could not record it yet (queued).
    #[error("key destroyed; its record is queued")]
    DestroyedUnlogged,
    /// Something failed inside the service (details are logged, not returned).
    #[error("internal error")]
    Internal,
}

struct State {
    wrapped: Option<WrappedKey>,
    opens: u32,
    failures: u32,
    destroyed: Option<(Millis, DestroyReason)>,
    /// An open holds the key from its decryption until its events are durable.
    busy: bool,
}

struct Entry {
    key_id: KeyId,
    public_key: PublicKey,
    // Principal ids repeat across keys: shared, one copy per distinct id ([`Names`]).
    owner: Arc<str>,
    opener: Arc<str>,
    context: Box<str>,
    created_at: Millis,
    expires_at: Millis,
    max_opens: u32,
    state: Mutex<State>,
}

impl Entry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned entry lock means a panic mid-operation; the state fields are each
        // updated in one step, so they are still meaningful.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What both the custody and the cache's eviction listener need.
struct Shared {
    clock: Arc<dyn Clock>,
    recorder: Arc<dyn Recorder>,
    /// Woken whenever an open releases its key, so a concurrent open or delete of the same
    /// key waits for it instead of failing (one notifier for all keys: no memory per key).
    released: tokio::sync::Notify,
    metrics: Arc<Metrics>,
    tombstones: Tombstones,
    live: AtomicUsize,
    /// Live keys (and creations under way) per owner; owners with none are not kept.
    owners: Mutex<std::collections::HashMap<Box<str>, usize>>,
}

impl Shared {
    fn lock_owners(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, usize>> {
        // Counts are updated in one step each; a poisoned lock still holds valid counts.
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one more live key for `owner`, unless it has `quota` already.
    fn reserve_owner(&self, owner: &str, quota: usize) -> bool {
        let mut owners = self.lock_owners();
        match owners.get_mut(owner) {
            Some(n) if *n >= quota => false,
            Some(n) => {
                *n += 1;
                true
            }
            None => {
                owners.insert(owner.into(), 1);
                true
            }
        }
    }

    fn release_owner(&self, owner: &str) {
        let mut owners = self.lock_owners();
        if let Some(n) = owners.get_mut(owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                owners.remove(owner);
            }
        }
    }

    /// Finishes a destruction that the caller has just decided (under the entry's lock).
    /// `record`: whether to queue its event (false when it was already made durable).
    fn destroyed(
        &self,
        entry: &Entry,
        state: &mut State,
        reason: DestroyReason,
        now: Millis,
        record: bool,
    ) {
        state.destroyed = Some((now, reason));
        // Dropping the wrapped key zeroizes it now, not when the last Arc goes.
        state.wrapped = None;
        self.tombstones.insert(
            &entry.key_id,
            Tombstone {
                destroyed_at: now,
                reason,
            },
        );
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.release_owner(&entry.owner);
        self.metrics.live_keys.dec();
        self.metrics.count_destroyed(reason.as_str());
        if reason == DestroyReason::Expired {
            let lag_ms = now.saturating_sub(entry.expires_at);
            self.metrics.destruction_lag.observe(lag_ms as f64 / 1000.0);
        }
        if record {
            self.recorder.record(destroyed_event(entry, reason));
        }
    }
}

fn destroyed_event(entry: &Entry, reason: DestroyReason) -> EventBody {
    EventBody::KeyDestroyed {
        key_id: entry.key_id.as_str().to_owned(),
        reason,
        expires_at: Timestamp(entry.expires_at),
        lost: None,
    }
}

fn kek_created(k: &KekInfo) -> EventBody {
    EventBody::KekCreated {
        kek_id: k.id,
        wrap_until: Timestamp(k.wrap_until),
        not_after: Timestamp(k.not_after),
    }
}

fn kek_destroyed(k: &KekInfo, reason: KekDestroyReason) -> EventBody {
    EventBody::KekDestroyed {
        kek_id: k.id,
        keys_wrapped: k.keys_wrapped,
        reason,
        lost: None,
    }
}

/// Releases a reserved place in the store unless the key was handed out.
struct Reservation<'a> {
    shared: &'a Shared,
    /// The owner whose count this reservation holds one of, once it does.
    owner: Option<&'a str>,
    kept: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.shared.live.fetch_sub(1, Ordering::SeqCst);
            if let Some(owner) = self.owner {
                self.shared.release_owner(owner);
            }
        }
    }
}

/// Clears an entry's busy flag however the open ends, and wakes whoever waits for it.
struct BusyGuard(Arc<Entry>, Arc<Shared>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.lock().busy = false;
        self.1.released.notify_waiters();
    }
}

/// How long an open or delete waits for a concurrent open of the same key to finish.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// How often principal ids no live key uses are dropped from [`Names`].
const NAMES_PRUNE_MS: Millis = 10_000;

/// Interned principal ids (owners and openers): each distinct id is stored once and shared by
/// every entry that names it. Openers are caller-chosen strings, so the set is pruned of ids no
/// entry holds any more; its size is bounded by the live keys.
struct Names {
    set: Mutex<(std::collections::HashSet<Arc<str>>, Millis)>,
}

impl Names {
    fn new() -> Self {
        Self {
            set: Mutex::new((std::collections::HashSet::new(), 0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (std::collections::HashSet<Arc<str>>, Millis)> {
        // Only inserted into and pruned; a poisoned lock leaves a valid set.
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn intern(&self, name: &str) -> Arc<str> {
        let mut guard = self.lock();
        if let Some(shared) = guard.0.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        guard.0.insert(shared.clone());
        shared
    }

    /// Drops ids held by nothing but this set, at most once per `period`.
    fn prune_every(&self, now: Millis, period: Millis) {
        let mut guard = self.lock();
        if now < guard.1 {
            return;
        }
        guard.1 = now.saturating_add(period);
        guard.0.retain(|name| Arc::strong_count(name) > 1);
    }
}

/// The custody of every disposable key of this node.
pub struct Custody {
    config: CustodyConfig,
    shared: Arc<Shared>,
    cache: moka::sync::Cache<KeyId, Arc<Entry>>,
    expiries: Mutex<BinaryHeap<Reverse<(Millis, KeyId)>>>,
    keks: KekRing,
    signing: SigningRing,
    names: Names,
}

/// Extra time the cache keeps an entry past its expiry: the sweeper acts first; the cache's
/// own expiry only catches what the sweeper could not (it never decides a key's life).
const CACHE_BACKSTOP_MS: u64 = 5_000;

struct ExpiryPolicy;

impl moka::Expiry<KeyId, Arc<Entry>> for ExpiryPolicy {
    fn expire_after_create(
        &self,
        _key: &KeyId,
        entry: &Arc<Entry>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let ttl = entry.expires_at.saturating_sub(entry.created_at);
        Some(Duration::from_millis(ttl.saturating_add(CACHE_BACKSTOP_MS)))
    }
}

impl Custody {
    /// A custody with a fresh KEK and signing key; records the KEK's creation.
    pub fn new(
        config: CustodyConfig,
        clock: Arc<dyn Clock>,
        recorder: Arc<dyn Recorder>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, CustodyError> {
        let now = clock.now_ms();
        let (keks, kek) = KekRing::new(now, config.kek_rotation_ms, config.max_ttl_ms)
            .map_err(|_| CustodyError::Internal)?;
        recorder.record(kek_created(&kek));
        let signing = SigningRing::new(
            now,
            config.signing_rotation_ms,
            config.max_ttl_ms,
            config.provider,
        )
        .map_err(|_| CustodyError::Internal)?;
        let tombstones = Tombstones::new(config.tombstone_ttl_ms, config.max_tombstones);
        let shared = Arc::new(Shared {
            clock,
            recorder,
            released: tokio::sync::Notify::new(),
            metrics,
            tombstones,
            live: AtomicUsize::new(0),
            owners: Mutex::new(std::collections::HashMap::new()),
        });
        let listener_shared = shared.clone();
        let cache = moka::sync::Cache::builder()
            .expire_after(ExpiryPolicy)
            .eviction_listener(move |_key, entry: Arc<Entry>, cause| {
                // Only the backstop expiry matters here; every other removal is ours and
                // already recorded.
                if cause == moka::notification::RemovalCause::Expired {
                    let mut state = entry.lock();
                    if state.destroyed.is_none() {
                        let now = listener_shared.clock.now_ms();
                        listener_shared.destroyed(
                            &entry,
                            &mut state,
                            DestroyReason::Expired,
                            now,
                            true,
                        );
                    }
                }
            })
            .build();
        Ok(Self {
            config,
            shared,
            cache,
            expiries: Mutex::new(BinaryHeap::new()),
            keks,
            signing,
            names: Names::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CustodyConfig {
        &self.config
    }

    /// The signing keys.
    pub fn signing(&self) -> &SigningRing {
        &self.signing
    }

    /// Keys alive now.
    pub fn live_keys(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    fn now(&self) -> Millis {
        self.shared.clock.now_ms()
    }

    fn validate(
        &self,
        principal: &Principal,
        req: &CreateRequest,
    ) -> Result<(u64, u32, String), CustodyError> {
        let c = &self.config;
        let ttl = req.ttl_ms.unwrap_or(c.default_ttl_ms);
        if ttl < c.min_ttl_ms || ttl > c.max_ttl_ms {
            return Err(CustodyError::Invalid(format!(
                "ttl must be between {} and {} seconds",
                c.min_ttl_ms / 1000,
                c.max_ttl_ms / 1000
            )));
        }
        let max_opens = req.max_opens.unwrap_or(1);
        if max_opens == 0 || max_opens > c.max_opens_limit {
            return Err(CustodyError::Invalid(format!(
                "max_opens must be between 1 and {}",
                c.max_opens_limit
            )));
        }
        if let Some(context) = &req.context {
            ok2cry_client::suite::check_context(context)
                .map_err(|e| CustodyError::Invalid(e.to_string()))?;
        }
        if let Some(label) = &req.label
            && (label.len() > c.max_label_len || label.chars().any(char::is_control))
        {
            return Err(CustodyError::Invalid(format!(
                "label must be at most {} bytes without control characters",
                c.max_label_len
            )));
        }
        let opener = req.opener.clone().unwrap_or_else(|| principal.id.clone());
        if opener.is_empty() || opener.len() > 256 || opener.chars().any(char::is_control) {
            return Err(CustodyError::Invalid(
                "opener must be a principal id".into(),
            ));
        }
        Ok((ttl, max_opens, opener))
    }

    fn new_key_id(&self, now: Millis) -> Result<KeyId, CustodyError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|_| CustodyError::Internal)?;
        KeyId::new(service_key_id(&self.config.node_id, now, &random))
            .map_err(|_| CustodyError::Internal)
    }

    fn sign(&self, entry: &Entry, opens_remaining: u32) -> Result<String, CustodyError> {
        let claims = KeyTokenClaims::new(
            self.config.issuer.clone(),
            entry.key_id.clone(),
            &entry.public_key,
            entry.created_at / 1000,
            entry.expires_at / 1000,
            opens_remaining,
            Some(entry.context.to_string()),
        );
        self.signing
            .current()
            .sign(&claims)
            .map_err(|_| CustodyError::Internal)
    }

    fn view(&self, entry: &Entry, opens_remaining: u32) -> Result<KeyView, CustodyError> {
        Ok(KeyView {
            key_id: entry.key_id.clone(),
            token: self.sign(entry, opens_remaining)?,
            public_key: entry.public_key.clone(),
            created_at: entry.created_at,
            expires_at: entry.expires_at,
            max_opens: entry.max_opens,
            opens_remaining,
            opener: entry.opener.to_string(),
        })
    }

    /// Creates a key. Resolves only once its `key_created` event is durable.
    ///
    /// Runs as its own task: if the caller goes away after the event is durable, the key is
    /// destroyed at once (reason `aborted`) instead of being left without its requester.
    pub async fn create(
        self: &Arc<Self>,
        principal: &Principal,
        req: CreateRequest,
    ) -> Result<KeyView, CustodyError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let principal = principal.clone();
        tokio::spawn(async move {
            let result = me.create_now(&principal, req).await;
            if let Err(Ok(view)) = tx.send(result) {
                // Nobody is waiting for this key any more: it will never be used.
                me.destroy_unclaimed(&view.key_id);
            }
        });
        rx.await.map_err(|_| CustodyError::Internal)?
    }

    async fn create_now(
        &self,
        principal: &Principal,
        req: CreateRequest,
    ) -> Result<KeyView, CustodyError> {
        let (ttl, max_opens, opener) = self.validate(principal, &req)?;
        // Reserve a place first so that concurrent creations cannot overshoot the limit.
        let live = self.shared.live.fetch_add(1, Ordering::SeqCst);
        let mut reservation = Reservation {
            shared: &self.shared,
            owner: None,
            kept: false,
        };
        if live >= self.config.max_live_keys {
            self.shared.metrics.store_full.inc();
            return Err(CustodyError::StoreFull);
        }
        let quota = self.config.max_live_keys_per_principal;
        if !self.shared.reserve_owner(&principal.id, quota) {
            self.shared.metrics.quota_exceeded.inc();
            return Err(CustodyError::QuotaExceeded { quota });
        }
        reservation.owner = Some(&principal.id);
        let view = self
            .create_reserved(principal, req, ttl, max_opens, opener)
            .await?;
        reservation.kept = true;
        Ok(view)
    }

    /// Destroys a key whose creation nobody received.
    fn destroy_unclaimed(&self, key_id: &KeyId) {
        if let Some(entry) = self.cache.get(key_id) {
            let mut state = entry.lock();
            if state.destroyed.is_none() {
                let now = self.now();
                self.destroy_locked(&entry, &mut state, DestroyReason::Aborted, now, true);
            }
        }
    }

    async fn create_reserved(
        &self,
        principal: &Principal,
        req: CreateRequest,
        ttl: u64,
        max_opens: u32,
        opener: String,
    ) -> Result<KeyView, CustodyError> {
        let now = self.now();
        let key_id = self.new_key_id(now)?;
        let expires_at = now.saturating_add(ttl);
        let (private, public_key) = self
            .config
            .provider
            .generate_p256()
            .map_err(|_| CustodyError::Internal)?;
        if !self.keks.can_wrap(now) {
            // The sweeper has not rotated yet: rotate here, with its events, before wrapping.
            self.rotate_keks(now);
        }
        let wrapped = {
            let scalar = private.to_secret_bytes();
            self.keks
                .wrap(now, key_id.as_str(), expires_at, &scalar)
                .map_err(|_| CustodyError::Internal)?
        };
        drop(private);
        let kek_id = wrapped.kek_id();
        let entry = Arc::new(Entry {
            key_id: key_id.clone(),
            public_key,
            owner: self.names.intern(&principal.id),
            opener: self.names.intern(&opener),
            context: req.context.unwrap_or_default().into_boxed_str(),
            created_at: now,
            expires_at,
            max_opens,
            state: Mutex::new(State {
                wrapped: Some(wrapped),
                opens: 0,
                failures: 0,
                destroyed: None,
                busy: false,
            }),
        });
        let view = self.view(&entry, max_opens)?;
        self.shared
            .recorder
            .record_durable(vec![EventBody::KeyCreated {
                key_id: key_id.as_str().to_owned(),
                jwk_thumbprint: entry.public_key.thumbprint(),
                owner: entry.owner.to_string(),
                opener: entry.opener.to_string(),
                expires_at: Timestamp(expires_at),
                kek_id,
                label: req.label,
                max_opens,
            }])
            .await
            .map_err(|_| CustodyError::AuditUnavailable)?;
        self.cache.insert(key_id.clone(), entry);
        self.lock_expiries().push(Reverse((expires_at, key_id)));
        self.shared.metrics.created.inc();
        self.shared.metrics.live_keys.inc();
        Ok(view)
    }

    fn lock_expiries(&self) -> std::sync::MutexGuard<'_, BinaryHeap<Reverse<(Millis, KeyId)>>> {
        // The heap is only pushed and popped; a poisoned lock leaves it valid.
        self.expiries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gone_or_missing(&self, key_id: &KeyId) -> CustodyError {
        match self.shared.tombstones.get(key_id, self.now()) {
            Some(t) => CustodyError::Gone {
                destroyed_at: t.destroyed_at,
                reason: t.reason,
            },
            None => CustodyError::NotFound,
        }
    }

    /// Looks up a live entry and locks it, destroying it first if it has expired.
    fn live_entry(&self, key_id: &KeyId) -> Result<Arc<Entry>, CustodyError> {
        self.cache
            .get(key_id)
            .ok_or_else(|| self.gone_or_missing(key_id))
    }

    /// The key token and facts of a live key.
    pub fn get(&self, key_id: &KeyId) -> Result<KeyView, CustodyError> {
        let entry = self.live_entry(key_id)?;
        let remaining = {
            let mut state = entry.lock();
            self.check_alive(&entry, &mut state)?;
            entry.max_opens - state.opens
        };
        self.view(&entry, remaining)
    }

    /// Refuses a destroyed key, and destroys an expired one (strict TTL at read).
    fn check_alive(&self, entry: &Entry, state: &mut State) -> Result<(), CustodyError> {
        if let Some((destroyed_at, reason)) = state.destroyed {
            return Err(CustodyError::Gone {
                destroyed_at,
                reason,
            });
        }
        let now = self.now();
        if now >= entry.expires_at && !state.busy {
            self.destroy_locked(entry, state, DestroyReason::Expired, now, true);
            return Err(CustodyError::Gone {
                destroyed_at: now,
                reason: DestroyReason::Expired,
            });
        }
        if now >= entry.expires_at {
            // An open that began before the expiry is finishing; the sweeper destroys the
            // key right after it.
            return Err(CustodyError::Busy);
        }
        Ok(())
    }

    fn destroy_locked(
        &self,
        entry: &Entry,
        state: &mut State,
        reason: DestroyReason,
        now: Millis,
        record: bool,
    ) {
        self.shared.destroyed(entry, state, reason, now, record);
        self.cache.invalidate(&entry.key_id);
    }

    /// Opens `envelope` with key `key_id` on behalf of `principal`. The plaintext is returned
    /// only once the open's events are durable; when they cannot be written the key is left
    /// untouched and the open fails with [`CustodyError::AuditUnavailable`].
    ///
    /// Runs as its own task, so a caller that goes away cannot leave a durable `key_opened`
    /// without the key's state following it.
    pub async fn open(
        self: &Arc<Self>,
        principal: &Principal,
        key_id: &KeyId,
        envelope: &Envelope,
    ) -> Result<Opened, CustodyError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let principal = principal.clone();
        let key_id = key_id.clone();
        let envelope = envelope.clone();
        tokio::spawn(async move {
            let result = me.open_now(&principal, &key_id, &envelope).await;
            // A caller that went away drops the plaintext here (zeroized).
            let _ = tx.send(result);
        });
        rx.await.map_err(|_| CustodyError::Internal)?
    }

    async fn open_now(
        self: &Arc<Self>,
        principal: &Principal,
        key_id: &KeyId,
        envelope: &Envelope,
    ) -> Result<Opened, CustodyError> {
        let entry = self.live_entry(key_id)?;
        if *principal.id != *entry.opener {
            let failures = entry.lock().failures;
            self.shared
                .recorder
                .record_durable(vec![EventBody::OpenFailed {
                    key_id: key_id.as_str().to_owned(),
                    principal: principal.id.clone(),
                    failures,
                    reason: OpenFailure::Forbidden,
                }])
                .await
                .map_err(|_| CustodyError::AuditUnavailable)?;
            return Err(CustodyError::Forbidden(
                "only the designated opener may open this key",
            ));
        }
        if envelope.key_id() != key_id {
            return Err(CustodyError::WrongKey);
        }
        // Decrypt on the blocking pool (CPU-bound), holding the key busy. A concurrent open
        // of the same key waits for the first to finish, then sees the key as it left it.
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        let decrypted = loop {
            let released = self.shared.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let me = self.clone();
            let e = entry.clone();
            let env = envelope.clone();
            match tokio::task::spawn_blocking(move || me.decrypt(&e, &env))
                .await
                .map_err(|_| CustodyError::Internal)?
            {
                Err(CustodyError::Busy) => {
                    if tokio::time::timeout_at(deadline, released).await.is_err() {
                        return Err(CustodyError::Busy);
                    }
                }
                other => break other?,
            }
        };
        let (result, opens, failures) = decrypted;
        let _busy = BusyGuard(entry.clone(), self.shared.clone());
        match result {
            Ok(plaintext) => {
                let used = opens + 1;
                let remaining = entry.max_opens.saturating_sub(used);
                let mut events = vec![EventBody::KeyOpened {
                    key_id: key_id.as_str().to_owned(),
                    opener: principal.id.clone(),
                    opens_used: used,
                    opens_remaining: remaining,
                }];
                if remaining == 0 {
                    events.push(destroyed_event(&entry, DestroyReason::Consumed));
                }
                if self.shared.recorder.record_durable(events).await.is_err() {
                    // The plaintext is dropped (zeroized) unseen; the key is untouched.
                    return Err(CustodyError::AuditUnavailable);
                }
                let mut state = entry.lock();
                state.opens = used;
                self.shared.metrics.opened.inc();
                if remaining == 0 {
                    let now = self.now();
                    self.destroy_locked(&entry, &mut state, DestroyReason::Consumed, now, false);
                }
                Ok(Opened {
                    plaintext,
                    opens_remaining: remaining,
                })
            }
            Err(()) => {
                let failures = failures + 1;
                let key_destroyed = failures >= self.config.max_failed_opens;
                let mut events = vec![EventBody::OpenFailed {
                    key_id: key_id.as_str().to_owned(),
                    principal: principal.id.clone(),
                    failures,
                    reason: OpenFailure::Decrypt,
                }];
                if key_destroyed {
                    events.push(destroyed_event(&entry, DestroyReason::FailedOpens));
                }
                if self.shared.recorder.record_durable(events).await.is_err() {
                    return Err(CustodyError::AuditUnavailable);
                }
                self.shared.metrics.open_failed.inc();
                let mut state = entry.lock();
                state.failures = failures;
                if key_destroyed {
                    let now = self.now();
                    self.destroy_locked(&entry, &mut state, DestroyReason::FailedOpens, now, false);
                }
                Err(CustodyError::OpenFailed { key_destroyed })
            }
        }
    }

    /// The CPU part of an open, under the entry's lock: checks, marks the key busy, unwraps
    /// and decrypts. Returns the outcome and the counts before it.
    #[allow(clippy::type_complexity)]
    fn decrypt(
        &self,
        entry: &Arc<Entry>,
        envelope: &Envelope,
    ) -> Result<(Result<Plaintext, ()>, u32, u32), CustodyError> {
        // Why one mutex per entry: open-once must be atomic, and different keys must not
        // contend. The critical section is CPU-only (unwrap + HPKE open, well under 1 ms);
        // the key then stays busy, without the lock, until the events are durable.
        let mut state = entry.lock();
        if state.busy {
            return Err(CustodyError::Busy);
        }
        self.check_alive(entry, &mut state)?;
        let now = self.now();
        let scalar = match &state.wrapped {
            Some(w) => self
                .keks
                .unwrap_key(entry.key_id.as_str(), entry.expires_at, w),
            None => Err(KekError::KekDestroyed),
        };
        let scalar = match scalar {
            Ok(s) => s,
            Err(_) => {
                // The KEK is gone: the key is crypto-shredded; record it as such.
                self.destroy_locked(entry, &mut state, DestroyReason::KekDestroyed, now, true);
                return Err(CustodyError::Gone {
                    destroyed_at: now,
                    reason: DestroyReason::KekDestroyed,
                });
            }
        };
        let private =
            PrivateKey::from_secret_bytes(scalar.as_slice()).map_err(|_| CustodyError::Internal)?;
        drop(scalar);
        let result = private
            .open_with(
                self.config.provider,
                &entry.key_id,
                &entry.context,
                envelope,
            )
            .map_err(|_| ());
        drop(private);
        state.busy = true;
        Ok((result, state.opens, state.failures))
    }

    /// Destroys a key early (its creator or its opener may). The key is destroyed at once; the
    /// call resolves once its event is durable, and fails with
    /// [`CustodyError::DestroyedUnlogged`] when it cannot be (the event is then queued).
    pub async fn delete(&self, principal: &Principal, key_id: &KeyId) -> Result<(), CustodyError> {
        let entry = self.live_entry(key_id)?;
        if *principal.id != *entry.owner && *principal.id != *entry.opener {
            return Err(CustodyError::Forbidden(
                "only the key's creator or opener may delete it",
            ));
        }
        // An open in progress finishes first (its events must precede the destruction).
        let deadline = tokio::time::Instant::now() + BUSY_WAIT;
        loop {
            let released = self.shared.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut state = entry.lock();
                if let Some((destroyed_at, reason)) = state.destroyed {
                    return Err(CustodyError::Gone {
                        destroyed_at,
                        reason,
                    });
                }
                if !state.busy {
                    let now = self.now();
                    self.destroy_locked(&entry, &mut state, DestroyReason::Revoked, now, false);
                    break;
                }
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return Err(CustodyError::Busy);
            }
        }
        let event = destroyed_event(&entry, DestroyReason::Revoked);
        if self
            .shared
            .recorder
            .record_durable(vec![event.clone()])
            .await
            .is_err()
        {
            // Destruction always proceeds; its record waits for the log to come back.
            self.shared.recorder.record(event);
            return Err(CustodyError::DestroyedUnlogged);
        }
        Ok(())
    }

    /// Destroys every key whose expiry has passed, rotates KEKs and signing keys.
    /// Returns how many keys it destroyed. The server calls this every sweep tick; tests call
    /// it after moving a manual clock.
    pub fn sweep(&self) -> usize {
        let now = self.now();
        let mut due = Vec::new();
        {
            let mut heap = self.lock_expiries();
            while heap.peek().is_some_and(|Reverse((at, _))| *at <= now) {
                if let Some(Reverse((_, id))) = heap.pop() {
                    due.push(id);
                }
            }
        }
        let mut destroyed = 0;
        let mut again = Vec::new();
        for id in due {
            if let Some(entry) = self.cache.get(&id) {
                let mut state = entry.lock();
                if state.destroyed.is_none() {
                    if state.busy {
                        // An open that began before the expiry is finishing: next tick.
                        again.push(Reverse((now, id)));
                        continue;
                    }
                    self.destroy_locked(&entry, &mut state, DestroyReason::Expired, now, true);
                    destroyed += 1;
                }
            }
        }
        if !again.is_empty() {
            self.lock_expiries().extend(again);
        }
        self.shared.tombstones.expire(now);
        let tombstones = i64::try_from(self.shared.tombstones.len()).unwrap_or(i64::MAX);
        self.shared.metrics.tombstones.set(tombstones);
        self.rotate(now);
        self.cache.run_pending_tasks();
        self.names.prune_every(now, NAMES_PRUNE_MS);
        destroyed
    }

    fn rotate(&self, now: Millis) {
        self.rotate_keks(now);
        self.signing.tick(now);
    }

    /// Ticks the KEK ring and records what it made and retired.
    fn rotate_keks(&self, now: Millis) {
        match self.keks.tick(now) {
            Ok((created, gone)) => {
                if let Some(k) = created {
                    self.shared.metrics.kek_rotations.inc();
                    self.shared.recorder.record(kek_created(&k));
                }
                for k in gone {
                    self.shared.metrics.kek_destroyed.inc();
                    self.shared
                        .recorder
                        .record(kek_destroyed(&k, KekDestroyReason::Expired));
                }
            }
            Err(e) => tracing::error!(error = %e, "KEK rotation failed; will retry next tick"),
        }
    }

    /// Destroys every key and KEK (shutdown). Opens still finishing are waited for (at most
    /// `wait`), so that no `key_opened` follows its key's destruction in the log. Returns how
    /// many keys were destroyed.
    pub async fn shutdown(&self, wait: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + wait;
        let mut destroyed = 0;
        loop {
            let now = self.now();
            let mut busy = 0;
            let force = tokio::time::Instant::now() >= deadline;
            for (_, entry) in self.cache.iter() {
                let mut state = entry.lock();
                if state.destroyed.is_none() {
                    if state.busy && !force {
                        busy += 1;
                        continue;
                    }
                    self.destroy_locked(&entry, &mut state, DestroyReason::Shutdown, now, true);
                    destroyed += 1;
                }
            }
            if busy == 0 || force {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.cache.run_pending_tasks();
        for k in self.keks.destroy_all() {
            self.shared.metrics.kek_destroyed.inc();
            self.shared
                .recorder
                .record(kek_destroyed(&k, KekDestroyReason::Shutdown));
        }
        self.signing.clear();
        destroyed
    }
}

#[cfg(test)]
impl Custody {
    /// Test hook: the private scalar of a live key XOR `mask`, so a memory scan can look for
    /// the scalar without ever holding it in plain form.
    fn danger_masked_scalar(&self, key_id: &KeyId, mask: &[u8; 32]) -> Option<[u8; 32]> {
        let entry = self.cache.get(key_id)?;
        let state = entry.lock();
        let scalar = self
            .keks
            .unwrap_key(key_id.as_str(), entry.expires_at, state.wrapped.as_ref()?)
            .ok()?;
        let mut out = [0u8; 32];
        for i in 0..32 {
            out[i] = scalar[i] ^ mask[i];
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;

#[cfg(all(test, target_os = "linux"))]
mod memory_tests;
