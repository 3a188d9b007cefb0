//! One rating request, bytes in, bytes out: parse the Socotra request (only read), select the
//! tenant's plan, rate every requested peril characteristic, write the JSON answer.
//!
//! Shared by the HTTP service and `rater rate`, so both answer exactly the same bytes.

use std::cell::RefCell;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use simd_json::ErrorType;
use smallvec::SmallVec;

use crate::engine::{Explain, NoTrace, PolicyPeriod, RatingError, rate};
use crate::plan::{SelectError, Selector};
use crate::wire::payload::{
    self, INDEX_FROM, Payload, PayloadError, PerilRef, Triplet, Unresolved,
};
use crate::wire::response::ResponseWriter;

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
    #[error("not a rating request: {}", invalid_text(field, message))]
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

fn invalid_text(field: &str, message: &str) -> String {
    if field.is_empty() || message.contains(&format!("`{field}`")) {
        message.to_owned()
    } else {
        format!("`{field}` {message}")
    }
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

/// How deep JSON may nest. Socotra policies nest about ten levels; the limit stops a
/// hostile body from making the parser recurse without bound.
pub const MAX_JSON_DEPTH: usize = payload::MAX_JSON_DEPTH;

/// Prices the Socotra rating request in `body` with the tenant's `selector`, appending the
/// JSON answer to `out`. On error `out` is left as it was.
///
/// The body is read through [`Payload`]: simd-json's tape indexed in place, only the parts
/// rating reads, with this thread's reused buffers (no allocation in steady state).
pub fn price_request(
    selector: &Selector,
    body: &[u8],
    out: &mut Vec<u8>,
    opts: PriceOptions,
) -> Result<(), PriceError> {
    let start_len = out.len();
    let result = Payload::with(body, |p| price_with(selector, p?, out, opts));
    if result.is_err() {
        out.truncate(start_len);
    }
    result
}

fn price_with(
    selector: &Selector,
    req: Payload<'_, '_>,
    out: &mut Vec<u8>,
    opts: PriceOptions,
) -> Result<(), PriceError> {
    if !req.has_policy() {
        return Err(missing("policy"));
    }
    let triplets = req
        .triplets()
        .ok_or_else(|| missing("policyExposurePerils"))?;
    let product = req
        .product_name()
        .ok_or_else(|| missing("policy.productName"))?;
    let tz_name = req
        .tenant_time_zone()
        .ok_or_else(|| missing("tenantTimeZone"))?;
    let tz = time_zone(tz_name)?;
    let anchor_raw = req
        .original_contract_start_timestamp()
        .ok_or_else(|| missing("policy.originalContractStartTimestamp"))?;
    let anchor = epoch_ms(anchor_raw).ok_or_else(|| PriceError::Invalid {
        field: "policy.originalContractStartTimestamp".into(),
        message: format!("must be epoch milliseconds, got {:?}", truncate(anchor_raw)),
    })?;
    let period = PolicyPeriod::new(
        &tz,
        Some(anchor.as_millisecond()),
        req.payment_schedule_name(),
    );
    check_unique(&req)?;

    // Many triplets: index the locators once rather than scan the policy per triplet.
    let index = (req.triplet_count() >= INDEX_FROM).then(|| req.locator_index());
    let mut traces = Vec::new();
    let mut writer = ResponseWriter::new(out);
    for (i, t) in triplets.enumerate() {
        let locator = t.peril.ok_or_else(|| PriceError::Invalid {
            field: format!("policyExposurePerils[{i}].perilCharacteristicsLocator"),
            message: "is missing".into(),
        })?;
        let view = req
            .resolve_indexed(index.as_ref(), locator, t.exposure, t.policy)
            .map_err(|e| unresolved(e, &t, locator))?;
        let peril = view.peril_name().unwrap_or("");
        let bound = match selector.forced() {
            Some(bound) => bound,
            None => selector.select(product, rating_date(&view, &tz)?)?,
        };
        let rating_error = |error| PriceError::Rating {
            locator: locator.to_owned(),
            peril: peril.to_owned(),
            error,
        };
        let priced = if opts.explain {
            let mut explain = Explain::default();
            let priced = rate(bound, peril, &view, &period, &mut explain).map_err(rating_error)?;
            traces.push((
                locator.to_owned(),
                explain.events.iter().map(ToString::to_string).collect(),
            ));
            priced
        } else {
            rate(bound, peril, &view, &period, &mut NoTrace).map_err(rating_error)?
        };
        writer.entry(locator, &priced);
    }
    writer.finish(opts.explain.then_some(traces.as_slice()));
    Ok(())
}

/// The rating date: the start of the policy term, the priced policy characteristic's
/// `policyStartTimestamp`, as a calendar date in the tenant's time zone. A new business and
/// its endorsements carry the first term's start; a renewal carries the new term's, so it
/// is priced by the edition in effect when the new term starts.
/// (`policy.originalContractStartTimestamp` never moves: a policy written years ago would
/// renew on its first edition's rates for ever.)
fn rating_date(view: &PerilRef<'_, '_>, tz: &TimeZone) -> Result<jiff::civil::Date, PriceError> {
    let field = "policy.characteristics[].policyStartTimestamp";
    let raw = view
        .policy_start_timestamp()
        .ok_or_else(|| PriceError::Invalid {
            field: field.into(),
            message:
                "is missing: the term start is the rating date, which chooses the rate edition"
                    .into(),
        })?;
    let ts = epoch_ms(raw).ok_or_else(|| PriceError::Invalid {
        field: field.into(),
        message: format!("must be epoch milliseconds, got {:?}", truncate(raw)),
    })?;
    Ok(tz.to_datetime(ts).date())
}

impl From<PayloadError> for PriceError {
    fn from(e: PayloadError) -> PriceError {
        match e {
            PayloadError::Json(e) => json_error(e),
            PayloadError::Invalid { field, message } => PriceError::Invalid { field, message },
        }
    }
}

fn missing(field: &str) -> PriceError {
    PriceError::Invalid {
        field: field.to_owned(),
        message: "is missing".into(),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

fn json_error(e: simd_json::Error) -> PriceError {
    match e.error() {
        // serde's own messages name the field ("missing field `name`", "invalid type: ...").
        ErrorType::Serde(msg) => PriceError::Invalid {
            field: msg.split('`').nth(1).unwrap_or("").to_owned(),
            message: msg.clone(),
        },
        ErrorType::DepthLimitExceeded => PriceError::Json {
            offset: e.index(),
            message: format!("JSON nests deeper than {MAX_JSON_DEPTH} levels"),
        },
        other => PriceError::Json {
            offset: e.index(),
            message: format!("{other:?}"),
        },
    }
}

/// How many time zones a thread remembers; a tenant uses one, a rater instance a handful.
const ZONE_CACHE: usize = 32;

thread_local! {
    /// Time zones this thread has looked up. jiff's bundled database keeps its parsed zones
    /// behind a global `RwLock`; a per-thread copy makes the lookup lock-free. Only names
    /// that resolved are kept (a finite IANA set), and at most `ZONE_CACHE` of them, so a
    /// stream of made-up names cannot grow it.
    static ZONES: RefCell<Vec<(Box<str>, TimeZone)>> = const { RefCell::new(Vec::new()) };
}

fn time_zone(name: &str) -> Result<TimeZone, PriceError> {
    let cached = ZONES.with(|z| {
        z.try_borrow().ok().and_then(|z| {
            z.iter()
                .find(|(n, _)| **n == *name)
                .map(|(_, tz)| tz.clone())
        })
    });
    if let Some(tz) = cached {
        return Ok(tz);
    }
    // The bundled database only (see Cargo.toml): the machine's zoneinfo is never read.
    let tz = jiff::tz::db().get(name).map_err(|_| PriceError::Invalid {
        field: "tenantTimeZone".into(),
        message: format!("{:?} is not a known IANA time zone", truncate(name)),
    })?;
    ZONES.with(|z| {
        if let Ok(mut z) = z.try_borrow_mut()
            && z.len() < ZONE_CACHE
        {
            z.push((name.into(), tz.clone()));
        }
    });
    Ok(tz)
}

fn epoch_ms(raw: &str) -> Option<Timestamp> {
    Timestamp::from_millisecond(raw.trim().parse().ok()?).ok()
}

/// Rejects a locator listed twice: the answer is keyed by locator, so a duplicate would make
/// its JSON ambiguous. Small lists are compared pairwise (no allocation); long ones through a
/// hash set, so a hostile request cannot make this quadratic.
fn check_unique(req: &Payload<'_, '_>) -> Result<(), PriceError> {
    let Some(triplets) = req.triplets() else {
        return Ok(());
    };
    let dup = if req.triplet_count() < INDEX_FROM {
        let mut seen: SmallVec<[&str; INDEX_FROM]> = SmallVec::new();
        triplets.filter_map(|t| t.peril).find(|l| {
            let dup = seen.contains(l);
            seen.push(l);
            dup
        })
    } else {
        let mut seen = std::collections::HashSet::with_capacity(req.triplet_count());
        triplets.filter_map(|t| t.peril).find(|l| !seen.insert(*l))
    };
    match dup {
        Some(l) => Err(PriceError::Locator {
            locator: l.to_owned(),
            message: format!(
                "perilCharacteristicsLocator {l} is listed more than once in policyExposurePerils"
            ),
        }),
        None => Ok(()),
    }
}

fn unresolved(e: Unresolved, t: &Triplet<'_>, locator: &str) -> PriceError {
    let message = match e {
        Unresolved::Peril => format!(
            "perilCharacteristicsLocator {locator} is not a peril characteristic of the policy"
        ),
        Unresolved::Exposure => format!(
            "exposureCharacteristicsLocator {} (for peril characteristic {locator}) is not a characteristic of its exposure",
            t.exposure.unwrap_or("")
        ),
        Unresolved::Policy => format!(
            "policyCharacteristicsLocator {} (for peril characteristic {locator}) is not a characteristic of the policy",
            t.policy.unwrap_or("")
        ),
    };
    PriceError::Locator {
        locator: locator.to_owned(),
        message,
    }
}
