//! The token, password settings and the key never show: not in `Debug` output, not in error
//! messages, not in logs (captured at TRACE through a `tracing` subscriber writing to a
//! buffer) across success, warnings, every failure mode and a failing refresh.

mod support;

use std::time::Duration;

use rater::tenant::{FetchError, StateClient, TenantKey};
use serde_json::json;
use support::{LogBuffer, Mode, StateApi, cache, config, pass_time, spawn_ticker, state};

const KEY: &str = "key-7f3a9c-customer";
const SECRETS: [&str; 3] = ["token-of-acme", "apikey-of-acme", "password-of-acme"];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows a secret `{s}`:\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn secrets_never_appear_in_debug_errors_or_logs() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // Thread-local: the current-thread test runtime runs every spawned task here too.
    let _guard = tracing::subscriber::set_default(subscriber);

    spawn_ticker();
    let api = StateApi::start().await;
    let mut acme = state("acme");
    // A mapping we cannot read, so a warning is logged for this tenant.
    acme["mappings"][0]["fields"]["broken"] = json!("$.nothing");
    api.put(KEY, acme);
    let cache = cache(&api, config());

    let tenant = cache.get(Some(KEY)).await.expect("tenant");
    assert!(!tenant.warnings.is_empty());
    assert_eq!(tenant.token.as_ref().map(|t| t.expose()), Some(SECRETS[0]));
    assert_clean("Tenant Debug", &format!("{tenant:?}"));
    assert_clean("Tenant pretty Debug", &format!("{tenant:#?}"));
    assert_clean("Settings Debug", &format!("{:?}", tenant.settings));
    assert_clean("cache Debug", &format!("{cache:?}"));
    assert!(!format!("{tenant:?}").contains(KEY));

    // Every failure, first fetch and refresh alike: errors and logs stay clean.
    let mut errors = Vec::new();
    let client = StateClient::new(&api.url(), &config().client).expect("client");
    let key = TenantKey::parse(KEY).expect("key");
    assert!(!format!("{key:?}").contains(KEY));
    assert_clean("StateDoc Debug", &format!("{:?}", client.fetch(&key).await));
    for mode in [
        Mode::Status(500),
        Mode::Status(503),
        Mode::Hang,
        Mode::Malformed,
        Mode::Oversized {
            bytes: 1 << 20,
            chunked: false,
        },
        Mode::UnknownKey,
    ] {
        api.set_mode(mode);
        let err: FetchError = client.fetch(&key).await.unwrap_err();
        errors.push(format!("{err} / {err:?}"));
        // A failing background refresh of the cached tenant.
        pass_time(Duration::from_secs(61)).await;
        let _ = cache.get(Some(KEY)).await;
        pass_time(Duration::from_secs(3)).await;
        // And a first fetch for a new key.
        let other = format!("{KEY}-{}", errors.len());
        if let Err(e) = cache.get(Some(&other)).await {
            errors.push(format!("{e} / {e:?}"));
        }
    }
    // The wrong key type in the token must not be echoed either.
    api.set_mode(Mode::Normal);
    api.put(
        KEY,
        json!({"token": {"value": SECRETS[0]}, "settings": {"x": SECRETS[1]}}),
    );
    if let Err(e) = client.fetch(&key).await {
        errors.push(format!("{e} / {e:?}"));
    }

    assert!(errors.len() >= 10, "{errors:?}");
    for e in &errors {
        assert_clean("error", e);
        assert!(!e.contains(KEY), "error shows the key: {e}");
    }
    let logged = logs.contents();
    assert!(logged.contains("tenant state fetch failed"), "{logged}");
    assert!(logged.contains("tenant state has a problem"), "{logged}");
    assert!(logged.contains(&tenant.key_hash.to_string()), "{logged}");
    assert_clean("logs", &logged);
    // Our own log lines name the tenant by hash only. (Dependencies' TRACE lines are
    // checked for secrets above; none of them carries the key either.)
    assert!(!logged.contains(KEY), "logs show the key:\n{logged}");
}
