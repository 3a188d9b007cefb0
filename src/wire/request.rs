//! The Socotra rating request as borrowed, typed structures.
//!
//! Parsed in place by simd-json's serde path: strings are unescaped inside the request
//! buffer and borrowed from it (`Cow::Borrowed`; an owned `Cow` only where a value is not a
//! JSON string, such as a number sent where Socotra normally sends a string). Only the parts
//! of the policy rating needs are declared; serde skips every other key (`invoices`,
//! `documents`, `modifications`, ...) by jumping over its tape subtree without building it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::engine::{Builtin, InputSource, Level};

/// `ExternalRaterPriceRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateRequest<'a> {
    /// `new_business`, `endorsement`, `renewal`, `reinstatement`.
    #[serde(borrow, default)]
    pub operation: Option<Cow<'a, str>>,
    /// The tenant's IANA time zone.
    #[serde(borrow, default)]
    pub tenant_time_zone: Option<Cow<'a, str>>,
    /// The full policy (only the parts rating reads are materialised).
    #[serde(borrow)]
    pub policy: Option<Policy<'a>>,
    /// The peril characteristics to price.
    #[serde(borrow)]
    pub policy_exposure_perils: Option<Vec<Triplet<'a>>>,
}

/// One entry of `policyExposurePerils`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Triplet<'a> {
    /// `policy.characteristics[].locator`.
    #[serde(borrow, default)]
    pub policy_characteristics_locator: Option<Cow<'a, str>>,
    /// `exposures[].characteristics[].locator`.
    #[serde(borrow, default)]
    pub exposure_characteristics_locator: Option<Cow<'a, str>>,
    /// `exposures[].perils[].characteristics[].locator`: the key of the answer.
    #[serde(borrow, default)]
    pub peril_characteristics_locator: Option<Cow<'a, str>>,
}

/// The parts of `PolicyResponse` rating reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy<'a> {
    /// `policy.productName`.
    #[serde(borrow, default)]
    pub product_name: Option<Cow<'a, str>>,
    /// `policy.paymentScheduleName`.
    #[serde(borrow, default)]
    pub payment_schedule_name: Option<Cow<'a, str>>,
    /// Epoch ms, the proration anchor and the date that selects a plan.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub original_contract_start_timestamp: Option<Cow<'a, str>>,
    /// Policy characteristics.
    #[serde(borrow, default)]
    pub characteristics: Vec<Characteristics<'a>>,
    /// Exposures.
    #[serde(borrow, default)]
    pub exposures: Vec<Exposure<'a>>,
}

/// A policy or exposure characteristic.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Characteristics<'a> {
    /// Its locator.
    #[serde(borrow, default)]
    pub locator: Option<Cow<'a, str>>,
    /// Its field values.
    #[serde(borrow, default)]
    pub field_values: FieldValues<'a>,
}

/// An exposure.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposure<'a> {
    /// `exposures[].name`.
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// Its characteristics.
    #[serde(borrow, default)]
    pub characteristics: Vec<Characteristics<'a>>,
    /// Its perils.
    #[serde(borrow, default)]
    pub perils: Vec<Peril<'a>>,
}

/// A peril.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peril<'a> {
    /// `perils[].name`: which calculation prices it.
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// Its characteristics.
    #[serde(borrow, default)]
    pub characteristics: Vec<PerilCharacteristics<'a>>,
}

/// A peril characteristic: the unit that is priced.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerilCharacteristics<'a> {
    /// Its locator.
    #[serde(borrow, default)]
    pub locator: Option<Cow<'a, str>>,
    /// Epoch ms.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub coverage_start_timestamp: Option<Cow<'a, str>>,
    /// Epoch ms.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub coverage_end_timestamp: Option<Cow<'a, str>>,
    /// Decimal string.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub indemnity_in_aggregate: Option<Cow<'a, str>>,
    /// Decimal string.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub indemnity_per_event: Option<Cow<'a, str>>,
    /// Decimal string.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub indemnity_per_item: Option<Cow<'a, str>>,
    /// Decimal string.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub deductible: Option<Cow<'a, str>>,
    /// Decimal string.
    #[serde(borrow, default, deserialize_with = "scalar")]
    pub lump_sum_payment: Option<Cow<'a, str>>,
    /// Its field values.
    #[serde(borrow, default)]
    pub field_values: FieldValues<'a>,
}

