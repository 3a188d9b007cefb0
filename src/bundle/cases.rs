//! One plan test case: price `NNN.request.json` with the plan alone and compare it with
//! `NNN.expected.json`. Kept to this one function so the `rater test` command's comparison
//! can replace it.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::plan::{Plan, Selector};
use crate::pricing::{PriceOptions, price_request};

/// Prices `request` with `plan` and checks the answer against `expected`: every amount in
/// `expected` equal as a decimal (`"24.00"` equals `24`), every other value equal, the same
/// priced locators; an expected `{"error": ...}` requires the request to be refused.
/// Returns the first difference.
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
            let actual: Value =
                serde_json::from_slice(&out).map_err(|e| format!("answer not JSON: {e}"))?;
            same("", &expected, &actual)
        }
    }
}

fn same(at: &str, expected: &Value, actual: &Value) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .ok_or_else(|| format!("{at}/{k}: expected, but not in the answer"))?;
                same(&format!("{at}/{k}"), ev, av)?;
            }
            // A locator the case does not expect is priced where it should not be.
            if let Some(extra) = a.keys().find(|k| !e.contains_key(*k))
                && at.ends_with("pricedPerilCharacteristics")
            {
                return Err(format!("{at}/{extra}: in the answer, not expected"));
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{at}: {} items expected, {} in the answer",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                same(&format!("{at}/{i}"), ev, av)?;
            }
            Ok(())
        }
        _ => match (decimal(expected), decimal(actual)) {
            (Some(e), Some(a)) if e == a => Ok(()),
            (Some(e), Some(a)) => Err(format!("{at}: expected {e}, priced {a}")),
            _ if expected == actual => Ok(()),
            _ => Err(format!("{at}: expected {expected}, got {actual}")),
        },
    }
}

/// A JSON number or decimal string as a decimal. A number is read from serde_json's
/// shortest round-trip text, which gives back a short decimal such as `6.34` exactly.
fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}
