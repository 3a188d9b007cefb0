//! An [`Impact`] as named tables: the one model the text, CSV and HTML outputs render, so the
//! three always say the same thing.

use std::io::Write;
use std::path::Path;

use rust_decimal::Decimal;

use super::impact::{BUCKET_EDGES, BUCKETS, Group, Impact, Mover, OneSided};

/// What was compared, for headings.
#[derive(Clone, Debug)]
pub struct Meta {
    /// `from` plan: id and version.
    pub from: String,
    /// `to` plan: id and version.
    pub to: String,
    /// The book's path.
    pub book: String,
}

/// One table of the report.
#[derive(Clone, Debug)]
pub struct Table {
    /// File-name stem for CSV (`by_peril`).
    pub name: String,
    /// Heading.
    pub title: String,
    /// A sentence under the heading, if any.
    pub note: Option<String>,
    /// Column names.
    pub headers: Vec<String>,
    /// Cells, as text.
    pub rows: Vec<Vec<String>>,
}

/// Money with two places (sums of cents stay exact; whole-unit plans show `.00`).
pub fn money(d: Decimal) -> String {
    format!("{:.2}", d)
}

/// A change with its sign.
pub fn signed(d: Decimal) -> String {
    if d > Decimal::ZERO {
        format!("+{:.2}", d)
    } else {
        format!("{:.2}", d)
    }
}

/// A percent change, or `n/a` when there was nothing before.
pub fn pct(p: Option<Decimal>) -> String {
    match p {
        Some(p) if p > Decimal::ZERO => format!("+{p:.2} %"),
        Some(p) => format!("{p:.2} %"),
        None => "n/a".into(),
    }
}

/// How written premium is counted, said in every output.
pub fn basis(impact: &Impact) -> String {
    format!(
        "written premium = exactPremium where the answer has it, else yearlyPremium \
         ({} of {} peril characteristics had exactPremium)",
        impact.exact_used, impact.total.count
    )
}

