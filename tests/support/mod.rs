//! Shared helpers for integration tests: fixture paths and plan loading.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rater::plan::{Plan, load_plan};

/// `../shared/socotra/fixtures`, found from the crate root (CI clones the repo beside `shared/`).
pub fn fixtures() -> PathBuf {
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
