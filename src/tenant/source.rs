//! Where tenant state comes from: the [`FetchState`] boundary the cache calls, its typed
//! [`FetchError`], and [`StateSource`], which picks the State API or the local state file
//! from the environment.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use super::client::StateClient;
use super::config::{ClientConfig, TenantConfigError};
use super::key::TenantKey;
use super::local::LocalState;
use super::state::{MalformedState, StateDoc};

/// The State API base URL; unset means local mode.
pub const ENV_STATE_API: &str = "SMP_STATE_API";
/// The local state file (local mode only).
pub const ENV_LOCAL_STATE: &str = "RATER_LOCAL_STATE";
/// The local state file when [`ENV_LOCAL_STATE`] is unset, relative to the working directory.
pub const DEFAULT_LOCAL_STATE: &str = "rating-tables/tenants.local.json";
/// The key requests without `x-smp-key` use, in local mode only.
pub const DEMO_KEY: &str = "demo";

/// Why state could not be fetched. `Display` never holds the key or a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The State API answered 404: it does not know the key.
    #[error("the State API does not know the key")]
    UnknownKey,
    /// The State API failed (5xx, other status, timeout, refused connection).
    #[error("the State API failed: {0}")]
    Upstream(#[from] UpstreamError),
    /// The State API answered something that is not state.
    #[error("the State API answered malformed state: {0}")]
    Malformed(#[from] MalformedState),
}

/// How the State API failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Our connect or total timeout fired.
    #[error("timed out")]
    Timeout,
    /// No connection could be made.
    #[error("cannot connect")]
    Connect,
    /// An HTTP status other than success or 404.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// Anything else on the way (reset connection, bad HTTP).
    #[error("transport error")]
    Transport,
}

/// A boxed fetch future: the cache holds its source as a trait object, and one allocation
/// per upstream call is nothing next to the call.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<StateDoc, FetchError>> + Send + 'a>>;

/// Something that fetches one tenant's state. Implemented by [`StateSource`]; tests can plug
/// in their own.
pub trait FetchState: Send + Sync + 'static {
    /// Fetches the state for `key`.
    fn fetch<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a>;

    /// The key for requests that carry none, if this source has a default tenant.
    fn default_key(&self) -> Option<&str> {
        None
    }
}

/// The configured source of tenant state.
#[derive(Debug)]
pub enum StateSource {
    /// `SMP_STATE_API` is set: the platform's State API.
    Remote(StateClient),
    /// `SMP_STATE_API` is unset: the local state file, with a `demo` default tenant.
    Local(LocalState),
}

impl StateSource {
    /// Picks the source from the environment: the State API when `SMP_STATE_API` is set
    /// (set but empty is an error), else the local file (`RATER_LOCAL_STATE`, default [`DEFAULT_LOCAL_STATE`]), loaded and
    /// checked now so a bad file fails start-up.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        client: &ClientConfig,
    ) -> Result<StateSource, TenantConfigError> {
        match lookup(ENV_STATE_API) {
            // Set but empty is a broken deployment, not a request for local mode: falling
            // back to the demo tenant there would answer real traffic with demo state.
            Some(base) if base.trim().is_empty() => Err(TenantConfigError::StateApiUrl {
                url: base,
                reason: "it is set but empty (unset it for local mode)",
            }),
            Some(base) => Ok(StateSource::Remote(StateClient::new(base.trim(), client)?)),
            None => {
                let path = lookup(ENV_LOCAL_STATE)
                    .filter(|v| !v.trim().is_empty())
                    .map_or_else(|| PathBuf::from(DEFAULT_LOCAL_STATE), PathBuf::from);
                Ok(StateSource::Local(LocalState::load(&path)?))
            }
        }
    }

    /// Whether tenants come from the local file; the server should say so loudly at start.
    pub fn is_local(&self) -> bool {
        matches!(self, StateSource::Local(_))
    }

    /// A one-line description for the start-up log (the URL or file, never a key).
    pub fn describe(&self) -> String {
        match self {
            StateSource::Remote(c) => format!("State API at {}", c.base()),
            StateSource::Local(l) => format!(
                "LOCAL tenant state from {} ({} tenants; requests without x-smp-key use `{DEMO_KEY}`)",
                l.path().display(),
                l.len()
            ),
        }
    }
}

impl FetchState for StateSource {
    fn fetch<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a> {
        match self {
            StateSource::Remote(c) => c.fetch_state(key),
            StateSource::Local(l) => l.fetch(key),
        }
    }

    fn default_key(&self) -> Option<&str> {
        match self {
            StateSource::Remote(_) => None,
            StateSource::Local(_) => Some(DEMO_KEY),
        }
    }
}

impl FetchState for StateClient {
    fn fetch<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a> {
        self.fetch_state(key)
    }
}

impl StateClient {
    fn fetch_state<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a> {
        Box::pin(StateClient::fetch(self, key))
    }
}

impl FetchState for LocalState {
    fn fetch<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a> {
        let state = self.get(key);
        Box::pin(async move { state })
    }

    fn default_key(&self) -> Option<&str> {
        Some(DEMO_KEY)
    }
}

/// A shared source: the server keeps its configured source in an `Arc` so the cache can be
/// built once plans are loaded (and rebuilt by tests) without re-reading the environment.
impl<T: FetchState> FetchState for std::sync::Arc<T> {
    fn fetch<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a> {
        (**self).fetch(key)
    }

    fn default_key(&self) -> Option<&str> {
        (**self).default_key()
    }
}
