//! Every kind of bad plan gives a readable error that names the file, line and column.
//!
//! Each test writes a small plan folder, loads it, and checks the located message.

mod support;

use std::path::{Path, PathBuf};

use rater::plan::{PlanError, load_dir, load_plan};

const GOOD: &str = r#"
[plan]
version = "1"
product = "auto"
effective_from = "2024-01-01"

[rounding]
mode = "half-up"
step = "0.01"

[inputs.value]
level = "exposure"
type = "decimal"

[inputs.kind]
level = "exposure"
type = "text"

[inputs.age]
level = "policy"
type = "integer"

[tables.kind]
file = "kind.csv"
keys = [{ input = "kind", column = "key" }]
value = "value"

[tables.age]
file = "age.csv"
keys = [{ input = "age", from = "from", to = "to" }]
value = "factor"

[perils.theft]
steps = [
  { op = "base", input = "value", times = "0.01" },
  { op = "factor", table = "kind" },
  { op = "factor", table = "age" },
]
"#;

const KIND: &str = "key,value\nCar,1\nVan,1.2\n";
const AGE: &str = "from,to,factor\n,25,1.5\n25,70,1\n70,,1.3\n";

/// A fresh plan folder named `name` with the given files.
fn plan_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir()
        .join(format!("rater-plan-errors-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    for (file, text) in files {
        std::fs::write(root.join(file), text).unwrap();
    }
    root
}

fn errors(name: &str, plan: &str, kind: &str, age: &str) -> Vec<PlanError> {
    let dir = plan_dir(
        name,
        &[("plan.toml", plan), ("kind.csv", kind), ("age.csv", age)],
    );
    match load_plan(&dir) {
        Ok(_) => panic!("plan {name} must not load"),
        Err(e) => e.0,
    }
}

fn has(errors: &[PlanError], file: &str, line: usize, column: usize, what: &str) {
    support::has_error(errors, file, line, column, what);
}

