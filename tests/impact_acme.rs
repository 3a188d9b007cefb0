//! `rater impact` on the acme manual's change from edition 2025-07 to 2026-01, checked from
//! the manual itself: the totals against the manual's own premiums for its examples, and
//! each request's change against the two editions' only differences (base rates 5.26 %
//! higher everywhere, and 0.92 for two or more vehicles).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-impact-acme-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A book of one edition's examples (requests only), and the manual's written premium for
/// each example it prices.
fn book(edition: &str, test: &str) -> (PathBuf, BTreeMap<String, Decimal>) {
    let src = root().join("rating-tables").join(edition).join("tests");
    let dir = tempdir(&format!("{test}-{edition}")).join("book");
    std::fs::create_dir_all(&dir).unwrap();
    let mut written = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".request.json") else {
            continue;
        };
        std::fs::copy(&path, dir.join(&name)).unwrap();
        let expected = read_json(&src.join(format!("{stem}.expected.json")));
        if let Some(perils) = expected["pricedPerilCharacteristics"].as_object() {
            let sum: Decimal = perils
                .values()
                .map(|p| Decimal::from_str(p["exactPremium"].as_str().unwrap()).unwrap())
                .sum();
            written.insert(name, sum);
        }
    }
    (dir, written)
}

fn impact(book: &Path, csv: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_rater"))
        .current_dir(root())
        .args([
            "impact",
            "--from",
            "acme-auto-2025-07",
            "--to",
            "acme-auto-2026-01",
            "--by",
            "territory",
            "--top",
            "50",
            "--csv",
        ])
        .arg(csv)
        .arg(book)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn totals(csv: &Path) -> BTreeMap<String, String> {
    rows(&csv.join("totals.csv"))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// The "after" side of the 2026-dated examples and the "before" side of the 2025-dated ones
/// are the manual's own premiums; the examples the manual refuses are refused by both.
#[test]
fn totals_are_the_manuals_premiums() {
    let (book26, manual26) = book("acme-auto-2026-01", "totals");
    let csv26 = book26.parent().unwrap().join("csv");
    impact(&book26, &csv26);
    let t = totals(&csv26);
    assert_eq!(t["requests"], "21");
    assert_eq!(
        t["refused by both plans"], "2",
        "013 (unknown ZIP) and 015 (no rated driver)"
    );
    assert_eq!(
        d(&t["written premium after"]),
        manual26.values().sum::<Decimal>()
    );

    let (book25, manual25) = book("acme-auto-2025-07", "totals");
    let csv25 = book25.parent().unwrap().join("csv");
    impact(&book25, &csv25);
    let t = totals(&csv25);
    assert_eq!(t["requests"], "3");
    assert_eq!(t["refused by both plans"], "1", "014 (a driver of 15)");
    assert_eq!(
        d(&t["written premium before"]),
        manual25.values().sum::<Decimal>()
    );
}

/// Checked by hand from the manual: the editions differ only in base rates, every one of
/// which is 5.26 % higher in 2026-01 (checked here from the two tables), and in the 0.92
/// multi-vehicle discount. So a one-vehicle policy goes up by at most 5.26 % (less where the
/// flat roadside premium or the 15.00 minimum dilutes it), and a policy with two or more
/// vehicles goes down by at most 1 - 1.0526 x 0.92 = 3.16 %.
#[test]
fn each_request_moves_as_the_manual_says() {
    let tables = root().join("tests/fixtures/acme-auto/tables");
    let rates = |file: &str| -> BTreeMap<(String, String), Decimal> {
        rows(&tables.join(file))
            .into_iter()
            .map(|r| ((r[0].clone(), r[1].clone()), d(&r[2])))
            .collect()
    };
    let (old, new) = (
        rates("base_rate_2025-07.csv"),
        rates("base_rate_2026-01.csv"),
    );
    let r = d("1.0526");
    for (k, v) in &old {
        assert_eq!((new[k] / v).round_dp(4), r, "{k:?}");
    }
    let (book, _) = book("acme-auto-2026-01", "moves");
    let csv = book.parent().unwrap().join("csv");
    impact(&book, &csv);
    let mut seen = 0;
    for file in ["increases.csv", "decreases.csv"] {
        for row in rows(&csv.join(file)) {
            let request = read_json(Path::new(&row[1]));
            let vehicles = request["policy"]["exposures"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["name"] == "vehicle")
                .count();
            let change = d(&row[5]);
            if vehicles >= 2 {
                assert!(change < Decimal::ZERO && change >= d("-3.16"), "{row:?}");
            } else {
                assert!(change > Decimal::ZERO && change <= d("5.26"), "{row:?}");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 19, "every request priced by both plans moved");
    // Territory is a value the plan derives from the ZIP: the book is grouped by it.
    let by: Vec<Vec<String>> = rows(&csv.join("by_territory.csv"));
    assert!(by.len() >= 5, "{by:?}");
    assert!(by.iter().all(|r| r[0].parse::<u32>().is_ok()), "{by:?}");
}
