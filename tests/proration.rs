//! Tests for `rater::engine::proration::measure`.
//!
//! Why these three kinds: the golden tests pin us to what Socotra's reference rater actually
//! produced for real requests (the only authority on the float behaviour we port); the unit
//! tests pin the calendar corner cases the fixtures happen not to contain (clamped days,
//! leap days, DST); the properties check the structural promises the rest of the engine
//! relies on (additivity over adjacent periods, monotonicity, a year is a year).

mod support;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::civil::date;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use rater::engine::proration::{Duration, Method, ProrationError, measure};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).expect("bundled time zone")
}

/// Epoch ms of a local wall time in `zone` (compatible disambiguation).
fn at(zone: &str, y: i16, m: i8, d: i8, h: i8, mi: i8) -> i64 {
    date(y, m, d)
        .at(h, mi, 0, 0)
        .to_zoned_datetime(tz(zone))
        .expect("valid local time")
        .timestamp()
        .as_millisecond()
}

fn months(zone: &str, anchor: Option<i64>, start: i64, end: i64) -> Duration {
    measure(Method::Months, &tz(zone), anchor, start, end).expect("measurable")
}

fn days(zone: &str, start: i64, end: i64) -> Duration {
    measure(Method::WholeDays, &tz(zone), None, start, end).expect("measurable")
}

fn dec(n: i64) -> Decimal {
    Decimal::from(n)
}

fn ratio(num: i64, den: i64) -> Decimal {
    dec(num) / dec(den)
}

// ---------------------------------------------------------------------------------------
// Golden tests against the reference rater's outputs.
// ---------------------------------------------------------------------------------------

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn str_ms(v: &Value, what: &str) -> i64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what} is not an epoch-ms string: {v}"))
}

/// A request's measuring context and its peril characteristics by locator, read the way
/// `Rater.js` reads them.
struct Request {
    zone: TimeZone,
    anchor: i64,
    method: Method,
    perils: Vec<(String, i64, i64)>,
}

impl Request {
    fn load(path: &Path) -> Request {
        let req = read_json(path);
        let policy = &req["policy"];
        let method = if policy["paymentScheduleName"] == "weekly" {
            Method::WholeDays
        } else {
            Method::Months
        };
        let mut perils = Vec::new();
        for exposure in policy["exposures"].as_array().expect("exposures") {
            for peril in exposure["perils"].as_array().expect("perils") {
                for ch in peril["characteristics"]
                    .as_array()
                    .expect("characteristics")
                {
                    perils.push((
                        ch["locator"].as_str().expect("locator").to_owned(),
                        str_ms(&ch["coverageStartTimestamp"], "coverageStartTimestamp"),
                        str_ms(&ch["coverageEndTimestamp"], "coverageEndTimestamp"),
                    ));
                }
            }
        }
        Request {
            zone: tz(req["tenantTimeZone"].as_str().expect("tenantTimeZone")),
            anchor: str_ms(
                &policy["originalContractStartTimestamp"],
                "originalContractStartTimestamp",
            ),
            method,
            perils,
        }
    }

    fn years(&self, locator: &str) -> Decimal {
        let (_, start, end) = self
            .perils
            .iter()
            .find(|(l, _, _)| l == locator)
            .unwrap_or_else(|| panic!("no peril characteristic {locator}"));
        measure(self.method, &self.zone, Some(self.anchor), *start, *end)
            .unwrap_or_else(|e| panic!("{locator}: {e}"))
            .years
    }
}

fn numbered(dir: &Path, suffix: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            let stem = name.strip_suffix(suffix)?.to_owned();
            Some((stem, path))
        })
        .collect();
    out.sort();
    out
}

fn priced(response: &Value) -> Option<&serde_json::Map<String, Value>> {
    response.get("pricedPerilCharacteristics")?.as_object()
}

fn json_decimal(v: &Value) -> Decimal {
    // serde_json prints the shortest round-tripping form, i.e. the number as written.
    Decimal::from_str(&v.to_string()).unwrap_or_else(|e| panic!("{v} as decimal: {e}"))
}

