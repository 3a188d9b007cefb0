//! HTTP metrics: request counts and latency by route and status, error answers by code,
//! rendered as Prometheus text on `GET /metrics`.
//!
//! Why it is fast: every label set is known at compile time (routes, statuses, codes), so
//! counters are fixed arrays of relaxed atomics indexed by enum discriminant: recording is a
//! few uncontended `fetch_add`s, with no lock, no map lookup and no allocation. Rendering
//! allocates, but only when scraped.
//!
//! No label ever holds request data: no tenant key, path or header value.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::StatusCode;

use super::routes::Route;
use crate::telemetry::Histogram;
use crate::tenant::CacheStats;

/// Statuses the service answers; anything else is counted as `other`.
const STATUSES: [u16; 12] = [200, 204, 400, 401, 404, 405, 413, 415, 422, 431, 500, 503];
const N_STATUS: usize = STATUSES.len() + 1;

/// Error codes with their own counter; anything else is counted as `other`.
const CODES: [&str; 29] = [
    "malformed_json",
    "invalid_request",
    "invalid_body",
    "unknown_plan",
    "no_plan_for_product",
    "unknown_locator",
    "missing_input",
    "invalid_input",
    "unknown_table_key",
    "unknown_peril",
    "overflow",
    "invalid_period",
    "rating_panicked",
    "missing_key",
    "invalid_key",
    "duplicate_key",
    "unknown_key",
    "tenant_unavailable",
    "not_ready",
    "deadline_exceeded",
    "not_found",
    "method_not_allowed",
    "unsupported_media_type",
    "payload_too_large",
    "bad_content_length",
    "draining",
    "plan_bundle_unavailable",
    "plan_bundle_refused",
    "other",
];

fn status_index(status: StatusCode) -> usize {
    let s = status.as_u16();
    STATUSES
        .iter()
        .position(|&x| x == s)
        .unwrap_or(STATUSES.len())
}

/// The service's counters. One per process, shared by every runtime.
#[derive(Debug)]
pub struct Metrics {
    /// Latency per route and status; its count is the request count.
    latency: [[Histogram; N_STATUS]; Route::COUNT],
    /// Error answers per code (the JSON `error.code`).
    errors: [AtomicU64; CODES.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            latency: std::array::from_fn(|_| std::array::from_fn(|_| Histogram::default())),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn record(&self, route: Route, status: StatusCode, latency: Duration) {
        self.latency[route as usize][status_index(status)].record(latency);
    }

    /// Records one error answer by its code.
    pub fn record_error(&self, code: &str) {
        let i = CODES
            .iter()
            .position(|&c| c == code)
            .unwrap_or(CODES.len() - 1);
        self.errors[i].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition; `cache` adds the tenant cache's counters once it exists.
    pub fn render(&self, cache: Option<&CacheStats>) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let name = "rater_http_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests answered, by route and status.\n# TYPE {name} counter"
        );
        self.each_series(|route, status, h| {
            let _ = writeln!(
                out,
                "{name}{{route=\"{route}\",status=\"{status}\"}} {}",
                h.count()
            );
        });
        let name = "rater_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from request head to answer, by route and status.\n# TYPE {name} histogram"
        );
        let mut series = Vec::new();
        self.each_series(|route, status, h| series.push((route, status, h)));
        for (route, status, h) in series {
            h.render(
                &mut out,
                name,
                &format!("route=\"{route}\",status=\"{status}\""),
            );
        }
        let name = "rater_http_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Error answers, by error code (rating errors included).\n# TYPE {name} counter"
        );
        for (code, n) in CODES.iter().zip(&self.errors) {
            let n = n.load(Relaxed);
            if n > 0 {
                let _ = writeln!(out, "{name}{{code=\"{code}\"}} {n}");
            }
        }
        if let Some(cache) = cache {
            render_cache(&mut out, cache);
        }
        out
    }

    /// Calls `f` for every route and status that has been seen at least once.
    fn each_series<'a>(&'a self, mut f: impl FnMut(&'static str, &'static str, &'a Histogram)) {
        for route in Route::ALL {
            for (si, h) in self.latency[route as usize].iter().enumerate() {
                if h.count() == 0 {
                    continue;
                }
                let status = STATUS_LABELS.get(si).copied().unwrap_or("other");
                f(route.label(), status, h);
            }
        }
    }
}

