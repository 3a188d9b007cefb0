//! The engine through its public API with a plain-map input source: typed errors, mapping
//! renames, overflow, and order independence (proptest).

mod support;

use std::collections::HashMap;

use proptest::prelude::*;
use rater::engine::{
    Builtin, InputSource, Level, NoTrace, PolicyPeriod, RatingError, Source, rate,
};
use rater::plan::{BoundPlan, ProductMapping, Selector};
use rater::pricing::{PriceOptions, price_request};

#[derive(Default)]
struct Map {
    fields: HashMap<(Level, &'static str), &'static str>,
    builtins: HashMap<Builtin, &'static str>,
}

impl InputSource for Map {
    fn field(&self, level: Level, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|((l, n), _)| *l == level && *n == name)
            .map(|(_, v)| *v)
    }
    fn builtin(&self, b: Builtin) -> Option<&str> {
        self.builtins.get(&b).copied()
    }
    fn members(&self, _: Level, _: &str) -> Option<usize> {
        None
    }
    fn member_field(&self, _: Level, _: &str, _: usize, _: &str) -> Option<&str> {
        None
    }
    fn exposure_count(&self, _: &str) -> usize {
        0
    }
}

fn car() -> Map {
    let mut m = Map::default();
    m.fields.insert((Level::Exposure, "vehicle_value"), "18000");
    m.fields.insert((Level::Exposure, "vehicle_type"), "Car");
    m.fields.insert((Level::Policy, "channel"), "Direct");
    m.fields
        .insert((Level::Policy, "atfault_claims_past_5_years"), "1");
    m.builtins.insert(Builtin::CoverageStart, "1650006000000");
    m.builtins.insert(Builtin::CoverageEnd, "1681542000000");
    m
}

fn utc() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::UTC
}

fn period(tz: &jiff::tz::TimeZone) -> PolicyPeriod<'_> {
    PolicyPeriod::new(tz, Some(1650006000000), Some("annually"))
}

#[test]
fn prices_a_peril_from_a_map() {
    let bound = BoundPlan::unbound(support::bundled("personal-auto"));
    let tz = utc();
    let src = car();
    let p = rate(
        &bound,
        "a_third_party_liability",
        &src,
        &period(&tz),
        &mut NoTrace,
    )
    .unwrap();
    // 18000 x 0.021 x 1 (Car) x 2 (one claim) x 0.9 (Direct) = 680.40
    assert_eq!(p.yearly.to_string(), "680.40");
}

#[test]
fn missing_required_input_names_input_and_source() {
    let bound = BoundPlan::unbound(support::bundled("personal-auto"));
    let mut m = car();
    m.fields.remove(&(Level::Exposure, "vehicle_value"));
    let tz = utc();
    let e = rate(&bound, "collision", &m, &period(&tz), &mut NoTrace).unwrap_err();
    assert_eq!(
        e,
        RatingError::MissingInput {
            input: "vehicle_value".into(),
            source_desc: "exposure field `vehicle_value`".into()
        }
    );
    assert_eq!(e.code(), "missing_input");
}

