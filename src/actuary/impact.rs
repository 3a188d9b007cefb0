//! The impact of a plan change on a book of requests: every request priced with the `from`
//! plan and the `to` plan, and the change aggregated.
//!
//! A book is a folder of request files (`*.json`) or a `.jsonl` file (one request per line).
//! It is streamed: a reader hands out chunks of [`CHUNK`] requests to rayon's workers, each
//! worker folds its chunks into its own [`Impact`], and the per-worker results are merged.
//! Nothing per request is kept beyond the bounded lists (movers, one-sided examples), so
//! memory stays flat whatever the size of the book.
//!
//! Written premium is `exactPremium` where the answer has it, else `yearlyPremium`.
//! Totals, groups and the distribution cover the requests both plans price; requests one side
//! refuses are counted and listed apart.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rayon::iter::{ParallelBridge as _, ParallelIterator as _};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::engine::value_of;
use crate::plan::{BoundPlan, Plan, Ref, Selector};
use crate::pricing::{PriceOptions, price_request};
use crate::wire::payload::Payload;

/// Requests per chunk handed to a worker: big enough that the hand-over costs nothing next
/// to pricing (~64 x 2 x 10 us), small enough that a 2-core and a 64-core machine both stay
/// busy to the end of a 20,000-request book.
pub const CHUNK: usize = 64;

/// The per-request change buckets, in percent, in display order.
pub const BUCKETS: [&str; 9] = [
    "< -10",
    "-10 .. -5",
    "-5 .. -2",
    "-2 .. 0",
    "0 (unchanged)",
    "0 .. 2",
    "2 .. 5",
    "5 .. 10",
    "> 10",
];

/// How bucket edges are assigned, said in every output.
pub const BUCKET_EDGES: &str = "an edge belongs to the bucket nearer zero \
(-10 % is in -10 .. -5, +2 % in 0 .. 2); a request written at 0 before and more after counts as > 10";

/// What to group by and how many movers to keep.
#[derive(Clone, Debug)]
pub struct ImpactOptions {
    /// Plan input names to group by (`--by`).
    pub by: Vec<String>,
    /// How many largest increases, decreases and one-sided examples to keep.
    pub top: usize,
}

/// Why an impact run cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    /// `--by` names nothing either plan declares.
    #[error(
        "--by {name}: neither plan `{from}` nor `{to}` has an input, value or table of that name ({known})"
    )]
    UnknownInput {
        /// The name asked for.
        name: String,
        /// The `from` plan id.
        from: String,
        /// The `to` plan id.
        to: String,
        /// Each plan's input names.
        known: String,
    },
    /// The book could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The book is neither a folder nor a `.jsonl` file.
    #[error("{0} is neither a folder of request files nor a .jsonl file")]
    NotABook(PathBuf),
}

/// Where a request came from in the book.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A request file of a folder book.
    File(PathBuf),
    /// A 1-based line of a `.jsonl` book.
    Line(u64),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Line(n) => write!(f, "line {n}"),
        }
    }
}

/// Count and written premium before and after, for a group or the whole book.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// Peril characteristics.
    pub count: u64,
    /// Written premium with the `from` plan.
    pub before: Decimal,
    /// Written premium with the `to` plan.
    pub after: Decimal,
}

impl Group {
    fn add(&mut self, before: Decimal, after: Decimal) {
        self.count += 1;
        self.before += before;
        self.after += after;
    }
    fn merge(&mut self, o: &Group) {
        self.count += o.count;
        self.before += o.before;
        self.after += o.after;
    }
    /// after - before.
    pub fn change(&self) -> Decimal {
        self.after - self.before
    }
    /// The change in percent of before, to two places; `None` when before is zero.
    pub fn percent(&self) -> Option<Decimal> {
        percent(self.before, self.after)
    }
}

/// (after - before) / before in percent, to two places; `None` when before is zero.
pub fn percent(before: Decimal, after: Decimal) -> Option<Decimal> {
    if before.is_zero() {
        return None;
    }
    Some(((after - before) * Decimal::ONE_HUNDRED / before).round_dp(2))
}

/// One request's change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mover {
    /// Where it is in the book.
    pub origin: Origin,
    /// `policy.locator`, when the request has one.
    pub policy: Option<String>,
    /// Written premium before.
    pub before: Decimal,
    /// Written premium after.
    pub after: Decimal,
}

