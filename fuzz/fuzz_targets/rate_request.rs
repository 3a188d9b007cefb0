//! (a) Arbitrary bytes as a rating request body: parse, plan selection, locator resolution,
//! rating and the answer writer, with the bundled `personal-auto` and `socotra-reference`
//! plans loaded once.
//!
//! Oracles besides "no panic": an `Ok` answer is valid JSON whose every priced locator is a
//! string; an error leaves the output buffer untouched; pricing the same bytes twice gives
//! the same answer (no hidden state between requests); and pruning is invisible: whenever
//! simd-json accepts the whole body, the pruned parse gives the same payload
//! (`Payload::dump`), and whenever both refuse it, the same error.

#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rater::plan::{Selector, load_plan};
use rater::pricing::{PriceOptions, price_request};
use rater::wire::payload::{Payload, PayloadError};

fn selectors() -> &'static [Selector; 2] {
    static S: OnceLock<[Selector; 2]> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rating-tables");
        let load = |id: &str| {
            Selector::fixed(Arc::new(
                load_plan(&root.join(id)).unwrap_or_else(|e| panic!("bundled plan {id}: {e}")),
            ))
        };
        [load("personal-auto"), load("socotra-reference")]
    })
}

fn price(selector: &Selector, data: &[u8], explain: bool) -> Result<Vec<u8>, String> {
    // A non-empty prefix checks that an error leaves what was already in `out` alone.
    let mut out = b"prefix".to_vec();
    match price_request(selector, data, &mut out, PriceOptions { explain }) {
        Ok(()) => {
            assert!(out.starts_with(b"prefix"));
            let answer = out.split_off(6);
            let v: serde_json::Value = serde_json::from_slice(&answer)
                .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer:?}"));
            assert!(v["pricedPerilCharacteristics"].is_object(), "{v}");
            Ok(answer)
        }
        Err(e) => {
            assert_eq!(out, b"prefix", "an error left partial output");
            // Formatting the error must not panic either (it quotes request values).
            Err(format!("{} {e}", e.code()))
        }
    }
}

fn outcome(r: Result<Payload<'_, '_>, PayloadError>) -> Result<String, String> {
    r.map(|p| p.dump()).map_err(|e| format!("{e:?}"))
}

fuzz_target!(|data: &[u8]| {
    let whole = Payload::with_unpruned(data, outcome);
    let pruned = Payload::with(data, outcome);
    match (&pruned, &whole) {
        (_, Ok(_)) | (Err(_), Err(_)) => assert_eq!(pruned, whole, "pruning changed the payload"),
        // Accepted by pruning only: the body's fault is inside a member rating never reads
        // (the documented laxness of `wire::prune`); nothing to compare against.
        (Ok(_), Err(_)) => {}
    }
    let [auto, reference] = selectors();
    let first = price(auto, data, false);
    assert_eq!(first, price(auto, data, false), "pricing is not repeatable");
    let _ = price(reference, data, true);
});
