//! Rate plans as data: what a plan is once loaded, validated and indexed.
//!
//! A plan lives in `rating-tables/<plan-id>/` as a `plan.toml` plus CSV tables (see
//! `rating-tables/README.md` for the format). [`load`] reads and checks a folder once, up
//! front, and turns it into an immutable, indexed [`Plan`]: inputs become dense indices,
//! tables become hashed or sorted lookups, so rating does lookups, never string parsing.
//!
//! - `raw`: the plan file exactly as serde reads it, with source spans.
//! - `table`: CSV tables and their indexes (exact keys, bands, defaults).
//! - `load`: validation, raw -> [`Plan`], with located errors.
//! - `select`: which bound plan prices a tenant's request.

mod error;
mod load;
mod raw;
mod select;
mod table;

use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;

pub use error::{PlanError, PlanErrors};
pub(crate) use load::parse_value;
pub use load::{PLAN_FILE, load_dir, load_plan};
pub use select::{ProductMapping, SelectError, Selector};
pub use table::{Lookup, Table};

use crate::engine::{Method, Rounding, Source};

/// Index of an input in [`Plan::inputs`].
pub type InputId = usize;
/// Index of a table in [`Plan::tables`].
pub type TableId = usize;

/// A loaded, validated, indexed rate plan. Immutable after load.
#[derive(Debug)]
pub struct Plan {
    pub(crate) id: Box<str>,
    pub(crate) version: Box<str>,
    pub(crate) product: Box<str>,
    pub(crate) effective_from: Date,
    /// Exclusive end; `None` is open-ended.
    pub(crate) effective_to: Option<Date>,
    pub(crate) inputs: Vec<InputDef>,
    pub(crate) tables: Vec<Table>,
    /// Per peril name, its calculation; sorted by name for binary search.
    pub(crate) perils: Vec<(Box<str>, Calc)>,
    /// The calculation for perils the plan does not list, if the plan wants one.
    pub(crate) fallback: Option<Calc>,
    pub(crate) rounding: Rounding,
    pub(crate) outputs: Outputs,
    pub(crate) proration: Proration,
}

impl Plan {
    /// The plan id: its folder name.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The plan's version string, echoed in traces.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The Socotra `productName` this plan prices.
    pub fn product(&self) -> &str {
        &self.product
    }
    /// First day the plan is in effect.
    pub fn effective_from(&self) -> Date {
        self.effective_from
    }
    /// First day the plan is no longer in effect, if any.
    pub fn effective_to(&self) -> Option<Date> {
        self.effective_to
    }
    /// Whether the plan prices policies starting on `date`.
    pub fn in_effect(&self, date: Date) -> bool {
        self.effective_from <= date && self.effective_to.is_none_or(|to| date < to)
    }
    /// The plan's inputs, in declaration order.
    pub fn inputs(&self) -> &[InputDef] {
        &self.inputs
    }
    /// The plan's tables.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }
    /// The calculation for a peril: its own, else the fallback.
    pub fn calc(&self, peril: &str) -> Option<&Calc> {
        self.perils
            .binary_search_by(|(name, _)| (**name).cmp(peril))
            .ok()
            .map(|i| &self.perils[i].1)
            .or(self.fallback.as_ref())
    }
}

/// The type an input's raw string is parsed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    /// A decimal number such as `18000` or `1.25`.
    Decimal,
    /// A whole number; `18000.5` is an error.
    Integer,
    /// Text, compared exactly (after trimming surrounding white space).
    Text,
}

impl InputType {
    /// What a value of this type looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            InputType::Decimal => "a decimal number",
            InputType::Integer => "a whole number",
            InputType::Text => "text",
        }
    }
}

/// One declared plan input.
#[derive(Clone, Debug)]
pub struct InputDef {
    /// The input's name: the Socotra field it reads by default, and the name a tenant's
    /// product mapping uses to rename it.
    pub name: Box<str>,
    /// Where it is read from unless a mapping says otherwise.
    pub source: Source,
    /// How its raw string is parsed.
    pub ty: InputType,
    /// Whether a missing value is an error (when it has no default).
    pub required: bool,
    /// The raw default used when the value is missing (parsed and checked at load).
    pub default: Option<Box<str>>,
}

/// An operand: a constant, an input, or a table lookup keyed by inputs.
#[derive(Clone, Debug)]
pub enum Operand {
    /// A constant.
    Const(Decimal),
    /// An input's numeric value.
    Input(InputId),
    /// A table's value at the row the inputs select.
    Table {
        /// The table.
        table: TableId,
        /// One input per key column, in the table's key order.
        keys: Box<[InputId]>,
    },
}

/// A condition on an input's value.
#[derive(Clone, Debug)]
pub enum Cond {
    /// Text or number equal to one of these.
    In(InputId, Box<[CondValue]>),
    /// Not equal to any of these (a missing optional value counts as not equal).
    NotIn(InputId, Box<[CondValue]>),
    /// Numeric comparison against a constant.
    Cmp(InputId, CmpOp, Decimal),
}

