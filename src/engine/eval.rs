//! Evaluating a plan's names for one peril characteristic: inputs read from the request,
//! named values, table lookups and expressions.
//!
//! [`Eval`] reads lazily and remembers: an input is read and parsed the first time it is
//! needed, a named value computed the first time it is used, so perils that share a value
//! never compute it twice and a branch not taken (`if(...)`) reads nothing. Inside an
//! aggregate over a field group the current member is part of the context; names that read
//! member fields are computed per member and never remembered across members.
//!
//! Everything is checked: every amount stays within [`MAX_AMOUNT`], a division by zero or a
//! value that is needed and missing is an error, never a default. Nothing allocates unless
//! a trace is wanted or an error is built.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use smallvec::SmallVec;

use super::rate::{MAX_AMOUNT, bounded};
use super::trace::{TraceEvent, Tracer};
use super::{InputSource, RatingError, Value};
use crate::plan::{
    Agg, Arith, BoundPlan, CmpOp, Expr, GroupId, InputId, InputType, Lookup, Plan, Ref, ValueId,
};

/// An input as read: not yet, absent (optional, no default), or its value.
#[derive(Clone, Copy, Debug)]
enum Slot<'a> {
    Unread,
    Absent,
    Set(Value<'a>),
}

/// A named value as remembered: a value, or a condition's truth.
#[derive(Clone, Copy, Debug)]
enum Memo<'a> {
    Value(Value<'a>),
    Truth(bool),
}

/// Named values that depend only on the policy, shared by the perils of one policy
/// characteristic within a request (a driver factor over every driver is computed once per
/// policy, not once per peril). Kept in [`super::PolicyPeriod`]; a value is shared only
/// between evaluations of the same bound plan and policy characteristic, and only numbers,
/// dates and truths are kept (they borrow nothing).
#[derive(Clone, Debug, Default)]
pub struct PolicyMemo {
    /// (the bound plan's address, the policy characteristic) the values belong to.
    key: Option<(usize, u32)>,
    values: SmallVec<[Option<Shared>; 16]>,
}

#[derive(Clone, Copy, Debug)]
enum Shared {
    Number(Decimal),
    Date(Date),
    Truth(bool),
}

