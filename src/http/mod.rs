//! The HTTP service: hyper 1.x HTTP/1.1 on tokio, speaking Socotra's external rater contract
//! (CONTRACT.md sections 2, 3, 6, 8).
//!
//! - [`serve`]: the binary's entry point: config, logging, runtime layout, bind, plans,
//!   signals. The only place that uses `anyhow`.
//! - [`server`]: the accept loop and connections ([`server::run`]`(listener, state,
//!   shutdown)`, which tests call on `127.0.0.1:0`).
//! - [`routes`]: the one `match` from request to handler; [`body`]: reading the body;
//!   [`error`]: the one place errors become HTTP answers; [`metrics`]: `/metrics`;
//!   [`shutdown`]: signals and the drain broadcast.
//!
//! **Invariant:** no lock is taken on the request path: [`AppState`] is atomics, a
//! `OnceLock` and immutable config.

pub mod body;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod shutdown;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use tokio::net::{TcpListener, TcpSocket};

use crate::bundle::fetch::{BundleFetcher, FetchConfig};
use crate::bundle::{BundleCache, BundleConfig};
use crate::config::{Config, ENV_PLANS_DIR, RuntimeKind, ServeArgs};
use crate::plan::PlanSet;
use crate::telemetry;
use crate::tenant::{CacheConfig, SecretPolicy, StateSource, TenantCache};

/// The manifest, read for the names of `Password` settings: at the image root, else in the
/// working directory (a checkout).
const MANIFEST_PATHS: [&str; 2] = ["/socotra-app.json", "socotra-app.json"];

/// What the tenant cache is built from: resolved and checked from the environment before
/// any port is bound, used once plans are loaded.
#[derive(Clone, Debug)]
pub struct TenantSetup {
    /// The State API, or the local state file.
    pub source: Arc<StateSource>,
    /// Which settings are secrets.
    pub secrets: SecretPolicy,
    /// TTLs, bounds and the State API client's limits.
    pub cache: CacheConfig,
    /// Tenants' own plan bundles (`planUrl`).
    pub bundles: BundleCache,
}

impl TenantSetup {
    /// Reads the tenant settings through `lookup` (the environment in the binary) and the
    /// manifest's `Password` settings from `manifest` (its text), if given.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String> + Copy,
        manifest: Option<&str>,
    ) -> anyhow::Result<TenantSetup> {
        let cache = CacheConfig::from_lookup(lookup)?;
        let source = StateSource::from_lookup(lookup, &cache.client)?;
        let passwords = match manifest {
            Some(text) => SecretPolicy::password_fields_of_manifest(text)
                .context("reading Password settings from socotra-app.json")?,
            None => Vec::new(),
        };
        let bundles = bundle_cache(lookup, source.is_local())?;
        Ok(TenantSetup {
            source: Arc::new(source),
            secrets: SecretPolicy::new(passwords),
            cache,
            bundles,
        })
    }
}

/// Seconds an active plan bundle is current before a background refresh.
pub const ENV_PLAN_TTL_SECS: &str = "RATER_PLAN_TTL_SECS";

/// The plan bundle cache from `RATER_PLAN_TTL_SECS` (default 300, at least 1),
/// `RATER_PLAN_ALLOW_HOSTS` and `RATER_PLAN_CA_FILE`; local mode also accepts a local
/// folder or `.tar.gz` path as `planUrl`.
fn bundle_cache(
    lookup: impl Fn(&str) -> Option<String> + Copy,
    local: bool,
) -> anyhow::Result<BundleCache> {
    let ttl = match lookup(ENV_PLAN_TTL_SECS) {
        None => 300,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => anyhow::bail!(
                "invalid configuration:\n  {ENV_PLAN_TTL_SECS} = {v:?}: a whole number of seconds, at least 1"
            ),
        },
    };
    let fetcher = BundleFetcher::new(FetchConfig::from_lookup(lookup))
        .context("setting up the plan bundle downloader")?;
    Ok(BundleCache::new(
        fetcher,
        BundleConfig {
            ttl: std::time::Duration::from_secs(ttl),
            local_paths: local,
            ..BundleConfig::default()
        },
    ))
}

