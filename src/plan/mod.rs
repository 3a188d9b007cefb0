//! Rate plans as data: what a plan is once loaded, validated and indexed.
//!
//! A plan lives in `rating-tables/<plan-id>/` as a `plan.toml` plus CSV tables (see
//! `rating-tables/README.md` for the format). [`load`] reads and checks a folder once, up
//! front, and turns it into an immutable, indexed [`Plan`]: inputs become dense indices,
//! tables become hashed or sorted lookups, so rating does lookups, never string parsing.
//!
//! - `raw`: the plan file exactly as serde reads it, with source spans.
//! - `expr`: the expression language's text: tokens and syntax tree.
//! - `table`: CSV tables and their indexes (exact keys, bands, prefixes, interpolation,
//!   matrices, defaults).
//! - `load`: validation, raw -> [`Plan`], with located errors; names resolved, expressions
//!   type-checked, cycles refused.
//! - `select`: which bound plan prices a tenant's request.

mod compile;
mod error;
mod expr;
mod load;
mod raw;
mod select;
mod table;

use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;

pub use error::{PlanError, PlanErrors};
pub(crate) use load::parse_value;
pub use load::{FolderFiles, PLAN_FILE, PlanFiles, load_dir, load_plan, load_plan_from};
pub use select::{ProductMapping, SelectError, Selector, check_ambiguity};
pub use table::{KeyKind, Lookup, Table};

use crate::engine::{Level, Method, Rounding, Source};

/// Index of an input in [`Plan::inputs`].
pub type InputId = usize;
/// Index of a table in [`Plan::tables`].
pub type TableId = usize;
/// Index of a named value in [`Plan::values`].
pub type ValueId = usize;
/// Index of a field group in [`Plan::groups`].
pub type GroupId = usize;

/// A name in a plan: an input, a named value or a table (one namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// An input.
    Input(InputId),
    /// A named value.
    Value(ValueId),
    /// A table's value at the row its keys select.
    Table(TableId),
}

impl Expr {
    /// Every name the expression reads directly (inside aggregates too).
    pub fn refs(&self, out: &mut Vec<Ref>) {
        match self {
            Expr::Num(_) | Expr::Text(_) | Expr::Date(_) | Expr::CountExposures(_) => {}
            Expr::Ref(r) => out.push(*r),
            Expr::Present(i) => out.push(Ref::Input(*i)),
            Expr::Neg(x) | Expr::Not(x) | Expr::Round(x, _) | Expr::Year(x) => x.refs(out),
            Expr::Arith(_, a, b)
            | Expr::Compare(_, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::YearsBetween(a, b) => {
                a.refs(out);
                b.refs(out);
            }
            Expr::In(x, list, _) => {
                x.refs(out);
                list.iter().for_each(|e| e.refs(out));
            }
            Expr::If(c, a, b) => {
                c.refs(out);
                a.refs(out);
                b.refs(out);
            }
            Expr::Min(list) | Expr::Max(list) => list.iter().for_each(|e| e.refs(out)),
            Expr::Aggregate { of, filter, .. } => {
                of.iter().chain(filter.iter()).for_each(|e| e.refs(out));
            }
        }
    }
}

/// The type of a value in an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A decimal number (money, factors, counts).
    Number,
    /// Text.
    Text,
    /// A calendar date.
    Date,
    /// A condition's truth.
    Bool,
}

impl Ty {
    /// The type's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Ty::Number => "a number",
            Ty::Text => "text",
            Ty::Date => "a date",
            Ty::Bool => "a condition",
        }
    }
}

/// A field group the plan reads members of: `fieldValues[name]` at `level` lists the
/// members' locators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDef {
    /// The group field's name in the plan (a tenant mapping may rename it).
    pub name: Box<str>,
    /// The level of the characteristic holding it.
    pub level: Level,
}

