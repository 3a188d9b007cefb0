//! Hostile rating inputs, repeated while a healthy tenant prices a real fixture: numbers out
//! of decimal range or precision (as strings and as raw JSON numbers), invalid UTF-8 in
//! values, keys and locators, duplicate locators, locators not in the policy, and a
//! maximum-size request with thousands of perils. Each gets its 4xx; others are unaffected.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::attack::{HEALTHY_KEY, answer_of, healthy_body, scenario, server};
use support::post;

const BOUND: Duration = Duration::from_secs(2);

fn fixture() -> Value {
    serde_json::from_slice(&healthy_body()).unwrap()
}

fn raw(body: &[u8]) -> Vec<u8> {
    post(
        "/rate",
        "application/json",
        &format!("x-smp-key: {HEALTHY_KEY}\r\n"),
        body,
    )
}

/// The fixture with `vehicle_value` set to the raw JSON text `value` (so it can be a number
/// literal no JSON library would write, or bytes that are not UTF-8).
fn with_vehicle_value(value: &[u8]) -> Vec<u8> {
    let mut req = fixture();
    req["policy"]["exposures"][0]["characteristics"][0]["fieldValues"]["vehicle_value"] =
        json!(["@@VALUE@@"]);
    let text = serde_json::to_vec(&req).unwrap();
    splice(&text, b"\"@@VALUE@@\"", value)
}

fn splice(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let at = hay
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("marker present");
    [&hay[..at], with, &hay[at + needle.len()..]].concat()
}

