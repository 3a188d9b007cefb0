//! [`BundleCache`]: tenants' plan bundles by URL (and pin), loaded once, shared, refreshed in
//! the background, the last good one kept when a refresh fails.
//!
//! Per `(planUrl, planSha256)` an entry holds the active bundle (if any), the validators
//! for the next conditional request, and the status `/plan-status` shows.
//!
//! - **First load** (no active bundle): requests wait on the entry's single-flight lock;
//!   the first one downloads, validates and tests the bundle, the others find it active
//!   when they get the lock. The work runs in a spawned task, so a request that gives up at
//!   its deadline does not cancel the download others wait for. A failed first load is
//!   remembered for the back-off: requests get its error without a new download.
//! - **Refresh**: a request that finds the active bundle older than the TTL (plus jitter)
//!   starts one background refresh and is answered with the active bundle at once. A `304`,
//!   or the same bytes again, only updates the check time; a different bundle replaces the
//!   active one only once it has unpacked, validated and passed its tests, and, with a
//!   pin, only if its SHA-256 is the pin. Any failure keeps the last good bundle active and
//!   records the error for the status.
//! - **Sharing**: loaded plans are also kept by content hash (weakly), so tenants whose
//!   URLs (or pins) differ but whose bundles are the same bytes share one `PlanSet`.
//!
//! Architecture invariant: a tenant with a `planUrl` is priced only by a bundle from that
//! URL (never the bundled plans, never another URL's); the std `RwLock` on an entry's
//! status is held only to copy or swap a few fields, never across an `.await`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use dashmap::DashMap;
use tokio::time::Instant;

use super::fetch::{BundleFetcher, FetchError, Fetched, Validators};
use super::{BundleError, Limits};
use crate::plan::{PLAN_FILE, PlanSet};
use crate::tenant::Secret;

/// Where a tenant's plans come from: its `planUrl`, `planToken` and `planSha256` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanSource {
    /// `planUrl`.
    pub url: Box<str>,
    /// `planToken` (a secret: redacted in `Debug`).
    pub token: Option<Secret>,
    /// `planSha256`, lowercase.
    pub pin: Option<Box<str>>,
}

/// A bundle that is serving.
#[derive(Debug)]
pub struct Active {
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its plans.
    pub plans: Arc<PlanSet>,
    /// How many of its test cases passed.
    pub cases: usize,
}

/// Why a tenant's bundle cannot be used for its request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleFailure {
    /// No bundle could be downloaded yet (network, server): try again later.
    #[error("the plan bundle cannot be downloaded: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// The bundle (or the URL) is wrong and retrying will not help until it is fixed.
    #[error("the plan bundle is refused: {reason}")]
    Refused {
        /// The stable reason (`invalid_plan`, `pin_mismatch`, `forbidden_host`...).
        code: &'static str,
        /// What is wrong, located.
        reason: String,
    },
}

/// The last error of an entry, for the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    /// The stable reason.
    pub code: &'static str,
    /// What is wrong, with its file and line when it is in the bundle.
    pub message: String,
    /// When.
    pub at: SystemTime,
}

/// What `/plan-status` shows of one entry.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// The active bundle.
    pub active: Option<Arc<Active>>,
    /// When the active bundle's bytes were downloaded.
    pub fetched_at: Option<SystemTime>,
    /// When the URL was last asked (download, `304` or failure).
    pub checked_at: Option<SystemTime>,
    /// The last failure, cleared by the next success.
    pub last_error: Option<LastError>,
}

/// Counters for `/metrics`: no tenant or URL labels.
#[derive(Debug, Default)]
pub struct BundleStats {
    /// Bundle bodies downloaded (200s).
    pub downloads: AtomicU64,
    /// `304 Not Modified` answers.
    pub not_modified: AtomicU64,
    /// Bundles that became active for an entry.
    pub activations: AtomicU64,
    /// Refusals by reason, in [`REFUSAL_REASONS`] order.
    pub refusals: [AtomicU64; REFUSAL_REASONS.len()],
}

/// Every refusal reason counted.
pub const REFUSAL_REASONS: [&str; 14] = [
    "too_large",
    "not_an_archive",
    "refused_entry",
    "no_plans",
    "invalid_plan",
    "failed_tests",
    "pin_mismatch",
    "bad_url",
    "forbidden_host",
    "bad_redirect",
    "http_status",
    "timeout",
    "connect",
    "other",
];

