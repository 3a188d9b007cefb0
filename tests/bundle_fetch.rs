//! Downloading bundles (`src/bundle/fetch.rs`) from a real HTTPS server on loopback, with a
//! certificate made here and trusted through `RATER_PLAN_CA_FILE`: statuses, timeouts,
//! redirects (to itself, to http, to a private address), size caps, `304`, where the token
//! goes, and the address checks. Each test counts the requests the server saw.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rater::bundle::fetch::{BundleFetcher, FetchConfig, FetchError, Fetched, Validators};
use rater::tenant::Secret;

/// What the server answers on one path.
#[derive(Clone)]
enum Behaviour {
    /// 200 with these bytes and `ETag`; 304 when `If-None-Match` matches.
    Bundle(Vec<u8>, &'static str),
    Status(u16),
    Hang,
    Slow(Duration),
    Redirect(String),
    /// 200 with a body of this many bytes, chunked (no length).
    Chunked(usize),
}

#[derive(Default)]
struct Server {
    paths: Mutex<HashMap<String, Behaviour>>,
    hits: Mutex<HashMap<String, usize>>,
    /// The `Authorization` header of each request, in order.
    auth: Mutex<Vec<Option<String>>>,
    total: AtomicUsize,
}

impl Server {
    fn set(&self, path: &str, b: Behaviour) {
        self.paths.lock().unwrap().insert(path.to_owned(), b);
    }
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

struct Tls {
    server: Arc<Server>,
    addr: SocketAddr,
    ca_file: std::path::PathBuf,
}

async fn answer(server: Arc<Server>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    server.total.fetch_add(1, Ordering::SeqCst);
    *server.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    server.auth.lock().unwrap().push(
        req.headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let behaviour = server.paths.lock().unwrap().get(&path).cloned();
    let status = |code: u16| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
        r
    };
    match behaviour {
        None => status(404),
        Some(Behaviour::Bundle(bytes, etag)) => {
            if req
                .headers()
                .get("if-none-match")
                .is_some_and(|v| v == etag)
            {
                return status(304);
            }
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            r.headers_mut().insert("etag", etag.parse().unwrap());
            r
        }
        Some(Behaviour::Status(code)) => status(code),
        Some(Behaviour::Hang) => std::future::pending().await,
        Some(Behaviour::Slow(d)) => {
            tokio::time::sleep(d).await;
            Response::new(Full::new(Bytes::from_static(b"slow")))
        }
        Some(Behaviour::Redirect(to)) => {
            let mut r = status(302);
            r.headers_mut().insert("location", to.parse().unwrap());
            r
        }
        Some(Behaviour::Chunked(n)) => {
            // A `Full` body of known size would carry a length; strip it by hand below.
            let mut r = Response::new(Full::new(Bytes::from(vec![b'x'; n])));
            r.headers_mut()
                .insert("transfer-encoding", "chunked".parse().unwrap());
            r
        }
    }
}

/// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate for `localhost` and
/// `127.0.0.1`, written as PEM for `RATER_PLAN_CA_FILE`.
async fn start_tls(name: &str) -> Tls {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let ca_file =
        std::env::temp_dir().join(format!("rater-fetch-{}-{name}.pem", std::process::id()));
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server::default());
    let s = server.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let s = s.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(s, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Tls {
        server,
        addr,
        ca_file,
    }
}

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
