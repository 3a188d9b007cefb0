//! A whole session against the real server, good requests and every kind of failing one
//! (unknown and invalid keys, bad JSON, rating errors, the State API answering 500, 503,
//! hanging, sending malformed or oversized state, background refreshes failing), with a
//! recognisable token, password setting and tenant key. Every log line (TRACE, all targets,
//! dependencies included) and every response (status line, headers, body) is captured and
//! searched: none of the three may appear anywhere.
//!
//! One test in this file: it installs the process-wide `tracing` subscriber, so the
//! server's tasks on every worker thread log into the capture.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{LogBuffer, Mode, TestServer, get, post, start};

const KEY: &str = "key-SESSION-5b3e1f";
const TOKEN: &str = "tok-SESSION-7d1e9a";
const PASSWORD: &str = "pw-SESSION-c4f2b8";

fn state(plan: &str) -> serde_json::Value {
    json!({
        "socotraApiUrl": "http://127.0.0.1:9",
        "tenantHostName": "session.local",
        "token": TOKEN,
        "settings": {
            "ratePlan": plan,
            "password-setting": PASSWORD,
            // A secret that is also a plausible plan name must not leak through the
            // "unknown plan" message either: it is a password, never read as ratePlan.
            "db-password": PASSWORD
        },
        "mappings": [{
            "productName": "personal-auto",
            "fields": { "broken": "$.nothing", "vehicle_value": "$[?(@.name=='personal-auto')].policyConfiguration.exposures[?(@.name=='vehicle')].fields[?(@.name=='vehicle_value')]" }
        }]
    })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(support::fixtures().join(name)).unwrap()
}

/// Everything the client saw.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn send(&mut self, s: &TestServer, what: &str, raw: &[u8]) -> u16 {
        let r = s.send(raw).await;
        let mut text = format!("{what}: {}\n", r.status);
        for (k, v) in &r.headers {
            text.push_str(&format!("{k}: {v}\n"));
        }
        text.push_str(&String::from_utf8_lossy(&r.body));
        self.0.push(text);
        r.status
    }
}

