//! The golden comparison shared by the in-process and the HTTP golden tests: which fixture
//! requests are priced with which bundled plan, and how an answer is compared with Socotra's.
//!
//! The reference computes in binary floating point; where that lands on the other side of a
//! half cent, the difference is listed in `KNOWN_FLOAT_DIFFERENCES` with the exact decimal
//! arithmetic that shows ours is right. Any other difference fails.

use std::path::PathBuf;
use std::str::FromStr;

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
pub const KNOWN_FLOAT_DIFFERENCES: &[(&str, &str, &str, &str, &str, &str)] = &[
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

pub struct Case {
    pub request: PathBuf,
    pub answer: PathBuf,
    pub plan: &'static str,
}

pub fn cases() -> Vec<Case> {
    let f = super::fixtures();
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

/// How our side answered a request whose reference answer is an error.
#[derive(Debug)]
pub struct OurError {
    /// A well-formed request that could not be rated (422 over HTTP).
    pub unratable: bool,
    /// A rating error from the engine (not a locator or selection problem).
    pub rating: bool,
    /// Its code.
    pub code: String,
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

/// Compares our answer with Socotra's for one case; returns the differences (empty when
/// equal to the cent, known float differences excepted) and how many amounts were compared.
pub fn compare(case: &Case, ours: Result<Value, OurError>) -> (Vec<String>, usize) {
    let answer_name = case.answer.file_name().unwrap().to_str().unwrap();
    let expected: Value = serde_json::from_slice(&std::fs::read(&case.answer).unwrap()).unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    if let Some(err) = expected.get("error") {
        // The reference rejects the request; we must reject it with a typed rating error.
        match ours {
            Err(e) if e.unratable && e.rating => {}
            other => failures.push(format!(
                "{answer_name}: reference fails ({err}) but we answered {other:?}"
            )),
        }
        return (failures, 0);
    }
    let ours = match ours {
        Ok(v) => v,
        Err(e) => return (vec![format!("{answer_name}: we failed: {e:?}")], 0),
    };
    let exp = expected["pricedPerilCharacteristics"].as_object().unwrap();
    let got = ours["pricedPerilCharacteristics"].as_object().unwrap();
    let mut exp_keys: Vec<_> = exp.keys().collect();
    let mut got_keys: Vec<_> = got.keys().collect();
    exp_keys.sort();
    got_keys.sort();
    if got_keys != exp_keys {
        failures.push(format!(
            "{answer_name}: locators {got_keys:?}, Socotra's {exp_keys:?}"
        ));
        return (failures, 0);
    }
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
                let known = KNOWN_FLOAT_DIFFERENCES.iter().any(|k| {
                    k.0 == answer_name
                        && k.1 == locator
                        && k.2 == field
                        && k.3 == gd.to_string()
                        && k.4 == ed.to_string()
                });
                if !known {
                    failures.push(format!(
                        "{answer_name} {locator} {field}: ours {gd}, Socotra's {ed}"
                    ));
                }
            }
        }
        if let Some(c) = e.get("commissions")
            && g.get("commissions") != Some(c)
        {
            failures.push(format!(
                "{answer_name} {locator}: commissions {:?}, Socotra's {c}",
                g.get("commissions")
            ));
        }
    }
    (failures, compared)
}

/// Fails with every difference listed, or when too few amounts were compared to mean much.
pub fn assert_all_match(failures: &[String], compared: usize) {
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 100, "compared only {compared} amounts");
}
