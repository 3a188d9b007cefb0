//! Routes and bad inputs against the real server on a loopback port: every bad input gets
//! its status and error code, and the server still answers afterwards.

mod support;

use serde_json::json;
use support::{TestServer, get, post, start, start_with};

/// Room for the real fixtures (the test servers' default limit is 4 KiB).
const BIG_BODIES: (&str, &str) = ("RATER_MAX_BODY_BYTES", "1048576");

/// A State API answer that binds the tenant to the `socotra-reference` plan.
fn reference_tenant() -> serde_json::Value {
    json!({ "socotraApiUrl": "http://127.0.0.1:9", "settings": { "ratePlan": "socotra-reference" } })
}

fn newbusiness2() -> Vec<u8> {
    std::fs::read(support::fixtures().join("rating-ec/ec-rating-request-newbusiness2.json"))
        .unwrap()
}

/// A raw `POST /rate` of `body` with exactly the header lines `headers` (each ending in
/// `\r\n`) besides `Host` and `Content-Length`.
fn raw_rate(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST /rate HTTP/1.1\r\nHost: test\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// `/metrics` as text.
async fn metrics(s: &TestServer) -> String {
    String::from_utf8(s.send(&get("/metrics")).await.body).unwrap()
}

/// `/health` always answers; `/ready` once plans are loaded.
#[tokio::test]
async fn health_and_ready() {
    let s = start(&[]).await;
    let r = s.send(&get("/health")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = s.send(&get("/ready")).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

/// `GET /` answers 200 as the platform's sample apps do (some probes ask for it); it is
/// counted under its own route, and only `GET` is allowed there.
#[tokio::test]
async fn root_answers_200() {
    let s = start(&[]).await;
    let r = s.send(&get("/")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = s.send(&post("/", "application/json", "", b"{}")).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    let text = metrics(&s).await;
    assert!(
        text.contains("rater_http_requests_total{route=\"root\",status=\"200\"} 1"),
        "{text}"
    );
    s.stop().await;
}

/// Before plans are loaded `/health` is 200 but `/ready` and the rater answer 503.
#[tokio::test]
async fn not_ready_until_plans_are_loaded() {
    let s = start_with(&[], false).await;
    assert_eq!(s.send(&get("/health")).await.status, 200);
    let r = s.send(&get("/ready")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.code(), "not_ready");
    let r = s.send(&post("/rate", "application/json", "", b"{}")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    s.stop().await;
}

/// Unknown path 404; wrong method 405 with `Allow`.
#[tokio::test]
async fn not_found_and_method_not_allowed() {
    let s = start(&[]).await;
    let r = s.send(&get("/nope")).await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
    let r = s.send(&get("/rate")).await;
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    assert_eq!(r.header("allow"), Some("POST"));
    let r = s
        .send(&post("/health", "application/json", "", b"{}"))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    s.assert_alive().await;
    s.stop().await;
}

/// The rate path is configurable.
#[tokio::test]
async fn configured_rate_path() {
    let s = start(&[("RATER_RATE_PATH", "/v1/price")]).await;
    let r = s
        .send(&post("/v1/price", "application/json", "", b"{}"))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        s.send(&post("/rate", "application/json", "", b"{}"))
            .await
            .status,
        404
    );
    s.stop().await;
}

/// Lifecycle hooks answer 2xx at once, every time.
#[tokio::test]
async fn lifecycle_hooks_are_idempotent() {
    let s = start(&[]).await;
    for _ in 0..2 {
        let r = s
            .send(&get("/_app/start?route=https%3A%2F%2Fx.example"))
            .await;
        assert_eq!(r.status, 204);
        let r = s
            .send(&get("/_app/stop?route=https%3A%2F%2Fx.example"))
            .await;
        assert_eq!(r.status, 200);
    }
    s.stop().await;
}

/// A body that is not declared JSON: 415. `charset` parameters are fine.
#[tokio::test]
async fn unsupported_media_type() {
    let s = start(&[]).await;
    let r = s.send(&post("/rate", "text/plain", "", b"{}")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );
    let r = s
        .send(&post("/rate", "application/json; charset=utf-8", "", b"{}"))
        .await;
    assert_eq!(
        r.status, 401,
        "charset parameter accepted, then the key is checked"
    );
    s.assert_alive().await;
    s.stop().await;
}

/// A rating request without `Content-Type` is read as JSON (nothing documented says Socotra
/// sends one): it is priced, with the same answer as when declared; the same body declared
/// as another type is still refused.
#[tokio::test]
async fn no_content_type_is_read_as_json() {
    let s = start(&[BIG_BODIES]).await;
    s.state_api.put("ref-tenant", reference_tenant());
    let body = newbusiness2();
    let bare = s.send(&raw_rate("x-smp-key: ref-tenant\r\n", &body)).await;
    assert_eq!(bare.status, 200, "{}", String::from_utf8_lossy(&bare.body));
    let priced = bare.json()["pricedPerilCharacteristics"].clone();
    assert!(
        priced.as_object().is_some_and(|p| !p.is_empty()),
        "{priced}"
    );
    let declared = s
        .send(&post(
            "/rate",
            "application/json",
            "x-smp-key: ref-tenant\r\n",
            &body,
        ))
        .await;
    assert_eq!(declared.status, 200);
    assert_eq!(bare.body, declared.body);
    let r = s
        .send(&post(
            "/rate",
            "text/plain",
            "x-smp-key: ref-tenant\r\n",
            &body,
        ))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );
    s.stop().await;
}

/// Two `x-smp-key` lines are refused with 400 `duplicate_key` whatever their values (two
/// tenants, the same key twice, the name spelt in two cases), before any State API call and
/// on every route; `/metrics` counts them by that code. Taking the first value would price
/// the tenant a router appended its key after, not the router's.
#[tokio::test]
async fn duplicate_key_header_is_400() {
    let s = start(&[BIG_BODIES]).await;
    s.state_api.put("tenant-a", reference_tenant());
    s.state_api.put("tenant-b", reference_tenant());
    let body = newbusiness2();
    // Each key alone prices: the refusals below are for the duplication, not the keys.
    for key in ["tenant-a", "tenant-b"] {
        let headers = format!("Content-Type: application/json\r\nx-smp-key: {key}\r\n");
        assert_eq!(s.send(&raw_rate(&headers, &body)).await.status, 200);
    }
    let calls = s.state_api.total_calls();
    for keys in [
        "x-smp-key: tenant-a\r\nx-smp-key: tenant-b\r\n",
        "x-smp-key: tenant-a\r\nx-smp-key: tenant-a\r\n",
        "X-SMP-Key: tenant-b\r\nx-smp-key: tenant-a\r\n",
        "x-smp-key: tenant-a\r\nContent-Type: application/json\r\nx-smp-key: never-seen\r\n",
    ] {
        let r = s.send(&raw_rate(keys, &body)).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "duplicate_key"),
            "{keys:?}"
        );
        let v = r.json();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("x-smp-key"), "{message}");
        assert!(v.get("exceptionMessage").is_none(), "{v}");
    }
    // The lifecycle hooks act on the key too (warm, forget): refused the same way.
    let hook =
        "GET /_app/stop HTTP/1.1\r\nHost: t\r\nx-smp-key: tenant-a\r\nx-smp-key: tenant-b\r\n\r\n";
    let r = s.send(hook.as_bytes()).await;
    assert_eq!((r.status, r.code().as_str()), (400, "duplicate_key"));
    assert_eq!(s.state_api.total_calls(), calls, "no State API call");
    assert_eq!(s.state_api.calls("never-seen"), 0);
    let text = metrics(&s).await;
    assert!(
        text.contains("rater_http_errors_total{code=\"duplicate_key\"} 5"),
        "{text}"
    );
    assert!(
        text.contains("rater_http_requests_total{route=\"rate\",status=\"400\"} 4"),
        "{text}"
    );
    assert!(!text.contains("tenant-a"), "no key in a label");
    s.assert_alive().await;
    s.stop().await;
}

