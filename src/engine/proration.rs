//! Proration: how long a coverage period is, in years, measured exactly as Socotra's
//! reference rater measures it (socotra/plugin-reference-implementations,
//! `scripts/lib/utils/DateCalc.js`: `getDuration`, `monthCount`, `dayCountWhole`).
//!
//! All calendar arithmetic happens in the tenant's time zone (jiff, with its time-zone
//! database bundled into the binary, so the answer never depends on the machine's zoneinfo).
//! The result is a `Decimal`: the reference's float ratio of milliseconds becomes an exact
//! decimal division.
//!
//! The month grid steps on wall time, and each of its points is resolved to an instant by
//! `Wall`, which reuses the offset of the DST period it is in rather than asking the time
//! zone's rules for every point (a third of the cost). Its answers are jiff's zoned
//! arithmetic's, which the unit tests keep as the oracle.
//!
//! Deliberate differences from the reference, each for a reason:
//! - the reference moves its anchor earlier and keeps it moved for the rest of the request,
//!   so its answers depend on the order perils are priced in; here the move is redone for each
//!   call (see `months`), so `measure` is a pure function;
//! - the reference ships moment-timezone data for 1970-2030 only, while jiff's bundled tzdb
//!   has real rules for every year; in zones with clock changes, periods outside 1970-2030
//!   may therefore differ from what the reference would compute.

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ToSpan, ZonedDateTime};
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
    /// Calendar days from the start's date to the end's date, both taken in the time zone
    /// (a rate manual's "days of coverage"), years = days / 365.
    CalendarDays,
}

impl Method {
    /// The name plan files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Months => "months",
            Method::WholeDays => "whole-days",
            Method::CalendarDays => "calendar-days",
        }
    }
}

/// A measured period, kept in both units for the explain trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration {
    /// Months for [`Method::Months`], days otherwise.
    pub units: Decimal,
    /// How many units make a year: 12 or 365. An amount for the period is
    /// `yearly x units / per_year`, multiplied first so an exact tie stays exact.
    pub per_year: u32,
    /// The period in years, `units / per_year`, for traces.
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
        Method::CalendarDays => (calendar_days(tz, start_ms, end_ms)?, 365),
    };
    let years = units
        .checked_div(Decimal::from(per_year))
        .ok_or(ProrationError::Arithmetic)?;
    Ok(Duration {
        units,
        per_year,
        years,
    })
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
    let mut wall = Wall::new(tz);
    match anchor_ms {
        Some(anchor) if anchor != start_ms => {
            let base = if anchor > start_ms {
                wall.point(&move_earlier(tz, anchor, start_ms)?)
            } else {
                wall.point(&zoned(tz, anchor)?)
            };
            // The start first: its count stays near the base, inside the period `point` has
            // just learnt, so it needs no look-up; after the end's it would need one.
            let to_start = month_count(&mut wall, base, start_ms)?;
            let to_end = month_count(&mut wall, base, end_ms)?;
            to_end
                .checked_sub(to_start)
                .ok_or(ProrationError::Arithmetic)
        }
        // No anchor, or the anchor is the start itself: count directly.
        _ => {
            let from = wall.point(&zoned(tz, start_ms)?);
            month_count(&mut wall, from, end_ms)
        }
    }
}

/// Moves `anchor_ms` earlier one calendar month at a time until it is at or before
/// `limit_ms`. Each step works on the previous step's result (as the reference's repeated
/// `moment.add(-1, 'months')` does), so a clamped day stays clamped: 31 Mar, 28 Feb, 28 Jan.
/// (Rare: only an anchor after the start moves; this stays on jiff's zoned arithmetic.)
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

/// A point of the month grid: the wall time the grid steps from, and its instant.
#[derive(Clone, Copy, Debug)]
struct Point {
    civil: DateTime,
    ms: i64,
}

