//! The plan file (`plan.toml`) exactly as serde reads it, before any validation.
//!
//! Every value a person can get wrong is `Spanned`, so validation can point at its line and
//! column. Unknown keys are rejected (`deny_unknown_fields`): a typo must not silently drop
//! a factor from a premium.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// `plan.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub plan: RawHeader,
    #[serde(default)]
    pub rounding: Option<RawRounding>,
    #[serde(default)]
    pub proration: Option<RawProration>,
    #[serde(default)]
    pub outputs: RawOutputs,
    #[serde(default)]
    pub inputs: BTreeMap<Spanned<String>, RawInput>,
    #[serde(default)]
    pub tables: BTreeMap<Spanned<String>, RawTable>,
    /// `[values]`: name = "expression".
    #[serde(default)]
    pub values: BTreeMap<Spanned<String>, Spanned<String>>,
    pub perils: BTreeMap<Spanned<String>, RawPeril>,
}

/// `[plan]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub id: Option<Spanned<String>>,
    pub version: Spanned<String>,
    pub product: Spanned<String>,
    pub effective_from: Spanned<String>,
    pub effective_to: Option<Spanned<String>>,
    pub line: Option<Spanned<String>>,
    pub auto_select: Option<bool>,
    #[allow(dead_code)] // free text for people reading the file
    pub description: Option<String>,
}

/// `[rounding]`: the default rule, and optional rules per output.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRounding {
    pub mode: Spanned<String>,
    pub step: Spanned<String>,
    pub yearly: Option<RawRule>,
    pub exact: Option<RawRule>,
    pub technical: Option<RawRule>,
    pub commission: Option<RawRule>,
}

/// A rounding rule: `{ mode = "half-up", step = "0.01" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub mode: Spanned<String>,
    pub step: Spanned<String>,
}

/// `[proration]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProration {
    pub method: Spanned<String>,
    #[serde(default)]
    pub by_schedule: BTreeMap<String, Spanned<String>>,
}

/// `[outputs]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputs {
    /// `"ratio:0.8"`-style is avoided: a ratio is `technical_ratio`, own steps `technical = "steps"`.
    pub technical_ratio: Option<Spanned<String>>,
    pub technical: Option<Spanned<String>>,
    #[serde(default)]
    pub exact_premium: bool,
    pub commissions: Option<Vec<RawCommission>>,
}

/// One `[[outputs.commissions]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommission {
    pub recipient: Option<Spanned<String>>,
    pub recipient_from: Option<Spanned<String>>,
    pub ratio: Spanned<String>,
    pub when: Option<Spanned<String>>,
    /// "yearly" (default) or "exact".
    pub amount: Option<Spanned<String>>,
    pub rounding: Option<RawRule>,
}

/// `[inputs.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    pub level: Option<Spanned<String>>,
    pub field: Option<Spanned<String>>,
    pub builtin: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub ty: Spanned<String>,
    pub required: Option<bool>,
    pub default: Option<Spanned<String>>,
}

/// `[tables.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub file: Spanned<String>,
    pub keys: Vec<RawKey>,
    pub value: Option<Spanned<String>>,
    pub value_column: Option<Spanned<String>>,
    pub default: Option<Spanned<String>>,
    pub round: Option<RawRule>,
    /// The refusal's wording when no row matches: `"unknown ZIP {key}"`.
    pub missing: Option<Spanned<String>>,
}

/// One key column of a table: an exact key (`column`) or a half-open band (`from`, `to`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub input: Spanned<String>,
    pub column: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
    pub interpolate: Option<Spanned<String>>,
}

/// `[perils.NAME]`: `steps`, or one `premium` expression.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeril {
    pub steps: Option<Vec<Spanned<RawStep>>>,
    pub premium: Option<Spanned<String>>,
    pub technical_steps: Option<Vec<Spanned<RawStep>>>,
    pub technical: Option<Spanned<String>>,
}

/// One calculation step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub op: Spanned<String>,
    pub value: Option<Spanned<String>>,
    pub input: Option<Spanned<String>>,
    pub table: Option<Spanned<String>>,
    pub times: Option<Spanned<String>>,
    pub times_input: Option<Spanned<String>>,
    pub times_table: Option<Spanned<String>>,
    pub over: Option<Spanned<String>>,
    pub when: Option<RawWhen>,
    pub label: Option<String>,
}

/// A step's condition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub input: Spanned<String>,
    pub equals: Option<Spanned<String>>,
    pub not_equals: Option<Spanned<String>>,
    #[serde(rename = "in")]
    pub any_of: Option<Spanned<Vec<String>>>,
    pub not_in: Option<Spanned<Vec<String>>>,
    pub gt: Option<Spanned<String>>,
    pub ge: Option<Spanned<String>>,
    pub lt: Option<Spanned<String>>,
    pub le: Option<Spanned<String>>,
}
