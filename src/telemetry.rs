//! Telemetry that is not HTTP-specific: the tracing subscriber (text or JSON lines), the
//! short tenant key hash that log lines carry instead of the key, and [`CacheMetrics`],
//! the counters the tenant cache fills and `/metrics` renders.
//!
//! Nothing here ever sees a body, a token or a setting value.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::config::LogFormat;

/// Installs the global tracing subscriber. `RUST_LOG` filters (default `info`). Does nothing
/// if a subscriber is already installed (tests).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The first 8 hex digits of the FNV-1a 64 hash of a tenant key: enough to tell tenants
/// apart in logs, useless to call the State API with.
///
/// `Copy` and formatted straight into the log line: no allocation per request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(Option<u32>);

impl KeyHash {
    /// The hash of `key`, or the "no key" marker.
    pub fn of(key: Option<&[u8]>) -> KeyHash {
        KeyHash(key.map(|k| (fnv1a64(k) >> 32) as u32))
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, "{h:08x}"),
            None => f.write_str("-"),
        }
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// FNV-1a, 64 bits: stable across processes and releases (unlike `std`'s `RandomState`), so
/// the same tenant has the same hash in every log line of every instance.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Upper bounds of latency histogram buckets, in microseconds (`+Inf` is implied).
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];

/// A latency histogram of relaxed atomics: recording is a few uncontended `fetch_add`s, no
/// lock, no allocation. Buckets are stored non-cumulative and summed when rendered.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = LATENCY_BUCKETS_US.partition_point(|&b| b < us);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (either
    /// empty or `k="v",...` without braces).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        use std::fmt::Write;
        let sep = if labels.is_empty() { "" } else { "," };
        let mut acc = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            acc += b.load(Relaxed);
            match LATENCY_BUCKETS_US.get(i) {
                Some(&le) => {
                    let le = le as f64 / 1e6;
                    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {acc}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {acc}");
                }
            }
        }
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {acc}", braces(labels));
    }
}

/// What the tenant cache reports. The cache owns an `Arc` of this and calls the `record_*`
/// methods; `/metrics` renders it. Counters only, so nothing here can hold a tenant key.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    upstream_errors: AtomicU64,
    upstream_latency: Histogram,
}

impl CacheMetrics {
    /// A request found a fresh tenant.
    pub fn record_hit(&self) {
        self.hits.fetch_add(1, Relaxed);
    }
    /// A request had to wait for the State API.
    pub fn record_miss(&self) {
        self.misses.fetch_add(1, Relaxed);
    }
    /// A request was answered from a stale entry (the State API failing or refreshing).
    pub fn record_stale(&self) {
        self.stale.fetch_add(1, Relaxed);
    }
    /// One State API call finished, successfully or not.
    pub fn record_upstream(&self, latency: Duration, ok: bool) {
        self.upstream_latency.record(latency);
        if !ok {
            self.upstream_errors.fetch_add(1, Relaxed);
        }
    }

    /// Writes the Prometheus text lines.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        for (name, help, v) in [
            (
                "rater_tenant_cache_hits_total",
                "Tenant lookups answered from a fresh cache entry.",
                &self.hits,
            ),
            (
                "rater_tenant_cache_misses_total",
                "Tenant lookups that waited for the State API.",
                &self.misses,
            ),
            (
                "rater_tenant_cache_stale_total",
                "Tenant lookups answered from a stale entry.",
                &self.stale,
            ),
            (
                "rater_state_api_errors_total",
                "State API calls that failed.",
                &self.upstream_errors,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        let name = "rater_state_api_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} State API call latency.\n# TYPE {name} histogram"
        );
        self.upstream_latency.render(out, name, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_values() {
        // Reference values of the FNV-1a 64 specification.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(KeyHash::of(Some(b"a")).to_string(), "af63dc4c");
        assert_eq!(KeyHash::of(None).to_string(), "-");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_micros(300));
        h.record(Duration::from_secs(60));
        let mut s = String::new();
        h.render(&mut s, "x", "a=\"b\"");
        assert!(s.contains("x_bucket{a=\"b\",le=\"0.0001\"} 1"), "{s}");
        assert!(s.contains("x_bucket{a=\"b\",le=\"0.0005\"} 2"), "{s}");
        assert!(s.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3"), "{s}");
        assert!(s.contains("x_count{a=\"b\"} 3"), "{s}");
        assert_eq!(h.count(), 3);
    }
}
