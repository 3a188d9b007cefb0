//! A plan's own test cases: `<plan>/tests/NNN.request.json` priced with the plan and
//! compared with `NNN.expected.json`, exactly, as decimals.
//!
//! An expected file is either an answer,
//! `{"pricedPerilCharacteristics": {"<locator>": {"yearlyPremium": "…", "exactPremium": "…",
//! "yearlyTechnicalPremium": "…", "commissions": [{"recipient": "agent", "yearlyAmount": "…"}]}}}`,
//! or `{"error": "…"}`: the request must be refused. A top-level `"why"` note is ignored.
//!
//! Every locator and every amount present on either side is compared; a key or a locator on
//! one side only is a difference, and commissions are matched by recipient. No tolerance:
//! `1288` equals `1288.00`, `1288.01` does not. This module returns [`PlanTests`]; printing is
//! the CLI's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::plan::{PlanErrors, Selector, load_plan};
use crate::pricing::{PriceOptions, price_request};

/// The folder of a plan that holds its test cases.
pub const TESTS_DIR: &str = "tests";

/// How to run the cases.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestOptions {
    /// For a failing case, price it again with the explain trace and keep the trace lines of
    /// every peril that differs.
    pub explain: bool,
}

/// One plan's results.
#[derive(Debug)]
pub struct PlanTests {
    /// The plan folder.
    pub dir: PathBuf,
    /// Loaded and run, or why not.
    pub outcome: PlanOutcome,
}

/// Whether a plan could be tested.
#[derive(Debug)]
pub enum PlanOutcome {
    /// The plan does not load: its located errors. Counts as one failure.
    LoadFailed(PlanErrors),
    /// The plan loaded; its cases (empty when it has no `tests/` folder).
    Ran {
        /// The plan id.
        id: String,
        /// Every case, sorted by name.
        cases: Vec<CaseResult>,
    },
}

/// One test case's result.
#[derive(Debug)]
pub struct CaseResult {
    /// `NNN`: the file name before `.request.json`.
    pub name: String,
    /// The request file.
    pub request: PathBuf,
    /// What happened.
    pub outcome: CaseOutcome,
}

/// What a case gave.
#[derive(Debug)]
pub enum CaseOutcome {
    /// Every amount equal.
    Passed {
        /// How many amounts were compared.
        amounts: usize,
    },
    /// An error was expected and the request was refused.
    Refused {
        /// The expected message.
        expected: String,
        /// The rater's message.
        got: String,
    },
    /// Priced, but some amounts differ.
    Differs {
        /// Each difference, in locator then field order.
        differences: Vec<Difference>,
        /// With [`TestOptions::explain`], the trace lines of each differing locator.
        traces: Vec<(String, Vec<String>)>,
    },
    /// An error was expected, but the request was priced.
    NotRefused {
        /// The expected message.
        expected: String,
        /// The answer given.
        answer: String,
    },
    /// An answer was expected, but the request was refused.
    UnexpectedError {
        /// The rater's message.
        error: String,
    },
    /// The case itself cannot be run (unreadable or malformed files).
    Broken(CaseError),
}

impl CaseOutcome {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        matches!(
            self,
            CaseOutcome::Passed { .. } | CaseOutcome::Refused { .. }
        )
    }
}

/// One amount that differs. `None` is "absent on that side".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The peril characteristic locator.
    pub locator: String,
    /// The field: `yearlyPremium`, `commissions[agent].yearlyAmount`, or `(locator)` when
    /// the whole characteristic is on one side only.
    pub field: String,
    /// The expected value, as written.
    pub want: Option<String>,
    /// The rater's value, as answered.
    pub got: Option<String>,
}