const STATUS_LABELS: [&str; 12] = [
    "200", "204", "400", "401", "404", "405", "413", "415", "422", "431", "500", "503",
];

/// The tenant cache's counters and State API latency (as a Prometheus summary: sum and count).
/// Plan bundle counters (`src/bundle/cache.rs`): downloads, `304`s, activations, and
/// refusals by reason. No tenant or URL label: those would be request data.
pub fn render_bundles(out: &mut String, stats: &crate::bundle::BundleStats) {
    for (name, help, v) in [
        (
            "rater_plan_bundle_downloads_total",
            "Plan bundle bodies downloaded.",
            &stats.downloads,
        ),
        (
            "rater_plan_bundle_not_modified_total",
            "Plan bundle checks answered 304 Not Modified.",
            &stats.not_modified,
        ),
        (
            "rater_plan_bundle_activations_total",
            "Plan bundles that became active.",
            &stats.activations,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Relaxed)
        );
    }
    let name = "rater_plan_bundle_refusals_total";
    let _ = writeln!(
        out,
        "# HELP {name} Plan bundles refused or not downloaded, by reason.\n# TYPE {name} counter"
    );
    for (reason, n) in crate::bundle::REFUSAL_REASONS.iter().zip(&stats.refusals) {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {}", n.load(Relaxed));
    }
}

fn render_cache(out: &mut String, cache: &CacheStats) {
    let s = cache.snapshot();
    for (name, help, v) in [
        (
            "rater_tenant_cache_hits_total",
            "Tenant lookups answered from a fresh cache entry.",
            s.hits,
        ),
        (
            "rater_tenant_cache_misses_total",
            "Tenant lookups that waited for the State API.",
            s.misses,
        ),
        (
            "rater_tenant_cache_stale_total",
            "Tenant lookups answered from a stale entry.",
            s.stale_served,
        ),
        (
            "rater_tenant_cache_negative_hits_total",
            "Unknown keys answered from the negative cache.",
            s.negative_hits,
        ),
        (
            "rater_tenant_unavailable_total",
            "Tenant lookups answered unavailable (503).",
            s.unavailable,
        ),
        (
            "rater_tenant_cache_evictions_total",
            "Tenants evicted to stay under the bound.",
            s.evictions,
        ),
        (
            "rater_tenant_refreshes_total",
            "Background refreshes started.",
            s.refreshes,
        ),
        (
            "rater_state_api_calls_total",
            "State API calls.",
            s.upstream_calls,
        ),
        (
            "rater_state_api_errors_total",
            "State API calls that failed (not 404).",
            s.upstream_errors,
        ),
        (
            "rater_state_api_unknown_total",
            "State API calls answered 404.",
            s.upstream_unknown,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let name = "rater_state_api_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} State API call latency.\n# TYPE {name} summary"
    );
    let _ = writeln!(out, "{name}_sum {}", s.upstream_latency_us_sum as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {}", s.upstream_latency_count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_statuses() {
        for (s, l) in STATUSES.iter().zip(STATUS_LABELS) {
            assert_eq!(s.to_string(), l);
        }
    }

    #[test]
    fn renders_seen_series_only() {
        let m = Metrics::default();
        m.record(Route::Health, StatusCode::OK, Duration::from_micros(10));
        m.record(
            Route::Rate,
            StatusCode::IM_A_TEAPOT,
            Duration::from_micros(10),
        );
        m.record_error("missing_key");
        m.record_error("something new");
        let text = m.render(Some(&CacheStats::default()));
        assert!(text.contains("rater_http_requests_total{route=\"health\",status=\"200\"} 1"));
        assert!(text.contains("rater_http_requests_total{route=\"rate\",status=\"other\"} 1"));
        assert!(!text.contains("route=\"ready\""));
        assert!(text.contains("rater_http_errors_total{code=\"missing_key\"} 1"));
        assert!(text.contains("rater_http_errors_total{code=\"other\"} 1"));
        assert!(text.contains("rater_tenant_cache_hits_total 0"));
    }
}