impl Mover {
    /// after - before.
    pub fn change(&self) -> Decimal {
        self.after - self.before
    }
}

/// A request one plan prices and the other refuses (or both refuse, for counting only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneSided {
    /// Where it is in the book.
    pub origin: Origin,
    /// The `from` plan's answer: the JSON or the error.
    pub from: Result<String, String>,
    /// The `to` plan's answer.
    pub to: Result<String, String>,
}

/// The aggregated impact of a run. Built per worker and merged, so every field merges.
#[derive(Clone, Debug, Default)]
pub struct Impact {
    /// Requests read.
    pub requests: u64,
    /// Requests both plans priced.
    pub both_priced: u64,
    /// Requests only `from` priced.
    pub only_from: u64,
    /// Requests only `to` priced.
    pub only_to: u64,
    /// Requests both plans refused.
    pub both_refused: u64,
    /// Over the requests both priced.
    pub total: Group,
    /// Peril characteristics whose written premium is `exactPremium` (the rest: `yearlyPremium`),
    /// counted on the `from` side.
    pub exact_used: u64,
    /// Per peril name.
    pub by_peril: HashMap<String, Group>,
    /// Per `policy.productName`.
    pub by_product: HashMap<String, Group>,
    /// Per `--by` input, in the order asked: per value.
    pub by_input: Vec<(String, HashMap<String, Group>)>,
    /// Requests per [`BUCKETS`] bucket.
    pub buckets: [u64; 9],
    /// The largest increases, largest first.
    pub increases: Vec<Mover>,
    /// The largest decreases, largest first.
    pub decreases: Vec<Mover>,
    /// Examples of requests one side refuses, by origin.
    pub one_sided: Vec<OneSided>,
    top: usize,
}

/// The bucket index of a request's change.
pub fn bucket(before: Decimal, after: Decimal) -> usize {
    if after == before {
        return 4;
    }
    let Some(p) = percent_exact(before, after) else {
        return if after > before { 8 } else { 0 };
    };
    let ten = Decimal::TEN;
    let five = Decimal::from(5);
    let two = Decimal::TWO;
    if p < Decimal::ZERO {
        match -p {
            x if x > ten => 0,
            x if x > five => 1,
            x if x > two => 2,
            _ => 3,
        }
    } else {
        match p {
            x if x > ten => 8,
            x if x > five => 7,
            x if x > two => 6,
            _ => 5,
        }
    }
}

/// The change in percent, unrounded, so bucket edges are exact.
fn percent_exact(before: Decimal, after: Decimal) -> Option<Decimal> {
    if before.is_zero() {
        return None;
    }
    (after - before)
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(before)
}

impl Impact {
    fn new(by: &[String], top: usize) -> Impact {
        Impact {
            by_input: by.iter().map(|n| (n.clone(), HashMap::new())).collect(),
            top,
            ..Impact::default()
        }
    }

    fn merge(mut self, o: Impact) -> Impact {
        self.requests += o.requests;
        self.both_priced += o.both_priced;
        self.only_from += o.only_from;
        self.only_to += o.only_to;
        self.both_refused += o.both_refused;
        self.total.merge(&o.total);
        self.exact_used += o.exact_used;
        merge_groups(&mut self.by_peril, &o.by_peril);
        merge_groups(&mut self.by_product, &o.by_product);
        for ((_, mine), (_, theirs)) in self.by_input.iter_mut().zip(&o.by_input) {
            merge_groups(mine, theirs);
        }
        for (a, b) in self.buckets.iter_mut().zip(o.buckets) {
            *a += b;
        }
        let top = self.top.max(o.top);
        self.top = top;
        for m in o.increases {
            keep(&mut self.increases, m, top, increase_order);
        }
        for m in o.decreases {
            keep(&mut self.decreases, m, top, decrease_order);
        }
        for s in o.one_sided {
            keep(&mut self.one_sided, s, top, |a, b| a.origin.cmp(&b.origin));
        }
        self
    }

    /// Written premium change of the requests both priced.
    pub fn change(&self) -> Decimal {
        self.total.change()
    }
}

fn merge_groups(into: &mut HashMap<String, Group>, from: &HashMap<String, Group>) {
    for (k, g) in from {
        into.entry(k.clone()).or_default().merge(g);
    }
}

fn increase_order(a: &Mover, b: &Mover) -> Ordering {
    b.change()
        .cmp(&a.change())
        .then_with(|| a.origin.cmp(&b.origin))
}

