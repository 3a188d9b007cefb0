//! Rating one peril characteristic: resolve the inputs its calculation uses, run the steps,
//! round each output once.
//!
//! Hot-path notes: only the inputs the peril's calculation uses are read (listed at load in
//! `Calc::uses`); values are borrowed `&str` or `Decimal` held in a stack `SmallVec`; table
//! lookups are hash probes or binary searches. Nothing allocates unless a trace is wanted or
//! an error is built.

use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use smallvec::SmallVec;

use std::cell::Cell;

use super::proration::{self, Method};
use super::trace::{TraceEvent, Tracer};
use super::{Builtin, InputSource, RatingError, Source, Value};
use crate::plan::{
    BoundPlan, Calc, CalcStep, CmpOp, CommissionDef, Cond, CondValue, InputId, Lookup, Operand,
    Plan, Step, Technical,
};

/// What proration needs to know about the policy, shared by its perils (one per request).
#[derive(Clone, Debug)]
pub struct PolicyPeriod<'a> {
    /// The tenant's time zone (`tenantTimeZone`).
    pub time_zone: &'a TimeZone,
    /// `policy.originalContractStartTimestamp`, epoch ms.
    pub anchor_ms: Option<i64>,
    /// `policy.paymentScheduleName`.
    pub payment_schedule: Option<&'a str>,
    /// The last period measured for this policy: `(method, start, end) -> duration`. The
    /// perils of a policy usually share their coverage period, and measuring one steps the
    /// calendar month by month in the tenant's zone (most of a peril's rating time), so the
    /// next peril with the same period reuses it. `measure` is a pure function of these
    /// keys and the fields above, so the memo can never change an answer.
    last: Cell<Option<(Method, i64, i64, proration::Duration)>>,
}

impl<'a> PolicyPeriod<'a> {
    /// The policy's period facts, with an empty memo.
    pub fn new(
        time_zone: &'a TimeZone,
        anchor_ms: Option<i64>,
        payment_schedule: Option<&'a str>,
    ) -> Self {
        PolicyPeriod {
            time_zone,
            anchor_ms,
            payment_schedule,
            last: Cell::new(None),
        }
    }
}

/// One commission amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commission<'p> {
    /// Who receives it (from the plan).
    pub recipient: &'p str,
    /// The amount, rounded.
    pub amount: Decimal,
}

/// A priced peril characteristic. Every amount is rounded by the plan's rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced<'p> {
    /// `yearlyPremium`.
    pub yearly: Decimal,
    /// `yearlyTechnicalPremium`, when the plan answers it.
    pub technical: Option<Decimal>,
    /// `exactPremium`, when the plan answers it.
    pub exact: Option<Decimal>,
    /// `commissions`, when the plan answers them (possibly empty).
    pub commissions: Option<SmallVec<[Commission<'p>; 2]>>,
}

/// The largest amount (in magnitude) a premium, an operand or an intermediate result may
/// reach. `Decimal` keeps 28 significant digits and silently rounds fractional digits past
/// them, so unbounded amounts could lose cents without any operation "overflowing". Below
/// 10^15 at least 13 fractional digits stay exact, which is far more than rounding to cents
/// needs; anything larger is an [`RatingError::Overflow`], never a premium.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// Checks an amount against [`MAX_AMOUNT`], on the mantissa: `|x| <= 10^15` exactly when
/// `|mantissa| <= 10^(15 + scale)`, and a 96-bit mantissa (below 10^29) always is from
/// scale 14 on. Called after every step; comparing two `Decimal`s of different scales
/// rescales one of them first: this way the engine takes 3-8 % less time on the fixtures.
fn bounded(x: Decimal) -> Option<Decimal> {
    const POW10: [u128; 29] = {
        let mut p = [1u128; 29];
        let mut i = 1;
        while i < p.len() {
            p[i] = p[i - 1] * 10;
            i += 1;
        }
        p
    };
    let scale = x.scale() as usize;
    let ok = scale >= 14 || x.mantissa().unsigned_abs() <= POW10[15 + scale];
    ok.then_some(x)
}

