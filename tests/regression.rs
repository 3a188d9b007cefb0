//! Regression tests for bugs found by fuzzing and by the attack scenarios, each named after
//! what it was. (Bugs whose natural home is another suite are pinned there; docs/RELIABILITY.md
//! lists every one with its test.)

mod support;

use std::time::{Duration, Instant};

use rater::plan::Selector;
use rater::pricing::{PriceOptions, price_request};
use serde_json::{Value, json};

fn fixture() -> Value {
    serde_json::from_slice(
        &std::fs::read(support::fixtures().join("rating-ec/ec-rating-request-newbusiness2.json"))
            .unwrap(),
    )
    .unwrap()
}

/// A request whose one peril holds `n` characteristics, all listed to price in reverse
/// order (the worst case for a scan).
fn many_perils(n: usize) -> Vec<u8> {
    let mut req = fixture();
    let full = &req["policy"]["exposures"][0]["perils"][0]["characteristics"][0];
    // Only what rating reads: small characteristics make the scan, not parsing, dominate.
    let pc = json!({
        "coverageStartTimestamp": full["coverageStartTimestamp"],
        "coverageEndTimestamp": full["coverageEndTimestamp"],
        "fieldValues": full["fieldValues"],
    });
    let chars: Vec<Value> = (0..n)
        .map(|i| {
            let mut c = pc.clone();
            c["locator"] = json!(format!("pc-{i}"));
            c
        })
        .collect();
    req["policy"]["exposures"][0]["perils"][0]["characteristics"] = Value::Array(chars);
    req["policy"]["exposures"] = json!([req["policy"]["exposures"][0].clone()]);
    req["policyExposurePerils"] = Value::Array(
        (0..n)
            .map(|i| json!({"perilCharacteristicsLocator": format!("pc-{}", n - 1 - i)}))
            .collect(),
    );
    serde_json::to_vec(&req).unwrap()
}

fn price(body: &[u8]) -> Result<Value, String> {
    let selector = Selector::fixed(support::bundled("personal-auto"));
    let mut out = Vec::new();
    price_request(&selector, body, &mut out, PriceOptions::default())
        .map_err(|e| format!("{} {e}", e.code()))?;
    Ok(serde_json::from_slice(&out).unwrap())
}

