//! The State API client against the stand-in on loopback: URL building, status mapping,
//! malformed and oversized answers, and our own timeouts.

mod support;

use std::time::Duration;

use rater::tenant::{
    ClientConfig, FetchError, MalformedState, StateClient, TenantConfigError, TenantKey,
    UpstreamError,
};
use support::{Mode, StateApi, config, spawn_ticker, state};
use tokio::time::Instant;

fn key(k: &str) -> TenantKey {
    TenantKey::parse(k).expect("valid key")
}

fn client(base: &str) -> StateClient {
    StateClient::new(base, &config().client).expect("client")
}

/// The key is one percent-encoded path segment, the base joins with exactly one `/`
/// whether or not it ends in one, and `Accept: application/json` is sent.
#[tokio::test]
async fn builds_one_segment_urls_with_one_slash() {
    let api = StateApi::start().await;
    let odd = "a/b?c%d#é";
    api.put(odd, state("odd"));
    for base in [api.url(), format!("{}/", api.url())] {
        let doc = client(&base).fetch(&key(odd)).await.expect("state");
        assert_eq!(
            doc.tenant_host_name.as_deref(),
            Some("odd-configeditor.example")
        );
    }
    let _ = client(&format!("{}/api/", api.url()))
        .fetch(&key("x"))
        .await;
    assert_eq!(
        api.paths(),
        [
            "/state/a%2Fb%3Fc%25d%23%C3%A9",
            "/state/a%2Fb%3Fc%25d%23%C3%A9",
            "/api/state/x"
        ]
    );
    assert_eq!(api.calls(odd), 2);
    assert!(
        api.accepts()
            .iter()
            .all(|a| a.as_deref() == Some("application/json"))
    );
}

/// 404 is the only answer that means "unknown key".
#[tokio::test]
async fn not_found_is_unknown_key() {
    let api = StateApi::start().await;
    let c = client(&api.url());
    assert_eq!(
        c.fetch(&key("nobody")).await.err(),
        Some(FetchError::UnknownKey)
    );
    api.put("k", state("k"));
    api.set_mode(Mode::UnknownKey);
    assert_eq!(c.fetch(&key("k")).await.err(), Some(FetchError::UnknownKey));
}

/// 5xx and other statuses are upstream failures, never "unknown".
#[tokio::test]
async fn other_statuses_are_upstream_failures() {
    let api = StateApi::start().await;
    api.put("k", state("k"));
    let c = client(&api.url());
    for code in [500, 503, 502, 401, 301] {
        api.set_mode(Mode::Status(code));
        assert_eq!(
            c.fetch(&key("k")).await.err(),
            Some(FetchError::Upstream(UpstreamError::Status(code)))
        );
    }
}

/// A body that is not JSON is malformed.
#[tokio::test]
async fn malformed_json_is_malformed() {
    let api = StateApi::start().await;
    api.put("k", state("k"));
    api.set_mode(Mode::Malformed);
    let err = client(&api.url()).fetch(&key("k")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Malformed(MalformedState::Json { .. })),
        "{err:?}"
    );
}

/// Bodies over the cap are refused whether the length is announced or only found by
/// reading (chunked); the test config caps at 64 KiB and the stand-in sends 4 MiB.
#[tokio::test]
async fn oversized_is_malformed() {
    let api = StateApi::start().await;
    api.put("k", state("k"));
    let c = client(&api.url());
    for chunked in [false, true] {
        api.set_mode(Mode::Oversized {
            bytes: 4 << 20,
            chunked,
        });
        assert_eq!(
            c.fetch(&key("k")).await.err(),
            Some(FetchError::Malformed(MalformedState::TooBig {
                limit: 64 * 1024
            })),
            "chunked: {chunked}"
        );
    }
    // Just under the cap is read (and fails only as JSON).
    api.set_mode(Mode::Oversized {
        bytes: 60 * 1024,
        chunked: true,
    });
    let err = c.fetch(&key("k")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Malformed(MalformedState::Json { .. })),
        "{err:?}"
    );
}

/// A State API that never answers (or would answer after 30 s) trips our total timeout,
/// measured on the paused clock as exactly our configured 2 s, not the stand-in's delay.
#[tokio::test(start_paused = true)]
async fn hang_trips_our_timeout_not_theirs() {
    spawn_ticker();
    let api = StateApi::start().await;
    api.put("k", state("k"));
    let c = client(&api.url());
    for mode in [Mode::Hang, Mode::Slow(Duration::from_secs(30))] {
        api.set_mode(mode.clone());
        let start = Instant::now();
        let err = c.fetch(&key("k")).await.unwrap_err();
        let took = start.elapsed();
        assert_eq!(
            err,
            FetchError::Upstream(UpstreamError::Timeout),
            "{mode:?}"
        );
        assert!(
            took >= Duration::from_millis(2000) && took < Duration::from_millis(2100),
            "{mode:?} took {took:?}"
        );
    }
}

/// A refused connection is an upstream failure.
#[tokio::test]
async fn refused_connection_is_upstream() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = client(&format!("http://{addr}"))
        .fetch(&key("k"))
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::Upstream(UpstreamError::Connect));
}

/// URLs that cannot work fail at start-up, not on the first request.
#[test]
fn unusable_base_urls_are_refused() {
    let cfg = ClientConfig::default();
    for base in [
        "https://state.internal",
        "ftp://state",
        "not a url",
        "http://s/?q=1",
    ] {
        let err = StateClient::new(base, &cfg).unwrap_err();
        assert!(
            matches!(err, TenantConfigError::StateApiUrl { .. }),
            "{base}: {err}"
        );
    }
}