/// Input values of one peril, indexed by `InputId`; `None` = not read or absent.
type Values<'s> = SmallVec<[Option<Value<'s>>; 16]>;

/// Prices one peril characteristic of `peril` with `bound`, reading inputs from `src`.
pub fn rate<'p, S: InputSource, T: Tracer>(
    bound: &'p BoundPlan,
    peril: &str,
    src: &S,
    period: &PolicyPeriod<'_>,
    tracer: &mut T,
) -> Result<Priced<'p>, RatingError> {
    let plan: &'p Plan = bound.plan();
    let calc = plan.calc(peril).ok_or_else(|| RatingError::UnknownPeril {
        plan: plan.id().to_owned(),
        peril: peril.to_owned(),
    })?;
    if T::ON {
        tracer.record(TraceEvent::Plan {
            id: plan.id().to_owned(),
            version: plan.version().to_owned(),
            peril: peril.to_owned(),
            fallback: plan
                .perils
                .binary_search_by(|(n, _)| (**n).cmp(peril))
                .is_err(),
        });
    }
    let mut values: Values<'_> = SmallVec::from_elem(None, plan.inputs.len());
    resolve(bound, calc, src, &mut values, tracer)?;
    let premium = run(plan, peril, calc, &values, tracer)?;

    let rounding = plan.rounding;
    let round =
        |output: &'static str, x: Decimal, tracer: &mut T| -> Result<Decimal, RatingError> {
            let after = rounding.apply(x).ok_or_else(|| RatingError::Overflow {
                step: format!("rounding {output} of peril `{peril}`"),
            })?;
            if T::ON {
                tracer.record(TraceEvent::Round {
                    output,
                    before: x,
                    after,
                    rule: rounding.to_string(),
                });
            }
            Ok(after)
        };
    let yearly = round("yearlyPremium", premium, tracer)?;
    let technical = match &plan.outputs.technical {
        None => None,
        Some(Technical::Ratio(ratio)) => {
            let x = premium
                .checked_mul(*ratio)
                .ok_or_else(|| overflow(peril, "yearlyTechnicalPremium"))?;
            Some(round("yearlyTechnicalPremium", x, tracer)?)
        }
        // The loader gives every calculation its technical steps when the plan asks for them.
        Some(Technical::Calc) => match calc.technical.as_deref() {
            Some(tech) => {
                resolve(bound, tech, src, &mut values, tracer)?;
                let x = run(plan, peril, tech, &values, tracer)?;
                Some(round("yearlyTechnicalPremium", x, tracer)?)
            }
            None => None,
        },
    };
    let exact = if plan.outputs.exact {
        let years = period_years(plan, src, period, tracer)?;
        let x = yearly
            .checked_mul(years)
            .ok_or_else(|| overflow(peril, "exactPremium"))?;
        Some(round("exactPremium", x, tracer)?)
    } else {
        None
    };
    let commissions = match &plan.outputs.commissions {
        None => None,
        Some(defs) => Some(commissions(defs, yearly, peril, &round, tracer)?),
    };
    Ok(Priced {
        yearly,
        technical,
        exact,
        commissions,
    })
}

fn commissions<'p, T: Tracer>(
    defs: &'p [CommissionDef],
    yearly: Decimal,
    peril: &str,
    round: &impl Fn(&'static str, Decimal, &mut T) -> Result<Decimal, RatingError>,
    tracer: &mut T,
) -> Result<SmallVec<[Commission<'p>; 2]>, RatingError> {
    defs.iter()
        .map(|d| {
            let x = yearly
                .checked_mul(d.ratio)
                .ok_or_else(|| overflow(peril, "commission"))?;
            Ok(Commission {
                recipient: &d.recipient,
                amount: round("commission", x, tracer)?,
            })
        })
        .collect()
}