/// Why a case cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `NNN.request.json` has no `NNN.expected.json` beside it, or the other way round.
    #[error("{path} has no partner {missing}")]
    Unpaired {
        /// The file that is there.
        path: PathBuf,
        /// The file name that is missing.
        missing: String,
    },
    /// The expected file is not of the expected shape.
    #[error("{path}: {message}")]
    Expected {
        /// The expected file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Why the runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The folder could not be listed.
    #[error("cannot read {path}: {source}")]
    ReadDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The folder holds no plan.
    #[error("{0} is neither a plan folder (with a plan.toml) nor a folder of plan folders")]
    NoPlans(PathBuf),
    /// A bundle file cannot be read or unpacked.
    #[error("{0}")]
    Bundle(String),
}

/// Totals over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, plus one per plan that did not load.
    pub failed: usize,
}

/// Counts passes and failures; a plan that does not load is one failure.
pub fn summary(results: &[PlanTests]) -> Summary {
    let mut s = Summary::default();
    for plan in results {
        match &plan.outcome {
            PlanOutcome::LoadFailed(_) => s.failed += 1,
            PlanOutcome::Ran { cases, .. } => {
                for c in cases {
                    if c.outcome.passed() {
                        s.passed += 1;
                    } else {
                        s.failed += 1;
                    }
                }
            }
        }
    }
    s
}

/// Runs every plan's cases under each path (a plan folder, a folder of plan folders, or a
/// bundle file).
pub fn run(paths: &[PathBuf], opts: TestOptions) -> Result<Vec<PlanTests>, TestError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_file() {
            out.extend(run_bundle(path, opts)?);
            continue;
        }
        let dirs = super::plan_dirs(path).map_err(|source| TestError::ReadDir {
            path: path.clone(),
            source,
        })?;
        if dirs.is_empty() {
            return Err(TestError::NoPlans(path.clone()));
        }
        for dir in dirs {
            out.push(run_plan(&dir, opts)?);
        }
    }
    Ok(out)
}

/// Unpacks a bundle in memory (as the service does, under the same caps) and runs every
/// plan's cases from it; plans and cases are named `FILE:plan-id/...`.
pub fn run_bundle(file: &Path, opts: TestOptions) -> Result<Vec<PlanTests>, TestError> {
    let bytes = std::fs::read(file).map_err(|source| TestError::ReadDir {
        path: file.to_path_buf(),
        source,
    })?;
    let name = file.display().to_string();
    let files = crate::bundle::unpack(&name, &bytes, &crate::bundle::Limits::default())
        .map_err(|e| TestError::Bundle(e.to_string()))?;
    let folders = files.plan_folders();
    if folders.is_empty() {
        return Err(TestError::NoPlans(file.to_path_buf()));
    }
    let mut out = Vec::new();
    for folder in folders {
        let dir = PathBuf::from(format!("{name}:{folder}"));
        let source = crate::bundle::InBundle {
            files: &files,
            folder,
        };
        let plan = match crate::plan::load_plan_from(&PathBuf::from(folder), &source) {
            Ok(p) => Arc::new(p),
            Err(errors) => {
                out.push(PlanTests {
                    dir,
                    outcome: PlanOutcome::LoadFailed(errors),
                });
                continue;
            }
        };
        let id = plan.id().to_owned();
        let selector = Selector::fixed(plan);
        let cases = files
            .cases(folder)
            .map(|(request, expected, expected_path)| {
                let path = PathBuf::from(format!("{name}:{expected_path}"));
                let case = expected_path
                    .rsplit('/')
                    .next()
                    .unwrap_or(&expected_path)
                    .trim_end_matches(EXPECTED)
                    .to_owned();
                let outcome = match expected {
                    None => CaseOutcome::Broken(CaseError::Unpaired {
                        path: path.clone(),
                        missing: format!("{case}{EXPECTED}"),
                    }),
                    Some(bytes) => parse_expected(bytes, &path)
                        .map(|want| outcome_of(&selector, request, want, opts))
                        .unwrap_or_else(CaseOutcome::Broken),
                };
                CaseResult {
                    name: case.clone(),
                    request: PathBuf::from(format!("{name}:{folder}/tests/{case}{REQUEST}")),
                    outcome,
                }
            })
            .collect();
        out.push(PlanTests {
            dir,
            outcome: PlanOutcome::Ran { id, cases },
        });
    }
    Ok(out)
}

