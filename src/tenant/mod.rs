//! Tenant state: who the caller is (by `x-smp-key`), their settings and product mappings,
//! resolved once into a ready [`Tenant`], cached and refreshed in the background.
//!
//! # Layout (in the order data flows)
//!
//! - `key`: [`TenantKey`] validation, path-segment encoding, URL joining, [`KeyHash`] for logs.
//! - `client`: [`StateClient`], the State API over http with timeouts and a size cap.
//! - `local`: [`LocalState`], tenants from a JSON file when `SMP_STATE_API` is unset.
//! - `source`: the [`FetchState`] boundary, [`FetchError`], and [`StateSource`] (which of the two).
//! - `state`: [`StateDoc`], the State API's JSON as parsed.
//! - `secret`: [`Secret`] and the [`SecretPolicy`] for password settings.
//! - `mapping`: mapping JSONPaths -> engine sources.
//! - `model`: [`Tenant`] and [`Settings`], resolved once per fetch.
//! - `cache`: [`TenantCache`], the concurrent cache requests read.
//! - `stats`: [`CacheStats`] counters.
//! - `config`: [`CacheConfig`] from environment variables.
//!
//! # Wiring (for the server)
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use rater::tenant::*;
//! # fn demo(plans: Arc<rater::plan::PlanSet>, manifest: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let env = |k: &str| std::env::var(k).ok();
//! let config = CacheConfig::from_lookup(env)?;
//! let source = StateSource::from_lookup(env, &config.client)?;
//! if source.is_local() {
//!     tracing::warn!("{}", source.describe());
//! }
//! let secrets = SecretPolicy::new(SecretPolicy::password_fields_of_manifest(manifest)?);
//! let cache = TenantCache::new(source, plans, secrets, config);
//! # let _ = cache; Ok(()) }
//! ```
//!
//! Then `/rate` calls `cache.get(header).await`, `/_app/start` calls `cache.warm(header)` and
//! answers at once, `/_app/stop` calls `cache.forget(header)`. [`TenantError::code`] and
//! [`TenantError::retry_after`] give the error body and `Retry-After` header.
//!
//! Architecture invariant: no key, token or secret setting appears in an error's `Display`,
//! a `Debug` output or a log line; logs name tenants by [`KeyHash`].

mod cache;
mod client;
mod config;
mod key;
mod local;
mod mapping;
mod model;
mod secret;
mod source;
mod state;
mod stats;

use std::time::Duration;

pub use cache::TenantCache;
pub use client::StateClient;
pub use config::{
    BadVar, CacheConfig, ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_ERROR_BACKOFF,
    DEFAULT_MAX_BYTES, DEFAULT_MAX_TENANTS, DEFAULT_NEGATIVE_TTL, DEFAULT_STALE_IF_ERROR,
    DEFAULT_TIMEOUT, DEFAULT_TTL, ENV_CONNECT_TIMEOUT_MS, ENV_ERROR_BACKOFF_MS, ENV_HELP,
    ENV_MAX_BYTES, ENV_MAX_TENANTS, ENV_NEGATIVE_TTL_SECS, ENV_STALE_IF_ERROR_SECS, ENV_TIMEOUT_MS,
    ENV_TTL_SECS, TenantConfigError,
};
pub use key::{KeyError, KeyHash, MAX_KEY_BYTES, TenantKey, join_url};
pub use local::{LocalState, LocalStateError};
pub use mapping::{POLICYHOLDERS, PathError, source_of_path};
pub use model::{
    PLAN_SHA256_SETTING, PLAN_TOKEN_SETTING, PLAN_URL_SETTING, RATE_PLAN_SETTING, SettingValue,
    Settings, Tenant,
};
pub use secret::{ManifestError, REDACTED, Secret, SecretPolicy};
pub use source::{
    DEFAULT_LOCAL_STATE, DEMO_KEY, ENV_LOCAL_STATE, ENV_STATE_API, FetchError, FetchFuture,
    FetchState, StateSource, UpstreamError,
};
pub use state::{MalformedState, RawMapping, StateDoc};
pub use stats::{CacheStats, StatsSnapshot};

/// Why a request's tenant cannot be had. `Display` never holds the key or a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// No `x-smp-key` header (and no local demo tenant).
    #[error("the x-smp-key header is missing")]
    MissingKey,
    /// The key cannot be a key (empty, too long, white space or control characters).
    #[error("the x-smp-key header is not a valid key")]
    InvalidKey,
    /// The State API does not know the key.
    #[error("the x-smp-key is not known")]
    UnknownKey,
    /// The State API is failing and nothing usable is cached.
    #[error("tenant state is unavailable: {reason}")]
    Unavailable {
        /// What failed (never the key or a token).
        reason: String,
        /// When to try again: whole seconds, at least one (ready for `Retry-After`).
        retry_after: Duration,
    },
}

impl TenantError {
    /// A stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            TenantError::MissingKey => "missing_key",
            TenantError::InvalidKey => "invalid_key",
            TenantError::UnknownKey => "unknown_key",
            TenantError::Unavailable { .. } => "tenant_unavailable",
        }
    }

    /// The `Retry-After` for [`TenantError::Unavailable`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TenantError::Unavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}
