//! Downloading bundles (`src/bundle/fetch.rs`) from a real HTTPS server on loopback, with a
//! certificate made here and trusted through `RATER_PLAN_CA_FILE`: statuses, timeouts,
//! redirects (to itself, to http, to a private address), size caps, `304`, where the token
//! goes, and the address checks. Each test counts the requests the server saw.

mod support;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rater::bundle::fetch::{BundleFetcher, FetchConfig, FetchError, Fetched, Validators};
use rater::tenant::Secret;
use support::bundle_server::{Behaviour, Tls, start_tls};

fn fetcher(tls: &Tls, allow: &[&str], timeout: Duration) -> BundleFetcher {
    BundleFetcher::new(FetchConfig {
        allow_hosts: allow.iter().map(|h| h.to_string()).collect::<HashSet<_>>(),
        ca_file: Some(tls.ca_file.clone()),
        connect_timeout: Duration::from_secs(2),
        timeout,
        max_bytes: 1 << 20,
    })
    .unwrap()
}

const ALLOW: &[&str] = &["localhost", "127.0.0.1"];

fn url(tls: &Tls, path: &str) -> String {
    format!("https://localhost:{}{path}", tls.addr.port())
}

/// A download gives the bytes and the `ETag`; asked again with it, the server's `304`
/// is `NotModified`. Two requests, two answers.
#[tokio::test]
async fn download_then_not_modified() {
    let tls = start_tls("304").await;
    tls.server.set(
        "/b.tar.gz",
        Behaviour::Bundle(b"bundle-bytes".to_vec(), "\"v1\""),
    );
    let f = fetcher(&tls, ALLOW, Duration::from_secs(5));
    let Fetched::Body { bytes, validators } =
        f.fetch(&url(&tls, "/b.tar.gz"), None, None).await.unwrap()
    else {
        panic!("expected a body");
    };
    assert_eq!(bytes, b"bundle-bytes");
    assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
    let again = f
        .fetch(&url(&tls, "/b.tar.gz"), None, Some(&validators))
        .await
        .unwrap();
    assert!(matches!(again, Fetched::NotModified));
    let stale = Validators {
        etag: Some("\"v0\"".into()),
        last_modified: None,
    };
    let changed = f
        .fetch(&url(&tls, "/b.tar.gz"), None, Some(&stale))
        .await
        .unwrap();
    assert!(matches!(changed, Fetched::Body { .. }));
    assert_eq!(tls.server.hits("/b.tar.gz"), 3);
}

/// 500 and 503 are errors with their status; one request each (no retry inside a fetch).
#[tokio::test]
async fn error_statuses() {
    let tls = start_tls("status").await;
    let f = fetcher(&tls, ALLOW, Duration::from_secs(5));
    for code in [500, 503, 404] {
        let path = format!("/s{code}");
        if code != 404 {
            tls.server.set(&path, Behaviour::Status(code));
        }
        let err = f.fetch(&url(&tls, &path), None, None).await.unwrap_err();
        assert_eq!(err.to_string(), format!("plan URL answered HTTP {code}"));
        assert_eq!(tls.server.hits(&path), 1);
    }
}

