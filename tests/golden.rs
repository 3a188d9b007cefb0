//! Golden tests: every Socotra request in `fixtures/rating-ec/` and `fixtures/rating-variants/`
//! priced with both bundled plans, compared with the answers of Socotra's own reference code
//! (Rater.js for `socotra-reference`, myrater.py for `personal-auto`) to the cent.
//!
//! The reference computes in binary floating point; where that lands on the other side of a
//! half cent, the difference is listed in `KNOWN_FLOAT_DIFFERENCES` with the exact decimal
//! arithmetic that shows ours is right. Any other difference fails.

mod support;

use std::path::Path;
use std::str::FromStr;

use rater::plan::Selector;
use rater::pricing::{PriceError, PriceErrorKind, PriceOptions, price_request};
use rust_decimal::Decimal;
use serde_json::Value;

/// (answer file, locator, field, ours, reference's, why).
///
/// Both cases are `bodily_injury`, vehicle_value x 0.0259 with a factor of 1, whose exact
/// product ends in a half cent. In binary floating point the product lands just below it
/// (10250 * 0.0259 = 265.47499999999997, 78250 * 0.0259 = 2026.6749999999997), so Python's
/// `round(x, 2)` goes down; decimal arithmetic rounds the true tie half away from zero, as the
/// contract asks. The exact premium is the rounded yearly premium prorated, so the one-cent
/// yearly difference carries into it. `known_differences_are_half_cent_ties` checks the first
/// claim from our own trace; the prorated one follows from it.
const KNOWN_FLOAT_DIFFERENCES: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "014.personal-auto.json",
        "08ba9bd9-7e31-8ad6-3a0e-a6e15ec69be3",
        "yearlyPremium",
        "265.48",
        "265.47",
        "10250 x 0.0259 = 265.475 exactly",
    ),
    (
        "014.personal-auto.json",
        "08ba9bd9-7e31-8ad6-3a0e-a6e15ec69be3",
        "exactPremium",
        "265.48",
        "265.47",
        "full-year period: the yearly difference",
    ),
    (
        "016.personal-auto.json",
        "468fb596-ec9a-360c-5105-122ab0882411",
        "yearlyPremium",
        "2026.68",
        "2026.67",
        "78250 x 0.0259 = 2026.675 exactly",
    ),
    (
        "016.personal-auto.json",
        "468fb596-ec9a-360c-5105-122ab0882411",
        "exactPremium",
        "1700.93",
        "1700.92",
        "2026.68 vs 2026.67 prorated",
    ),
];

struct Case {
    request: std::path::PathBuf,
    answer: std::path::PathBuf,
    plan: &'static str,
}

fn cases() -> Vec<Case> {
    let f = support::fixtures();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(f.join("rating-variants")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if let Some(stem) = name.strip_suffix(".request.json") {
            let dir = path.parent().unwrap();
            out.push(Case {
                request: path.clone(),
                answer: dir.join(format!("{stem}.reference.json")),
                plan: "socotra-reference",
            });
            out.push(Case {
                request: path.clone(),
                answer: dir.join(format!("{stem}.personal-auto.json")),
                plan: "personal-auto",
            });
        }
    }
    for kind in ["newbusiness2", "endorsement1"] {
        let dir = f.join("rating-ec");
        out.push(Case {
            request: dir.join(format!("ec-rating-request-{kind}.json")),
            answer: dir.join(format!("ec-rating-response-{kind}.json")),
            plan: "socotra-reference",
        });
        out.push(Case {
            request: dir.join(format!("ec-rating-request-{kind}.json")),
            answer: dir.join(format!("ec-rating-response-{kind}.personal-auto.json")),
            plan: "personal-auto",
        });
    }
    out.sort_by(|a, b| (&a.request, a.plan).cmp(&(&b.request, b.plan)));
    out
}

fn price(plan: &str, request: &Path) -> Result<Value, PriceError> {
    let selector = Selector::fixed(support::bundled(plan));
    let mut body = std::fs::read(request).unwrap();
    let mut out = Vec::new();
    price_request(&selector, &mut body, &mut out, PriceOptions::default())?;
    Ok(serde_json::from_slice(&out).expect("our answer is JSON"))
}

/// A reference number (a JSON float such as 1994.3) as the decimal it prints as.
fn reference_decimal(v: &Value) -> Decimal {
    Decimal::from_str(&v.to_string())
        .unwrap_or_else(|_| panic!("reference amount {v} is a decimal"))
}

fn our_decimal(v: &Value) -> Decimal {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("our amounts are strings, got {v}"));
    Decimal::from_str(s).unwrap()
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
        let answer_name = case.answer.file_name().unwrap().to_str().unwrap();
        let expected: Value =
            serde_json::from_slice(&std::fs::read(&case.answer).unwrap()).unwrap();
        let ours = price(case.plan, &case.request);
        if let Some(err) = expected.get("error") {
            // The reference rejects the request; we must reject it with a typed rating error.
            match ours {
                Err(e) if e.kind() == PriceErrorKind::Unratable => {
                    assert!(
                        matches!(e, PriceError::Rating { .. }),
                        "{answer_name}: reference failed with {err}; ours must be a rating error, got {e:?}"
                    );
                }
                other => failures.push(format!(
                    "{answer_name}: reference fails ({err}) but we answered {other:?}"
                )),
            }
            continue;
        }
        let ours = match ours {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{answer_name}: we failed: {e}"));
                continue;
            }
        };
        let exp = expected["pricedPerilCharacteristics"].as_object().unwrap();
        let got = ours["pricedPerilCharacteristics"].as_object().unwrap();
        let mut exp_keys: Vec<_> = exp.keys().collect();
        let mut got_keys: Vec<_> = got.keys().collect();
        exp_keys.sort();
        got_keys.sort();
        assert_eq!(got_keys, exp_keys, "{answer_name}: the same locators");
        for (locator, e) in exp {
            let g = &got[locator];
            for field in ["yearlyPremium", "yearlyTechnicalPremium", "exactPremium"] {
                let Some(ev) = e.get(field) else {
                    continue;
                };
                let Some(gv) = g.get(field) else {
                    failures.push(format!("{answer_name} {locator}: we do not answer {field}"));
                    continue;
                };
                let (ed, gd) = (reference_decimal(ev), our_decimal(gv));
                compared += 1;
                if ed != gd {
                    let known = KNOWN_FLOAT_DIFFERENCES.iter().find(|k| {
                        k.0 == answer_name
                            && k.1 == locator
                            && k.2 == field
                            && k.3 == gd.to_string()
                            && k.4 == ed.to_string()
                    });
                    if known.is_none() {
                        failures.push(format!(
                            "{answer_name} {locator} {field}: ours {gd}, Socotra's {ed}"
                        ));
                    }
                }
            }
            if let Some(c) = e.get("commissions") {
                assert_eq!(
                    g.get("commissions"),
                    Some(c),
                    "{answer_name} {locator}: commissions"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 100, "compared only {compared} amounts");
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
        let mut body = std::fs::read(f.join(format!("{stem}.request.json"))).unwrap();
        let mut out = Vec::new();
        price_request(
            &selector,
            &mut body,
            &mut out,
            PriceOptions { explain: true },
        )
        .unwrap();
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
