//! Tenants' own plan bundles over HTTP: the rater with the State API stand-in and an HTTPS
//! bundle server on loopback (certificate made in the test, trusted through
//! `RATER_PLAN_CA_FILE`, `127.0.0.1`/`localhost` allowed through `RATER_PLAN_ALLOW_HOSTS`).
//! Each test counts the bundle downloads the server saw.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rater::bundle::fetch::{BundleFetcher, FetchConfig};
use rater::bundle::{BundleCache, BundleConfig, PlanSource};
use rust_decimal::Decimal;
use serde_json::json;
use support::bundle_server::{Behaviour, Tls, plan_bundle, start_tls};
use support::{LogBuffer, TestServer, get, post, start};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The rater, trusting `tls`'s certificate, with a bundle TTL of `ttl` seconds.
async fn rater(tls: &Tls, ttl: &str) -> TestServer {
    start(&[
        ("RATER_MAX_BODY_BYTES", "4194304"),
        ("RATER_PLAN_ALLOW_HOSTS", "localhost,127.0.0.1"),
        (
            "RATER_PLAN_CA_FILE",
            leak(tls.ca_file.display().to_string()),
        ),
        ("RATER_PLAN_TTL_SECS", leak(ttl.to_owned())),
    ])
    .await
}

fn bundle_url(tls: &Tls, path: &str) -> String {
    format!("https://localhost:{}{path}", tls.addr.port())
}

/// Socotra's `rating-variants/000` request (one `roadside_service` peril) for `product`.
fn request(product: &str) -> Vec<u8> {
    let text =
        std::fs::read_to_string(support::fixtures().join("rating-variants/000.request.json"))
            .unwrap();
    text.replace(
        "\"productName\": \"personal-auto\"",
        &format!("\"productName\": \"{product}\""),
    )
    .into_bytes()
}

async fn rate(s: &TestServer, key: &str, product: &str) -> support::Response {
    let body = request(product);
    s.send(&post(
        "/rate",
        "application/json",
        &format!("x-smp-key: {key}\r\n"),
        &body,
    ))
    .await
}