/// The evaluation context of one peril characteristic.
///
/// One lifetime `'a` covers the plan (text literals and defaults borrow it) and the request
/// (values borrow it); both outlive the rating of one peril.
pub(crate) struct Eval<'a, 'c, S: InputSource, T: Tracer> {
    pub(crate) bound: &'a BoundPlan,
    pub(crate) plan: &'a Plan,
    pub(crate) src: &'a S,
    tz: &'c TimeZone,
    pub(crate) peril: &'c str,
    pub(crate) tracer: &'c mut T,
    inputs: SmallVec<[Slot<'a>; 16]>,
    values: SmallVec<[Option<Memo<'a>>; 16]>,
    /// The member being evaluated inside an aggregate.
    member: Option<(GroupId, usize)>,
    /// Policy-wide values shared with the request's other perils of the same policy
    /// characteristic; `None` when the source cannot say which that is, or when tracing
    /// (each peril's trace then shows every value it uses).
    shared: Option<&'c mut PolicyMemo>,
}

impl<'a, 'c, S: InputSource, T: Tracer> Eval<'a, 'c, S, T> {
    pub(crate) fn new(
        bound: &'a BoundPlan,
        src: &'a S,
        tz: &'c TimeZone,
        peril: &'c str,
        tracer: &'c mut T,
        shared: Option<&'c mut PolicyMemo>,
    ) -> Self {
        let plan: &'a Plan = bound.plan();
        let key = src
            .policy_key()
            .map(|k| (bound as *const BoundPlan as usize, k));
        let shared = match (shared, key) {
            (Some(memo), Some(key)) if !T::ON => {
                if memo.key != Some(key) {
                    memo.key = Some(key);
                    memo.values.clear();
                    memo.values.resize(plan.values.len(), None);
                }
                Some(memo)
            }
            _ => None,
        };
        Eval {
            bound,
            plan,
            src,
            tz,
            peril,
            tracer,
            inputs: SmallVec::from_elem(Slot::Unread, plan.inputs.len()),
            values: SmallVec::from_elem(None, plan.values.len()),
            member: None,
            shared,
        }
    }

    /// The policy-wide value `v` computed by an earlier peril of this policy, if any.
    fn shared_get(&self, v: ValueId) -> Option<Shared> {
        match &self.shared {
            Some(memo) if self.bound.policy_wide(v) => memo.values[v],
            _ => None,
        }
    }

    fn shared_put(&mut self, v: ValueId, x: Shared) {
        if self.bound.policy_wide(v)
            && let Some(memo) = &mut self.shared
        {
            memo.values[v] = Some(x);
        }
    }

    /// An input's value; `None` when it is optional, absent and has no default.
    pub(crate) fn input(&mut self, id: InputId) -> Result<Option<Value<'a>>, RatingError> {
        let def = &self.plan.inputs[id];
        if def.group.is_none() {
            match self.inputs[id] {
                Slot::Unread => {}
                Slot::Absent => return Ok(None),
                Slot::Set(v) => return Ok(Some(v)),
            }
        }
        let source = self.bound.source(id);
        let raw = match (def.group, self.member) {
            (None, _) => self.src.read(source),
            (Some(g), Some((mg, m))) if g == mg => {
                let (level, group) = self.bound.group(g);
                let name = match source {
                    crate::engine::Source::Member { name, .. } => &**name,
                    _ => &*def.name,
                };
                self.src.member_field(level, group, m, name)
            }
            // Load-time scoping puts member fields inside aggregates only.
            _ => {
                return Err(RatingError::Internal(
                    "a member field read outside its aggregate",
                ));
            }
        };
        // An empty string is how Socotra leaves an optional field blank: treat it as absent.
        let raw = raw.map(str::trim).filter(|s| !s.is_empty());
        let (value, defaulted) = match raw {
            Some(raw) => match self.parse(def.ty, raw) {
                Some(v) => (Some(v), false),
                None => {
                    return Err(RatingError::InvalidInput {
                        input: self.input_name(id),
                        value: raw.chars().take(64).collect(),
                        expected: def.ty.expected(),
                    });
                }
            },
            None => {
                let unusable = match self.member {
                    Some(_) if def.group.is_some() => None,
                    _ => self.src.unusable(source),
                };
                if let Some(why) = unusable {
                    return Err(RatingError::UnusableInput {
                        input: self.input_name(id),
                        source_desc: source.to_string(),
                        why,
                    });
                }
                // Defaults are checked at load, so this parse succeeds.
                match def.default.as_deref() {
                    Some(d) => (crate::plan::parse_value(def.ty, d), true),
                    None if def.required => {
                        return Err(RatingError::MissingInput {
                            input: self.input_name(id),
                            source_desc: source.to_string(),
                        });
                    }
                    None => (None, false),
                }
            }
        };
        if T::ON {
            self.tracer.record(TraceEvent::Input {
                name: self.input_name(id),
                source: source.to_string(),
                value: value.map(|v| display(&v)),
                defaulted,
            });
        }
        if def.group.is_none() {
            self.inputs[id] = value.map_or(Slot::Absent, Slot::Set);
        }
        Ok(value)
    }

    /// The input's name, with the member's place inside an aggregate (`driver_dob[2]`).
    fn input_name(&self, id: InputId) -> String {
        let def = &self.plan.inputs[id];
        match (def.group, self.member) {
            (Some(_), Some((_, m))) => format!("{}[{}]", def.name, m + 1),
            _ => def.name.to_string(),
        }
    }

    fn parse(&self, ty: InputType, raw: &'a str) -> Option<Value<'a>> {
        if ty == InputType::Date && raw.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            // Epoch milliseconds (Socotra's timestamps) are a date in the tenant's zone.
            if let Ok(ms) = raw.parse::<i64>() {
                let ts = Timestamp::from_millisecond(ms).ok()?;
                return Some(Value::Date(self.tz.to_datetime(ts).date()));
            }
        }
        crate::plan::parse_value(ty, raw)
    }

    /// An input's numeric value, which must be there.
    pub(crate) fn number_input(&mut self, id: InputId) -> Result<Decimal, RatingError> {
        match self.input(id)? {
            Some(Value::Number(d)) => Ok(d),
            // Load-time checks make arithmetic inputs numeric; absent means optional and unset.
            _ => Err(RatingError::MissingInput {
                input: self.plan.inputs[id].name.to_string(),
                source_desc: "the request".into(),
            }),
        }
    }

    /// A table's value at the row its keys select (rounded by the table's rule).
    pub(crate) fn table(&mut self, t: usize) -> Result<Decimal, RatingError> {
        let plan = self.plan;
        let table = &plan.tables[t];
        let refs = &plan.table_refs[t];
        let mut key: SmallVec<[Value<'a>; 4]> = SmallVec::with_capacity(refs.keys.len());
        for r in refs.keys.iter() {
            let v = match *r {
                Ref::Input(id) => match self.input(id)? {
                    Some(v) => v,
                    None => {
                        return Err(RatingError::MissingInput {
                            input: plan.inputs[id].name.to_string(),
                            source_desc: format!("the key of table `{}`", table.name),
                        });
                    }
                },
                other => self.of_ref(other)?,
            };
            key.push(v);
        }
        let col = match refs.column {
            None => 0,
            Some(r) => match self.of_ref(r)? {
                Value::Text(name) => {
                    table
                        .column(name)
                        .ok_or_else(|| RatingError::UnknownColumn {
                            table: table.name.to_string(),
                            column: name.chars().take(64).collect(),
                            columns: table.columns.join(", "),
                        })?
                }
                _ => {
                    return Err(RatingError::Internal(
                        "a matrix column named by a non-text value",
                    ));
                }
            },
        };
        let render = |prefix: usize| {
            table
                .keys
                .iter()
                .zip(key.iter())
                .map(|(k, v)| match (k.kind, v) {
                    (crate::plan::KeyKind::Prefix, Value::Text(t)) if prefix > 0 => {
                        format!("{} = {:?} (prefix {:?})", k.label, t, &t[..prefix])
                    }
                    _ => format!("{} = {:?}", k.label, display(v)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (value, line) = match table.lookup(&key, col) {
            Lookup::Row { row, prefix } => {
                if T::ON {
                    self.tracer.record(TraceEvent::Lookup {
                        table: lookup_name(table, col),
                        key: render(prefix),
                        line: Some(row.line),
                        value: row.value,
                    });
                }
                (row.value, Some(row.line))
            }
            Lookup::Between { value, lo, hi } => {
                if T::ON {
                    self.tracer.record(TraceEvent::Between {
                        table: lookup_name(table, col),
                        key: render(0),
                        lo: (lo.0, lo.1.value, lo.1.line),
                        hi: (hi.0, hi.1.value, hi.1.line),
                        value,
                    });
                }
                (value, None)
            }
            Lookup::Default(d) => {
                if T::ON {
                    self.tracer.record(TraceEvent::Lookup {
                        table: lookup_name(table, col),
                        key: render(0),
                        line: None,
                        value: d,
                    });
                }
                (d, None)
            }
            Lookup::Miss => {
                return Err(match &refs.missing {
                    Some(wording) => RatingError::Worded {
                        code: "unknown_table_key",
                        message: wording.replace(
                            "{key}",
                            &key.iter().map(display).collect::<Vec<_>>().join(" "),
                        ),
                    },
                    None => RatingError::UnknownKey {
                        table: table.name.to_string(),
                        key: render(0),
                    },
                });
            }
            Lookup::NoColumn => {
                return Err(RatingError::Internal("a matrix column index out of range"));
            }
            Lookup::Overflow => {
                return Err(RatingError::Overflow {
                    step: format!("interpolating table `{}`", table.name),
                });
            }
        };
        let _ = line;
        match refs.round {
            Some(rule) => {
                let after = rule.apply(value).ok_or_else(|| RatingError::Overflow {
                    step: format!("rounding table `{}`", table.name),
                })?;
                if T::ON && after != value {
                    self.tracer.record(TraceEvent::Rounded {
                        what: format!("table {}", table.name),
                        before: value,
                        after,
                        rule: rule.to_string(),
                    });
                }
                Ok(after)
            }
            None => Ok(value),
        }
    }

    /// A named value (not a condition).
    fn named(&mut self, v: ValueId) -> Result<Value<'a>, RatingError> {
        let plan = self.plan;
        let def = &plan.values[v];
        let member = def.group.is_some();
        if !member {
            if let Some(Memo::Value(x)) = self.values[v] {
                return Ok(x);
            }
            let shared = match self.shared_get(v) {
                Some(Shared::Number(d)) => Some(Value::Number(d)),
                Some(Shared::Date(d)) => Some(Value::Date(d)),
                _ => None,
            };
            if let Some(x) = shared {
                self.values[v] = Some(Memo::Value(x));
                return Ok(x);
            }
        }
        let x = self.value(&def.expr)?;
        if !member {
            self.values[v] = Some(Memo::Value(x));
            match x {
                Value::Number(d) => self.shared_put(v, Shared::Number(d)),
                Value::Date(d) => self.shared_put(v, Shared::Date(d)),
                Value::Text(_) => {}
            }
        }
        if T::ON {
            let name = match (member, self.member) {
                (true, Some((_, m))) => format!("{}[{}]", def.name, m + 1),
                _ => def.name.to_string(),
            };
            self.tracer.record(TraceEvent::Value {
                name,
                value: display(&x),
            });
        }
        Ok(x)
    }

    /// A named condition.
    fn named_truth(&mut self, v: ValueId) -> Result<bool, RatingError> {
        let plan = self.plan;
        let def = &plan.values[v];
        let member = def.group.is_some();
        if !member {
            if let Some(Memo::Truth(b)) = self.values[v] {
                return Ok(b);
            }
            if let Some(Shared::Truth(b)) = self.shared_get(v) {
                self.values[v] = Some(Memo::Truth(b));
                return Ok(b);
            }
        }
        let b = self.truth(&def.expr)?;
        if !member {
            self.values[v] = Some(Memo::Truth(b));
            self.shared_put(v, Shared::Truth(b));
        }
        Ok(b)
    }

    fn number(&mut self, e: &'a Expr) -> Result<Decimal, RatingError> {
        match self.value(e)? {
            Value::Number(d) => Ok(d),
            _ => Err(RatingError::Internal("a number expected")),
        }
    }

    fn date(&mut self, e: &'a Expr) -> Result<Date, RatingError> {
        match self.value(e)? {
            Value::Date(d) => Ok(d),
            _ => Err(RatingError::Internal("a date expected")),
        }
    }

    fn checked(&self, x: Option<Decimal>, what: &str) -> Result<Decimal, RatingError> {
        x.and_then(bounded).ok_or_else(|| RatingError::Overflow {
            step: format!(
                "peril `{}`: {what} leaves the range of exact amounts ({MAX_AMOUNT})",
                self.peril
            ),
        })
    }

    /// The value of a name: an input (which must be there), a named value, a table.
    fn of_ref(&mut self, r: Ref) -> Result<Value<'a>, RatingError> {
        let plan = self.plan;
        Ok(match r {
            Ref::Input(id) => match self.input(id)? {
                Some(v) => v,
                None => {
                    return Err(RatingError::MissingInput {
                        input: plan.inputs[id].name.to_string(),
                        source_desc: format!(
                            "{} (it is optional: test it with present({}) first)",
                            self.bound.source(id),
                            plan.inputs[id].name
                        ),
                    });
                }
            },
            Ref::Value(v) => self.named(v)?,
            Ref::Table(t) => Value::Number(self.table(t)?),
        })
    }

    /// Evaluates a number, text or date expression.
    pub(crate) fn value(&mut self, e: &'a Expr) -> Result<Value<'a>, RatingError> {
        Ok(match e {
            Expr::Num(d) => Value::Number(*d),
            // Text literals live in the plan, which outlives the evaluation.
            Expr::Text(t) => Value::Text(t),
            Expr::Date(d) => Value::Date(*d),
            Expr::Ref(r) => self.of_ref(*r)?,
            Expr::Neg(x) => Value::Number(-self.number(x)?),
            Expr::Arith(op, a, b) => {
                let (a, b) = (self.number(a)?, self.number(b)?);
                let x = match op {
                    Arith::Add => a.checked_add(b),
                    Arith::Sub => a.checked_sub(b),
                    Arith::Mul => a.checked_mul(b),
                    Arith::Div => {
                        if b.is_zero() {
                            return Err(RatingError::DivisionByZero {
                                step: format!("peril `{}`: {a} / 0", self.peril),
                            });
                        }
                        a.checked_div(b)
                    }
                };
                Value::Number(self.checked(x, "an arithmetic result")?)
            }
            Expr::If(c, a, b) => {
                if self.truth(c)? {
                    self.value(a)?
                } else {
                    self.value(b)?
                }
            }
            Expr::Min(list) | Expr::Max(list) => {
                let mut best = self.number(&list[0])?;
                for x in list[1..].iter() {
                    let x = self.number(x)?;
                    best = if matches!(e, Expr::Min(_)) {
                        best.min(x)
                    } else {
                        best.max(x)
                    };
                }
                Value::Number(best)
            }
            Expr::Round(x, rule) => {
                let before = self.number(x)?;
                let after = rule.apply(before).ok_or_else(|| RatingError::Overflow {
                    step: format!("peril `{}`: rounding {before}", self.peril),
                })?;
                if T::ON {
                    self.tracer.record(TraceEvent::Rounded {
                        what: "round()".into(),
                        before,
                        after,
                        rule: rule.to_string(),
                    });
                }
                Value::Number(after)
            }
            Expr::YearsBetween(a, b) => {
                let (from, to) = (self.date(a)?, self.date(b)?);
                Value::Number(Decimal::from(whole_years(from, to)))
            }
            Expr::Year(d) => Value::Number(Decimal::from(self.date(d)?.year())),
            Expr::CountExposures(name) => {
                Value::Number(Decimal::from(self.src.exposure_count(name)))
            }
            Expr::Aggregate {
                agg,
                group,
                of,
                filter,
                none,
            } => Value::Number(
                self.aggregate(*agg, *group, of.as_deref(), filter.as_deref())
                    .map_err(|e| match (e, none) {
                        (RatingError::NoMember { .. }, Some(wording)) => RatingError::Worded {
                            code: "no_qualifying_member",
                            message: wording.to_string(),
                        },
                        (e, _) => e,
                    })?,
            ),
            Expr::Compare(..)
            | Expr::In(..)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Not(..)
            | Expr::Present(_) => {
                return Err(RatingError::Internal("a condition used as a value"));
            }
        })
    }

    /// A value that may be an absent optional input (conditions test those).
    fn optional(&mut self, e: &'a Expr) -> Result<Option<Value<'a>>, RatingError> {
        match e {
            Expr::Ref(Ref::Input(id)) => self.input(*id),
            other => self.value(other).map(Some),
        }
    }

    /// Evaluates a condition. An absent optional input equals nothing and is ordered
    /// nowhere: it satisfies only `!=` and `not in`.
    pub(crate) fn truth(&mut self, e: &'a Expr) -> Result<bool, RatingError> {
        Ok(match e {
            Expr::Compare(op, a, b) => {
                let (a, b) = (self.optional(a)?, self.optional(b)?);
                let (Some(a), Some(b)) = (a, b) else {
                    return Ok(*op == CmpOp::Ne);
                };
                match op {
                    CmpOp::Eq => same(&a, &b),
                    CmpOp::Ne => !same(&a, &b),
                    _ => {
                        let ord = match (a, b) {
                            (Value::Number(x), Value::Number(y)) => x.cmp(&y),
                            (Value::Date(x), Value::Date(y)) => x.cmp(&y),
                            _ => return Err(RatingError::Internal("ordering values of two types")),
                        };
                        match op {
                            CmpOp::Lt => ord.is_lt(),
                            CmpOp::Le => ord.is_le(),
                            CmpOp::Gt => ord.is_gt(),
                            _ => ord.is_ge(),
                        }
                    }
                }
            }
            Expr::In(x, list, negated) => {
                let Some(x) = self.optional(x)? else {
                    return Ok(*negated);
                };
                let mut found = false;
                for item in list.iter() {
                    if same(&x, &self.value(item)?) {
                        found = true;
                        break;
                    }
                }
                found != *negated
            }
            Expr::And(a, b) => self.truth(a)? && self.truth(b)?,
            Expr::Or(a, b) => self.truth(a)? || self.truth(b)?,
            Expr::Not(x) => !self.truth(x)?,
            Expr::If(c, a, b) => {
                if self.truth(c)? {
                    self.truth(a)?
                } else {
                    self.truth(b)?
                }
            }
            Expr::Present(id) => self.input(*id)?.is_some(),
            Expr::Ref(Ref::Value(v)) => self.named_truth(*v)?,
            _ => return Err(RatingError::Internal("a value used as a condition")),
        })
    }

    fn aggregate(
        &mut self,
        agg: Agg,
        g: GroupId,
        of: Option<&'a Expr>,
        filter: Option<&'a Expr>,
    ) -> Result<Decimal, RatingError> {
        let (level, field) = self.bound.group(g);
        let Some(n) = self.src.members(level, field) else {
            return Err(RatingError::MissingInput {
                input: self.plan.groups[g].name.to_string(),
                source_desc: format!("{} field group `{field}`", level.as_str()),
            });
        };
        let outer = self.member;
        let result = self.members(agg, g, n, of, filter);
        self.member = outer;
        let (value, winner, kept) = result?;
        if T::ON {
            self.tracer.record(TraceEvent::Aggregate {
                agg: agg.as_str(),
                group: field.to_owned(),
                members: n,
                kept,
                winner,
                value,
            });
        }
        match value {
            Some(v) => Ok(v),
            None => Err(RatingError::NoMember {
                group: field.to_owned(),
                agg: agg.as_str(),
                members: n,
            }),
        }
    }

    /// The aggregate's value (None: no member kept, for max/min/first), the winning
    /// member, and how many members passed the filter.
    fn members(
        &mut self,
        agg: Agg,
        g: GroupId,
        n: usize,
        of: Option<&'a Expr>,
        filter: Option<&'a Expr>,
    ) -> Result<(Option<Decimal>, Option<usize>, usize), RatingError> {
        let mut best: Option<Decimal> = match agg {
            Agg::Sum | Agg::Count => Some(Decimal::ZERO),
            _ => None,
        };
        let mut winner = None;
        let mut kept = 0;
        for m in 0..n {
            self.member = Some((g, m));
            if let Some(f) = filter
                && !self.truth(f)?
            {
                if T::ON {
                    self.tracer.record(TraceEvent::Member {
                        index: m + 1,
                        value: None,
                    });
                }
                continue;
            }
            kept += 1;
            let x = match of {
                Some(e) => self.number(e)?,
                None => Decimal::ONE,
            };
            if T::ON {
                self.tracer.record(TraceEvent::Member {
                    index: m + 1,
                    value: Some(x),
                });
            }
            let better = match (agg, best) {
                (_, None) => true,
                (Agg::Max, Some(b)) => x > b,
                (Agg::Min, Some(b)) => x < b,
                _ => false,
            };
            match agg {
                Agg::Sum | Agg::Count => {
                    best = Some(
                        self.checked(best.and_then(|b| b.checked_add(x)), "a sum over members")?,
                    );
                }
                Agg::First if best.is_some() => {}
                _ if better => {
                    best = Some(x);
                    winner = Some(m + 1);
                }
                _ => {}
            }
        }
        Ok((best, winner, kept))
    }
}

fn lookup_name(table: &crate::plan::Table, col: usize) -> String {
    if table.columns.len() > 1 {
        format!("{}.{}", table.name, table.columns[col])
    } else {
        table.name.to_string()
    }
}

/// Equal values of one type: numbers by value (`35` = `35.0`), text and dates exactly.
fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Text(x), Value::Text(y)) => x == y,
        (Value::Date(x), Value::Date(y)) => x == y,
        _ => false,
    }
}

/// Whole years from `from` to `to`: a birthday not yet reached on `to` does not count, and
/// someone born on 29 February turns a year older on 1 March in common years (on 28
/// February their birthday has not been reached).
pub fn whole_years(from: Date, to: Date) -> i32 {
    let mut years = i32::from(to.year()) - i32::from(from.year());
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    years
}

/// A value as a trace shows it.
pub(crate) fn display(v: &Value<'_>) -> String {
    match v {
        Value::Number(d) => d.to_string(),
        Value::Text(t) => (*t).to_owned(),
        Value::Date(d) => d.to_string(),
    }
}
