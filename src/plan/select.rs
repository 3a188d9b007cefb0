//! [`Selector`]: which bound plan prices a request for one tenant.
//!
//! Resolved once per tenant state (when it is fetched), never per request: a request only
//! picks among ready [`BoundPlan`]s by product name and date.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::civil::Date;

use super::{BoundPlan, Plan, PlanSet};
use crate::engine::Source;

/// One tenant product mapping: which Socotra field each plan input reads, for one product.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductMapping {
    /// `mappings[].productName`.
    pub product: String,
    /// `(plan input name, where to read it)`. Names the plan does not declare are ignored.
    pub fields: Vec<(String, Source)>,
}

/// Why no plan can price a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// `settings.ratePlan` names a plan that is not loaded.
    #[error("setting `ratePlan` names plan `{0}`, which is not loaded")]
    UnknownPlan(String),
    /// Several plans price this product at this date and no `ratePlan` setting chooses.
    #[error("plans {plans} all price product `{product}` on {date}: set `ratePlan` to choose one")]
    Ambiguous {
        /// `policy.productName`.
        product: String,
        /// The policy's start date in the tenant's time zone.
        date: Date,
        /// The candidates' ids, comma-separated.
        plans: String,
    },
    /// No plan prices this product at this date.
    #[error("no rate plan prices product `{product}` on {date}")]
    NoPlanForProduct {
        /// `policy.productName`.
        product: String,
        /// The policy's start date in the tenant's time zone.
        date: Date,
    },
}

impl SelectError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SelectError::UnknownPlan(_) => "unknown_plan",
            SelectError::NoPlanForProduct { .. } => "no_plan_for_product",
            SelectError::Ambiguous { .. } => "ambiguous_plan",
        }
    }
}

/// A tenant's resolved choice of plans.
#[derive(Clone, Debug)]
pub struct Selector {
    /// `settings.ratePlan` when set: the one plan every product uses.
    fixed: Option<Result<FixedPlan, SelectError>>,
    /// Per product, the plans for it sorted by effective start, each bound to the tenant's
    /// mapping for that product.
    by_product: HashMap<Box<str>, Vec<BoundPlan>>,
}

#[derive(Clone, Debug)]
struct FixedPlan {
    /// The plan bound with its own defaults, for products the tenant has no mapping for.
    unmapped: BoundPlan,
    /// The plan bound to each mapped product's fields.
    mapped: HashMap<Box<str>, BoundPlan>,
}

impl Selector {
    /// A selector that prices every request with `plan` and its default field names
    /// (the command line, and tests).
    pub fn fixed(plan: Arc<Plan>) -> Selector {
        Selector {
            fixed: Some(Ok(FixedPlan {
                unmapped: BoundPlan::unbound(plan),
                mapped: HashMap::new(),
            })),
            by_product: HashMap::new(),
        }
    }

    /// Resolves a tenant's settings and mappings against the loaded plans.
    ///
    /// Never fails: a `rate_plan` naming an unknown plan becomes the error every request of
    /// this tenant gets, so one bad setting cannot take the tenant's other state down.
    pub fn resolve(
        set: &PlanSet,
        rate_plan: Option<&str>,
        mappings: &[ProductMapping],
    ) -> Selector {
        let fixed = rate_plan.filter(|id| !id.trim().is_empty()).map(|id| {
            let plan = set
                .get(id.trim())
                .ok_or_else(|| SelectError::UnknownPlan(id.to_owned()))?;
            let mapped = mappings
                .iter()
                .map(|m| {
                    (
                        m.product.as_str().into(),
                        BoundPlan::bind(plan.clone(), &m.fields),
                    )
                })
                .collect();
            Ok(FixedPlan {
                unmapped: BoundPlan::unbound(plan.clone()),
                mapped,
            })
        });
        let mut by_product: HashMap<Box<str>, Vec<BoundPlan>> = HashMap::new();
        for plan in set.iter() {
            let fields = mappings
                .iter()
                .find(|m| m.product == plan.product())
                .map(|m| m.fields.as_slice())
                .unwrap_or(&[]);
            by_product
                .entry(plan.product().into())
                .or_default()
                .push(BoundPlan::bind(plan.clone(), fields));
        }
        for plans in by_product.values_mut() {
            plans.sort_by_key(|b| b.plan().effective_from());
        }
        Selector { fixed, by_product }
    }

    /// The plan that prices a policy of `product` starting on `date`.
    pub fn select(&self, product: &str, date: Date) -> Result<&BoundPlan, SelectError> {
        if let Some(fixed) = &self.fixed {
            let fixed = fixed.as_ref().map_err(Clone::clone)?;
            return Ok(fixed.mapped.get(product).unwrap_or(&fixed.unmapped));
        }
        let plans = self.by_product.get(product).map_or(&[][..], Vec::as_slice);
        // Effective ranges of one product's plans may overlap (a new version before the old one
        // ends is normal); only a tie with no `ratePlan` to break it is refused, rather than
        // guessed.
        let mut in_effect = plans.iter().filter(|b| b.plan().in_effect(date));
        let Some(first) = in_effect.next() else {
            return Err(SelectError::NoPlanForProduct {
                product: product.to_owned(),
                date,
            });
        };
        let latest = in_effect.fold(first, |best, b| {
            if b.plan().effective_from() >= best.plan().effective_from() {
                b
            } else {
                best
            }
        });
        let ties: Vec<&str> = plans
            .iter()
            .filter(|b| {
                b.plan().in_effect(date)
                    && b.plan().effective_from() == latest.plan().effective_from()
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
        Ok(latest)
    }
}
