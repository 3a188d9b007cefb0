//! Large tables: loading a plan whose tables have 20,000 rows (a ZIP-level territory table,
//! exact keys and longest prefixes), and one lookup in each, through the public plan API.
//!
//! Run: `cargo bench --bench tables`. The plan is written to a temporary folder first.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rater::plan::{Selector, load_plan};
use rater::pricing::{PriceOptions, price_request};

const ROWS: usize = 20_000;

/// A plan with a 20,000-row exact table (5-digit ZIPs) and a 20,000-row prefix table (ZIPs
/// and 3-digit areas), both keyed by the policy's `zip`.
fn plan_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-bench-tables-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut exact = String::from("zip,factor\r\n");
    let mut prefix = String::from("zip_prefix,territory\r\n");
    for i in 0..ROWS {
        let _ = write!(exact, "{:05},1.{:04}\r\n", i * 3, i % 10_000);
        // 1,000 3-digit areas and 19,000 single ZIPs overriding them.
        if i < 1_000 {
            let _ = write!(prefix, "{i:03},{}\r\n", i % 40);
        } else {
            let _ = write!(prefix, "{:05},{}\r\n", (i - 1_000) * 5, i % 40);
        }
    }
    std::fs::write(dir.join("zip_factor.csv"), exact).unwrap();
    std::fs::write(dir.join("territory.csv"), prefix).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        r#"
[plan]
version = "1"
product = "auto"
effective_from = "2024-01-01"

[inputs.zip]
level = "policy"
type = "text"

[tables.zip_factor]
file = "zip_factor.csv"
keys = [{ input = "zip", column = "zip" }]
value = "factor"

[tables.territory]
file = "territory.csv"
keys = [{ input = "zip", prefix = "zip_prefix" }]
value = "territory"

[perils.theft]
premium = "round(100 * zip_factor * (1 + territory / 100), 0.01)"
"#,
    )
    .unwrap();
    dir
}

fn request() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "tenantTimeZone": "UTC",
        "policyExposurePerils": [{ "perilCharacteristicsLocator": "p" }],
        "policy": {
            "productName": "auto",
            "originalContractStartTimestamp": "1704067200000",
            "characteristics": [{
                "locator": "pc",
                "policyStartTimestamp": "1704067200000",
                "fieldValues": { "zip": ["44445"] }
            }],
            "exposures": [{
                "name": "car",
                "characteristics": [{ "locator": "ec" }],
                "perils": [{ "name": "theft", "characteristics": [{ "locator": "p" }] }]
            }]
        }
    }))
    .unwrap()
}

fn tables(c: &mut Criterion) {
    let dir = plan_dir();
    let mut group = c.benchmark_group("tables");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    group.bench_function("load_plan/2x20000-rows", |b| {
        b.iter(|| std::hint::black_box(load_plan(&dir).unwrap()))
    });
    let plan = Arc::new(load_plan(&dir).unwrap());
    assert_eq!(plan.tables()[0].rows() + plan.tables()[1].rows(), 2 * ROWS);
    let selector = Selector::fixed(plan);
    let body = request();
    let mut out = Vec::with_capacity(1024);
    group.bench_function("price_request/exact-and-prefix-of-20000", |b| {
        b.iter(|| {
            out.clear();
            price_request(&selector, &body, &mut out, PriceOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            std::hint::black_box(&out);
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, tables);
criterion_main!(benches);
