//! CSV lookup tables and their indexes.
//!
//! A table is a CSV file an actuary can open in a spreadsheet (UTF-8 BOM, CRLF and quoted
//! cells are fine; cells are trimmed). Its key columns are, in order:
//! - exact keys (text, or numbers by value when the key is numeric: `35` = `35.0`);
//! - half-open numeric bands `[from, to)` (an empty cell is an open end);
//! - prefixes: the row whose cell is the **longest** prefix of the key text matches (ZIP
//!   areas of 3 digits beside single ZIPs of 5);
//! - one interpolation key, last: the rows are published points, sorted by the key, and a key
//!   between two points takes the value on the straight line between them (the first or
//!   last value outside them).
//!
//! Its value is one column (`value = "factor"`), or, for a matrix, every column that is not a
//! key, chosen at lookup by name (`territory_factor` by the peril's name).
//!
//! At load the rows become a tree with one level per key column, every level a sorted list:
//! text keys (exact or prefix) in one buffer per level, numbers by value, bands (checked for
//! gaps and overlaps) and points (checked for order), so a lookup is a binary search per key
//! (a prefix: one per prefix length, longest first), with no parsing or allocation. Rows are
//! grouped with hash maps while loading, so a 20,000-row table loads in milliseconds; kept,
//! a row of a one-key table costs about 40 bytes beside its values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use super::error::PlanError;
use crate::engine::Value;

/// How one key column matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Exact text match.
    Text,
    /// Exact numeric match (`35` matches `35.0`).
    Number,
    /// Half-open numeric band: `from <= value < to`.
    Band,
    /// The longest cell that is a prefix of the key text.
    Prefix,
    /// Linear interpolation between published points (the last key only).
    Interpolate,
}

impl KeyKind {
    /// Whether the key's value must be a number.
    pub fn numeric(self) -> bool {
        matches!(self, KeyKind::Number | KeyKind::Band | KeyKind::Interpolate)
    }
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

/// One level of the index. Every collection is behind one thin pointer, so a `Node` is 16
/// bytes, and text keys live in one buffer per level, sorted and binary searched: a row of
/// a one-key table costs its entry (16 bytes), its key's bytes, its values and its line
/// number. (Hash maps of boxed keys with inline maps in every node cost about 210 bytes a
/// row; 1,000,000 rows, 50 tenants' bundles of 20,000, did not fit the 128 MB plan.)
// `Box<Vec<_>>` on purpose: a thin pointer where `Vec` or `Box<[_]>` would make every
// `Node` (the element of every list) a word or two wider.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug)]
enum Node {
    /// A row index into the table's cells.
    Leaf(u32),
    Text(Box<StrMap>),
    /// Sorted by value (`35` and `35.0` are one key).
    Number(Box<Vec<(Decimal, Node)>>),
    /// Prefix cell -> node; a lookup probes the key's prefixes, longest first.
    Prefix(Box<StrMap>),
    /// Sorted by `from`; non-overlapping and gap-free (checked at load).
    Bands(Box<Vec<Band>>),
    /// Published points `(x, row)`, strictly increasing in `x` (checked at load).
    Points(Box<Vec<(Decimal, u32)>>),
}

/// Text keys and their nodes, sorted by key: O(log n) lookups, no allocation per key.
#[derive(Clone, Debug)]
struct StrMap {
    /// Every key, concatenated in sorted order.
    text: Box<str>,
    /// Each key's end in `text` (its start is the previous end) and its node.
    entries: Box<[(u32, Node)]>,
    /// The longest key, in bytes (a prefix lookup probes no longer prefix).
    max: usize,
}

impl StrMap {
    fn new(mut pairs: Vec<(Box<str>, Node)>) -> StrMap {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut text = String::with_capacity(pairs.iter().map(|(k, _)| k.len()).sum());
        let max = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let entries = pairs
            .into_iter()
            .map(|(k, node)| {
                text.push_str(&k);
                (text.len() as u32, node)
            })
            .collect();
        StrMap {
            text: text.into_boxed_str(),
            entries,
            max,
        }
    }

    fn key(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.entries[i - 1].0 as usize
        };
        &self.text[start..self.entries[i].0 as usize]
    }

    fn get(&self, key: &str) -> Option<&Node> {
        // Binary search by index: each probe rebuilds its key from the previous end.
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(&self.entries[mid].1),
            }
        }
        None
    }
}

// A `Node` is the element of every level's list: kept at two words.
const _: () = assert!(std::mem::size_of::<Node>() == 16);

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
    /// The value columns' names: one, or a matrix's columns.
    pub columns: Vec<Box<str>>,
    /// The value of the default row, when the plan gives one.
    pub default: Option<Decimal>,
    root: Node,
    /// Row-major values, `columns.len()` per row.
    cells: Vec<Decimal>,
    /// Each row's 1-based CSV line.
    lines: Vec<u32>,
}

