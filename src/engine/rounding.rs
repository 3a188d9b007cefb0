//! Rounding rules: a mode and a step, applied once per output amount.

use rust_decimal::{Decimal, RoundingStrategy};

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

impl RoundingMode {
    fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
        }
    }

    /// The name plan files use.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundingMode::HalfUp => "half-up",
            RoundingMode::HalfEven => "half-even",
            RoundingMode::Up => "up",
            RoundingMode::Down => "down",
        }
    }
}

impl Rounding {
    /// Rounds `x` to a multiple of the step; the result carries the step's scale, so cents
    /// print as `25.00`. `None` when the arithmetic would overflow.
    pub fn apply(&self, x: Decimal) -> Option<Decimal> {
        let strategy = self.mode.strategy();
        let mut out = if self.step.mantissa() == 1 {
            // A power of ten (0.01, 1, ...): round at that decimal place directly, which is
            // exact and cheaper than dividing.
            x.round_dp_with_strategy(self.step.scale(), strategy)
        } else {
            x.checked_div(self.step)?
                .round_dp_with_strategy(0, strategy)
                .checked_mul(self.step)?
        };
        out.rescale(self.step.scale());
        Some(out)
    }
}

impl std::fmt::Display for Rounding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.mode.as_str(), self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(mode: RoundingMode, step: &str, x: &str) -> String {
        let rounding = Rounding {
            mode,
            step: step.parse().unwrap(),
        };
        rounding.apply(x.parse().unwrap()).unwrap().to_string()
    }

    #[test]
    fn cents_half_up_goes_away_from_zero_on_ties() {
        assert_eq!(r(RoundingMode::HalfUp, "0.01", "2.345"), "2.35");
        assert_eq!(r(RoundingMode::HalfUp, "0.01", "2.3449"), "2.34");
        assert_eq!(r(RoundingMode::HalfUp, "0.01", "-2.345"), "-2.35");
        assert_eq!(r(RoundingMode::HalfUp, "0.01", "25"), "25.00");
    }

    #[test]
    fn half_even_up_and_down() {
        assert_eq!(r(RoundingMode::HalfEven, "0.01", "2.345"), "2.34");
        assert_eq!(r(RoundingMode::HalfEven, "0.01", "2.355"), "2.36");
        assert_eq!(r(RoundingMode::Up, "0.01", "2.341"), "2.35");
        assert_eq!(r(RoundingMode::Down, "0.01", "2.349"), "2.34");
    }

    #[test]
    fn other_steps() {
        assert_eq!(r(RoundingMode::HalfUp, "1", "2.5"), "3");
        assert_eq!(r(RoundingMode::HalfUp, "0.05", "2.37"), "2.35");
        assert_eq!(r(RoundingMode::HalfUp, "0.05", "2.375"), "2.40");
        assert_eq!(r(RoundingMode::Up, "0.05", "2.351"), "2.40");
        assert_eq!(r(RoundingMode::HalfUp, "10", "2345"), "2350");
        assert_eq!(r(RoundingMode::Down, "0.25", "1.99"), "1.75");
    }
}