fn round_cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `years` in every `NNN.personal-auto.json` matches ours to 1e-9 relative.
#[test]
fn golden_rating_variants_years_match_reference() {
    let dir = support::fixtures().join("rating-variants");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, path) in numbered(&dir, ".request.json") {
        let answer = dir.join(format!("{n}.personal-auto.json"));
        if !answer.exists() {
            continue;
        }
        let answer = read_json(&answer);
        let Some(priced) = priced(&answer) else {
            continue; // the reference errored on this request (it says so in the file)
        };
        let req = Request::load(&path);
        for (locator, out) in priced {
            let theirs = out["years"].as_f64().expect("years is a number");
            let ours = req.years(locator).to_f64().expect("finite");
            if (ours - theirs).abs() > 1e-9 * theirs.abs().max(1e-300) {
                failures.push(format!("{n} {locator}: ours {ours}, reference {theirs}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    // 18 of the 20 variants have priced answers, 78 periods in all: guard against a
    // fixture layout change silently turning this into a no-op.
    assert!(checked >= 70, "only {checked} periods checked");
}

/// `NNN.reference.json` (Rater.js itself, rate 1.25) and the two Enterprise Core samples:
/// `exactPremium` = 1.25 * years rounded half-up to cents.
#[test]
fn golden_reference_exact_premiums_match() {
    let variants = support::fixtures().join("rating-variants");
    let ec = support::fixtures().join("rating-ec");
    let mut pairs: Vec<(PathBuf, PathBuf)> = numbered(&variants, ".request.json")
        .into_iter()
        .map(|(n, req)| (req, variants.join(format!("{n}.reference.json"))))
        .collect();
    for (stem, req) in numbered(&ec, ".json") {
        if let Some(kind) = stem.strip_prefix("ec-rating-request-") {
            pairs.push((req, ec.join(format!("ec-rating-response-{kind}.json"))));
        }
    }
    let mut checked = 0;
    let mut ec_checked = 0;
    let mut failures = Vec::new();
    for (req_path, answer_path) in pairs {
        if !answer_path.exists() {
            continue;
        }
        let answer = read_json(&answer_path);
        let req = Request::load(&req_path);
        for (locator, out) in priced(&answer).expect("reference has priced perils") {
            let rate = json_decimal(&out["yearlyPremium"]);
            let expected = json_decimal(&out["exactPremium"]);
            let ours = round_cents(rate * req.years(locator));
            if ours != expected {
                failures.push(format!(
                    "{} {locator}: ours {ours}, reference {expected}",
                    answer_path.display()
                ));
            }
            checked += 1;
            if answer_path.starts_with(&ec) {
                ec_checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    assert_eq!(
        ec_checked, 4,
        "both Enterprise Core samples price two perils"
    );
    assert!(checked >= 20, "only {checked} periods checked");
}

// ---------------------------------------------------------------------------------------
// Unit tests: calendar corner cases.
// ---------------------------------------------------------------------------------------

#[test]
fn anchor_on_the_31st_clamps_through_february() {
    let u = "UTC";
    let anchor = at(u, 2025, 1, 31, 0, 0);
    let feb28 = at(u, 2025, 2, 28, 0, 0);
    let mar31 = at(u, 2025, 3, 31, 0, 0);
    // The grid is Jan 31, Feb 28, Mar 31, Apr 30, ...
    assert_eq!(months(u, Some(anchor), anchor, feb28).units, dec(1));
    assert_eq!(months(u, Some(anchor), anchor, mar31).units, dec(2));
    assert_eq!(months(u, Some(anchor), feb28, mar31).units, dec(1));
    assert_eq!(
        months(u, Some(anchor), anchor, at(u, 2025, 4, 30, 0, 0)).units,
        dec(3)
    );
    // Feb 14 is 14 of the 28 days from Jan 31 to Feb 28.
    assert_eq!(
        months(u, Some(anchor), anchor, at(u, 2025, 2, 14, 0, 0)).units,
        ratio(1, 2)
    );
    // Mar 15 is 15 days into the 31-day grid month Feb 28 .. Mar 31.
    let mar15 = at(u, 2025, 3, 15, 0, 0);
    assert_eq!(
        months(u, Some(anchor), anchor, mar15).units,
        dec(1) + ratio(15, 31)
    );
    // Without an anchor the start's day (31st) is held the same way.
    assert_eq!(months(u, None, anchor, mar15).units, dec(1) + ratio(15, 31));
    // A period inside the policy is measured on the anchor's grid, not its own:
    // Feb 14 .. Mar 15 = (1 + 15/31) - 14/28.
    assert_eq!(
        months(u, Some(anchor), at(u, 2025, 2, 14, 0, 0), mar15).units,
        dec(1) + ratio(15, 31) - ratio(1, 2)
    );
    // On its own grid (no anchor, day 14) the same period is 1 + 1/31 months.
    assert_eq!(
        months(u, None, at(u, 2025, 2, 14, 0, 0), mar15).units,
        dec(1) + ratio(1, 31)
    );
}

#[test]
fn anchor_on_the_30th_in_a_leap_year() {
    let u = "UTC";
    let anchor = at(u, 2024, 1, 30, 0, 0);
    assert_eq!(
        months(u, Some(anchor), anchor, at(u, 2024, 2, 29, 0, 0)).units,
        dec(1)
    );
    assert_eq!(
        months(u, Some(anchor), anchor, at(u, 2024, 3, 30, 0, 0)).units,
        dec(2)
    );
    // Mar 29 is 29 of the 30 days Feb 29 .. Mar 30.
    assert_eq!(
        months(u, Some(anchor), anchor, at(u, 2024, 3, 29, 0, 0)).units,
        dec(1) + ratio(29, 30)
    );
}

#[test]
fn feb_29_anchor() {
    let u = "UTC";
    let anchor = at(u, 2024, 2, 29, 0, 0);
    assert_eq!(
        months(u, Some(anchor), anchor, at(u, 2024, 3, 29, 0, 0)).units,
        dec(1)
    );
    // A year later there is no Feb 29: the year ends on Feb 28.
    let one = months(u, Some(anchor), anchor, at(u, 2025, 2, 28, 0, 0));
    assert_eq!((one.units, one.years), (dec(12), dec(1)));
    // Four years (taking the reference's skip-whole-years path) land on Feb 29 again.
    let four = months(u, Some(anchor), anchor, at(u, 2028, 2, 29, 0, 0));
    assert_eq!((four.units, four.years), (dec(48), dec(4)));
    // Mid-period in the non-leap year: Mar 29 2025 is 12 + 1 months.
    assert_eq!(
        months(
            u,
            Some(anchor),
            at(u, 2025, 2, 28, 0, 0),
            at(u, 2025, 3, 29, 0, 0)
        )
        .units,
        dec(1)
    );
    // A start before the anchor moves the anchor back a month to Jan 29 (Feb 29 - 1 month);
    // grid Jan 29, Feb 29, Mar 29. Feb 10 is 12 of the 31 days Jan 29 .. Feb 29.
    assert_eq!(
        months(
            u,
            Some(anchor),
            at(u, 2024, 2, 10, 0, 0),
            at(u, 2024, 3, 29, 0, 0)
        )
        .units,
        dec(2) - ratio(12, 31)
    );
}

#[test]
fn anchor_after_start_moves_back_month_by_month() {
    // Mar 31 stepped back one month at a time is Feb 29, Jan 29 (the clamp sticks), so the
    // grid for a Jan 15 start is the 29th's grid, not the 31st's.
    let u = "UTC";
    let anchor = at(u, 2024, 3, 31, 0, 0);
    let start = at(u, 2024, 1, 15, 0, 0);
    let end = at(u, 2024, 3, 29, 0, 0);
    // Moved back: Feb 29, Jan 29, Dec 29 (the first at or before Jan 15). Grid Dec 29,
    // Jan 29, Feb 29, Mar 29: Mar 29 is 3, Jan 15 is 17 of the 31 days Dec 29 .. Jan 29.
    assert_eq!(
        months(u, Some(anchor), start, end).units,
        dec(3) - ratio(17, 31)
    );
}

#[test]
fn dst_start_inside_a_month_los_angeles() {
    let la = "America/Los_Angeles";
    let anchor = at(la, 2024, 3, 1, 0, 0); // PST
    let apr1 = at(la, 2024, 4, 1, 0, 0); // PDT: one hour short of 31 days later
    assert_eq!(apr1 - anchor, 31 * DAY - HOUR);
    assert_eq!(months(la, Some(anchor), anchor, apr1).units, dec(1));
    // Mar 16 local midnight is past the Mar 10 change: 15 days less an hour elapsed.
    let mar16 = at(la, 2024, 3, 16, 0, 0);
    assert_eq!(
        months(la, Some(anchor), anchor, mar16).units,
        ratio(15 * DAY - HOUR, 31 * DAY - HOUR)
    );
}

#[test]
fn dst_end_inside_a_month_europe_london() {
    let lon = "Europe/London";
    let anchor = at(lon, 2024, 10, 1, 0, 0); // BST
    let nov1 = at(lon, 2024, 11, 1, 0, 0); // GMT: an hour longer than 31 days
    assert_eq!(nov1 - anchor, 31 * DAY + HOUR);
    let whole = months(lon, Some(anchor), anchor, nov1);
    assert_eq!((whole.units, whole.years), (dec(1), ratio(1, 12)));
    let nov1_by_utc = anchor + 31 * DAY; // 23:00 on Oct 31 local: not yet a month
    assert_eq!(
        months(lon, Some(anchor), anchor, nov1_by_utc).units,
        ratio(31 * DAY, 31 * DAY + HOUR)
    );
}

#[test]
fn start_equal_to_end_is_zero() {
    let t = at("Europe/London", 2025, 6, 30, 12, 0);
    let other_anchor = at("Europe/London", 2025, 1, 31, 0, 0);
    for anchor in [None, Some(t), Some(other_anchor), Some(t + DAY)] {
        let d = months("Europe/London", anchor, t, t);
        assert_eq!((d.units, d.years), (Decimal::ZERO, Decimal::ZERO));
    }
    let d = days("Europe/London", t, t);
    assert_eq!((d.units, d.years), (Decimal::ZERO, Decimal::ZERO));
}

#[test]
fn reversed_period_is_negated() {
    let la = "America/Los_Angeles";
    let anchor = at(la, 2024, 1, 31, 0, 0);
    let a = at(la, 2024, 2, 10, 9, 30);
    let b = at(la, 2024, 7, 4, 18, 0);
    for anchor in [None, Some(anchor)] {
        let fwd = months(la, anchor, a, b);
        let rev = months(la, anchor, b, a);
        assert!(fwd.units > Decimal::ZERO);
        assert_eq!((rev.units, rev.years), (-fwd.units, -fwd.years));
    }
    let fwd = days(la, a, b);
    let rev = days(la, b, a);
    assert_eq!(fwd.units, dec(145)); // Feb 10 09:30 .. Jul 4 18:00 local
    assert_eq!((rev.units, rev.years), (-fwd.units, -fwd.years));
}

#[test]
fn full_calendar_year_from_the_anchor_is_one_year() {
    let cases = [
        ("UTC", 2025, 1, 31),
        ("America/Los_Angeles", 2024, 3, 10), // DST starts that day
        ("Europe/London", 2023, 10, 29),      // DST ends that day
        ("Pacific/Auckland", 2024, 2, 29),
        ("Asia/Tokyo", 2030, 8, 30),
        ("America/Chicago", 2039, 12, 31),
    ];
    for (zone, y, m, d) in cases {
        let anchor = at(zone, y, m, d, 0, 0);
        let next = date(y, m, d)
            .at(0, 0, 0, 0)
            .to_zoned_datetime(tz(zone))
            .and_then(|z| z.checked_add(jiff::Span::new().years(1)))
            .expect("a year later")
            .timestamp()
            .as_millisecond();
        let year = months(zone, Some(anchor), anchor, next);
        assert_eq!(
            (year.units, year.years),
            (dec(12), dec(1)),
            "{zone} {y}-{m}-{d}"
        );
        let year = months(zone, None, anchor, next);
        assert_eq!(
            (year.units, year.years),
            (dec(12), dec(1)),
            "{zone} {y}-{m}-{d}"
        );
    }
}

#[test]
fn weekly_whole_days_across_dst_changes() {
    let la = "America/Los_Angeles";
    // Mar 9 .. Mar 11 2024 is 47 hours but two local days.
    let (a, b) = (at(la, 2024, 3, 9, 0, 0), at(la, 2024, 3, 11, 0, 0));
    assert_eq!(b - a, 2 * DAY - HOUR);
    let d = days(la, a, b);
    assert_eq!((d.units, d.years), (dec(2), ratio(2, 365)));
    // Nov 2 .. Nov 4 2024 is 49 hours, still two local days.
    let (a, b) = (at(la, 2024, 11, 2, 0, 0), at(la, 2024, 11, 4, 0, 0));
    assert_eq!(b - a, 2 * DAY + HOUR);
    assert_eq!(days(la, a, b).units, dec(2));
    // Partial days are dropped: Mar 9 00:00 .. Mar 10 23:30 is one day.
    assert_eq!(
        days(la, at(la, 2024, 3, 9, 0, 0), at(la, 2024, 3, 10, 23, 30)).units,
        dec(1)
    );
    // The anchor plays no part in whole days.
    let anchored = measure(Method::WholeDays, &tz(la), Some(a + 7 * HOUR), a, b);
    assert_eq!(anchored.map(|d| d.units), Ok(dec(2)));
    // A whole year of weekly payments: 365 days, exactly 1 year.
    let y = days(
        "Europe/London",
        at("Europe/London", 2025, 1, 1, 0, 0),
        at("Europe/London", 2026, 1, 1, 0, 0),
    );
    assert_eq!((y.units, y.years), (dec(365), dec(1)));
}

/// Reference behaviour kept on purpose: whole days compare wall clocks, so in the repeated
/// hour of a fold a later end can count fewer days.
#[test]
fn whole_days_follow_the_wall_clock_in_a_fold() {
    let la = "America/Los_Angeles";
    let start = at(la, 2024, 11, 2, 1, 30); // PDT
    let first_0145 = at(la, 2024, 11, 3, 1, 45); // PDT (compatible = earlier)
    let later_0115 = first_0145 + 30 * 60_000; // 01:15 PST, half an hour later in time
    assert_eq!(days(la, start, first_0145).units, dec(1));
    assert_eq!(days(la, start, later_0115).units, dec(0));
}

/// Reference behaviour kept on purpose: JavaScript truthiness makes an anchor of 0 ms
/// (1970-01-01T00:00Z) count as no anchor.
#[test]
fn anchor_at_epoch_zero_counts_as_no_anchor() {
    let u = "UTC";
    let (start, end) = (at(u, 2025, 1, 31, 0, 0), at(u, 2025, 3, 1, 0, 0));
    let unanchored = months(u, None, start, end);
    assert_eq!(months(u, Some(0), start, end), unanchored);
    assert_ne!(months(u, Some(DAY), start, end), unanchored);
}

#[test]
fn out_of_range_timestamps_are_errors() {
    let utc = tz("UTC");
    let ok = at("UTC", 2025, 1, 1, 0, 0);
    for method in [Method::Months, Method::WholeDays] {
        assert_eq!(
            measure(method, &utc, None, i64::MAX, ok),
            Err(ProrationError::OutOfRange(i64::MAX))
        );
        assert_eq!(
            measure(method, &utc, Some(i64::MIN), ok, ok + DAY),
            Err(ProrationError::OutOfRange(i64::MIN))
        );
    }
    // The last representable years: stepping a month past 9999-12 cannot be represented.
    let late = at("UTC", 9999, 12, 15, 0, 0);
    let last = at("UTC", 9999, 12, 20, 0, 0);
    assert!(matches!(
        measure(Method::Months, &utc, None, late, last),
        Err(ProrationError::CalendarOverflow(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------

const ZONES: &[&str] = &[
    "UTC",
    "America/Los_Angeles",
    "America/Chicago",
    "Europe/London",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
];

/// A policy anchor: any local date 2000-2040 (the 29th-31st included, so clamping is
/// exercised), at local midnight or 04:00-23:59. Hours 01:00-03:59 are left out because every
/// zone above changes its clocks inside them: an anchor whose month grid lands in a DST gap
/// gets its wall time pushed forward an hour on that step and keeps the shifted time after it
/// (as the reference's moment does), while the skip-whole-years path does not, so the grid
/// itself would depend on how far away the end is and none of these properties would hold
/// for it — in the reference either.
fn anchor() -> impl Strategy<Value = (&'static str, i64)> {
    (
        prop::sample::select(ZONES),
        2000i16..=2040,
        1i8..=12,
        1i8..=31,
        prop_oneof![Just(0i8), 4i8..=23],
        0i8..=59,
    )
        .prop_map(|(zone, y, m, d, h, mi)| {
            let d = d.min(date(y, m, 1).days_in_month());
            (zone, at(zone, y, m, d, h, mi))
        })
}

/// A step forward: arbitrary milliseconds, or whole days (to hit grid points and midnights).
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..=3 * 366 * DAY, (0i64..=3 * 366).prop_map(|d| d * DAY)]
}

/// Additivity is checked to within 1e-20, not exactly: each month count is an integer plus
/// a 28-significant-digit Decimal quotient (for example 15/31 months), and adding or
/// subtracting those rounds the last digit, so the two sides can differ by a few units in
/// the 26th-28th decimal place. Algebraically they are equal, because every count of one
/// request is taken on the same anchor grid: count(anchor, c) - count(anchor, b) +
/// count(anchor, b) - count(anchor, a) = count(anchor, c) - count(anchor, a).
fn close(x: Decimal, y: Decimal) -> bool {
    (x - y).abs() <= Decimal::new(1, 20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn months_are_additive_over_adjacent_periods(
        (zone, anchor) in anchor(), x in step(), y in step(), z in step()
    ) {
        let (a, b, c) = (anchor + x, anchor + x + y, anchor + x + y + z);
        let ab = months(zone, Some(anchor), a, b);
        let bc = months(zone, Some(anchor), b, c);
        let ac = months(zone, Some(anchor), a, c);
        prop_assert!(close(ab.units + bc.units, ac.units), "{ab:?} + {bc:?} != {ac:?}");
        prop_assert!(close(ab.years + bc.years, ac.years), "{ab:?} + {bc:?} != {ac:?}");
        // And in reverse order, through negation.
        let ca = months(zone, Some(anchor), c, a);
        prop_assert_eq!(ca.units, -ac.units);
    }

    #[test]
    fn months_are_monotone_in_the_end(
        (zone, anchor) in anchor(),
        before in 0i64..=2 * 366 * DAY,
        from_anchor in any::<bool>(),
        len in step(),
        more in step(),
    ) {
        // Starts on either side of the anchor (before it, the anchor is moved back).
        let start = if from_anchor { anchor + before } else { anchor - before };
        let short = months(zone, Some(anchor), start, start + len);
        let long = months(zone, Some(anchor), start, start + len + more);
        prop_assert!(short.units >= Decimal::ZERO);
        prop_assert!(long.units >= short.units, "{short:?} > {long:?}");
        prop_assert!(long.years >= short.years);
    }

    #[test]
    fn whole_days_are_monotone_without_dst(
        zone in prop::sample::select(&["UTC", "Asia/Tokyo", "Asia/Kolkata"][..]),
        start in 946_684_800_000i64..2_240_524_800_000, // 2000 .. 2041
        len in step(),
        more in step(),
    ) {
        // Only zones without clock changes: in a fold the wall clock runs back an hour and
        // the reference's count can drop by one (see `whole_days_follow_the_wall_clock_in_a_fold`).
        let short = days(zone, start, start + len);
        let long = days(zone, start, start + len + more);
        prop_assert!(long.units >= short.units);
        prop_assert_eq!(short.units, Decimal::from(len / DAY));
    }

    #[test]
    fn a_calendar_year_from_the_anchor_is_one_year((zone, anchor) in anchor(), years in 1i64..=3) {
        let next = jiff::Timestamp::from_millisecond(anchor)
            .map(|t| t.to_zoned_datetime(tz(zone)))
            .and_then(|z| z.checked_add(jiff::Span::new().years(years)))
            .map(|z| z.timestamp().as_millisecond())
            .expect("in range");
        let d = months(zone, Some(anchor), anchor, next);
        prop_assert_eq!(d.units, Decimal::from(12 * years));
        prop_assert_eq!(d.years, Decimal::from(years));
    }
}
