//! Rounding rules: a mode and a step, applied once per output amount.

use rust_decimal::Decimal;

/// How a tie or a remainder is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundingMode {
    /// Ties away from zero (Java's HALF_UP; for premiums, which are positive, JS `Math.round`).
    HalfUp,
    /// Ties to the even neighbour (banker's rounding).
    HalfEven,
    /// Always away from zero.
    Up,
    /// Always toward zero (truncate).
    Down,
}

/// A rounding rule: to a multiple of `step` (0.01 cents, 1 whole units, 0.05 nickels, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounding {
    /// The tie rule.
    pub mode: RoundingMode,
    /// The positive step amounts are rounded to a multiple of.
    pub step: Decimal,
}
