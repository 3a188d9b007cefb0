//! One plan test case of a bundle: price `NNN.request.json` with the plan alone and compare
//! it with `NNN.expected.json` by the same comparison as `rater test`
//! ([`crate::actuary::plantest::compare`]): a bundle is activated only when every case
//! passes as it would on the actuary's machine.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::actuary::plantest::compare;
use crate::plan::{Plan, Selector};
use crate::pricing::{PriceOptions, price_request};

/// Prices `request` with `plan` and checks the answer against `expected`: every amount
/// equal as a decimal, the same priced locators and commissions; an expected
/// `{"error": ...}` requires the request to be refused. Returns the first difference.
pub fn run_case(plan: &Arc<Plan>, request: &[u8], expected: &[u8]) -> Result<(), String> {
    let expected: Value = serde_json::from_slice(expected)
        .map_err(|e| format!("the expected file is not JSON: {e}"))?;
    let mut out = Vec::new();
    let priced = price_request(
        &Selector::fixed(plan.clone()),
        request,
        &mut out,
        PriceOptions::default(),
    );
    match (expected.get("error"), priced) {
        (Some(_), Ok(())) => Err("priced, but the case expects it refused".into()),
        (Some(_), Err(_)) => Ok(()),
        (None, Err(e)) => Err(format!("refused ({}): {e}", e.code())),
        (None, Ok(())) => {
            let want = expected
                .get("pricedPerilCharacteristics")
                .and_then(Value::as_object)
                .ok_or("the expected file has neither `pricedPerilCharacteristics` nor `error`")?;
            let got: Map<String, Value> = serde_json::from_slice::<Value>(&out)
                .ok()
                .and_then(|v| v.get("pricedPerilCharacteristics")?.as_object().cloned())
                .unwrap_or_default();
            let (differences, _) = compare(want, &got);
            match differences.first() {
                None => Ok(()),
                Some(d) => Err(format!(
                    "{} {}: want {}, got {}",
                    d.locator,
                    d.field,
                    d.want.as_deref().unwrap_or("nothing"),
                    d.got.as_deref().unwrap_or("nothing")
                )),
            }
        }
    }
}
