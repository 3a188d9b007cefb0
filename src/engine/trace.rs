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