#[test]
fn invalid_values_are_typed_errors() {
    let bound = BoundPlan::unbound(support::bundled("personal-auto"));
    let tz = utc();
    for bad in [
        "18000.5",
        "1e999999",
        "12345678901234567890123456789012345678901234",
        "eighteen",
    ] {
        let mut m = car();
        m.fields.insert((Level::Exposure, "vehicle_value"), bad);
        let e = rate(&bound, "collision", &m, &period(&tz), &mut NoTrace).unwrap_err();
        assert!(
            matches!(e, RatingError::InvalidInput { ref input, .. } if input == "vehicle_value"),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn an_amount_that_overflows_is_an_error_not_a_premium() {
    let bound = BoundPlan::unbound(support::bundled("personal-auto"));
    let tz = utc();
    let mut m = car();
    // A 28-digit integer parses, but x 0.0119 x ... must not wrap or saturate.
    m.fields.insert(
        (Level::Exposure, "vehicle_value"),
        "9999999999999999999999999999",
    );
    m.fields.insert(
        (Level::Policy, "atfault_claims_past_5_years"),
        "More than 3",
    );
    match rate(
        &bound,
        "a_third_party_liability",
        &m,
        &period(&tz),
        &mut NoTrace,
    ) {
        Err(e) => assert_eq!(e.code(), "overflow", "{e}"),
        Ok(p) => panic!("overflowing amount priced as {p:?}"),
    }
}

#[test]
fn unknown_peril_without_fallback() {
    let bound = BoundPlan::unbound(support::bundled("personal-auto"));
    let tz = utc();
    let src = car();
    let e = rate(&bound, "hail", &src, &period(&tz), &mut NoTrace).unwrap_err();
    assert_eq!(e.code(), "unknown_peril");
    // socotra-reference has a fallback for every peril.
    let bound = BoundPlan::unbound(support::bundled("socotra-reference"));
    let src = car();
    assert!(rate(&bound, "hail", &src, &period(&tz), &mut NoTrace).is_ok());
}

#[test]
fn a_mapping_renames_where_an_input_is_read() {
    let plan = support::bundled("personal-auto");
    let fields = vec![(
        "vehicle_value".to_owned(),
        Source::Field {
            level: Level::Exposure,
            name: "market_value".into(),
        },
    )];
    let bound = BoundPlan::bind(
        plan,
        &ProductMapping {
            fields,
            ..Default::default()
        },
    );
    let mut m = car();
    m.fields.insert((Level::Exposure, "market_value"), "10000");
    let tz = utc();
    let p = rate(&bound, "collision", &m, &period(&tz), &mut NoTrace).unwrap();
    // 10000 x 0.0119 x 1 x 0.9, not the 18000 of the default field.
    assert_eq!(p.yearly.to_string(), "107.10");
}

fn shuffled(request: &serde_json::Value, order: &[usize]) -> Vec<u8> {
    let mut req = request.clone();
    let peps = req["policyExposurePerils"].as_array().unwrap().clone();
    let mut out = Vec::new();
    for &i in order {
        let p = peps[i % peps.len()].clone();
        // Each locator once: a repeated locator is its own (tested) error.
        if !out.contains(&p) {
            out.push(p);
        }
    }
    req["policyExposurePerils"] = serde_json::Value::Array(out);
    serde_json::to_vec(&req).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// A premium never depends on the order (or the company) of the other perils requested.
    #[test]
    fn premiums_do_not_depend_on_peril_order(seed in proptest::collection::vec(0usize..64, 1..12), file in 0usize..20) {
        let path = support::fixtures().join(format!("rating-variants/{file:03}.request.json"));
        let request: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for plan in ["personal-auto", "socotra-reference"] {
            let selector = Selector::fixed(support::bundled(plan));
            let full = serde_json::to_vec(&request).unwrap();
            let mut a = Vec::new();
            let whole = price_request(&selector, &full, &mut a, PriceOptions::default());
            let body = shuffled(&request, &seed);
            let mut b = Vec::new();
            let part = price_request(&selector, &body, &mut b, PriceOptions::default());
            match (whole, part) {
                (Ok(()), res) => {
                    prop_assert!(res.is_ok(), "{plan} {path:?}: subset failed");
                    let a: serde_json::Value = serde_json::from_slice(&a).unwrap();
                    let b: serde_json::Value = serde_json::from_slice(&b).unwrap();
                    for (loc, v) in b["pricedPerilCharacteristics"].as_object().unwrap() {
                        prop_assert_eq!(&a["pricedPerilCharacteristics"][loc], v);
                    }
                }
                // A request the plan rejects may be accepted for a subset without the bad peril.
                (Err(_), _) => {}
            }
        }
    }
}

/// The parts of the plan format the bundled plans do not use: a technical premium with its
/// own steps, a fallback calculation, `not_in` and numeric conditions, `times_input`, and a
/// maximum.
#[test]
fn technical_steps_fallback_and_conditions() {
    let dir = std::env::temp_dir()
        .join(format!("rater-engine-plan-{}", std::process::id()))
        .join("pet");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("base.csv"),
        "\u{feff}\"species\",\"rate\"\r\n\"Dog\",100\r\n\"Cat\",125\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        r#"
[plan]
version = "t1"
product = "pet"
effective_from = "2024-01-01"

[rounding]
mode = "half-even"
step = "0.05"

[outputs]
technical = "steps"

[inputs.species]
level = "exposure"
type = "text"

[inputs.age]
level = "exposure"
type = "integer"

[inputs.multiplier]
level = "policy"
type = "decimal"
default = "1"

[tables.base]
file = "base.csv"
keys = [{ input = "species", column = "species" }]
value = "rate"

[perils.accident]
steps = [
  { op = "base", table = "base", times_input = "multiplier" },
  { op = "factor", value = "1.5", when = { input = "age", gt = "8" } },
  { op = "add", value = "10", when = { input = "species", not_in = ["Cat"] } },
  { op = "maximum", value = "200" },
]
technical_steps = [{ op = "base", table = "base", times = "0.6" }]

[perils."*"]
steps = [{ op = "base", value = "7.33" }]
technical_steps = [{ op = "base", value = "5" }]
"#,
    )
    .unwrap();
    let plan = std::sync::Arc::new(rater::plan::load_plan(&dir).unwrap_or_else(|e| panic!("{e}")));
    let bound = BoundPlan::unbound(plan);
    let tz = utc();
    let pet = |species: &'static str, age: &'static str, multiplier: Option<&'static str>| {
        let mut m = Map::default();
        m.fields.insert((Level::Exposure, "species"), species);
        m.fields.insert((Level::Exposure, "age"), age);
        if let Some(x) = multiplier {
            m.fields.insert((Level::Policy, "multiplier"), x);
        }
        m
    };
    // Dog, 3: 100 x 1 (default multiplier) + 10 = 110; technical 100 x 0.6 = 60.
    let src = pet("Dog", "3", None);
    let p = rate(&bound, "accident", &src, &period(&tz), &mut NoTrace).unwrap();
    assert_eq!(
        (p.yearly.to_string(), p.technical.unwrap().to_string()),
        ("110.00".into(), "60.00".into())
    );
    // Cat, 9, x 1.07: 125 x 1.07 = 133.75 x 1.5 = 200.625 -> at most 200; no +10 for cats.
    let src = pet("Cat", "9", Some("1.07"));
    let p = rate(&bound, "accident", &src, &period(&tz), &mut NoTrace).unwrap();
    assert_eq!(p.yearly.to_string(), "200.00");
    // Dog, 9, x 0.91: 91 x 1.5 = 136.5 + 10 = 146.5: nickels, half-even -> 146.50.
    let src = pet("Dog", "9", Some("0.91"));
    let p = rate(&bound, "accident", &src, &period(&tz), &mut NoTrace).unwrap();
    assert_eq!(p.yearly.to_string(), "146.50");
    // The fallback prices any other peril: 7.33 -> nickels half-even: 7.35 (7.33 is nearer 7.35).
    let src = pet("Dog", "3", None);
    let p = rate(&bound, "illness", &src, &period(&tz), &mut NoTrace).unwrap();
    assert_eq!(
        (p.yearly.to_string(), p.technical.unwrap().to_string()),
        ("7.35".into(), "5.00".into())
    );
}
