//! Tenant cache and State API client settings from environment variables, checked at
//! start-up, with every bad variable named in one error.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `SMP_STATE_API` | unset = local mode | State API base URL (`http://...`); see [`StateSource`](super::StateSource) |
//! | `RATER_LOCAL_STATE` | `rating-tables/tenants.local.json` | local mode's tenant file |
//! | `RATER_TENANT_TTL_SECS` | 60 | how long fetched state is fresh; after it, requests get it at once and one background refresh starts |
//! | `RATER_TENANT_STALE_IF_ERROR_SECS` | 300 | how long past the TTL stale state may still be served (while refreshing or while the State API fails); after it, requests wait for a fetch, and fail with 503 if it fails |
//! | `RATER_TENANT_NEGATIVE_TTL_SECS` | 10 | how long a 404 (unknown key) is remembered |
//! | `RATER_TENANT_ERROR_BACKOFF_MS` | 1000 | after a failed fetch, how long before the State API is asked again for that key (also the `Retry-After`) |
//! | `RATER_TENANT_MAX` | 10000 | most tenants (and remembered unknown keys) held; least recently used are evicted past it |
//! | `RATER_STATE_CONNECT_TIMEOUT_MS` | 500 | State API connect timeout |
//! | `RATER_STATE_TIMEOUT_MS` | 2000 | State API total timeout (connect, headers and body) |
//! | `RATER_STATE_MAX_BYTES` | 1048576 | State API answer size cap |
//!
//! Parsing goes through a lookup function, so tests pass a map and never touch the process
//! environment.

use std::fmt;
use std::time::Duration;

use super::local::LocalStateError;

/// The tenant settings for `rater --help`: they are read from the environment only (the
/// table above says what each means).
pub const ENV_HELP: &str = "\
Tenant state (environment only):
  SMP_STATE_API                      State API base URL (http://...); unset = local state file
  RATER_LOCAL_STATE                  local tenant file [default: rating-tables/tenants.local.json]
  RATER_TENANT_TTL_SECS              freshness TTL, then stale-while-revalidate [default: 60]
  RATER_TENANT_STALE_IF_ERROR_SECS   stale state served past the TTL while failing [default: 300]
  RATER_TENANT_NEGATIVE_TTL_SECS     how long an unknown key (404) is remembered [default: 10]
  RATER_TENANT_ERROR_BACKOFF_MS      wait before asking again after a failure [default: 1000]
  RATER_TENANT_MAX                   most tenants cached (LRU eviction) [default: 10000]
  RATER_STATE_CONNECT_TIMEOUT_MS     State API connect timeout [default: 500]
  RATER_STATE_TIMEOUT_MS             State API total timeout [default: 2000]
  RATER_STATE_MAX_BYTES              State API answer size cap [default: 1048576]
Tenants' own plan bundles (settings planUrl, planToken, planSha256):
  RATER_PLAN_TTL_SECS                bundle refresh interval, at least 1 [default: 300]
  RATER_PLAN_ALLOW_HOSTS             hosts exempt from the private-address checks, plain
                                     http allowed to them (comma-separated) [default: none]
  RATER_PLAN_CA_FILE                 extra CA certificates (PEM) beside the built-in roots
  RUST_LOG                           log filter [default: info]";

/// Freshness TTL, seconds.
pub const ENV_TTL_SECS: &str = "RATER_TENANT_TTL_SECS";
/// Default freshness TTL.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// Stale window past the TTL, seconds.
pub const ENV_STALE_IF_ERROR_SECS: &str = "RATER_TENANT_STALE_IF_ERROR_SECS";
/// Default stale window.
pub const DEFAULT_STALE_IF_ERROR: Duration = Duration::from_secs(300);
/// Negative-cache TTL for unknown keys, seconds.
pub const ENV_NEGATIVE_TTL_SECS: &str = "RATER_TENANT_NEGATIVE_TTL_SECS";
/// Default negative-cache TTL.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Back-off after a failed fetch, milliseconds.
pub const ENV_ERROR_BACKOFF_MS: &str = "RATER_TENANT_ERROR_BACKOFF_MS";
/// Default back-off after a failed fetch.
pub const DEFAULT_ERROR_BACKOFF: Duration = Duration::from_secs(1);
/// Most entries held.
pub const ENV_MAX_TENANTS: &str = "RATER_TENANT_MAX";
/// Default most entries held.
pub const DEFAULT_MAX_TENANTS: usize = 10_000;
/// State API connect timeout, milliseconds.
pub const ENV_CONNECT_TIMEOUT_MS: &str = "RATER_STATE_CONNECT_TIMEOUT_MS";
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// State API total timeout, milliseconds.
pub const ENV_TIMEOUT_MS: &str = "RATER_STATE_TIMEOUT_MS";
/// Default total timeout: well under the rater's own budget (CONTRACT.md 7 aims at <= 5 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(2000);
/// State API answer size cap, bytes.
pub const ENV_MAX_BYTES: &str = "RATER_STATE_MAX_BYTES";
/// Default size cap: real state is a few KB; 1 MiB leaves room for large mappings.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

/// The tenant cache's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long fetched state is fresh.
    pub ttl: Duration,
    /// How long past `ttl` stale state may still be served.
    pub stale_if_error: Duration,
    /// How long an unknown key (404) is remembered.
    pub negative_ttl: Duration,
    /// After a failed fetch, how long before asking again.
    pub error_backoff: Duration,
    /// Most entries held.
    pub max_tenants: usize,
    /// The State API client's settings.
    pub client: ClientConfig,
}

/// The State API client's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Total timeout for one call, body included.
    pub timeout: Duration,
    /// Answer size cap, bytes.
    pub max_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            ttl: DEFAULT_TTL,
            stale_if_error: DEFAULT_STALE_IF_ERROR,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            error_backoff: DEFAULT_ERROR_BACKOFF,
            max_tenants: DEFAULT_MAX_TENANTS,
            client: ClientConfig::default(),
        }
    }
}