fn decrease_order(a: &Mover, b: &Mover) -> Ordering {
    a.change()
        .cmp(&b.change())
        .then_with(|| a.origin.cmp(&b.origin))
}

/// Inserts `item` into the sorted, bounded `list`.
fn keep<T>(list: &mut Vec<T>, item: T, top: usize, order: impl Fn(&T, &T) -> Ordering) {
    if top == 0 {
        return;
    }
    let at = list
        .binary_search_by(|x| order(x, &item))
        .unwrap_or_else(|i| i);
    if at < top {
        list.insert(at, item);
        list.truncate(top);
    }
}

/// Whether `item` would enter the bounded list (so its costlier details are worth reading).
fn would_keep<T>(list: &[T], item: &T, top: usize, order: impl Fn(&T, &T) -> Ordering) -> bool {
    top > 0
        && (list.len() < top || order(item, list.last().expect("list is full")) == Ordering::Less)
}

/// Requests with where each came from, as handed to one worker, and how far into the book
/// they reach in its [`ProgressUnit`] (requests, or bytes read including blank lines).
struct Chunk {
    items: Vec<(Origin, Vec<u8>)>,
    progress: u64,
}
/// The book as a stream of chunks.
type Chunks<'e> = Box<dyn Iterator<Item = Chunk> + Send + 'e>;

/// A book of requests.
#[derive(Clone, Debug)]
pub enum Book {
    /// A folder of `*.json` request files.
    Dir(PathBuf),
    /// A `.jsonl` file, one request per line.
    Jsonl(PathBuf),
}

impl Book {
    /// A folder or a `.jsonl` file.
    pub fn open(path: &Path) -> Result<Book, ImpactError> {
        if path.is_dir() {
            Ok(Book::Dir(path.to_path_buf()))
        } else if path.is_file() && path.extension().is_some_and(|e| e == "jsonl") {
            Ok(Book::Jsonl(path.to_path_buf()))
        } else if !path.exists() {
            Err(ImpactError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
        } else {
            Err(ImpactError::NotABook(path.to_path_buf()))
        }
    }

    /// The book's size for a progress bar: a folder's request files (listed, not read), or a
    /// `.jsonl` file's bytes (its length: counting its lines would read it all once more).
    pub fn size(&self) -> Result<(u64, ProgressUnit), ImpactError> {
        match self {
            Book::Dir(dir) => Ok((dir_entries(dir)?.count() as u64, ProgressUnit::Requests)),
            Book::Jsonl(path) => {
                let meta = std::fs::metadata(path).map_err(|source| read_err(path, source))?;
                Ok((meta.len(), ProgressUnit::Bytes))
            }
        }
    }

    /// The book as a stream of chunks; a read error ends the stream and is left in `error`.
    fn chunks<'e>(&self, error: &'e Mutex<Option<ImpactError>>) -> Result<Chunks<'e>, ImpactError> {
        let fail = move |e: ImpactError| {
            let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
        };
        match self {
            Book::Dir(dir) => {
                let mut entries = dir_entries(dir)?;
                Ok(Box::new(std::iter::from_fn(move || {
                    let mut items = Vec::with_capacity(CHUNK);
                    for path in entries.by_ref() {
                        match std::fs::read(&path) {
                            Ok(body) => items.push((Origin::File(path), body)),
                            Err(source) => {
                                fail(read_err(&path, source));
                                return None;
                            }
                        }
                        if items.len() == CHUNK {
                            break;
                        }
                    }
                    let progress = items.len() as u64;
                    (!items.is_empty()).then_some(Chunk { items, progress })
                })))
            }
            Book::Jsonl(path) => {
                let file = std::fs::File::open(path).map_err(|source| read_err(path, source))?;
                let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
                let path = path.clone();
                let mut line_no = 0u64;
                Ok(Box::new(std::iter::from_fn(move || {
                    let mut items = Vec::with_capacity(CHUNK);
                    let mut progress = 0;
                    while items.len() < CHUNK {
                        let mut line = Vec::new();
                        match reader.read_until(b'\n', &mut line) {
                            Ok(0) => break,
                            Ok(n) => {
                                line_no += 1;
                                progress += n as u64;
                                if !line.trim_ascii().is_empty() {
                                    items.push((Origin::Line(line_no), line));
                                }
                            }
                            Err(source) => {
                                fail(read_err(&path, source));
                                return None;
                            }
                        }
                    }
                    (progress > 0).then_some(Chunk { items, progress })
                })))
            }
        }
    }
}