/// `monthCount(from, end)` for `from <= end`: whole calendar months stepped from `from`,
/// plus the elapsed share (in milliseconds) of the month in which `end` falls.
///
/// The reference takes the day to hold on to from the anchor if there is one, else from the
/// start; in every call it makes, that instant is `from` itself (the possibly moved anchor,
/// or the start when it equals the anchor or there is none), so the day comes from `from`.
fn month_count(wall: &mut Wall<'_>, from: Point, end_ms: i64) -> Result<Decimal, ProrationError> {
    if end_ms <= from.ms {
        return Ok(Decimal::ZERO);
    }
    // Days 1..=28 exist in every month, so only the 29th, 30th and 31st need clamping.
    let clamp_day = Some(from.civil.day()).filter(|&d| d >= 29);

    let mut cursor = from;
    let mut whole: i64 = 0;
    let years_gap = (end_ms - from.ms) / YEARS_GAP_MS; // both positive: floor == truncation
    if years_gap > 0 {
        whole = years_gap
            .checked_mul(12)
            .ok_or(ProrationError::Arithmetic)?;
        let civil =
            add_months(from.civil, whole).ok_or(ProrationError::CalendarOverflow(from.ms))?;
        cursor = wall.resolve(civil, from.ms)?;
    }

    let mut fraction = Decimal::ZERO;
    while cursor.ms < end_ms {
        let next = next_month(wall, cursor, clamp_day)?;
        if next.ms > end_ms {
            // The reference divides float milliseconds; this is the same ratio, exact to
            // Decimal's 28 significant digits. `next > end > cursor`, so no zero.
            fraction = Decimal::from(end_ms - cursor.ms)
                .checked_div(Decimal::from(next.ms - cursor.ms))
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
/// Each of the two wall times is resolved to an instant before the next is taken from it,
/// as jiff's zoned arithmetic (`ZonedDateTime::checked_add`, then a new day on the result's
/// civil datetime) does: a wall time in a DST gap moves forward, and the grid goes on from
/// the moved time. `tests::the_grid_equals_jiffs_zoned_arithmetic` holds the two equal.
fn next_month(
    wall: &mut Wall<'_>,
    cursor: Point,
    clamp_day: Option<i8>,
) -> Result<Point, ProrationError> {
    let overflow = || ProrationError::CalendarOverflow(cursor.ms);
    let next = wall.resolve(add_months(cursor.civil, 1).ok_or_else(overflow)?, cursor.ms)?;
    let Some(clamp) = clamp_day else {
        return Ok(next);
    };
    let (year, month, day) = (next.civil.year(), next.civil.month(), next.civil.day());
    let wanted = if day < clamp {
        clamp.min(days_in_month(year, month))
    } else {
        clamp // equal: unchanged; greater: pulled back (never happens from a grid point)
    };
    if wanted == day {
        return Ok(next);
    }
    let date = Date::new(year, month, wanted).map_err(|_| overflow())?;
    wall.resolve(date.to_datetime(next.civil.time()), cursor.ms)
}

/// `civil` plus `months` calendar months, the day clamped to the last of the month (jiff's
/// and moment's rule: 31 Jan + 1 month is 28 or 29 Feb); `None` past year 9999. Done by
/// hand because jiff's `Span` arithmetic costs several times as much, and this is the
/// grid's inner step (`tests::months_are_added_as_jiff_adds_them`).
fn add_months(civil: DateTime, months: i64) -> Option<DateTime> {
    let index = i64::from(civil.year()) * 12 + i64::from(civil.month() - 1) + months;
    let year = i16::try_from(index.div_euclid(12)).ok()?;
    let month = i8::try_from(index.rem_euclid(12) + 1).ok()?;
    let day = civil.day().min(days_in_month(year, month));
    Date::new(year, month, day)
        .ok()
        .map(|date| date.to_datetime(civil.time()))
}

/// Days in `month` (1..=12) of `year`, proleptic Gregorian (as jiff counts).
fn days_in_month(year: i16, month: i8) -> i8 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// How far back, at most, any time zone has ever set its clocks at one transition, with
/// room to spare: the largest in the tz database is Alaska's day given back in 1867 (24 h;
/// `tests::no_zone_sets_its_clocks_back_by_the_margin` checks the bundled database).
const FOLD_MARGIN_MS: i64 = 2 * DAY_MS;

/// Turns the grid's wall times into instants in one time zone, by jiff's `Compatible` rule
/// (a wall time in a gap moves forward by the gap, an ambiguous one takes the earlier
/// instant), remembering the offset of the last one it asked jiff for.
///
/// Why: resolving a wall time through jiff costs about 110 ns here (a look-up in the zone's
/// rules; for current years those are POSIX rules, evaluated again for each call), and a
/// policy's grid has a dozen or more points, most of them inside one offset period (between
/// two DST changes). Within a period, the instant is the wall time minus the offset: 5 ns.
struct Wall<'a> {
    tz: &'a TimeZone,
    /// The offset in force over `lo..hi` (ms).
    offset: Offset,
    /// Instants from which `offset` is known to be the `Compatible` answer: a wall time
    /// whose instant under `offset` lies in `lo..hi` has that instant and no other. `hi`
    /// is the zone's next transition, so the wall time is valid under `offset` (in a fold
    /// at `hi` the earlier instant is this one). `lo` is [`FOLD_MARGIN_MS`] after the
    /// instant the period was learnt from or the transition that began it: a wall time
    /// within a fold's length after the previous transition could also be read under the
    /// previous, larger offset, as an earlier instant, which `Compatible` would prefer.
    lo: i64,
    hi: i64,
    /// The transition at `hi` and the offset from it on; `None` when the zone has no
    /// further transition (`hi` is then `i64::MAX`).
    next: Option<(Timestamp, Offset)>,
}

impl<'a> Wall<'a> {
    /// Knows no period yet.
    fn new(tz: &'a TimeZone) -> Self {
        Wall {
            tz,
            offset: Offset::UTC,
            lo: i64::MAX,
            hi: i64::MIN,
            next: None,
        }
    }

    /// The grid point at `z`, learning its offset period.
    fn point(&mut self, z: &ZonedDateTime) -> Point {
        let ts = z.timestamp();
        self.offset = z.offset();
        self.lo = ts.as_millisecond().saturating_add(FOLD_MARGIN_MS);
        self.follow(ts);
        Point {
            civil: z.datetime(),
            ms: millis(z),
        }
    }

    /// The instant of wall time `civil`, and the wall time the grid goes on from (another
    /// only after a gap). `near_ms` names the step in an overflow error.
    fn resolve(&mut self, civil: DateTime, near_ms: i64) -> Result<Point, ProrationError> {
        // Within the period, or in the next one: a grid step of a month crosses at most one
        // DST change, and moving to the next period is one transition look-up (80 ns)
        // where jiff's resolution and a new period would be two (190 ns).
        for crossed in [false, true] {
            let Ok(ts) = self.offset.to_timestamp(civil) else {
                break;
            };
            let ms = ts.as_millisecond();
            if ms < self.lo {
                break;
            }
            if ms < self.hi {
                return Ok(Point { civil, ms });
            }
            // A candidate far past the period (the years skipped at once) would cross
            // several: jiff resolves it directly.
            let Some((at, offset)) = self.next.filter(|_| !crossed && ms - self.hi < 32 * DAY_MS)
            else {
                break;
            };
            self.offset = offset;
            self.lo = self.hi.saturating_add(FOLD_MARGIN_MS);
            self.follow(at);
        }
        let z = self
            .tz
            .to_zoned_datetime(civil)
            .map_err(|_| ProrationError::CalendarOverflow(near_ms))?;
        Ok(self.point(&z))
    }

    /// Ends the period at the zone's first transition after `ts`.
    fn follow(&mut self, ts: Timestamp) {
        match self.tz.following(ts).next() {
            Some(t) => {
                self.hi = t.timestamp().as_millisecond();
                self.next = Some((t.timestamp(), t.offset()));
            }
            None => {
                self.hi = i64::MAX;
                self.next = None;
            }
        }
    }
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

/// Calendar days between the local dates of two instants (negative when the end's date is
/// before the start's).
fn calendar_days(tz: &TimeZone, start_ms: i64, end_ms: i64) -> Result<Decimal, ProrationError> {
    let date = |ms: i64| -> Result<jiff::civil::Date, ProrationError> {
        let ts = Timestamp::from_millisecond(ms).map_err(|_| ProrationError::OutOfRange(ms))?;
        Ok(tz.to_datetime(ts).date())
    };
    let (start, end) = (date(start_ms)?, date(end_ms)?);
    let days = start
        .until((jiff::Unit::Day, end))
        .map_err(|_| ProrationError::CalendarOverflow(start_ms))?
        .get_days();
    Ok(Decimal::from(days))
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

#[cfg(test)]
mod tests {
    //! The grid above resolves wall times itself, within an offset period, instead of
    //! through jiff's zoned arithmetic; these hold it equal to that arithmetic, which is what
    //! the golden tests (`tests/proration.rs`) pinned against the reference.
    use super::*;
    use jiff::civil::date;
    use jiff::tz::AmbiguousOffset;
    use proptest::prelude::*;

    /// The month count on jiff's `ZonedDateTime` arithmetic, step by step: the previous
    /// implementation, kept as the oracle.
    mod zoned_grid {
        use super::*;

        pub fn months(
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
                _ => month_count(&zoned(tz, start_ms)?, end_ms),
            }
        }

        fn month_count(from: &ZonedDateTime, end_ms: i64) -> Result<Decimal, ProrationError> {
            let from_ms = millis(from);
            if end_ms <= from_ms {
                return Ok(Decimal::ZERO);
            }
            let clamp_day = Some(from.day()).filter(|&d| d >= 29);
            let mut cursor = from.clone();
            let mut whole: i64 = 0;
            let years_gap = (end_ms - from_ms) / YEARS_GAP_MS;
            if years_gap > 0 {
                let span = jiff::Span::new()
                    .try_years(years_gap)
                    .map_err(|_| ProrationError::CalendarOverflow(from_ms))?;
                cursor = cursor
                    .checked_add(span)
                    .map_err(|_| ProrationError::CalendarOverflow(from_ms))?;
                whole = years_gap * 12;
            }
            let mut fraction = Decimal::ZERO;
            while millis(&cursor) < end_ms {
                let next = next_month(&cursor, clamp_day)?;
                let (cur_ms, next_ms) = (millis(&cursor), millis(&next));
                if next_ms > end_ms {
                    fraction = Decimal::from(end_ms - cur_ms)
                        .checked_div(Decimal::from(next_ms - cur_ms))
                        .ok_or(ProrationError::Arithmetic)?;
                    break;
                }
                whole += 1;
                cursor = next;
            }
            Decimal::from(whole)
                .checked_add(fraction)
                .ok_or(ProrationError::Arithmetic)
        }

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
                clamp
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
    }

    /// Zones with every kind of transition: none, DST at 02:00 (both hemispheres), DST at
    /// midnight (gaps and folds at 00:00, so grid points at midnight fall in them), half-hour
    /// DST, a skipped day (Apia, 2011), a day repeated (Alaska, 1867), and offsets changed
    /// without DST.
    const ZONES: &[&str] = &[
        "UTC",
        "America/Los_Angeles",
        "Europe/London",
        "Europe/Berlin",
        "Australia/Sydney",
        "America/Santiago",
        "America/Havana",
        "Asia/Beirut",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Pacific/Apia",
        "America/Juneau",
        "America/Sitka",
        "Asia/Kolkata",
        "Africa/Casablanca",
        "Antarctica/Troll",
    ];

    /// Milliseconds of a wall time in `zone` (compatible), or of its UTC reading when the
    /// wall time cannot be resolved.
    fn at(tz: &TimeZone, y: i16, m: i8, d: i8, h: i8, mi: i8) -> i64 {
        let d = d.min(date(y, m, 1).days_in_month());
        tz.to_zoned_datetime(date(y, m, d).at(h, mi, 0, 0))
            .map(|z| millis(&z))
            .unwrap()
    }

    /// A time of day near a zone's usual transitions, more often than chance would pick.
    fn hour() -> impl Strategy<Value = i8> {
        prop_oneof![Just(0i8), Just(1), Just(2), Just(3), Just(23), 0i8..=23]
    }

    fn instant() -> impl Strategy<Value = (usize, i16, i8, i8, i8, i8)> {
        (
            0..ZONES.len(),
            prop_oneof![1860i16..=1880, 1900i16..=2100, 2008i16..=2014],
            1i8..=12,
            prop_oneof![1i8..=28, 28i8..=31],
            hour(),
            prop_oneof![Just(0i8), Just(30), 0i8..=59],
        )
    }

    fn span() -> impl Strategy<Value = i64> {
        prop_oneof![
            0i64..=3 * 366 * DAY_MS,
            (0i64..=3 * 366).prop_map(|d| d * DAY_MS),
            0i64..=40 * 366 * DAY_MS,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn the_grid_equals_jiffs_zoned_arithmetic(
            (zone, y, m, d, h, mi) in instant(),
            after in span(),
            anchor_shift in prop_oneof![Just(None), Just(Some(0i64)), (-400i64..=400).prop_map(|d| Some(d * DAY_MS)), (-40 * DAY_MS..=40 * DAY_MS).prop_map(Some)],
        ) {
            let tz = TimeZone::get(ZONES[zone]).unwrap();
            let start = at(&tz, y, m, d, h, mi);
            let end = start + after;
            let anchor = anchor_shift.map(|s| start + s);
            let ours = months(&tz, anchor, start, end);
            let oracle = zoned_grid::months(&tz, anchor, start, end);
            prop_assert_eq!(ours, oracle, "{} {} {} {:?}", ZONES[zone], start, end, anchor);
        }

        #[test]
        fn months_are_added_as_jiff_adds_them(
            y in -9999i16..=9999, m in 1i8..=12, d in 1i8..=31, n in -30000i64..=30000,
        ) {
            let d = d.min(date(y, m, 1).days_in_month());
            let civil = date(y, m, d).at(13, 5, 7, 0);
            let jiff = jiff::Span::new().try_months(n).ok().and_then(|s| civil.checked_add(s).ok());
            prop_assert_eq!(add_months(civil, n), jiff);
        }
    }

    /// Every grid point of a month-by-month walk through each zone's transitions, at the
    /// times of day where they happen, equals jiff's: the cases a random instant rarely hits.
    #[test]
    fn grid_points_at_every_transition_equal_jiffs() {
        for &zone in ZONES {
            let tz = TimeZone::get(zone).unwrap();
            let from = Timestamp::from_second(-3_500_000_000).unwrap(); // 1859
            let until = Timestamp::from_second(4_200_000_000).unwrap(); // 2103
            for t in tz.following(from).take_while(|t| t.timestamp() < until) {
                // Start a month (and a year) before the transition, at the transition's
                // wall time on either side of it, so a grid point lands on it.
                for offset in [t.offset(), tz.to_offset(t.timestamp() - 1.second())] {
                    let wall = offset.to_datetime(t.timestamp());
                    for (years, back) in [(0, -1), (-1, 0), (0, -13)] {
                        let Some(start) = add_months(wall, years * 12 + back) else {
                            continue;
                        };
                        let Ok(z) = tz.to_zoned_datetime(start) else {
                            continue;
                        };
                        let s = millis(&z);
                        for end in [s + 40 * DAY_MS, s + 400 * DAY_MS, s + 800 * DAY_MS] {
                            assert_eq!(
                                months(&tz, None, s, end),
                                zoned_grid::months(&tz, None, s, end),
                                "{zone} {s} {end}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// How many seconds transition `t` sets the clocks back by (negative: forward).
    fn set_back(tz: &TimeZone, t: &jiff::tz::TimeZoneTransition<'_>) -> i32 {
        tz.to_offset(t.timestamp() - 1.second()).seconds() - t.offset().seconds()
    }

    /// Alaska's change of 1867 in `tz` (Sitka): the clocks went back a whole day.
    fn alaska_1867<'t>(tz: &'t TimeZone) -> jiff::tz::TimeZoneTransition<'t> {
        tz.following(Timestamp::MIN)
            .find(|t| set_back(tz, t) >= 12 * 3600)
            .expect("Alaska's 1867 change")
    }

    /// [`FOLD_MARGIN_MS`] is larger than any time a zone of the bundled database has set its
    /// clocks back by.
    #[test]
    fn no_zone_sets_its_clocks_back_by_the_margin() {
        let from = Timestamp::MIN;
        let until = Timestamp::from_second(4_200_000_000).unwrap(); // 2103: POSIX rules repeat
        let mut largest = 0;
        for name in jiff::tz::db().available() {
            let tz = TimeZone::get(name.as_str()).unwrap();
            for t in tz.following(from).take_while(|t| t.timestamp() < until) {
                largest = largest.max(i64::from(set_back(&tz, &t)) * 1000);
            }
        }
        assert!(
            largest > 0 && largest < FOLD_MARGIN_MS,
            "largest fold {largest} ms"
        );
    }

    /// A wall time within a fold's length after a transition that set clocks back is
    /// ambiguous even though the later period's offset gives it a valid instant; the
    /// margin sends it to jiff, which gives the earlier one. Alaska's 1867 fold is 24 h.
    #[test]
    fn a_wall_time_in_a_long_fold_gets_the_earlier_instant() {
        let tz = TimeZone::get("America/Sitka").unwrap();
        let fold = alaska_1867(&tz);
        let mut wall = Wall::new(&tz);
        // An instant an hour after the change, learnt as the grid's last point.
        let learnt = fold.timestamp().checked_add(1.hour()).unwrap();
        let learnt = wall.point(&learnt.to_zoned_datetime(tz.clone()));
        assert_eq!(wall.offset, fold.offset());
        let civil = learnt.civil.checked_add(6.hours()).unwrap();
        let got = wall.resolve(civil, learnt.ms).unwrap();
        let want = tz.to_zoned_datetime(civil).unwrap();
        assert_eq!(got.ms, millis(&want));
        assert!(
            got.ms < fold.timestamp().as_millisecond(),
            "the earlier reading"
        );
    }

    /// The same after the wall crossed into the period by itself (without asking jiff):
    /// the margin after the transition it crossed still holds.
    #[test]
    fn a_wall_time_in_a_long_fold_after_a_crossing_gets_the_earlier_instant() {
        let tz = TimeZone::get("America/Sitka").unwrap();
        let fold = alaska_1867(&tz);
        let (at, after) = (fold.timestamp(), fold.offset());
        let mut wall = Wall::new(&tz);
        let before = (at - 240.hours()).to_zoned_datetime(tz.clone());
        wall.point(&before);
        // Five days after the change: crossed into the new period by one look-up.
        let crossing = after.to_datetime(at + 120.hours());
        let got = wall.resolve(crossing, millis(&before)).unwrap();
        assert_eq!(wall.offset, after);
        assert_eq!(got.ms, (at + 120.hours()).as_millisecond());
        // Six hours after the change: ambiguous, and the earlier reading is jiff's answer.
        let civil = after.to_datetime(at + 6.hours());
        let got = wall.resolve(civil, millis(&before)).unwrap();
        let want = tz.to_zoned_datetime(civil).unwrap();
        assert_eq!(got.ms, millis(&want));
        assert!(got.ms < at.as_millisecond(), "the earlier reading");
    }

    /// The shortcut is taken where it may be and not where it may not.
    #[test]
    fn the_offset_is_reused_only_inside_its_period() {
        let tz = TimeZone::get("America/Los_Angeles").unwrap();
        let mut wall = Wall::new(&tz);
        let july = wall.point(
            &tz.to_zoned_datetime(date(2024, 7, 15).at(0, 0, 0, 0))
                .unwrap(),
        );
        assert_eq!(wall.offset.seconds(), -7 * 3600);
        // August: same period, same offset, no look-up.
        let aug = wall
            .resolve(date(2024, 8, 15).at(0, 0, 0, 0), july.ms)
            .unwrap();
        assert_eq!(aug.ms, july.ms + 31 * DAY_MS);
        assert_eq!(wall.lo, july.ms + FOLD_MARGIN_MS);
        // December: past November's change, so jiff is asked and the period moves.
        let dec = wall
            .resolve(date(2024, 12, 15).at(0, 0, 0, 0), aug.ms)
            .unwrap();
        assert_eq!(wall.offset.seconds(), -8 * 3600);
        assert_eq!(dec.ms, millis(&tz.to_zoned_datetime(dec.civil).unwrap()));
        // A wall time in March's gap moves forward, and the grid goes on from there.
        let gap = date(2025, 3, 9).at(2, 30, 0, 0);
        assert!(matches!(
            tz.to_ambiguous_timestamp(gap).offset(),
            AmbiguousOffset::Gap { .. }
        ));
        let moved = wall.resolve(gap, dec.ms).unwrap();
        assert_eq!(moved.civil, date(2025, 3, 9).at(3, 30, 0, 0));
    }
}