/// Every table of the report, in reading order.
pub fn tables(impact: &Impact) -> Vec<Table> {
    let mut out = vec![totals(impact)];
    out.push(groups("by_peril", "By peril", "peril", &impact.by_peril));
    out.push(groups(
        "by_product",
        "By product",
        "product",
        &impact.by_product,
    ));
    for (name, g) in &impact.by_input {
        out.push(groups(
            &format!("by_{}", file_safe(name)),
            &format!("By {name}"),
            name,
            g,
        ));
    }
    out.push(distribution(impact));
    out.push(movers("increases", "Largest increases", &impact.increases));
    out.push(movers("decreases", "Largest decreases", &impact.decreases));
    out.push(one_sided(impact));
    out
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn totals(i: &Impact) -> Table {
    let row = |k: &str, v: String| vec![k.to_owned(), v];
    Table {
        name: "totals".into(),
        title: "Totals".into(),
        note: Some(format!(
            "{}. Premium totals cover the requests both plans price.",
            basis(i)
        )),
        headers: vec!["measure".into(), "value".into()],
        rows: vec![
            row("requests", i.requests.to_string()),
            row("priced by both plans", i.both_priced.to_string()),
            row("priced by from only", i.only_from.to_string()),
            row("priced by to only", i.only_to.to_string()),
            row("refused by both plans", i.both_refused.to_string()),
            row("peril characteristics", i.total.count.to_string()),
            row("written premium before", money(i.total.before)),
            row("written premium after", money(i.total.after)),
            row("change", signed(i.total.change())),
            row("change %", pct(i.total.percent())),
        ],
    }
}

fn groups(
    name: &str,
    title: &str,
    key: &str,
    groups: &std::collections::HashMap<String, Group>,
) -> Table {
    let mut keys: Vec<&String> = groups.keys().collect();
    keys.sort();
    Table {
        name: name.into(),
        title: title.into(),
        note: None,
        headers: [key, "count", "before", "after", "change", "change %"]
            .map(str::to_owned)
            .to_vec(),
        rows: keys
            .into_iter()
            .map(|k| {
                let g = &groups[k];
                vec![
                    k.clone(),
                    g.count.to_string(),
                    money(g.before),
                    money(g.after),
                    signed(g.change()),
                    pct(g.percent()),
                ]
            })
            .collect(),
    }
}

fn distribution(i: &Impact) -> Table {
    let total: u64 = i.buckets.iter().sum();
    Table {
        name: "distribution".into(),
        title: "Distribution of the change per request".into(),
        note: Some(format!(
            "Change in written premium per request, in percent; {BUCKET_EDGES}."
        )),
        headers: ["change %", "requests", "share %"]
            .map(str::to_owned)
            .to_vec(),
        rows: BUCKETS
            .iter()
            .zip(i.buckets)
            .map(|(b, n)| {
                let share = if total == 0 {
                    Decimal::ZERO
                } else {
                    (Decimal::from(n) * Decimal::ONE_HUNDRED / Decimal::from(total)).round_dp(1)
                };
                vec![(*b).to_owned(), n.to_string(), format!("{share:.1}")]
            })
            .collect(),
    }
}

fn movers(name: &str, title: &str, list: &[Mover]) -> Table {
    Table {
        name: name.into(),
        title: title.into(),
        note: None,
        headers: ["policy", "request", "before", "after", "change", "change %"]
            .map(str::to_owned)
            .to_vec(),
        rows: list
            .iter()
            .map(|m| {
                vec![
                    m.policy.clone().unwrap_or_else(|| "(none)".into()),
                    m.origin.to_string(),
                    money(m.before),
                    money(m.after),
                    signed(m.change()),
                    pct(super::impact::percent(m.before, m.after)),
                ]
            })
            .collect(),
    }
}

fn one_sided(i: &Impact) -> Table {
    let answer = |r: &Result<String, String>| match r {
        Ok(json) => format!("priced: {json}"),
        Err(e) => format!("refused: {e}"),
    };
    Table {
        name: "one_sided".into(),
        title: "Priced by one plan only".into(),
        note: Some(format!(
            "{} priced by from only, {} by to only ({} refused by both, not listed); the first {} by request:",
            i.only_from,
            i.only_to,
            i.both_refused,
            i.one_sided.len()
        )),
        headers: ["request", "from", "to"].map(str::to_owned).to_vec(),
        rows: i
            .one_sided
            .iter()
            .map(|s: &OneSided| vec![s.origin.to_string(), answer(&s.from), answer(&s.to)])
            .collect(),
    }
}

/// Cells longer than this are cut in the text output (the CSV has them whole).
const TEXT_CELL: usize = 160;

/// The report as aligned plain text.
pub fn write_text(w: &mut dyn Write, meta: &Meta, impact: &Impact) -> std::io::Result<()> {
    writeln!(w, "impact of {} -> {} on {}", meta.from, meta.to, meta.book)?;
    for t in tables(impact) {
        writeln!(w)?;
        writeln!(w, "{}", t.title)?;
        if let Some(note) = &t.note {
            writeln!(w, "  {note}")?;
        }
        if t.rows.is_empty() {
            writeln!(w, "  (none)")?;
            continue;
        }
        let cut = |s: &str| -> String {
            if s.chars().count() > TEXT_CELL {
                let mut c: String = s.chars().take(TEXT_CELL).collect();
                c.push_str("...");
                c
            } else {
                s.to_owned()
            }
        };
        let rows: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(|c| cut(c)).collect())
            .collect();
        let mut widths: Vec<usize> = t.headers.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        // Figures align right, names and answers left.
        let right: Vec<bool> = (0..widths.len())
            .map(|i| i > 0 && rows.iter().all(|r| r.get(i).is_some_and(|c| figure(c))))
            .collect();
        let line = |w: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
            let mut s = String::from(" ");
            for (i, (c, width)) in cells.iter().zip(&widths).enumerate() {
                if !right[i] {
                    s.push_str(&format!(" {c:<width$}"));
                } else {
                    s.push_str(&format!("  {c:>width$}"));
                }
            }
            writeln!(w, "{}", s.trim_end())
        };
        line(w, &t.headers)?;
        for r in &rows {
            line(w, r)?;
        }
    }
    Ok(())
}

/// Whether a cell is a figure (a count, money, a percent, or n/a).
fn figure(c: &str) -> bool {
    !c.is_empty()
        && c.chars()
            .all(|ch| ch.is_ascii_digit() || " .+-%n/a".contains(ch))
}

/// One CSV file per table in `dir` (created if needed); returns the files written.
pub fn write_csv(dir: &Path, impact: &Impact) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for t in tables(impact) {
        let path = dir.join(format!("{}.csv", t.name));
        let mut w = csv::Writer::from_path(&path).map_err(std::io::Error::other)?;
        w.write_record(&t.headers).map_err(std::io::Error::other)?;
        for r in &t.rows {
            // Percentages as plain numbers, so a spreadsheet reads them as numbers.
            let r = r.iter().map(|c| {
                let n = c.strip_suffix(" %").unwrap_or(c);
                match n.strip_prefix('+') {
                    Some(rest) if figure(rest) => rest,
                    _ if figure(n) => n,
                    _ => c.as_str(),
                }
            });
            w.write_record(r).map_err(std::io::Error::other)?;
        }
        w.flush()?;
        written.push(path);
    }
    Ok(written)
}