/// The stub tenant cache knows no key: 401 with the tenant error's code.
#[tokio::test]
async fn missing_key_is_401() {
    let s = start(&[]).await;
    let r = s.send(&post("/rate", "application/json", "", b"{}")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "missing_key");
    assert!(r.json().get("exceptionMessage").is_none());
    s.assert_alive().await;
    s.stop().await;
}

/// A key header that is not text is refused as an invalid key without asking the cache.
#[tokio::test]
async fn non_text_key_is_401_invalid_key() {
    let s = start(&[]).await;
    let mut raw = b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                    Content-Length: 2\r\nx-smp-key: \xff\xfe\r\n\r\n{}"
        .to_vec();
    let r = s.send(&raw).await;
    assert_eq!((r.status, r.code().as_str()), (401, "invalid_key"));
    raw.clear();
    s.assert_alive().await;
    s.stop().await;
}

/// A declared `Content-Length` over the limit is refused before the body is read.
#[tokio::test]
async fn too_large_by_content_length() {
    let s = start(&[("RATER_MAX_BODY_BYTES", "1024")]).await;
    let mut c = s.connect().await;
    // Only the head: the answer must not wait for the 5000 bytes.
    c.write(
        b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 5000\r\n\r\n",
    )
    .await;
    let r = c.response().await.expect("413 before the body");
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
    s.assert_alive().await;
    s.stop().await;
}

