//! Local tenant state for development and demos: a JSON file mapping keys to state objects
//! of the State API's shape, used when `SMP_STATE_API` is unset.
//!
//! The file is read and checked once, at start-up, so a typo fails loudly before the port
//! is bound instead of on the first request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::key::{KeyError, TenantKey, validate};
use super::source::FetchError;
use super::state::{MalformedState, StateDoc};

/// Why the local state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LocalStateError {
    /// The file cannot be read.
    #[error("cannot read local tenant state {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a JSON object.
    #[error("local tenant state {} is not a JSON object of key -> state (line {line}, column {column})", path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// One key is not a valid key.
    #[error("local tenant state {}: key `{key}` is not a valid key: {error}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// The key (it is a local, made-up key, so naming it helps).
        key: String,
        /// Why.
        error: KeyError,
    },
    /// One tenant's state is malformed.
    #[error("local tenant state {}: tenant `{key}`: {error}", path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why.
        error: MalformedState,
    },
}

/// Tenants from the local state file.
#[derive(Debug, Clone)]
pub struct LocalState {
    path: PathBuf,
    tenants: HashMap<Box<str>, StateDoc>,
}

impl LocalState {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<LocalState, LocalStateError> {
        let text = std::fs::read(path).map_err(|source| LocalStateError::Read {
            path: path.to_owned(),
            source,
        })?;
        LocalState::from_json(path, &text)
    }

    /// Checks file contents; `path` is only for messages.
    pub fn from_json(path: &Path, text: &[u8]) -> Result<LocalState, LocalStateError> {
        let all: serde_json::Map<String, Value> =
            serde_json::from_slice(text).map_err(|e| LocalStateError::NotJson {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
            })?;
        let mut tenants = HashMap::with_capacity(all.len());
        for (key, state) in all {
            if let Err(error) = validate(&key) {
                return Err(LocalStateError::BadKey {
                    path: path.to_owned(),
                    key,
                    error,
                });
            }
            let doc = StateDoc::from_value(state).map_err(|error| LocalStateError::BadState {
                path: path.to_owned(),
                key: key.clone(),
                error,
            })?;
            tenants.insert(key.into_boxed_str(), doc);
        }
        Ok(LocalState {
            path: path.to_owned(),
            tenants,
        })
    }

    /// The file the tenants came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many tenants the file holds.
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// Whether the file holds none.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    /// The state for `key`, as the State API would answer it.
    pub fn get(&self, key: &TenantKey) -> Result<StateDoc, FetchError> {
        self.tenants
            .get(key.as_str())
            .cloned()
            .ok_or(FetchError::UnknownKey)
    }
}