/// Found by the attack scenarios: each triplet's peril characteristic was found by scanning
/// the whole policy, so a 4 MiB request with ~20,000 perils to price cost a worker thread
/// 0.46 s of CPU (quadratic: 10,000 took 0.16 s). Now locators are indexed once per request.
/// Timed as a ratio (doubling the perils must not much more than double the time), the best
/// of three runs each, so the noisy machine cannot fail it.
#[test]
fn many_triplets_resolve_in_linear_time() {
    let time = |n: usize, runs: usize| {
        let body = many_perils(n);
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let v = price(&body).expect("prices");
                assert_eq!(
                    v["pricedPerilCharacteristics"].as_object().unwrap().len(),
                    n
                );
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    // 16x the perils: linear work takes ~16x the time, the old scan far more (measured in a
    // debug build: 17x with the index, 72x without).
    let small = time(1_000, 5);
    let large = time(16_000, 2);
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    println!(
        "1,000 perils: {small:?}; 16,000 perils: {large:?}; ratio {ratio:.1} (linear: 16, quadratic: 256)"
    );
    assert!(ratio < 30.0, "16x the perils took {ratio:.1}x the time");
    assert!(large < Duration::from_secs(60));
}

/// The index must find what the scan finds: the first peril characteristic with a locator,
/// in policy order, when a policy (wrongly) repeats one across exposures; and it must refuse
/// the same unknown locators.
#[test]
fn indexed_resolution_matches_the_scan() {
    let mut req = fixture();
    let mut second = req["policy"]["exposures"][0].clone();
    // The same peril locator in a second exposure whose vehicle is worth much more.
    second["characteristics"][0]["fieldValues"]["vehicle_value"] = json!(["900000"]);
    second["characteristics"][0]["locator"] = json!("second-exposure-char");
    req["policy"]["exposures"] = json!([req["policy"]["exposures"][0].clone(), second]);
    let triplet = req["policyExposurePerils"][0].clone();
    let loc = triplet["perilCharacteristicsLocator"]
        .as_str()
        .unwrap()
        .to_owned();

    // One triplet: the scan.
    req["policyExposurePerils"] = json!([triplet.clone()]);
    let scanned = price(&serde_json::to_vec(&req).unwrap()).expect("prices");
    // The same triplet among 40 (the index), the others naming peril characteristics that
    // exist only in the padding exposure.
    let mut pad = req["policy"]["exposures"][0].clone();
    let pc = pad["perils"][0]["characteristics"][0].clone();
    pad["perils"][0]["characteristics"] = Value::Array(
        (0..39)
            .map(|i| {
                let mut c = pc.clone();
                c["locator"] = json!(format!("pad-{i}"));
                c
            })
            .collect(),
    );
    pad["characteristics"][0]["locator"] = json!("pad-exposure-char");
    req["policy"]["exposures"].as_array_mut().unwrap().push(pad);
    let mut triplets = vec![triplet.clone()];
    triplets.extend((0..39).map(|i| json!({"perilCharacteristicsLocator": format!("pad-{i}")})));
    req["policyExposurePerils"] = Value::Array(triplets.clone());
    let indexed = price(&serde_json::to_vec(&req).unwrap()).expect("prices");
    assert_eq!(
        scanned["pricedPerilCharacteristics"][&loc],
        indexed["pricedPerilCharacteristics"][&loc]
    );
    // An unknown locator among many: the same error as among few.
    triplets[20] = json!({"perilCharacteristicsLocator": "nowhere"});
    req["policyExposurePerils"] = Value::Array(triplets);
    let err = price(&serde_json::to_vec(&req).unwrap()).unwrap_err();
    assert!(
        err.starts_with("unknown_locator") && err.contains("nowhere"),
        "{err}"
    );
}

/// Found in review: a JSON float where Socotra sends a decimal string read as "absent", so an
/// input with a default (indemnityInAggregate, default 0) silently took the default and the
/// premium came out wrong, and a required one was reported as missing. Now both are an
/// `invalid_input` error that says what the request holds.
#[test]
fn a_json_float_is_refused_not_defaulted() {
    let variant = |f: &dyn Fn(&mut Value)| {
        let path = support::fixtures().join("rating-variants/004.request.json");
        let mut req: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        f(&mut req);
        serde_json::to_vec(&req).unwrap()
    };
    // 004 prices a_third_party_liability, whose indemnity adjustment reads indemnityInAggregate.
    let with_indemnity = variant(&|req| {
        for e in req["policy"]["exposures"].as_array_mut().unwrap() {
            for p in e["perils"].as_array_mut().unwrap() {
                for c in p["characteristics"].as_array_mut().unwrap() {
                    c["indemnityInAggregate"] = json!(300000.0);
                }
            }
        }
    });
    let err = price(&with_indemnity).unwrap_err();
    assert!(err.starts_with("invalid_input"), "{err}");
    assert!(
        err.contains("indemnityInAggregate") && err.contains("JSON number"),
        "{err}"
    );

    let with_value = variant(&|req| {
        for e in req["policy"]["exposures"].as_array_mut().unwrap() {
            for c in e["characteristics"].as_array_mut().unwrap() {
                c["fieldValues"]["vehicle_value"] = json!([27250.5]);
            }
        }
    });
    let err = price(&with_value).unwrap_err();
    assert!(
        err.starts_with("invalid_input") && err.contains("vehicle_value"),
        "{err}"
    );
    assert!(!err.contains("has no value"), "{err}");

    // Integers where strings are expected are read as their decimal text, as before.
    let with_int = variant(&|req| {
        for e in req["policy"]["exposures"].as_array_mut().unwrap() {
            for c in e["characteristics"].as_array_mut().unwrap() {
                c["fieldValues"]["vehicle_value"] = json!([27250]);
            }
        }
    });
    let as_int = price(&with_int).unwrap();
    let as_string = price(&variant(&|_| {})).unwrap();
    assert_eq!(as_int, as_string);
}

/// Found by fuzzing the pruned payload path (`rate_request`, its first 300 s run): a body
/// whose dropped part was not JSON and whose kept part had a shape error (a key given twice,
/// made by the corruption) was answered with the shape error, from the pruned body, instead
/// of the whole body's syntax error. Errors now always come from the whole body.
#[test]
fn a_syntax_error_in_a_dropped_member_is_not_hidden_by_a_shape_error() {
    let body = br#"{"invoices": [1 2], "policy": {"productName": "a", "productName": "b"}}"#;
    let err = price(body).unwrap_err();
    assert!(err.starts_with("malformed_json"), "{err}");
    // The same body with valid JSON in the dropped member: the shape error, as before.
    let body = br#"{"invoices": [1, 2], "policy": {"productName": "a", "productName": "b"}}"#;
    let err = price(body).unwrap_err();
    assert!(err.starts_with("invalid_request"), "{err}");
}