/// A chunked body is refused as soon as it grows past the limit.
#[tokio::test]
async fn too_large_by_chunked_body() {
    let s = start(&[("RATER_MAX_BODY_BYTES", "1024")]).await;
    let mut c = s.connect().await;
    c.write(
        b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    let chunk = format!("200\r\n{}\r\n", "x".repeat(0x200));
    for _ in 0..3 {
        c.write(chunk.as_bytes()).await;
    }
    // No terminating chunk: the answer comes from the limit, not the end of the body.
    let r = c.response().await.expect("413 while streaming");
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
    s.assert_alive().await;
    s.stop().await;
}

/// A chunked body under the limit is read whole (then the stub tenant answers 401).
#[tokio::test]
async fn chunked_body_under_the_limit() {
    let s = start(&[]).await;
    let r = s
        .send(
            b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
        )
        .await;
    assert_eq!(r.status, 401);
    s.stop().await;
}

/// A broken chunked framing is a 400, not a crash.
#[tokio::test]
async fn broken_chunked_body_is_400() {
    let s = start(&[]).await;
    let r = s
        .send(
            b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_body"));
    s.assert_alive().await;
    s.stop().await;
}

/// `/metrics` counts requests by route and status and errors by code, in Prometheus text.
#[tokio::test]
async fn metrics_count_routes_and_errors() {
    let s = start(&[]).await;
    s.send(&get("/health")).await;
    s.send(&post(
        "/rate",
        "application/json",
        "x-smp-key: secret-key-123\r\n",
        b"{}",
    ))
    .await;
    let r = s.send(&get("/metrics")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(r.body).unwrap();
    assert!(
        text.contains("rater_http_requests_total{route=\"health\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("rater_http_requests_total{route=\"rate\",status=\"401\"} 1"),
        "{text}"
    );
    assert!(text.contains(
        "rater_http_request_duration_seconds_bucket{route=\"rate\",status=\"401\",le=\"+Inf\"} 1"
    ));
    // The stand-in does not know the key: one State API call, a miss, a 404.
    assert!(
        text.contains("rater_http_errors_total{code=\"unknown_key\"} 1"),
        "{text}"
    );
    assert!(text.contains("rater_tenant_cache_misses_total 1"), "{text}");
    assert!(text.contains("rater_state_api_unknown_total 1"), "{text}");
    assert_eq!(s.state_api.calls("secret-key-123"), 1);
    assert!(!text.contains("secret-key-123"));
    s.stop().await;
}

/// Many requests on one keep-alive connection.
#[tokio::test]
async fn keep_alive_serves_many_requests() {
    let s = start(&[]).await;
    let mut c = s.connect().await;
    for _ in 0..20 {
        c.write(&get("/health")).await;
        assert_eq!(c.response().await.unwrap().status, 200);
    }
    s.stop().await;
}
