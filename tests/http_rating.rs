//! The service end to end: the real server on a loopback port, tenant state from a loopback
//! State API stand-in, every fixture POSTed over HTTP and compared with Socotra's answers;
//! then each bad rating input, with its status and error code, the server answering after.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::golden::{OurError, assert_all_match, cases, compare};
use support::{Mode, TestServer, post, start};

const BIG_BODIES: (&str, &str) = ("RATER_MAX_BODY_BYTES", "4194304");

fn tenant(plan: &str) -> Value {
    json!({
        "socotraApiUrl": "http://127.0.0.1:9",
        "token": format!("token-{plan}"),
        "settings": { "ratePlan": plan }
    })
}

async fn rate(s: &TestServer, key: &str, body: &[u8], extra: &str) -> support::Response {
    s.send(&post(
        "/rate",
        "application/json",
        &format!("x-smp-key: {key}\r\n{extra}"),
        body,
    ))
    .await
}

async fn server() -> TestServer {
    let s = start(&[BIG_BODIES]).await;
    s.state_api.put("ref-tenant", tenant("socotra-reference"));
    s.state_api.put("auto-tenant", tenant("personal-auto"));
    s.state_api.put("bad-plan-tenant", tenant("no-such-plan"));
    s
}

/// Every fixture over HTTP, priced by the tenant whose `ratePlan` names the plan.
#[tokio::test]
async fn every_fixture_over_http_matches_socotra_to_the_cent() {
    let s = server().await;
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in cases() {
        let key = if case.plan == "socotra-reference" {
            "ref-tenant"
        } else {
            "auto-tenant"
        };
        let body = std::fs::read(&case.request).unwrap();
        let r = rate(&s, key, &body, "").await;
        let ours = match r.status {
            200 => Ok(r.json()),
            422 => {
                let v = r.json();
                assert!(
                    v["exceptionMessage"].is_string(),
                    "422 carries exceptionMessage: {v}"
                );
                let code = r.code();
                Err(OurError {
                    unratable: true,
                    rating: [
                        "unknown_table_key",
                        "missing_input",
                        "invalid_input",
                        "unknown_peril",
                        "overflow",
                    ]
                    .contains(&code.as_str()),
                    code,
                })
            }
            other => panic!(
                "{}: status {other}: {}",
                case.request.display(),
                String::from_utf8_lossy(&r.body)
            ),
        };
        let (f, n) = compare(&case, ours);
        failures.extend(f);
        compared += n;
    }
    assert_all_match(&failures, compared);
    // One State API call per tenant, however many requests.
    assert_eq!(s.state_api.calls("ref-tenant"), 1);
    assert_eq!(s.state_api.calls("auto-tenant"), 1);
    s.stop().await;
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(support::fixtures().join(name)).unwrap()
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// Each bad rating input gets its status and error code, and the server goes on answering.
#[tokio::test]
async fn bad_rating_inputs_get_clear_errors() {
    let s = server().await;
    let nb = "rating-ec/ec-rating-request-newbusiness2.json";

    // Malformed JSON: 400 with the byte offset.
    let r = rate(&s, "auto-tenant", b"{\"policy\": {\"productName\": }", "").await;
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_json"));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at byte"),
        "{:?}",
        r.json()
    );
    s.assert_alive().await;

    // Invalid UTF-8 inside a string.
    let r = rate(&s, "auto-tenant", b"{\"operation\": \"\xff\xfe\"}", "").await;
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_json"));

    // Valid JSON, not a rating request: 400 naming the missing field.
    let r = rate(&s, "auto-tenant", b"{}", "").await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_request"));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy")
    );
    let mut req = fixture_json(nb);
    req["policy"].as_object_mut().unwrap().remove("productName");
    let r = rate(&s, "auto-tenant", &serde_json::to_vec(&req).unwrap(), "").await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_request"));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy.productName")
    );

    // Deeply nested JSON: refused by the parser's depth limit, not the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = rate(&s, "auto-tenant", deep.as_bytes(), "").await;
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_json"));
    s.assert_alive().await;

    // A locator to price that is not in the policy: 422 naming it.
    let mut req = fixture_json(nb);
    req["policyExposurePerils"][0]["perilCharacteristicsLocator"] = json!("not-a-locator");
    let r = rate(&s, "auto-tenant", &serde_json::to_vec(&req).unwrap(), "").await;
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_locator"));
    assert!(
        r.json()["exceptionMessage"]
            .as_str()
            .unwrap()
            .contains("not-a-locator")
    );

    // A duplicate locator.
    let mut req = fixture_json(nb);
    let first = req["policyExposurePerils"][0].clone();
    req["policyExposurePerils"][1] = first;
    let r = rate(&s, "auto-tenant", &serde_json::to_vec(&req).unwrap(), "").await;
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_locator"));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than once")
    );

    // An unknown table key names the table, the value and the locator.
    let r = rate(
        &s,
        "auto-tenant",
        &fixture("rating-variants/009.request.json"),
        "",
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_table_key"));
    let msg = r.json()["exceptionMessage"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("vehicle_type") && msg.contains("Hovercraft"),
        "{msg}"
    );

    // Numbers beyond decimal range or precision in a rating input.
    for bad in ["1e999999", "1234567890123456789012345678901234567890"] {
        let mut req = fixture_json(nb);
        req["policy"]["exposures"][0]["characteristics"][0]["fieldValues"]["vehicle_value"] =
            json!([bad]);
        let r = rate(&s, "auto-tenant", &serde_json::to_vec(&req).unwrap(), "").await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_input"),
            "{bad}"
        );
        assert!(
            r.json()["exceptionMessage"]
                .as_str()
                .unwrap()
                .contains("vehicle_value")
        );
    }

    // A tenant whose ratePlan setting names no loaded plan.
    let r = rate(&s, "bad-plan-tenant", &fixture(nb), "").await;
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_plan"));
    assert!(
        r.json()["exceptionMessage"]
            .as_str()
            .unwrap()
            .contains("no-such-plan")
    );

    // Unknown tenant key: 401.
    let r = rate(&s, "who-is-this", &fixture(nb), "").await;
    assert_eq!((r.status, r.code().as_str()), (401, "unknown_key"));

    s.assert_alive().await;
    // Good requests still price after all of that.
    let r = rate(&s, "ref-tenant", &fixture(nb), "").await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