fn rate(key: &str, body: &[u8], extra: &str) -> Vec<u8> {
    post(
        "/rate",
        "application/json",
        &format!("x-smp-key: {key}\r\n{extra}"),
        body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_password_or_key_in_any_log_line_or_response() {
    let logs = LogBuffer::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish(),
    )
    .expect("the only subscriber of this test binary");

    let s = start(&[
        ("RATER_MAX_BODY_BYTES", "4194304"),
        ("RATER_TENANT_TTL_SECS", "1"),
        ("RATER_TENANT_STALE_IF_ERROR_SECS", "60"),
        ("RATER_TENANT_ERROR_BACKOFF_MS", "100"),
        ("RATER_STATE_TIMEOUT_MS", "300"),
        ("RATER_STATE_CONNECT_TIMEOUT_MS", "200"),
        ("RATER_STATE_MAX_BYTES", "65536"),
    ])
    .await;
    s.state_api.put(KEY, state("personal-auto"));
    let bad_plan_key = format!("{KEY}-badplan");
    s.state_api.put(&bad_plan_key, state("no-such-plan"));
    let nb = fixture("rating-ec/ec-rating-request-newbusiness2.json");
    let mut seen = Seen::default();
    let mut statuses = Vec::new();

    // Good requests: plain, with the engine's trace, the lifecycle hooks, metrics.
    let start_hook = format!("GET /_app/start HTTP/1.1\r\nHost: t\r\nx-smp-key: {KEY}\r\n\r\n");
    statuses.push(seen.send(&s, "start", start_hook.as_bytes()).await);
    statuses.push(seen.send(&s, "rate", &rate(KEY, &nb, "")).await);
    statuses.push(
        seen.send(&s, "explain", &rate(KEY, &nb, "x-rater-explain: 1\r\n"))
            .await,
    );
    // Failing requests, each with the secret-bearing tenant's key.
    statuses.push(
        seen.send(&s, "bad json", &rate(KEY, b"{\"policy\": ", ""))
            .await,
    );
    statuses.push(seen.send(&s, "not a request", &rate(KEY, b"{}", "")).await);
    statuses.push(
        seen.send(
            &s,
            "unknown table key",
            &rate(KEY, &fixture("rating-variants/009.request.json"), ""),
        )
        .await,
    );
    statuses.push(
        seen.send(&s, "unknown plan", &rate(&bad_plan_key, &nb, ""))
            .await,
    );
    statuses.push(
        seen.send(&s, "unknown key", &rate(&format!("{KEY}-nobody"), &nb, ""))
            .await,
    );
    statuses.push(
        seen.send(&s, "key with a space", &rate(&format!("{KEY} x"), &nb, ""))
            .await,
    );
    statuses.push(
        seen.send(
            &s,
            "wrong content type",
            &post("/rate", "text/plain", &format!("x-smp-key: {KEY}\r\n"), &nb),
        )
        .await,
    );
    // The State API failing, for new keys (503) and for the cached tenant's background
    // refresh (stale answers, failures logged). Past the 1 s TTL every request for the
    // cached tenant starts a refresh once the 100 ms back-off has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (i, mode) in [
        Mode::Status(500),
        Mode::Status(503),
        Mode::Hang,
        Mode::Malformed,
        Mode::Oversized {
            bytes: 1 << 20,
            chunked: true,
        },
        Mode::UnknownKey,
    ]
    .into_iter()
    .enumerate()
    {
        s.state_api
            .put(&format!("{KEY}-new{i}"), state("personal-auto"));
        s.state_api.set_mode(mode.clone());
        tokio::time::sleep(Duration::from_millis(150)).await;
        let what = format!("{mode:?}");
        statuses.push(
            seen.send(&s, &format!("cached, {what}"), &rate(KEY, &nb, ""))
                .await,
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        statuses.push(
            seen.send(
                &s,
                &format!("new key, {what}"),
                &rate(&format!("{KEY}-new{i}"), &nb, ""),
            )
            .await,
        );
    }
    s.state_api.set_mode(Mode::Normal);
    // State whose token has the wrong type (a parse error must not quote it).
    let odd = format!("{KEY}-odd");
    s.state_api.put(
        &odd,
        json!({"token": {"value": TOKEN}, "settings": {"p": PASSWORD}}),
    );
    statuses.push(seen.send(&s, "malformed token", &rate(&odd, &nb, "")).await);
    statuses.push(seen.send(&s, "metrics", &get("/metrics")).await);
    let stop_hook = format!("GET /_app/stop HTTP/1.1\r\nHost: t\r\nx-smp-key: {KEY}\r\n\r\n");
    statuses.push(seen.send(&s, "stop", stop_hook.as_bytes()).await);
    s.stop().await;

    // The session covered successes and 4xx/5xx of each kind.
    for want in [200, 204, 400, 401, 415, 422, 503] {
        assert!(statuses.contains(&want), "no {want} in {statuses:?}");
    }
    let logged = logs.contents();
    assert!(
        logged.contains("tenant state fetch failed"),
        "the failures were logged"
    );
    let lines = logged.lines().count();
    let mut hits = Vec::new();
    for needle in [TOKEN, PASSWORD, KEY] {
        for line in logged.lines().filter(|l| l.contains(needle)) {
            hits.push(format!("log: {line}"));
        }
        for r in seen.0.iter().filter(|r| r.contains(needle)) {
            hits.push(format!("response: {r}"));
        }
    }
    println!(
        "[secrets] {} requests, statuses {statuses:?}; {lines} log lines and {} responses searched for the token, the password and the key: {} hits",
        statuses.len(),
        seen.0.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "secrets shown:\n{}", hits.join("\n"));
}
