//! Property: however requests for several tenants interleave with time passing, state
//! changing upstream, warms and forgets, every answer is built from the requesting tenant's
//! own state (settings, token, mappings, plan choice), never another's.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use rater::engine::{Level, Source};
use rater::plan::SelectError;
use rater::tenant::{CacheConfig, Tenant, TenantCache};
use support::{Mode, StateApi, cache, config, pass_time, spawn_ticker, state};

#[derive(Clone, Debug)]
enum Op {
    /// A burst of concurrent requests, one per listed tenant index.
    Burst(Vec<usize>),
    /// Time passes (seconds).
    Advance(u64),
    /// The tenant's state changes upstream (a new version).
    Update(usize),
    /// `/_app/start` for the tenant.
    Warm(usize),
    /// `/_app/stop` for the tenant.
    Forget(usize),
}

fn op(tenants: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(0..tenants, 1..40).prop_map(Op::Burst),
        2 => (0u64..40).prop_map(Op::Advance),
        1 => (0..tenants).prop_map(Op::Update),
        1 => (0..tenants).prop_map(Op::Warm),
        1 => (0..tenants).prop_map(Op::Forget),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (2usize..5).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 1..25)))
}

/// The name `state()` was built from, checked against every part of the tenant.
fn check_own(t: &Tenant, key: &str) -> Result<(), TestCaseError> {
    // Versions are named `{key}.v{n}`.
    let name = t.settings.plain("tenant").unwrap_or_default().to_owned();
    prop_assert!(
        name.split_once(".v").map(|(k, _)| k) == Some(key),
        "key {key} got tenant {name}"
    );
    prop_assert_eq!(
        t.rate_plan().map(str::to_owned),
        Some(format!("plan-of-{name}"))
    );
    prop_assert_eq!(
        t.token.as_ref().map(|s| s.expose().to_owned()),
        Some(format!("token-of-{name}"))
    );
    prop_assert_eq!(
        t.settings.get("apiKey").map(|v| v.expose().to_owned()),
        Some(format!("apikey-of-{name}"))
    );
    prop_assert_eq!(
        t.tenant_host_name.as_deref().map(str::to_owned),
        Some(format!("{name}-configeditor.example"))
    );
    prop_assert_eq!(
        &t.mappings[0].fields[0].1,
        &Source::Field {
            level: Level::Exposure,
            name: format!("{name}_value").into()
        }
    );
    // The selector was resolved from this tenant's `ratePlan` (no plans are loaded, so it
    // names the plan in its error).
    let selected = t
        .selector
        .select("personal-auto", jiff::civil::date(2024, 6, 1))
        .err();
    prop_assert_eq!(
        selected,
        Some(SelectError::UnknownPlan(format!("plan-of-{name}")))
    );
    Ok(())
}

async fn run(tenants: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    spawn_ticker();
    let api = StateApi::start().await;
    api.set_mode(Mode::Slow(Duration::from_millis(20)));
    let keys: Vec<String> = (0..tenants).map(|i| format!("tenant-{i}")).collect();
    let mut versions = vec![0u32; tenants];
    for k in &keys {
        api.put(k, state(&format!("{k}.v0")));
    }
    let cache: TenantCache = cache(
        &api,
        CacheConfig {
            ttl: Duration::from_secs(15),
            stale_if_error: Duration::from_secs(20),
            ..config()
        },
    );
    for op in ops {
        match op {
            Op::Burst(who) => {
                let tasks: Vec<_> = who
                    .into_iter()
                    .map(|i| {
                        let cache = cache.clone();
                        let key = keys[i].clone();
                        tokio::spawn(async move {
                            let t = cache.get(Some(&key)).await;
                            (key, t)
                        })
                    })
                    .collect();
                for task in tasks {
                    let (key, t) = task.await.expect("request task");
                    let t = t.map_err(|e| TestCaseError::fail(format!("{key}: {e}")))?;
                    check_own(&t, &key)?;
                }
            }
            Op::Advance(secs) => pass_time(Duration::from_secs(secs)).await,
            Op::Update(i) => {
                versions[i] += 1;
                api.put(&keys[i], state(&format!("{}.v{}", keys[i], versions[i])));
            }
            Op::Warm(i) => cache.warm(Some(&keys[i])).expect("valid key"),
            Op::Forget(i) => {
                cache.forget(Some(&keys[i])).expect("valid key");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn every_answer_comes_from_its_own_tenant((tenants, ops) in scenario()) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(run(tenants, ops))?;
    }
}