/// Loads one plan folder and runs its cases.
pub fn run_plan(dir: &Path, opts: TestOptions) -> Result<PlanTests, TestError> {
    let plan = match load_plan(dir) {
        Ok(p) => Arc::new(p),
        Err(errors) => {
            return Ok(PlanTests {
                dir: dir.to_path_buf(),
                outcome: PlanOutcome::LoadFailed(errors),
            });
        }
    };
    let id = plan.id().to_owned();
    let selector = Selector::fixed(plan);
    let cases = cases(&dir.join(TESTS_DIR))?
        .into_iter()
        .map(|c| run_case(&selector, c, opts))
        .collect();
    Ok(PlanTests {
        dir: dir.to_path_buf(),
        outcome: PlanOutcome::Ran { id, cases },
    })
}

const REQUEST: &str = ".request.json";
const EXPECTED: &str = ".expected.json";

/// A case found on disk: its name and both files, or why it is unpaired.
struct Found {
    name: String,
    request: PathBuf,
    expected: PathBuf,
    unpaired: Option<CaseError>,
}

/// The cases in a `tests/` folder, by name; none when the folder does not exist.
fn cases(tests: &Path) -> Result<Vec<Found>, TestError> {
    let entries = match std::fs::read_dir(tests) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(TestError::ReadDir {
                path: tests.to_path_buf(),
                source,
            });
        }
    };
    let mut names = BTreeSet::new();
    for entry in entries.filter_map(Result::ok) {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        if let Some(n) = file
            .strip_suffix(REQUEST)
            .or_else(|| file.strip_suffix(EXPECTED))
        {
            names.insert(n.to_owned());
        }
    }
    Ok(names
        .into_iter()
        .map(|name| {
            let request = tests.join(format!("{name}{REQUEST}"));
            let expected = tests.join(format!("{name}{EXPECTED}"));
            let unpaired = match (request.is_file(), expected.is_file()) {
                (true, false) => Some(CaseError::Unpaired {
                    path: request.clone(),
                    missing: format!("{name}{EXPECTED}"),
                }),
                (false, _) => Some(CaseError::Unpaired {
                    path: expected.clone(),
                    missing: format!("{name}{REQUEST}"),
                }),
                (true, true) => None,
            };
            Found {
                name,
                request,
                expected,
                unpaired,
            }
        })
        .collect())
}

/// What an expected file asks for.
enum Expected {
    Answer(Map<String, Value>),
    Error(String),
}

