//! Criterion benchmarks of the rating path, on real Socotra requests:
//!
//! - `engine/*`: the engine alone pricing every requested peril characteristic of a request
//!   with a loaded plan (the request already parsed); reported per peril characteristic.
//! - `price_request/*`: the whole in-process path, body bytes in, response bytes out
//!   (simd-json parse in place, plan selection, rating, response writing).
//!
//! Run: `cargo bench --bench engine`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rater::engine::{NoTrace, PolicyPeriod, rate};
use rater::plan::{BoundPlan, Selector, load_plan};
use rater::pricing::{PriceOptions, price_request};
use rater::wire::request::RateRequest;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/socotra/fixtures")
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
    ]
}

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    for plan_id in ["personal-auto", "socotra-reference"] {
        let bound = BoundPlan::unbound(plan(plan_id));
        for (name, body) in requests() {
            let mut body = body.clone();
            let req: RateRequest<'_> = simd_json::serde::from_slice(&mut body).unwrap();
            let policy = req.policy.as_ref().unwrap();
            let tz = jiff::tz::db()
                .get(req.tenant_time_zone.as_deref().unwrap())
                .unwrap();
            let period = PolicyPeriod {
                time_zone: &tz,
                anchor_ms: policy
                    .original_contract_start_timestamp
                    .as_deref()
                    .and_then(|s| s.parse().ok()),
                payment_schedule: policy.payment_schedule_name.as_deref(),
            };
            let views: Vec<_> = req
                .policy_exposure_perils
                .as_ref()
                .unwrap()
                .iter()
                .map(|t| {
                    policy
                        .resolve(
                            t.peril_characteristics_locator.as_deref().unwrap(),
                            t.exposure_characteristics_locator.as_deref(),
                            t.policy_characteristics_locator.as_deref(),
                        )
                        .unwrap()
                })
                .collect();
            group.throughput(Throughput::Elements(views.len() as u64));
            group.bench_with_input(BenchmarkId::new(plan_id, name), &views, |b, views| {
                b.iter(|| {
                    for v in views {
                        let peril = v.peril.name.as_deref().unwrap();
                        std::hint::black_box(
                            rate(&bound, peril, v, &period, &mut NoTrace).unwrap(),
                        );
                    }
                })
            });
        }
    }
    group.finish();
}

fn whole_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("price_request");
    for plan_id in ["personal-auto", "socotra-reference"] {
        let selector = Selector::fixed(plan(plan_id));
        for (name, body) in requests() {
            group.throughput(Throughput::Bytes(body.len() as u64));
            let mut work = body.clone();
            let mut out = Vec::with_capacity(4096);
            group.bench_with_input(BenchmarkId::new(plan_id, name), &body, |b, body| {
                b.iter(|| {
                    // The parse rewrites the buffer in place, so each iteration starts from a
                    // fresh copy of the body (a memcpy, as the server's body read would be).
                    work.copy_from_slice(body);
                    out.clear();
                    price_request(&selector, &mut work, &mut out, PriceOptions::default()).unwrap();
                    std::hint::black_box(&out);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, engine, whole_request);
criterion_main!(benches);
