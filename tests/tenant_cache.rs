//! The tenant cache against the State API stand-in on loopback, with upstream calls counted:
//! single flight, stale-while-revalidate, stale-if-error, negative caching, key checks,
//! eviction, lifecycle (warm / forget) and local mode.
//!
//! Time-dependent tests run on tokio's paused clock with the stand-in in the same runtime
//! (see `support::spawn_ticker` for why a 1 ms ticker runs beside them).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rater::plan::PlanSet;
use rater::tenant::{CacheConfig, SecretPolicy, StateSource, Tenant, TenantCache, TenantError};
use support::{Mode, StateApi, cache, config, eventually, spawn_ticker, state};
use tokio::time::{Instant, advance};

fn tenant_name(t: &Tenant) -> &str {
    t.settings
        .plain("tenant")
        .expect("the fixture sets `tenant`")
}

/// 1,000 concurrent first requests for one key make exactly one State API call, and all
/// of them get the same resolved tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_misses_make_one_call() {
    let api = StateApi::start().await;
    api.put("k", state("k"));
    // Slow enough that every request arrives while the one fetch is under way.
    api.set_mode(Mode::Slow(Duration::from_millis(300)));
    let cache = cache(&api, config());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(Some("k")).await })
        })
        .collect();
    let mut tenants = Vec::new();
    for t in tasks {
        tenants.push(t.await.expect("task").expect("tenant"));
    }
    assert_eq!(api.calls("k"), 1);
    assert!(tenants.iter().all(|t| Arc::ptr_eq(t, &tenants[0])));
    assert_eq!(tenant_name(&tenants[0]), "k");
    let stats = cache.stats().snapshot();
    assert_eq!(stats.upstream_calls, 1);
    assert_eq!(stats.misses + stats.hits, 1000);
}

/// After the TTL, a request gets the cached tenant at once (no time passes on the paused
/// clock even though the State API now takes 1 s), and exactly one background refresh runs
/// however many requests see the stale entry; then the new state is served.
#[tokio::test(start_paused = true)]
async fn stale_entry_answers_at_once_and_refreshes_once() {
    spawn_ticker();
    let api = StateApi::start().await;
    api.put("k", state("old"));
    let cache = cache(&api, config());
    assert_eq!(tenant_name(&cache.get(Some("k")).await.unwrap()), "old");
    assert_eq!(api.calls("k"), 1);

    api.put("k", state("new"));
    api.set_mode(Mode::Slow(Duration::from_secs(1)));
    advance(Duration::from_secs(61)).await;
    let start = Instant::now();
    for _ in 0..100 {
        let t = cache.get(Some("k")).await.unwrap();
        assert_eq!(tenant_name(&t), "old");
    }
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "stale answers must not wait"
    );
    assert_eq!(cache.stats().snapshot().stale_served, 100);

    eventually(Duration::from_secs(3), || api.calls("k") == 2).await;
    let mut newest = String::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        newest = tenant_name(&cache.get(Some("k")).await.unwrap()).to_owned();
        if newest == "new" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(newest, "new");
    assert_eq!(api.calls("k"), 2, "exactly one background refresh");
    assert_eq!(cache.stats().snapshot().refreshes, 1);
}

