//! Shared harness of the HTTP tests: the real server on `127.0.0.1:0` with small timeouts,
//! and a raw HTTP/1.1 client over `TcpStream` so tests control every byte.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rater::config::Config;
use rater::http::{AppState, TenantSetup, server, tenant_cache};
use rater::plan::{PlanSet, load_dir};

use super::state_api::StateApi;

/// Every plan in the repository's `rating-tables/`.
pub fn bundled_plans() -> PlanSet {
    load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables"))
        .unwrap_or_else(|e| panic!("bundled plans load:\n{e}"))
}
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Settings of every test server unless a test overrides them: short timeouts keep each
/// test well under a few seconds.
const TEST_DEFAULTS: [(&str, &str); 7] = [
    ("RATER_HEADER_TIMEOUT_MS", "400"),
    ("RATER_IDLE_TIMEOUT_MS", "3000"),
    ("RATER_REQUEST_DEADLINE_MS", "3000"),
    ("RATER_SHUTDOWN_GRACE_MS", "100"),
    ("RATER_DRAIN_TIMEOUT_MS", "2000"),
    ("RATER_MAX_BODY_BYTES", "4096"),
    ("RATER_MAX_CONNECTIONS", "64"),
];

/// A running server; dropping it without [`TestServer::stop`] aborts it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    /// The State API stand-in the server's tenant cache calls (no tenants until a test puts
    /// some).
    pub state_api: StateApi,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// Starts a ready server (plans loaded, the stub tenant cache) with `overrides`.
pub async fn start(overrides: &[(&'static str, &'static str)]) -> TestServer {
    start_with(overrides, true).await
}

/// Starts a server; `ready` says whether plans are loaded.
pub async fn start_with(overrides: &[(&'static str, &'static str)], ready: bool) -> TestServer {
    let state_api = StateApi::start().await;
    let api_url = state_api.url();
    let mut map: HashMap<&str, &str> = TEST_DEFAULTS.into_iter().collect();
    map.insert("SMP_STATE_API", &api_url);
    map.extend(overrides.iter().copied());
    let config = Config::from_lookup(&map).expect("test config is valid");
    let setup = TenantSetup::from_lookup(|k| map.get(k).map(|v| v.to_string()), None)
        .expect("test tenant setup is valid");
    let state = AppState::new(config, setup.clone());
    if ready {
        let cache = tenant_cache(Arc::new(bundled_plans()), &setup);
        state.set_ready(Arc::new(cache));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server::run(listener, state.clone(), async {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        state,
        state_api,
        stop: Some(tx),
        handle: Some(handle),
    }
}

impl TestServer {
    /// The shutdown signal (what SIGTERM does in the binary).
    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// The task running `server::run`, to await its return.
    pub fn take_handle(&mut self) -> JoinHandle<()> {
        self.handle.take().expect("handle already taken")
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        self.signal_shutdown();
        let handle = self.take_handle();
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("run returns after shutdown")
            .unwrap();
    }

    /// A new connection.
    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// One request on a new connection.
    pub async fn send(&self, raw: &[u8]) -> Response {
        let mut c = self.connect().await;
        c.write(raw).await;
        c.response().await.expect("a response")
    }

    /// Checks the server still answers `/health` on a new connection.
    pub async fn assert_alive(&self) {
        let r = self.send(&get("/health")).await;
        assert_eq!(r.status, 200, "server stopped answering /health");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// A raw `GET`.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// A raw `POST` of `body` with extra header lines (each ending in `\r\n`).
pub fn post(path: &str, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// An HTTP response as received.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// One client connection with its read buffer.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).await.unwrap())
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        let _ = stream.set_nodelay(true);
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes all of `raw`; a failed write (the server closed) is ignored so that the
    /// response already sent can still be read.
    pub async fn write(&mut self, raw: &[u8]) {
        let _ = self.stream.write_all(raw).await;
    }

    /// Reads one response; `None` when the connection closes (or resets) first.
    pub async fn response(&mut self) -> Option<Response> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while self.buf.len() < head_end + len {
            if !self.fill().await {
                return None;
            }
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        Some(Response {
            status,
            headers,
            body,
        })
    }

    /// Whether the server closes the connection within `within` (EOF or reset, with no
    /// further response bytes).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        matches!(tokio::time::timeout(within, self.fill()).await, Ok(false))
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
