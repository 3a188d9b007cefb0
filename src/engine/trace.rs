//! The explain trace: every step the engine takes, for support and debugging.
//!
//! The engine is generic over a [`Tracer`]. [`NoTrace`] has `ON = false`, so every
//! `if T::ON { ... }` block, and the strings it would build, is compiled out of the hot
//! path; [`Explain`] collects the events.

use rust_decimal::Decimal;

/// Receives trace events.
pub trait Tracer {
    /// Whether events are wanted at all; checked before any event is built.
    const ON: bool;
    /// Records one event.
    fn record(&mut self, event: TraceEvent);
}

/// Collects nothing and costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl Tracer for NoTrace {
    const ON: bool = false;
    #[inline(always)]
    fn record(&mut self, _: TraceEvent) {}
}

/// Collects every event.
#[derive(Clone, Debug, Default)]
pub struct Explain {
    /// The events in order.
    pub events: Vec<TraceEvent>,
}

impl Tracer for Explain {
    const ON: bool = true;
    fn record(&mut self, event: TraceEvent) {
        self.events.push(event);
    }
}

/// One step of a rating, as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// Which plan and calculation price the peril.
    Plan {
        /// Plan id.
        id: String,
        /// Plan version.
        version: String,
        /// The peril name.
        peril: String,
        /// Whether the plan's fallback (`*`) calculation is used.
        fallback: bool,
    },
    /// An input's value and where it came from.
    Input {
        /// The plan input.
        name: String,
        /// Where it was read ("exposure field `vehicle_value`").
        source: String,
        /// The value used; `None` when absent and optional.
        value: Option<String>,
        /// Whether the plan's default was used.
        defaulted: bool,
    },
    /// A table lookup.
    Lookup {
        /// The table.
        table: String,
        /// The key, as `column = value` pairs.
        key: String,
        /// The matched CSV line; `None` for the default row.
        line: Option<usize>,
        /// The value found.
        value: Decimal,
    },
    /// A table value between two published points.
    Between {
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// The point below: (x, value, line).
        lo: (Decimal, Decimal, usize),
        /// The point above.
        hi: (Decimal, Decimal, usize),
        /// The interpolated value, before any rounding.
        value: Decimal,
    },
    /// A named value computed.
    Value {
        /// Its name (with the member's place inside an aggregate: `driver_factor[2]`).
        name: String,
        /// Its value.
        value: String,
    },
    /// One member inside an aggregate.
    Member {
        /// Its place in the group's list, from 1.
        index: usize,
        /// Its value; `None` when the aggregate's condition left it out.
        value: Option<Decimal>,
    },
    /// An aggregate over a field group.
    Aggregate {
        /// Which (`max_over`, ...).
        agg: &'static str,
        /// The group field.
        group: String,
        /// How many members it lists.
        members: usize,
        /// How many passed the condition.
        kept: usize,
        /// The member whose value won (max, min, first).
        winner: Option<usize>,
        /// The result; `None` when no member qualified.
        value: Option<Decimal>,
    },
    /// An intermediate amount rounded (`round(...)`, a table's rule).
    Rounded {
        /// What was rounded.
        what: String,
        /// Before.
        before: Decimal,
        /// After.
        after: Decimal,
        /// The rule.
        rule: String,
    },
    /// A step whose condition did not hold.
    Skipped {
        /// The step.
        label: String,
    },
    /// A step applied.
    Step {
        /// The step.
        label: String,
        /// What it did ("x 1.1").
        detail: String,
        /// The running premium after it.
        premium: Decimal,
    },
    /// A coverage period measured.
    Period {
        /// "months" or "whole days".
        method: &'static str,
        /// Months or days.
        units: Decimal,
        /// Years.
        years: Decimal,
    },
    /// An output amount rounded.
    Round {
        /// The output (`yearlyPremium`, ...).
        output: &'static str,
        /// Before rounding.
        before: Decimal,
        /// After.
        after: Decimal,
        /// The rule ("half-up to 0.01").
        rule: String,
    },
}

impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceEvent::Plan {
                id,
                version,
                peril,
                fallback,
            } => {
                let which = if *fallback {
                    "fallback calculation `*`"
                } else {
                    "its own calculation"
                };
                write!(
                    f,
                    "plan {id} version {version}: peril `{peril}` uses {which}"
                )
            }
            TraceEvent::Input {
                name,
                source,
                value,
                defaulted,
            } => match (value, defaulted) {
                (Some(v), false) => write!(f, "input {name} = {v:?} from {source}"),
                (Some(v), true) => write!(
                    f,
                    "input {name} = {v:?} (plan default; {source} has no value)"
                ),
                (None, _) => write!(f, "input {name} absent ({source} has no value; optional)"),
            },
            TraceEvent::Lookup {
                table,
                key,
                line,
                value,
            } => match line {
                Some(line) => write!(f, "table {table} [{key}] -> {value} (line {line})"),
                None => write!(f, "table {table} [{key}] -> {value} (default row)"),
            },
            TraceEvent::Between {
                table,
                key,
                lo,
                hi,
                value,
            } => write!(
                f,
                "table {table} [{key}] between {} -> {} (line {}) and {} -> {} (line {}): {value}",
                lo.0, lo.1, lo.2, hi.0, hi.1, hi.2
            ),
            TraceEvent::Value { name, value } => write!(f, "value {name} = {value}"),
            TraceEvent::Member { index, value } => match value {
                Some(v) => write!(f, "  member {index}: {v}"),
                None => write!(f, "  member {index}: left out by the condition"),
            },
            TraceEvent::Aggregate {
                agg,
                group,
                members,
                kept,
                winner,
                value,
            } => {
                write!(f, "{agg}({group}): {kept} of {members} member(s)")?;
                match (value, winner) {
                    (Some(v), Some(w)) => write!(f, " -> {v} (member {w})"),
                    (Some(v), None) => write!(f, " -> {v}"),
                    (None, _) => write!(f, " -> none qualifies"),
                }
            }
            TraceEvent::Rounded {
                what,
                before,
                after,
                rule,
            } => write!(f, "{what}: {before} rounded {rule} -> {after}"),
            TraceEvent::Skipped { label } => write!(f, "{label}: skipped, condition does not hold"),
            TraceEvent::Step {
                label,
                detail,
                premium,
            } => write!(f, "{label}: {detail} -> {premium}"),
            TraceEvent::Period {
                method,
                units,
                years,
            } => {
                write!(f, "coverage period: {units} {method} = {years} years")
            }
            TraceEvent::Round {
                output,
                before,
                after,
                rule,
            } => write!(f, "{output}: {before} rounded {rule} -> {after}"),
        }
    }
}
