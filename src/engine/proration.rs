//! Proration: how long a coverage period is, in years, measured exactly as Socotra's
//! reference rater measures it (socotra/plugin-reference-implementations,
//! `scripts/lib/utils/DateCalc.js`: `getDuration`, `monthCount`, `dayCountWhole`).
//!
//! All calendar arithmetic happens in the tenant's time zone (jiff, with its time-zone
//! database bundled into the binary, so the answer never depends on the machine's zoneinfo).
//! The result is a `Decimal`: the reference's float ratio of milliseconds becomes an exact
//! decimal division.
//!
//! Deliberate differences from the reference, each for a reason:
//! - the reference moves its anchor earlier and keeps it moved for the rest of the request,
//!   so its answers depend on the order perils are priced in; here the move is redone for each
//!   call (see `months`), so `measure` is a pure function;
//! - the reference ships moment-timezone data for 1970-2030 only, while jiff's bundled tzdb
//!   has real rules for every year; in zones with clock changes, periods outside 1970-2030
//!   may therefore differ from what the reference would compute.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan, ZonedDateTime};
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
    /// Stepping the calendar from this instant (epoch ms) left the representable range
    /// (a period or anchor near year -9999 or 9999).
    #[error("calendar arithmetic from {0} ms leaves the supported range")]
    CalendarOverflow(i64),
    /// A decimal operation overflowed or divided by zero. Unreachable for in-range
    /// timestamps; reported instead of panicking because the inputs come from requests.
    #[error("decimal arithmetic overflowed while measuring the period")]
    Arithmetic,
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
    // Validate every instant up front, so the calendar code below only meets in-range
    // values and a bad request gets the precise timestamp back.
    for ms in [Some(start_ms), Some(end_ms), anchor_ms]
        .into_iter()
        .flatten()
    {
        Timestamp::from_millisecond(ms).map_err(|_| ProrationError::OutOfRange(ms))?;
    }
    // The reference tests the anchor with JavaScript truthiness (`if (this.#anchorTimestamp)`),
    // so an anchor of exactly 0 ms (1970-01-01T00:00Z) behaves as "no anchor". Kept for parity.
    let anchor_ms = anchor_ms.filter(|&a| a != 0);

    let (units, per_year) = match method {
        Method::Months => (
            signed(start_ms, end_ms, |s, e| months(tz, anchor_ms, s, e))?,
            12,
        ),
        // `wholeDays` does not use the anchor in the reference (`useAnchorForDurationCalc`
        // is false), so the anchor is ignored here too.
        Method::WholeDays => (signed(start_ms, end_ms, |s, e| whole_days(tz, s, e))?, 365),
    };
    let years = units
        .checked_div(Decimal::from(per_year))
        .ok_or(ProrationError::Arithmetic)?;
    Ok(Duration { units, years })
}

/// A little over 366 days in ms: the reference's threshold for skipping whole years at once
/// (`31626720000`). Which path is taken never changes the answer, but it is kept so that the
/// calendar steps are the reference's steps.
const YEARS_GAP_MS: i64 = 31_626_720_000;

const DAY_MS: i64 = 86_400_000;

/// `getDuration`'s outer rule: a reversed period is the negated forward period, so every
/// counting helper below may assume `start <= end`.
fn signed(
    start_ms: i64,
    end_ms: i64,
    forward: impl Fn(i64, i64) -> Result<Decimal, ProrationError>,
) -> Result<Decimal, ProrationError> {
    if start_ms > end_ms {
        Ok(-forward(end_ms, start_ms)?)
    } else {
        forward(start_ms, end_ms)
    }
}

/// Months from `start_ms` to `end_ms` (`start <= end`), `getDuration` with unit `months`.
///
/// With an anchor other than `start`, both ends are counted from the anchor and subtracted,
/// so every period of a policy is measured on the same month grid. An anchor after `start`
/// is first moved earlier by whole months. The reference stores that moved anchor in the
/// `DateCalc` object, so later perils of the same request see it and its result depends on
/// the order perils are priced in. Here the move is recomputed for each call and nothing is
/// kept, so `measure` is a pure function of its arguments (it equals the reference for the
/// first period measured, and for every period when no move is needed).
fn months(
    tz: &TimeZone,
    anchor_ms: Option<i64>,
    start_ms: i64,
    end_ms: i64,
) -> Result<Decimal, ProrationError> {
    match anchor_ms {
        Some(anchor) if anchor != start_ms => {
            let base = if anchor > start_ms {
                move_earlier(tz, anchor, start_ms)?
            } else {
                zoned(tz, anchor)?
            };
            let to_end = month_count(&base, end_ms)?;
            let to_start = month_count(&base, start_ms)?;
            to_end
                .checked_sub(to_start)
                .ok_or(ProrationError::Arithmetic)
        }
        // No anchor, or the anchor is the start itself: count directly.
        _ => month_count(&zoned(tz, start_ms)?, end_ms),
    }
}

/// Moves `anchor_ms` earlier one calendar month at a time until it is at or before
/// `limit_ms`. Each step works on the previous step's result (as the reference's repeated
/// `moment.add(-1, 'months')` does), so a clamped day stays clamped: 31 Mar, 28 Feb, 28 Jan.
fn move_earlier(
    tz: &TimeZone,
    anchor_ms: i64,
    limit_ms: i64,
) -> Result<ZonedDateTime, ProrationError> {
    let mut cursor = zoned(tz, anchor_ms)?;
    let one_month = 1.month();
    while millis(&cursor) > limit_ms {
        cursor = cursor
            .checked_sub(one_month)
            .map_err(|_| ProrationError::CalendarOverflow(millis(&cursor)))?;
    }
    Ok(cursor)
}

