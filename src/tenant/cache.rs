//! [`TenantCache`]: resolved tenants by key, fresh for a TTL, refreshed in the background,
//! fetched once per key however many requests ask at the same time.
//!
//! Per key, an entry moves between these states:
//!
//! | state | a request gets | and |
//! | --- | --- | --- |
//! | absent | waits for a fetch | starts it (single flight) |
//! | loading | waits for the same fetch | - |
//! | ready, age < ttl | the tenant | - |
//! | ready, ttl <= age <= ttl + stale window | the tenant, at once | one background refresh, unless one runs or the last failed less than the back-off ago |
//! | ready, older | waits for a fetch | starts it; the old tenant is dropped |
//! | unknown (404), for the negative TTL | `UnknownKey`, no call | - |
//! | failed, for the back-off | `Unavailable { retry_after }`, no call | - |
//!
//! So stale state is never served more than `ttl + stale_if_error` after it was fetched, a
//! failing State API gets at most one call per key per back-off, and 5xx or timeouts are
//! never remembered as "unknown key".
//!
//! Architecture invariant: no dashmap guard is held across an `.await`. Every guard lives
//! in one synchronous statement; waiting happens on a `watch` channel cloned out of the map.
//! Fetches run in spawned tasks, so a request that gives up (client disconnect) does not
//! cancel the fetch others are waiting for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::watch;
use tokio::time::Instant;

use super::TenantError;
use super::config::CacheConfig;
use super::key::{TenantKey, validate};
use super::model::Tenant;
use super::secret::SecretPolicy;
use super::source::{FetchError, FetchState};
use super::stats::{CacheStats, bump};
use crate::plan::PlanSet;

/// The cache of resolved tenants. Cheap to clone (one `Arc`); all clones share one cache.
#[derive(Clone)]
pub struct TenantCache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tenant key -> entry.
    ///
    /// Why a dashmap: every rating request reads this map, from every worker thread, and
    /// almost never writes it (a write is a fetch completing, once per key per TTL). A
    /// dashmap shards the map behind many small `RwLock`s, so readers of different keys
    /// never contend and readers of one key share a read lock; a single `Mutex<HashMap>`
    /// would serialise every request, and an `RwLock<HashMap>` would make every write (and
    /// eviction) stall all readers. Guards are held only for a lookup or a swap, never across
    /// an `.await` (a shard lock held while waiting on the network would block every key in
    /// that shard, and could deadlock a worker thread).
    ///
    /// Mutable per-entry bookkeeping (last access, "refresh running") is atomics inside the
    /// entry, so hits stay on the read lock.
    map: DashMap<TenantKey, Slot>,
    /// Where state comes from (State API or local file; tests plug in their own).
    source: Box<dyn FetchState>,
    /// The plans tenants are resolved against, and their generation (bumped by each
    /// reload). Read when a fetch resolves or writes back a tenant, never on a cache hit;
    /// written by [`TenantCache::reload_plans`]. Lock order: a write-back may read it while
    /// holding a shard lock; a reload releases it before it walks the map; so the two never
    /// wait on each other in a cycle.
    plans: std::sync::RwLock<PlansNow>,
    /// Which settings are secrets.
    secrets: SecretPolicy,
    config: CacheConfig,
    stats: CacheStats,
    /// Zero point of the millisecond stamps kept in atomics.
    epoch: Instant,
    /// Source of [`Slot::generation`]s.
    next_generation: AtomicU64,
    /// Set while one task evicts, so a burst of misses does not run many scans at once.
    evicting: AtomicBool,
}

/// The current plans and their generation.
struct PlansNow {
    set: Arc<PlanSet>,
    generation: u64,
}

struct Slot {
    /// Identifies this entry's lifetime: a fetch writes its result back only if the entry is
    /// still the one it was started for (not forgotten, evicted or replaced meanwhile).
    generation: u64,
    /// Milliseconds since [`Inner::epoch`] of the last request for this key, for eviction.
    /// A timestamp rather than a shared LRU list: a list would need a lock on every hit.
    last_access: AtomicU64,
    state: SlotState,
}