fn render(errors: &[PlanError]) -> String {
    errors.iter().map(|e| format!("  {e}\n")).collect()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn the_good_plan_loads() {
    let dir = plan_dir(
        "good",
        &[("plan.toml", GOOD), ("kind.csv", KIND), ("age.csv", AGE)],
    );
    let plan = load_plan(&dir).unwrap();
    assert_eq!(plan.id(), "good");
    assert_eq!(plan.tables().len(), 2);
}

#[test]
fn toml_syntax_error_is_located() {
    let bad = GOOD.replace("version = \"1\"", "version = \"1");
    let e = errors("syntax", &bad, KIND, AGE);
    has(&e, "plan.toml", line_of(&bad, "version = \"1"), 0, "");
}

#[test]
fn unknown_key_is_rejected_with_its_place() {
    let bad = GOOD.replace("mode = \"half-up\"", "mode = \"half-up\"\nstpe = \"0.01\"");
    let e = errors("unknown-key", &bad, KIND, AGE);
    has(&e, "plan.toml", line_of(&bad, "stpe"), 1, "stpe");
}

#[test]
fn unknown_input_and_table_in_steps() {
    let bad = GOOD
        .replace(
            "{ op = \"factor\", table = \"kind\" }",
            "{ op = \"factor\", table = \"knid\" }",
        )
        .replace("input = \"value\", times", "input = \"valeu\", times");
    let e = errors("unknown-refs", &bad, KIND, AGE);
    let line = line_of(&bad, "knid");
    has(&e, "plan.toml", line, 28, "unknown table `knid`");
    has(
        &e,
        "plan.toml",
        line_of(&bad, "valeu"),
        26,
        "unknown input `valeu`",
    );
}

#[test]
fn bad_decimal_in_plan_and_in_csv() {
    let bad = GOOD.replace("times = \"0.01\"", "times = \"0,01\"");
    let e = errors(
        "bad-decimal",
        &bad,
        "key,value\nCar,1\nVan,one point two\n",
        AGE,
    );
    has(
        &e,
        "plan.toml",
        line_of(&bad, "0,01"),
        0,
        "must be a decimal number",
    );
    has(&e, "kind.csv", 3, 2, "must be a decimal number");
}

#[test]
fn duplicate_keys_name_both_lines() {
    let e = errors(
        "duplicate",
        GOOD,
        "key,value\r\nCar,1\r\nVan,1.2\r\nCar,1.1\r\n",
        AGE,
    );
    has(
        &e,
        "kind.csv",
        4,
        0,
        "duplicate key: the same key is on lines 2, 4",
    );
}

#[test]
fn overlapping_and_missing_bands() {
    let e = errors(
        "overlap",
        GOOD,
        KIND,
        "from,to,factor\n,25,1.5\n20,70,1\n70,,1.3\n",
    );
    has(&e, "age.csv", 3, 1, "overlaps");
    let e = errors(
        "gap",
        GOOD,
        KIND,
        "from,to,factor\n,25,1.5\n30,70,1\n70,,1.3\n",
    );
    has(
        &e,
        "age.csv",
        3,
        1,
        "gap in band `from..to`: nothing covers [25, 30)",
    );
    let e = errors(
        "empty-band",
        GOOD,
        KIND,
        "from,to,factor\n,25,1.5\n25,25,1\n25,,1.3\n",
    );
    has(&e, "age.csv", 3, 1, "band `from..to` is empty");
}

#[test]
fn rounding_rules_that_make_no_sense() {
    let bad = GOOD
        .replace("step = \"0.01\"", "step = \"0\"")
        .replace("\"half-up\"", "\"nearest\"");
    let e = errors("rounding", &bad, KIND, AGE);
    has(
        &e,
        "plan.toml",
        line_of(&bad, "step = \"0\""),
        8,
        "rounding step must be positive",
    );
    has(
        &e,
        "plan.toml",
        line_of(&bad, "\"nearest\""),
        8,
        "is not one of half-up, half-even, up, down",
    );
}

#[test]
fn missing_csv_column_and_file() {
    let e = errors("column", GOOD, "name,value\nCar,1\n", AGE);
    has(
        &e,
        "kind.csv",
        1,
        0,
        "has no column `key` (columns: name, value)",
    );
    let dir = plan_dir("no-file", &[("plan.toml", GOOD), ("age.csv", AGE)]);
    let e = load_plan(&dir).unwrap_err().0;
    has(&e, "kind.csv", 0, 0, "cannot read table `kind`");
}

#[test]
fn text_input_in_arithmetic_and_band() {
    let bad = GOOD.replace(
        "{ op = \"base\", input = \"value\"",
        "{ op = \"base\", input = \"kind\"",
    );
    let e = errors("text-arith", &bad, KIND, AGE);
    has(
        &e,
        "plan.toml",
        line_of(&bad, "input = \"kind\", times"),
        0,
        "is text; arithmetic needs",
    );
}

#[test]
fn bad_default_type_and_dates() {
    let bad = GOOD
        .replace(
            "[inputs.age]\nlevel = \"policy\"\ntype = \"integer\"",
            "[inputs.age]\nlevel = \"policy\"\ntype = \"integer\"\ndefault = \"30.5\"",
        )
        .replace(
            "effective_from = \"2024-01-01\"",
            "effective_from = \"2024-01-01\"\neffective_to = \"2023-01-01\"",
        );
    let e = errors("defaults", &bad, KIND, AGE);
    has(
        &e,
        "plan.toml",
        line_of(&bad, "30.5"),
        0,
        "is not a whole number",
    );
    has(
        &e,
        "plan.toml",
        line_of(&bad, "2023-01-01"),
        0,
        "must be after effective_from",
    );
}

#[test]
fn check_dir_stops_at_the_first_bad_plan_with_all_its_errors() {
    let root = std::env::temp_dir().join(format!("rater-plan-errors-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (name, kind) in [("a-good", KIND), ("b-bad", "key,value\nCar,x\nVan,y\n")] {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("plan.toml"), GOOD).unwrap();
        std::fs::write(d.join("kind.csv"), kind).unwrap();
        std::fs::write(d.join("age.csv"), AGE).unwrap();
    }
    let e = load_dir(&root).unwrap_err().0;
    assert_eq!(e.len(), 2, "both bad cells of b-bad:\n{}", render(&e));
    assert!(e.iter().all(|e| e.file.starts_with(root.join("b-bad"))));
    // And the command line says so with a non-zero exit.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rater"))
        .args(["check", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kind.csv:2:2") && stderr.contains("kind.csv:3:2"),
        "{stderr}"
    );
}

#[test]
fn the_bundled_plans_pass_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rater"))
        .args(["check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in ["homeowners", "personal-auto", "socotra-reference"] {
        assert!(stdout.contains(&format!("ok  {id}")), "{stdout}");
    }
}
