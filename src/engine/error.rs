//! [`RatingError`]: everything that can go wrong pricing one peril characteristic with a
//! loaded plan. Each variant names what a person needs to fix the request.

use super::proration::ProrationError;

/// A peril characteristic cannot be priced. The caller adds the locator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    /// A required input has no value and no default.
    #[error("input `{input}` is required but {source_desc} has no value")]
    MissingInput {
        /// The plan's input name.
        input: String,
        /// Where it was read from (for example "exposure field `vehicle_value`").
        source_desc: String,
    },
    /// An input's value does not parse as the input's type.
    #[error("input `{input}` must be {expected}, got {value:?}")]
    InvalidInput {
        /// The plan's input name.
        input: String,
        /// The raw value as received (truncated to 64 characters).
        value: String,
        /// What the type expects, for example "a decimal number".
        expected: &'static str,
    },
    /// The request carries a value for an input that cannot be used as one (a JSON float, an
    /// object): refused rather than replaced by the default.
    #[error("input `{input}`: {source_desc} holds {why}")]
    UnusableInput {
        /// The plan's input name.
        input: String,
        /// Where it was read from.
        source_desc: String,
        /// What is there instead of a value.
        why: &'static str,
    },
    /// A lookup table has no row for the key and no default row.
    #[error("table `{table}` has no row for {key}")]
    UnknownKey {
        /// The table's name.
        table: String,
        /// The key values, rendered as `column = "value"` pairs.
        key: String,
    },
    /// The plan has no calculation for this peril and no fallback.
    #[error("plan `{plan}` has no calculation for peril `{peril}`")]
    UnknownPeril {
        /// The plan id.
        plan: String,
        /// The peril name from the request.
        peril: String,
    },
    /// An amount left the range of exact decimal arithmetic.
    #[error("amount overflowed in {step}")]
    Overflow {
        /// The step that overflowed, for example "peril `collision` step 3 (factor)".
        step: String,
    },
    /// The coverage period is missing or unusable.
    #[error("invalid coverage period: {0}")]
    InvalidPeriod(String),
    /// The period could not be measured.
    #[error(transparent)]
    Proration(#[from] ProrationError),
    /// A matrix table has no value column of that name.
    #[error("table `{table}` has no column `{column}` (columns: {columns})")]
    UnknownColumn {
        /// The table.
        table: String,
        /// The column asked for (a peril's name, say).
        column: String,
        /// The table's value columns.
        columns: String,
    },
    /// An aggregate that takes one member's value found no member to take it from.
    #[error("{agg} over field group `{group}`: none of its {members} member(s) qualifies")]
    NoMember {
        /// The group field.
        group: String,
        /// The aggregate (`max_over`, ...).
        agg: &'static str,
        /// How many members the group lists.
        members: usize,
    },
    /// A division by zero in a plan's expression.
    #[error("division by zero in {step}")]
    DivisionByZero {
        /// Where.
        step: String,
    },
    /// The tenant's mapping for an input cannot be honoured.
    #[error(transparent)]
    Mapping(#[from] crate::plan::MappingError),
    /// A refusal worded by the plan (a table's `missing`, an aggregate's message), in the
    /// rate manual's own words; `code` is that of the condition it words.
    #[error("{message}")]
    Worded {
        /// The stable code of the underlying condition (`unknown_table_key`, ...).
        code: &'static str,
        /// The plan's message, its `{key}` filled in.
        message: String,
    },
    /// A plan that passed validation met a case validation should have refused: a bug,
    /// reported rather than a panic or a wrong premium.
    #[error("internal rating error: {0}")]
    Internal(&'static str),
}

impl RatingError {
    /// A stable machine-readable code for this error, used in HTTP bodies and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            RatingError::MissingInput { .. } => "missing_input",
            RatingError::InvalidInput { .. } | RatingError::UnusableInput { .. } => "invalid_input",
            RatingError::UnknownKey { .. } => "unknown_table_key",
            RatingError::UnknownPeril { .. } => "unknown_peril",
            RatingError::Overflow { .. } => "overflow",
            RatingError::InvalidPeriod(_) | RatingError::Proration(_) => "invalid_period",
            RatingError::UnknownColumn { .. } => "unknown_table_column",
            RatingError::NoMember { .. } => "no_qualifying_member",
            RatingError::DivisionByZero { .. } => "division_by_zero",
            RatingError::Mapping(_) => "unusable_mapping",
            RatingError::Worded { code, .. } => code,
            RatingError::Internal(_) => "internal",
        }
    }
}
