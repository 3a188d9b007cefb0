//! Shared harness for integration tests: fixture paths and bundled plans, the State API
//! stand-in, cache builders, state fixtures, a paused-clock ticker and a log capture.

// Each test file uses a different part of this harness.
#![allow(dead_code)]

pub mod attack;
pub mod bundle_server;
pub mod golden;
pub mod http_server;
pub mod state_api;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rater::plan::{Plan, PlanSet, load_plan};
use rater::tenant::{CacheConfig, ClientConfig, SecretPolicy, StateClient, TenantCache};
use serde_json::json;

#[allow(unused_imports)] // not every test file uses every part
pub use http_server::*;
#[allow(unused_imports)]
pub use state_api::{Mode, StateApi};

/// Short, distinct durations so a test can tell which one fired.
pub fn config() -> CacheConfig {
    CacheConfig {
        ttl: Duration::from_secs(60),
        stale_if_error: Duration::from_secs(300),
        negative_ttl: Duration::from_secs(10),
        error_backoff: Duration::from_secs(1),
        max_tenants: 1000,
        client: ClientConfig {
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_millis(2000),
            max_bytes: 64 * 1024,
        },
    }
}

/// A cache over the stand-in, with no plans loaded and `apiKey` declared a password.
pub fn cache(api: &StateApi, config: CacheConfig) -> TenantCache {
    let client = StateClient::new(&api.url(), &config.client).expect("client");
    TenantCache::new(
        client,
        Arc::new(PlanSet::new(vec![])),
        SecretPolicy::new(["apiKey"]),
        config,
    )
}

/// A State API answer whose every part names `name`, so an answer can be traced to its tenant.
pub fn state(name: &str) -> serde_json::Value {
    json!({
        "socotraApiUrl": format!("https://{name}.example"),
        "tenantHostName": format!("{name}-configeditor.example"),
        "token": format!("token-of-{name}"),
        "settings": {
            "ratePlan": format!("plan-of-{name}"),
            "tenant": name,
            "apiKey": format!("apikey-of-{name}"),
            "password-setting": format!("password-of-{name}")
        },
        "mappings": [{
            "productName": "personal-auto",
            "fields": {
                "vehicle_value": format!("$[?(@.name=='personal-auto')].policyConfiguration.exposures[?(@.name=='vehicle')].fields[?(@.name=='{name}_value')]")
            }
        }]
    })
}

/// Under a paused clock, tokio jumps time to the next timer whenever every task is idle,
/// including while a real socket is between readiness events. Without a near timer that
/// jump could land on a client timeout. This task keeps a 1 ms timer pending, so idle time
/// advances in 1 ms steps and loopback IO always completes long before any timeout.
pub fn spawn_ticker() {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

/// Moves a paused clock forward by `d` in 50 ms steps, letting IO and tasks run between
/// steps. A single `advance(d)` jumps over in-flight socket IO, so a fetch that would take
/// 20 ms can "time out" when `d` is longer than the client timeout.
pub async fn pass_time(d: Duration) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() {
        let now = left.min(step);
        tokio::time::advance(now).await;
        tokio::task::yield_now().await;
        left -= now;
    }
}

/// Polls `cond` (letting other tasks and, under a paused clock, time move in 1 ms steps)
/// until it holds; panics after `limit` of tokio time.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything logged so far.
    pub fn contents(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// The Socotra fixtures: `$SOCOTRA_FIXTURES` when set (to try other requests and answers),
/// else the copy in the repository, `tests/fixtures/socotra`, so a clone tests on its own.
pub fn fixtures() -> PathBuf {
    match std::env::var_os("SOCOTRA_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/socotra"),
    }
}

/// A bundled plan by id.
pub fn bundled(id: &str) -> Arc<Plan> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rating-tables")
        .join(id);
    Arc::new(load_plan(&dir).unwrap_or_else(|e| panic!("bundled plan {id} must load:\n{e}")))
}

/// Asserts that one of `errors` is in `file` (its name), at `line` (and `column`, unless 0),
/// and says `what`; prints every error when none is.
pub fn has_error(
    errors: &[rater::plan::PlanError],
    file: &str,
    line: usize,
    column: usize,
    what: &str,
) {
    let found = errors.iter().any(|e| {
        e.file.file_name().and_then(|f| f.to_str()) == Some(file)
            && e.line == line
            && (column == 0 || e.column == column)
            && e.message.contains(what)
    });
    assert!(
        found,
        "no error in {file}:{line}:{column} saying {what:?}; got:\n{}",
        errors
            .iter()
            .map(|e| format!("  {e}\n"))
            .collect::<String>()
    );
}

/// Copies a folder and everything in it (test fixtures made from the bundled plans).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