/// While the State API fails, the stale tenant keeps being served (with at most one call
/// per back-off); once it is older than TTL + stale window, requests fail with
/// `Unavailable` and a `retry_after`, and the failure is remembered for the back-off.
#[tokio::test(start_paused = true)]
async fn failing_upstream_serves_stale_then_unavailable() {
    spawn_ticker();
    let api = StateApi::start().await;
    api.put("k", state("k"));
    let cfg = CacheConfig {
        ttl: Duration::from_secs(10),
        stale_if_error: Duration::from_secs(30),
        ..config()
    };
    let cache = cache(&api, cfg);
    cache.get(Some("k")).await.unwrap();

    api.set_mode(Mode::Status(503));
    advance(Duration::from_secs(11)).await;
    // Serve stale through 29 more seconds of failures.
    for _ in 0..29 {
        let t = cache.get(Some("k")).await.expect("stale served");
        assert_eq!(tenant_name(&t), "k");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let calls = api.calls("k");
    // One first fetch, then at most one failed refresh per 1 s back-off.
    assert!((10..=31).contains(&calls), "{calls} calls");
    assert!(cache.stats().snapshot().upstream_errors >= 9);

    // Past TTL + stale window: nothing usable is cached any more.
    advance(Duration::from_secs(2)).await;
    let err = cache.get(Some("k")).await.unwrap_err();
    match &err {
        TenantError::Unavailable { retry_after, .. } => {
            assert_eq!(*retry_after, Duration::from_secs(1))
        }
        other => panic!("{other:?}"),
    }
    // Within the back-off, the failure is answered without a call.
    let before = api.calls("k");
    assert!(matches!(
        cache.get(Some("k")).await,
        Err(TenantError::Unavailable { .. })
    ));
    assert_eq!(api.calls("k"), before);

    // Recovery: after the back-off, the next request fetches again.
    api.set_mode(Mode::Normal);
    advance(Duration::from_millis(1001)).await;
    assert_eq!(tenant_name(&cache.get(Some("k")).await.unwrap()), "k");
}

/// A 404 is remembered for the negative TTL (no call for repeat requests), then asked again.
#[tokio::test(start_paused = true)]
async fn unknown_key_is_negative_cached_then_expires() {
    spawn_ticker();
    let api = StateApi::start().await;
    let cache = cache(&api, config());
    assert_eq!(
        cache.get(Some("ghost")).await.err(),
        Some(TenantError::UnknownKey)
    );
    for _ in 0..50 {
        assert_eq!(
            cache.get(Some("ghost")).await.err(),
            Some(TenantError::UnknownKey)
        );
    }
    assert_eq!(api.calls("ghost"), 1);
    assert_eq!(cache.stats().snapshot().negative_hits, 50);

    // The tenant appears; after the negative TTL it is found.
    api.put("ghost", state("ghost"));
    advance(Duration::from_secs(9)).await;
    assert_eq!(
        cache.get(Some("ghost")).await.err(),
        Some(TenantError::UnknownKey)
    );
    advance(Duration::from_secs(2)).await;
    assert_eq!(
        tenant_name(&cache.get(Some("ghost")).await.unwrap()),
        "ghost"
    );
    assert_eq!(api.calls("ghost"), 2);
}

/// Failures (500, 503, timeouts, malformed answers) are never cached as "unknown key".
#[tokio::test(start_paused = true)]
async fn failures_are_never_cached_as_unknown() {
    spawn_ticker();
    let api = StateApi::start().await;
    api.put("k", state("k"));
    let cache = cache(&api, config());
    for mode in [
        Mode::Status(500),
        Mode::Status(503),
        Mode::Hang,
        Mode::Malformed,
        Mode::Oversized {
            bytes: 1 << 20,
            chunked: true,
        },
    ] {
        api.set_mode(mode.clone());
        let err = cache.get(Some("k")).await.unwrap_err();
        assert!(
            matches!(err, TenantError::Unavailable { .. }),
            "{mode:?}: {err:?}"
        );
        advance(Duration::from_millis(1001)).await;
    }
    api.set_mode(Mode::Normal);
    assert_eq!(tenant_name(&cache.get(Some("k")).await.unwrap()), "k");
    assert_eq!(api.calls("k"), 6);
}

/// Keys that cannot be keys are refused before any State API call.
#[tokio::test]
async fn invalid_keys_never_reach_upstream() {
    let api = StateApi::start().await;
    let cache = cache(&api, config());
    let long = "k".repeat(257);
    for bad in [
        "",
        " ",
        "a b",
        "a\tb",
        "a\nb",
        "\u{0}",
        ".",
        "..",
        long.as_str(),
    ] {
        assert_eq!(
            cache.get(Some(bad)).await.err(),
            Some(TenantError::InvalidKey),
            "{bad:?}"
        );
        assert_eq!(cache.warm(Some(bad)), Err(TenantError::InvalidKey));
    }
    // With a State API there is no default tenant.
    assert_eq!(cache.get(None).await.err(), Some(TenantError::MissingKey));
    assert_eq!(api.total_calls(), 0);
    assert!(cache.is_empty());
}

/// Key spraying cannot grow the cache past its bound; the least recently used go first, so
/// a key in steady use stays cached.
#[tokio::test]
async fn eviction_keeps_the_count_bounded() {
    let api = StateApi::start().await;
    api.put("hot", state("hot"));
    for i in 0..200 {
        api.put(&format!("k{i}"), state("cold"));
    }
    let cache = cache(
        &api,
        CacheConfig {
            max_tenants: 20,
            ..config()
        },
    );
    for i in 0..200 {
        cache.get(Some("hot")).await.unwrap();
        // Distinct millisecond stamps, so "least recently used" is well defined.
        tokio::time::sleep(Duration::from_millis(2)).await;
        cache.get(Some(&format!("k{i}"))).await.unwrap();
        assert!(cache.len() <= 20, "{} entries", cache.len());
    }
    // Unknown keys count against the bound too.
    for i in 0..100 {
        cache.get(Some("hot")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let _ = cache.get(Some(&format!("ghost{i}"))).await;
        assert!(cache.len() <= 20, "{} entries", cache.len());
    }
    assert!(cache.stats().snapshot().evictions >= 280);
    cache.get(Some("hot")).await.unwrap();
    assert_eq!(api.calls("hot"), 1, "the hot key was never evicted");
}

/// `/_app/start` warms (one call, without waiting), `/_app/stop` forgets; both idempotent.
#[tokio::test(start_paused = true)]
async fn warm_fetches_in_background_and_forget_drops() {
    spawn_ticker();
    let api = StateApi::start().await;
    api.put("k", state("v1"));
    let cache = cache(&api, config());
    cache.warm(Some("k")).unwrap();
    cache.warm(Some("k")).unwrap();
    eventually(Duration::from_secs(3), || api.calls("k") == 1).await;
    assert_eq!(tenant_name(&cache.get(Some("k")).await.unwrap()), "v1");
    assert_eq!(api.calls("k"), 1);

    // Start again (settings may have changed): a cached tenant is refreshed in the background.
    api.put("k", state("v2"));
    cache.warm(Some("k")).unwrap();
    eventually(Duration::from_secs(3), || api.calls("k") == 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(tenant_name(&cache.get(Some("k")).await.unwrap()), "v2");

    assert_eq!(cache.forget(Some("k")), Ok(true));
    assert_eq!(cache.forget(Some("k")), Ok(false));
    assert!(cache.is_empty());
    cache.get(Some("k")).await.unwrap();
    assert_eq!(api.calls("k"), 3);
}

/// A fetch under way when the key is forgotten is not written back.
#[tokio::test(start_paused = true)]
async fn forget_during_fetch_is_not_undone() {
    spawn_ticker();
    let api = StateApi::start().await;
    api.put("k", state("k"));
    api.set_mode(Mode::Slow(Duration::from_millis(500)));
    let cache = cache(&api, config());
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(Some("k")).await })
    };
    eventually(Duration::from_secs(1), || api.calls("k") == 1).await;
    assert_eq!(cache.forget(Some("k")), Ok(true));
    // The waiting request still gets its answer...
    assert_eq!(tenant_name(&waiter.await.unwrap().unwrap()), "k");
    // ...but the entry stays forgotten.
    assert!(cache.is_empty());
}

