//! A stand-in for the platform's State API: a small hyper 1.x server on `127.0.0.1:0` that
//! serves `GET .../state/{key}` from a map, can be switched at runtime to misbehave (slow,
//! 500, 503, hang, malformed JSON, oversized body, unknown key), and counts calls per key.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How the stand-in answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 with the key's state, 404 for keys it does not hold.
    Normal,
    /// Like `Normal`, after this delay (tokio time: paused clocks apply).
    Slow(Duration),
    /// This status with a small JSON error body.
    Status(u16),
    /// Reads the request and never answers.
    Hang,
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with a valid-looking but huge body of this many bytes; `chunked` leaves the length
    /// header out so only reading the body can find out.
    Oversized { bytes: usize, chunked: bool },
    /// 404 for every key.
    UnknownKey,
}

#[derive(Default)]
struct Shared {
    states: HashMap<String, String>,
    mode: Option<Mode>,
    calls: HashMap<String, usize>,
    paths: Vec<String>,
    accepts: Vec<Option<String>>,
}

/// A running stand-in. The server task lives as long as the test's runtime.
#[derive(Clone)]
pub struct StateApi {
    addr: std::net::SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl StateApi {
    /// Binds `127.0.0.1:0` and serves until the runtime ends.
    pub async fn start() -> StateApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let api = StateApi {
            addr,
            shared: shared.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        api
    }

    /// The base URL to use as `SMP_STATE_API` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `state` for `key`.
    pub fn put(&self, key: &str, state: serde_json::Value) {
        self.lock().states.insert(key.to_owned(), state.to_string());
    }

    /// Switches how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = Some(mode);
    }

    /// Calls received for `key` (decoded from the path).
    pub fn calls(&self, key: &str) -> usize {
        self.lock().calls.get(key).copied().unwrap_or(0)
    }

    /// Calls received in all.
    pub fn total_calls(&self) -> usize {
        self.lock().calls.values().sum()
    }

    /// Raw request paths received, in order.
    pub fn paths(&self) -> Vec<String> {
        self.lock().paths.clone()
    }

    /// `Accept` headers received, in order.
    pub fn accepts(&self) -> Vec<Option<String>> {
        self.lock().accepts.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn handle(
    shared: Arc<Mutex<Shared>>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let segment = path.rsplit_once("/state/").map(|(_, k)| k.to_owned());
    let key = segment.as_deref().map(|k| {
        percent_encoding::percent_decode_str(k)
            .decode_utf8_lossy()
            .into_owned()
    });
    let (mode, state) = {
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        s.paths.push(path.clone());
        let accept = req
            .headers()
            .get(hyper::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        s.accepts.push(accept);
        if let Some(key) = &key {
            *s.calls.entry(key.clone()).or_default() += 1;
        }
        let state = key.as_ref().and_then(|k| s.states.get(k).cloned());
        (s.mode.clone().unwrap_or(Mode::Normal), state)
    };
    let normal = |state: Option<String>| match state {
        Some(body) => respond(StatusCode::OK, TestBody::full(body)),
        None => respond(
            StatusCode::NOT_FOUND,
            TestBody::full(r#"{"error":"not found"}"#),
        ),
    };
    let response = match mode {
        Mode::Normal => normal(state),
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            normal(state)
        }
        Mode::Status(code) => respond(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            TestBody::full(r#"{"error":"boom"}"#),
        ),
        Mode::Hang => std::future::pending().await,
        Mode::Malformed => respond(StatusCode::OK, TestBody::full(r#"{"settings": {"a": "#)),
        Mode::Oversized { bytes, chunked } => {
            respond(StatusCode::OK, TestBody::big(bytes, chunked))
        }
        Mode::UnknownKey => respond(StatusCode::NOT_FOUND, TestBody::full("{}")),
    };
    Ok(response)
}

fn respond(status: StatusCode, body: TestBody) -> Response<TestBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A body sent as a list of chunks, with or without a known length.
pub struct TestBody {
    chunks: VecDeque<Bytes>,
    /// `Some(n)`: send a `content-length: n`; `None`: chunked encoding.
    length: Option<u64>,
}

impl TestBody {
    fn full(text: impl Into<String>) -> TestBody {
        let bytes = Bytes::from(text.into());
        TestBody {
            length: Some(bytes.len() as u64),
            chunks: VecDeque::from([bytes]),
        }
    }

    /// `{"settings":{"pad":"xxxx...`, cut into 16 KiB chunks; never valid JSON, but the cap
    /// must trip long before a parser would notice.
    fn big(bytes: usize, chunked: bool) -> TestBody {
        let mut text = String::from(r#"{"settings":{"pad":""#);
        text.extend(std::iter::repeat_n('x', bytes.saturating_sub(text.len())));
        let all = Bytes::from(text);
        let mut chunks = VecDeque::new();
        let mut at = 0;
        while at < all.len() {
            let end = (at + 16 * 1024).min(all.len());
            chunks.push_back(all.slice(at..end));
            at = end;
        }
        TestBody {
            length: (!chunked).then_some(all.len() as u64),
            chunks,
        }
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
