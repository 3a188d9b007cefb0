//! (b) Arbitrary bytes as a plan folder through the loader (`load_plan`): a `plan.toml` and
//! up to four CSV tables, written to a temporary folder per process.
//!
//! Input layout (so real plans can seed the corpus): NUL-separated segments
//! `plan.toml \0 name1 \0 csv1 \0 name2 \0 csv2 ...`; a table name that is not a plain file
//! name becomes `tN.csv`. Seeds are the bundled plans in this form (see `fuzz/run`).
//!
//! Oracles besides "no panic": every error is located in a file of the folder, and a plan
//! that loads can be loaded again with the same result (load is a pure function of the
//! files).

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rater::plan::load_plan;

/// The plan folder: named `plan` so seeds with `id = "plan"` load.
fn folder() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir()
            .join(format!("rater-fuzz-{}", std::process::id()))
            .join("plan");
        std::fs::create_dir_all(&d).expect("temp folder");
        d
    })
}

fn clean(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn plain_name(name: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(name).ok()?;
    let ok = !s.is_empty()
        && s.len() <= 40
        && !s.starts_with('.')
        && s != "plan.toml"
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    ok.then_some(s)
}

/// What a plan is, without the tables' hash maps (whose Debug order is random per process).
fn summary(p: &rater::plan::Plan) -> String {
    let tables: Vec<String> = p
        .tables()
        .iter()
        .map(|t| format!("{} {:?} {:?} {}", t.name, t.keys, t.default, t.rows()))
        .collect();
    format!(
        "{} {} {} {} {:?} {:?} {tables:?}",
        p.id(),
        p.version(),
        p.product(),
        p.effective_from(),
        p.effective_to(),
        p.inputs()
    )
}

fuzz_target!(|data: &[u8]| {
    let dir = folder();
    clean(dir);
    let mut parts = data.split(|&b| b == 0);
    let plan = parts.next().unwrap_or_default();
    if std::fs::write(dir.join("plan.toml"), plan).is_err() {
        return;
    }
    for i in 0..4 {
        let (Some(name), Some(csv)) = (parts.next(), parts.next()) else {
            break;
        };
        let name = plain_name(name).map_or_else(|| format!("t{i}.csv"), str::to_owned);
        let _ = std::fs::write(dir.join(name), csv);
    }
    match load_plan(dir) {
        Ok(p) => {
            let again = load_plan(dir).expect("a plan that loaded loads again");
            assert_eq!(summary(&p), summary(&again));
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error with no message");
            for e in &errors.0 {
                assert!(e.file.starts_with(dir), "error outside the folder: {e}");
                let _ = e.to_string();
            }
        }
    }
});
