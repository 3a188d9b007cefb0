//! The Socotra rating request as borrowed, typed serde structures: the parts of the request
//! rating reads, and nothing else.
//!
//! The service does not parse with these any more ([`super::payload`] indexes simd-json's
//! tape in place, which allocates nothing per request); they stay as the typed model the
//! payload path is measured against (`benches/parse.rs`: `serde_json::from_slice` into these
//! types is the baseline) and as the reference for which fields and shapes rating accepts.
//! Strings borrow from the body (`Cow::Borrowed`); an owned `Cow` only where a value is not a
//! JSON string, such as an integer sent where Socotra normally sends a string.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
