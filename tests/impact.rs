//! `rater impact`: the real binary over a small book of Socotra's rating-variants requests,
//! `socotra-reference` -> `personal-auto`. The expected totals, groups, distribution and movers
//! are computed here from Socotra's own answers (`NNN.reference.json`, `NNN.personal-auto.json`)
//! and the requests' JSON, never from the rater.
//!
//! The HTML page is rendered in real headless Chromium (skipped, saying so, when
//! `/usr/bin/chromium` is missing, unless `RATER_REQUIRE_CHROMIUM=1`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

/// Variants 014 and 016 are left out: there Socotra's float answers are a cent from exact
/// decimal arithmetic (see rating-tables/personal-auto/tests). 009 and 019 are answered by
/// Socotra's reference and refused by myrater.py: the book's one-sided requests.
const CASES: &[&str] = &[
    "000", "001", "002", "003", "004", "005", "006", "007", "008", "009", "010", "011", "012",
    "013", "015", "017", "018", "019",
];

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-impact-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.to_string().trim_matches('"')).unwrap()
}

/// A folder book of the cases' requests.
fn book(name: &str) -> PathBuf {
    let dir = tempdir(name).join("book");
    std::fs::create_dir_all(&dir).unwrap();
    let f = support::fixtures().join("rating-variants");
    for c in CASES {
        let name = format!("{c}.request.json");
        std::fs::copy(f.join(&name), dir.join(&name)).unwrap();
    }
    dir
}

/// Written premium per locator from one of Socotra's answer files (exactPremium, else
/// yearlyPremium); `None` for an error answer.
fn socotra_written(answer: &Path) -> Option<BTreeMap<String, Decimal>> {
    let v = read_json(answer);
    if v.get("error").is_some() {
        return None;
    }
    Some(
        v["pricedPerilCharacteristics"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(l, p)| {
                let w = p.get("exactPremium").unwrap_or(&p["yearlyPremium"]);
                (l.clone(), dec(w))
            })
            .collect(),
    )
}

