//! Plan bundles: a tenant's own rate plans as one `.tar.gz` of plan folders.
//!
//! A bundle holds one or more plan folders exactly as in `rating-tables/` (a `plan.toml`,
//! CSV tables, and optionally `tests/NNN.request.json` + `NNN.expected.json`). This module
//! owns the bundle's format and everything done to its bytes before a plan is used:
//!
//! - `build`: `rater bundle DIR...`: a reproducible archive (same folders, same bytes).
//! - `unpack`: the archive -> files in memory, never on disk, under [`Limits`] and refusing
//!   every entry that is not a plain file or folder with a plain relative path.
//! - [`fetch`]: the download: https, no private addresses, checked redirects, caps.
//! - `cache`: [`BundleCache`], bundles by URL and pin: single flight, background refresh,
//!   last good kept, status and counters.
//! - `cases`: one plan test case priced and compared (the one function to swap for the
//!   `rater test` comparison when both exist).
//!
//! [`load`] chains them: bytes -> SHA-256 -> files -> every plan validated
//! (`load_plan_from` + `check_ambiguity`) -> every test case run. Only a bundle that passes
//! all of it becomes a [`LoadedBundle`]; there is no half-loaded bundle to serve.
//!
//! [`BundleError`] is the one error type of this boundary; files inside a bundle are named
//! `bundle.tar.gz:plan-id/plan.toml`, the bundle's name first.

mod build;
mod cache;
mod cases;
pub mod fetch;
mod unpack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::plan::{PLAN_FILE, PlanErrors, PlanFiles, PlanSet, check_ambiguity, load_plan_from};

pub use build::build;
pub use cache::{
    Active, BundleCache, BundleConfig, BundleFailure, BundleStats, LastError, PlanSource,
    REFUSAL_REASONS, Status, plan_list,
};
pub use cases::run_case;
pub use unpack::{Files, unpack};

/// Caps on what unpacking a bundle may cost. A carrier's plans are kilobytes to a few
/// megabytes; the defaults leave room for large tables while keeping a hostile bundle (a
/// gzip bomb, a million empty files) from taking the process's memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest `.tar.gz` accepted, in bytes.
    pub max_compressed: u64,
    /// The largest total of the files' sizes once unpacked, in bytes.
    pub max_unpacked: u64,
    /// The most entries (files and folders) a bundle may hold.
    pub max_files: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_compressed: 16 << 20,
            max_unpacked: 64 << 20,
            max_files: 2_000,
        }
    }
}

/// Why a bundle cannot be built, unpacked or activated. Each variant's [`code`] is the
/// stable reason counted in `/metrics`.
///
/// [`code`]: BundleError::code
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A cap of [`Limits`] was reached; reading stopped there.
    #[error("{name}: the bundle's {what} is over the limit of {limit}")]
    TooLarge {
        /// The bundle's name.
        name: String,
        /// "compressed size", "unpacked size" or "number of files".
        what: &'static str,
        /// The cap.
        limit: u64,
    },
    /// The bytes are not a gzip-compressed tar archive (or are cut short).
    #[error("{name}: not a .tar.gz archive: {why}")]
    NotAnArchive {
        /// The bundle's name.
        name: String,
        /// What the decoder said.
        why: String,
    },
    /// An entry that is not a plain file or folder at a plain relative path.
    #[error("{name}:{path}: refused: {why}")]
    Refused {
        /// The bundle's name.
        name: String,
        /// The entry's path as the archive gives it (lossy UTF-8).
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No `plan-id/plan.toml` in the bundle.
    #[error("{name}: no plan folders (a folder with a {PLAN_FILE}) in the bundle")]
    NoPlans {
        /// The bundle's name.
        name: String,
    },
    /// A plan does not load (or two plans are ambiguous); every error, located.
    #[error("{0}")]
    Plan(PlanErrors),
    /// A plan's own test case does not give its expected answer.
    #[error("{file}: test case fails: {why}")]
    CaseFailed {
        /// The case's expected file, `bundle:plan-id/tests/NNN.expected.json`.
        file: String,
        /// The first difference.
        why: String,
    },
    /// The bundle's SHA-256 is not the tenant's pin (`planSha256`).
    #[error("{name}: SHA-256 {actual} is not the pinned {expected}")]
    PinMismatch {
        /// The bundle's name.
        name: String,
        /// The pin.
        expected: String,
        /// The bundle's digest.
        actual: String,
    },
    /// Building a bundle: a folder or file cannot be read, or is not a plain file/folder.
    #[error("{path}: {why}")]
    Source {
        /// The file or folder on disk.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

impl BundleError {
    /// The stable reason, for metrics and HTTP error codes.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::TooLarge { .. } => "too_large",
            BundleError::NotAnArchive { .. } => "not_an_archive",
            BundleError::Refused { .. } => "refused_entry",
            BundleError::NoPlans { .. } => "no_plans",
            BundleError::Plan(_) => "invalid_plan",
            BundleError::CaseFailed { .. } => "failed_tests",
            BundleError::PinMismatch { .. } => "pin_mismatch",
            BundleError::Source { .. } => "source",
        }
    }
}