/// The yearly premium of the one peril, as a decimal.
fn yearly(r: &support::Response) -> Decimal {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let priced =
        v["pricedPerilCharacteristics"]["1738f7d9-3d9c-1724-11e2-0b8f6b0d549b"]["yearlyPremium"]
            .clone();
    priced.as_str().unwrap().parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn plan_status(s: &TestServer, key: &str) -> serde_json::Value {
    let raw = format!("GET /plan-status HTTP/1.1\r\nHost: test\r\nx-smp-key: {key}\r\n\r\n");
    let r = s.send(raw.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// Tenant A (planUrl + the right pin) is priced by its bundle, whose product only it has;
/// B (no planUrl) gets a clear error for that product and keeps the bundled plans; A cannot
/// reach the bundled plans either. Many requests, one download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_is_priced_by_its_own_plans_only() {
    let tls = start_tls("tenants").await;
    let bundle = plan_bundle("acme-auto", "acme-auto", "40", |t| t);
    let sha = rater::bundle::sha256_hex(&bundle);
    tls.server
        .set("/acme.tar.gz", Behaviour::Bundle(bundle, "\"a1\""));
    let s = rater(&tls, "300").await;
    s.state_api.put(
        "a",
        json!({ "settings": {
            "planUrl": bundle_url(&tls, "/acme.tar.gz"),
            "planSha256": sha.to_uppercase(),
        } }),
    );
    s.state_api.put("b", json!({ "settings": {} }));

    for _ in 0..3 {
        let r = rate(&s, "a", "acme-auto").await;
        assert_eq!(yearly(&r), dec("40"));
        assert_eq!(r.header("x-rater-plan-bundle"), Some(&*sha));
    }
    // With the explain trace: the plan and its version, and the bundle in the header.
    let body = request("acme-auto");
    let r = s
        .send(&post(
            "/rate",
            "application/json",
            "x-smp-key: a\r\nx-rater-explain: 1\r\n",
            &body,
        ))
        .await;
    assert_eq!(r.header("x-rater-plan-bundle"), Some(&*sha));
    let trace = r.json()["explain"].to_string();
    assert!(trace.contains("plan acme-auto version 1.0"), "{trace}");
    assert_eq!(tls.server.hits("/acme.tar.gz"), 1);

    let r = rate(&s, "b", "acme-auto").await;
    assert_eq!(r.header("x-rater-plan-bundle"), None);
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["code"], "no_plan_for_product");
    assert_eq!(yearly(&rate(&s, "b", "personal-auto").await), dec("25"));

    // A sees its bundle only: the bundled personal-auto plan is not A's.
    let r = rate(&s, "a", "personal-auto").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["code"], "no_plan_for_product");

    // `ratePlan` names a plan within the bundle; a bundled plan's name is unknown there.
    for (key, plan) in [("a-line", "acme-auto"), ("a-bundled", "personal-auto")] {
        s.state_api.put(
            key,
            json!({ "settings": {
                "planUrl": bundle_url(&tls, "/acme.tar.gz"),
                "ratePlan": plan,
            } }),
        );
    }
    assert_eq!(yearly(&rate(&s, "a-line", "acme-auto").await), dec("40"));
    let r = rate(&s, "a-bundled", "personal-auto").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"]["code"], "unknown_plan");

    let status = plan_status(&s, "a").await;
    assert_eq!(status["active"]["sha256"], sha);
    assert_eq!(status["active"]["plans"][0]["id"], "acme-auto");
    assert_eq!(status["active"]["plans"][0]["version"], "1.0");
    assert!(status["fetchedAt"].is_string(), "{status}");
    assert!(status["lastError"].is_null(), "{status}");
    assert_eq!(plan_status(&s, "b").await, json!({ "source": "bundled" }));
    // Entries are per (planUrl, pin): the unpinned tenants' entry downloaded once more, and
    // shares A's loaded plans by content hash (one activation per entry).
    assert_eq!(tls.server.hits("/acme.tar.gz"), 2);

    let metrics = String::from_utf8(s.send(&get("/metrics")).await.body).unwrap();
    assert!(
        metrics.contains("rater_plan_bundle_downloads_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rater_plan_bundle_activations_total 2\n"),
        "{metrics}"
    );
}

/// A bundle whose SHA-256 is not the pin is refused (422, saying both digests), nothing is
/// priced, and the refusal is remembered for the back-off: no second download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_is_refused_and_nothing_is_priced() {
    let tls = start_tls("pin").await;
    let bundle = plan_bundle("acme-auto", "acme-auto", "40", |t| t);
    let sha = rater::bundle::sha256_hex(&bundle);
    tls.server
        .set("/acme.tar.gz", Behaviour::Bundle(bundle, "\"a1\""));
    let s = rater(&tls, "300").await;
    let pin = "0".repeat(64);
    s.state_api.put(
        "c",
        json!({ "settings": { "planUrl": bundle_url(&tls, "/acme.tar.gz"), "planSha256": pin } }),
    );
    for _ in 0..2 {
        let r = rate(&s, "c", "acme-auto").await;
        assert_eq!(r.status, 422);
        let v = r.json();
        assert_eq!(v["error"]["code"], "plan_bundle_refused");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&sha) && message.contains(&pin),
            "{message}"
        );
        assert!(v.get("pricedPerilCharacteristics").is_none());
    }
    assert_eq!(tls.server.hits("/acme.tar.gz"), 1);
    let status = plan_status(&s, "c").await;
    assert!(status["active"].is_null());
    assert_eq!(status["lastError"]["code"], "pin_mismatch");
}