fn read_err(path: &Path, source: std::io::Error) -> ImpactError {
    ImpactError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// The `*.json` files of a folder book, streamed (not collected: a book may be huge). A
/// folder laid out as test cases (`NNN.request.json` beside `NNN.expected.json`) gives its
/// requests only: a plan's `tests/` folder, or the acme manual's examples, is a book too.
fn dir_entries(dir: &Path) -> Result<impl Iterator<Item = PathBuf> + Send + use<>, ImpactError> {
    let is_request = |p: &Path| p.to_string_lossy().ends_with(".request.json");
    let cases = std::fs::read_dir(dir)
        .map_err(|source| read_err(dir, source))?
        .filter_map(Result::ok)
        .any(|e| is_request(&e.path()));
    let entries = std::fs::read_dir(dir).map_err(|source| read_err(dir, source))?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(move |p| {
            p.extension().is_some_and(|e| e == "json") && p.is_file() && (!cases || is_request(p))
        }))
}

/// What each `--by` name means: the `from` plan's input, named value or table of that name
/// (else the `to` plan's), evaluated by the engine for each peril characteristic, so a
/// derived value (the territory of a ZIP) groups the book as well as a field does.
pub fn by_names(from: &Arc<Plan>, to: &Arc<Plan>, by: &[String]) -> Result<Vec<By>, ImpactError> {
    by.iter()
        .map(|name| {
            [from, to]
                .iter()
                .find_map(|p| p.name(name).map(|r| (BoundPlan::unbound((*p).clone()), r)))
                .ok_or_else(|| ImpactError::UnknownInput {
                    name: name.clone(),
                    from: from.id().to_owned(),
                    to: to.id().to_owned(),
                    known: [from, to]
                        .iter()
                        .map(|p| {
                            let names = p.names();
                            let names = if names.is_empty() {
                                "none".to_owned()
                            } else {
                                names.join(", ")
                            };
                            format!("names of `{}`: {names}", p.id())
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                })
        })
        .collect()
}

/// A `--by` name resolved: the plan that declares it, and what it is there.
pub type By = (BoundPlan, Ref);

/// What [`Book::size`] and the progress callback of [`run`] count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressUnit {
    /// Requests (a folder book).
    Requests,
    /// Bytes read (a `.jsonl` book).
    Bytes,
}

/// Prices every request of `book` with both plans and aggregates the change. `progress` is
/// called from the workers after each chunk with how far it took the book, in the unit
/// [`Book::size`] gives.
pub fn run(
    from: Arc<Plan>,
    to: Arc<Plan>,
    book: &Book,
    opts: &ImpactOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Impact, ImpactError> {
    let sources = by_names(&from, &to, &opts.by)?;
    let from = Selector::fixed(from);
    let to = Selector::fixed(to);
    let error = Mutex::new(None);
    let chunks = book.chunks(&error)?;
    let cx = Cx {
        from: &from,
        to: &to,
        sources: &sources,
        opts,
    };
    let impact = chunks
        .par_bridge()
        .fold(
            || Worker::new(opts),
            |mut w, chunk| {
                for (origin, body) in chunk.items {
                    w.request(&cx, origin, &body);
                }
                progress(chunk.progress);
                w
            },
        )
        .map(|w| w.impact)
        .reduce(|| Impact::new(&opts.by, opts.top), Impact::merge);
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(impact)
}

struct Cx<'a> {
    from: &'a Selector,
    to: &'a Selector,
    sources: &'a [By],
    opts: &'a ImpactOptions,
}

/// One worker's state: its share of the impact and its reused answer buffers.
struct Worker {
    impact: Impact,
    out_from: Vec<u8>,
    out_to: Vec<u8>,
}

impl Worker {
    fn new(opts: &ImpactOptions) -> Worker {
        Worker {
            impact: Impact::new(&opts.by, opts.top),
            out_from: Vec::with_capacity(4096),
            out_to: Vec::with_capacity(4096),
        }
    }

    fn request(&mut self, cx: &Cx<'_>, origin: Origin, body: &[u8]) {
        self.out_from.clear();
        self.out_to.clear();
        let opts = PriceOptions::default();
        let a = price_request(cx.from, body, &mut self.out_from, opts);
        let b = price_request(cx.to, body, &mut self.out_to, opts);
        let imp = &mut self.impact;
        imp.requests += 1;
        match (a, b) {
            (Ok(()), Ok(())) => {}
            (Err(_), Err(_)) => {
                imp.both_refused += 1;
                return;
            }
            (a, b) => {
                if a.is_ok() {
                    imp.only_from += 1;
                } else {
                    imp.only_to += 1;
                }
                let answer = |r: Result<(), crate::pricing::PriceError>, out: &[u8]| {
                    r.map(|()| String::from_utf8_lossy(out).into_owned())
                        .map_err(|e| format!("{e} ({})", e.code()))
                };
                let item = OneSided {
                    origin,
                    from: answer(a, &self.out_from),
                    to: answer(b, &self.out_to),
                };
                keep(&mut imp.one_sided, item, cx.opts.top, |x, y| {
                    x.origin.cmp(&y.origin)
                });
                return;
            }
        }
        imp.both_priced += 1;
        let (Some(before), Some(after)) = (written(&self.out_from), written(&self.out_to)) else {
            return;
        };
        let Some(dims) = dimensions(body, cx.sources) else {
            return;
        };
        let mut req_before = Decimal::ZERO;
        let mut req_after = Decimal::ZERO;
        for (locator, b) in &before.perils {
            let a = after
                .perils
                .iter()
                .find(|(l, _)| l == locator)
                .map_or(Decimal::ZERO, |(_, w)| w.amount);
            req_before += b.amount;
            req_after += a;
            imp.total.add(b.amount, a);
            if b.exact {
                imp.exact_used += 1;
            }
            let d = dims.perils.iter().find(|p| p.locator == *locator);
            let peril = d.map_or("(unknown)", |d| d.peril.as_str());
            group(&mut imp.by_peril, peril).add(b.amount, a);
            group(&mut imp.by_product, &dims.product).add(b.amount, a);
            for (i, (_, groups)) in imp.by_input.iter_mut().enumerate() {
                let value = d
                    .and_then(|d| d.by.get(i))
                    .and_then(Option::as_deref)
                    .unwrap_or("(missing)");
                group(groups, value).add(b.amount, a);
            }
        }
        imp.buckets[bucket(req_before, req_after)] += 1;
        let mover = Mover {
            origin,
            policy: None,
            before: req_before,
            after: req_after,
        };
        let top = cx.opts.top;
        if mover.change() > Decimal::ZERO && would_keep(&imp.increases, &mover, top, increase_order)
        {
            let mover = Mover {
                policy: policy_locator(body),
                ..mover
            };
            keep(&mut imp.increases, mover, top, increase_order);
        } else if mover.change() < Decimal::ZERO
            && would_keep(&imp.decreases, &mover, top, decrease_order)
        {
            let mover = Mover {
                policy: policy_locator(body),
                ..mover
            };
            keep(&mut imp.decreases, mover, top, decrease_order);
        }
    }
}

fn group<'m>(groups: &'m mut HashMap<String, Group>, key: &str) -> &'m mut Group {
    // Looked up by `&str` first: the common case (a known key) allocates nothing.
    if !groups.contains_key(key) {
        groups.insert(key.to_owned(), Group::default());
    }
    groups.get_mut(key).expect("inserted above")
}

