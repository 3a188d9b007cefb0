//! The plan language's newer constructs: each mistake an actuary can make with named values,
//! expressions, field groups, dates, prefix, matrix and interpolation tables is a located
//! error (`file:line:column`); and the explain trace shows the steps a person checks by hand
//! (each driver's factor and the winner, the prefix that matched, the two points of an
//! interpolation, each intermediate rounding).

mod support;

use std::path::PathBuf;

use rater::plan::{PlanError, Selector, load_dir, load_plan};
use rater::pricing::{PriceOptions, price_request};

/// A small plan in the acme style: a field group, a date, a prefix table, a matrix, an
/// interpolated table and named values.
const GOOD: &str = r#"
[plan]
version = "1"
product = "auto"
effective_from = "2024-01-01"

[outputs]
exact_premium = false

[inputs.zip]
level = "policy"
type = "text"

[inputs.dob]
group = "drivers"
type = "date"

[inputs.kind]
group = "drivers"
type = "text"

[inputs.limit]
builtin = "indemnityInAggregate"
type = "decimal"

[inputs.peril]
builtin = "perilName"
type = "text"

[inputs.rating_date]
builtin = "ratingDate"
type = "date"

[tables.area]
file = "area.csv"
keys = [{ input = "zip", prefix = "prefix" }]
value = "area"

[tables.area_factor]
file = "area_factor.csv"
keys = [{ input = "area", column = "area" }]
value_column = "peril"

[tables.age_factor]
file = "age.csv"
keys = [{ input = "age", from = "from", to = "to" }]
value = "factor"

[tables.ilf]
file = "ilf.csv"
keys = [{ input = "limit", interpolate = "limit" }]
value = "factor"
round = { mode = "half-up", step = "0.0001" }

[values]
age = "years_between(dob, rating_date)"
driver = "round(age_factor * 1.1, 0.001)"
DF = "max_over(drivers, driver, kind == 'Rated')"
premium = "round(100 * area_factor * DF * ilf, 0.01)"

[perils.theft]
premium = "premium"
"#;

const AREA: &str = "prefix,area\n123,1\n12345,2\n";
const AREA_FACTOR: &str = "area,theft,fire\n1,1.0,1.1\n2,1.5,1.2\n";
const AGE: &str = "from,to,factor\n16,25,1.5\n25,,1\n";
const ILF: &str = "limit,factor\n10000,0.8\n20000,1.0\n50000,1.3\n";

fn plan_dir(name: &str, plan: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir()
        .join(format!("rater-plan-language-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("plan.toml"), plan).unwrap();
    let defaults = [
        ("area.csv", AREA),
        ("area_factor.csv", AREA_FACTOR),
        ("age.csv", AGE),
        ("ilf.csv", ILF),
    ];
    for (file, text) in defaults.iter().chain(files) {
        std::fs::write(root.join(file), text).unwrap();
    }
    root
}

fn errors(name: &str, plan: &str, files: &[(&str, &str)]) -> Vec<PlanError> {
    match load_plan(&plan_dir(name, plan, files)) {
        Ok(_) => panic!("plan {name} must not load"),
        Err(e) => e.0,
    }
}

fn has(errors: &[PlanError], file: &str, line: usize, column: usize, what: &str) {
    support::has_error(errors, file, line, column, what);
}

/// The 1-based line and column of `needle` in `text`.
fn at(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).expect("needle in text");
    let before = &text[..offset];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().unwrap().chars().count() + 1,
    )
}

/// Replaces `from` with `to` in the good plan, and expects an error at `to`'s `mark`.
fn bad(name: &str, from: &str, to: &str, mark: &str, what: &str) {
    assert!(GOOD.contains(from), "{from}");
    let plan = GOOD.replacen(from, to, 1);
    let (line, column) = at(&plan, mark);
    has(&errors(name, &plan, &[]), "plan.toml", line, column, what);
}

#[test]
fn the_good_plan_loads() {
    let plan = load_plan(&plan_dir("good", GOOD, &[])).unwrap();
    assert_eq!(plan.values().len(), 4);
}

