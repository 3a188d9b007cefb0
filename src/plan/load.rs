//! Loading: a plan folder -> a validated, indexed [`Plan`].

use std::path::Path;
use std::sync::Arc;

use super::{Plan, PlanErrors, PlanSet};

/// Loads one plan folder.
pub fn load_plan(dir: &Path) -> Result<Plan, PlanErrors> {
    let _ = dir;
    unimplemented!("plan loader")
}

/// Loads every plan folder (a sub-folder with a `plan.toml`) of `dir`. Stops at the first
/// bad plan and returns all of its errors.
pub fn load_dir(dir: &Path) -> Result<PlanSet, PlanErrors> {
    let _ = dir;
    let plans: Vec<Arc<Plan>> = Vec::new();
    Ok(PlanSet::new(plans))
}
