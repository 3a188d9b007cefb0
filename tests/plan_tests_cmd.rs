//! `rater test`: the real binary over real plan folders in temporary directories, and the
//! library runner over the bundled plans.
//!
//! Expected amounts come from Socotra's answers (the bundled cases were imported from them);
//! a test that needs a wrong expectation changes one of those amounts.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rater::actuary::plantest::{self, CaseOutcome, PlanOutcome, TestOptions};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary folder for one test.
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-plantest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of a bundled plan (its files, not its tests) in `dir/<id>`, with the given cases
/// copied from the bundled plan's `tests/`.
fn plan_copy(dir: &Path, id: &str, cases: &[&str]) -> PathBuf {
    let from = root().join("rating-tables").join(id);
    let to = dir.join(id);
    std::fs::create_dir_all(to.join("tests")).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
    for case in cases {
        for kind in ["request", "expected"] {
            let name = format!("{case}.{kind}.json");
            std::fs::copy(from.join("tests").join(&name), to.join("tests").join(&name)).unwrap();
        }
    }
    to
}

fn rater_test(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rater"))
        .arg("test")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The summary is the last line, alone.
fn summary_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_owned()
}

#[test]
fn a_passing_folder_exits_zero_with_its_count() {
    let dir = tempdir("pass");
    let plan = plan_copy(&dir, "socotra-reference", &["000", "001", "020"]);
    let o = rater_test(&[&plan]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(summary_line(&o), "3 passed, 0 failed");
    // A folder of plan folders is walked the same way.
    let o = rater_test(&[&dir]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(summary_line(&o), "3 passed, 0 failed");
}

#[test]
fn a_differing_amount_names_want_and_got_and_fails() {
    let dir = tempdir("differ");
    let plan = plan_copy(&dir, "personal-auto", &["000", "001"]);
    // Change one of Socotra's amounts by a cent; the rater still answers Socotra's.
    let path = plan.join("tests/001.expected.json");
    let mut expected = read_json(&path);
    let perils = expected["pricedPerilCharacteristics"]
        .as_object_mut()
        .unwrap();
    let (locator, peril) = perils.iter_mut().next().unwrap();
    let locator = locator.clone();
    let socotra = peril["yearlyPremium"].as_str().unwrap().to_owned();
    let wrong = (socotra.parse::<rust_decimal::Decimal>().unwrap()
        + rust_decimal::Decimal::new(1, 2))
    .to_string();
    peril["yearlyPremium"] = Value::String(wrong.clone());
    std::fs::write(&path, serde_json::to_vec(&expected).unwrap()).unwrap();

    let o = rater_test(&[&plan]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL 001"), "{out}");
    let line = format!("{locator} yearlyPremium: want {wrong}, got ");
    let got = out
        .lines()
        .find_map(|l| l.trim().strip_prefix(line.as_str()))
        .unwrap_or_else(|| panic!("no line {line:?} in\n{out}"));
    assert_eq!(
        got.parse::<rust_decimal::Decimal>().unwrap(),
        socotra.parse::<rust_decimal::Decimal>().unwrap()
    );
    assert!(!out.contains("FAIL 000"), "{out}");
    assert_eq!(summary_line(&o), "1 passed, 1 failed");

    // --explain adds that peril's trace: the steps the reader follows to where they part.
    let o = Command::new(env!("CARGO_BIN_EXE_rater"))
        .args(["test", "--explain"])
        .arg(&plan)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains(&format!("explain {locator}:")), "{out}");
    assert!(out.contains("vehicle value x base rate"), "{out}");
}

#[test]
fn an_expected_error_passes_only_when_refused() {
    let dir = tempdir("errors");
    // Socotra's myrater.py fails on 009 (an unknown vehicle type); so does the plan.
    let plan = plan_copy(&dir, "personal-auto", &["009"]);
    let expected = read_json(&plan.join("tests/009.expected.json"));
    let socotra_error = expected["error"].as_str().unwrap().to_owned();
    let o = Command::new(env!("CARGO_BIN_EXE_rater"))
        .args(["test", "--verbose"])
        .arg(&plan)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("refused as expected"), "{out}");
    assert!(
        out.contains(&format!("want error: {socotra_error}")),
        "{out}"
    );
    assert!(out.contains("got error:  peril characteristic"), "{out}");
    assert_eq!(summary_line(&o), "1 passed, 0 failed");

    // The same expectation on a request the plan prices fails, showing the answer.
    std::fs::copy(
        root().join("rating-tables/personal-auto/tests/000.request.json"),
        plan.join("tests/009.request.json"),
    )
    .unwrap();
    let o = rater_test(&[&plan]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("got answer: {\"pricedPerilCharacteristics\""),
        "{out}"
    );
    assert_eq!(summary_line(&o), "0 passed, 1 failed");
}

#[test]
fn a_plan_that_does_not_load_fails_with_located_errors() {
    let dir = tempdir("broken");
    let plan = plan_copy(&dir, "socotra-reference", &["000"]);
    let toml = std::fs::read_to_string(plan.join("plan.toml")).unwrap();
    std::fs::write(
        plan.join("plan.toml"),
        toml.replace("mode = \"half-up\"", "mode = \"sideways\""),
    )
    .unwrap();
    let o = rater_test(&[&plan]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("does not load"), "{out}");
    assert!(out.contains("plan.toml:"), "a located error: {out}");
    assert!(out.contains("sideways"), "{out}");
    assert_eq!(summary_line(&o), "0 passed, 1 failed");
}

#[test]
fn an_unpaired_case_fails() {
    let dir = tempdir("unpaired");
    let plan = plan_copy(&dir, "socotra-reference", &["000"]);
    std::fs::remove_file(plan.join("tests/000.expected.json")).unwrap();
    let o = rater_test(&[&plan]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("has no partner 000.expected.json"), "{out}");
}

/// The library runner over the bundled plans, as bundle activation will call it. The two
/// Socotra plans pass every case; homeowners is checked case by case in its own test below.
#[test]
fn bundled_socotra_plans_pass_every_case() {
    let results = plantest::run(&[root().join("rating-tables")], TestOptions::default()).unwrap();
    let ids: Vec<String> = results
        .iter()
        .map(|p| match &p.outcome {
            PlanOutcome::Ran { id, .. } => id.clone(),
            PlanOutcome::LoadFailed(e) => panic!("{e}"),
        })
        .collect();
    assert_eq!(
        ids,
        [
            "acme-auto-2025-07",
            "acme-auto-2026-01",
            "homeowners",
            "personal-auto",
            "socotra-reference"
        ]
    );
    for plan in &results {
        let PlanOutcome::Ran { id, cases } = &plan.outcome else {
            unreachable!()
        };
        if id == "homeowners" || id.starts_with("acme-auto") {
            // Their cases are checked by `homeowners_cases_all_pass` and tests/acme.rs.
            continue;
        }
        assert_eq!(cases.len(), 22, "{id}: 20 variants and 2 EC requests");
        for c in cases {
            assert!(c.outcome.passed(), "{id} {}: {:?}", c.name, c.outcome);
        }
        // Socotra's two error answers are error cases, refused.
        let refused = cases
            .iter()
            .filter(|c| matches!(c.outcome, CaseOutcome::Refused { .. }))
            .count();
        assert_eq!(refused, if id == "personal-auto" { 2 } else { 0 }, "{id}");
    }
}

/// Homeowners' amounts (hand-computed, see each case's "why") all match, commissions
/// answered as Socotra reads them (`yearlyAmount`).
#[test]
fn homeowners_cases_all_pass() {
    let results = plantest::run(
        &[root().join("rating-tables/homeowners")],
        TestOptions::default(),
    )
    .unwrap();
    let PlanOutcome::Ran { cases, .. } = &results[0].outcome else {
        panic!("homeowners must load")
    };
    assert_eq!(cases.len(), 4);
    for c in cases {
        assert!(
            matches!(
                c.outcome,
                CaseOutcome::Passed { .. } | CaseOutcome::Refused { .. }
            ),
            "{}: {:?}",
            c.name,
            c.outcome
        );
    }
}

#[test]
fn the_fixtures_the_cases_came_from_are_still_socotra_s() {
    // The imported expectations must stay those of Socotra's answer files (apart from the
    // corrections each "why" note explains): compare the uncorrected ones with the source.
    let f = support::fixtures().join("rating-variants");
    let mut compared = 0;
    for (plan, suffix) in [
        ("socotra-reference", "reference"),
        ("personal-auto", "personal-auto"),
    ] {
        for n in 0..20 {
            let case = format!("{n:03}");
            let expected = read_json(
                &root()
                    .join("rating-tables")
                    .join(plan)
                    .join(format!("tests/{case}.expected.json")),
            );
            if expected["why"].as_str().unwrap_or("").contains("corrected") {
                continue;
            }
            let socotra = read_json(&f.join(format!("{case}.{suffix}.json")));
            if socotra.get("error").is_some() {
                assert_eq!(expected["error"], socotra["error"], "{plan} {case}");
                continue;
            }
            let want = expected["pricedPerilCharacteristics"].as_object().unwrap();
            let src = socotra["pricedPerilCharacteristics"].as_object().unwrap();
            assert_eq!(want.len(), src.len(), "{plan} {case}");
            for (loc, p) in src {
                for field in ["yearlyPremium", "exactPremium", "yearlyTechnicalPremium"] {
                    if let Some(v) = p.get(field) {
                        let a: rust_decimal::Decimal = v.to_string().parse().unwrap();
                        let b: rust_decimal::Decimal =
                            want[loc][field].as_str().unwrap().parse().unwrap();
                        assert_eq!(a, b, "{plan} {case} {loc} {field}");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared > 200, "{compared}");
}

/// A bundle is tested as it is, unpacked in memory: its cases pass or fail as the folders'
/// would, named inside the bundle; `rater impact` takes a bundle's plan too.
#[test]
fn a_bundle_is_tested_as_its_folders_are() {
    let dir = tempdir("bundle");
    let good = plan_copy(&dir, "socotra-reference", &["000", "001"]);
    let bad = plan_copy(&dir, "personal-auto", &["001"]);
    let path = bad.join("tests/001.expected.json");
    let mut expected = read_json(&path);
    let peril = expected["pricedPerilCharacteristics"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    peril["yearlyPremium"] = Value::String("0.01".into());
    std::fs::write(&path, serde_json::to_vec(&expected).unwrap()).unwrap();

    let file = dir.join("plans.tar.gz");
    std::fs::write(&file, rater::bundle::build(&[good.clone(), bad]).unwrap()).unwrap();
    let o = rater_test(&[&file]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("plans.tar.gz:personal-auto"), "{out}");
    assert!(out.contains("want 0.01, got "), "{out}");
    assert_eq!(summary_line(&o), "2 passed, 1 failed");

    let only_good = dir.join("good.tar.gz");
    std::fs::write(&only_good, rater::bundle::build(&[good]).unwrap()).unwrap();
    let o = rater_test(&[&only_good]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(summary_line(&o), "2 passed, 0 failed");

    // The same plan from the folder and from the bundle: no change at all.
    let book = dir.join("book");
    std::fs::create_dir_all(&book).unwrap();
    std::fs::copy(
        support::fixtures().join("rating-variants/000.request.json"),
        book.join("000.json"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rater"))
        .current_dir(root())
        .args(["impact", "--from", "socotra-reference", "--to"])
        .arg(format!("{}:socotra-reference", only_good.display()))
        .arg(&book)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("0 (unchanged)"), "{out}");
}
