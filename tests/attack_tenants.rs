//! Tenant-key spraying: 100,000 distinct random keys through the cache (memory bounded, the
//! State API asked once per key it has not answered yet), the same over HTTP while a
//! healthy tenant is served, and `/_app/start` with a key already known to be unknown.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rater::tenant::{
    CacheConfig, FetchError, FetchFuture, FetchState, SecretPolicy, StateDoc, TenantCache,
    TenantError, TenantKey,
};
use support::attack::{HEALTHY_KEY, scenario, server};
use support::{Client, get, post};

/// An in-memory State API: `real-*` keys are tenants, every other key is unknown; counts
/// calls per key.
#[derive(Clone, Default)]
struct Counting {
    calls: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
}

impl Counting {
    fn calls(&self, key: &str) -> usize {
        self.calls.lock().unwrap().get(key).copied().unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

impl FetchState for Counting {
    fn fetch<'a>(&'a self, key: &'a TenantKey) -> FetchFuture<'a> {
        Box::pin(async move {
            self.total.fetch_add(1, Ordering::Relaxed);
            *self
                .calls
                .lock()
                .unwrap()
                .entry(key.as_str().to_owned())
                .or_default() += 1;
            if key.as_str().starts_with("real-") {
                Ok(
                    StateDoc::from_json(br#"{"settings":{"ratePlan":"personal-auto"}}"#)
                        .expect("state"),
                )
            } else {
                Err(FetchError::UnknownKey)
            }
        })
    }
}

/// xorshift64*: random-looking keys without a dependency, the same on every run.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> String {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        format!("k{:016x}", self.0.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 100,000 distinct keys: the cache never holds more than its bound, the State API sees one
/// call per new key and none for a key it already called unknown (within the negative
/// TTL), and a real tenant that was quiet all along is still cached afterwards.
#[tokio::test]
async fn hundred_thousand_random_keys_stay_bounded() {
    const MAX: usize = 1_000;
    let api = Counting::default();
    let cache = TenantCache::new(
        api.clone(),
        Arc::new(support::bundled_plans()),
        SecretPolicy::default(),
        CacheConfig {
            max_tenants: MAX,
            negative_ttl: Duration::from_secs(600),
            ..support::config()
        },
    );
    let rss_before = rss_kib();
    cache.get(Some("real-quiet")).await.expect("a real tenant");
    let mut keys = Keys(0x9e37_79b9_7f4a_7c15);
    let t = Instant::now();
    let mut peak = 0;
    let mut recent = Vec::new();
    for i in 0..100_000 {
        let k = keys.next();
        assert_eq!(
            cache.get(Some(&k)).await.err(),
            Some(TenantError::UnknownKey)
        );
        peak = peak.max(cache.len());
        if i >= 100_000 - 500 {
            recent.push(k);
        }
    }
    let sprayed_in = t.elapsed();
    assert_eq!(api.total(), 100_001, "one call per new key");
    assert!(
        peak <= MAX + 1,
        "the cache grew to {peak} entries (bound {MAX})"
    );

    // The same keys again, 20 times each: the State API already said they are unknown.
    for _ in 0..20 {
        for k in &recent {
            assert_eq!(
                cache.get(Some(k)).await.err(),
                Some(TenantError::UnknownKey)
            );
        }
    }
    assert_eq!(
        api.total(),
        100_001,
        "a repeated unknown key reached the State API"
    );

    // 100,000 requests over a pool of 500 keys never seen: 500 calls, not 100,000. Eviction
    // goes by last-access stamps of millisecond resolution: a short pause makes every pool
    // key strictly newer than the entries it displaces, so the pool itself is never evicted
    // (without it a tie could evict a pool key and cost one more call).
    tokio::time::sleep(Duration::from_millis(10)).await;
    let pool: Vec<String> = (0..500).map(|_| keys.next()).collect();
    for i in 0..100_000 {
        let _ = cache.get(Some(&pool[i % pool.len()])).await;
    }
    assert_eq!(api.total(), 100_501, "repeats of a pool of unknown keys");
    assert!(cache.len() <= MAX + 1);

    // The quiet real tenant survived 200,000 requests for made-up keys.
    cache.get(Some("real-quiet")).await.expect("still served");
    assert_eq!(
        api.calls("real-quiet"),
        1,
        "the real tenant was evicted by the spray"
    );
    let rss_after = rss_kib();
    println!(
        "[100k-keys] tried: 100,000 distinct random keys, then the last 500 x20, then 100,000 requests over 500 new keys (bound {MAX})\n\
         [100k-keys] sprayed in {sprayed_in:?}; peak entries {peak}; State API calls {} (100,001 new keys + 500 pool keys); \
         real tenant fetched {} time(s); stats {:?}; RSS {rss_before:?} -> {rss_after:?} KiB",
        api.total(),
        api.calls("real-quiet"),
        cache.stats().snapshot(),
    );
}

/// `/_app/start` for a key the State API just called unknown does not ask again inside the
/// negative TTL, however often it is called.
#[tokio::test]
async fn app_start_spam_with_an_unknown_key_is_one_call() {
    let s = server(&[]).await;
    let rate = post("/rate", "application/json", "x-smp-key: ghost\r\n", b"{}");
    assert_eq!(s.send(&rate).await.code(), "unknown_key");
    assert_eq!(s.state_api.calls("ghost"), 1);
    let start = "GET /_app/start HTTP/1.1\r\nHost: t\r\nx-smp-key: ghost\r\n\r\n";
    let mut c = s.connect().await;
    for _ in 0..200 {
        c.write(start.as_bytes()).await;
        assert_eq!(c.response().await.expect("answer").status, 204);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        s.state_api.calls("ghost"),
        1,
        "start re-asked for a known-unknown key"
    );
    s.stop().await;
}

/// The same spray over HTTP: distinct keys on keep-alive connections while the healthy
/// tenant is measured; the cache stays bounded and the healthy tenant is fetched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_spray_over_http_leaves_others_unaffected() {
    let s = server(&[("RATER_TENANT_MAX", "500")]).await;
    let seed = Arc::new(AtomicUsize::new(1));
    let out = scenario(
        &s,
        "key-spray-http",
        "random x-smp-key values, 100 per keep-alive connection (cache bound 500)",
        400,
        2,
        move |addr| {
            let seed = seed.clone();
            async move {
                let mut keys = Keys(0x1234_5678 + seed.fetch_add(1, Ordering::Relaxed) as u64);
                let mut c = Client::connect(addr).await;
                let mut bad = 0;
                for _ in 0..100 {
                    let k = keys.next();
                    c.write(&post(
                        "/rate",
                        "application/json",
                        &format!("x-smp-key: {k}\r\n"),
                        b"{}",
                    ))
                    .await;
                    match c.response().await {
                        Some(r) if r.status == 401 => {}
                        _ => bad += 1,
                    }
                }
                if bad == 0 {
                    "100 x 401".into()
                } else {
                    format!("{bad} of 100 not 401")
                }
            }
        },
    )
    .await;
    assert_eq!(out.unexpected(&["100 x 401"]), []);
    out.assert_healthy(Duration::from_secs(2));
    let tenants = s.state.tenants().expect("ready");
    println!(
        "[key-spray-http] {} distinct keys sent; cache entries now {}; State API calls {}; healthy tenant fetched {} time(s)",
        out.total() * 100,
        tenants.len(),
        s.state_api.total_calls(),
        s.state_api.calls(HEALTHY_KEY)
    );
    assert!(tenants.len() <= 500 + 4, "{} entries", tenants.len());
    assert_eq!(s.state_api.calls(HEALTHY_KEY), 1);
    s.assert_alive().await;
    let _ = get("/health");
    s.stop().await;
}