enum SlotState {
    /// A fetch is under way; its outcome will be sent here.
    Loading(watch::Receiver<Option<Outcome>>),
    Ready(Ready),
    /// The State API answered 404.
    Unknown {
        until: Instant,
    },
    /// The last fetch failed and nothing usable is cached.
    Failed {
        until: Instant,
        reason: String,
    },
}

struct Ready {
    tenant: Arc<Tenant>,
    fetched_at: Instant,
    /// A background refresh is running: the compare-and-swap on it is what makes "exactly
    /// one refresh" hold without a write lock.
    refreshing: AtomicBool,
    /// No refresh before this stamp (ms since epoch): the back-off after a failed refresh.
    retry_at: AtomicU64,
}

type Outcome = Result<Arc<Tenant>, TenantError>;

/// The two ends of a new fetch's outcome channel.
struct Flight {
    tx: watch::Sender<Option<Outcome>>,
    rx: watch::Receiver<Option<Outcome>>,
}

/// What an entry means for a request at one instant.
enum Seen {
    Fresh(Arc<Tenant>),
    /// Serve it; with the entry's generation when this request won the right to start the
    /// refresh.
    Stale(Arc<Tenant>, Option<u64>),
    Unknown,
    Unavailable(String, Duration),
    Wait(watch::Receiver<Option<Outcome>>),
    /// Absent or too old: a fetch is needed.
    Expired,
}

impl TenantCache {
    /// A cache over `source`, resolving tenants against `plans`.
    pub fn new(
        source: impl FetchState,
        plans: Arc<PlanSet>,
        secrets: SecretPolicy,
        config: CacheConfig,
    ) -> TenantCache {
        TenantCache {
            inner: Arc::new(Inner {
                map: DashMap::new(),
                source: Box::new(source),
                plans: std::sync::RwLock::new(PlansNow {
                    set: plans,
                    generation: 0,
                }),
                secrets,
                config,
                stats: CacheStats::default(),
                epoch: Instant::now(),
                next_generation: AtomicU64::new(0),
                evicting: AtomicBool::new(false),
            }),
        }
    }

    /// The tenant for a request's key (the `x-smp-key` header, `None` when absent).
    ///
    /// Without a key, only a source with a default tenant (local mode's `demo`) answers;
    /// otherwise it is [`TenantError::MissingKey`]. An invalid key is
    /// [`TenantError::InvalidKey`] and never reaches the State API.
    pub async fn get(&self, key: Option<&str>) -> Result<Arc<Tenant>, TenantError> {
        let key = self.key(key)?;
        let inner = &self.inner;
        let now = Instant::now();
        let seen = match inner.map.get(key) {
            Some(slot) => {
                slot.touch(inner.stamp(now));
                inner.look(&slot, now)
            }
            None => Seen::Expired,
        };
        match seen {
            Seen::Expired => self.fetch_or_join(key, now).await,
            seen => self.answer(key, seen).await,
        }
    }

    /// Starts fetching `key`'s state now without waiting (for `/_app/start`): a missing entry
    /// is fetched, a cached one refreshed in the background, and an unknown or failed one
    /// fetched again once its negative TTL or back-off is over (not before: see below). The
    /// key is checked like [`TenantCache::get`]'s. Must be called inside a tokio runtime.
    pub fn warm(&self, key: Option<&str>) -> Result<(), TenantError> {
        let key = self.key(key)?;
        let owned = TenantKey::parse(key).map_err(|_| TenantError::InvalidKey)?;
        let inner = &self.inner;
        let now = Instant::now();
        let mut refresh = None;
        let mut flight = None;
        match inner.map.entry(owned.clone()) {
            Entry::Occupied(mut e) => match &e.get().state {
                SlotState::Loading(_) => {}
                SlotState::Ready(r) => {
                    if r.try_start_refresh() {
                        refresh = Some(e.get().generation);
                    }
                }
                // A key the State API just called unknown (or a failing one inside its
                // back-off) is not asked again before its window ends, whoever asks: a
                // stream of `/_app/start` calls with a made-up key would otherwise reach the
                // State API once per call. After the window the next request fetches.
                SlotState::Unknown { until } | SlotState::Failed { until, .. } if now < *until => {}
                SlotState::Unknown { .. } | SlotState::Failed { .. } => {
                    let (slot, f) = inner.loading_slot(now);
                    flight = Some((slot.generation, f.tx));
                    e.insert(slot);
                }
            },
            Entry::Vacant(v) => {
                let (slot, f) = inner.loading_slot(now);
                flight = Some((slot.generation, f.tx));
                v.insert(slot);
            }
        }
        if let Some(generation) = refresh {
            inner.spawn_refresh(owned, generation);
        } else if let Some((generation, tx)) = flight {
            inner.spawn_fetch(owned, generation, tx);
            inner.evict_if_over();
        }
        Ok(())
    }