/// `fieldValues`: field name -> the first element of its array of strings.
///
/// Kept as a small vector searched linearly: a characteristic has a handful to a few dozen
/// fields, and the engine reads only the few its plan names, so a scan over borrowed keys is
/// cheaper than building and hashing a map.
#[derive(Debug, Default)]
pub struct FieldValues<'a>(pub Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>);

impl FieldValues<'_> {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FieldValues<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FieldValues<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of field name -> array of strings")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let first = map.next_value::<FirstScalar<'de>>()?;
                    out.push((key, first.0));
                }
                Ok(FieldValues(out))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldValues::default())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The first scalar of a field value: Socotra sends `["x"]`; a bare scalar is accepted too.
/// Nested field groups (objects) yield `None`.
struct FirstScalar<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstScalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstScalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let first = seq.next_element::<ScalarOpt<'de>>()?.and_then(|s| s.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstScalar(first))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FirstScalar(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FirstScalar(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(FirstScalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(FirstScalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(FirstScalar(None))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FirstScalar(Some(Cow::Borrowed(if v {
                    "true"
                } else {
                    "false"
                }))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstScalar(None))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FirstScalar(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A string, or an integer rendered as one; floats are refused (`None`): money and
/// timestamps never pass through binary floating point.
struct ScalarOpt<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for ScalarOpt<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        FirstScalar::deserialize(d).map(|f| ScalarOpt(f.0))
    }
}

fn scalar<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    ScalarOpt::deserialize(d).map(|s| s.0)
}

/// One peril characteristic to price, with the entities above it: the engine's input.
#[derive(Clone, Copy, Debug)]
pub struct PerilView<'r, 'a> {
    /// The policy.
    pub policy: &'r Policy<'a>,
    /// The policy characteristic the triplet names.
    pub policy_char: &'r Characteristics<'a>,
    /// The exposure.
    pub exposure: &'r Exposure<'a>,
    /// The exposure characteristic the triplet names.
    pub exposure_char: &'r Characteristics<'a>,
    /// The peril.
    pub peril: &'r Peril<'a>,
    /// The peril characteristic being priced.
    pub peril_char: &'r PerilCharacteristics<'a>,
}

impl InputSource for PerilView<'_, '_> {
    fn field(&self, level: Level, name: &str) -> Option<&str> {
        match level {
            Level::Policy => self.policy_char.field_values.get(name),
            Level::Exposure => self.exposure_char.field_values.get(name),
            Level::Peril => self.peril_char.field_values.get(name),
        }
    }

    fn builtin(&self, builtin: Builtin) -> Option<&str> {
        let pc = self.peril_char;
        match builtin {
            Builtin::PerilName => self.peril.name.as_deref(),
            Builtin::ExposureName => self.exposure.name.as_deref(),
            Builtin::ProductName => self.policy.product_name.as_deref(),
            Builtin::PaymentSchedule => self.policy.payment_schedule_name.as_deref(),
            Builtin::IndemnityInAggregate => pc.indemnity_in_aggregate.as_deref(),
            Builtin::IndemnityPerEvent => pc.indemnity_per_event.as_deref(),
            Builtin::IndemnityPerItem => pc.indemnity_per_item.as_deref(),
            Builtin::Deductible => pc.deductible.as_deref(),
            Builtin::LumpSumPayment => pc.lump_sum_payment.as_deref(),
            Builtin::CoverageStart => pc.coverage_start_timestamp.as_deref(),
            Builtin::CoverageEnd => pc.coverage_end_timestamp.as_deref(),
        }
    }
}

/// Why a triplet cannot be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// No peril characteristic has the locator.
    Peril,
    /// The peril characteristic's exposure has no characteristic with the triplet's locator.
    Exposure,
    /// The policy has no characteristic with the triplet's locator.
    Policy,
}