/// A bundle that unpacked, validated and passed its tests: ready to price.
#[derive(Debug)]
pub struct LoadedBundle {
    /// SHA-256 of the `.tar.gz` bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// Its plans, shared by every tenant using this bundle.
    pub plans: Arc<PlanSet>,
    /// How many test cases passed.
    pub cases: usize,
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Unpacks, validates and tests the bundle `bytes`; `name` prefixes every file it reports.
pub fn load(name: &str, bytes: &[u8], limits: &Limits) -> Result<LoadedBundle, BundleError> {
    let sha256 = sha256_hex(bytes);
    let files = unpack(name, bytes, limits)?;
    let mut plans = Vec::new();
    for id in files.plan_folders() {
        let src = InBundle {
            files: &files,
            folder: id,
        };
        let plan = load_plan_from(Path::new(id), &src)
            .map_err(|e| BundleError::Plan(prefixed(name, e)))?;
        plans.push(Arc::new(plan));
    }
    if plans.is_empty() {
        return Err(BundleError::NoPlans {
            name: name.to_owned(),
        });
    }
    let set = PlanSet::new(plans);
    check_ambiguity(&set, |p| PathBuf::from(format!("{}/{PLAN_FILE}", p.id())))
        .map_err(|e| BundleError::Plan(prefixed(name, e)))?;
    let mut cases = 0;
    for plan in set.iter() {
        for (request, expected, expected_path) in files.cases(plan.id()) {
            let Some(expected) = expected else {
                return Err(BundleError::CaseFailed {
                    file: format!("{name}:{expected_path}"),
                    why: "missing: each NNN.request.json needs its NNN.expected.json".into(),
                });
            };
            run_case(plan, request, expected).map_err(|why| BundleError::CaseFailed {
                file: format!("{name}:{expected_path}"),
                why,
            })?;
            cases += 1;
        }
    }
    Ok(LoadedBundle {
        sha256,
        plans: Arc::new(set),
        cases,
    })
}

/// `plan-id/plan.toml` -> `name:plan-id/plan.toml`, as a folder's errors read on disk.
fn prefixed(name: &str, errors: PlanErrors) -> PlanErrors {
    PlanErrors(
        errors
            .0
            .into_iter()
            .map(|mut e| {
                e.file = PathBuf::from(format!("{name}:{}", e.file.display()));
                e
            })
            .collect(),
    )
}

/// One plan folder of an unpacked bundle, as `load_plan_from` reads it (also the actuary
/// tools' way into a bundle).
pub struct InBundle<'a> {
    /// The bundle's files.
    pub files: &'a Files,
    /// The plan folder.
    pub folder: &'a str,
}

impl PlanFiles for InBundle<'_> {
    fn read(&self, rel: &Path) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        // Archive paths use `/` whatever the platform; a `..` or absolute `rel` matches no
        // key, so a plan cannot read outside its own folder.
        let mut key = String::from(self.folder);
        for part in rel.components() {
            let std::path::Component::Normal(part) = part else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a file of this plan folder",
                ));
            };
            key.push('/');
            key.push_str(&part.to_string_lossy());
        }
        self.files
            .get(&key)
            .map(std::borrow::Cow::Borrowed)
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file in the bundle")
            })
    }
}

/// The files of a bundle by path, for tests and tools that look inside one.
pub type FileMap = BTreeMap<String, Vec<u8>>;
