//! The tenant cache's counters, plain atomics the metrics endpoint reads without locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start. All `Relaxed`: they are statistics, not synchronisation.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Requests answered from fresh cached state.
    pub hits: AtomicU64,
    /// Requests answered from stale state (a refresh is or was under way).
    pub stale_served: AtomicU64,
    /// Requests that waited for a fetch (the one that started it and all that joined it).
    pub misses: AtomicU64,
    /// Requests answered "unknown key" from the negative cache, without a call.
    pub negative_hits: AtomicU64,
    /// Requests answered "unavailable".
    pub unavailable: AtomicU64,
    /// Calls to the State API (first fetches and refreshes).
    pub upstream_calls: AtomicU64,
    /// Calls that failed (upstream failure or malformed answer; not 404).
    pub upstream_errors: AtomicU64,
    /// Calls answered 404.
    pub upstream_unknown: AtomicU64,
    /// Sum of call latencies, microseconds (with `upstream_latency_count`, the mean).
    pub upstream_latency_us_sum: AtomicU64,
    /// Calls whose latency is in the sum.
    pub upstream_latency_count: AtomicU64,
    /// Background refreshes started.
    pub refreshes: AtomicU64,
    /// Entries evicted to stay under the bound.
    pub evictions: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`CacheStats::hits`].
    pub hits: u64,
    /// See [`CacheStats::stale_served`].
    pub stale_served: u64,
    /// See [`CacheStats::misses`].
    pub misses: u64,
    /// See [`CacheStats::negative_hits`].
    pub negative_hits: u64,
    /// See [`CacheStats::unavailable`].
    pub unavailable: u64,
    /// See [`CacheStats::upstream_calls`].
    pub upstream_calls: u64,
    /// See [`CacheStats::upstream_errors`].
    pub upstream_errors: u64,
    /// See [`CacheStats::upstream_unknown`].
    pub upstream_unknown: u64,
    /// See [`CacheStats::upstream_latency_us_sum`].
    pub upstream_latency_us_sum: u64,
    /// See [`CacheStats::upstream_latency_count`].
    pub upstream_latency_count: u64,
    /// See [`CacheStats::refreshes`].
    pub refreshes: u64,
    /// See [`CacheStats::evictions`].
    pub evictions: u64,
}

impl CacheStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            hits: r(&self.hits),
            stale_served: r(&self.stale_served),
            misses: r(&self.misses),
            negative_hits: r(&self.negative_hits),
            unavailable: r(&self.unavailable),
            upstream_calls: r(&self.upstream_calls),
            upstream_errors: r(&self.upstream_errors),
            upstream_unknown: r(&self.upstream_unknown),
            upstream_latency_us_sum: r(&self.upstream_latency_us_sum),
            upstream_latency_count: r(&self.upstream_latency_count),
            refreshes: r(&self.refreshes),
            evictions: r(&self.evictions),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
