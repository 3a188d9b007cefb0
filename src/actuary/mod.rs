//! Actuary tooling: the library side of `rater test` and `rater impact`.
//!
//! - [`plantest`]: runs a plan's own test cases (`<plan>/tests/NNN.request.json` beside
//!   `NNN.expected.json`) and returns structured results; the CLI only prints them, and bundle
//!   activation can call the same runner.
//! - [`impact`]: prices a book of requests with two plans, in parallel and streaming, and
//!   aggregates the change (totals, groups, distribution, movers, one-sided answers).
//! - [`report`]: the impact as tables, shared by the text and CSV outputs;
//!   [`report_html`]: the same as one self-contained HTML page with an SVG chart.
//!
//! Every request is priced through [`crate::pricing::price_request`] with
//! [`crate::plan::Selector::fixed`], exactly as `rater rate --plan` prices it.

pub mod impact;
pub mod plantest;
pub mod report;
pub mod report_html;

use std::path::{Path, PathBuf};

use crate::plan::PLAN_FILE;

/// The plan folders a path names: itself when it holds a `plan.toml`, else its sub-folders
/// that do, sorted. Folders without a `plan.toml` (such as a plan's `tests/`) are skipped.
pub fn plan_dirs(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.join(PLAN_FILE).is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(PLAN_FILE).is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}
