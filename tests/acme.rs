//! The acme-auto rate manual (tests/fixtures/acme-auto/MANUAL.md) priced as plan data: its
//! 24 examples, every amount compared exactly, in process and over HTTP; the edition chosen
//! by the term start; a tenant whose mapping renames a policy field and a field group's
//! member field; mappings that cannot be honoured.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rater::plan::{PlanSet, ProductMapping, Selector, load_dir};
use rater::pricing::{PriceErrorKind, PriceOptions, price_request};
use serde_json::{Value, json};
use support::{TestServer, post, start};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn plans() -> PlanSet {
    load_dir(&root().join("rating-tables")).expect("the bundled plans load")
}

/// Every example: (edition folder, case stem, request bytes, expected answer).
fn cases() -> Vec<(String, String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    for edition in ["acme-auto-2025-07", "acme-auto-2026-01"] {
        let dir = root().join("rating-tables").join(edition).join("tests");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".request.json"))
            .collect();
        names.sort();
        for path in names {
            let stem = path
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches(".request.json")
                .to_owned();
            let expected = dir.join(format!("{stem}.expected.json"));
            out.push((
                edition.to_owned(),
                stem,
                std::fs::read(&path).unwrap(),
                serde_json::from_slice(&std::fs::read(expected).unwrap()).unwrap(),
            ));
        }
    }
    out
}

