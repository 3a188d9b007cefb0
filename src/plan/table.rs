//! CSV lookup tables and their indexes.
//!
//! A table is a CSV file an actuary can open in a spreadsheet (UTF-8 BOM, CRLF and quoted
//! cells are fine; cells are trimmed). Its key columns are exact keys (text or numbers,
//! typed by the input that feeds them) or half-open numeric bands `[from, to)` (an empty
//! cell is an open end). At load the rows become a tree with one level per key column:
//! hashed maps for exact keys, sorted band vectors (checked for gaps and overlaps) for bands,
//! so a lookup is a hash probe or a binary search per key, with no parsing or allocation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use super::error::PlanError;
use crate::engine::Value;

/// How one key column matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Exact text match.
    Text,
    /// Exact numeric match (`35` matches `35.0`).
    Number,
    /// Half-open numeric band: `from <= value < to`.
    Band,
}

/// A key column as declared in the plan, resolved to CSV column indexes.
#[derive(Clone, Debug)]
pub struct KeySpec {
    /// How it matches.
    pub kind: KeyKind,
    /// The header name(s), for messages: `column`, or `from..to`.
    pub label: String,
    /// The CSV column index (for bands: the `from` column).
    pub col: usize,
    /// For bands: the `to` column.
    pub to_col: Option<usize>,
}

/// A matched row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The row's value.
    pub value: Decimal,
    /// Its 1-based line in the CSV file; 0 for the default row.
    pub line: usize,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Row),
    Text(HashMap<Box<str>, Node>),
    Number(HashMap<Decimal, Node>),
    /// Sorted by `from`; non-overlapping and gap-free (checked at load).
    Bands(Vec<Band>),
}

#[derive(Clone, Debug)]
struct Band {
    /// `None` is unbounded below.
    from: Option<Decimal>,
    /// `None` is unbounded above.
    to: Option<Decimal>,
    line: usize,
    node: Node,
}

/// A loaded, indexed table. Immutable after load.
#[derive(Clone, Debug)]
pub struct Table {
    /// The table's name in the plan.
    pub name: Box<str>,
    /// The CSV file it was read from.
    pub file: PathBuf,
    /// Its key columns in lookup order.
    pub keys: Vec<KeySpec>,
    /// The value of the default row, when the plan gives one.
    pub default: Option<Decimal>,
    root: Node,
    rows: usize,
}

/// The result of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A row matched.
    Row(Row),
    /// No row matched; the default row applies.
    Default(Decimal),
    /// No row matched and there is no default.
    Miss,
}

impl Table {
    /// How many data rows the table has.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Looks up the row for `keys` (one value per key column, in order).
    pub fn lookup(&self, keys: &[Value<'_>]) -> Lookup {
        let mut node = &self.root;
        let mut keys = keys.iter();
        let found = loop {
            match node {
                Node::Leaf(row) => break Some(*row),
                Node::Text(map) => match keys.next() {
                    Some(Value::Text(t)) => match map.get(*t) {
                        Some(n) => node = n,
                        None => break None,
                    },
                    _ => break None,
                },
                Node::Number(map) => match keys.next() {
                    Some(Value::Number(d)) => match map.get(d) {
                        Some(n) => node = n,
                        None => break None,
                    },
                    _ => break None,
                },
                Node::Bands(bands) => match keys.next() {
                    Some(Value::Number(d)) => match find_band(bands, *d) {
                        Some(b) => node = &b.node,
                        None => break None,
                    },
                    _ => break None,
                },
            }
        };
        match (found, self.default) {
            (Some(row), _) => Lookup::Row(row),
            (None, Some(d)) => Lookup::Default(d),
            (None, None) => Lookup::Miss,
        }
    }
}

/// The 1-based line a record starting at byte `offset` is on. The csv crate's own line count
/// is off by one after a CRLF line end (the `\n` is counted as the next record's start), so
/// lines are counted from the bytes: skip the line-end bytes the offset may point at, count
/// the newlines before.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let mut at = offset.min(bytes.len());
    while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
        at += 1;
    }
    bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

fn find_band(bands: &[Band], d: Decimal) -> Option<&Band> {
    // Bands are sorted and disjoint: the candidate is the last band starting at or below d.
    let idx = bands.partition_point(|b| b.from.is_none_or(|f| f <= d));
    let band = bands.get(idx.checked_sub(1)?)?;
    band.to.is_none_or(|t| d < t).then_some(band)
}