/// One priced peril characteristic's written premium.
struct Written {
    amount: Decimal,
    /// Whether it is `exactPremium` (else `yearlyPremium`).
    exact: bool,
}

struct Answer {
    perils: Vec<(String, Written)>,
}

#[derive(Deserialize)]
struct RawAnswer<'a> {
    #[serde(borrow, rename = "pricedPerilCharacteristics")]
    perils: HashMap<Cow<'a, str>, RawPeril<'a>>,
}

#[derive(Deserialize)]
struct RawPeril<'a> {
    // Our own answers' amounts are plain decimals (no escapes), so they borrow.
    #[serde(borrow, rename = "exactPremium")]
    exact: Option<&'a str>,
    #[serde(borrow, rename = "yearlyPremium")]
    yearly: Option<&'a str>,
}

/// The written premium of each peril of one of our answers: `exactPremium` when answered,
/// else `yearlyPremium`.
fn written(out: &[u8]) -> Option<Answer> {
    let raw: RawAnswer<'_> = serde_json::from_slice(out).ok()?;
    let perils = raw
        .perils
        .into_iter()
        .map(|(locator, p)| {
            let (text, exact) = match (&p.exact, &p.yearly) {
                (Some(e), _) => (*e, true),
                (None, Some(y)) => (*y, false),
                (None, None) => ("0", false),
            };
            let amount = Decimal::from_str(text).unwrap_or_default();
            (locator.into_owned(), Written { amount, exact })
        })
        .collect();
    Some(Answer { perils })
}