#[test]
fn expression_syntax_and_names() {
    bad(
        "syntax",
        "round(age_factor * 1.1, 0.001)",
        "round(age_factor * * 1.1, 0.001)",
        "* 1.1",
        "expected a value",
    );
    bad(
        "unknown-name",
        "DF * ilf",
        "DF * ilff",
        "ilff",
        "unknown name `ilff`",
    );
    bad(
        "unknown-function",
        "years_between(dob, rating_date)",
        "age_of(dob, rating_date)",
        "age_of",
        "unknown function `age_of`",
    );
    bad(
        "arity",
        "years_between(dob, rating_date)",
        "years_between(dob)",
        "years_between",
        "takes 2 dates",
    );
}

#[test]
fn types_are_checked() {
    bad(
        "date-arith",
        "years_between(dob, rating_date)",
        "rating_date + 1",
        "rating_date + 1",
        "expected a number, found a date",
    );
    bad(
        "text-compare",
        "kind == 'Rated'",
        "kind > 'Rated'",
        "kind > 'Rated'",
        "only numbers and dates are ordered",
    );
    bad(
        "mixed-compare",
        "kind == 'Rated'",
        "kind == 1",
        "kind == 1",
        "cannot compare text with a number",
    );
    bad(
        "premium-not-number",
        "premium = \"premium\"\n",
        "premium = \"zip\"\n",
        "\"zip\"\n",
        "must be a number",
    );
    bad(
        "round-step",
        "round(age_factor * 1.1, 0.001)",
        "round(age_factor * 1.1, age)",
        "age)",
        "step is a number written out",
    );
}

#[test]
fn named_values_in_a_cycle() {
    bad(
        "cycle",
        "driver = \"round(age_factor * 1.1, 0.001)\"",
        "driver = \"round(age_factor * 1.1 * DF, 0.001)\"",
        "DF = \"max_over",
        "cycle: DF -> driver -> DF",
    );
}

#[test]
fn field_groups_are_used_as_groups() {
    // An aggregate over something that is not a field group.
    bad(
        "not-a-group",
        "max_over(drivers, driver, kind == 'Rated')",
        "max_over(zip, driver, kind == 'Rated')",
        "zip, driver",
        "first argument is a field group",
    );
    // A member field outside an aggregate.
    bad(
        "member-outside",
        "round(100 * area_factor * DF * ilf, 0.01)",
        "round(100 * area_factor * driver * ilf, 0.01)",
        "\"premium\"\n",
        "outside an aggregate",
    );
    // A group used as a value.
    bad(
        "group-as-value",
        "DF * ilf",
        "drivers * ilf",
        "drivers * ilf",
        "`drivers` is a field group",
    );
}

#[test]
fn tables_of_the_new_kinds() {
    // A matrix whose column is named by a number.
    bad(
        "matrix-column-type",
        "value_column = \"peril\"",
        "value_column = \"limit\"",
        "\"limit\"\n\n[tables.age_factor]",
        "names the column by text",
    );
    // A prefix key on a number.
    bad(
        "prefix-number",
        "{ input = \"zip\", prefix = \"prefix\" }",
        "{ input = \"limit\", prefix = \"prefix\" }",
        "\"limit\", prefix",
        "a prefix key needs text",
    );
    // A value column that does not exist.
    let plan = GOOD.replacen("value = \"area\"", "value = \"territory\"", 1);
    has(
        &errors("no-column", &plan, &[]),
        "area.csv",
        1,
        0,
        "has no column `territory`",
    );
    // Interpolation points out of order, pointed at in the CSV.
    let e = errors(
        "unsorted",
        GOOD,
        &[("ilf.csv", "limit,factor\n10000,0.8\n50000,1.3\n20000,1.0\n")],
    );
    has(&e, "ilf.csv", 4, 1, "must increase down the table");
    // A name used for a value and a table.
    let plan = GOOD.replacen("[values]\n", "[values]\nilf = \"1\"\n", 1);
    let (line, column) = at(&plan, "[tables.ilf]");
    has(
        &errors("clash", &plan, &[]),
        "plan.toml",
        line,
        column + "[tables.".len(),
        "already a value",
    );
}

