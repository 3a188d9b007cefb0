//! What the engine reads: the [`InputSource`] trait through which one peril characteristic's
//! raw values reach the engine, and the typed [`Value`] they become.
//!
//! The engine knows no JSON: the wire layer implements [`InputSource`] over its borrowed,
//! zero-copy view of a Socotra request, and tests implement it over plain maps.

use rust_decimal::Decimal;

/// The level of a Socotra entity a field value is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// `policy.characteristics[].fieldValues`.
    Policy,
    /// `policy.exposures[].characteristics[].fieldValues`.
    Exposure,
    /// `policy.exposures[].perils[].characteristics[].fieldValues`.
    Peril,
}

impl Level {
    /// The name used in plan files and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Policy => "policy",
            Level::Exposure => "exposure",
            Level::Peril => "peril",
        }
    }
}

/// Values Socotra carries outside `fieldValues`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `perils[].name` of the peril being priced.
    PerilName,
    /// `exposures[].name` of the exposure the peril belongs to.
    ExposureName,
    /// `policy.productName`.
    ProductName,
    /// `policy.paymentScheduleName`.
    PaymentSchedule,
    /// The peril characteristic's `indemnityInAggregate`.
    IndemnityInAggregate,
    /// The peril characteristic's `indemnityPerEvent`.
    IndemnityPerEvent,
    /// The peril characteristic's `indemnityPerItem`.
    IndemnityPerItem,
    /// The peril characteristic's `deductible`.
    Deductible,
    /// The peril characteristic's `lumpSumPayment`.
    LumpSumPayment,
    /// The peril characteristic's `coverageStartTimestamp` (epoch milliseconds).
    CoverageStart,
    /// The peril characteristic's `coverageEndTimestamp` (epoch milliseconds).
    CoverageEnd,
    /// The priced policy characteristic's `policyStartTimestamp`: the start of the term
    /// (epoch milliseconds).
    PolicyStart,
    /// The priced policy characteristic's `policyEndTimestamp` (epoch milliseconds).
    PolicyEnd,
    /// The rating date: the term start ([`Builtin::PolicyStart`]) as a calendar date in
    /// `tenantTimeZone`. The rate edition is chosen by it too (see `pricing`).
    RatingDate,
}

impl Builtin {
    /// Every builtin, for parsing plan files and listing choices in errors.
    pub const ALL: [Builtin; 14] = [
        Builtin::PerilName,
        Builtin::ExposureName,
        Builtin::ProductName,
        Builtin::PaymentSchedule,
        Builtin::IndemnityInAggregate,
        Builtin::IndemnityPerEvent,
        Builtin::IndemnityPerItem,
        Builtin::Deductible,
        Builtin::LumpSumPayment,
        Builtin::CoverageStart,
        Builtin::CoverageEnd,
        Builtin::PolicyStart,
        Builtin::PolicyEnd,
        Builtin::RatingDate,
    ];

    /// The name used in plan files: Socotra's own field name where it has one (the wire
    /// reads a characteristic's scalar builtins by this name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Builtin::PerilName => "perilName",
            Builtin::ExposureName => "exposureName",
            Builtin::ProductName => "productName",
            Builtin::PaymentSchedule => "paymentScheduleName",
            Builtin::IndemnityInAggregate => "indemnityInAggregate",
            Builtin::IndemnityPerEvent => "indemnityPerEvent",
            Builtin::IndemnityPerItem => "indemnityPerItem",
            Builtin::Deductible => "deductible",
            Builtin::LumpSumPayment => "lumpSumPayment",
            Builtin::CoverageStart => "coverageStartTimestamp",
            Builtin::CoverageEnd => "coverageEndTimestamp",
            Builtin::PolicyStart => "policyStartTimestamp",
            Builtin::PolicyEnd => "policyEndTimestamp",
            Builtin::RatingDate => "ratingDate",
        }
    }

    /// Parses a plan file's builtin name.
    pub fn parse(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.as_str() == name)
    }
}

/// Where one input's raw value is read from: a field at a level, or a builtin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `fieldValues[name][0]` at the level.
    Field {
        /// The entity level.
        level: Level,
        /// The Socotra field name.
        name: Box<str>,
    },
    /// A value outside `fieldValues`.
    Builtin(Builtin),
    /// A member field of a field group: `fieldValues[group]` at the level lists locators,
    /// and each member's fields are `fieldGroupsByLocator[locator][name][0]` of the same
    /// characteristic. Read one member at a time (`InputSource::member_field`).
    Member {
        /// The level of the characteristic holding the group.
        level: Level,
        /// The group field listing the members' locators.
        group: Box<str>,
        /// The member's field name.
        name: Box<str>,
    },
}

impl Source {
    /// The group field this source reads members of, if it is a member field.
    pub fn group(&self) -> Option<(Level, &str)> {
        match self {
            Source::Member { level, group, .. } => Some((*level, group)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Field { level, name } => write!(f, "{} field `{name}`", level.as_str()),
            Source::Builtin(b) => write!(f, "`{}`", b.as_str()),
            Source::Member { level, group, name } => write!(
                f,
                "{} field group `{group}` member field `{name}`",
                level.as_str()
            ),
        }
    }
}

/// The raw values of one peril characteristic and the entities above it.
///
/// Implementations borrow; the returned `&str` lives as long as the source, so the engine
/// reads values without copying them.
pub trait InputSource {
    /// The first value of `fieldValues[name]` at `level`; `None` when the field is absent,
    /// its array is empty, or its first element is not a string.
    fn field(&self, level: Level, name: &str) -> Option<&str>;
    /// A value outside `fieldValues`; `None` when absent.
    fn builtin(&self, builtin: Builtin) -> Option<&str>;

    /// Why `source` reads as absent although the request carries something there (for
    /// example a JSON float where Socotra sends decimal strings); `None` when it is simply
    /// absent. Asked only when a value is absent, so the common path never pays for it, and
    /// it keeps an unusable value from silently becoming the input's default.
    fn unusable(&self, source: &Source) -> Option<&'static str> {
        let _ = source;
        None
    }

    /// How many members `fieldValues[group]` at `level` lists; `None` when the field is
    /// absent (an empty list is `Some(0)`).
    fn members(&self, level: Level, group: &str) -> Option<usize>;

    /// Field `name` of member `member` (0-based, in list order) of `group`: the first value
    /// of `fieldGroupsByLocator[locator][name]`; `None` when absent, or when the member's
    /// locator has no entry in `fieldGroupsByLocator`.
    fn member_field(&self, level: Level, group: &str, member: usize, name: &str) -> Option<&str>;

    /// How many exposures named `name` the policy has.
    fn exposure_count(&self, name: &str) -> usize;

    /// Which policy characteristic this peril belongs to, within one request: perils with
    /// the same key share the values that depend only on the policy. `None` (the default)
    /// shares nothing.
    fn policy_key(&self) -> Option<u32> {
        None
    }

    /// Reads a value through a [`Source`]; a member field reads as absent here (it needs a
    /// member: [`InputSource::member_field`]).
    fn read(&self, source: &Source) -> Option<&str> {
        match source {
            Source::Field { level, name } => self.field(*level, name),
            Source::Builtin(b) => self.builtin(*b),
            Source::Member { .. } => None,
        }
    }
}

/// A typed input value as the engine computes with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A decimal or integer input.
    Number(Decimal),
    /// A text input, borrowed from the request.
    Text(&'a str),
    /// A calendar date (a `YYYY-MM-DD` field, or a timestamp in `tenantTimeZone`).
    Date(jiff::civil::Date),
}