/// The grouping dimensions of one request.
#[derive(Debug, Default)]
pub struct Dimensions {
    /// `policy.productName`.
    pub product: String,
    /// Per priced peril characteristic.
    pub perils: Vec<PerilDimensions>,
}

/// The grouping dimensions of one peril characteristic.
#[derive(Debug, Default)]
pub struct PerilDimensions {
    /// `perilCharacteristicsLocator`.
    pub locator: String,
    /// The peril's name.
    pub peril: String,
    /// The value of each `--by` name for this peril characteristic (`None` when absent or
    /// when it cannot be computed).
    pub by: Vec<Option<String>>,
}

/// Reads the grouping dimensions of a request: product, and per peril characteristic its
/// peril name and each `--by` name's value as the engine computes it (`engine::value_of`:
/// the input after defaults, a named value, a table's value).
pub fn dimensions(body: &[u8], by: &[By]) -> Option<Dimensions> {
    Payload::with(body, |p| {
        let p = p.ok()?;
        let tz = match p.tenant_time_zone() {
            Some(name) => jiff::tz::db().get(name).ok(),
            None => None,
        };
        let mut dims = Dimensions {
            product: p.product_name().unwrap_or("(none)").to_owned(),
            perils: Vec::with_capacity(p.triplet_count()),
        };
        for t in p.triplets()? {
            let Some(locator) = t.peril else { continue };
            let Ok(view) = p.resolve(locator, t.exposure, t.policy) else {
                continue;
            };
            dims.perils.push(PerilDimensions {
                locator: locator.to_owned(),
                peril: view.peril_name().unwrap_or("(none)").to_owned(),
                by: by
                    .iter()
                    .map(|(bound, r)| {
                        let peril = view.peril_name().unwrap_or("");
                        let tz = tz.as_ref()?;
                        value_of(bound, peril, &view, tz, *r).ok().flatten()
                    })
                    .collect(),
            });
        }
        Some(dims)
    })
}

/// `policy.locator` of a request, read only for the movers kept (a full parse that skips
/// everything else: the hot path never pays for it).
fn policy_locator(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Req<'a> {
        #[serde(borrow)]
        policy: Option<Policy<'a>>,
    }
    #[derive(Deserialize)]
    struct Policy<'a> {
        #[serde(borrow)]
        locator: Option<Cow<'a, str>>,
    }
    let r: Req<'_> = serde_json::from_slice(body).ok()?;
    Some(r.policy?.locator?.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn bucket_edges_go_to_the_bucket_nearer_zero() {
        let cases = [
            ("100", "100", 4),
            ("100", "89.99", 0),
            ("100", "90", 1),
            ("100", "95", 2),
            ("100", "98", 3),
            ("100", "99.99", 3),
            ("100", "100.01", 5),
            ("100", "102", 5),
            ("100", "105", 6),
            ("100", "110", 7),
            ("100", "110.01", 8),
            ("0", "5", 8),
            ("0", "0", 4),
        ];
        for (before, after, want) in cases {
            assert_eq!(
                BUCKETS[bucket(d(before), d(after))],
                BUCKETS[want],
                "{before} -> {after}"
            );
        }
    }

    #[test]
    fn bounded_lists_keep_the_largest_in_order() {
        let mut list = Vec::new();
        for (i, change) in [5, 1, 9, 3, 9, 7].into_iter().enumerate() {
            let m = Mover {
                origin: Origin::Line(i as u64 + 1),
                policy: None,
                before: Decimal::ZERO,
                after: Decimal::from(change),
            };
            keep(&mut list, m, 3, increase_order);
        }
        let got: Vec<_> = list
            .iter()
            .map(|m| (m.change(), m.origin.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (Decimal::from(9), Origin::Line(3)),
                (Decimal::from(9), Origin::Line(5)),
                (Decimal::from(7), Origin::Line(6)),
            ]
        );
    }
}