/// The result of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A row matched. `prefix` is the length of the matched prefix, when a prefix key matched.
    Row {
        /// The row.
        row: Row,
        /// The matched prefix's length in bytes (0 without a prefix key).
        prefix: usize,
    },
    /// The key fell between two published points; the value is on the line between them
    /// (not yet rounded).
    Between {
        /// `lo.value + (hi.value - lo.value) x (x - lo_x) / (hi_x - lo_x)`, multiplied first.
        value: Decimal,
        /// The point below, its x and row.
        lo: (Decimal, Row),
        /// The point above.
        hi: (Decimal, Row),
    },
    /// No row matched; the default row applies.
    Default(Decimal),
    /// No row matched and there is no default.
    Miss,
    /// The matrix has no such value column.
    NoColumn,
    /// Interpolating left the range of exact decimal arithmetic.
    Overflow,
}

impl Table {
    /// How many data rows the table has.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The value column named `name` (a matrix's column), if any.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| **c == *name)
    }

    fn row(&self, r: u32, col: usize) -> Row {
        let width = self.columns.len();
        Row {
            value: self.cells[r as usize * width + col],
            line: self.lines[r as usize] as usize,
        }
    }

    /// Looks up the row for `keys` (one value per key column, in order) and value column
    /// `col` (0 for a one-value table).
    pub fn lookup(&self, keys: &[Value<'_>], col: usize) -> Lookup {
        if col >= self.columns.len() {
            return Lookup::NoColumn;
        }
        let mut node = &self.root;
        let mut keys = keys.iter();
        let mut prefix = 0;
        let found = loop {
            match node {
                Node::Leaf(r) => {
                    break Some(Lookup::Row {
                        row: self.row(*r, col),
                        prefix,
                    });
                }
                Node::Text(map) => match keys.next() {
                    Some(Value::Text(t)) => match map.get(t) {
                        Some(n) => node = n,
                        None => break None,
                    },
                    _ => break None,
                },
                Node::Number(list) => match keys.next() {
                    Some(Value::Number(d)) => match list.binary_search_by(|(k, _)| k.cmp(d)) {
                        Ok(i) => node = &list[i].1,
                        Err(_) => break None,
                    },
                    _ => break None,
                },
                Node::Prefix(map) => match keys.next() {
                    Some(Value::Text(t)) => {
                        let longest = (1..=t.len().min(map.max))
                            .rev()
                            .filter(|&n| t.is_char_boundary(n))
                            .find_map(|n| map.get(&t[..n]).map(|node| (n, node)));
                        match longest {
                            Some((n, next)) => {
                                prefix = n;
                                node = next;
                            }
                            None => break None,
                        }
                    }
                    _ => break None,
                },
                Node::Bands(bands) => match keys.next() {
                    Some(Value::Number(d)) => match find_band(bands, *d) {
                        Some(b) => node = &b.node,
                        None => break None,
                    },
                    _ => break None,
                },
                Node::Points(points) => match keys.next() {
                    Some(Value::Number(x)) => {
                        break Some(
                            self.interpolate(points, *x, col)
                                .unwrap_or(Lookup::Overflow),
                        );
                    }
                    _ => break None,
                },
            }
        };
        match (found, self.default) {
            (Some(l), _) => l,
            (None, Some(d)) => Lookup::Default(d),
            (None, None) => Lookup::Miss,
        }
    }

    fn interpolate(&self, points: &[(Decimal, u32)], x: Decimal, col: usize) -> Option<Lookup> {
        let at = |i: usize| (points[i].0, self.row(points[i].1, col));
        let above = points.partition_point(|(px, _)| *px <= x);
        if above == 0 {
            return Some(Lookup::Row {
                row: at(0).1,
                prefix: 0,
            });
        }
        let (lo_x, lo) = at(above - 1);
        if lo_x == x || above == points.len() {
            return Some(Lookup::Row { row: lo, prefix: 0 });
        }
        let (hi_x, hi) = at(above);
        // Multiply before dividing: one division, whose quotient is the only inexact step.
        let value = hi
            .value
            .checked_sub(lo.value)?
            .checked_mul(x.checked_sub(lo_x)?)?
            .checked_div(hi_x.checked_sub(lo_x)?)?
            .checked_add(lo.value)?;
        Some(Lookup::Between {
            value,
            lo: (lo_x, lo),
            hi: (hi_x, hi),
        })
    }
}

