//! [`Selector`]: which bound plan prices a request for one tenant.
//!
//! Resolved once per tenant state (when it is fetched), never per request: a request only
//! picks among ready [`BoundPlan`]s by product name and rating date.
//!
//! The rating date is the start of the policy term (see `pricing`). With `settings.ratePlan`
//! empty, the plan is the one for `policy.productName` in effect on that date; with it set,
//! it names a product line (a plan's `line`, or a plan id), whose editions are chosen the
//! same way among the line's plans for that product. A product the line does not price, or a
//! date no edition covers, is an error, never another plan's price.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::civil::Date;

use super::{BoundPlan, Plan, PlanError, PlanErrors, PlanSet};
use crate::engine::Source;

/// One tenant product mapping: which Socotra field each plan input reads, for one product.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductMapping {
    /// `mappings[].productName`.
    pub product: String,
    /// `(plan input name, where to read it)`. Names the plan does not declare are ignored.
    pub fields: Vec<(String, Source)>,
    /// `(plan input name, why its path cannot be read)`: a plan that declares the input
    /// refuses to price with this mapping rather than read the default field.
    pub unreadable: Vec<(String, String)>,
}

/// Why no plan can price a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// `settings.ratePlan` names neither a product line nor a plan that is loaded.
    #[error("setting `ratePlan` names `{0}`, which is neither a loaded plan nor a product line")]
    UnknownPlan(String),
    /// Several plans price this product at this date and no `ratePlan` setting chooses.
    #[error("plans {plans} all price product `{product}` on {date}: set `ratePlan` to choose one")]
    Ambiguous {
        /// `policy.productName`.
        product: String,
        /// The rating date.
        date: Date,
        /// The candidates' ids, comma-separated.
        plans: String,
    },
    /// No plan prices this product at this date.
    #[error("no rate plan prices product `{product}` on {date}")]
    NoPlanForProduct {
        /// `policy.productName`.
        product: String,
        /// The rating date.
        date: Date,
    },
    /// The line `ratePlan` names has no plan for this product.
    #[error("setting `ratePlan` = `{line}` prices {products}, not product `{product}`")]
    WrongProduct {
        /// The line.
        line: String,
        /// `policy.productName`.
        product: String,
        /// The products the line prices, comma-separated.
        products: String,
    },
    /// The line prices the product, but no edition covers the rating date.
    #[error(
        "no edition of `{line}` for product `{product}` is in effect on {date} (editions: {editions})"
    )]
    NoEdition {
        /// The line.
        line: String,
        /// `policy.productName`.
        product: String,
        /// The rating date.
        date: Date,
        /// The editions and their dates.
        editions: String,
    },
}

impl SelectError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SelectError::UnknownPlan(_) => "unknown_plan",
            SelectError::NoPlanForProduct { .. } => "no_plan_for_product",
            SelectError::Ambiguous { .. } => "ambiguous_plan",
            SelectError::WrongProduct { .. } => "plan_for_other_product",
            SelectError::NoEdition { .. } => "no_edition_in_effect",
        }
    }
}

/// A `ratePlan` line's name and its editions, bound.
type Line = (Box<str>, Vec<BoundPlan>);

/// A tenant's resolved choice of plans.
#[derive(Clone, Debug)]
pub struct Selector {
    /// A plan that prices everything (the command line's `--plan`, the actuary tools).
    forced: Option<BoundPlan>,
    /// `settings.ratePlan` when set: the line's plans, each bound to the tenant's mapping
    /// for its product.
    line: Option<Result<Line, SelectError>>,
    /// Per product, the plans selection by product may choose, sorted by effective start.
    by_product: HashMap<Box<str>, Vec<BoundPlan>>,
}

fn mapping_for<'m>(mappings: &'m [ProductMapping], product: &str) -> &'m ProductMapping {
    static NONE: std::sync::OnceLock<ProductMapping> = std::sync::OnceLock::new();
    mappings
        .iter()
        .find(|m| m.product == product)
        .unwrap_or_else(|| NONE.get_or_init(ProductMapping::default))
}

impl Selector {
    /// A selector that prices every request with `plan` and its default field names,
    /// whatever the request's product and dates (the command line, the actuary tools, tests).
    pub fn fixed(plan: Arc<Plan>) -> Selector {
        Selector {
            forced: Some(BoundPlan::unbound(plan)),
            line: None,
            by_product: HashMap::new(),
        }
    }

