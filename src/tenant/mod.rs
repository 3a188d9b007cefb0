//! Tenant state: who the caller is (by `x-smp-key`), their settings and product mappings,
//! resolved once into a ready [`Tenant`], cached and refreshed in the background.

use std::sync::Arc;
use std::time::Duration;

use crate::plan::Selector;

/// A tenant's state, resolved against the loaded plans. Shared read-only by requests.
#[derive(Debug)]
pub struct Tenant {
    /// Which plan prices which product for this tenant.
    pub selector: Selector,
}

/// Why a request's tenant cannot be had.
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
        /// When to try again.
        retry_after: Duration,
    },
}

/// The cache of resolved tenants.
#[derive(Debug)]
pub struct TenantCache {}

impl TenantCache {
    /// The tenant for a request's key.
    pub async fn get(&self, key: Option<&str>) -> Result<Arc<Tenant>, TenantError> {
        let _ = key;
        Err(TenantError::MissingKey)
    }
}
