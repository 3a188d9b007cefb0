//! Shared helpers for integration tests: fixture paths and plan loading.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rater::plan::{Plan, load_plan};

/// `$SOCOTRA_FIXTURES`, else `../shared/socotra/fixtures` from the crate root (CI clones the
/// repository beside `shared/`).
pub fn fixtures() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOCOTRA_FIXTURES") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("../shared/socotra/fixtures"),
        root.join("../../shared/socotra/fixtures"),
    ];
    candidates.into_iter().find(|p| p.is_dir()).expect(
        "the Socotra fixtures folder ../shared/socotra/fixtures must exist beside the repository",
    )
}

/// A bundled plan by id.
pub fn bundled(id: &str) -> Arc<Plan> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rating-tables")
        .join(id);
    Arc::new(load_plan(&dir).unwrap_or_else(|e| panic!("bundled plan {id} must load:\n{e}")))
}