/// Where each peril characteristic is, by locator: `(exposure, peril, characteristic)`
/// indexes, the first occurrence of a locator winning (as the linear scan does).
///
/// Built once per request when it prices many perils ([`INDEX_FROM`] or more triplets):
/// a 4 MiB request can hold ~28,000 peril characteristics and as many triplets, and
/// resolving each triplet by a scan is then ~400 million comparisons (measured before this
/// index: 20,000 perils took 0.46 s of a worker thread, 10,000 took 0.16 s).
#[derive(Debug, Default)]
pub struct LocatorIndex<'r> {
    at: HashMap<&'r str, (usize, usize, usize)>,
}

/// From this many triplets on, [`Policy::index`] is worth its allocation.
pub const INDEX_FROM: usize = 32;

impl<'a> Policy<'a> {
    /// Indexes every peril characteristic by locator.
    pub fn index(&self) -> LocatorIndex<'_> {
        let mut at = HashMap::new();
        for (e, exposure) in self.exposures.iter().enumerate() {
            for (p, peril) in exposure.perils.iter().enumerate() {
                for (c, pc) in peril.characteristics.iter().enumerate() {
                    if let Some(loc) = pc.locator.as_deref() {
                        at.entry(loc).or_insert((e, p, c));
                    }
                }
            }
        }
        LocatorIndex { at }
    }

    /// [`Policy::resolve`], finding the peril characteristic through `index` when given.
    pub fn resolve_indexed<'r>(
        &'r self,
        index: Option<&LocatorIndex<'_>>,
        peril_loc: &str,
        exposure_loc: Option<&str>,
        policy_loc: Option<&str>,
    ) -> Result<PerilView<'r, 'a>, Unresolved> {
        let Some(index) = index else {
            return self.resolve(peril_loc, exposure_loc, policy_loc);
        };
        let &(e, p, c) = index.at.get(peril_loc).ok_or(Unresolved::Peril)?;
        let exposure = self.exposures.get(e).ok_or(Unresolved::Peril)?;
        let peril = exposure.perils.get(p).ok_or(Unresolved::Peril)?;
        let pc = peril.characteristics.get(c).ok_or(Unresolved::Peril)?;
        self.view(exposure, peril, pc, exposure_loc, policy_loc)
    }

    /// The entities above a found peril characteristic.
    fn view<'r>(
        &'r self,
        exposure: &'r Exposure<'a>,
        peril: &'r Peril<'a>,
        pc: &'r PerilCharacteristics<'a>,
        exposure_loc: Option<&str>,
        policy_loc: Option<&str>,
    ) -> Result<PerilView<'r, 'a>, Unresolved> {
        let exposure_char = match exposure_loc {
            Some(loc) => exposure
                .characteristics
                .iter()
                .find(|c| c.locator.as_deref() == Some(loc)),
            None => exposure.characteristics.last(),
        }
        .ok_or(Unresolved::Exposure)?;
        let policy_char = match policy_loc {
            Some(loc) => self
                .characteristics
                .iter()
                .find(|c| c.locator.as_deref() == Some(loc)),
            None => self.characteristics.last(),
        }
        .ok_or(Unresolved::Policy)?;
        Ok(PerilView {
            policy: self,
            policy_char,
            exposure,
            exposure_char,
            peril,
            peril_char: pc,
        })
    }

    /// Resolves a triplet to its entities by locator: the peril characteristic by
    /// `perilCharacteristicsLocator` (searched across exposures), its exposure characteristic
    /// by `exposureCharacteristicsLocator` within the same exposure, the policy
    /// characteristic by `policyCharacteristicsLocator`. A linear scan: policies have a few
    /// exposures with a few perils each, and this allocates nothing (see [`LocatorIndex`]
    /// for requests with many).
    pub fn resolve<'r>(
        &'r self,
        peril_loc: &str,
        exposure_loc: Option<&str>,
        policy_loc: Option<&str>,
    ) -> Result<PerilView<'r, 'a>, Unresolved> {
        for exposure in &self.exposures {
            for peril in &exposure.perils {
                if let Some(pc) = peril
                    .characteristics
                    .iter()
                    .find(|c| c.locator.as_deref() == Some(peril_loc))
                {
                    return self.view(exposure, peril, pc, exposure_loc, policy_loc);
                }
            }
        }
        Err(Unresolved::Peril)
    }
}