#[test]
fn editions_that_would_tie_are_refused() {
    let root = std::env::temp_dir()
        .join(format!("rater-plan-language-{}", std::process::id()))
        .join("tie");
    let _ = std::fs::remove_dir_all(&root);
    for id in ["auto-a", "auto-b"] {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let plan = plan_dir(id, GOOD, &[]);
        for f in std::fs::read_dir(&plan).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let e = load_dir(&root).unwrap_err();
    assert!(
        e.0[0]
            .message
            .contains("plans `auto-a` and `auto-b` both price product `auto` from 2024-01-01"),
        "{e}"
    );
    assert!(e.0[0].file.ends_with("auto-b/plan.toml"), "{e}");
}

/// A request with two rated drivers and one excluded, a ZIP whose 5-digit prefix overrides
/// its 3-digit area, and a limit between two published points.
fn request(zip: &str, limit: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "tenantTimeZone": "America/New_York",
        "policyExposurePerils": [{
            "policyCharacteristicsLocator": "pc",
            "exposureCharacteristicsLocator": "ec",
            "perilCharacteristicsLocator": "theft-1"
        }],
        "policy": {
            "productName": "auto",
            "originalContractStartTimestamp": "1704085200000",
            "characteristics": [{
                "locator": "pc",
                "policyStartTimestamp": "1735707600000",
                "fieldValues": { "zip": [zip], "drivers": ["d1", "d2", "d3"] },
                "fieldGroupsByLocator": {
                    "d1": { "dob": ["1980-05-01"], "kind": ["Rated"] },
                    "d2": { "dob": ["2005-01-02"], "kind": ["Rated"] },
                    "d3": { "dob": ["2008-01-01"], "kind": ["Excluded"] }
                }
            }],
            "exposures": [{
                "name": "car",
                "characteristics": [{ "locator": "ec", "fieldValues": {} }],
                "perils": [{
                    "name": "theft",
                    "characteristics": [{
                        "locator": "theft-1",
                        "indemnityInAggregate": limit,
                        "coverageStartTimestamp": "1735707600000",
                        "coverageEndTimestamp": "1767243600000",
                        "fieldValues": {}
                    }]
                }]
            }]
        }
    }))
    .unwrap()
}