/// The manual's examples are split over the editions by their rating date, all 24 of them.
#[test]
fn the_examples_are_the_manuals() {
    let cases = cases();
    assert_eq!(cases.len(), 24);
    let manual = root().join("tests/fixtures/acme-auto/examples");
    for (_, stem, body, expected) in &cases {
        assert_eq!(
            body,
            &std::fs::read(manual.join(format!("{stem}.request.json"))).unwrap()
        );
        let original: Value = serde_json::from_slice(
            &std::fs::read(manual.join(format!("{stem}.expected.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(expected, &original, "{stem}");
    }
}

fn price(selector: &Selector, body: &[u8]) -> Result<Value, rater::pricing::PriceError> {
    let mut out = Vec::new();
    price_request(selector, body, &mut out, PriceOptions::default())?;
    Ok(serde_json::from_slice(&out).unwrap())
}

/// Checks one answer against the manual's, exactly: the same locators, the same keys, the
/// same amounts to the cent; an expected error must be a refusal of a well-formed request.
fn check(stem: &str, got: Result<Value, rater::pricing::PriceError>, expected: &Value) {
    match (got, expected.get("error")) {
        (Ok(got), None) => assert_eq!(
            got["pricedPerilCharacteristics"], expected["pricedPerilCharacteristics"],
            "{stem}"
        ),
        (Err(e), Some(why)) => {
            assert_eq!(
                e.kind(),
                PriceErrorKind::Unratable,
                "{stem}: the manual refuses it ({why}); we refused it as a bad request: {e}"
            );
            // In the manual's own words: the plan words these refusals.
            let why = why.as_str().unwrap();
            assert!(e.to_string().ends_with(why), "{stem}: {e} is not {why:?}");
        }
        (Ok(got), Some(why)) => panic!("{stem}: the manual refuses it ({why}), we priced {got}"),
        (Err(e), None) => panic!("{stem}: we refused it: {e}"),
    }
}

/// A tenant with `ratePlan` empty: each example is priced by the edition in effect on its
/// term start, to the cent; and the edition's own plan gives the same.
#[test]
fn every_example_to_the_cent_by_the_edition_of_its_term_start() {
    let set = plans();
    let by_product = Selector::resolve(&set, None, &[]);
    let by_line = Selector::resolve(&set, Some("acme-auto"), &[]);
    for (edition, stem, body, expected) in cases() {
        let fixed = Selector::fixed(set.get(&edition).unwrap().clone());
        check(&stem, price(&fixed, &body), &expected);
        check(&stem, price(&by_product, &body), &expected);
        check(&stem, price(&by_line, &body), &expected);
    }
}

/// The editions really differ: an example priced by the other edition's plan gives other
/// premiums (base rates differ), so the tests above do show which edition was chosen.
#[test]
fn the_other_edition_prices_differently() {
    let set = plans();
    let mut differ = 0;
    for (edition, _stem, body, expected) in cases() {
        if expected.get("error").is_some() {
            continue;
        }
        let other = if edition.ends_with("2025-07") {
            "acme-auto-2026-01"
        } else {
            "acme-auto-2025-07"
        };
        let got = price(&Selector::fixed(set.get(other).unwrap().clone()), &body).unwrap();
        if got["pricedPerilCharacteristics"] != expected["pricedPerilCharacteristics"] {
            differ += 1;
        }
    }
    assert_eq!(
        differ, 21,
        "every priced example differs under the other edition"
    );
}

fn with_term_start(body: &[u8], ms: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    for c in v["policy"]["characteristics"].as_array_mut().unwrap() {
        c["policyStartTimestamp"] = json!(ms);
    }
    serde_json::to_vec(&v).unwrap()
}

/// A term that starts before the first edition cannot be rated, by product or by line; a
/// renewal's term start (not the original contract's) chooses the edition.
#[test]
fn term_start_outside_every_edition_and_a_renewal() {
    let set = plans();
    let (_, _, body, expected) = cases().into_iter().find(|c| c.1 == "000").unwrap();
    // 2025-06-30 12:00 in New York: before 2025-07-01.
    let early = with_term_start(&body, "1751299200000");
    let e = price(&Selector::resolve(&set, None, &[]), &early).unwrap_err();
    assert_eq!(e.code(), "no_plan_for_product", "{e}");
    let e = price(&Selector::resolve(&set, Some("acme-auto"), &[]), &early).unwrap_err();
    assert_eq!(e.code(), "no_edition_in_effect", "{e}");
    assert!(
        e.to_string()
            .contains("acme-auto-2025-07 [2025-07-01, 2026-01-01)"),
        "{e}"
    );
    // Example 000 starts its term on 2026-01-01 although its original contract is from
    // 2022: priced by 2026-01, as the manual says.
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["policy"]["originalContractStartTimestamp"],
        "1641013200000"
    );
    check(
        "000",
        price(&Selector::resolve(&set, None, &[]), &body),
        &expected,
    );
}

/// `ratePlan` names a line: a request for another product is refused, not priced.
#[test]
fn a_line_refuses_another_product() {
    let set = plans();
    let (_, _, body, _) = cases().into_iter().find(|c| c.1 == "000").unwrap();
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["policy"]["productName"] = json!("personal-auto");
    let other = serde_json::to_vec(&v).unwrap();
    let e = price(&Selector::resolve(&set, Some("acme-auto"), &[]), &other).unwrap_err();
    assert_eq!(e.code(), "plan_for_other_product", "{e}");
    let e = price(&Selector::resolve(&set, Some("homeowners"), &[]), &body).unwrap_err();
    assert_eq!(e.code(), "plan_for_other_product", "{e}");
}

/// Renames fields the way a tenant whose product calls them otherwise would send them:
/// `garaging_zip` -> `zip_code` in every policy characteristic's fieldValues, and
/// `driver_dob` -> `birth_date` in every driver.
fn renamed(body: &[u8]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    for c in v["policy"]["characteristics"].as_array_mut().unwrap() {
        let fv = c["fieldValues"].as_object_mut().unwrap();
        if let Some(zip) = fv.remove("garaging_zip") {
            fv.insert("zip_code".into(), zip);
        }
        for (_, g) in c["fieldGroupsByLocator"].as_object_mut().unwrap() {
            let g = g.as_object_mut().unwrap();
            if let Some(dob) = g.remove("driver_dob") {
                g.insert("birth_date".into(), dob);
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

const ZIP_PATH: &str =
    "$[?(@.name=='acme-auto')].policyConfiguration.fields[?(@.name=='zip_code')]";
const DOB_PATH: &str = "$[?(@.name=='acme-auto')].policyConfiguration.fields[?(@.name=='drivers')].fields[?(@.name=='birth_date')]";

fn renaming_tenant(zip: &str, dob: &str) -> Value {
    json!({
        "socotraApiUrl": "http://127.0.0.1:9",
        "token": "token-acme",
        "settings": {},
        "mappings": [{
            "productName": "acme-auto",
            "fields": { "garaging_zip": zip, "driver_dob": dob }
        }]
    })
}

async fn rate(s: &TestServer, key: &str, body: &[u8]) -> support::Response {
    s.send(&post(
        "/rate",
        "application/json",
        &format!("x-smp-key: {key}\r\n"),
        body,
    ))
    .await
}

/// Over HTTP: a tenant with no `ratePlan` gets the manual's premiums from the edition of
/// each term start; a tenant whose mapping renames `garaging_zip` and the drivers'
/// `driver_dob` gets the same premiums for requests that use its names.
#[tokio::test]
async fn over_http_by_product_and_with_renamed_fields() {
    let s = start(&[("RATER_MAX_BODY_BYTES", "1048576")]).await;
    s.state_api.put(
        "acme-plain",
        json!({"socotraApiUrl": "http://127.0.0.1:9", "token": "t", "settings": {}}),
    );
    s.state_api
        .put("acme-renamed", renaming_tenant(ZIP_PATH, DOB_PATH));
    for (_, stem, body, expected) in cases() {
        for (key, body) in [
            ("acme-plain", body.clone()),
            ("acme-renamed", renamed(&body)),
        ] {
            let r = rate(&s, key, &body).await;
            match expected.get("error") {
                None => {
                    assert_eq!(
                        r.status,
                        200,
                        "{stem} {key}: {}",
                        String::from_utf8_lossy(&r.body)
                    );
                    assert_eq!(
                        r.json()["pricedPerilCharacteristics"],
                        expected["pricedPerilCharacteristics"],
                        "{stem} {key}"
                    );
                }
                Some(_) => assert_eq!(r.status, 422, "{stem} {key}"),
            }
        }
    }
    // The renamed requests really lack the default names: the plain tenant cannot price them.
    let (_, _, body, _) = cases().into_iter().find(|c| c.1 == "000").unwrap();
    let r = rate(&s, "acme-plain", &renamed(&body)).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.code(), "missing_input");
    s.stop().await;
}

/// A mapping that points a member field at a plain policy field, or a plain input inside a
/// field group, or that cannot be read at all, refuses that tenant's requests with an error
/// naming the mapping, rather than reading the plan's default field.
#[tokio::test]
async fn mappings_that_cannot_be_honoured_are_errors() {
    let s = start(&[("RATER_MAX_BODY_BYTES", "1048576")]).await;
    let policy_field =
        "$[?(@.name=='acme-auto')].policyConfiguration.fields[?(@.name=='birth_date')]";
    s.state_api
        .put("dob-not-in-group", renaming_tenant(ZIP_PATH, policy_field));
    s.state_api
        .put("zip-in-group", renaming_tenant(DOB_PATH, DOB_PATH));
    s.state_api
        .put("unreadable", renaming_tenant("$.nothing", DOB_PATH));
    let (_, _, body, _) = cases().into_iter().find(|c| c.1 == "000").unwrap();
    for (key, names) in [
        ("dob-not-in-group", "driver_dob"),
        ("zip-in-group", "garaging_zip"),
        ("unreadable", "garaging_zip"),
    ] {
        let r = rate(&s, key, &renamed(&body)).await;
        assert_eq!(r.status, 422, "{key}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.code(), "unusable_mapping", "{key}");
        let message = r.json()["exceptionMessage"].as_str().unwrap().to_owned();
        assert!(
            message.contains(&format!("mapping for input `{names}`")),
            "{key}: {message}"
        );
    }
    s.stop().await;
}

/// The mapping check happens when the tenant is resolved; other products' plans of the
/// same tenant are unaffected.
#[test]
fn a_bad_mapping_only_affects_its_product() {
    let set = plans();
    let mapping = ProductMapping {
        product: "acme-auto".into(),
        unreadable: vec![("garaging_zip".into(), "no quoted field name".into())],
        ..Default::default()
    };
    let sel = Selector::resolve(&set, None, std::slice::from_ref(&mapping));
    let (_, _, body, _) = cases().into_iter().find(|c| c.1 == "000").unwrap();
    assert_eq!(price(&sel, &body).unwrap_err().code(), "unusable_mapping");
    let fixture =
        std::fs::read(support::fixtures().join("rating-ec/ec-rating-request-newbusiness2.json"))
            .unwrap();
    assert!(price(&sel, &fixture).is_ok());
    let _ = Arc::new(set);
}

/// Values that depend only on the policy (the driver factor) are computed once per policy
/// characteristic and shared by its perils; with a trace nothing is shared. Both give the
/// same answers, to the cent.
#[test]
fn sharing_policy_values_between_perils_changes_no_answer() {
    let set = plans();
    let selector = Selector::resolve(&set, None, &[]);
    for (_, stem, body, expected) in cases() {
        if expected.get("error").is_some() {
            continue;
        }
        let shared = price(&selector, &body).unwrap();
        let mut out = Vec::new();
        price_request(&selector, &body, &mut out, PriceOptions { explain: true }).unwrap();
        let traced: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            shared["pricedPerilCharacteristics"], traced["pricedPerilCharacteristics"],
            "{stem}"
        );
        // Each peril's trace computes its own driver factor.
        for (locator, lines) in traced["explain"].as_object().unwrap() {
            let peril = &expected["pricedPerilCharacteristics"][locator];
            if peril["yearlyPremium"] == "24.00" {
                continue; // roadside: a flat rate, no factor
            }
            assert!(
                lines
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l.as_str().unwrap().starts_with("value DF = ")),
                "{stem} {locator}"
            );
        }
    }
}
