//! Attack scenarios against the real server: run an attack over and over while a healthy
//! tenant prices a real fixture on its own keep-alive connection, and compare the healthy
//! latency with a baseline measured just before.
//!
//! The machine is shared and noisy, so tests assert only what must hold (every healthy
//! request succeeds, every attack round gets its 4xx or is cut off) and generous absolute
//! bounds; the latency ratio is printed for docs/RELIABILITY.md, not asserted tightly.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http_server::{Client, TestServer, post};

/// The healthy tenant's key: a cached tenant priced with `personal-auto`.
pub const HEALTHY_KEY: &str = "healthy-tenant";

/// The fixture healthy traffic prices.
pub fn healthy_body() -> Vec<u8> {
    std::fs::read(super::fixtures().join("rating-ec/ec-rating-request-newbusiness2.json"))
        .expect("the newbusiness2 fixture")
}

/// A State API answer for a tenant priced with `plan`.
pub fn tenant_state(plan: &str) -> Value {
    json!({
        "socotraApiUrl": "http://127.0.0.1:9",
        "token": format!("token-{plan}"),
        "settings": { "ratePlan": plan }
    })
}

/// Latencies of a batch of healthy requests.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    pub sent: usize,
    pub failed: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    fn of(mut samples: Vec<Duration>, failed: usize) -> Latency {
        samples.sort();
        let at = |q: f64| -> Duration {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i.min(samples.len() - 1)]
        };
        Latency {
            sent: samples.len() + failed,
            failed,
            p50: at(0.50),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} failed, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.sent,
            self.failed,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `n` healthy rating requests, one after the other on one keep-alive connection
/// (reconnecting if the server closes it, which counts as a failure of that request).
pub async fn healthy(addr: SocketAddr, n: usize) -> Latency {
    let raw = post(
        "/rate",
        "application/json",
        &format!("x-smp-key: {HEALTHY_KEY}\r\n"),
        &healthy_body(),
    );
    let mut client = Client::connect(addr).await;
    let mut samples = Vec::with_capacity(n);
    let mut failed = 0;
    for _ in 0..n {
        let t = Instant::now();
        client.write(&raw).await;
        match tokio::time::timeout(Duration::from_secs(10), client.response()).await {
            Ok(Some(r)) if r.status == 200 => samples.push(t.elapsed()),
            Ok(Some(_)) => failed += 1,
            Ok(None) | Err(_) => {
                failed += 1;
                client = Client::connect(addr).await;
            }
        }
    }
    Latency::of(samples, failed)
}

/// What a scenario observed.
pub struct Outcome {
    pub baseline: Latency,
    pub during: Latency,
    /// Attack rounds by what each got (a status, `closed`, ...).
    pub rounds: BTreeMap<String, usize>,
}

impl Outcome {
    /// Every healthy request succeeded, before and during the attack, within `bound`.
    pub fn assert_healthy(&self, bound: Duration) {
        assert_eq!(self.baseline.failed, 0, "baseline: {}", self.baseline);
        assert_eq!(self.during.failed, 0, "during the attack: {}", self.during);
        assert!(
            self.during.max < bound,
            "a healthy request took {:?} during the attack (bound {bound:?})",
            self.during.max
        );
    }

    /// Attack rounds that got anything but `allowed`.
    pub fn unexpected(&self, allowed: &[&str]) -> Vec<(String, usize)> {
        self.rounds
            .iter()
            .filter(|(k, _)| !allowed.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Total attack rounds.
    pub fn total(&self) -> usize {
        self.rounds.values().sum()
    }
}

/// The server every attack test uses: bundled plans, the healthy tenant cached, `overrides`
/// on top of the test defaults.
pub async fn server(overrides: &[(&'static str, &'static str)]) -> TestServer {
    // The production body limit: the fixture is larger than the tests' default 4 KiB.
    let mut all = vec![("RATER_MAX_BODY_BYTES", "4194304")];
    all.extend_from_slice(overrides);
    let s = super::http_server::start(&all).await;
    s.state_api.put(HEALTHY_KEY, tenant_state("personal-auto"));
    // Warm it: the baseline must not include the first fetch.
    let l = healthy(s.addr, 5).await;
    assert_eq!(l.failed, 0, "the healthy tenant prices: {l}");
    s
}

/// Runs `name`: a baseline of `n` healthy requests, then `attack` in `parallel` loops
/// (each round returns what it got) while `n` more healthy requests are measured; prints
/// the figures and returns them.
pub async fn scenario<F, Fut>(
    s: &TestServer,
    name: &str,
    tried: &str,
    n: usize,
    parallel: usize,
    attack: F,
) -> Outcome
where
    F: Fn(SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = String> + Send + 'static,
{
    let baseline = healthy(s.addr, n).await;
    let stop = Arc::new(AtomicBool::new(false));
    let attack = Arc::new(attack);
    let mut loops = Vec::new();
    for _ in 0..parallel {
        let (stop, attack, addr) = (stop.clone(), attack.clone(), s.addr);
        loops.push(tokio::spawn(async move {
            let mut rounds: BTreeMap<String, usize> = BTreeMap::new();
            // Bounded: at most 10,000 rounds per loop even if the healthy side stalls.
            for _ in 0..10_000 {
                *rounds.entry(attack(addr).await).or_default() += 1;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            rounds
        }));
    }
    // Let the attack start before measuring.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let during = healthy(s.addr, n).await;
    stop.store(true, Ordering::Relaxed);
    let mut rounds = BTreeMap::new();
    for l in loops {
        for (k, v) in l.await.expect("attack loop") {
            *rounds.entry(k).or_default() += v;
        }
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-6);
    println!(
        "[{name}] tried: {tried}\n[{name}] attack rounds: {} -> {:?}\n[{name}] healthy before: {baseline}\n[{name}] healthy during: {during}\n[{name}] ratio during/before: p50 x{:.2}, p99 x{:.2}",
        rounds.values().sum::<usize>(),
        rounds,
        ratio(during.p50, baseline.p50),
        ratio(during.p99, baseline.p99),
    );
    Outcome {
        baseline,
        during,
        rounds,
    }
}

/// Sends `raw` on a new connection and names what came back: the status, or `closed`.
pub async fn answer_of(addr: SocketAddr, raw: &[u8]) -> String {
    let mut c = Client::connect(addr).await;
    c.write(raw).await;
    match tokio::time::timeout(Duration::from_secs(10), c.response()).await {
        Ok(Some(r)) => status_and_code(&r),
        Ok(None) => "closed".into(),
        Err(_) => "no answer in 10 s".into(),
    }
}

/// `413 payload_too_large`, or the bare status when the body is not our JSON error.
pub fn status_and_code(r: &super::http_server::Response) -> String {
    let code = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
    match code {
        Some(c) => format!("{} {c}", r.status),
        None => r.status.to_string(),
    }
}