/// A server that never answers, or answers after the timeout, is a timeout at the total
/// budget (not at reqwest's per-hop one, and not hanging the caller).
#[tokio::test]
async fn hanging_and_slow_servers_time_out() {
    let tls = start_tls("hang").await;
    tls.server.set("/hang", Behaviour::Hang);
    tls.server
        .set("/slow", Behaviour::Slow(Duration::from_secs(3)));
    let f = fetcher(&tls, ALLOW, Duration::from_millis(400));
    for path in ["/hang", "/slow"] {
        let started = std::time::Instant::now();
        let err = f.fetch(&url(&tls, path), None, None).await.unwrap_err();
        assert_eq!(err.code(), "timeout", "{err}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(350) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert_eq!(tls.server.hits(path), 1);
    }
    tls.server
        .set("/slowish", Behaviour::Slow(Duration::from_millis(50)));
    assert!(f.fetch(&url(&tls, "/slowish"), None, None).await.is_ok());
}

/// A redirect loop stops after 3 redirects (4 requests); a redirect to http or to a
/// private address is refused before any request is sent there.
#[tokio::test]
async fn redirects_are_bounded_and_checked() {
    let tls = start_tls("redirect").await;
    tls.server.set("/loop", Behaviour::Redirect("/loop".into()));
    tls.server.set(
        "/to-http",
        Behaviour::Redirect(format!("http://localhost:{}/b", tls.addr.port())),
    );
    tls.server.set(
        "/to-private",
        Behaviour::Redirect("https://10.0.0.1/b".into()),
    );
    tls.server.set(
        "/to-metadata",
        Behaviour::Redirect("https://169.254.169.254/latest/meta-data".into()),
    );
    let f = fetcher(&tls, ALLOW, Duration::from_secs(5));
    let err = f.fetch(&url(&tls, "/loop"), None, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan URL redirect refused: too many redirects"
    );
    assert_eq!(tls.server.hits("/loop"), 4);

    let err = f
        .fetch(&url(&tls, "/to-http"), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan URL redirect refused: from https to http"
    );
    assert_eq!(tls.server.hits("/b"), 0);

    let err = f
        .fetch(&url(&tls, "/to-private"), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan URL host 10.0.0.1 is refused: a private address"
    );
    let err = f
        .fetch(&url(&tls, "/to-metadata"), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan URL host 169.254.169.254 is refused: a cloud metadata address"
    );
    assert_eq!(tls.server.total.load(Ordering::SeqCst), 4 + 3);
}

/// The token goes to the planUrl's origin only: a redirect to another host (here
/// `127.0.0.1` from `localhost`, both allowed) is followed without it.
#[tokio::test]
async fn the_token_stays_with_its_origin() {
    let tls = start_tls("token").await;
    let port = tls.addr.port();
    tls.server.set(
        "/start",
        Behaviour::Redirect(format!("https://127.0.0.1:{port}/b")),
    );
    tls.server
        .set("/b", Behaviour::Bundle(b"x".to_vec(), "\"1\""));
    let f = fetcher(&tls, ALLOW, Duration::from_secs(5));
    let token = Secret::new("tok-of-acme");
    let got = f
        .fetch(&url(&tls, "/start"), Some(&token), None)
        .await
        .unwrap();
    assert!(matches!(got, Fetched::Body { .. }));
    let auth = tls.server.auth.lock().unwrap().clone();
    assert_eq!(auth, vec![Some("Bearer tok-of-acme".to_owned()), None]);
}

/// Over the cap: refused from the `Content-Length`, or while streaming a chunked body.
#[tokio::test]
async fn oversized_bodies_stop_at_the_cap() {
    let tls = start_tls("size").await;
    tls.server
        .set("/big", Behaviour::Bundle(vec![0; (1 << 20) + 1], "\"b\""));
    tls.server.set("/chunked", Behaviour::Chunked(3 << 20));
    let f = fetcher(&tls, ALLOW, Duration::from_secs(5));
    for path in ["/big", "/chunked"] {
        let err = f.fetch(&url(&tls, path), None, None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "plan bundle is over the limit of 1048576 bytes"
        );
        assert_eq!(tls.server.hits(path), 1);
    }
}

/// Without the allow list, loopback is refused whether named (`localhost`, checked in the
/// resolver, so at connect time) or literal; plain http is refused; no request is sent.
#[tokio::test]
async fn private_hosts_and_plain_http_are_refused_unless_allowed() {
    let tls = start_tls("deputy").await;
    tls.server
        .set("/b", Behaviour::Bundle(b"x".to_vec(), "\"1\""));
    let f = fetcher(&tls, &[], Duration::from_secs(5));
    let port = tls.addr.port();
    let err = f
        .fetch(&format!("https://localhost:{port}/b"), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plan URL host localhost is refused: a loopback address"
    );
    let err = f
        .fetch(&format!("https://127.0.0.1:{port}/b"), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden_host");
    let err = f
        .fetch(&format!("https://[::1]:{port}/b"), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden_host");
    let err = f
        .fetch(&format!("http://example.com:{port}/b"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::BadUrl { .. }), "{err}");
    let err = f.fetch("file:///etc/passwd", None, None).await.unwrap_err();
    assert!(matches!(err, FetchError::BadUrl { .. }), "{err}");
    assert_eq!(tls.server.total.load(Ordering::SeqCst), 0);
    // The same URL with the host allowed is fetched.
    let f = fetcher(&tls, &["localhost"], Duration::from_secs(5));
    assert!(
        f.fetch(&format!("https://localhost:{port}/b"), None, None)
            .await
            .is_ok()
    );
}
