//! Golden tests: every Socotra request in `fixtures/rating-ec/` and `fixtures/rating-variants/`
//! priced with both bundled plans, compared with the answers of Socotra's own reference code
//! (Rater.js for `socotra-reference`, myrater.py for `personal-auto`) to the cent.
//!
//! The comparison, and the one-cent differences explained by the reference's binary floating
//! point, are in `support/golden.rs`, shared with the HTTP golden test.

mod support;

use support::golden::{KNOWN_FLOAT_DIFFERENCES, OurError, assert_all_match, cases, compare};

use std::path::Path;
use std::str::FromStr;

use rater::plan::Selector;
use rater::pricing::{PriceError, PriceErrorKind, PriceOptions, price_request};
use rust_decimal::Decimal;
use serde_json::Value;

fn price(plan: &str, request: &Path) -> Result<Value, PriceError> {
    let selector = Selector::fixed(support::bundled(plan));
    let body = std::fs::read(request).unwrap();
    let mut out = Vec::new();
    price_request(&selector, &body, &mut out, PriceOptions::default())?;
    Ok(serde_json::from_slice(&out).expect("our answer is JSON"))
}

#[test]
fn every_fixture_matches_socotra_to_the_cent() {
    let cases = cases();
    assert!(
        cases.len() >= 44,
        "expected 20 variants + 2 EC requests, twice; found {}",
        cases.len()
    );
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let ours = price(case.plan, &case.request).map_err(|e| OurError {
            unratable: e.kind() == PriceErrorKind::Unratable,
            rating: matches!(e, PriceError::Rating { .. }),
            code: e.code().to_owned(),
        });
        let (f, n) = compare(case, ours);
        failures.extend(f);
        compared += n;
    }
    assert_all_match(&failures, compared);
}

#[test]
fn premiums_do_not_depend_on_the_order_of_perils() {
    for case in cases().iter().filter(|c| c.plan == "personal-auto") {
        let Ok(forward) = price(case.plan, &case.request) else {
            continue;
        };
        let mut req: Value =
            serde_json::from_slice(&std::fs::read(&case.request).unwrap()).unwrap();
        req["policyExposurePerils"]
            .as_array_mut()
            .unwrap()
            .reverse();
        let dir = tempdir();
        let path = dir.join("reversed.json");
        std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
        let backward = price(case.plan, &path).unwrap();
        assert_eq!(forward, backward, "{}", case.request.display());
    }
}

#[test]
fn an_endorsement_is_priced_from_the_characteristics_it_names() {
    // endorsement1 carries three versions of the policy's and of each peril's
    // characteristics. Spoiling every version the triplets do not name (a wrong shape and
    // a field the plan reads) changes nothing in the answer (`tests/prune.rs` checks the
    // whole-body path skips them alike).
    let fixture = support::fixtures().join("rating-ec/ec-rating-request-endorsement1.json");
    let mut req: Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let named: Vec<String> = req["policyExposurePerils"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t.as_object().unwrap().values())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let mut spoiled = 0;
    let mut spoil = |chars: &mut Value| {
        for c in chars.as_array_mut().unwrap() {
            if !named.iter().any(|n| c["locator"] == n.as_str()) {
                c["fieldValues"] = Value::from(7);
                c["deductible"] = Value::from("not a number");
                spoiled += 1;
            }
        }
    };
    let policy = &mut req["policy"];
    spoil(&mut policy["characteristics"]);
    for exposure in policy["exposures"].as_array_mut().unwrap() {
        spoil(&mut exposure["characteristics"]);
        for peril in exposure["perils"].as_array_mut().unwrap() {
            spoil(&mut peril["characteristics"]);
        }
    }
    assert_eq!(
        spoiled, 6,
        "two old versions of the policy's and of each peril's"
    );
    let path = tempdir().join("spoiled.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&req).unwrap()).unwrap();
    for plan in ["personal-auto", "socotra-reference"] {
        assert_eq!(
            price(plan, &path).unwrap(),
            price(plan, &fixture).unwrap(),
            "{plan}"
        );
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The yearly differences above are true half-cent ties: our trace shows the unrounded premium
/// with exactly three decimals ending in 5, so binary floating point, not decimal, moved it.
#[test]
fn known_differences_are_half_cent_ties() {
    let f = support::fixtures().join("rating-variants");
    for (answer, locator, field, ours, _, _) in KNOWN_FLOAT_DIFFERENCES {
        if *field != "yearlyPremium" {
            continue;
        }
        let stem = answer.split('.').next().unwrap();
        let selector = Selector::fixed(support::bundled("personal-auto"));
        let body = std::fs::read(f.join(format!("{stem}.request.json"))).unwrap();
        let mut out = Vec::new();
        price_request(&selector, &body, &mut out, PriceOptions { explain: true }).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let lines = v["explain"][locator].as_array().unwrap();
        let round = lines
            .iter()
            .filter_map(Value::as_str)
            .find(|l| l.starts_with("yearlyPremium:"))
            .unwrap();
        let before = round.split_whitespace().nth(1).unwrap();
        let d = Decimal::from_str(before).unwrap().normalize();
        assert_eq!(d.scale(), 3, "{round}");
        assert_eq!(d.mantissa() % 10, 5, "{round}");
        assert!(round.ends_with(ours), "{round}");
    }
}

/// The homeowners plan's golden cases: requests beside hand-computed answers (the arithmetic
/// is in each expected file's `why`).
#[test]
fn homeowners_golden_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/homeowners");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".request.json") else {
            continue;
        };
        n += 1;
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{stem}.expected.json"))).unwrap(),
        )
        .unwrap();
        let got = price("homeowners", &path);
        if let Some(err) = expected.get("error") {
            let e = got.expect_err(stem);
            assert_eq!(e.code(), err["code"], "{stem}: {e}");
            assert!(
                e.to_string().contains(err["table"].as_str().unwrap()),
                "{stem}: {e}"
            );
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(
            got["pricedPerilCharacteristics"], expected["pricedPerilCharacteristics"],
            "{stem}"
        );
    }
    assert!(n >= 4, "found {n} homeowners cases");
}
