//! Hostile HTTP against the real server, each attack repeated while a healthy tenant prices a
//! real fixture: deep nesting, 100 MB bodies (declared and chunked), bodies that lie about
//! their length, 10,000 headers, a head trickled one byte a second, 1,000 idle connections.
//!
//! Each prints what it tried, what every attack round got, and the healthy latency before
//! and during (run with `-- --nocapture --test-threads=1` to read the figures). Single
//! answers to these inputs are pinned in http_routes.rs, http_rating.rs and
//! http_connections.rs; these add "many at once, others unaffected".

mod support;

use std::time::{Duration, Instant};

use support::attack::{answer_of, healthy, scenario, server, status_and_code};
use support::{Client, get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous: a healthy request taking longer than this during an attack is a failure.
const BOUND: Duration = Duration::from_secs(2);
const N: usize = 200;
const MIB: usize = 1 << 20;

fn rate_raw(body: &[u8]) -> Vec<u8> {
    post(
        "/rate",
        "application/json",
        "x-smp-key: healthy-tenant\r\n",
        body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_is_400_and_others_unaffected() {
    let s = server(&[("RATER_MAX_BODY_BYTES", "4194304")]).await;
    // Arrays at the top, and objects inside a field value where serde skips them.
    let arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let objects = format!(
        r#"{{"policy":{{"characteristics":[{{"fieldValues":{{"x":{}1{}}}}}]}}}}"#,
        r#"{"a":"#.repeat(100_000),
        "}".repeat(100_000)
    );
    let bodies = [rate_raw(arrays.as_bytes()), rate_raw(objects.as_bytes())];
    let out = scenario(
        &s,
        "deep-nesting",
        "100,000 nested arrays, and 100,000 nested objects in a field value",
        N,
        2,
        move |addr| {
            let bodies = bodies.clone();
            async move {
                let a = answer_of(addr, &bodies[0]).await;
                let b = answer_of(addr, &bodies[1]).await;
                format!("{a} / {b}")
            }
        },
    )
    .await;
    assert_eq!(
        out.unexpected(&["400 malformed_json / 400 malformed_json"]),
        []
    );
    out.assert_healthy(BOUND);
    s.stop().await;
}

/// Writes `head` then up to 100 MB of `chunk`s while a reader collects the answer; returns
/// the answer and how many body bytes the server let in before closing.
async fn flood(addr: std::net::SocketAddr, head: Vec<u8>, chunk: Vec<u8>) -> (String, usize) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    // The reader runs beside the writer: the server answers early and closes, and an
    // answer left unread when the reset arrives would be lost.
    let reader = tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), rd.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break,
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        text.split(' ').nth(1).unwrap_or("closed").to_owned()
    });
    let mut sent = 0;
    if wr.write_all(&head).await.is_ok() {
        while sent < 100 * MIB {
            match tokio::time::timeout(Duration::from_secs(5), wr.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                _ => break,
            }
        }
    }
    let status = reader.await.unwrap();
    (status, sent)
}