/// Each bad input, with the answer it must get.
fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut out = vec![
        (
            "1e999999 as a string",
            with_vehicle_value(b"\"1e999999\""),
            "422 invalid_input",
        ),
        (
            "40-digit decimal as a string",
            with_vehicle_value(b"\"1234567890123456789012345678901234567890\""),
            "422 invalid_input",
        ),
        (
            "40-digit decimal with a fraction as a string",
            with_vehicle_value(b"\"0.1234567890123456789012345678901234567890\""),
            "422 invalid_input",
        ),
        (
            "1e999999 as a raw JSON number",
            with_vehicle_value(b"1e999999"),
            "400 malformed_json",
        ),
        (
            "40-digit raw JSON integer",
            with_vehicle_value(b"1234567890123456789012345678901234567890"),
            "400 malformed_json",
        ),
        (
            "invalid UTF-8 in a field value",
            with_vehicle_value(b"\"\xff\xfe\xc0\x80\""),
            "400 malformed_json",
        ),
        (
            "a lone surrogate escape in a field value",
            with_vehicle_value(b"\"\\ud800\""),
            "400 malformed_json",
        ),
    ];
    // Invalid UTF-8 in an object key and in the locator to price.
    let text = serde_json::to_vec(&fixture()).unwrap();
    out.push((
        "invalid UTF-8 in an object key",
        splice(&text, b"\"policy\"", b"\"pol\xffcy\""),
        "400 malformed_json",
    ));
    let mut req = fixture();
    let loc = req["policyExposurePerils"][0]["perilCharacteristicsLocator"]
        .as_str()
        .unwrap()
        .to_owned();
    req["policyExposurePerils"][0]["perilCharacteristicsLocator"] = json!("@@LOC@@");
    out.push((
        "invalid UTF-8 in a locator",
        splice(
            &serde_json::to_vec(&req).unwrap(),
            b"\"@@LOC@@\"",
            b"\"\xe2\x28\xa1\"",
        ),
        "400 malformed_json",
    ));
    // Duplicate locators: twice, and 5,000 times (the hash-set path).
    let mut req = fixture();
    let first = req["policyExposurePerils"][0].clone();
    req["policyExposurePerils"][1] = first.clone();
    out.push((
        "a locator listed twice",
        serde_json::to_vec(&req).unwrap(),
        "422 unknown_locator",
    ));
    req["policyExposurePerils"] = Value::Array(vec![first; 5_000]);
    out.push((
        "a locator listed 5,000 times",
        serde_json::to_vec(&req).unwrap(),
        "422 unknown_locator",
    ));
    // Locators not in the policy: peril, exposure and policy characteristic.
    for (field, what) in [
        (
            "perilCharacteristicsLocator",
            "a peril locator not in the policy",
        ),
        (
            "exposureCharacteristicsLocator",
            "an exposure locator not in the policy",
        ),
        (
            "policyCharacteristicsLocator",
            "a policy locator not in the policy",
        ),
    ] {
        let mut req = fixture();
        req["policyExposurePerils"][0][field] = json!(format!("{loc}-not-here"));
        out.push((
            what,
            serde_json::to_vec(&req).unwrap(),
            "422 unknown_locator",
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rating_inputs_get_4xx_and_others_unaffected() {
    let s = server(&[("RATER_MAX_BODY_BYTES", "4194304")]).await;
    let cases = cases();
    // Each input once, for the record.
    for (what, body, want) in &cases {
        let got = answer_of(s.addr, &raw(body)).await;
        println!("[bad-inputs] {what}: {got}");
        assert_eq!(&got, want, "{what}");
    }
    let all: Vec<(String, Vec<u8>)> = cases
        .iter()
        .map(|(w, b, want)| (format!("{w} -> {want}"), raw(b)))
        .collect();
    let expected: Vec<String> = cases
        .iter()
        .map(|(w, _, want)| format!("{w} -> {want}"))
        .collect();
    let out = scenario(
        &s,
        "bad-inputs",
        &format!(
            "{} bad rating inputs, each round sends all of them",
            cases.len()
        ),
        200,
        2,
        move |addr| {
            let all = all.clone();
            async move {
                let mut wrong = Vec::new();
                for (label, raw) in &all {
                    let got = answer_of(addr, raw).await;
                    if !label.ends_with(&got) {
                        wrong.push(format!("{label} but got {got}"));
                    }
                }
                if wrong.is_empty() {
                    "all as expected".into()
                } else {
                    wrong.join("; ")
                }
            }
        },
    )
    .await;
    assert_eq!(out.unexpected(&["all as expected"]), [], "{expected:?}");
    out.assert_healthy(BOUND);
    s.stop().await;
}

/// A request at the 4 MiB body limit made of thousands of peril characteristics, every one
/// to price: linear work, answered in bounded time, others unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_size_request_with_thousands_of_perils() {
    let s = server(&[("RATER_MAX_BODY_BYTES", "4194304")]).await;
    let mut req = fixture();
    let exposure = req["policy"]["exposures"][0].clone();
    let peril = exposure["perils"][0].clone();
    let pc = peril["characteristics"][0].clone();
    let template = req["policyExposurePerils"][0].clone();
    // One exposure holding N perils, each with one characteristic, all priced, listed in
    // reverse so a linear search per triplet would scan them all.
    let n = 2_500;
    let mut perils = Vec::with_capacity(n);
    let mut triplets = Vec::with_capacity(n);
    for i in 0..n {
        let mut p = peril.clone();
        let mut c = pc.clone();
        c["locator"] = json!(format!("pc-{i}"));
        p["characteristics"] = json!([c]);
        perils.push(p);
        let mut t = template.clone();
        t["perilCharacteristicsLocator"] = json!(format!("pc-{}", n - 1 - i));
        triplets.push(t);
    }
    let mut e = exposure.clone();
    e["perils"] = Value::Array(perils);
    req["policy"]["exposures"] = json!([e]);
    req["policyExposurePerils"] = Value::Array(triplets);
    let body = serde_json::to_vec(&req).unwrap();
    assert!(body.len() < 4 << 20, "{} bytes", body.len());
    let t = Instant::now();
    let got = answer_of(s.addr, &raw(&body)).await;
    let one = t.elapsed();
    println!(
        "[many-perils] {n} peril characteristics in {} bytes: {got} in {one:?}",
        body.len()
    );
    assert_eq!(got, "200");
    let raw_body = raw(&body);
    let out = scenario(
        &s,
        "many-perils",
        &format!(
            "{n} peril characteristics to price in one {} byte request",
            body.len()
        ),
        200,
        1,
        move |addr| {
            let raw_body = raw_body.clone();
            async move { answer_of(addr, &raw_body).await }
        },
    )
    .await;
    assert_eq!(out.unexpected(&["200"]), []);
    // Looser: while a huge request is priced on a worker, a healthy one may wait for it.
    out.assert_healthy(Duration::from_secs(5));
    s.stop().await;
}