fn local_lookup(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    move |k| map.get(k).cloned()
}

/// Without `SMP_STATE_API`, tenants come from the repo's local file; requests without a key
/// get `demo`, which prices with `personal-auto` through its mapping.
#[tokio::test]
async fn local_mode_serves_the_demo_tenants() {
    let file = format!(
        "{}/rating-tables/tenants.local.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let source = StateSource::from_lookup(
        local_lookup(&[("RATER_LOCAL_STATE", file)]),
        &config().client,
    )
    .expect("local state loads");
    assert!(source.is_local());
    assert!(source.describe().contains("LOCAL"));
    let cache = TenantCache::new(
        source,
        Arc::new(PlanSet::new(vec![])),
        SecretPolicy::default(),
        config(),
    );
    let demo = cache.get(None).await.unwrap();
    assert_eq!(demo.rate_plan(), Some("personal-auto"));
    assert!(demo.warnings.is_empty(), "{:?}", demo.warnings);
    let mapping = &demo.mappings[0];
    assert_eq!(mapping.product, "personal-auto");
    let mut names: Vec<_> = mapping
        .fields
        .iter()
        .map(|(input, source)| format!("{input}={source}"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "atfault_claims_past_5_years=policy field `atfault_claims_past_5_years`",
            "channel=policy field `channel`",
            "vehicle_type=exposure field `vehicle_type`",
            "vehicle_value=exposure field `vehicle_value`",
        ]
    );
    let reference = cache.get(Some("reference-demo")).await.unwrap();
    assert_eq!(reference.rate_plan(), Some("socotra-reference"));
    assert_eq!(
        cache.get(Some("nobody")).await.err(),
        Some(TenantError::UnknownKey)
    );
    assert!(Arc::ptr_eq(&demo, &cache.get(Some("demo")).await.unwrap()));
}

/// With `SMP_STATE_API` set, the local file is ignored and there is no default tenant.
#[tokio::test]
async fn remote_mode_has_no_default_tenant() {
    let api = StateApi::start().await;
    api.put("demo", state("demo"));
    let source = StateSource::from_lookup(
        local_lookup(&[("SMP_STATE_API", format!("{}/", api.url()))]),
        &config().client,
    )
    .unwrap();
    assert!(!source.is_local());
    let cache = TenantCache::new(
        source,
        Arc::new(PlanSet::new(vec![])),
        SecretPolicy::default(),
        config(),
    );
    assert_eq!(cache.get(None).await.err(), Some(TenantError::MissingKey));
    assert_eq!(tenant_name(&cache.get(Some("demo")).await.unwrap()), "demo");
    assert_eq!(api.paths(), ["/state/demo"]);
}

/// A bad local file fails start-up, naming the file.
#[test]
fn bad_local_file_fails_at_start() {
    let err = StateSource::from_lookup(
        local_lookup(&[("RATER_LOCAL_STATE", "/nonexistent/tenants.json".into())]),
        &config().client,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/tenants.json"),
        "{err}"
    );
}

/// `SMP_STATE_API` set but empty is a start-up error, never a silent switch to local mode.
#[test]
fn empty_state_api_is_an_error() {
    let err = StateSource::from_lookup(
        local_lookup(&[("SMP_STATE_API", " ".into())]),
        &config().client,
    )
    .unwrap_err();
    assert!(err.to_string().contains("SMP_STATE_API"), "{err}");
}
