//! Criterion benchmarks of parsing alone, on real Socotra requests (12 KB, 36 KB) and a
//! 54 KB one grown from the 36 KB request (`loadtest/fixtures/`, more `modifications`):
//!
//! - `serde_json_typed`: the baseline, `serde_json::from_slice` into the same borrowed
//!   types (`wire::request::RateRequest`) the old serde path used.
//! - `simd_json_serde_typed`: simd-json's serde path into those types (tape, then serde).
//! - `simd_json_tape`: simd-json's tape alone (stage 1 + stage 2), reused buffers.
//! - `payload_unpruned`: simd-json's tape of the whole body, indexed
//!   (`wire::payload::Payload::with_unpruned`): the hot path before pruning.
//! - `payload`: the rater's payload path (`wire::payload::Payload::with`): the body pruned
//!   to what rating reads, then simd-json's tape of that, indexed. What `price_request`
//!   runs before rating.
//!
//! - `structure_alone`, `prune_alone`: the pruner's parts alone (the SIMD structure pass
//!   over the whole body, `wire::structure::index`, a floor for any reader that checks
//!   where strings end; and the whole pruning pass, that and the walk).
//!
//! The variants that read the body where it lies (`serde_json_typed`, the rater's own) are
//! given it as it is, as the service gives them the request buffer. simd-json's in-place
//! variants rewrite their input, so each of their iterations first copies the body into a
//! work buffer; `copy_alone` times that copy, to subtract. (Until 2026-12-01 every variant
//! copied, the same cost on all sides; that added about 0.7 µs to both sides of the 36 KB
//! comparison, which hid part of the ratio. docs/PERFORMANCE.md has both figures.)
//! Throughput is in bytes: divide the body size by the time for requests/s per core.
//!
//! Run: `cargo bench --bench parse`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rater::wire::payload::Payload;
use rater::wire::request::RateRequest;

/// The Socotra fixtures, as the tests find them: `$SOCOTRA_FIXTURES`, else the repository's copy.
fn fixtures() -> PathBuf {
    match std::env::var_os("SOCOTRA_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/socotra"),
    }
}

fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let f = fixtures();
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    vec![
        (
            "newbusiness2-12KB",
            read(f.join("rating-ec/ec-rating-request-newbusiness2.json")),
        ),
        (
            "endorsement1-36KB",
            read(f.join("rating-ec/ec-rating-request-endorsement1.json")),
        ),
        (
            "endorsement1-54KB",
            read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("loadtest/fixtures/endorsement1-54KB.json"),
            ),
        ),
    ]
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, body) in requests() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        let mut work = body.clone();
        group.bench_with_input(BenchmarkId::new("copy_alone", name), &body, |b, body| {
            b.iter(|| {
                work.copy_from_slice(body);
                std::hint::black_box(&work);
            })
        });
        group.bench_with_input(
            BenchmarkId::new("serde_json_typed", name),
            &body,
            |b, body| {
                b.iter(|| {
                    let req: RateRequest<'_> = serde_json::from_slice(body).unwrap();
                    std::hint::black_box(&req);
                })
            },
        );
        let mut buffers = simd_json::Buffers::new(body.len());
        group.bench_with_input(
            BenchmarkId::new("simd_json_serde_typed", name),
            &body,
            |b, body| {
                b.iter(|| {
                    work.copy_from_slice(body);
                    let req: RateRequest<'_> =
                        simd_json::serde::from_slice_with_buffers(&mut work, &mut buffers).unwrap();
                    std::hint::black_box(&req);
                })
            },
        );
        let mut tape = simd_json::Tape::null().reset();
        group.bench_with_input(
            BenchmarkId::new("simd_json_tape", name),
            &body,
            |b, body| {
                b.iter(|| {
                    work.copy_from_slice(body);
                    let mut t = std::mem::replace(&mut tape, simd_json::Tape::null()).reset();
                    simd_json::fill_tape(&mut work, &mut buffers, &mut t).unwrap();
                    std::hint::black_box(&t);
                    tape = t.reset();
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("payload_unpruned", name),
            &body,
            |b, body| {
                b.iter(|| {
                    Payload::with_unpruned(body, |p| {
                        std::hint::black_box(p.unwrap());
                    });
                })
            },
        );
        let mut blocks = Vec::new();
        group.bench_with_input(
            BenchmarkId::new("structure_alone", name),
            &body,
            |b, body| {
                b.iter(|| {
                    rater::wire::structure::index(body, &mut blocks).unwrap();
                    std::hint::black_box(&blocks);
                })
            },
        );
        let mut pruned = Vec::with_capacity(body.len());
        group.bench_with_input(BenchmarkId::new("prune_alone", name), &body, |b, body| {
            b.iter(|| {
                rater::wire::prune::prune(body, &mut pruned, &mut blocks).unwrap();
                std::hint::black_box(&pruned);
            })
        });
        group.bench_with_input(BenchmarkId::new("payload", name), &body, |b, body| {
            b.iter(|| {
                Payload::with(body, |p| {
                    std::hint::black_box(p.unwrap());
                });
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