/// Peril name per peril characteristic locator, read from the request JSON.
fn peril_names(request: &Path) -> BTreeMap<String, String> {
    let v = read_json(request);
    let mut out = BTreeMap::new();
    for e in v["policy"]["exposures"].as_array().unwrap() {
        for p in e["perils"].as_array().unwrap() {
            for c in p["characteristics"].as_array().unwrap() {
                out.insert(
                    c["locator"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_owned(),
                );
            }
        }
    }
    out
}

#[derive(Default, Debug, PartialEq)]
struct Want {
    both: u64,
    only_from: u64,
    perils: u64,
    before: Decimal,
    after: Decimal,
    by_peril: BTreeMap<String, (u64, Decimal, Decimal)>,
    /// (change, request file, policy locator) of every request both price.
    changes: Vec<(Decimal, String, String)>,
    /// Per request: (before, after).
    per_request: Vec<(Decimal, Decimal)>,
}

fn want() -> Want {
    let f = support::fixtures().join("rating-variants");
    let mut w = Want::default();
    for c in CASES {
        let request = f.join(format!("{c}.request.json"));
        let before = socotra_written(&f.join(format!("{c}.reference.json"))).unwrap();
        let Some(after) = socotra_written(&f.join(format!("{c}.personal-auto.json"))) else {
            w.only_from += 1;
            continue;
        };
        w.both += 1;
        let names = peril_names(&request);
        let (mut rb, mut ra) = (Decimal::ZERO, Decimal::ZERO);
        for (loc, b) in &before {
            let a = after[loc];
            w.perils += 1;
            rb += b;
            ra += a;
            let g = w.by_peril.entry(names[loc].clone()).or_default();
            g.0 += 1;
            g.1 += b;
            g.2 += a;
        }
        w.before += rb;
        w.after += ra;
        let policy = read_json(&request)["policy"]["locator"]
            .as_str()
            .unwrap()
            .to_owned();
        w.changes
            .push((ra - rb, format!("{c}.request.json"), policy));
        w.per_request.push((rb, ra));
    }
    w
}

fn impact(args: &[&str], book: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rater"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "impact",
            "--from",
            "socotra-reference",
            "--to",
            "personal-auto",
        ])
        .args(args)
        .arg(book)
        .output()
        .unwrap()
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn totals(dir: &Path) -> BTreeMap<String, String> {
    csv_rows(&dir.join("totals.csv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

#[test]
fn totals_groups_and_movers_match_socotra_s_answers() {
    let book = book("folder");
    let out = book.parent().unwrap().join("csv");
    let o = impact(
        &[
            "--top",
            "3",
            "--by",
            "vehicle_type",
            "--csv",
            out.to_str().unwrap(),
        ],
        &book,
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let w = want();

    let t = totals(&out);
    assert_eq!(t["requests"], CASES.len().to_string());
    assert_eq!(t["priced by both plans"], w.both.to_string());
    assert_eq!(t["priced by from only"], w.only_from.to_string());
    assert_eq!(t["priced by to only"], "0");
    assert_eq!(t["peril characteristics"], w.perils.to_string());
    assert_eq!(dec(&t["written premium before"].as_str().into()), w.before);
    assert_eq!(dec(&t["written premium after"].as_str().into()), w.after);
    assert_eq!(dec(&t["change"].as_str().into()), w.after - w.before);
    assert!(text.contains("written premium = exactPremium where the answer has it"));

    let by_peril = csv_rows(&out.join("by_peril.csv"));
    assert_eq!(by_peril.len(), w.by_peril.len());
    for row in by_peril {
        let (n, b, a) = w.by_peril[&row[0]];
        assert_eq!(row[1], n.to_string(), "{row:?}");
        assert_eq!(Decimal::from_str(&row[2]).unwrap(), b, "{row:?}");
        assert_eq!(Decimal::from_str(&row[3]).unwrap(), a, "{row:?}");
    }

    // --by: every peril characteristic falls in exactly one vehicle type.
    let by_type = csv_rows(&out.join("by_vehicle_type.csv"));
    let counted: u64 = by_type.iter().map(|r| r[1].parse::<u64>().unwrap()).sum();
    assert_eq!(counted, w.perils);
    let before: Decimal = by_type
        .iter()
        .map(|r| Decimal::from_str(&r[2]).unwrap())
        .sum();
    assert_eq!(before, w.before);

    // Distribution: each request's change in percent, bucketed here by the documented edges.
    let mut buckets = [0u64; 9];
    for (b, a) in &w.per_request {
        let p = (a - b) * Decimal::ONE_HUNDRED / b;
        let i = if p.is_zero() {
            4
        } else if p > Decimal::ZERO {
            [2, 5, 10].iter().filter(|e| p > Decimal::from(**e)).count() + 5
        } else {
            3 - [2, 5, 10]
                .iter()
                .filter(|e| -p > Decimal::from(**e))
                .count()
        };
        buckets[i] += 1;
    }
    let dist: Vec<u64> = csv_rows(&out.join("distribution.csv"))
        .iter()
        .map(|r| r[1].parse().unwrap())
        .collect();
    assert_eq!(dist, buckets);

    // The three largest increases, with their policy locators and request files.
    let mut changes = w.changes.clone();
    changes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let increases = csv_rows(&out.join("increases.csv"));
    assert_eq!(increases.len(), 3);
    for (row, (change, file, policy)) in increases.iter().zip(&changes) {
        assert_eq!(&row[0], policy);
        assert!(row[1].ends_with(file.as_str()), "{row:?} {file}");
        assert_eq!(Decimal::from_str(&row[4]).unwrap(), *change);
    }
    assert!(csv_rows(&out.join("decreases.csv")).is_empty());

    // The one-sided requests, with both answers.
    let one_sided = csv_rows(&out.join("one_sided.csv"));
    assert_eq!(one_sided.len() as u64, w.only_from);
    for row in &one_sided {
        assert!(
            row[1].starts_with("priced: {\"pricedPerilCharacteristics\""),
            "{row:?}"
        );
        assert!(row[2].starts_with("refused: "), "{row:?}");
    }
}

#[test]
fn a_jsonl_book_gives_the_same_totals_and_names_lines() {
    let folder = book("jsonl");
    let jsonl = folder.parent().unwrap().join("book.jsonl");
    let mut lines = Vec::new();
    for c in CASES {
        let v = read_json(&folder.join(format!("{c}.request.json")));
        lines.push(serde_json::to_string(&v).unwrap());
    }
    std::fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
    let a = folder.parent().unwrap().join("a");
    let b = folder.parent().unwrap().join("b");
    let o = impact(&["--csv", a.to_str().unwrap()], &folder);
    assert!(o.status.success());
    let o = impact(&["--csv", b.to_str().unwrap()], &jsonl);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(totals(&a), totals(&b));
    let w = want();
    let mut changes = w.changes.clone();
    changes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let top = &csv_rows(&b.join("increases.csv"))[0];
    let line = CASES
        .iter()
        .position(|c| changes[0].1.starts_with(c))
        .unwrap()
        + 1;
    assert_eq!(top[1], format!("line {line}"));
}

#[test]
fn an_unknown_by_input_is_a_clear_error() {
    let book = book("unknown-by");
    let o = impact(&["--by", "hull_colour"], &book);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--by hull_colour"), "{err}");
    assert!(
        err.contains("vehicle_value"),
        "lists the known inputs: {err}"
    );
}

fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("RATER_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
        panic!("RATER_REQUIRE_CHROMIUM=1 but /usr/bin/chromium is missing");
    }
    eprintln!("skipped: /usr/bin/chromium is missing (apt-get install chromium)");
    None
}

fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chromium);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_html_page_renders_in_chromium_with_chart_and_totals() {
    let Some(chromium) = chromium() else { return };
    let book = book("html");
    let dir = book.parent().unwrap().to_path_buf();
    let page = dir.join("impact.html");
    let o = impact(
        &["--html", page.to_str().unwrap(), "--by", "channel"],
        &book,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains(" src=") && !html.contains(" href=") && !html.contains("url("),
        "no external resources"
    );
    let url = format!("file://{}", page.display());

    let dom = headless(&chromium, &dir.join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let w = want();
    assert!(dom.contains("<svg id=\"distribution-chart\""), "{dom}");
    assert_eq!(dom.matches("<rect ").count(), 9, "one bar per bucket");
    assert!(
        dom.contains(&format!("{:.2}", w.before)),
        "before total in the DOM"
    );
    assert!(
        dom.contains(&format!("{:.2}", w.after)),
        "after total in the DOM"
    );
    assert!(dom.contains("<table id=\"by_channel\""));

    let (width, height) = (1100u32, 1400u32);
    let png_path = dir.join("impact.png");
    let shot = headless(&chromium, &dir.join("profile-shot"))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    // Not blank: the page's background, text and the chart's orange bars are all there.
    let distinct: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(distinct.len() > 50, "{} colours", distinct.len());
    let orange = pixels
        .iter()
        .filter(|p| p[0] > 200 && (100..150).contains(&p[1]) && p[2] < 90)
        .count();
    assert!(
        orange > 500,
        "the chart's increase bars are drawn: {orange} px"
    );
    if let Ok(keep) = std::env::var("RATER_KEEP_SCREENSHOT") {
        std::fs::copy(&png_path, keep).unwrap();
    }
}