/// A named value: computed once per peril characteristic when first needed, or once per
/// member inside an aggregate when it reads a member field (`group`).
#[derive(Clone, Debug)]
pub struct ValueDef {
    /// Its name.
    pub name: Box<str>,
    /// How it is computed.
    pub expr: Expr,
    /// Its type.
    pub ty: Ty,
    /// The field group whose members it reads, if any: then it only exists per member.
    pub group: Option<GroupId>,
}

/// What feeds a table's lookup: one name per key, and the value column.
#[derive(Clone, Debug)]
pub struct TableRefs {
    /// One per key column, in order.
    pub keys: Box<[Ref]>,
    /// A matrix's value column is named by this text value; `None`: the one value column.
    pub column: Option<Ref>,
    /// Rounding applied to every value the table gives (an interpolated factor's digits).
    pub round: Option<Rounding>,
    /// The field group whose members its keys read, if any.
    pub group: Option<GroupId>,
    /// The refusal's wording when no row matches (`{key}`: the key values), else the
    /// engine's own message naming the table and the key.
    pub missing: Option<Box<str>>,
}

/// An aggregate over a field group's members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
    /// The sum (0 over no member).
    Sum,
    /// How many members pass the filter.
    Count,
    /// The first member's value, in list order.
    First,
}

impl Agg {
    /// The function's name in plan files.
    pub fn as_str(self) -> &'static str {
        match self {
            Agg::Max => "max_over",
            Agg::Min => "min_over",
            Agg::Sum => "sum_over",
            Agg::Count => "count_over",
            Agg::First => "first_over",
        }
    }
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A compiled, type-checked expression. Built once at load; evaluated by the engine.
#[derive(Clone, Debug)]
pub enum Expr {
    /// A number literal.
    Num(Decimal),
    /// A text literal.
    Text(Box<str>),
    /// A date literal (`date('2026-01-01')`).
    Date(Date),
    /// An input, named value or table.
    Ref(Ref),
    /// `-x`.
    Neg(Box<Expr>),
    /// `a op b` on numbers.
    Arith(Arith, Box<Expr>, Box<Expr>),
    /// `a op b`: numbers or dates ordered; any same-typed values equal or not.
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `x in (...)` (`negated`: `not in`).
    In(Box<Expr>, Box<[Expr]>, bool),
    /// `a and b` (short-circuit).
    And(Box<Expr>, Box<Expr>),
    /// `a or b` (short-circuit).
    Or(Box<Expr>, Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// `if(cond, then, else)`: only the branch taken is evaluated.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `min(a, b, ...)`.
    Min(Box<[Expr]>),
    /// `max(a, b, ...)`.
    Max(Box<[Expr]>),
    /// `round(x, step[, mode])`: an intermediate rounding.
    Round(Box<Expr>, Rounding),
    /// `years_between(from, to)`: whole years, a birthday not yet reached not counted.
    YearsBetween(Box<Expr>, Box<Expr>),
    /// `year(date)`.
    Year(Box<Expr>),
    /// `present(input)`: whether an optional input has a value.
    Present(InputId),
    /// `count_exposures('name')`: the policy's exposures of that name.
    CountExposures(Box<str>),
    /// `max_over(group, x[, filter[, 'refusal']])` and the other aggregates.
    Aggregate {
        /// Which aggregate.
        agg: Agg,
        /// Over which group's members.
        group: GroupId,
        /// The per-member value (`None` for `count_over`).
        of: Option<Box<Expr>>,
        /// Members for which this does not hold are left out.
        filter: Option<Box<Expr>>,
        /// The refusal's wording when no member qualifies (max, min, first).
        none: Option<Box<str>>,
    },
}

/// A loaded, validated, indexed rate plan. Immutable after load.
#[derive(Debug)]
pub struct Plan {
    pub(crate) id: Box<str>,
    /// The product line (`[plan] line`, default: the id): `settings.ratePlan` names a line,
    /// and its editions are chosen by the term start like any product's plans.
    pub(crate) line: Box<str>,
    /// Whether selection by product (no `ratePlan`) may choose this plan.
    pub(crate) auto_select: bool,
    pub(crate) version: Box<str>,
    pub(crate) product: Box<str>,
    pub(crate) effective_from: Date,
    /// Exclusive end; `None` is open-ended.
    pub(crate) effective_to: Option<Date>,
    pub(crate) inputs: Vec<InputDef>,
    pub(crate) tables: Vec<Table>,
    /// What feeds each table, indexed like `tables`.
    pub(crate) table_refs: Vec<TableRefs>,
    pub(crate) values: Vec<ValueDef>,
    pub(crate) groups: Vec<GroupDef>,
    /// Per peril name, its calculation; sorted by name for binary search.
    pub(crate) perils: Vec<(Box<str>, Calc)>,
    /// The calculation for perils the plan does not list, if the plan wants one.
    pub(crate) fallback: Option<Calc>,
    pub(crate) outputs: Outputs,
    pub(crate) proration: Proration,
}

impl Plan {
    /// The plan id: its folder name.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The product line `settings.ratePlan` names (the id unless the plan says otherwise).
    pub fn line(&self) -> &str {
        &self.line
    }
    /// The plan's named values.
    pub fn values(&self) -> &[ValueDef] {
        &self.values
    }
    /// What `name` means in this plan: an input, else a named value, else a table.
    pub fn name(&self, name: &str) -> Option<Ref> {
        let input = self
            .inputs
            .iter()
            .position(|i| *i.name == *name)
            .map(Ref::Input);
        let value = || {
            self.values
                .iter()
                .position(|v| *v.name == *name)
                .map(Ref::Value)
        };
        let table = || {
            self.tables
                .iter()
                .position(|t| *t.name == *name)
                .map(Ref::Table)
        };
        input.or_else(value).or_else(table)
    }
    /// Every name [`Plan::name`] knows, for messages.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.inputs.iter().map(|i| &*i.name).collect();
        out.extend(self.values.iter().map(|v| &*v.name));
        out.extend(self.tables.iter().map(|t| &*t.name));
        out
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
    /// A calendar date: `YYYY-MM-DD`, or epoch milliseconds taken in `tenantTimeZone`.
    Date,
}

impl InputType {
    /// What a value of this type looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            InputType::Decimal => "a decimal number",
            InputType::Integer => "a whole number",
            InputType::Text => "text",
            InputType::Date => "a date YYYY-MM-DD (or epoch milliseconds)",
        }
    }

    /// The expression type of its values.
    pub fn ty(self) -> Ty {
        match self {
            InputType::Decimal | InputType::Integer => Ty::Number,
            InputType::Text => Ty::Text,
            InputType::Date => Ty::Date,
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
    /// For a member field of a field group, the group.
    pub group: Option<GroupId>,
}

/// An operand: a constant, an input, or a table lookup keyed by inputs.
#[derive(Clone, Debug)]
pub enum Operand {
    /// A constant.
    Const(Decimal),
    /// An input's numeric value.
    Input(InputId),
    /// A table's value at the row its keys select.
    Table(TableId),
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

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
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

/// How a peril's premium is computed.
#[derive(Clone, Debug)]
pub enum Body {
    /// Ordered steps on a running premium.
    Steps(Vec<CalcStep>),
    /// One expression (`premium = "..."`), usually a named value shared by several perils.
    Expr(Expr),
}

/// A peril's calculation, with the inputs it uses.
#[derive(Clone, Debug)]
pub struct Calc {
    /// The premium's calculation.
    pub body: Body,
    /// For steps, the sorted, deduplicated inputs they read: these are resolved up front.
    /// Expressions read what they need when they need it.
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

/// Who receives a commission.
#[derive(Clone, Debug)]
pub enum Recipient {
    /// Always the same recipient.
    Fixed(Box<str>),
    /// A text value: an input or a named value.
    Of(Expr),
}

/// One commission the plan answers per peril characteristic.
#[derive(Clone, Debug)]
pub struct CommissionDef {
    /// Who receives it.
    pub recipient: Recipient,
    /// Share of the premium: a number, or any numeric expression (a table, an input).
    pub ratio: Expr,
    /// It is answered only when this holds.
    pub when: Option<Expr>,
    /// `exactAmount` (a share of `exactPremium`) instead of `yearlyAmount`.
    pub exact: bool,
    /// How the amount is rounded.
    pub rounding: Rounding,
}

/// What the plan answers per peril characteristic besides `yearlyPremium`.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// `yearlyTechnicalPremium`.
    pub technical: Option<Technical>,
    /// `exactPremium`: the rounded yearly premium prorated over the coverage period.
    pub exact: bool,
    /// `commissions`: `None` omits the key, `Some(empty)` answers `[]`. With conditions,
    /// a peril none of whose commissions applies answers no `commissions` key.
    pub commissions: Option<Vec<CommissionDef>>,
    /// How `yearlyPremium` is rounded.
    pub yearly_rounding: Rounding,
    /// How `exactPremium` is rounded.
    pub exact_rounding: Rounding,
    /// How `yearlyTechnicalPremium` is rounded.
    pub technical_rounding: Rounding,
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

/// A tenant mapping that cannot be honoured: every request the bound plan prices fails with
/// it, rather than reading a default where the tenant's field is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the tenant's mapping for input `{input}` cannot be used: {why}")]
pub struct MappingError {
    /// The plan input the mapping is for.
    pub input: String,
    /// Why.
    pub why: String,
}

/// A plan with a tenant's mapping applied: where each input is read from.
#[derive(Clone, Debug)]
pub struct BoundPlan {
    plan: Arc<Plan>,
    /// Indexed like [`Plan::inputs`].
    sources: Arc<[Source]>,
    /// Each group's field, indexed like [`Plan::groups`] (renamed by the mapping, maybe).
    groups: Arc<[(Level, Box<str>)]>,
    /// The first mapping that cannot be honoured, if any.
    error: Option<MappingError>,
    /// Per named value: whether it depends only on the policy (its policy characteristic,
    /// policy-level groups, the product, the rating date), so that the perils of one policy
    /// characteristic may share it. Bound, because a mapping may move an input's level.
    policy_wide: Arc<[bool]>,
}

impl BoundPlan {
    /// The plan with its own default field names.
    pub fn unbound(plan: Arc<Plan>) -> BoundPlan {
        BoundPlan::bind(plan, &ProductMapping::default())
    }

    /// The plan with `mapping` renaming inputs; names the plan does not declare are ignored
    /// (a tenant's mapping may carry fields of other apps or products). A mapping for one of
    /// the plan's inputs that points where the plan cannot read it (a member field for a
    /// plain input, a policy field for a member field, an unreadable path, two group fields
    /// for one group) makes the bound plan refuse every request with a [`MappingError`].
    pub fn bind(plan: Arc<Plan>, mapping: &ProductMapping) -> BoundPlan {
        let mut error = None;
        let mut groups: Vec<Option<(Level, Box<str>)>> = vec![None; plan.groups.len()];
        let mut sources = Vec::with_capacity(plan.inputs.len());
        for def in &plan.inputs {
            let mapped = mapping.fields.iter().find(|(name, _)| **name == *def.name);
            if let Some((_, why)) = mapping.unreadable.iter().find(|(n, _)| **n == *def.name) {
                error.get_or_insert_with(|| MappingError {
                    input: def.name.to_string(),
                    why: format!("its path cannot be read: {why}"),
                });
            }
            let source = match mapped {
                None => def.source.clone(),
                Some((_, s)) => match check_mapping(def, s) {
                    Ok(()) => s.clone(),
                    Err(why) => {
                        error.get_or_insert_with(|| MappingError {
                            input: def.name.to_string(),
                            why,
                        });
                        def.source.clone()
                    }
                },
            };
            if let (Some(g), Some((level, field))) = (def.group, source.group()) {
                match &groups[g] {
                    None => groups[g] = Some((level, field.into())),
                    Some((l, f)) if *l == level && **f == *field => {}
                    Some((l, f)) => {
                        error.get_or_insert_with(|| MappingError {
                            input: def.name.to_string(),
                            why: format!(
                                "it reads field group `{field}` ({}) while another member field of plan group `{}` reads `{f}` ({})",
                                level.as_str(),
                                plan.groups[g].name,
                                l.as_str()
                            ),
                        });
                    }
                }
            }
            sources.push(source);
        }
        let groups = groups
            .into_iter()
            .zip(plan.groups.iter())
            .map(|(bound, def)| bound.unwrap_or_else(|| (def.level, def.name.clone())))
            .collect();
        let policy_wide = policy_wide(&plan, &sources);
        BoundPlan {
            plan,
            sources: sources.into(),
            groups,
            error,
            policy_wide,
        }
    }

    /// Whether named value `v` depends only on the policy (see the field).
    pub fn policy_wide(&self, v: ValueId) -> bool {
        self.policy_wide[v]
    }

    /// The plan.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Where input `id` is read from.
    pub fn source(&self, id: InputId) -> &Source {
        &self.sources[id]
    }

    /// Where group `id`'s member list is read from.
    pub fn group(&self, id: GroupId) -> (Level, &str) {
        let (level, name) = &self.groups[id];
        (*level, name)
    }

    /// The mapping that cannot be honoured, if any.
    pub fn mapping_error(&self) -> Option<&MappingError> {
        self.error.as_ref()
    }
}

/// Which named values depend only on the policy, given where each input is read from.
fn policy_wide(plan: &Plan, sources: &[Source]) -> Arc<[bool]> {
    use crate::engine::Builtin;
    fn of_ref(plan: &Plan, sources: &[Source], memo: &mut [Option<bool>], r: Ref) -> bool {
        match r {
            Ref::Input(i) => match &sources[i] {
                Source::Field { level, .. } | Source::Member { level, .. } => {
                    *level == Level::Policy
                }
                Source::Builtin(b) => matches!(
                    b,
                    Builtin::ProductName
                        | Builtin::PaymentSchedule
                        | Builtin::PolicyStart
                        | Builtin::PolicyEnd
                        | Builtin::RatingDate
                ),
            },
            Ref::Table(t) => {
                let refs = &plan.table_refs[t];
                refs.keys
                    .iter()
                    .chain(refs.column.iter())
                    .all(|r| of_ref(plan, sources, memo, *r))
            }
            Ref::Value(v) => {
                if let Some(known) = memo[v] {
                    return known;
                }
                // Values form no cycle (checked at load), so this recursion ends.
                let mut refs = Vec::new();
                plan.values[v].expr.refs(&mut refs);
                let wide = refs.into_iter().all(|r| of_ref(plan, sources, memo, r));
                memo[v] = Some(wide);
                wide
            }
        }
    }
    let mut memo = vec![None; plan.values.len()];
    (0..plan.values.len())
        .map(|v| of_ref(plan, sources, &mut memo, Ref::Value(v)))
        .collect()
}

/// Whether a tenant's `source` can stand in for input `def`: member fields stay member
/// fields (at a level that holds groups), plain fields stay plain.
fn check_mapping(def: &InputDef, source: &Source) -> Result<(), String> {
    match (&def.source, source) {
        (Source::Member { group, .. }, Source::Member { level, .. }) => {
            if *level == Level::Peril {
                return Err(format!(
                    "it points at {source}; field groups are read from policy and exposure characteristics"
                ));
            }
            let _ = group;
            Ok(())
        }
        (Source::Member { group, .. }, _) => Err(format!(
            "it points at {source}, but the plan reads `{}` as a member field of field group `{group}`",
            def.name
        )),
        (_, Source::Member { .. }) => Err(format!(
            "it points inside a field group ({source}), but the plan reads `{}` as one value per characteristic",
            def.name
        )),
        _ => Ok(()),
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
