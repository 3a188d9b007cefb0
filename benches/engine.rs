//! Criterion benchmarks of the rating path, on real Socotra requests:
//!
//! - `engine/*`: the engine alone pricing every requested peril characteristic of a request
//!   with a loaded plan (the request already parsed); reported per peril characteristic.
//! - `price_request/*`: the whole in-process path, body bytes in, response bytes out
//!   (simd-json parse in place, plan selection, rating, response writing).
//! - `warm_tenant/*`: the same, with the tenant taken from a warm `TenantCache` first (a
//!   dashmap hit and an `Arc` clone, as the HTTP handler does per request), on a
//!   current-thread tokio runtime.
//!
//! Throughput of `price_request` and `warm_tenant` is in bytes of request body; requests/s
//! per core is 1 / time per iteration. Run: `cargo bench --bench engine`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rater::engine::{NoTrace, PolicyPeriod, rate};
use rater::plan::{BoundPlan, Selector, load_plan};
use rater::pricing::{PriceOptions, price_request};
use rater::tenant::{
    CacheConfig, FetchFuture, FetchState, SecretPolicy, StateDoc, TenantCache, TenantKey,
};
use rater::wire::payload::Payload;

/// The Socotra fixtures, as the tests find them: `$SOCOTRA_FIXTURES`, else the repository's copy.
fn fixtures() -> PathBuf {
    match std::env::var_os("SOCOTRA_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/socotra"),
    }
}

fn plan(id: &str) -> Arc<rater::plan::Plan> {
    Arc::new(
        load_plan(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("rating-tables")
                .join(id),
        )
        .unwrap(),
    )
}

/// The requests benchmarked: the largest EC request, and the largest variant both plans price.
fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let f = fixtures();
    vec![
        (
            "endorsement1-36KB",
            std::fs::read(f.join("rating-ec/ec-rating-request-endorsement1.json")).unwrap(),
        ),
        (
            "newbusiness2-12KB",
            std::fs::read(f.join("rating-ec/ec-rating-request-newbusiness2.json")).unwrap(),
        ),
        (
            "variant007-24KB",
            std::fs::read(f.join("rating-variants/007.request.json")).unwrap(),
        ),
        (
            "endorsement1-54KB",
            std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("loadtest/fixtures/endorsement1-54KB.json"),
            )
            .unwrap(),
        ),
    ]
}

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for plan_id in ["personal-auto", "socotra-reference"] {
        let bound = BoundPlan::unbound(plan(plan_id));
        for (name, body) in requests() {
            // The production input source: peril views over the indexed tape.
            Payload::with(&body, |req| {
                let req = req.unwrap();
                let tz = jiff::tz::db().get(req.tenant_time_zone().unwrap()).unwrap();
                let anchor_ms = req
                    .original_contract_start_timestamp()
                    .and_then(|s| s.parse().ok());
                let schedule = req.payment_schedule_name();
                let views: Vec<_> = req
                    .triplets()
                    .unwrap()
                    .map(|t| req.resolve(t.peril.unwrap(), t.exposure, t.policy).unwrap())
                    .collect();
                group.throughput(Throughput::Elements(views.len() as u64));
                group.bench_with_input(BenchmarkId::new(plan_id, name), &views, |b, views| {
                    b.iter(|| {
                        // A fresh period per iteration, as per request: its memo of the
                        // last measured period must not carry over between iterations.
                        let period = PolicyPeriod::new(&tz, anchor_ms, schedule);
                        for v in views {
                            let peril = v.peril_name().unwrap();
                            std::hint::black_box(
                                rate(&bound, peril, v, &period, &mut NoTrace).unwrap(),
                            );
                        }
                    })
                });
            });
        }
    }
    group.finish();
}

fn whole_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("price_request");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for plan_id in ["personal-auto", "socotra-reference"] {
        let selector = Selector::fixed(plan(plan_id));
        for (name, body) in requests() {
            group.throughput(Throughput::Bytes(body.len() as u64));
            let mut out = Vec::with_capacity(4096);
            group.bench_with_input(BenchmarkId::new(plan_id, name), &body, |b, body| {
                b.iter(|| {
                    // The body is only read (the server passes hyper's buffer as it came), so
                    // no iteration copies it.
                    out.clear();
                    price_request(&selector, body, &mut out, PriceOptions::default()).unwrap();
                    std::hint::black_box(&out);
                })
            });
        }
    }
    group.finish();
}

/// A state source answering every key with the same state: the bench measures cache hits.
struct OneState(StateDoc);

impl FetchState for OneState {
    fn fetch<'a>(&'a self, _key: &'a TenantKey) -> FetchFuture<'a> {
        let doc = self.0.clone();
        Box::pin(async move { Ok(doc) })
    }
}

fn warm_tenant(c: &mut Criterion) {
    let mut group = c.benchmark_group("warm_tenant");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let plans = rater::plan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables"))
        .unwrap();
    for plan_id in ["personal-auto", "socotra-reference"] {
        let doc = StateDoc::from_value(serde_json::json!({
            "socotraApiUrl": "http://127.0.0.1:9",
            "tenantHostName": "bench.local",
            "token": "t",
            "settings": { "ratePlan": plan_id }
        }))
        .unwrap();
        let cache = TenantCache::new(
            OneState(doc),
            Arc::new(plans.clone()),
            SecretPolicy::new(Vec::<String>::new()),
            CacheConfig::from_lookup(|_| None).unwrap(),
        );
        // Warm: the first get fetches and resolves the tenant.
        rt.block_on(cache.get(Some("bench-tenant"))).unwrap();
        for (name, body) in requests() {
            group.throughput(Throughput::Bytes(body.len() as u64));
            let mut out = Vec::with_capacity(4096);
            group.bench_with_input(BenchmarkId::new(plan_id, name), &body, |b, body| {
                b.iter(|| {
                    let tenant = rt.block_on(cache.get(Some("bench-tenant"))).unwrap();
                    out.clear();
                    price_request(&tenant.selector, body, &mut out, PriceOptions::default())
                        .unwrap();
                    std::hint::black_box(&out);
                })
            });
        }
    }
    group.finish();
}

/// acme-auto (field groups, dates, a prefix table, a matrix, interpolation, named values) on
/// its largest example, priced as a tenant with no `ratePlan` prices it: the edition chosen
/// by each priced policy characteristic's term start.
fn acme(c: &mut Criterion) {
    let mut group = c.benchmark_group("price_request");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let plans = rater::plan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables"))
        .unwrap();
    let selector = Selector::resolve(&plans, None, &[]);
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rating-tables/acme-auto-2026-01/tests/005.request.json"),
    )
    .unwrap();
    group.throughput(Throughput::Bytes(body.len() as u64));
    let mut out = Vec::with_capacity(4096);
    group.bench_with_input(
        BenchmarkId::new("acme-auto", "005-20KB"),
        &body,
        |b, body| {
            b.iter(|| {
                out.clear();
                price_request(&selector, body, &mut out, PriceOptions::default()).unwrap();
                std::hint::black_box(&out);
            })
        },
    );
    group.finish();
}

criterion_group!(benches, engine, whole_request, warm_tenant, acme);
criterion_main!(benches);