/// A first bundle that cannot be downloaded is a 503 with `Retry-After`, never the bundled
/// plans instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_first_bundle_is_503_with_retry_after() {
    let tls = start_tls("503").await;
    tls.server.set("/down.tar.gz", Behaviour::Status(503));
    let s = rater(&tls, "300").await;
    s.state_api.put(
        "e",
        json!({ "settings": { "planUrl": bundle_url(&tls, "/down.tar.gz") } }),
    );
    // `/_app/start` fetches the tenant's bundle in the background: one download, before any
    // rating request (and the failure is then remembered for the back-off).
    let start = s
        .send(b"GET /_app/start HTTP/1.1\r\nHost: test\r\nx-smp-key: e\r\n\r\n")
        .await;
    assert_eq!(start.status, 204);
    for _ in 0..200 {
        if tls.server.hits("/down.tar.gz") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(tls.server.hits("/down.tar.gz"), 1);
    let r = rate(&s, "e", "personal-auto").await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.json()["error"]["code"], "plan_bundle_unavailable");
    assert_eq!(
        r.json()["error"]["message"],
        "the plan bundle cannot be downloaded: plan URL answered HTTP 503"
    );
    assert_eq!(tls.server.hits("/down.tar.gz"), 1);
}

/// A new bundle served at the same URL becomes active after the TTL (1 s here); a broken
/// one served next leaves it active, and `/plan-status` says why, with the file and line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_bundle_activates_after_the_ttl_and_a_broken_one_keeps_the_last_good() {
    let tls = start_tls("ttl").await;
    tls.server.set(
        "/plans.tar.gz",
        Behaviour::Bundle(plan_bundle("acme-auto", "acme-auto", "40", |t| t), "\"v1\""),
    );
    let s = rater(&tls, "1").await;
    s.state_api.put(
        "d",
        json!({ "settings": { "planUrl": bundle_url(&tls, "/plans.tar.gz") } }),
    );
    assert_eq!(yearly(&rate(&s, "d", "acme-auto").await), dec("40"));

    let v2 = plan_bundle("acme-auto", "acme-auto", "50", |t| t);
    let v2_sha = rater::bundle::sha256_hex(&v2);
    tls.server
        .set("/plans.tar.gz", Behaviour::Bundle(v2, "\"v2\""));
    // Within the TTL (and its jitter) nothing is asked; after it, the next request is still
    // answered at once with v1 while the refresh runs, and v2 follows.
    let mut seen = Vec::new();
    for _ in 0..60 {
        let y = yearly(&rate(&s, "d", "acme-auto").await);
        seen.push(y);
        if y == dec("50") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.last(), Some(&dec("50")), "{seen:?}");
    assert!(seen.iter().all(|y| *y == dec("40") || *y == dec("50")));
    assert_eq!(tls.server.hits("/plans.tar.gz"), 2);

    tls.server.set(
        "/plans.tar.gz",
        Behaviour::Bundle(
            plan_bundle("acme-auto", "acme-auto", "60", |t| {
                t.replace("version = \"1.0\"", "version = \"\"")
            }),
            "\"v3\"",
        ),
    );
    let mut status = json!(null);
    for _ in 0..60 {
        assert_eq!(yearly(&rate(&s, "d", "acme-auto").await), dec("50"));
        status = plan_status(&s, "d").await;
        if !status["lastError"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["active"]["sha256"], v2_sha, "{status}");
    assert_eq!(status["lastError"]["code"], "invalid_plan", "{status}");
    assert_eq!(
        status["lastError"]["message"],
        "plans.tar.gz:acme-auto/plan.toml:8:11: version must not be empty"
    );
    assert_eq!(yearly(&rate(&s, "d", "acme-auto").await), dec("50"));

    let metrics = String::from_utf8(s.send(&get("/metrics")).await.body).unwrap();
    assert!(
        metrics.contains("rater_plan_bundle_activations_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rater_plan_bundle_refusals_total{reason=\"invalid_plan\"} 1\n")
            || metrics.contains("rater_plan_bundle_refusals_total{reason=\"invalid_plan\"} 2\n"),
        "{metrics}"
    );
}