/// A constant a condition compares with, typed by the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CondValue {
    /// For text inputs.
    Text(Box<str>),
    /// For numeric inputs.
    Number(Decimal),
}

/// A numeric comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// One step of a peril's ordered calculation.
#[derive(Clone, Debug)]
pub enum Step {
    /// premium = a x b (b defaults to 1).
    Base(Operand, Option<Operand>),
    /// premium *= operand.
    Factor(Operand),
    /// premium += a x b (b defaults to 1).
    Add(Operand, Option<Operand>),
    /// premium += max(input - threshold, 0) x factor, only when input > 0.
    AddExcess {
        /// The input compared.
        input: InputId,
        /// What is subtracted.
        threshold: Decimal,
        /// The multiplier.
        factor: Operand,
    },
    /// premium = max(premium, operand).
    Minimum(Operand),
    /// premium = min(premium, operand).
    Maximum(Operand),
}

/// A step with its condition and its place in the plan file (for traces).
#[derive(Clone, Debug)]
pub struct CalcStep {
    /// What it does.
    pub step: Step,
    /// It only applies when this holds.
    pub when: Option<Cond>,
    /// The step's label, for example "factor vehicle_type".
    pub label: Box<str>,
}

/// A peril's ordered calculation, with the inputs it uses.
#[derive(Clone, Debug)]
pub struct Calc {
    /// The steps in order.
    pub steps: Vec<CalcStep>,
    /// The sorted, deduplicated inputs the steps read: only these are resolved per peril.
    pub uses: Box<[InputId]>,
    /// For a technical premium calculated on its own, its steps.
    pub technical: Option<Box<Calc>>,
}

/// How the yearly technical premium is derived, if the plan answers it.
#[derive(Clone, Debug)]
pub enum Technical {
    /// yearly premium (before rounding) x ratio.
    Ratio(Decimal),
    /// Its own calculation per peril (`[perils.X.technical]`).
    Calc,
}

/// One commission the plan answers per peril characteristic.
#[derive(Clone, Debug)]
pub struct CommissionDef {
    /// Who receives it.
    pub recipient: Box<str>,
    /// Share of the yearly premium.
    pub ratio: Decimal,
}

/// What the plan answers per peril characteristic besides `yearlyPremium`.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// `yearlyTechnicalPremium`.
    pub technical: Option<Technical>,
    /// `exactPremium`: the rounded yearly premium prorated over the coverage period.
    pub exact: bool,
    /// `commissions`: `None` omits the key, `Some(empty)` answers `[]`.
    pub commissions: Option<Vec<CommissionDef>>,
}

/// How coverage periods are measured for `exactPremium`.
#[derive(Clone, Debug)]
pub struct Proration {
    /// The method unless the payment schedule overrides it.
    pub method: Method,
    /// Per payment schedule name, another method.
    pub by_schedule: Vec<(Box<str>, Method)>,
}

impl Proration {
    /// The method for a policy's payment schedule.
    pub fn method_for(&self, schedule: Option<&str>) -> Method {
        schedule
            .and_then(|s| self.by_schedule.iter().find(|(name, _)| &**name == s))
            .map_or(self.method, |(_, m)| *m)
    }
}

/// A plan with a tenant's mapping applied: where each input is read from.
#[derive(Clone, Debug)]
pub struct BoundPlan {
    plan: Arc<Plan>,
    /// Indexed like [`Plan::inputs`].
    sources: Arc<[Source]>,
}

impl BoundPlan {
    /// The plan with its own default field names.
    pub fn unbound(plan: Arc<Plan>) -> BoundPlan {
        let sources = plan.inputs.iter().map(|i| i.source.clone()).collect();
        BoundPlan { plan, sources }
    }

    /// The plan with `fields` renaming inputs; names the plan does not declare are ignored
    /// (a tenant's mapping may carry fields of other apps or products).
    pub fn bind(plan: Arc<Plan>, fields: &[(String, Source)]) -> BoundPlan {
        let sources = plan
            .inputs
            .iter()
            .map(|i| {
                fields
                    .iter()
                    .find(|(name, _)| **name == *i.name)
                    .map_or_else(|| i.source.clone(), |(_, s)| s.clone())
            })
            .collect();
        BoundPlan { plan, sources }
    }

    /// The plan.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Where input `id` is read from.
    pub fn source(&self, id: InputId) -> &Source {
        &self.sources[id]
    }
}

/// Every plan of a `rating-tables/` folder, by id.
#[derive(Clone, Debug, Default)]
pub struct PlanSet {
    /// Sorted by id.
    plans: Vec<Arc<Plan>>,
}

impl PlanSet {
    /// A set of already loaded plans.
    pub fn new(mut plans: Vec<Arc<Plan>>) -> PlanSet {
        plans.sort_by(|a, b| a.id.cmp(&b.id));
        PlanSet { plans }
    }
    /// The plan with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Plan>> {
        self.plans
            .binary_search_by(|p| (*p.id).cmp(id))
            .ok()
            .map(|i| &self.plans[i])
    }
    /// All plans, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Plan>> {
        self.plans.iter()
    }
    /// How many plans there are.
    pub fn len(&self) -> usize {
        self.plans.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }
}