/// What every request reads: the config, the tenant cache once plans are loaded, the
/// draining flag and the counters.
#[derive(Debug)]
pub struct AppState {
    config: Config,
    /// What the tenant cache is built from when plans are loaded.
    tenant_setup: TenantSetup,
    /// Set once, when plans are loaded: until then `/ready` and the rate route answer 503.
    /// A `OnceLock` makes the ready check one atomic load.
    tenants: OnceLock<Arc<TenantCache>>,
    /// Set at the shutdown signal: `/ready` answers 503 from then on.
    draining: AtomicBool,
    /// The counters `/metrics` renders.
    pub metrics: metrics::Metrics,
    /// Request ids for log lines: unique per process.
    next_request_id: AtomicU64,
}

impl AppState {
    /// A state whose plans are not loaded yet.
    pub fn new(config: Config, tenant_setup: TenantSetup) -> Arc<AppState> {
        Arc::new(AppState {
            config,
            tenant_setup,
            tenants: OnceLock::new(),
            draining: AtomicBool::new(false),
            metrics: metrics::Metrics::default(),
            next_request_id: AtomicU64::new(1),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Plans are loaded: the service is ready to rate (unless draining).
    pub fn set_ready(&self, tenants: Arc<TenantCache>) {
        let _ = self.tenants.set(tenants);
    }

    /// Tenants' plan bundles.
    pub fn bundles(&self) -> &BundleCache {
        &self.tenant_setup.bundles
    }

    /// The tenant cache, once ready.
    pub fn tenants(&self) -> Option<&Arc<TenantCache>> {
        self.tenants.get()
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Turns `/ready` to 503.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

/// Builds the tenant cache over the loaded plans.
pub fn tenant_cache(plans: Arc<PlanSet>, setup: &TenantSetup) -> TenantCache {
    TenantCache::new(
        setup.source.clone(),
        plans,
        setup.secrets.clone(),
        setup.cache.clone(),
    )
}

/// Reads and validates the plans folder (blocking file IO, so on the blocking pool).
async fn read_plans(state: &AppState) -> anyhow::Result<(PlanSet, String)> {
    let dir = state.config().plans_dir.clone();
    let shown = dir.display().to_string();
    let plans = tokio::task::spawn_blocking(move || crate::plan::load_dir(&dir))
        .await
        .context("the plan loader panicked")?
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading plans from {shown}"))?;
    Ok((plans, shown))
}

/// Loads the plans and marks the state ready.
pub async fn load_plans(state: &AppState) -> anyhow::Result<()> {
    let (plans, shown) = read_plans(state).await?;
    let count = plans.len();
    let cache = tenant_cache(Arc::new(plans), &state.tenant_setup);
    state.set_ready(Arc::new(cache));
    tracing::info!(plans = count, dir = %shown, "plans loaded; ready");
    Ok(())
}

/// Loads the plans folder again and swaps it into the tenant cache (SIGHUP). A folder that
/// does not load keeps the running plans: the error is returned (and logged by the caller),
/// nothing is swapped, and requests go on with the plans they had.
pub async fn reload_plans(state: &AppState) -> anyhow::Result<usize> {
    let tenants = state.tenants().context("plans are not loaded yet")?.clone();
    let (plans, shown) = read_plans(state)
        .await
        .context("plan reload refused; keeping the running plans")?;
    let count = plans.len();
    let tenants_resolved = tenants.reload_plans(Arc::new(plans));
    tracing::info!(plans = count, tenants = tenants_resolved, dir = %shown, "plans reloaded");
    Ok(tenants_resolved)
}

/// Reloads the plans on every SIGHUP, until the process stops. (Listening replaces SIGHUP's
/// default action, which would end the process.)
async fn reload_on_sighup(state: &AppState) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP received: reloading plans");
                    if let Err(e) = reload_plans(state).await {
                        tracing::error!(error = %format!("{e:#}"), "plan reload failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP; plans will not reload"),
        }
    }
    let _ = state;
    std::future::pending::<()>().await
}

/// Binds a listener. `SO_REUSEADDR` so a restart does not wait out TIME_WAIT;
/// `SO_REUSEPORT` for `per-core`, where every runtime has its own listener on the port and
/// the kernel spreads connections among them.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Runs the service until shutdown. Started with no arguments, the binary serves.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Every setting is checked before any port is bound.
    let config = Config::from_args(&args)?;
    telemetry::init(config.log_format);
    if !config.plans_dir.is_dir() {
        anyhow::bail!(
            "invalid configuration:\n  {ENV_PLANS_DIR} (--plans-dir) = {:?}: not a folder",
            config.plans_dir.display().to_string()
        );
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        runtime = ?config.runtime,
        workers = config.workers,
        "starting"
    );
    let env = |k: &str| std::env::var(k).ok();
    let manifest = MANIFEST_PATHS
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok());
    let setup = TenantSetup::from_lookup(env, manifest.as_deref())?;
    if setup.source.is_local() {
        tracing::warn!(
            "serving on LOCAL tenant state, not the platform's State API (SMP_STATE_API is unset): {}",
            setup.source.describe()
        );
    } else {
        tracing::info!("tenant state from the {}", setup.source.describe());
    }
    if manifest.is_none() {
        tracing::warn!(
            "socotra-app.json not found: only settings named like password/secret/token are treated as secrets"
        );
    }
    let state = AppState::new(config.clone(), setup);
    match config.runtime {
        RuntimeKind::Multi => serve_multi(state),
        RuntimeKind::PerCore => serve_per_core(state),
    }?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The shutdown future of a serving process: a signal, or the plans failing to load (then
/// the error is kept for `serve` to report, and the process exits non-zero).
async fn until_stop(state: Arc<AppState>, failure: Arc<OnceLock<anyhow::Error>>) {
    tokio::select! {
        _ = shutdown::signal() => {}
        res = load_plans(&state) => match res {
            Ok(()) => tokio::select! {
                _ = shutdown::signal() => {}
                _ = reload_on_sighup(&state) => {}
            },
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot load plans; stopping");
                let _ = failure.set(e);
            }
        },
    }
}

fn serve_multi(state: Arc<AppState>) -> anyhow::Result<()> {
    let config = state.config().clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers)
        .thread_name("rater-worker")
        // Log lines are batched per worker and written when it parks or stops
        // (telemetry::LogWriter): one write(2) per batch instead of one per access line.
        .on_thread_park(telemetry::flush_thread_logs)
        .on_thread_stop(telemetry::end_thread_logs)
        .enable_all()
        .build()
        .context("building the runtime")?;
    let failure = Arc::new(OnceLock::new());
    rt.block_on(async {
        let listener =
            bind(config.addr, false).with_context(|| format!("binding {}", config.addr))?;
        server::run(listener, state.clone(), until_stop(state, failure.clone())).await;
        anyhow::Ok(())
    })?;
    match Arc::try_unwrap(failure).ok().and_then(OnceLock::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn serve_per_core(state: Arc<AppState>) -> anyhow::Result<()> {
    let config = state.config().clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The first runtime binds the configured address; the others bind the port it got
    // (which differs from the configured one only with port 0).
    let mut addr = config.addr;
    let mut workers = Vec::with_capacity(config.workers);
    for i in 0..config.workers {
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let state = state.clone();
        let mut stop = stop_rx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("rater-core-{i}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    // As in `serve_multi`: batched log lines go out when the runtime parks,
                    // and the rest at the end of this thread (below).
                    .on_thread_park(telemetry::flush_thread_logs)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match bind(addr, true) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = bound_tx.send(listener.local_addr());
                    let stopped = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    server::run(listener, state, stopped).await;
                });
                telemetry::end_thread_logs();
            })
            .context("spawning a runtime thread")?;
        match bound_rx.recv() {
            Ok(Ok(bound)) => addr = bound,
            Ok(Err(e)) => {
                stop_tx.send_replace(true);
                return Err(e).with_context(|| format!("binding {addr}"));
            }
            Err(_) => anyhow::bail!("runtime thread {i} ended before binding"),
        }
        workers.push(thread);
    }

    // Signals and plan loading run on a small runtime of their own on this thread.
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the control runtime")?;
    let failure = Arc::new(OnceLock::new());
    control.block_on(until_stop(state, failure.clone()));
    stop_tx.send_replace(true);
    for w in workers {
        let _ = w.join();
    }
    match Arc::try_unwrap(failure).ok().and_then(OnceLock::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