fn overflow(peril: &str, what: &str) -> RatingError {
    RatingError::Overflow {
        step: format!("{what} of peril `{peril}`"),
    }
}

/// Reads, parses and defaults the inputs `calc` uses that are not read yet.
///
/// One lifetime `'a` covers both the plan (text defaults borrow it) and the source (values
/// borrow the request); both outlive the rating of one peril.
fn resolve<'a, S: InputSource, T: Tracer>(
    bound: &'a BoundPlan,
    calc: &Calc,
    src: &'a S,
    values: &mut Values<'a>,
    tracer: &mut T,
) -> Result<(), RatingError> {
    let plan: &'a Plan = bound.plan();
    for &id in calc.uses.iter() {
        if values[id].is_some() {
            continue;
        }
        let def = &plan.inputs[id];
        let source = bound.source(id);
        // An empty string is how Socotra leaves an optional field blank: treat it as absent.
        let raw = src.read(source).map(str::trim).filter(|s| !s.is_empty());
        let (value, defaulted) = match raw {
            Some(raw) => match crate::plan::parse_value(def.ty, raw) {
                Some(v) => (Some(v), false),
                None => {
                    return Err(RatingError::InvalidInput {
                        input: def.name.to_string(),
                        value: raw.chars().take(64).collect(),
                        expected: def.ty.expected(),
                    });
                }
            },
            None => {
                if let Some(why) = src.unusable(source) {
                    return Err(RatingError::UnusableInput {
                        input: def.name.to_string(),
                        source_desc: source.to_string(),
                        why,
                    });
                }
                // Defaults are checked at load, so this parse succeeds.
                match def.default.as_deref() {
                    Some(d) => (crate::plan::parse_value(def.ty, d), true),
                    None if def.required => {
                        return Err(RatingError::MissingInput {
                            input: def.name.to_string(),
                            source_desc: source.to_string(),
                        });
                    }
                    None => (None, false),
                }
            }
        };
        if T::ON {
            tracer.record(TraceEvent::Input {
                name: def.name.to_string(),
                source: source.to_string(),
                value: value.map(|v| display_value(&v)),
                defaulted,
            });
        }
        values[id] = value;
    }
    Ok(())
}

fn display_value(v: &Value<'_>) -> String {
    match v {
        Value::Number(d) => d.to_string(),
        Value::Text(t) => (*t).to_owned(),
    }
}

/// Runs a calculation's steps over resolved values; returns the unrounded premium.
fn run<T: Tracer>(
    plan: &Plan,
    peril: &str,
    calc: &Calc,
    values: &Values<'_>,
    tracer: &mut T,
) -> Result<Decimal, RatingError> {
    let mut premium = Decimal::ZERO;
    for step in &calc.steps {
        if let Some(cond) = &step.when
            && !holds(cond, values)
        {
            if T::ON {
                tracer.record(TraceEvent::Skipped {
                    label: step.label.to_string(),
                });
            }
            continue;
        }
        premium = apply(plan, peril, step, premium, values, tracer)?;
    }
    Ok(premium)
}

fn holds(cond: &Cond, values: &Values<'_>) -> bool {
    let matches = |id: InputId, list: &[CondValue]| match values[id] {
        Some(Value::Text(t)) => list
            .iter()
            .any(|c| matches!(c, CondValue::Text(x) if **x == *t)),
        Some(Value::Number(d)) => list
            .iter()
            .any(|c| matches!(c, CondValue::Number(x) if *x == d)),
        None => false,
    };
    match cond {
        Cond::In(id, list) => matches(*id, list),
        Cond::NotIn(id, list) => !matches(*id, list),
        Cond::Cmp(id, op, k) => match values[*id] {
            Some(Value::Number(d)) => match op {
                CmpOp::Gt => d > *k,
                CmpOp::Ge => d >= *k,
                CmpOp::Lt => d < *k,
                CmpOp::Le => d <= *k,
            },
            _ => false,
        },
    }
}