/// `monthCount(from, end)` for `from <= end`: whole calendar months stepped from `from`,
/// plus the elapsed share (in milliseconds) of the month in which `end` falls.
///
/// The reference takes the day to hold on to from the anchor if there is one, else from the
/// start; in every call it makes, that instant is `from` itself (the possibly moved anchor,
/// or the start when it equals the anchor or there is none), so the day comes from `from`.
fn month_count(from: &ZonedDateTime, end_ms: i64) -> Result<Decimal, ProrationError> {
    let from_ms = millis(from);
    if end_ms <= from_ms {
        return Ok(Decimal::ZERO);
    }
    // Days 1..=28 exist in every month, so only the 29th, 30th and 31st need clamping.
    let clamp_day = Some(from.day()).filter(|&d| d >= 29);

    let mut cursor = from.clone();
    let mut whole: i64 = 0;
    let years_gap = (end_ms - from_ms) / YEARS_GAP_MS; // both positive: floor == truncation
    if years_gap > 0 {
        let span = Span::new()
            .try_years(years_gap)
            .map_err(|_| ProrationError::CalendarOverflow(from_ms))?;
        cursor = cursor
            .checked_add(span)
            .map_err(|_| ProrationError::CalendarOverflow(from_ms))?;
        whole = years_gap
            .checked_mul(12)
            .ok_or(ProrationError::Arithmetic)?;
    }

    let mut fraction = Decimal::ZERO;
    while millis(&cursor) < end_ms {
        let next = next_month(&cursor, clamp_day)?;
        let (cur_ms, next_ms) = (millis(&cursor), millis(&next));
        if next_ms > end_ms {
            // The reference divides float milliseconds; this is the same ratio, exact to
            // Decimal's 28 significant digits. `next_ms > end_ms > cur_ms`, so no zero.
            fraction = Decimal::from(end_ms - cur_ms)
                .checked_div(Decimal::from(next_ms - cur_ms))
                .ok_or(ProrationError::Arithmetic)?;
            break;
        }
        whole = whole.checked_add(1).ok_or(ProrationError::Arithmetic)?;
        cursor = next;
    }
    Decimal::from(whole)
        .checked_add(fraction)
        .ok_or(ProrationError::Arithmetic)
}

/// One step of the month grid (`incrementMomentByMonth(cursor, clampDay, 1)`): add a
/// calendar month on local wall time (the day clamps to the month's end), then, when the
/// grid's day is 29..=31, put the day back to it as far as the month allows.
///
/// Wall times that do not exist (DST gap) move forward and ambiguous ones take the earlier
/// offset: jiff's `Compatible` disambiguation, used by calendar `Span` arithmetic and by
/// `TimeZone::to_zoned_datetime`. The day is reset on the civil datetime and resolved again
/// (rather than with `ZonedDateTime::with`, which would prefer the old offset in a fold), so
/// both operations follow one rule.
fn next_month(
    cursor: &ZonedDateTime,
    clamp_day: Option<i8>,
) -> Result<ZonedDateTime, ProrationError> {
    let overflow = || ProrationError::CalendarOverflow(millis(cursor));
    let next = cursor.checked_add(1.month()).map_err(|_| overflow())?;
    let Some(clamp) = clamp_day else {
        return Ok(next);
    };
    let day = next.day();
    let wanted = if day < clamp {
        clamp.min(next.days_in_month())
    } else {
        clamp // equal: unchanged; greater: pulled back (never happens from a grid point)
    };
    if wanted == day {
        return Ok(next);
    }
    let civil = next
        .datetime()
        .with()
        .day(wanted)
        .build()
        .map_err(|_| overflow())?;
    next.time_zone()
        .to_zoned_datetime(civil)
        .map_err(|_| overflow())
}

/// Whole days from `start_ms` to `end_ms` (`start <= end`), `dayCountWhole`: the difference
/// of the two local wall-clock times, truncated toward zero. Because it is wall-clock time,
/// a day containing a DST change still counts as one day.
fn whole_days(tz: &TimeZone, start_ms: i64, end_ms: i64) -> Result<Decimal, ProrationError> {
    let local = |ms: i64| -> Result<i64, ProrationError> {
        let ts = Timestamp::from_millisecond(ms).map_err(|_| ProrationError::OutOfRange(ms))?;
        let offset_ms = i64::from(tz.to_offset(ts).seconds()) * 1000;
        ms.checked_add(offset_ms)
            .ok_or(ProrationError::OutOfRange(ms))
    };
    let diff = local(end_ms)?
        .checked_sub(local(start_ms)?)
        .ok_or(ProrationError::Arithmetic)?;
    // Rust's integer division truncates toward zero, as moment's `diff(..., 'days')` does.
    Ok(Decimal::from(diff / DAY_MS))
}

/// `ms` as a zoned datetime in `tz`.
fn zoned(tz: &TimeZone, ms: i64) -> Result<ZonedDateTime, ProrationError> {
    Timestamp::from_millisecond(ms)
        .map(|ts| ts.to_zoned_datetime(tz.clone()))
        .map_err(|_| ProrationError::OutOfRange(ms))
}

/// Epoch milliseconds of a zoned datetime (whole ms: every instant here started as ms and
/// calendar steps move by whole seconds).
fn millis(z: &ZonedDateTime) -> i64 {
    z.timestamp().as_millisecond()
}
