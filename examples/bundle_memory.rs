//! Memory of tenants' plan bundles: `BUNDLES` distinct bundles (default 50), each one plan
//! with a `ROWS`-row table (default 20,000), shared by `TENANTS` tenants (default 1,000),
//! loaded through the real path (`BundleCache` in local mode reading `.tar.gz` files, then
//! `Tenant::resolve` + `selector_for` per tenant). Prints RSS at each stage and the cost of
//! one table row.
//!
//! ```text
//! cargo run --release --example bundle_memory            # the figures in docs/PERFORMANCE.md
//! BUNDLES=10 ROWS=1000 cargo run --example bundle_memory # quick
//! ```
//!
//! It uses mimalloc, as the `rater` binary does, so RSS is the service's own behaviour.

use std::path::Path;
use std::sync::Arc;

use rater::bundle::fetch::{BundleFetcher, FetchConfig};
use rater::bundle::{BundleCache, BundleConfig};
use rater::tenant::{KeyHash, SecretPolicy, StateDoc, Tenant};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (bundles, rows, tenants) = (
        var("BUNDLES", 50),
        var("ROWS", 20_000),
        var("TENANTS", 1000),
    );
    let work = std::env::temp_dir().join(format!("rater-bundle-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    // The bundles: personal-auto with its `claims` table grown to `rows` distinct keys (and
    // distinct per bundle, so no two bundles share loaded plans).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for b in 0..bundles {
        let dir = work.join(format!("src-{b}")).join("personal-auto");
        copy_dir(&root.join("rating-tables/personal-auto"), &dir);
        let mut csv = String::from("key,value\n");
        for r in 0..rows {
            csv.push_str(&format!("claims-{b}-{r},1.{:02}\n", r % 100));
        }
        std::fs::write(dir.join("claims.csv"), csv).unwrap();
        let bytes = rater::bundle::build(&[dir]).unwrap();
        let file = work.join(format!("b{b}.tar.gz"));
        std::fs::write(&file, &bytes).unwrap();
        files.push(file);
    }
    let cache = BundleCache::new(
        BundleFetcher::new(FetchConfig::default()).unwrap(),
        BundleConfig {
            local_paths: true,
            ..BundleConfig::default()
        },
    );
    let before = rss_mib();
    let started = std::time::Instant::now();
    let mut tenants_v = Vec::with_capacity(tenants);
    for t in 0..tenants {
        let file = &files[t % bundles];
        let doc = StateDoc::from_json(
            serde_json::json!({ "settings": { "planUrl": file.display().to_string() } })
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let tenant = Tenant::resolve(
            KeyHash::of(&format!("tenant-{t}")),
            doc,
            &rater::plan::PlanSet::default(),
            &SecretPolicy::default(),
        );
        let source = tenant.plan_source.clone().unwrap();
        let active = cache.get(&source).await.unwrap();
        let selector = tenant.selector_for(&active);
        drop(selector);
        tenants_v.push(Arc::new(tenant));
        if t + 1 == bundles {
            println!(
                "after {bundles} bundles of {rows} rows: RSS {:.1} MiB (+{:.1} MiB) in {:?}",
                rss_mib(),
                rss_mib() - before,
                started.elapsed()
            );
        }
    }
    let after = rss_mib();
    let per_row = (after - before) * 1024.0 * 1024.0 / (bundles * rows) as f64;
    println!(
        "after {tenants} tenants over {bundles} bundles: RSS {after:.1} MiB (start {before:.1}, +{:.1} MiB); about {per_row:.0} bytes per table row (everything else included)",
        after - before
    );
    let _ = std::fs::remove_dir_all(&work);
}