fn read_expected(path: &Path) -> Result<Expected, CaseError> {
    let bytes = std::fs::read(path).map_err(|source| CaseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_expected(&bytes, path)
}

fn parse_expected(bytes: &[u8], path: &Path) -> Result<Expected, CaseError> {
    let bad = |message: String| CaseError::Expected {
        path: path.to_path_buf(),
        message,
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if let Some(err) = v.get("error") {
        return Ok(Expected::Error(match err {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
    }
    match v.get("pricedPerilCharacteristics") {
        Some(Value::Object(m)) => Ok(Expected::Answer(m.clone())),
        _ => Err(bad(
            "has neither `pricedPerilCharacteristics` (an object) nor `error`".into(),
        )),
    }
}

fn run_case(selector: &Selector, found: Found, opts: TestOptions) -> CaseResult {
    let outcome = match found.unpaired {
        Some(e) => CaseOutcome::Broken(e),
        None => outcome(selector, &found.request, &found.expected, opts)
            .unwrap_or_else(CaseOutcome::Broken),
    };
    CaseResult {
        name: found.name,
        request: found.request,
        outcome,
    }
}

fn outcome(
    selector: &Selector,
    request: &Path,
    expected: &Path,
    opts: TestOptions,
) -> Result<CaseOutcome, CaseError> {
    let expected = read_expected(expected)?;
    let body = std::fs::read(request).map_err(|source| CaseError::Read {
        path: request.to_path_buf(),
        source,
    })?;
    Ok(outcome_of(selector, &body, expected, opts))
}

/// Prices one case's request and compares the answer with what is expected.
fn outcome_of(
    selector: &Selector,
    body: &[u8],
    expected: Expected,
    opts: TestOptions,
) -> CaseOutcome {
    let mut out = Vec::with_capacity(1024);
    let priced = price_request(selector, body, &mut out, PriceOptions::default());
    match (expected, priced) {
        (Expected::Error(expected), Err(e)) => CaseOutcome::Refused {
            expected,
            got: format!("{e} ({})", e.code()),
        },
        (Expected::Error(expected), Ok(())) => CaseOutcome::NotRefused {
            expected,
            answer: String::from_utf8_lossy(&out).into_owned(),
        },
        (Expected::Answer(_), Err(e)) => CaseOutcome::UnexpectedError {
            error: format!("{e} ({})", e.code()),
        },
        (Expected::Answer(want), Ok(())) => {
            let got = answer_perils(&out);
            let (differences, amounts) = compare(&want, &got);
            if differences.is_empty() {
                CaseOutcome::Passed { amounts }
            } else {
                let traces = if opts.explain {
                    traces(selector, body, &differences)
                } else {
                    Vec::new()
                };
                CaseOutcome::Differs {
                    differences,
                    traces,
                }
            }
        }
    }
}

/// The `pricedPerilCharacteristics` of one of our answers.
fn answer_perils(out: &[u8]) -> Map<String, Value> {
    // Our own answer is always a JSON object with that member; an empty map would show every
    // expected locator as missing rather than hide a broken answer.
    serde_json::from_slice::<Value>(out)
        .ok()
        .and_then(|mut v| match v.get_mut("pricedPerilCharacteristics") {
            Some(Value::Object(m)) => Some(std::mem::take(m)),
            _ => None,
        })
        .unwrap_or_default()
}

/// Prices again with the trace and keeps the lines of the locators that differ.
fn traces(
    selector: &Selector,
    body: &[u8],
    differences: &[Difference],
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    if price_request(selector, body, &mut out, PriceOptions { explain: true }).is_err() {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&out) else {
        return Vec::new();
    };
    let locators: BTreeSet<&str> = differences.iter().map(|d| d.locator.as_str()).collect();
    locators
        .into_iter()
        .filter_map(|l| {
            let lines = v.get("explain")?.get(l)?.as_array()?;
            Some((
                l.to_owned(),
                lines
                    .iter()
                    .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned))
                    .collect(),
            ))
        })
        .collect()
}

/// Compares expected and answered peril characteristics; returns the differences and how
/// many amounts were compared.
pub fn compare(want: &Map<String, Value>, got: &Map<String, Value>) -> (Vec<Difference>, usize) {
    let mut diffs = Vec::new();
    let mut amounts = 0;
    let locators: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for locator in locators {
        match (want.get(locator), got.get(locator)) {
            (Some(w), Some(g)) => compare_peril(locator, w, g, &mut diffs, &mut amounts),
            (w, g) => diffs.push(Difference {
                locator: locator.clone(),
                field: "(locator)".into(),
                want: w.map(|_| "priced".into()),
                got: g.map(|_| "priced".into()),
            }),
        }
    }
    (diffs, amounts)
}

fn compare_peril(
    locator: &str,
    want: &Value,
    got: &Value,
    diffs: &mut Vec<Difference>,
    amounts: &mut usize,
) {
    let empty = Map::new();
    let w = want.as_object().unwrap_or(&empty);
    let g = got.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = w.keys().chain(g.keys()).collect();
    for key in keys {
        if key == "commissions" {
            compare_commissions(locator, w.get(key), g.get(key), diffs, amounts);
        } else {
            *amounts += 1;
            compare_amount(locator, key, w.get(key), g.get(key), diffs);
        }
    }
}

/// Commissions are matched by recipient; every other field of a commission is an amount.
fn compare_commissions(
    locator: &str,
    want: Option<&Value>,
    got: Option<&Value>,
    diffs: &mut Vec<Difference>,
    amounts: &mut usize,
) {
    let (Some(w), Some(g)) = (want, got) else {
        diffs.push(Difference {
            locator: locator.into(),
            field: "commissions".into(),
            want: want.map(Value::to_string),
            got: got.map(Value::to_string),
        });
        return;
    };
    let by_recipient = |v: &Value| -> Vec<(String, Map<String, Value>)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let mut m = c.as_object().cloned().unwrap_or_default();
                let r = match m.remove("recipient") {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                (r, m)
            })
            .collect()
    };
    let (w, g) = (by_recipient(w), by_recipient(g));
    let recipients: BTreeSet<&String> = w.iter().chain(g.iter()).map(|(r, _)| r).collect();
    for r in recipients {
        let wc = w.iter().find(|(x, _)| x == r).map(|(_, m)| m);
        let gc = g.iter().find(|(x, _)| x == r).map(|(_, m)| m);
        let (Some(wc), Some(gc)) = (wc, gc) else {
            diffs.push(Difference {
                locator: locator.into(),
                field: format!("commissions[{r}]"),
                want: wc.map(|_| "present".into()),
                got: gc.map(|_| "present".into()),
            });
            continue;
        };
        let keys: BTreeSet<&String> = wc.keys().chain(gc.keys()).collect();
        for key in keys {
            *amounts += 1;
            let field = format!("commissions[{r}].{key}");
            compare_amount(locator, &field, wc.get(key), gc.get(key), diffs);
        }
    }
}

fn compare_amount(
    locator: &str,
    field: &str,
    want: Option<&Value>,
    got: Option<&Value>,
    diffs: &mut Vec<Difference>,
) {
    let equal = match (want, got) {
        (Some(w), Some(g)) => match (decimal(w), decimal(g)) {
            (Some(w), Some(g)) => w == g,
            // Not amounts: compared as JSON.
            _ => w == g,
        },
        _ => false,
    };
    if !equal {
        diffs.push(Difference {
            locator: locator.into(),
            field: field.into(),
            want: want.map(text),
            got: got.map(text),
        });
    }
}

/// An amount as written: a decimal string (or a JSON number, printed as written).
fn decimal(v: &Value) -> Option<Decimal> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Decimal::from_str(&s)
        .or_else(|_| Decimal::from_scientific(&s))
        .ok()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn perils(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn amounts_compare_as_decimals_and_keys_on_one_side_differ() {
        let want = perils(json!({"a": {"yearlyPremium": "1288", "exactPremium": "10.5"}}));
        let got = perils(
            json!({"a": {"yearlyPremium": "1288.00", "exactPremium": "10.51",
            "yearlyTechnicalPremium": "1"}}),
        );
        let (diffs, n) = compare(&want, &got);
        assert_eq!(n, 3);
        let fields: Vec<_> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["exactPremium", "yearlyTechnicalPremium"]);
        assert_eq!(diffs[0].want.as_deref(), Some("10.5"));
        assert_eq!(diffs[0].got.as_deref(), Some("10.51"));
        assert_eq!(diffs[1].want, None);
    }

    #[test]
    fn commissions_match_by_recipient_whatever_the_order() {
        let want = perils(json!({"a": {"commissions": [
            {"recipient": "agent", "yearlyAmount": "10"},
            {"recipient": "broker", "yearlyAmount": "2"}]}}));
        let got = perils(json!({"a": {"commissions": [
            {"recipient": "broker", "yearlyAmount": "2.0"},
            {"recipient": "agent", "amount": "10"}]}}));
        let (diffs, _) = compare(&want, &got);
        let fields: Vec<_> = diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "commissions[agent].amount",
                "commissions[agent].yearlyAmount"
            ]
        );
    }

    #[test]
    fn a_locator_on_one_side_is_a_difference() {
        let want = perils(json!({"a": {"yearlyPremium": "1"}}));
        let got = perils(json!({"b": {"yearlyPremium": "1"}}));
        let (diffs, _) = compare(&want, &got);
        assert_eq!(diffs.len(), 2);
        assert!(diffs.iter().all(|d| d.field == "(locator)"));
    }
}