    /// Drops `key`'s entry (for `/_app/stop`); a fetch under way for it is not written back.
    /// Returns whether there was one.
    pub fn forget(&self, key: Option<&str>) -> Result<bool, TenantError> {
        let key = self.key(key)?;
        Ok(self.inner.map.remove(key).is_some())
    }

    /// Swaps in newly loaded plans: every cached tenant is resolved again against them (from
    /// the settings and mappings it holds: no State API call), and fetches under way resolve
    /// against them when they finish. Requests already holding a tenant finish with the plans
    /// they started with, so no request fails during the swap. Returns how many tenants were
    /// re-resolved.
    pub fn reload_plans(&self, plans: Arc<PlanSet>) -> usize {
        let inner = &self.inner;
        let generation = {
            let mut now = inner.plans.write().unwrap_or_else(|e| e.into_inner());
            now.set = plans.clone();
            now.generation += 1;
            now.generation
        };
        // Released before walking the map (see `Inner::plans`). Each shard is write-locked
        // only while its entries are re-resolved: a few microseconds per tenant.
        let mut count = 0;
        for mut slot in inner.map.iter_mut() {
            if let SlotState::Ready(r) = &mut slot.state
                && r.tenant.plans_generation < generation
            {
                r.tenant = Arc::new(r.tenant.with_plans(&plans, generation));
                count += 1;
            }
        }
        count
    }

    /// The counters, for the metrics endpoint.
    pub fn stats(&self) -> &CacheStats {
        &self.inner.stats
    }

    /// How many entries (tenants, unknown keys, fetches under way) are held.
    pub fn len(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.inner.map.is_empty()
    }

    /// The settings the cache runs with.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The key to use for a request, checked.
    fn key<'a>(&'a self, key: Option<&'a str>) -> Result<&'a str, TenantError> {
        let key = match key {
            Some(k) => k,
            None => self
                .inner
                .source
                .default_key()
                .ok_or(TenantError::MissingKey)?,
        };
        validate(key).map_err(|_| TenantError::InvalidKey)?;
        Ok(key)
    }

