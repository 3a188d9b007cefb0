//! Proration: how long a coverage period is, in years, measured exactly as Socotra's
//! reference rater measures it (socotra/plugin-reference-implementations,
//! `scripts/lib/utils/DateCalc.js`: `getDuration`, `monthCount`, `dayCountWhole`).
//!
//! All calendar arithmetic happens in the tenant's time zone (jiff, with its time-zone
//! database bundled into the binary, so the answer never depends on the machine's zoneinfo).
//! The result is a `Decimal`: the reference's float ratio of milliseconds becomes an exact
//! decimal division.

use jiff::tz::TimeZone;
use rust_decimal::Decimal;

/// How a period is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Calendar months stepped from the anchor's day of month (29th/30th/31st clamped to
    /// short months), a last partial month counted as the fraction of that month's
    /// milliseconds; years = months / 12. `DateCalc.monthCount` through `getDuration`.
    Months,
    /// Whole local days (truncated), years = days / 365. `DateCalc.dayCountWhole`.
    WholeDays,
}

/// A measured period, kept in both units for the explain trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration {
    /// Months for [`Method::Months`], days for [`Method::WholeDays`].
    pub units: Decimal,
    /// The period in years: `units / 12` or `units / 365`.
    pub years: Decimal,
}

/// Why a period cannot be measured.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProrationError {
    /// A timestamp is outside the range the calendar can represent.
    #[error("timestamp {0} ms is out of the supported range")]
    OutOfRange(i64),
}

/// Measures `start_ms..end_ms` (epoch milliseconds) in `tz`.
///
/// With `anchor_ms` (the policy's `originalContractStartTimestamp`) and [`Method::Months`],
/// duration(start, end) = count(anchor, end) - count(anchor, start), which makes durations
/// additive over adjacent periods. `start > end` gives the negated duration of `end..start`.
pub fn measure(
    method: Method,
    tz: &TimeZone,
    anchor_ms: Option<i64>,
    start_ms: i64,
    end_ms: i64,
) -> Result<Duration, ProrationError> {
    let _ = (method, tz, anchor_ms, start_ms, end_ms);
    unimplemented!("proration is being ported")
}