/// With the State API failing and nothing cached: 503 with Retry-After; cached tenants are
/// still served.
#[tokio::test]
async fn state_api_down_is_503_with_retry_after_for_uncached_tenants() {
    let s = server().await;
    let nb = fixture("rating-ec/ec-rating-request-newbusiness2.json");
    assert_eq!(rate(&s, "ref-tenant", &nb, "").await.status, 200);
    s.state_api.put("new-tenant", tenant("socotra-reference"));
    s.state_api.set_mode(Mode::Status(503));
    let r = rate(&s, "new-tenant", &nb, "").await;
    assert_eq!((r.status, r.code().as_str()), (503, "tenant_unavailable"));
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // The cached tenant is unaffected.
    assert_eq!(rate(&s, "ref-tenant", &nb, "").await.status, 200);
    s.state_api.set_mode(Mode::Normal);
    // Recovery is automatic once the error back-off has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(rate(&s, "new-tenant", &nb, "").await.status, 200);
    s.stop().await;
}

/// `x-rater-explain: 1` returns the trace beside the prices; without it, none.
#[tokio::test]
async fn explain_on_demand() {
    let s = server().await;
    let nb = fixture("rating-ec/ec-rating-request-newbusiness2.json");
    let plain = rate(&s, "auto-tenant", &nb, "").await.json();
    assert!(plain.get("explain").is_none());
    let explained = rate(&s, "auto-tenant", &nb, "x-rater-explain: 1\r\n")
        .await
        .json();
    assert_eq!(
        explained["pricedPerilCharacteristics"],
        plain["pricedPerilCharacteristics"]
    );
    let trace = explained["explain"]["6e9b2383-b437-46ba-9ea8-de9f7e037fbf"]
        .as_array()
        .unwrap();
    let text: Vec<&str> = trace.iter().filter_map(Value::as_str).collect();
    assert!(
        text.iter()
            .any(|l| l.contains("table vehicle_type") && l.contains("line")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|l| l.starts_with("yearlyPremium:")),
        "{text:?}"
    );
    s.stop().await;
}

/// Lifecycle hooks reach the cache: start warms (one State API call before any rating),
/// stop forgets (the next request fetches again).
#[tokio::test]
async fn lifecycle_hooks_warm_and_forget() {
    let s = server().await;
    let start = "GET /_app/start?route=https%3A%2F%2Fx HTTP/1.1\r\nHost: t\r\nx-smp-key: ref-tenant\r\n\r\n";
    assert_eq!(s.send(start.as_bytes()).await.status, 204);
    for _ in 0..100 {
        if s.state_api.calls("ref-tenant") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        s.state_api.calls("ref-tenant"),
        1,
        "start warmed the tenant"
    );
    let nb = fixture("rating-ec/ec-rating-request-newbusiness2.json");
    assert_eq!(rate(&s, "ref-tenant", &nb, "").await.status, 200);
    assert_eq!(
        s.state_api.calls("ref-tenant"),
        1,
        "served from the warmed entry"
    );
    let stop = "GET /_app/stop?route=x HTTP/1.1\r\nHost: t\r\nx-smp-key: ref-tenant\r\n\r\n";
    assert_eq!(s.send(stop.as_bytes()).await.status, 200);
    assert_eq!(s.send(stop.as_bytes()).await.status, 200, "idempotent");
    assert_eq!(rate(&s, "ref-tenant", &nb, "").await.status, 200);
    assert_eq!(s.state_api.calls("ref-tenant"), 2, "stop dropped the entry");
    s.stop().await;
}

/// A body that arrives in many pieces (hyper hands it over as several frames, which the
/// server gathers into one buffer) is priced exactly like one that arrives at once (passed
/// on as hyper's own buffer): chunked, and with a `Content-Length`, each piece written
/// after the server has read the last.
#[tokio::test]
async fn a_body_in_many_frames_is_priced_like_one_in_one() {
    let s = server().await;
    let body =
        std::fs::read(support::fixtures().join("rating-ec/ec-rating-request-endorsement1.json"))
            .unwrap();
    let whole = rate(&s, "auto-tenant", &body, "").await;
    assert_eq!(
        whole.status,
        200,
        "{}",
        String::from_utf8_lossy(&whole.body)
    );
    let pieces: Vec<&[u8]> = body.chunks(4096).collect();
    assert!(pieces.len() > 8);

    let mut c = s.connect().await;
    c.write(
        b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          x-smp-key: auto-tenant\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    for piece in &pieces {
        c.write(format!("{:x}\r\n", piece.len()).as_bytes()).await;
        c.write(piece).await;
        c.write(b"\r\n").await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    c.write(b"0\r\n\r\n").await;
    let chunked = c.response().await.expect("an answer to the chunked body");
    assert_eq!(chunked.status, 200);
    assert_eq!(chunked.json(), whole.json());

    let mut c = s.connect().await;
    c.write(
        format!(
            "POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             x-smp-key: auto-tenant\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    for piece in &pieces {
        c.write(piece).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let sized = c
        .response()
        .await
        .expect("an answer to the body sent in pieces");
    assert_eq!(sized.status, 200);
    assert_eq!(sized.json(), whole.json());
    s.stop().await;
}