    /// Turns what an entry means into the request's answer.
    async fn answer(&self, key: &str, seen: Seen) -> Result<Arc<Tenant>, TenantError> {
        let stats = &self.inner.stats;
        match seen {
            Seen::Fresh(t) => {
                bump(&stats.hits);
                Ok(t)
            }
            Seen::Stale(t, refresh) => {
                bump(&stats.stale_served);
                if let (Some(generation), Ok(owned)) = (refresh, TenantKey::parse(key)) {
                    self.inner.spawn_refresh(owned, generation);
                }
                Ok(t)
            }
            Seen::Unknown => {
                bump(&stats.negative_hits);
                Err(TenantError::UnknownKey)
            }
            Seen::Unavailable(reason, retry_after) => {
                bump(&stats.unavailable);
                Err(TenantError::Unavailable {
                    reason,
                    retry_after,
                })
            }
            Seen::Wait(rx) => {
                bump(&stats.misses);
                self.inner.wait(rx).await
            }
            // Callers route Expired to `fetch_or_join`; answering it as unavailable keeps
            // this total without a panic.
            Seen::Expired => Err(TenantError::Unavailable {
                reason: "tenant state is being replaced".into(),
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    /// The miss path: under the entry's write lock, either find that someone else got there
    /// first, or install a loading entry and start the one fetch.
    async fn fetch_or_join(&self, key: &str, now: Instant) -> Result<Arc<Tenant>, TenantError> {
        let inner = &self.inner;
        let owned = TenantKey::parse(key).map_err(|_| TenantError::InvalidKey)?;
        let mut flight = None;
        let seen = match inner.map.entry(owned.clone()) {
            Entry::Occupied(mut e) => match inner.look(e.get(), now) {
                Seen::Expired => {
                    let (slot, f) = inner.loading_slot(now);
                    flight = Some((slot.generation, f.tx));
                    e.insert(slot);
                    Seen::Wait(f.rx)
                }
                seen => seen,
            },
            Entry::Vacant(v) => {
                let (slot, f) = inner.loading_slot(now);
                flight = Some((slot.generation, f.tx));
                v.insert(slot);
                Seen::Wait(f.rx)
            }
        };
        if let Some((generation, tx)) = flight {
            inner.spawn_fetch(owned, generation, tx);
            inner.evict_if_over();
        }
        self.answer(key, seen).await
    }
}

impl Inner {
    fn stamp(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// What `slot` means at `now`. May claim the entry's refresh (see [`Seen::Stale`]).
    fn look(&self, slot: &Slot, now: Instant) -> Seen {
        match &slot.state {
            SlotState::Loading(rx) => Seen::Wait(rx.clone()),
            SlotState::Ready(r) => {
                let age = now.saturating_duration_since(r.fetched_at);
                if age < self.config.ttl {
                    Seen::Fresh(r.tenant.clone())
                } else if age <= self.config.ttl + self.config.stale_if_error {
                    let due = self.stamp(now) >= r.retry_at.load(Ordering::Relaxed);
                    let won = due && r.try_start_refresh();
                    Seen::Stale(r.tenant.clone(), won.then_some(slot.generation))
                } else {
                    Seen::Expired
                }
            }
            SlotState::Unknown { until } if now < *until => Seen::Unknown,
            SlotState::Failed { until, reason } if now < *until => {
                Seen::Unavailable(reason.clone(), retry_after(*until - now))
            }
            SlotState::Unknown { .. } | SlotState::Failed { .. } => Seen::Expired,
        }
    }

    fn loading_slot(&self, now: Instant) -> (Slot, Flight) {
        let (tx, rx) = watch::channel(None);
        let slot = Slot {
            generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
            last_access: AtomicU64::new(self.stamp(now)),
            state: SlotState::Loading(rx.clone()),
        };
        (slot, Flight { tx, rx })
    }

    async fn wait(&self, mut rx: watch::Receiver<Option<Outcome>>) -> Outcome {
        let outcome = match rx.wait_for(Option::is_some).await {
            Ok(done) => done.clone(),
            Err(_) => None,
        };
        // The sender is dropped without an outcome only if the fetch task died (panic or
        // runtime shutdown); its guard has already removed the entry, so a retry refetches.
        outcome.unwrap_or_else(|| {
            Err(TenantError::Unavailable {
                reason: "the tenant state fetch was abandoned".into(),
                retry_after: retry_after(self.config.error_backoff),
            })
        })
    }

    /// One State API call, counted and timed, resolved into a tenant.
    async fn fetch_tenant(&self, key: &TenantKey) -> Result<Arc<Tenant>, FetchError> {
        bump(&self.stats.upstream_calls);
        let started = Instant::now();
        let result = self.source.fetch(key).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats
            .upstream_latency_us_sum
            .fetch_add(micros, Ordering::Relaxed);
        bump(&self.stats.upstream_latency_count);
        let hash = key.hash();
        match result {
            Ok(doc) => {
                let (plans, generation) = self.plans_now();
                let mut tenant = Tenant::resolve(hash, doc, &plans, &self.secrets);
                tenant.plans_generation = generation;
                for warning in &tenant.warnings {
                    tracing::warn!(tenant = %hash, %warning, "tenant state has a problem");
                }
                tracing::debug!(tenant = %hash, micros, "tenant state fetched");
                Ok(Arc::new(tenant))
            }
            Err(FetchError::UnknownKey) => {
                bump(&self.stats.upstream_unknown);
                tracing::info!(tenant = %hash, "the State API does not know this tenant");
                Err(FetchError::UnknownKey)
            }
            Err(error) => {
                bump(&self.stats.upstream_errors);
                tracing::warn!(tenant = %hash, %error, micros, "tenant state fetch failed");
                Err(error)
            }
        }
    }

    /// Runs the single fetch for a loading entry and publishes its outcome.
    fn spawn_fetch(
        self: &Arc<Self>,
        key: TenantKey,
        generation: u64,
        tx: watch::Sender<Option<Outcome>>,
    ) {
        let inner = self.clone();
        tokio::spawn(async move {
            let mut guard = AbandonGuard {
                inner: &inner,
                key: &key,
                generation,
                done: false,
            };
            let result = inner.fetch_tenant(&key).await;
            let now = Instant::now();
            let (state, outcome) = match result {
                Ok(tenant) => (
                    SlotState::Ready(Ready::new(tenant.clone(), now)),
                    Ok(tenant),
                ),
                Err(FetchError::UnknownKey) => (
                    SlotState::Unknown {
                        until: now + inner.config.negative_ttl,
                    },
                    Err(TenantError::UnknownKey),
                ),
                Err(error) => {
                    let reason = error.to_string();
                    let outcome = Err(TenantError::Unavailable {
                        reason: reason.clone(),
                        retry_after: retry_after(inner.config.error_backoff),
                    });
                    let until = now + inner.config.error_backoff;
                    (SlotState::Failed { until, reason }, outcome)
                }
            };
            // Write the entry before waking the waiters, so one that asks again at once
            // finds the new state rather than the loading entry.
            if let Some(mut slot) = inner.map.get_mut(&key)
                && slot.generation == generation
            {
                slot.state = inner.current_plans(state);
            }
            guard.done = true;
            drop(guard);
            let _ = tx.send(Some(outcome));
        });
    }

    /// Runs one background refresh of a ready entry.
    fn spawn_refresh(self: &Arc<Self>, key: TenantKey, generation: u64) {
        bump(&self.stats.refreshes);
        let inner = self.clone();
        tokio::spawn(async move {
            let mut guard = RefreshGuard {
                inner: &inner,
                key: &key,
                generation,
                done: false,
            };
            let result = inner.fetch_tenant(&key).await;
            let now = Instant::now();
            match result {
                Ok(tenant) => {
                    inner.replace(&key, generation, SlotState::Ready(Ready::new(tenant, now)))
                }
                Err(FetchError::UnknownKey) => {
                    // 404 is the platform's answer that the tenant is gone (app stopped):
                    // stop serving it.
                    let until = now + inner.config.negative_ttl;
                    inner.replace(&key, generation, SlotState::Unknown { until });
                }
                Err(_) => {
                    // Keep serving the stale tenant (stale-if-error) and back off.
                    let retry_at = inner.stamp(now + inner.config.error_backoff);
                    inner.end_refresh(&key, generation, retry_at);
                }
            }
            guard.done = true;
        });
    }

    fn replace(&self, key: &TenantKey, generation: u64, state: SlotState) {
        if let Some(mut slot) = self.map.get_mut(key)
            && slot.generation == generation
        {
            slot.state = self.current_plans(state);
        }
    }

    /// The current plans and their generation.
    fn plans_now(&self) -> (Arc<PlanSet>, u64) {
        // A poisoned lock only means a reload panicked mid-assignment of two plain fields;
        // the value is still whole.
        let now = self.plans.read().unwrap_or_else(|e| e.into_inner());
        (now.set.clone(), now.generation)
    }

    /// A ready state resolved against the plans of an older generation is resolved again
    /// against the current ones before it is written back: a fetch that started before a
    /// reload must not bring the old plans back.
    fn current_plans(&self, state: SlotState) -> SlotState {
        match state {
            SlotState::Ready(mut r) => {
                let (plans, generation) = self.plans_now();
                if r.tenant.plans_generation != generation {
                    r.tenant = Arc::new(r.tenant.with_plans(&plans, generation));
                }
                SlotState::Ready(r)
            }
            other => other,
        }
    }

    fn end_refresh(&self, key: &TenantKey, generation: u64, retry_at: u64) {
        if let Some(slot) = self.map.get(key)
            && slot.generation == generation
            && let SlotState::Ready(r) = &slot.state
        {
            r.retry_at.store(retry_at, Ordering::Relaxed);
            r.refreshing.store(false, Ordering::Release);
        }
    }

    /// Keeps the map at most `max_tenants` entries (plus fetches under way).
    ///
    /// Approximate LRU: the oldest last-access stamps among all settled entries go, in a
    /// batch of 1/16 of the bound, so the O(n) scan runs once per that many new keys rather
    /// than on every miss. Exact LRU would need an ordered list touched under a lock by
    /// every hit; for a bound that only exists to stop key spraying, "about the least
    /// recently used" is enough. Loading entries are never evicted: requests wait on them.
    ///
    /// Remembered unknown keys and failures go before any resolved tenant: a spray of
    /// made-up keys (each one an `Unknown` entry) must not push a real tenant that was
    /// quiet for a minute out of the cache, which would cost it a State API call and, were
    /// the State API down at that moment, its answers. Only when the bound is all tenants
    /// are tenants evicted.
    fn evict_if_over(&self) {
        let max = self.config.max_tenants;
        if self.map.len() <= max || self.evicting.swap(true, Ordering::Acquire) {
            return;
        }
        let len = self.map.len();
        // (is a tenant, last access): negative entries sort first, then least recent.
        let mut candidates: Vec<((bool, u64), TenantKey)> = self
            .map
            .iter()
            .filter(|e| !matches!(e.state, SlotState::Loading(_)))
            .map(|e| {
                let tenant = matches!(e.state, SlotState::Ready(_));
                (
                    (tenant, e.last_access.load(Ordering::Relaxed)),
                    e.key().clone(),
                )
            })
            .collect();
        let target = (len.saturating_sub(max) + (max / 16).max(1)).min(candidates.len());
        if target > 0 {
            candidates.select_nth_unstable_by_key(target - 1, |c| c.0);
            for ((_, stamp), key) in &candidates[..target] {
                let removed = self.map.remove_if(key, |_, s| {
                    s.last_access.load(Ordering::Relaxed) == *stamp
                        && !matches!(s.state, SlotState::Loading(_))
                });
                if removed.is_some() {
                    bump(&self.stats.evictions);
                }
            }
        }
        self.evicting.store(false, Ordering::Release);
    }
}

impl Slot {
    fn touch(&self, stamp: u64) {
        // Skip the store when unchanged: a hot key read by every core would otherwise
        // bounce this cache line on each request.
        if self.last_access.load(Ordering::Relaxed) != stamp {
            self.last_access.store(stamp, Ordering::Relaxed);
        }
    }
}

impl Ready {
    fn new(tenant: Arc<Tenant>, fetched_at: Instant) -> Ready {
        Ready {
            tenant,
            fetched_at,
            refreshing: AtomicBool::new(false),
            retry_at: AtomicU64::new(0),
        }
    }

    fn try_start_refresh(&self) -> bool {
        self.refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
}

/// If a fetch task ends without publishing (panic, runtime shutdown), removes its loading
/// entry so the next request starts a new fetch instead of waiting forever.
struct AbandonGuard<'a> {
    inner: &'a Inner,
    key: &'a TenantKey,
    generation: u64,
    done: bool,
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.inner
                .map
                .remove_if(self.key, |_, s| s.generation == self.generation);
        }
    }
}

/// If a refresh task ends early, clears the entry's "refreshing" flag so a later request
/// can start another.
struct RefreshGuard<'a> {
    inner: &'a Inner,
    key: &'a TenantKey,
    generation: u64,
    done: bool,
}

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.inner.end_refresh(self.key, self.generation, 0);
        }
    }
}

/// A `Retry-After` worth sending: whole seconds, rounded up, at least one.
fn retry_after(wait: Duration) -> Duration {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

impl std::fmt::Debug for TenantCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantCache")
            .field("entries", &self.inner.map.len())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