fn bucket(sent: usize) -> String {
    let mib = sent.div_ceil(MIB).max(1).next_power_of_two();
    format!("<= {mib} MiB taken")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabyte_bodies_are_413_and_others_unaffected() {
    // The production limit (4 MiB), not the tests' 4 KiB.
    let s = server(&[("RATER_MAX_BODY_BYTES", "4194304")]).await;
    let declared = scenario(
        &s,
        "100MB-content-length",
        "Content-Length: 100000000, then the body streamed in 64 KiB writes",
        N,
        1,
        |addr| async move {
            let head = "POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                        x-smp-key: healthy-tenant\r\nContent-Length: 100000000\r\n\r\n";
            let (status, sent) = flood(addr, head.into(), vec![b' '; 64 * 1024]).await;
            format!("{status}, {}", bucket(sent))
        },
    )
    .await;
    let chunked = scenario(
        &s,
        "100MB-chunked",
        "Transfer-Encoding: chunked, 64 KiB chunks up to 100 MB",
        N,
        1,
        |addr| async move {
            let head = "POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                        x-smp-key: healthy-tenant\r\nTransfer-Encoding: chunked\r\n\r\n";
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend(std::iter::repeat_n(b' ', 64 * 1024));
            chunk.extend_from_slice(b"\r\n");
            let (status, sent) = flood(addr, head.into(), chunk).await;
            format!("{status}, {}", bucket(sent))
        },
    )
    .await;
    for out in [&declared, &chunked] {
        // The server stops reading at the limit: a few MiB at most get in (plus what the
        // kernel's socket buffers hold), never the 100 MB.
        let bad: Vec<_> = out
            .rounds
            .keys()
            .filter(|k| !k.starts_with("413,") || k.ends_with("64 MiB taken") || k.contains("128"))
            .collect();
        assert!(bad.is_empty(), "{:?}", out.rounds);
        out.assert_healthy(BOUND);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_lie_about_their_length_get_4xx() {
    let s = server(&[("RATER_REQUEST_DEADLINE_MS", "500")]).await;
    // Shorter than declared: the client stops sending. The request deadline ends it with a
    // 408 (the client's fault), not a 503 (which would read as "the rater is down").
    let short = scenario(
        &s,
        "body-shorter-than-declared",
        "Content-Length: 1000 with 20 bytes sent, then silence (deadline 500 ms)",
        N,
        20,
        |addr| async move {
            let mut raw = "POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                           x-smp-key: healthy-tenant\r\nContent-Length: 1000\r\n\r\n"
                .as_bytes()
                .to_vec();
            raw.extend_from_slice(br#"{"policy": {"a": 1}"#);
            answer_of(addr, &raw).await
        },
    )
    .await;
    assert_eq!(short.unexpected(&["408 body_timeout"]), []);
    short.assert_healthy(BOUND);

    // Longer than declared: the declared bytes are the body, the rest is read as the next
    // request on the connection, which is not HTTP: hyper answers 400 and closes.
    let long = scenario(
        &s,
        "body-longer-than-declared",
        "Content-Length: 2 followed by 2,000 bytes of JSON",
        N,
        4,
        |addr| async move {
            let mut raw = "POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                           x-smp-key: healthy-tenant\r\nContent-Length: 2\r\n\r\n"
                .as_bytes()
                .to_vec();
            raw.extend_from_slice(b"{}");
            raw.extend_from_slice(format!(r#"{{"pad":"{}"}}"#, "x".repeat(2000)).as_bytes());
            let mut c = Client::connect(addr).await;
            c.write(&raw).await;
            let first = match c.response().await {
                Some(r) => status_and_code(&r),
                None => "closed".into(),
            };
            let second = match c.response().await {
                Some(r) => status_and_code(&r),
                None => "closed".into(),
            };
            let closed = c.closed_within(Duration::from_secs(2)).await;
            format!("{first} / {second} / closed={closed}")
        },
    )
    .await;
    assert_eq!(
        long.unexpected(&["400 invalid_request / 400 / closed=true"]),
        []
    );
    long.assert_healthy(BOUND);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_headers_are_431_and_others_unaffected() {
    let s = server(&[]).await;
    let mut raw = String::from(
        "POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n",
    );
    for i in 0..10_000 {
        raw.push_str(&format!("x-h{i}: v\r\n"));
    }
    raw.push_str("\r\n{}");
    let raw = raw.into_bytes();
    let out = scenario(
        &s,
        "10k-headers",
        "a POST /rate with 10,000 header fields (108 KB head)",
        N,
        2,
        move |addr| {
            let raw = raw.clone();
            async move { answer_of(addr, &raw).await }
        },
    )
    .await;
    assert_eq!(out.unexpected(&["431"]), []);
    out.assert_healthy(BOUND);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_trickled_one_byte_a_second_is_cut_off() {
    let s = server(&[("RATER_HEADER_TIMEOUT_MS", "400")]).await;
    let out = scenario(
        &s,
        "trickled-head",
        "50 connections each sending its request head one byte per second",
        N.max(400),
        50,
        |addr| async move {
            let head = b"POST /rate HTTP/1.1\r\nHost: t\r\nx-smp-key: healthy-tenant\r\n\r\n";
            let mut c = Client::connect(addr).await;
            let t = Instant::now();
            for &b in head.iter() {
                if c.stream.write_all(&[b]).await.is_err() {
                    break;
                }
                if c.closed_within(Duration::from_secs(1)).await {
                    break;
                }
            }
            let took = t.elapsed();
            if took < Duration::from_secs(3) {
                "cut off within 3 s".into()
            } else {
                format!("held {:?}", took)
            }
        },
    )
    .await;
    assert_eq!(out.unexpected(&["cut off within 3 s"]), []);
    out.assert_healthy(BOUND);
    s.stop().await;
}

/// 1,000 keep-alive connections, each idle after one request: others are served meanwhile,
/// and the server closes every one at the idle timeout, so 1,000 more fit afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_idle_connections_are_held_then_freed() {
    let s = server(&[
        ("RATER_MAX_CONNECTIONS", "1010"),
        ("RATER_IDLE_TIMEOUT_MS", "1500"),
        ("RATER_HEADER_TIMEOUT_MS", "5000"),
    ])
    .await;
    let baseline = healthy(s.addr, N).await;
    // The healthy client's connection and 1,000 idle ones: 1,001 of 1,010 slots.
    let open = |n: usize| {
        let addr = s.addr;
        async move {
            let mut conns = Vec::with_capacity(n);
            let mut served = 0;
            for _ in 0..n {
                let mut c = Client::connect(addr).await;
                c.write(&get("/health")).await;
                if let Ok(Some(r)) =
                    tokio::time::timeout(Duration::from_secs(5), c.response()).await
                    && r.status == 200
                {
                    served += 1;
                }
                conns.push(c);
            }
            (conns, served)
        }
    };
    let t = Instant::now();
    let (mut idle, served) = open(1000).await;
    let opened_in = t.elapsed();
    let during = healthy(s.addr, N).await;
    // Every idle connection is closed by the server, none by us.
    let mut closed = 0;
    for c in &mut idle {
        if c.closed_within(Duration::from_secs(5)).await {
            closed += 1;
        }
    }
    let freed_in = t.elapsed();
    drop(idle);
    let (again, served_again) = open(1000).await;
    drop(again);
    let after = healthy(s.addr, N).await;
    println!(
        "[1000-idle] tried: 1,000 keep-alive connections idle after one GET /health (limit 1,010, idle timeout 1.5 s)\n\
         [1000-idle] opened and served {served}/1000 in {opened_in:?}; server closed {closed}/1000 by {freed_in:?}; a second 1,000 served {served_again}/1000\n\
         [1000-idle] healthy before: {baseline}\n[1000-idle] healthy while held: {during}\n[1000-idle] healthy after: {after}\n\
         [1000-idle] ratio during/before: p50 x{:.2}, p99 x{:.2}",
        during.p50.as_secs_f64() / baseline.p50.as_secs_f64(),
        during.p99.as_secs_f64() / baseline.p99.as_secs_f64(),
    );
    assert_eq!(served, 1000);
    assert_eq!(closed, 1000, "idle connections left open");
    assert_eq!(served_again, 1000, "slots were not freed");
    for l in [&baseline, &during, &after] {
        assert_eq!(l.failed, 0, "{l}");
        assert!(l.max < BOUND, "{l}");
    }
    s.stop().await;
}
