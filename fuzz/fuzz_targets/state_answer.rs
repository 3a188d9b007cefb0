//! (c) Arbitrary bytes as a State API answer: `StateDoc::from_json`, then resolving it into a
//! `Tenant` against the bundled plans (settings, secrets, mapping JSONPaths, the selector).
//!
//! Oracles besides "no panic": a parse error never quotes the input (it could be a token);
//! the token and every secret setting print redacted in `Debug`.

#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rater::plan::{PlanSet, load_dir};
use rater::tenant::{KeyHash, Secret, SecretPolicy, SettingValue, StateDoc, Tenant};

fn plans() -> &'static Arc<PlanSet> {
    static P: OnceLock<Arc<PlanSet>> = OnceLock::new();
    P.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rating-tables");
        Arc::new(load_dir(&dir).unwrap_or_else(|e| panic!("bundled plans: {e}")))
    })
}

/// A value long enough that finding it in other text is not a coincidence, and not a piece
/// of the redaction placeholder itself (a secret whose value is `([redacted])` "appears" in
/// `Secret([redacted])`: the first finding of this target was exactly that oracle mistake).
fn distinctive(s: &str) -> bool {
    let placeholder = format!("{:?}", SettingValue::Secret(Secret::new("x")));
    s.len() >= 12 && !placeholder.contains(s)
}

fuzz_target!(|data: &[u8]| {
    let secrets = SecretPolicy::new(["password-setting", "apiKey"]);
    match StateDoc::from_json(data) {
        Err(e) => {
            let shown = format!("{e} {e:?}");
            // The message is built from a category and a position only.
            assert!(shown.len() < 200, "{shown}");
        }
        Ok(doc) => {
            let _ = format!("{doc:?}");
            let tenant = Tenant::resolve(KeyHash::of("fuzz"), doc, plans(), &secrets);
            let _ = format!("{tenant:?}");
            if let Some(t) = &tenant.token
                && distinctive(t.expose())
            {
                assert!(!format!("{t:?}").contains(t.expose()), "token shown");
            }
            for (name, value) in tenant.settings.iter() {
                if let SettingValue::Secret(s) = value
                    && distinctive(s.expose())
                {
                    assert!(!format!("{value:?}").contains(s.expose()), "{name} shown");
                }
            }
            let date = jiff::civil::date(2024, 6, 1);
            for product in ["personal-auto", "homeowners", ""] {
                let _ = tenant.selector.select(product, date);
            }
        }
    }
});