fn price(body: &[u8], explain: bool) -> serde_json::Value {
    let plan = std::sync::Arc::new(load_plan(&plan_dir("priced", GOOD, &[])).unwrap());
    let mut out = Vec::new();
    price_request(
        &Selector::fixed(plan),
        body,
        &mut out,
        PriceOptions { explain },
    )
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Worked by hand: term start 2025-01-01 in New York. Driver 1 is 44 (factor 1 x 1.1 =
/// 1.1), driver 2 is 19 (1.5 x 1.1 = 1.65), driver 3 is excluded: DF = 1.65. ZIP 12345 is
/// area 2 (the 5-digit row wins over 123): theft 1.5. Limit 30000 lies between 20000 (1.0)
/// and 50000 (1.3): 1.0 + 0.3 x 10000 / 30000 = 1.1 exactly. 100 x 1.5 x 1.65 x 1.1 =
/// 272.25. With ZIP 12399 (area 1, theft 1.0) and limit 35000 (1.15): 100 x 1 x 1.65 x
/// 1.15 = 189.75.
#[test]
fn a_hand_worked_example() {
    let v = price(&request("12345", "30000"), false);
    assert_eq!(
        v["pricedPerilCharacteristics"]["theft-1"]["yearlyPremium"],
        "272.25"
    );
    let v = price(&request("12399", "35000"), false);
    assert_eq!(
        v["pricedPerilCharacteristics"]["theft-1"]["yearlyPremium"],
        "189.75"
    );
    // 25000 is a third of the way: 1.0 + 0.3 / 3 = 1.1; 21000: 1.0 + 0.3 x 1000 / 30000 =
    // 1.01; 20001: 1.00001 rounded to 4 places is 1.0000.
    let v = price(&request("12399", "20001"), false);
    assert_eq!(
        v["pricedPerilCharacteristics"]["theft-1"]["yearlyPremium"],
        "165.00"
    );
}

#[test]
fn the_trace_shows_members_prefix_points_and_roundings() {
    let v = price(&request("12345", "30001"), true);
    let trace: Vec<String> = v["explain"]["theft-1"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let text = trace.join("\n");
    for needle in [
        "input dob[1] = \"1980-05-01\"",
        "value age[2] = 19",
        "  member 2: 1.650",
        "  member 3: left out by the condition",
        "max_over(drivers): 2 of 3 member(s) -> 1.650 (member 2)",
        "table area [prefix = \"12345\" (prefix \"12345\")] -> 2 (line 3)",
        "table area_factor.theft [area = \"2\"] -> 1.5 (line 3)",
        "table ilf [limit = \"30001\"] between 20000 -> 1.0 (line 3) and 50000 -> 1.3 (line 4)",
        "table ilf: 1.10001 rounded half-up to 0.0001 -> 1.1000",
        "round(): ",
        "yearlyPremium: ",
    ] {
        assert!(text.contains(needle), "no {needle:?} in the trace:\n{text}");
    }
}

/// The bundled acme plans are in `rating-tables/`; they load with every construct above.
#[test]
fn the_bundled_plans_load() {
    let set =
        load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables")).unwrap();
    assert!(set.get("acme-auto-2026-01").is_some());
    let _ = support::fixtures();
}

/// Exact money: 170.94 a year over one month is 170.94 x 1 / 12 = 14.245 exactly, which
/// rounds half up to 14.25. Dividing the months by 12 first gives a 28-digit quotient just
/// short of the tie (14.24); the engine multiplies first.
#[test]
fn an_exact_half_cent_tie_rounds_up() {
    let plan = r#"
[plan]
version = "1"
product = "auto"
effective_from = "2024-01-01"

[proration]
method = "months"

[outputs]
exact_premium = true

[perils.theft]
premium = "170.94"
"#;
    let dir = plan_dir("tie", plan, &[]);
    let plan = std::sync::Arc::new(load_plan(&dir).unwrap());
    let body = serde_json::to_vec(&serde_json::json!({
        "tenantTimeZone": "UTC",
        "policyExposurePerils": [{ "perilCharacteristicsLocator": "p" }],
        "policy": {
            "productName": "auto",
            "originalContractStartTimestamp": "1704067200000",
            "characteristics": [{ "locator": "pc", "policyStartTimestamp": "1704067200000" }],
            "exposures": [{
                "name": "car",
                "characteristics": [{ "locator": "ec" }],
                "perils": [{ "name": "theft", "characteristics": [{
                    "locator": "p",
                    "coverageStartTimestamp": "1704067200000",
                    "coverageEndTimestamp": "1706745600000"
                }]}]
            }]
        }
    }))
    .unwrap();
    let mut out = Vec::new();
    price_request(
        &Selector::fixed(plan),
        &body,
        &mut out,
        PriceOptions::default(),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["pricedPerilCharacteristics"]["p"]["exactPremium"],
        "14.25"
    );
    // The old order, for the record: 1 / 12 first, then x 170.94, falls short of the tie.
    let years = rust_decimal::Decimal::ONE / rust_decimal::Decimal::from(12);
    let short = (rust_decimal::Decimal::new(17094, 2) * years)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(short.to_string(), "14.24");
}

/// A plan words its refusals in the manual's terms: a table's `missing` (with the key), an
/// aggregate's last argument; the wording must be a quoted text.
#[test]
fn refusals_in_the_plans_words() {
    let plan = GOOD
        .replacen(
            "value = \"area\"\n",
            "value = \"area\"\nmissing = \"unknown ZIP {key}\"\n",
            1,
        )
        .replacen("kind == 'Rated')", "kind == 'Rated', 'no rated driver')", 1);
    let plan = std::sync::Arc::new(load_plan(&plan_dir("worded", &plan, &[])).unwrap());
    let price = |body: &[u8]| {
        let mut out = Vec::new();
        price_request(
            &Selector::fixed(plan.clone()),
            body,
            &mut out,
            PriceOptions::default(),
        )
    };
    let e = price(&request("99999", "30000")).unwrap_err();
    assert!(e.to_string().ends_with(": unknown ZIP 99999"), "{e}");
    assert_eq!(e.code(), "unknown_table_key");
    let nobody = String::from_utf8(request("12345", "30000"))
        .unwrap()
        .replace("\"Rated\"", "\"Excluded\"");
    let e = price(nobody.as_bytes()).unwrap_err();
    assert!(e.to_string().ends_with(": no rated driver"), "{e}");
    assert_eq!(e.code(), "no_qualifying_member");
    bad(
        "wording-not-text",
        "kind == 'Rated')",
        "kind == 'Rated', kind)",
        "kind)",
        "the refusal's wording as a quoted text",
    );
}