    /// Resolves a tenant's settings and mappings against the loaded plans.
    ///
    /// Never fails: a `rate_plan` naming nothing loaded becomes the error every request of
    /// this tenant gets, so one bad setting cannot take the tenant's other state down.
    pub fn resolve(
        set: &PlanSet,
        rate_plan: Option<&str>,
        mappings: &[ProductMapping],
    ) -> Selector {
        let bind =
            |plan: &Arc<Plan>| BoundPlan::bind(plan.clone(), mapping_for(mappings, plan.product()));
        let line = rate_plan
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| {
                let mut plans: Vec<BoundPlan> =
                    set.iter().filter(|p| p.line() == id).map(bind).collect();
                if plans.is_empty() {
                    plans.extend(set.get(id).map(bind));
                }
                if plans.is_empty() {
                    return Err(SelectError::UnknownPlan(id.to_owned()));
                }
                plans.sort_by_key(|b| b.plan().effective_from());
                Ok((id.into(), plans))
            });
        let mut by_product: HashMap<Box<str>, Vec<BoundPlan>> = HashMap::new();
        for plan in set.iter().filter(|p| p.auto_select) {
            by_product
                .entry(plan.product().into())
                .or_default()
                .push(bind(plan));
        }
        for plans in by_product.values_mut() {
            plans.sort_by_key(|b| b.plan().effective_from());
        }
        Selector {
            forced: None,
            line,
            by_product,
        }
    }

    /// The plan that prices everything, when the selector was made with [`Selector::fixed`]
    /// (no rating date is needed then).
    pub fn forced(&self) -> Option<&BoundPlan> {
        self.forced.as_ref()
    }

    /// The plan that prices a policy of `product` whose term starts on `date`.
    pub fn select(&self, product: &str, date: Date) -> Result<&BoundPlan, SelectError> {
        if let Some(forced) = &self.forced {
            return Ok(forced);
        }
        if let Some(line) = &self.line {
            let (line, plans) = line.as_ref().map_err(Clone::clone)?;
            // An iterator, not a collected list: selection runs per priced peril and must
            // not allocate.
            let of_product = plans.iter().filter(|b| b.plan().product() == product);
            if of_product.clone().next().is_none() {
                let mut products: Vec<&str> = plans.iter().map(|b| b.plan().product()).collect();
                products.dedup();
                return Err(SelectError::WrongProduct {
                    line: line.to_string(),
                    product: product.to_owned(),
                    products: products.join(", "),
                });
            }
            return latest(of_product, product, date).map_err(|e| match e {
                SelectError::NoPlanForProduct { .. } => SelectError::NoEdition {
                    line: line.to_string(),
                    product: product.to_owned(),
                    date,
                    editions: plans
                        .iter()
                        .filter(|b| b.plan().product() == product)
                        .map(|b| edition(b.plan()))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
                other => other,
            });
        }
        let plans = self.by_product.get(product).map_or(&[][..], Vec::as_slice);
        latest(plans.iter(), product, date)
    }
}

/// A plan's id and dates, for messages: `acme-auto-2025-07 [2025-07-01, 2026-01-01)`.
fn edition(plan: &Plan) -> String {
    match plan.effective_to() {
        Some(to) => format!("{} [{}, {to})", plan.id(), plan.effective_from()),
        None => format!("{} from {}", plan.id(), plan.effective_from()),
    }
}

/// Of `plans`, the one in effect on `date` with the latest start. Effective ranges of one
/// product's plans may overlap (a new edition before the old one ends is normal); only a tie
/// is refused rather than guessed (and `rater check` refuses plan sets that can tie).
fn latest<'b>(
    plans: impl Iterator<Item = &'b BoundPlan> + Clone,
    product: &str,
    date: Date,
) -> Result<&'b BoundPlan, SelectError> {
    let mut in_effect = plans.clone().filter(|b| b.plan().in_effect(date));
    let Some(first) = in_effect.next() else {
        return Err(SelectError::NoPlanForProduct {
            product: product.to_owned(),
            date,
        });
    };
    let best = in_effect.fold(first, |best, b| {
        if b.plan().effective_from() >= best.plan().effective_from() {
            b
        } else {
            best
        }
    });
    let ties: Vec<&str> = plans
        .filter(|b| {
            b.plan().in_effect(date) && b.plan().effective_from() == best.plan().effective_from()
        })
        .map(|b| b.plan().id())
        .collect();
    if ties.len() > 1 {
        return Err(SelectError::Ambiguous {
            product: product.to_owned(),
            date,
            plans: ties.join(", "),
        });
    }
    Ok(best)
}

/// Refuses a set of plans in which selection could tie: two plans for the same product that
/// start on the same day and are both chosen by product (no `ratePlan`), or both belong to
/// the same line. Each such pair is one error, located at the second plan's file.
pub fn check_ambiguity(
    set: &PlanSet,
    file_of: impl Fn(&Plan) -> std::path::PathBuf,
) -> Result<(), PlanErrors> {
    let plans: Vec<&Arc<Plan>> = set.iter().collect();
    let mut errors = Vec::new();
    for (i, a) in plans.iter().enumerate() {
        for b in &plans[i + 1..] {
            if a.product() != b.product() || a.effective_from() != b.effective_from() {
                continue;
            }
            let why = if a.auto_select && b.auto_select {
                "both are chosen by product when `ratePlan` is empty".to_owned()
            } else if a.line() == b.line() {
                format!("both are editions of line `{}`", a.line())
            } else {
                continue;
            };
            errors.push(PlanError {
                file: file_of(b),
                line: 0,
                column: 0,
                message: format!(
                    "plans `{}` and `{}` both price product `{}` from {}: {why}, so neither could be chosen (give one a later effective_from, or `auto_select = false`)",
                    a.id(),
                    b.id(),
                    a.product(),
                    a.effective_from()
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PlanErrors(errors))
    }
}