/// 1,000 concurrent first requests for one new URL: one download, everyone gets the same
/// loaded plans; a second URL serving the same bytes shares them (by content hash).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_and_shared_by_content() {
    let tls = start_tls("flight").await;
    let bundle = plan_bundle("acme-auto", "acme-auto", "40", |t| t);
    tls.server
        .set("/one.tar.gz", Behaviour::Bundle(bundle.clone(), "\"1\""));
    tls.server
        .set("/two.tar.gz", Behaviour::Bundle(bundle, "\"1\""));
    let fetcher = BundleFetcher::new(FetchConfig {
        allow_hosts: ["localhost".to_owned()].into_iter().collect(),
        ca_file: Some(tls.ca_file.clone()),
        ..FetchConfig::default()
    })
    .unwrap();
    let cache = BundleCache::new(fetcher, BundleConfig::default());
    let source = |path: &str| PlanSource {
        url: bundle_url(&tls, path).into(),
        token: None,
        pin: None,
    };
    let one = source("/one.tar.gz");
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let cache = cache.clone();
        let one = one.clone();
        tasks.push(tokio::spawn(async move { cache.get(&one).await.unwrap() }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    // Figures for docs/RELIABILITY.md (`-- --nocapture`).
    eprintln!(
        "single flight: 1000 concurrent first gets answered in {:?}, downloads {}",
        started.elapsed(),
        tls.server.hits("/one.tar.gz")
    );
    assert_eq!(tls.server.hits("/one.tar.gz"), 1);
    assert!(all.iter().all(|a| Arc::ptr_eq(a, &all[0])));
    let two = cache.get(&source("/two.tar.gz")).await.unwrap();
    assert!(Arc::ptr_eq(&two.plans, &all[0].plans));
    assert_eq!(tls.server.hits("/two.tar.gz"), 1);
}

/// The plan token never shows: not in a tenant's `Debug`, not in error answers, not in
/// `/plan-status`, not in logs; and it is sent to the bundle's host.
#[tokio::test]
async fn the_plan_token_stays_secret() {
    const TOKEN: &str = "plan-token-of-acme-5f2e";
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let tls = start_tls("secret").await;
    tls.server.set("/broken.tar.gz", Behaviour::Status(500));
    tls.server.set(
        "/bad.tar.gz",
        Behaviour::Bundle(b"not a bundle".to_vec(), "\"x\""),
    );
    let s = rater(&tls, "300").await;
    for (key, path) in [("t1", "/broken.tar.gz"), ("t2", "/bad.tar.gz")] {
        s.state_api.put(
            key,
            json!({ "settings": {
                "planUrl": format!("{}?sig={TOKEN}", bundle_url(&tls, path)),
                "planToken": TOKEN,
            } }),
        );
        let r = rate(&s, key, "acme-auto").await;
        assert!(r.status == 503 || r.status == 422, "{}", r.status);
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(!body.contains(TOKEN), "{body}");
        let status = plan_status(&s, key).await.to_string();
        assert!(!status.contains(TOKEN), "{status}");
    }
    let auth = tls.server.auth.lock().unwrap().clone();
    assert!(
        auth.iter()
            .all(|a| a.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );

    let tenant_state = rater::tenant::StateDoc::from_json(
        json!({ "settings": { "planUrl": "https://x/b", "planToken": TOKEN } })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let tenant = rater::tenant::Tenant::resolve(
        rater::tenant::KeyHash::of("k"),
        tenant_state,
        &rater::plan::PlanSet::default(),
        &rater::tenant::SecretPolicy::new(["planToken"]),
    );
    let debug = format!("{tenant:?}");
    assert!(debug.contains("planUrl"), "{debug}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(!logs.contents().contains(TOKEN), "{}", logs.contents());
}

/// Every kind of bad refresh keeps the last good bundle active and is reported with its
/// reason; a `304` or the same bytes change nothing; a changed bundle activates. One
/// download per refresh, counted by the server and by the cache's counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_keep_the_last_good_bundle() {
    use support::bundle_server::{plan_bundle_with, raw_tar_gz};
    use tar::EntryType as T;

    let tls = start_tls("faults").await;
    let good = plan_bundle("acme-auto", "acme-auto", "40", |t| t);
    let good_sha = rater::bundle::sha256_hex(&good);
    tls.server
        .set("/p.tar.gz", Behaviour::Bundle(good.clone(), "\"good\""));
    let fetcher = BundleFetcher::new(FetchConfig {
        allow_hosts: ["localhost".to_owned()].into_iter().collect(),
        ca_file: Some(tls.ca_file.clone()),
        timeout: Duration::from_millis(500),
        max_bytes: 1 << 20,
        ..FetchConfig::default()
    })
    .unwrap();
    let ttl = Duration::from_millis(100);
    let cache = BundleCache::new(
        fetcher,
        BundleConfig {
            ttl,
            limits: rater::bundle::Limits {
                max_compressed: 1 << 20,
                max_unpacked: 1 << 20,
                max_files: 100,
            },
            ..BundleConfig::default()
        },
    );
    let source = PlanSource {
        url: bundle_url(&tls, "/p.tar.gz").into(),
        token: None,
        pin: None,
    };
    assert_eq!(cache.get(&source).await.unwrap().sha256, good_sha);

    // The request asked of the plan's own test case, and an answer it does not give.
    let case = request("acme-auto");
    let wrong = serde_json::to_vec(&json!({ "pricedPerilCharacteristics": {
        "1738f7d9-3d9c-1724-11e2-0b8f6b0d549b": { "yearlyPremium": "41.00" } } }))
    .unwrap();
    let faults: Vec<(&str, Behaviour)> = vec![
        ("http_status", Behaviour::Status(500)),
        ("http_status", Behaviour::Status(503)),
        ("timeout", Behaviour::Hang),
        (
            "too_large",
            Behaviour::Bundle(vec![7; (1 << 20) + 1], "\"big\""),
        ),
        (
            "too_large",
            Behaviour::Bundle(
                raw_tar_gz("p/zeros.csv", T::Regular, &vec![0; 8 << 20], ""),
                "\"bomb\"",
            ),
        ),
        (
            "refused_entry",
            Behaviour::Bundle(
                raw_tar_gz("../escape/plan.toml", T::Regular, b"x", ""),
                "\"dots\"",
            ),
        ),
        (
            "refused_entry",
            Behaviour::Bundle(
                raw_tar_gz("p/plan.toml", T::Symlink, b"", "/etc/passwd"),
                "\"link\"",
            ),
        ),
        (
            "not_an_archive",
            Behaviour::Bundle(b"<html>oops</html>".to_vec(), "\"html\""),
        ),
        (
            "invalid_plan",
            Behaviour::Bundle(
                plan_bundle("acme-auto", "acme-auto", "45", |t| {
                    t.replace("[rounding]", "[rounding]\nbogus = 1")
                }),
                "\"invalid\"",
            ),
        ),
        (
            "failed_tests",
            Behaviour::Bundle(
                plan_bundle_with(
                    "acme-auto",
                    "acme-auto",
                    "40",
                    |t| t,
                    &[
                        ("tests/000.request.json", case.clone()),
                        ("tests/000.expected.json", wrong.clone()),
                    ],
                ),
                "\"failing\"",
            ),
        ),
    ];
    let mut downloads = 1;
    for (code, behaviour) in faults {
        tls.server.set("/p.tar.gz", behaviour);
        tokio::time::sleep(ttl + ttl / 5).await;
        let before = std::time::SystemTime::now();
        // Answered at once with the last good bundle; the refresh runs behind.
        assert_eq!(cache.get(&source).await.unwrap().sha256, good_sha);
        downloads += 1;
        // Until this refresh has finished (a hanging server takes the 500 ms timeout).
        let mut status = cache.status(&source);
        for _ in 0..300 {
            if status.checked_at.is_some_and(|t| t > before) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            status = cache.status(&source);
        }
        let error = status.last_error.clone().expect("the refresh failed");
        eprintln!(
            "fault {code}: refused {:?} after the refresh started; last good kept; {}",
            status
                .checked_at
                .unwrap()
                .duration_since(before)
                .unwrap_or_default(),
            error.message
        );
        let reported = if error.code == "download" {
            // Download failures are reported by their FetchError code in the counters.
            code
        } else {
            error.code
        };
        assert_eq!(reported, code, "{}", error.message);
        assert_eq!(status.active.as_ref().unwrap().sha256, good_sha);
        assert_eq!(tls.server.hits("/p.tar.gz"), downloads, "{code}");
    }
    let refusals: Vec<(&str, u64)> = rater::bundle::REFUSAL_REASONS
        .iter()
        .zip(&cache.stats().refusals)
        .map(|(r, n)| (*r, n.load(std::sync::atomic::Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        refusals,
        [
            ("too_large", 2),
            ("not_an_archive", 1),
            ("refused_entry", 2),
            ("invalid_plan", 1),
            ("failed_tests", 1),
            ("http_status", 2),
            ("timeout", 1),
        ]
    );

    // The good bundle again under its old ETag: 304, nothing reloaded, error cleared.
    tls.server
        .set("/p.tar.gz", Behaviour::Bundle(good, "\"good\""));
    tokio::time::sleep(ttl + ttl / 5).await;
    cache.get(&source).await.unwrap();
    let stats = cache.stats();
    for _ in 0..200 {
        if stats
            .not_modified
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        stats
            .not_modified
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(cache.status(&source).last_error.is_none());

    // A changed bundle activates.
    let v2 = plan_bundle("acme-auto", "acme-auto", "55", |t| t);
    let v2_sha = rater::bundle::sha256_hex(&v2);
    tls.server.set("/p.tar.gz", Behaviour::Bundle(v2, "\"v2\""));
    tokio::time::sleep(ttl + ttl / 5).await;
    cache.get(&source).await.unwrap();
    for _ in 0..200 {
        if cache.status(&source).active.unwrap().sha256 == v2_sha {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cache.status(&source).active.unwrap().sha256, v2_sha);
    assert_eq!(
        stats.activations.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(tls.server.hits("/p.tar.gz"), downloads + 2);
}

/// Local mode: `planUrl` may be a plan folder, a folder of plan folders, or a `.tar.gz`
/// file; the same validation applies. Without local mode a path is not a URL.
#[tokio::test]
async fn local_mode_reads_folders_and_files() {
    let dir = std::env::temp_dir().join(format!("rater-local-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plans.tar.gz");
    std::fs::write(&file, plan_bundle("acme-auto", "acme-auto", "40", |t| t)).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = |local_paths| {
        BundleCache::new(
            BundleFetcher::new(FetchConfig::default()).unwrap(),
            BundleConfig {
                local_paths,
                ..BundleConfig::default()
            },
        )
    };
    let source = |url: &std::path::Path| PlanSource {
        url: url.display().to_string().into(),
        token: None,
        pin: None,
    };
    let cache = local(true);
    let ids = |a: &rater::bundle::Active| {
        a.plans
            .iter()
            .map(|p| p.id().to_owned())
            .collect::<Vec<_>>()
    };
    let a = cache.get(&source(&file)).await.unwrap();
    assert_eq!(ids(&a), ["acme-auto"]);
    let a = cache
        .get(&source(&root.join("rating-tables/homeowners")))
        .await
        .unwrap();
    assert_eq!(ids(&a), ["homeowners"]);
    let a = cache
        .get(&source(&root.join("rating-tables")))
        .await
        .unwrap();
    assert_eq!(
        ids(&a),
        [
            "acme-auto-2025-07",
            "acme-auto-2026-01",
            "homeowners",
            "personal-auto",
            "socotra-reference"
        ]
    );

    let err = local(false).get(&source(&file)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            rater::bundle::BundleFailure::Refused {
                code: "bad_url",
                ..
            }
        ),
        "{err}"
    );
}

/// Three tenants with three bundle URLs are hammered concurrently while each URL's bundle
/// is replaced, over and over, in a seeded random order. Every answer must be priced by a
/// bundle of the asking tenant (its price and its `x-rater-plan-bundle` agree, and name
/// that tenant), and no tenant ever goes back to an older bundle once a newer one priced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tenants_are_each_priced_by_their_own_active_bundle() {
    use std::collections::HashMap;
    let tls = start_tls("hammer").await;
    let s = Arc::new(rater(&tls, "1").await);
    // Tenant t's version v prices roadside at t*100 + v.
    let tenants = [1u32, 2, 3];
    let versions = 6u32;
    let mut by_sha: HashMap<String, (u32, u32)> = HashMap::new();
    let mut bundles: HashMap<(u32, u32), Vec<u8>> = HashMap::new();
    for t in tenants {
        for v in 0..versions {
            let b = plan_bundle("acme-auto", "acme-auto", &(t * 100 + v).to_string(), |x| x);
            by_sha.insert(rater::bundle::sha256_hex(&b), (t, v));
            bundles.insert((t, v), b);
        }
        tls.server.set(
            &format!("/t{t}.tar.gz"),
            Behaviour::Bundle(bundles[&(t, 0)].clone(), "\"0\""),
        );
        s.state_api.put(
            &format!("t{t}"),
            json!({ "settings": { "planUrl": bundle_url(&tls, &format!("/t{t}.tar.gz")) } }),
        );
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for t in tenants {
        for _ in 0..2 {
            let s = s.clone();
            let stop = stop.clone();
            let by_sha = by_sha.clone();
            clients.push(tokio::spawn(async move {
                let (mut answers, mut newest) = (0, 0u32);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = rate(&s, &format!("t{t}"), "acme-auto").await;
                    let price = yearly(&r);
                    let sha = r.header("x-rater-plan-bundle").expect("bundle header");
                    let (owner, v) = by_sha[sha];
                    assert_eq!(owner, t, "tenant t{t} priced by t{owner}'s bundle");
                    assert_eq!(
                        price,
                        Decimal::from(t * 100 + v),
                        "price and bundle disagree"
                    );
                    assert!(v >= newest, "t{t} went back from v{newest} to v{v}");
                    newest = v;
                    answers += 1;
                }
                (t, answers, newest)
            }));
        }
    }
    // Seeded random replacement order: each step publishes the next version of one tenant.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut published = [0u32; 3];
    for _ in 0..(versions - 1) * 2 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let i = (seed % 3) as usize;
        if published[i] + 1 >= versions {
            continue;
        }
        published[i] += 1;
        let t = tenants[i];
        let v = published[i];
        tls.server.set(
            &format!("/t{t}.tar.gz"),
            Behaviour::Bundle(bundles[&(t, v)].clone(), leak(format!("\"{v}\""))),
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Past the TTL once more, so every tenant's last version is picked up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let (t, answers, newest) = c.await.unwrap();
        total += answers;
        let i = tenants.iter().position(|x| *x == t).unwrap();
        assert!(answers > 10, "t{t}: {answers} answers");
        assert_eq!(
            newest, published[i],
            "t{t} ends on its last published bundle"
        );
    }
    eprintln!("hammer: {total} answers, published {published:?}, all by the right bundle");
}

/// On tokio's paused clock, with the default TTL (300 s, up to a tenth of jitter): nothing
/// is re-read before the TTL, however many requests; after TTL + jitter the next request
/// gets the current bundle at once and one refresh activates the new one.
#[tokio::test(start_paused = true)]
async fn the_ttl_is_honoured_on_a_paused_clock() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = std::env::temp_dir().join(format!("rater-paused-ttl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plans.tar.gz");
    let v1 = plan_bundle("acme-auto", "acme-auto", "40", |t| t);
    let v2 = plan_bundle("acme-auto", "acme-auto", "50", |t| t);
    std::fs::write(&file, &v1).unwrap();
    let cache = BundleCache::new(
        BundleFetcher::new(FetchConfig::default()).unwrap(),
        BundleConfig {
            local_paths: true,
            ..BundleConfig::default()
        },
    );
    let source = PlanSource {
        url: file.display().to_string().into(),
        token: None,
        pin: None,
    };
    let v1_sha = rater::bundle::sha256_hex(&v1);
    assert_eq!(cache.get(&source).await.unwrap().sha256, v1_sha);
    std::fs::write(&file, &v2).unwrap();
    for _ in 0..299 {
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(cache.get(&source).await.unwrap().sha256, v1_sha);
    }
    assert_eq!(cache.stats().activations.load(Relaxed), 1);
    let checked = cache.status(&source).checked_at;
    // Past the TTL and its largest jitter: the next get answers v1 and starts the refresh.
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(cache.get(&source).await.unwrap().sha256, v1_sha);
    let v2_sha = rater::bundle::sha256_hex(&v2);
    for _ in 0..1000 {
        if cache.status(&source).active.unwrap().sha256 == v2_sha {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(cache.get(&source).await.unwrap().sha256, v2_sha);
    assert_eq!(cache.stats().activations.load(Relaxed), 2);
    assert_ne!(cache.status(&source).checked_at, checked);
}

/// A bundle setting no tenant asks for within `idle` is dropped when another appears, and
/// loaded again (one more download) if a tenant comes back to it; one still in use stays.
#[tokio::test(start_paused = true)]
async fn idle_bundles_are_dropped() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = std::env::temp_dir().join(format!("rater-idle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cache = BundleCache::new(
        BundleFetcher::new(FetchConfig::default()).unwrap(),
        BundleConfig {
            local_paths: true,
            ttl: Duration::from_secs(3600),
            idle: Duration::from_secs(600),
            ..BundleConfig::default()
        },
    );
    let source = |name: &str, roadside: &str| {
        let file = dir.join(name);
        std::fs::write(
            &file,
            plan_bundle("acme-auto", "acme-auto", roadside, |t| t),
        )
        .unwrap();
        PlanSource {
            url: file.display().to_string().into(),
            token: None,
            pin: None,
        }
    };
    let (a, b, c) = (
        source("a.tar.gz", "40"),
        source("b.tar.gz", "50"),
        source("c.tar.gz", "60"),
    );
    cache.get(&a).await.unwrap();
    cache.get(&b).await.unwrap();
    assert_eq!(cache.entries(), 2);
    // b stays in use; a is not asked for again.
    for _ in 0..7 {
        tokio::time::advance(Duration::from_secs(100)).await;
        cache.get(&b).await.unwrap();
    }
    cache.get(&c).await.unwrap();
    assert_eq!(cache.entries(), 2, "a was dropped, b and c stay");
    assert_eq!(cache.stats().activations.load(Relaxed), 3);
    cache.get(&a).await.unwrap();
    assert_eq!(cache.stats().activations.load(Relaxed), 4, "a loaded again");
    assert_eq!(cache.entries(), 3);
}

/// A refresh whose download fails (the server answers 503) keeps the last good bundle and is
/// tried again after a short back-off (6 x `error_backoff`, here 0.6 s), not a whole TTL
/// (here 2 s); each attempt is one request to the server.
#[tokio::test]
async fn a_failed_download_is_tried_again_before_the_ttl() {
    let tls = start_tls("retry").await;
    let good = plan_bundle("acme-auto", "acme-auto", "40", |t| t);
    let good_sha = rater::bundle::sha256_hex(&good);
    tls.server
        .set("/r.tar.gz", Behaviour::Bundle(good, "\"good\""));
    let fetcher = BundleFetcher::new(FetchConfig {
        allow_hosts: ["localhost".to_owned()].into_iter().collect(),
        ca_file: Some(tls.ca_file.clone()),
        timeout: Duration::from_millis(500),
        ..FetchConfig::default()
    })
    .unwrap();
    let cache = BundleCache::new(
        fetcher,
        BundleConfig {
            ttl: Duration::from_secs(2),
            error_backoff: Duration::from_millis(100),
            ..BundleConfig::default()
        },
    );
    let source = PlanSource {
        url: bundle_url(&tls, "/r.tar.gz").into(),
        token: None,
        pin: None,
    };
    assert_eq!(cache.get(&source).await.unwrap().sha256, good_sha);
    assert_eq!(tls.server.hits("/r.tar.gz"), 1);
    tls.server.set("/r.tar.gz", Behaviour::Status(503));
    let server = tls.server.clone();
    let hits = move |n: usize| {
        let server = server.clone();
        async move {
            for _ in 0..300 {
                if server.hits("/r.tar.gz") >= n {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    };
    // Past the TTL and its jitter: the refresh runs and fails; the last good stays.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(cache.get(&source).await.unwrap().sha256, good_sha);
    assert!(hits(2).await, "the refresh asked the server");
    let failed = std::time::Instant::now();
    // 0.8 s later, well before another TTL: the next request starts the retry.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(cache.get(&source).await.unwrap().sha256, good_sha);
    assert!(hits(3).await, "the retry asked the server");
    assert!(
        failed.elapsed() < Duration::from_millis(1900),
        "{:?}",
        failed.elapsed()
    );
    assert!(cache.status(&source).last_error.is_some());
}