/// Finds the 1-based line a record starting at byte `offset` is on. The csv crate's own line count
/// is off by one after a CRLF line end (the `\n` is counted as the next record's start), so
/// lines are counted from the bytes: skip the line-end bytes the offset may point at, count
/// the newlines before.
///
/// Offsets come in file order, so the newlines are counted on from the last offset rather
/// than from the start of the file each time: counting from the start made loading a table
/// quadratic in its rows (an 8,000-row table took 6 s in a debug build, 0.1 s now).
struct Lines<'a> {
    bytes: &'a [u8],
    /// Every newline before `at` has been counted into `newlines`.
    at: usize,
    newlines: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        Lines {
            bytes,
            at: 0,
            newlines: 0,
        }
    }

    fn line_of(&mut self, offset: usize) -> usize {
        let mut at = offset.min(self.bytes.len());
        while at < self.bytes.len() && matches!(self.bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        if at < self.at {
            // An offset behind the last one (never in practice): count from the start.
            self.at = 0;
            self.newlines = 0;
        }
        self.newlines += memchr::memchr_iter(b'\n', &self.bytes[self.at..at]).count();
        self.at = at;
        self.newlines + 1
    }
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
    /// The exact-key, prefix or point column, or the band's `from` column.
    pub column: &'a str,
    /// The band's `to` column.
    pub to: Option<&'a str>,
}

/// Which columns hold the table's values.
pub enum ValueDecl<'a> {
    /// One named column.
    Column(&'a str),
    /// Every column that is not a key (a matrix), chosen at lookup.
    Matrix,
}