fn apply<T: Tracer>(
    plan: &Plan,
    peril: &str,
    step: &CalcStep,
    premium: Decimal,
    values: &Values<'_>,
    tracer: &mut T,
) -> Result<Decimal, RatingError> {
    let of = |operand: &Operand, tracer: &mut T| {
        let v = operand_value(plan, operand, values, tracer)?;
        bounded(v).ok_or_else(|| RatingError::Overflow {
            step: format!(
                "peril `{peril}` {}: operand {v} exceeds {MAX_AMOUNT}",
                step.label
            ),
        })
    };
    let oflow = || RatingError::Overflow {
        step: format!("peril `{peril}` {}", step.label),
    };
    let (next, detail) = match &step.step {
        Step::Base(a, b) => {
            let a = of(a, tracer)?;
            match b {
                Some(b) => {
                    let b = of(b, tracer)?;
                    (
                        a.checked_mul(b).ok_or_else(oflow)?,
                        T::ON.then(|| format!("{a} x {b}")),
                    )
                }
                None => (a, T::ON.then(|| format!("= {a}"))),
            }
        }
        Step::Factor(a) => {
            let a = of(a, tracer)?;
            (
                premium.checked_mul(a).ok_or_else(oflow)?,
                T::ON.then(|| format!("x {a}")),
            )
        }
        Step::Add(a, b) => {
            let a = of(a, tracer)?;
            let term = match b {
                Some(b) => a.checked_mul(of(b, tracer)?).ok_or_else(oflow)?,
                None => a,
            };
            (
                premium.checked_add(term).ok_or_else(oflow)?,
                T::ON.then(|| format!("+ {term}")),
            )
        }
        Step::AddExcess {
            input,
            threshold,
            factor,
        } => {
            let x = number(plan, *input, values)?;
            let term = if x > Decimal::ZERO {
                let excess = x
                    .checked_sub(*threshold)
                    .ok_or_else(oflow)?
                    .max(Decimal::ZERO);
                excess.checked_mul(of(factor, tracer)?).ok_or_else(oflow)?
            } else {
                Decimal::ZERO
            };
            (
                premium.checked_add(term).ok_or_else(oflow)?,
                T::ON.then(|| format!("+ max({x} - {threshold}, 0) x factor = {term}")),
            )
        }
        Step::Minimum(a) => {
            let a = of(a, tracer)?;
            (premium.max(a), T::ON.then(|| format!("at least {a}")))
        }
        Step::Maximum(a) => {
            let a = of(a, tracer)?;
            (premium.min(a), T::ON.then(|| format!("at most {a}")))
        }
    };
    let next = bounded(next).ok_or_else(oflow)?;
    if T::ON {
        tracer.record(TraceEvent::Step {
            label: step.label.to_string(),
            detail: detail.unwrap_or_default(),
            premium: next,
        });
    }
    Ok(next)
}

fn number(plan: &Plan, id: InputId, values: &Values<'_>) -> Result<Decimal, RatingError> {
    match values[id] {
        Some(Value::Number(d)) => Ok(d),
        // Load-time checks make arithmetic inputs numeric; absent means optional and unset.
        _ => Err(RatingError::MissingInput {
            input: plan.inputs[id].name.to_string(),
            source_desc: "the request".into(),
        }),
    }
}

