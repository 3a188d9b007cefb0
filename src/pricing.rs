//! One rating request, bytes in, bytes out: parse the Socotra request in place, select the
//! tenant's plan, rate every requested peril characteristic, write the JSON answer.
//!
//! Shared by the HTTP service and `rater rate`, so both answer exactly the same bytes.

use crate::engine::RatingError;
use crate::plan::{SelectError, Selector};

/// Per-request options.
#[derive(Clone, Copy, Debug, Default)]
pub struct PriceOptions {
    /// Add the engine's step-by-step trace beside the prices (off the hot path).
    pub explain: bool,
}

/// Why a request cannot be priced.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The body is not JSON (or nests deeper than the limit).
    #[error("malformed JSON at byte {offset}: {message}")]
    Json {
        /// Byte offset of the problem in the body.
        offset: usize,
        /// What the parser saw.
        message: String,
    },
    /// Valid JSON, but not a rating request: a field is missing or of the wrong type.
    #[error("not a rating request: {message}")]
    Invalid {
        /// The JSON path of the offending field, for example `policy.productName`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No plan prices this request.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// A triplet of `policyExposurePerils` names a locator the policy does not have, or a
    /// locator is listed twice.
    #[error("{message}")]
    Locator {
        /// The offending locator.
        locator: String,
        /// What is wrong with it.
        message: String,
    },
    /// The engine could not price one peril characteristic.
    #[error("peril characteristic {locator} ({peril}): {error}")]
    Rating {
        /// `perilCharacteristicsLocator`.
        locator: String,
        /// The peril's name.
        peril: String,
        /// Why.
        error: RatingError,
    },
}

/// How a [`PriceError`] is answered: the one distinction HTTP needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceErrorKind {
    /// The body is not a usable rating request (HTTP 400).
    BadRequest,
    /// A well-formed request that cannot be rated (HTTP 422, with `exceptionMessage`).
    Unratable,
}

impl PriceError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PriceError::Json { .. } => "malformed_json",
            PriceError::Invalid { .. } => "invalid_request",
            PriceError::Select(e) => e.code(),
            PriceError::Locator { .. } => "unknown_locator",
            PriceError::Rating { error, .. } => error.code(),
        }
    }

    /// Whether the request was unusable or merely unratable.
    pub fn kind(&self) -> PriceErrorKind {
        match self {
            PriceError::Json { .. } | PriceError::Invalid { .. } => PriceErrorKind::BadRequest,
            _ => PriceErrorKind::Unratable,
        }
    }
}

/// Prices the Socotra rating request in `body` (parsed in place, so it is mutated) with the
/// tenant's `selector`, appending the JSON answer to `out`.
pub fn price_request(
    selector: &Selector,
    body: &mut [u8],
    out: &mut Vec<u8>,
    opts: PriceOptions,
) -> Result<(), PriceError> {
    let _ = (selector, body, out, opts);
    Err(PriceError::Invalid {
        field: String::new(),
        message: "pricing is being built".into(),
    })
}