/// A key column as the plan file declares it.
pub struct KeyDecl<'a> {
    /// How it matches.
    pub kind: KeyKind,
    /// The exact-key column, or the band's `from` column.
    pub column: &'a str,
    /// The band's `to` column.
    pub to: Option<&'a str>,
}

/// Reads and indexes a CSV table. Returns every problem found, each located in the CSV file.
pub fn load_table(
    name: &str,
    path: &Path,
    keys: &[KeyDecl<'_>],
    value_col: &str,
    default: Option<Decimal>,
) -> Result<Table, Vec<PlanError>> {
    let err = |line: usize, column: usize, message: String| PlanError {
        file: path.to_path_buf(),
        line,
        column,
        message,
    };
    let bytes = std::fs::read(path)
        .map_err(|e| vec![err(0, 0, format!("cannot read table `{name}`: {e}"))])?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| vec![err(1, 0, format!("cannot read the header row: {e}"))])?
        .clone();
    let find = |col: &str| headers.iter().position(|h| h == col);
    let mut errors = Vec::new();
    let missing = |col: &str, errors: &mut Vec<PlanError>| {
        errors.push(err(
            1,
            0,
            format!(
                "table `{name}` has no column `{col}` (columns: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        ));
        usize::MAX
    };
    let specs: Vec<KeySpec> = keys
        .iter()
        .map(|k| {
            let col = find(k.column).unwrap_or_else(|| missing(k.column, &mut errors));
            let to_col =
                k.to.map(|t| find(t).unwrap_or_else(|| missing(t, &mut errors)));
            KeySpec {
                kind: k.kind.clone(),
                label: match k.to {
                    Some(t) => format!("{}..{}", k.column, t),
                    None => k.column.to_owned(),
                },
                col,
                to_col,
            }
        })
        .collect();
    let value_idx = find(value_col).unwrap_or_else(|| missing(value_col, &mut errors));
    if !errors.is_empty() {
        return Err(errors);
    }

    // Parse every row into typed cells first, so all bad cells are reported together.
    struct ParsedRow {
        line: usize,
        keys: Vec<Cell>,
        value: Decimal,
    }
    let mut parsed = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e
                    .position()
                    .map_or(0, |p| line_of(&bytes, p.byte() as usize));
                errors.push(err(line, 0, format!("bad CSV row: {e}")));
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |p| line_of(&bytes, p.byte() as usize));
        if record.iter().all(str::is_empty) {
            continue; // spreadsheets leave blank lines at the end
        }
        let cell_dec = |idx: usize, what: &str, errors: &mut Vec<PlanError>| -> Option<Decimal> {
            let raw = record.get(idx).unwrap_or("");
            match Decimal::from_str_exact(raw) {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(err(
                        line,
                        idx + 1,
                        format!(
                            "{what} `{}` must be a decimal number, got {raw:?}",
                            headers.get(idx).unwrap_or("")
                        ),
                    ));
                    None
                }
            }
        };
        let mut cells = Vec::with_capacity(specs.len());
        let mut ok = true;
        for spec in &specs {
            let raw = record.get(spec.col).unwrap_or("");
            let cell = match spec.kind {
                KeyKind::Text => {
                    if raw.is_empty() {
                        errors.push(err(
                            line,
                            spec.col + 1,
                            format!("key column `{}` is empty", spec.label),
                        ));
                        ok = false;
                        continue;
                    }
                    Cell::Text(raw.into())
                }
                KeyKind::Number => match cell_dec(spec.col, "key column", &mut errors) {
                    Some(d) => Cell::Number(d),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                KeyKind::Band => {
                    let open =
                        |idx: usize, errors: &mut Vec<PlanError>| -> Result<Option<Decimal>, ()> {
                            if record.get(idx).unwrap_or("").is_empty() {
                                Ok(None)
                            } else {
                                cell_dec(idx, "band column", errors).map(Some).ok_or(())
                            }
                        };
                    let from = open(spec.col, &mut errors);
                    let to = open(spec.to_col.unwrap_or(usize::MAX), &mut errors);
                    match (from, to) {
                        (Ok(from), Ok(to)) => {
                            if let (Some(f), Some(t)) = (from, to)
                                && f >= t
                            {
                                errors.push(err(
                                    line,
                                    spec.col + 1,
                                    format!(
                                        "band `{}` is empty: from {f} is not below to {t}",
                                        spec.label
                                    ),
                                ));
                                ok = false;
                                continue;
                            }
                            Cell::Band(from, to)
                        }
                        _ => {
                            ok = false;
                            continue;
                        }
                    }
                }
            };
            cells.push(cell);
        }
        let value = cell_dec(value_idx, "value column", &mut errors);
        if let (true, Some(value)) = (ok, value) {
            parsed.push(ParsedRow {
                line,
                keys: cells,
                value,
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if parsed.is_empty() {
        return Err(vec![err(0, 0, format!("table `{name}` has no rows"))]);
    }
    let rows = parsed.len();
    let refs: Vec<(usize, &[Cell], Decimal)> = parsed
        .iter()
        .map(|r| (r.line, r.keys.as_slice(), r.value))
        .collect();
    let root = build(&specs, 0, &refs, &mut |line, col, msg| {
        errors.push(err(line, col, msg))
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Table {
        name: name.into(),
        file: path.to_path_buf(),
        keys: specs,
        default,
        root,
        rows,
    })
}

/// A parsed row as the index builder sees it: (line, key cells, value).
type RowRef<'a> = (usize, &'a [Cell], Decimal);

#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Text(Box<str>),
    Number(Decimal),
    Band(Option<Decimal>, Option<Decimal>),
}

/// Builds the index level for key column `depth` from rows sharing all earlier keys.
fn build(
    specs: &[KeySpec],
    depth: usize,
    rows: &[(usize, &[Cell], Decimal)],
    report: &mut dyn FnMut(usize, usize, String),
) -> Node {
    let Some(spec) = specs.get(depth) else {
        // All keys consumed: exactly one row must remain.
        if rows.len() > 1 {
            let lines: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
            report(
                rows[1].0,
                0,
                format!(
                    "duplicate key: the same key is on lines {}",
                    lines.join(", ")
                ),
            );
        }
        let (line, _, value) = rows[0];
        return Node::Leaf(Row { value, line });
    };
    // Group rows by this column's cell, keeping file order.
    let mut groups: Vec<(&Cell, Vec<RowRef<'_>>)> = Vec::new();
    for row in rows {
        let cell = &row.1[depth];
        match groups.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, g)) => g.push(*row),
            None => groups.push((cell, vec![*row])),
        }
    }
    match spec.kind {
        KeyKind::Text => Node::Text(
            groups
                .into_iter()
                .map(|(cell, g)| {
                    let Cell::Text(t) = cell else {
                        unreachable!("text column holds text cells")
                    };
                    (t.clone(), build(specs, depth + 1, &g, report))
                })
                .collect(),
        ),
        KeyKind::Number => {
            // Numeric keys `35` and `35.0` are the same key: merge groups by value.
            let mut map: HashMap<Decimal, Vec<RowRef<'_>>> = HashMap::new();
            for (cell, g) in groups {
                let Cell::Number(d) = cell else {
                    unreachable!("number column holds numbers")
                };
                map.entry(*d).or_default().extend(g);
            }
            Node::Number(
                map.into_iter()
                    .map(|(d, g)| (d, build(specs, depth + 1, &g, report)))
                    .collect(),
            )
        }
        KeyKind::Band => {
            let mut bands: Vec<Band> = groups
                .into_iter()
                .map(|(cell, g)| {
                    let Cell::Band(from, to) = cell else {
                        unreachable!("band column holds bands")
                    };
                    Band {
                        from: *from,
                        to: *to,
                        line: g[0].0,
                        node: build(specs, depth + 1, &g, report),
                    }
                })
                .collect();
            bands.sort_by(|a, b| match (a.from, b.from) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, _) => std::cmp::Ordering::Less,
                (_, None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(&y),
            });
            for pair in bands.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let col = spec.col + 1;
                match (a.to, b.from) {
                    (None, _) | (_, None) => report(
                        b.line,
                        col,
                        format!(
                            "band `{}` on line {} overlaps the open-ended band on line {}",
                            spec.label, b.line, a.line
                        ),
                    ),
                    (Some(end), Some(start)) if start < end => report(
                        b.line,
                        col,
                        format!(
                            "band `{}` [{start}, ..) on line {} overlaps [.., {end}) on line {}",
                            spec.label, b.line, a.line
                        ),
                    ),
                    (Some(end), Some(start)) if start > end => report(
                        b.line,
                        col,
                        format!(
                            "gap in band `{}`: nothing covers [{end}, {start}) between lines {} and {}",
                            spec.label, a.line, b.line
                        ),
                    ),
                    _ => {}
                }
            }
            Node::Bands(bands)
        }
    }
}