impl BundleStats {
    fn refused(&self, code: &str) {
        let i = REFUSAL_REASONS
            .iter()
            .position(|r| *r == code)
            .unwrap_or(REFUSAL_REASONS.len() - 1);
        self.refusals[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// The bundle cache's settings.
#[derive(Clone, Debug)]
pub struct BundleConfig {
    /// How long an active bundle is current before a background refresh.
    pub ttl: Duration,
    /// After a failed first load, how long before downloading again.
    pub error_backoff: Duration,
    /// Unpacking caps.
    pub limits: Limits,
    /// Whether `planUrl` may be a local folder or `.tar.gz` path (local mode only).
    pub local_paths: bool,
    /// An entry no tenant has asked for in this long is dropped (its plans with it, once no
    /// request holds them): tenants change `planUrl` and pins, and a long-running instance
    /// must not keep every bundle it ever loaded. A later request loads it again.
    pub idle: Duration,
}

impl Default for BundleConfig {
    fn default() -> BundleConfig {
        BundleConfig {
            ttl: Duration::from_secs(300),
            error_backoff: Duration::from_secs(5),
            limits: Limits::default(),
            local_paths: false,
            idle: Duration::from_secs(3600),
        }
    }
}

/// The cache. Cheap to clone; clones share it.
#[derive(Clone, Debug)]
pub struct BundleCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fetcher: BundleFetcher,
    config: BundleConfig,
    /// `url` + `#` + pin -> entry. Entries are few (one per distinct bundle setting) and
    /// read once per rating request of a bundle tenant; a dashmap keeps those reads from
    /// contending.
    map: DashMap<String, Arc<Entry>>,
    /// The instant `Entry::last_used` counts from.
    epoch: Instant,
    /// SHA-256 -> loaded plans, so equal bundles share memory.
    by_hash: DashMap<String, Weak<Active>>,
    stats: BundleStats,
}

#[derive(Debug)]
struct Entry {
    source: PlanSource,
    /// When a tenant last asked for it, in ms since `Inner::epoch`.
    last_used: AtomicU64,
    /// Held by the one task loading or refreshing this entry.
    flight: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    state: RwLock<EntryState>,
}

#[derive(Debug, Default)]
struct EntryState {
    status: Status,
    validators: Validators,
    /// When the active bundle is due a refresh.
    next_check: Option<Instant>,
    /// A failed first load: its answer, until this instant.
    failed: Option<(BundleFailure, Instant)>,
}

impl BundleCache {
    /// A cache downloading with `fetcher`.
    pub fn new(fetcher: BundleFetcher, config: BundleConfig) -> BundleCache {
        BundleCache {
            inner: Arc::new(Inner {
                fetcher,
                config,
                map: DashMap::new(),
                epoch: Instant::now(),
                by_hash: DashMap::new(),
                stats: BundleStats::default(),
            }),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &BundleStats {
        &self.inner.stats
    }

    /// How many bundle settings (URL and pin) are cached now.
    pub fn entries(&self) -> usize {
        self.inner.entries()
    }

    /// The status of `source`'s entry (default when never asked).
    pub fn status(&self, source: &PlanSource) -> Status {
        match self.inner.map.get(&key(source)) {
            Some(e) => read(&e.state).status.clone(),
            None => Status::default(),
        }
    }

    /// The active bundle for `source`: at once when one is active (starting a background
    /// refresh when it is due), else after the first load (shared by every caller).
    pub async fn get(&self, source: &PlanSource) -> Result<Arc<Active>, BundleFailure> {
        let k = key(source);
        let now = self.inner.now_ms();
        let mut created = false;
        let entry = self
            .inner
            .map
            .entry(k)
            .or_insert_with(|| {
                created = true;
                Arc::new(Entry {
                    source: source.clone(),
                    last_used: AtomicU64::new(now),
                    flight: tokio::sync::Mutex::new(()),
                    refreshing: AtomicBool::new(false),
                    state: RwLock::new(EntryState::default()),
                })
            })
            .clone();
        entry.last_used.store(now, Ordering::Relaxed);
        if created {
            // A new bundle setting is the moment the set grows: drop the ones gone idle.
            self.inner.evict_idle(now);
        }
        if let Some(answer) = self.inner.quick(&entry) {
            return answer;
        }
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let _flight = entry.flight.lock().await;
            if let Some(answer) = inner.quick(&entry) {
                return answer;
            }
            inner.load(&entry).await;
            inner.quick(&entry).unwrap_or_else(|| {
                Err(BundleFailure::Unavailable {
                    reason: "the plan bundle load ended without an answer".into(),
                    retry_after: Duration::from_secs(1),
                })
            })
        });
        task.await.unwrap_or_else(|_| {
            Err(BundleFailure::Unavailable {
                reason: "the plan bundle load was abandoned".into(),
                retry_after: Duration::from_secs(1),
            })
        })
    }
}

fn key(source: &PlanSource) -> String {
    format!("{}#{}", source.url, source.pin.as_deref().unwrap_or(""))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Drops the entries no tenant has asked for within `config.idle` of `now`.
    fn evict_idle(&self, now: u64) {
        let idle = u64::try_from(self.config.idle.as_millis()).unwrap_or(u64::MAX);
        self.map
            .retain(|_, e| now.saturating_sub(e.last_used.load(Ordering::Relaxed)) <= idle);
        self.by_hash.retain(|_, active| active.strong_count() > 0);
    }

    /// How many bundle settings are cached (for tests and status).
    fn entries(&self) -> usize {
        self.map.len()
    }

    /// The answer without loading, if there is one: the active bundle (starting a due
    /// refresh), or a first-load failure still inside its back-off.
    fn quick(self: &Arc<Self>, entry: &Arc<Entry>) -> Option<Result<Arc<Active>, BundleFailure>> {
        let now = Instant::now();
        let state = read(&entry.state);
        if let Some(active) = &state.status.active {
            let due = state.next_check.is_none_or(|at| now >= at);
            if due && !entry.refreshing.swap(true, Ordering::AcqRel) {
                let inner = self.clone();
                let entry = entry.clone();
                tokio::spawn(async move {
                    let _flight = entry.flight.lock().await;
                    inner.load(&entry).await;
                    entry.refreshing.store(false, Ordering::Release);
                });
            }
            return Some(Ok(active.clone()));
        }
        match &state.failed {
            Some((failure, until)) if now < *until => Some(Err(match failure {
                BundleFailure::Unavailable { reason, .. } => BundleFailure::Unavailable {
                    reason: reason.clone(),
                    retry_after: whole_secs(*until - now),
                },
                refused => refused.clone(),
            })),
            _ => None,
        }
    }

    /// One download (or local read), validation and activation; the outcome is written to
    /// the entry. Called with the entry's flight lock held.
    async fn load(&self, entry: &Entry) {
        let result = self.try_load(entry).await;
        let now = Instant::now();
        let mut state = write(&entry.state);
        state.status.checked_at = Some(SystemTime::now());
        state.next_check = Some(now + jittered(self.config.ttl));
        match result {
            Ok(None) => state.status.last_error = None,
            Ok(Some((active, validators))) => {
                let changed = state
                    .status
                    .active
                    .as_ref()
                    .is_none_or(|a| a.sha256 != active.sha256);
                if changed {
                    self.stats.activations.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        bundle = %active.sha256,
                        plans = %plan_list(&active.plans),
                        "plan bundle activated"
                    );
                }
                state.status.active = Some(active);
                state.status.fetched_at = Some(SystemTime::now());
                state.status.last_error = None;
                state.validators = validators;
                state.failed = None;
            }
            Err(failure) => {
                let code = match &failure {
                    BundleFailure::Refused { code, .. } => code,
                    BundleFailure::Unavailable { .. } => "download",
                };
                let message = match &failure {
                    BundleFailure::Refused { reason, .. }
                    | BundleFailure::Unavailable { reason, .. } => reason.clone(),
                };
                tracing::warn!(
                    code,
                    error = %message,
                    keeping = state.status.active.as_ref().map_or("nothing", |a| a.sha256.as_str()),
                    "plan bundle refused"
                );
                state.status.last_error = Some(LastError {
                    code,
                    message,
                    at: SystemTime::now(),
                });
                if state.status.active.is_none() {
                    state.failed = Some((failure, now + self.config.error_backoff));
                } else if matches!(failure, BundleFailure::Unavailable { .. }) {
                    // A download that failed (the server down, a timeout) is worth trying
                    // again before a whole TTL; a refused bundle is not (its bytes are wrong
                    // until someone publishes new ones, which the TTL finds).
                    let retry = jittered(self.config.error_backoff * 6).min(self.config.ttl);
                    state.next_check = Some(now + retry);
                }
            }
        }
    }

    /// `Ok(None)`: nothing new (`304` or the same bytes); `Ok(Some)`: a bundle to activate.
    async fn try_load(
        &self,
        entry: &Entry,
    ) -> Result<Option<(Arc<Active>, Validators)>, BundleFailure> {
        let source = &entry.source;
        let (current, prior) = {
            let state = read(&entry.state);
            (state.status.active.clone(), state.validators.clone())
        };
        let (bytes, validators) = if self.config.local_paths && !is_http(&source.url) {
            let path = Path::new(&*source.url).to_path_buf();
            let bytes = tokio::task::spawn_blocking(move || local_bundle(&path))
                .await
                .map_err(|_| refused("other", "reading the local plans panicked".into()))?
                .map_err(|e| self.refusal(e))?;
            (bytes, Validators::default())
        } else {
            let prior = current.as_ref().map(|_| &prior);
            match self
                .fetcher
                .fetch(&source.url, source.token.as_ref(), prior)
                .await
            {
                Ok(Fetched::NotModified) => {
                    self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
                    return Ok(None);
                }
                Ok(Fetched::Body { bytes, validators }) => {
                    self.stats.downloads.fetch_add(1, Ordering::Relaxed);
                    (bytes, validators)
                }
                Err(e) => return Err(self.fetch_failure(e)),
            }
        };
        let sha256 = super::sha256_hex(&bytes);
        if let Some(pin) = &source.pin
            && **pin != sha256
        {
            self.stats.refused("pin_mismatch");
            return Err(refused(
                "pin_mismatch",
                format!("the bundle's SHA-256 is {sha256}, not the planSha256 pin {pin}"),
            ));
        }
        if current.as_ref().is_some_and(|a| a.sha256 == sha256) {
            return Ok(None);
        }
        if let Some(shared) = self.by_hash.get(&sha256).and_then(|w| w.upgrade()) {
            return Ok(Some((shared, validators)));
        }
        let name = bundle_name(&source.url);
        let limits = self.config.limits;
        let loaded = tokio::task::spawn_blocking(move || super::load(&name, &bytes, &limits))
            .await
            .map_err(|_| refused("other", "loading the bundle panicked".into()))?
            .map_err(|e| self.refusal(e))?;
        let active = Arc::new(Active {
            sha256: loaded.sha256.clone(),
            plans: loaded.plans,
            cases: loaded.cases,
        });
        self.by_hash.insert(loaded.sha256, Arc::downgrade(&active));
        self.by_hash.retain(|_, w| w.strong_count() > 0);
        Ok(Some((active, validators)))
    }

    fn refusal(&self, e: BundleError) -> BundleFailure {
        self.stats.refused(e.code());
        refused(e.code(), e.to_string())
    }

    fn fetch_failure(&self, e: FetchError) -> BundleFailure {
        self.stats.refused(e.code());
        match e {
            // Fixed only by changing the settings: retrying cannot help.
            FetchError::BadUrl { .. } | FetchError::Forbidden { .. } => {
                refused(e.code(), e.to_string())
            }
            e => BundleFailure::Unavailable {
                reason: e.to_string(),
                retry_after: whole_secs(self.config.error_backoff),
            },
        }
    }
}

fn refused(code: &'static str, reason: String) -> BundleFailure {
    BundleFailure::Refused { code, reason }
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A local `planUrl`: a `.tar.gz` file as it is, or a folder packed as `rater bundle`
/// would (the folder itself when it is a plan folder, else its plan sub-folders).
fn local_bundle(path: &Path) -> Result<Vec<u8>, BundleError> {
    if path.is_file() {
        return std::fs::read(path).map_err(|e| BundleError::Source {
            path: path.to_path_buf(),
            why: e.to_string(),
        });
    }
    if path.join(PLAN_FILE).is_file() {
        return super::build(&[path.to_path_buf()]);
    }
    let mut dirs: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| BundleError::Source {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(PLAN_FILE).is_file())
        .collect();
    dirs.sort();
    super::build(&dirs)
}

/// The name errors give a bundle: the URL's last path segment (`plans.tar.gz`).
fn bundle_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("bundle")
        .to_owned()
}

/// The plans of a set as `id@version` pairs, for logs.
pub fn plan_list(plans: &PlanSet) -> String {
    plans
        .iter()
        .map(|p| format!("{}@{}", p.id(), p.version()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `ttl` plus up to a tenth more, so entries loaded together do not refresh together.
fn jittered(ttl: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tenth = ttl.as_millis() as u64 / 10;
    ttl + Duration::from_millis(if tenth == 0 {
        0
    } else {
        u64::from(nanos) % tenth
    })
}

fn whole_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().ceil().max(1.0) as u64)
}
