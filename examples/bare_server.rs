//! The ceiling of the HTTP benchmarks (`loadtest/bench-http`): a bare hyper server with the
//! rater's settings (HTTP/1.1, keep-alive, TCP_NODELAY, a multi-thread tokio runtime with one
//! worker per available CPU, mimalloc) that reads the whole request body into one buffer,
//! as the rater does, and answers a fixed JSON body of the rater's answer size. No routing,
//! no tenant lookup, no parsing, no rating: what HTTP and the kernel cost on this machine.
//!
//! ```text
//! cargo run --release --example bare_server -- [PORT] [ANSWER_BYTES]
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A JSON body of exactly `n` bytes (at least the braces), shaped like the rater's answer.
fn answer(n: usize) -> Bytes {
    let head = br#"{"pricedPerilCharacteristics":{"x":{"yearlyPremium":""#;
    let tail = br#""}}}"#;
    let mut body = Vec::with_capacity(n.max(head.len() + tail.len()));
    body.extend_from_slice(head);
    while body.len() + tail.len() < n {
        body.push(b'0');
    }
    body.extend_from_slice(tail);
    Bytes::from(body)
}

async fn handle(
    req: Request<Incoming>,
    answer: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body as the rater does: one buffer sized from Content-Length, every chunk
    // copied in once.
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(16 * 1024);
    let mut buf = Vec::with_capacity(declared);
    let mut body = req.into_body();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    std::hint::black_box(&buf);
    let mut resp = Response::new(Full::new(answer));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10102);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(201);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr).await?;
        let answer = answer(size);
        eprintln!(
            "bare-server: http://{addr}, {workers} worker(s), answers {} bytes",
            answer.len()
        );
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let answer = answer.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(req, answer.clone()));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
