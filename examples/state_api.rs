//! A stand-in for the platform's State API, for load and fault tests (`loadtest/`): serves
//! `GET /state/{key}` for generated tenants and can be switched at run time into the faults
//! the rater must survive.
//!
//! ```text
//! cargo run --release --example state_api -- [PORT] [TENANTS]
//! curl -X POST localhost:PORT/_admin/mode -d 'slow:500'   # normal | slow:MS | status:CODE | hang
//! curl localhost:PORT/_admin/calls                        # State API calls served so far
//! ```
//!
//! Tenants are `tenant-0` .. `tenant-{N-1}`; their `ratePlan` cycles through
//! `personal-auto`, `socotra-reference`; every tenant has the secret-looking token
//! `token-of-<key>` and a `password-setting`, so log scans can look for them.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::RwLock;

#[derive(Clone, Debug, PartialEq)]
enum Mode {
    Normal,
    Slow(Duration),
    Status(u16),
    Hang,
}

struct Shared {
    tenants: usize,
    mode: RwLock<Mode>,
    calls: AtomicU64,
}

const PLANS: [&str; 2] = ["personal-auto", "socotra-reference"];

fn state_of(key: &str, tenants: usize) -> Option<String> {
    let n: usize = key.strip_prefix("tenant-")?.parse().ok()?;
    (n < tenants).then(|| {
        format!(
            r#"{{"socotraApiUrl":"http://127.0.0.1:9","tenantHostName":"{key}.local","token":"token-of-{key}","settings":{{"ratePlan":"{}","password-setting":"password-of-{key}"}}}}"#,
            PLANS[n % PLANS.len()]
        )
    })
}

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("static header"),
    );
    r
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/_admin/mode" {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body).trim().to_owned();
        let mode = match text.split_once(':') {
            None if text == "normal" => Some(Mode::Normal),
            None if text == "hang" => Some(Mode::Hang),
            Some(("slow", ms)) => ms
                .parse()
                .ok()
                .map(|ms| Mode::Slow(Duration::from_millis(ms))),
            Some(("status", code)) => code.parse().ok().map(Mode::Status),
            _ => None,
        };
        return Ok(match mode {
            Some(m) => {
                eprintln!("state-api: mode {m:?}");
                *shared.mode.write().await = m;
                answer(StatusCode::OK, "{}".into())
            }
            None => answer(
                StatusCode::BAD_REQUEST,
                format!("{{\"error\":\"bad mode {text:?}\"}}"),
            ),
        });
    }
    if path == "/_admin/calls" {
        return Ok(answer(
            StatusCode::OK,
            shared.calls.load(Ordering::Relaxed).to_string(),
        ));
    }
    let Some(key) = path.strip_prefix("/state/") else {
        return Ok(answer(StatusCode::NOT_FOUND, "{}".into()));
    };
    shared.calls.fetch_add(1, Ordering::Relaxed);
    let mode = shared.mode.read().await.clone();
    match mode {
        Mode::Normal => {}
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(answer(status, "{\"error\":\"injected\"}".into()));
        }
        Mode::Hang => std::future::pending::<()>().await,
    }
    Ok(match state_of(key, shared.tenants) {
        Some(body) => answer(StatusCode::OK, body),
        None => answer(StatusCode::NOT_FOUND, "{\"error\":\"unknown key\"}".into()),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(18080);
    let tenants: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let shared = Arc::new(Shared {
        tenants,
        mode: RwLock::new(Mode::Normal),
        calls: AtomicU64::new(0),
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("state-api: {tenants} tenants on http://127.0.0.1:{port}");
    loop {
        let (stream, _) = listener.accept().await?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
