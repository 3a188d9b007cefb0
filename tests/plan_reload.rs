//! Plan reloads (SIGHUP in the binary, `http::reload_plans` here): a plan folder replaced on
//! disk takes effect for every cached tenant without a State API call, no request fails
//! during the swap, and a folder that does not load keeps the running plans.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::{post, start};

/// A private copy of `rating-tables/`.
fn plans_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-reload-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    support::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables"),
        &dir,
    );
    dir
}

fn yearly(body: &serde_json::Value) -> String {
    body["pricedPerilCharacteristics"]["6e9b2383-b437-46ba-9ea8-de9f7e037fbf"]["yearlyPremium"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_plan_takes_effect_and_no_request_fails_during_the_swap() {
    let dir = plans_copy("swap");
    let dir_str: &'static str = Box::leak(dir.display().to_string().into_boxed_str());
    let s = start(&[
        ("RATER_PLANS_DIR", dir_str),
        ("RATER_MAX_BODY_BYTES", "4194304"),
    ])
    .await;
    s.state_api.put(
        "ref",
        json!({ "settings": { "ratePlan": "socotra-reference" } }),
    );
    let body =
        std::fs::read(support::fixtures().join("rating-ec/ec-rating-request-newbusiness2.json"))
            .unwrap();
    let request = post("/rate", "application/json", "x-smp-key: ref\r\n", &body);
    let r = s.send(&request).await;
    assert_eq!(r.status, 200);
    assert_eq!(yearly(&r.json()), "1.25");

    // The new version: rate 0.5 instead of 0.25, so 1.5 a year.
    let plan = dir.join("socotra-reference/plan.toml");
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&plan, text.replace("value = \"0.25\"", "value = \"0.5\"")).unwrap();

    // Requests keep flowing on four connections while the plans are swapped.
    let mut load = Vec::new();
    for _ in 0..4 {
        let addr = s.addr;
        let request = request.clone();
        load.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut c = support::Client::connect(addr).await;
            for _ in 0..100 {
                c.write(&request).await;
                let r = c.response().await.expect("an answer");
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                seen.push(yearly(&r.json()));
            }
            seen
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let resolved = rater::http::reload_plans(&s.state)
        .await
        .expect("the new folder loads");
    assert_eq!(resolved, 1, "the one cached tenant is resolved again");
    let mut answers = Vec::new();
    for l in load {
        answers.extend(l.await.unwrap());
    }
    assert_eq!(
        answers.len(),
        400,
        "every request during the swap answered 200"
    );
    assert!(
        answers.iter().all(|a| a == "1.25" || a == "1.50"),
        "{answers:?}"
    );
    let r = s.send(&request).await;
    assert_eq!(
        yearly(&r.json()),
        "1.50",
        "the new version prices after the swap"
    );
    assert_eq!(
        s.state_api.calls("ref"),
        1,
        "no State API call for a reload"
    );

    // A broken folder keeps the running plans.
    std::fs::write(&plan, "this is not a plan").unwrap();
    let err = rater::http::reload_plans(&s.state).await.unwrap_err();
    assert!(format!("{err:#}").contains("plan.toml"), "{err:#}");
    let r = s.send(&request).await;
    assert_eq!((r.status, yearly(&r.json()).as_str()), (200, "1.50"));

    // A plan removed on reload: the tenant naming it gets a clear rating error, not a crash.
    std::fs::remove_dir_all(dir.join("socotra-reference")).unwrap();
    rater::http::reload_plans(&s.state).await.unwrap();
    let r = s.send(&request).await;
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_plan"));
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