/// One bad environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadVar {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What it should be.
    pub expected: &'static str,
}

impl fmt::Display for BadVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

/// Why tenant state cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TenantConfigError {
    /// Some variables have bad values (all of them are listed).
    #[error("bad tenant settings: {}", list(.0))]
    Vars(Vec<BadVar>),
    /// `SMP_STATE_API` is not a usable URL.
    #[error("SMP_STATE_API={url:?} cannot be used: {reason}")]
    StateApiUrl {
        /// The value.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the State API HTTP client")]
    ClientBuild,
    /// The local state file is unusable.
    #[error(transparent)]
    Local(#[from] LocalStateError),
}

fn list(bad: &[BadVar]) -> String {
    bad.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CacheConfig {
    /// Reads the settings through `lookup` (`std::env::var(..).ok()` in production, a map in
    /// tests). Unset or empty variables take their defaults.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<CacheConfig, TenantConfigError> {
        let mut bad = Vec::new();
        let mut read = |var: &'static str, min: u64, expected: &'static str| -> Option<u64> {
            let value = lookup(var).filter(|v| !v.trim().is_empty())?;
            match value.trim().parse::<u64>() {
                Ok(n) if n >= min => Some(n),
                _ => {
                    bad.push(BadVar {
                        var,
                        value,
                        expected,
                    });
                    None
                }
            }
        };
        const SECS: &str = "a whole number of seconds, at least 1";
        const SECS0: &str = "a whole number of seconds";
        const MS: &str = "a whole number of milliseconds, at least 1";
        const COUNT: &str = "a whole number, at least 1";
        const BYTES: &str = "a whole number of bytes, at least 1";
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let d = CacheConfig::default();
        let ttl = read(ENV_TTL_SECS, 1, SECS).map_or(d.ttl, secs);
        let stale_if_error = read(ENV_STALE_IF_ERROR_SECS, 0, SECS0).map_or(d.stale_if_error, secs);
        let negative_ttl = read(ENV_NEGATIVE_TTL_SECS, 0, SECS0).map_or(d.negative_ttl, secs);
        let error_backoff = read(ENV_ERROR_BACKOFF_MS, 1, MS).map_or(d.error_backoff, ms);
        let max_tenants = read(ENV_MAX_TENANTS, 1, COUNT)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(d.max_tenants);
        let connect_timeout =
            read(ENV_CONNECT_TIMEOUT_MS, 1, MS).map_or(d.client.connect_timeout, ms);
        let timeout = read(ENV_TIMEOUT_MS, 1, MS).map_or(d.client.timeout, ms);
        let max_bytes = read(ENV_MAX_BYTES, 1, BYTES)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(d.client.max_bytes);
        if connect_timeout > timeout {
            bad.push(BadVar {
                var: ENV_CONNECT_TIMEOUT_MS,
                value: connect_timeout.as_millis().to_string(),
                expected: "at most RATER_STATE_TIMEOUT_MS",
            });
        }
        if !bad.is_empty() {
            return Err(TenantConfigError::Vars(bad));
        }
        Ok(CacheConfig {
            ttl,
            stale_if_error,
            negative_ttl,
            error_backoff,
            max_tenants,
            client: ClientConfig {
                connect_timeout,
                timeout,
                max_bytes,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<CacheConfig, TenantConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        CacheConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset_or_empty() {
        assert_eq!(config(&[]).unwrap(), CacheConfig::default());
        assert_eq!(
            config(&[(ENV_TTL_SECS, "")]).unwrap(),
            CacheConfig::default()
        );
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            (ENV_TTL_SECS, "5"),
            (ENV_STALE_IF_ERROR_SECS, "0"),
            (ENV_NEGATIVE_TTL_SECS, "2"),
            (ENV_ERROR_BACKOFF_MS, "250"),
            (ENV_MAX_TENANTS, "7"),
            (ENV_CONNECT_TIMEOUT_MS, "100"),
            (ENV_TIMEOUT_MS, " 300 "),
            (ENV_MAX_BYTES, "4096"),
        ])
        .unwrap();
        assert_eq!(c.ttl, Duration::from_secs(5));
        assert_eq!(c.stale_if_error, Duration::ZERO);
        assert_eq!(c.negative_ttl, Duration::from_secs(2));
        assert_eq!(c.error_backoff, Duration::from_millis(250));
        assert_eq!(c.max_tenants, 7);
        assert_eq!(c.client.connect_timeout, Duration::from_millis(100));
        assert_eq!(c.client.timeout, Duration::from_millis(300));
        assert_eq!(c.client.max_bytes, 4096);
    }

    #[test]
    fn names_each_bad_variable() {
        let err = config(&[
            (ENV_TTL_SECS, "0"),
            (ENV_MAX_TENANTS, "many"),
            (ENV_TIMEOUT_MS, "-1"),
        ])
        .unwrap_err();
        let TenantConfigError::Vars(bad) = &err else {
            panic!("{err}")
        };
        let vars: Vec<_> = bad.iter().map(|b| b.var).collect();
        assert_eq!(vars, [ENV_TTL_SECS, ENV_MAX_TENANTS, ENV_TIMEOUT_MS]);
        let text = err.to_string();
        assert!(text.contains("RATER_TENANT_MAX=\"many\""), "{text}");
    }

    #[test]
    fn connect_timeout_must_fit_in_the_total() {
        let err = config(&[(ENV_CONNECT_TIMEOUT_MS, "3000")]).unwrap_err();
        assert!(err.to_string().contains(ENV_CONNECT_TIMEOUT_MS), "{err}");
    }
}