/// Reads and indexes a CSV table from its bytes (a file on disk, or a bundle's member);
/// `path` names it in errors. Returns every problem found, each located in the CSV file.
pub fn parse_table(
    name: &str,
    path: &Path,
    bytes: &[u8],
    keys: &[KeyDecl<'_>],
    value: ValueDecl<'_>,
    default: Option<Decimal>,
) -> Result<Table, Vec<PlanError>> {
    let err = |line: usize, column: usize, message: String| PlanError {
        file: path.to_path_buf(),
        line,
        column,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
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
                kind: k.kind,
                label: match k.to {
                    Some(t) => format!("{}..{}", k.column, t),
                    None => k.column.to_owned(),
                },
                col,
                to_col,
            }
        })
        .collect();
    if let Some(i) = specs.iter().position(|s| s.kind == KeyKind::Interpolate)
        && i + 1 != specs.len()
    {
        errors.push(err(
            0,
            0,
            format!(
                "table `{name}`: the interpolation key `{}` must be the last key",
                specs[i].label
            ),
        ));
    }
    let value_cols: Vec<usize> = match value {
        ValueDecl::Column(c) => vec![find(c).unwrap_or_else(|| missing(c, &mut errors))],
        ValueDecl::Matrix => {
            let used: Vec<usize> = specs
                .iter()
                .flat_map(|s| [Some(s.col), s.to_col])
                .flatten()
                .collect();
            let cols: Vec<usize> = (0..headers.len()).filter(|i| !used.contains(i)).collect();
            if cols.is_empty() {
                errors.push(err(
                    1,
                    0,
                    format!("matrix table `{name}` has no value columns besides its keys"),
                ));
            }
            cols
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let columns: Vec<Box<str>> = value_cols
        .iter()
        .map(|&i| headers.get(i).unwrap_or("").into())
        .collect();

    // Parse every row into typed cells first, so all bad cells are reported together.
    let mut parsed: Vec<(usize, Vec<Cell>)> = Vec::new();
    let mut cells: Vec<Decimal> = Vec::new();
    let mut lines = Lines::new(bytes);
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_of(p.byte() as usize));
                errors.push(err(line, 0, format!("bad CSV row: {e}")));
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |p| lines.line_of(p.byte() as usize));
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
        let mut keys = Vec::with_capacity(specs.len());
        let mut ok = true;
        for spec in &specs {
            let raw = record.get(spec.col).unwrap_or("");
            let cell = match spec.kind {
                KeyKind::Text | KeyKind::Prefix => {
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
                KeyKind::Number | KeyKind::Interpolate => {
                    match cell_dec(spec.col, "key column", &mut errors) {
                        Some(d) => Cell::Number(d),
                        None => {
                            ok = false;
                            continue;
                        }
                    }
                }
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
            keys.push(cell);
        }
        let mut values = Vec::with_capacity(value_cols.len());
        for &c in &value_cols {
            match cell_dec(c, "value column", &mut errors) {
                Some(v) => values.push(v),
                None => ok = false,
            }
        }
        if ok {
            parsed.push((line, keys));
            cells.extend(values);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if parsed.is_empty() {
        return Err(vec![err(0, 0, format!("table `{name}` has no rows"))]);
    }
    let refs: Vec<RowRef<'_>> = parsed
        .iter()
        .enumerate()
        .map(|(i, (line, keys))| (*line, keys.as_slice(), i as u32))
        .collect();
    let root = build(&specs, 0, &refs, &mut |line, col, msg| {
        errors.push(err(line, col, msg))
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    // Kept for the plan's life, by every tenant that uses it: no spare capacity.
    cells.shrink_to_fit();
    Ok(Table {
        name: name.into(),
        file: path.to_path_buf(),
        keys: specs,
        columns,
        default,
        root,
        cells,
        lines: parsed.iter().map(|(line, _)| *line as u32).collect(),
    })
}

/// A parsed row as the index builder sees it: (line, key cells, row index).
type RowRef<'a> = (usize, &'a [Cell], u32);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Cell {
    Text(Box<str>),
    Number(Decimal),
    Band(Option<Decimal>, Option<Decimal>),
}

/// Groups rows by their cell in column `depth`, keeping file order (first appearance), with
/// a hash map: quadratic grouping made a 20,000-row table take seconds.
fn group_by<'c>(rows: &[RowRef<'c>], depth: usize) -> Vec<(&'c Cell, Vec<RowRef<'c>>)> {
    let mut at: HashMap<&'c Cell, usize> = HashMap::with_capacity(rows.len());
    let mut groups: Vec<(&'c Cell, Vec<RowRef<'c>>)> = Vec::new();
    for row in rows {
        let cell = &row.1[depth];
        match at.get(cell) {
            Some(&i) => groups[i].1.push(*row),
            None => {
                at.insert(cell, groups.len());
                groups.push((cell, vec![*row]));
            }
        }
    }
    groups
}

/// Builds the index level for key column `depth` from rows sharing all earlier keys.
fn build(
    specs: &[KeySpec],
    depth: usize,
    rows: &[RowRef<'_>],
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
        return Node::Leaf(rows[0].2);
    };
    let text = |cell: &Cell| -> Box<str> {
        match cell {
            Cell::Text(t) => t.clone(),
            _ => unreachable!("text and prefix columns hold text cells"),
        }
    };
    match spec.kind {
        KeyKind::Text | KeyKind::Prefix => {
            let map = StrMap::new(
                group_by(rows, depth)
                    .into_iter()
                    .map(|(cell, g)| (text(cell), build(specs, depth + 1, &g, report)))
                    .collect(),
            );
            if spec.kind == KeyKind::Text {
                Node::Text(Box::new(map))
            } else {
                Node::Prefix(Box::new(map))
            }
        }
        KeyKind::Number => {
            // Numeric keys `35` and `35.0` are the same key: merge groups by value.
            let mut order: Vec<Decimal> = Vec::new();
            let mut map: HashMap<Decimal, Vec<RowRef<'_>>> = HashMap::new();
            for row in rows {
                let Cell::Number(d) = row.1[depth] else {
                    unreachable!("number column holds numbers")
                };
                let g = map.entry(d.normalize()).or_default();
                if g.is_empty() {
                    order.push(d.normalize());
                }
                g.push(*row);
            }
            let mut list: Vec<(Decimal, Node)> = order
                .into_iter()
                .map(|d| {
                    let g = map.remove(&d).unwrap_or_default();
                    (d, build(specs, depth + 1, &g, report))
                })
                .collect();
            list.sort_unstable_by_key(|(d, _)| *d);
            Node::Number(Box::new(list))
        }
        KeyKind::Interpolate => {
            // The points as the file lists them: an actuary's table is read top to bottom,
            // so one out of order is a mistake to point at, not something to sort away.
            let mut points: Vec<(Decimal, u32)> = Vec::with_capacity(rows.len());
            let mut prev: Option<(Decimal, usize)> = None;
            for row in rows {
                let Cell::Number(x) = row.1[depth] else {
                    unreachable!("point column holds numbers")
                };
                if let Some((px, pline)) = prev
                    && x <= px
                {
                    report(
                        row.0,
                        spec.col + 1,
                        format!(
                            "interpolation points `{}` must increase down the table: {x} on line {} is not above {px} on line {pline}",
                            spec.label, row.0
                        ),
                    );
                }
                prev = Some((x, row.0));
                points.push((x, row.2));
            }
            points.shrink_to_fit();
            Node::Points(Box::new(points))
        }
        KeyKind::Band => {
            let mut bands: Vec<Band> = group_by(rows, depth)
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
            bands.shrink_to_fit();
            Node::Bands(Box::new(bands))
        }
    }
}