fn operand_value<T: Tracer>(
    plan: &Plan,
    operand: &Operand,
    values: &Values<'_>,
    tracer: &mut T,
) -> Result<Decimal, RatingError> {
    match operand {
        Operand::Const(d) => Ok(*d),
        Operand::Input(id) => number(plan, *id, values),
        Operand::Table { table, keys } => {
            let table = &plan.tables[*table];
            let mut key: SmallVec<[Value<'_>; 4]> = SmallVec::with_capacity(keys.len());
            for &id in keys.iter() {
                match values[id] {
                    Some(v) => key.push(v),
                    None => {
                        return Err(RatingError::MissingInput {
                            input: plan.inputs[id].name.to_string(),
                            source_desc: format!("the key of table `{}`", table.name),
                        });
                    }
                }
            }
            let render = || {
                table
                    .keys
                    .iter()
                    .zip(key.iter())
                    .map(|(k, v)| format!("{} = {:?}", k.label, display_value(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (value, line) = match table.lookup(&key) {
                Lookup::Row(row) => (row.value, Some(row.line)),
                Lookup::Default(d) => (d, None),
                Lookup::Miss => {
                    return Err(RatingError::UnknownKey {
                        table: table.name.to_string(),
                        key: render(),
                    });
                }
            };
            if T::ON {
                tracer.record(TraceEvent::Lookup {
                    table: table.name.to_string(),
                    key: render(),
                    line,
                    value,
                });
            }
            Ok(value)
        }
    }
}

/// The coverage period of the peril characteristic in years, by the plan's method.
fn period_years<S: InputSource, T: Tracer>(
    plan: &Plan,
    src: &S,
    period: &PolicyPeriod<'_>,
    tracer: &mut T,
) -> Result<Decimal, RatingError> {
    let ts = |b: Builtin| -> Result<i64, RatingError> {
        let raw = src.builtin(b).ok_or_else(|| {
            RatingError::InvalidPeriod(match src.unusable(&Source::Builtin(b)) {
                Some(why) => format!("`{}` holds {why}", b.as_str()),
                None => format!("`{}` is missing", b.as_str()),
            })
        })?;
        raw.trim().parse::<i64>().map_err(|_| {
            RatingError::InvalidPeriod(format!(
                "`{}` must be epoch milliseconds, got {raw:?}",
                b.as_str()
            ))
        })
    };
    let start = ts(Builtin::CoverageStart)?;
    let end = ts(Builtin::CoverageEnd)?;
    if end < start {
        return Err(RatingError::InvalidPeriod(format!(
            "coverageEndTimestamp {end} is before coverageStartTimestamp {start}"
        )));
    }
    let method = plan.proration.method_for(period.payment_schedule);
    let d = match period.last.get() {
        Some((m, s, e, d)) if (m, s, e) == (method, start, end) => d,
        _ => {
            let d = proration::measure(method, period.time_zone, period.anchor_ms, start, end)?;
            period.last.set(Some((method, start, end, d)));
            d
        }
    };
    if T::ON {
        tracer.record(TraceEvent::Period {
            method: match method {
                Method::Months => "months",
                Method::WholeDays => "whole days",
            },
            units: d.units,
            years: d.years,
        });
    }
    Ok(d.years)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_amount_is_ten_to_the_fifteenth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000i64));
    }

    /// `bounded` on the mantissa agrees with comparing the decimals, at every scale and
    /// on both sides of the bound.
    #[test]
    fn bounded_is_the_comparison_with_max_amount() {
        let mut cases = vec![Decimal::ZERO, Decimal::MAX, Decimal::MIN, MAX_AMOUNT];
        for scale in 0..=28u32 {
            // The bound itself at this scale (10^(15 + scale)), either side of it, and the
            // largest mantissa; those that do not fit 96 bits are not decimals.
            let edge = 10i128.checked_pow(15 + scale);
            let near = edge.map_or(vec![], |e| vec![e - 1, e, e + 1]);
            for m in near.into_iter().chain([1, (1i128 << 96) - 1]) {
                if let Ok(d) = Decimal::try_from_i128_with_scale(m, scale) {
                    cases.extend([d, -d]);
                }
            }
        }
        assert!(cases.len() > 100);
        for d in cases {
            assert_eq!(bounded(d).is_some(), d.abs() <= MAX_AMOUNT, "{d:?}");
        }
    }
}
