//! Makes a book of Socotra rating requests for `rater impact` (a `.jsonl` file, one request
//! per line) from the repository's fixtures, with varied values.
//!
//! ```sh
//! cargo run --release --example make_book -- [--socotra DIR] [--acme DIR] [--count N] [--seed S] OUT.jsonl
//! ```
//!
//! Templates: `<socotra>/rating-variants/*.request.json` and `<socotra>/rating-ec/*request*.json`
//! (default `tests/fixtures/socotra`), and `<acme>/examples/*.request.json` (default
//! `tests/fixtures/acme-auto`); a folder that is missing is skipped with a note, but at least
//! one template is needed. Each request is a template (chosen at random, the Socotra ones four
//! times as often) with every `fieldValues` entry varied: a whole number is scaled by 0.5 to 1.5
//! (a year stays within ten of itself), a text value is replaced by another value the
//! templates use for the same field. `policy.locator` becomes `book-N`, so movers are easy to
//! find. The same seed gives the same book.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// splitmix64: a tiny, good-enough generator, so the book needs no new dependency and the
/// same seed gives the same book on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Args {
    socotra: PathBuf,
    acme: PathBuf,
    count: usize,
    seed: u64,
    out: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        socotra: PathBuf::from("tests/fixtures/socotra"),
        acme: PathBuf::from("tests/fixtures/acme-auto"),
        count: 20_000,
        seed: 14,
        out: PathBuf::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--socotra" => a.socotra = value("--socotra")?.into(),
            "--acme" => a.acme = value("--acme")?.into(),
            "--count" => {
                a.count = value("--count")?
                    .parse()
                    .map_err(|e| format!("--count: {e}"))?
            }
            "--seed" => {
                a.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => a.out = s.into(),
        }
    }
    if a.out.as_os_str().is_empty() {
        return Err(
            "usage: make_book [--socotra DIR] [--acme DIR] [--count N] [--seed S] OUT.jsonl".into(),
        );
    }
    Ok(a)
}

/// The request files in `dir` whose names end with `suffix`, sorted; none if `dir` is missing.
fn requests(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("note: {} is missing; no templates from it", dir.display());
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(suffix)))
        .collect();
    files.sort();
    files
}

/// Every `fieldValues` object in a request, wherever it is.
fn field_values(v: &mut Value, f: &mut dyn FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "fieldValues"
                    && let Value::Object(fv) = child
                {
                    f(fv);
                } else {
                    field_values(child, f);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| field_values(c, f)),
        _ => {}
    }
}

fn main() -> Result<(), String> {
    let a = args()?;
    let mut templates: Vec<(Value, usize)> = Vec::new();
    let mut files = requests(&a.socotra.join("rating-variants"), ".request.json");
    files.extend(
        requests(&a.socotra.join("rating-ec"), ".json")
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("request")),
    );
    let socotra = files.len();
    files.extend(requests(&a.acme.join("examples"), ".request.json"));
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let v: Value =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        // Socotra templates weigh 4, acme ones 1: most of the book is what the bundled plans
        // price, and the rest shows requests a plan refuses.
        templates.push((v, if i < socotra { 4 } else { 1 }));
    }
    if templates.is_empty() {
        return Err("no templates: pass --socotra and/or --acme folders that hold requests".into());
    }
    // Text values per field name, from every template: the vocabulary a field is varied with.
    let mut vocab: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (t, _) in &mut templates {
        field_values(t, &mut |fv| {
            for (k, v) in fv.iter() {
                if let Some(s) = v.get(0).and_then(Value::as_str)
                    && s.parse::<i64>().is_err()
                {
                    vocab.entry(k.clone()).or_default().insert(s.to_owned());
                }
            }
        });
    }
    let vocab: BTreeMap<String, Vec<String>> = vocab
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();
    let weights: Vec<usize> = templates
        .iter()
        .enumerate()
        .flat_map(|(i, (_, w))| std::iter::repeat_n(i, *w))
        .collect();

    let mut rng = Rng(a.seed);
    let file = std::fs::File::create(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    for n in 0..a.count {
        let mut req = templates[weights[rng.below(weights.len())]].0.clone();
        field_values(&mut req, &mut |fv| {
            for (k, v) in fv.iter_mut() {
                let Some(Value::String(s)) = v.get_mut(0) else {
                    continue;
                };
                if let Ok(x) = s.parse::<i64>() {
                    *s = if (1900..=2100).contains(&x) {
                        (x - 10 + rng.below(21) as i64).to_string()
                    } else {
                        (x * (50 + rng.below(101) as i64) / 100).to_string()
                    };
                } else if let Some(words) = vocab.get(k)
                    && words.len() > 1
                    && rng.below(2) == 0
                {
                    *s = words[rng.below(words.len())].clone();
                }
            }
        });
        if let Some(p) = req.get_mut("policy").and_then(Value::as_object_mut) {
            p.insert("locator".into(), Value::String(format!("book-{n}")));
        }
        serde_json::to_writer(&mut out, &req).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} requests from {} templates into {}",
        a.count,
        templates.len(),
        a.out.display()
    );
    Ok(())
}
