//! Connection-level behaviour against the real server on a loopback port: header limits,
//! the header-read, idle and request timeouts, the connection limit, and graceful shutdown.

mod support;

use std::time::{Duration, Instant};

use support::{Client, get, start};
use tokio::io::AsyncWriteExt;

/// A request head over the 64 KiB limit: hyper answers 431.
#[tokio::test]
async fn huge_header_block_is_431() {
    let s = start(&[]).await;
    let mut c = s.connect().await;
    let raw = format!(
        "GET /health HTTP/1.1\r\nHost: t\r\nx-big: {}\r\n\r\n",
        "a".repeat(80 * 1024)
    );
    c.write(raw.as_bytes()).await;
    let r = c.response().await.expect("a 431 answer");
    assert_eq!(r.status, 431);
    s.assert_alive().await;
    s.stop().await;
}

/// 10,000 header fields (hyper parses at most 100): 431.
#[tokio::test]
async fn ten_thousand_headers_is_431() {
    let s = start(&[]).await;
    let mut c = s.connect().await;
    let mut raw = String::from("GET /health HTTP/1.1\r\nHost: t\r\n");
    for i in 0..10_000 {
        raw.push_str(&format!("x-h{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    c.write(raw.as_bytes()).await;
    let r = c.response().await.expect("a 431 answer");
    assert_eq!(r.status, 431);
    s.assert_alive().await;
    s.stop().await;
}

/// A client trickling its head one byte at a time is cut off at the header timeout
/// (400 ms in tests), long before it would finish.
#[tokio::test]
async fn trickled_header_is_cut_off_at_the_header_timeout() {
    let s = start(&[("RATER_HEADER_TIMEOUT_MS", "300")]).await;
    let mut c = s.connect().await;
    let head = b"GET /health HTTP/1.1\r\nHost: trickle\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    let mut cut_off = false;
    for &byte in head.iter() {
        if c.stream.write_all(&[byte]).await.is_err() {
            cut_off = true;
            break;
        }
        if c.closed_within(Duration::from_millis(40)).await {
            cut_off = true;
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(cut_off, "the server waited for the whole trickled head");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(1500),
        "cut off after {elapsed:?}"
    );
    s.assert_alive().await;
    s.stop().await;
}

/// An idle keep-alive connection is closed after the idle timeout, not before.
#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let s = start(&[
        ("RATER_IDLE_TIMEOUT_MS", "300"),
        ("RATER_HEADER_TIMEOUT_MS", "5000"),
    ])
    .await;
    let mut c = s.connect().await;
    c.write(&get("/health")).await;
    assert_eq!(c.response().await.unwrap().status, 200);
    let idle_from = Instant::now();
    assert!(
        !c.closed_within(Duration::from_millis(150)).await,
        "closed before the idle timeout"
    );
    assert!(
        c.closed_within(Duration::from_millis(1000)).await,
        "idle connection left open"
    );
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_millis(280), "closed after {idle:?}");
    s.assert_alive().await;
    s.stop().await;
}

/// Activity restarts the idle clock: requests every 200 ms keep a 300 ms-idle connection.
#[tokio::test]
async fn active_connection_is_kept() {
    let s = start(&[("RATER_IDLE_TIMEOUT_MS", "300")]).await;
    let mut c = s.connect().await;
    for _ in 0..4 {
        c.write(&get("/health")).await;
        assert_eq!(c.response().await.expect("still open").status, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.stop().await;
}

/// With the limit at 2, a third connection is not served until one of the two closes.
#[tokio::test]
async fn connection_limit_is_honoured() {
    let s = start(&[("RATER_MAX_CONNECTIONS", "2")]).await;
    let mut a = s.connect().await;
    let mut b = s.connect().await;
    a.write(&get("/health")).await;
    b.write(&get("/health")).await;
    assert_eq!(a.response().await.unwrap().status, 200);
    assert_eq!(b.response().await.unwrap().status, 200);

    // The kernel completes the handshake, but the server does not accept it.
    let mut third = s.connect().await;
    third.write(&get("/health")).await;
    let waited = tokio::time::timeout(Duration::from_millis(300), third.response()).await;
    assert!(
        waited.is_err(),
        "a third connection was served over the limit"
    );

    drop(a);
    let r = tokio::time::timeout(Duration::from_secs(2), third.response())
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(r.status, 200);
    drop(b);
    s.stop().await;
}

/// A body that does not arrive within the request deadline: 408 `body_timeout` (the
/// client's fault; a 503 would tell Socotra and monitors that the rater is down).
#[tokio::test]
async fn body_not_arriving_by_the_deadline_is_408() {
    let s = start(&[("RATER_REQUEST_DEADLINE_MS", "300")]).await;
    let mut c = s.connect().await;
    c.write(
        b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 10\r\n\r\n{",
    )
    .await;
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(2), c.response())
        .await
        .expect("answered at the deadline")
        .unwrap();
    assert_eq!((r.status, r.code().as_str()), (408, "body_timeout"));
    assert!(started.elapsed() >= Duration::from_millis(250));
    s.assert_alive().await;
    s.stop().await;
}

/// A tenant lookup that outlasts the request deadline (the State API is slow and nothing is
/// cached): 503 `deadline_exceeded` with Retry-After, at the deadline.
#[tokio::test]
async fn tenant_lookup_past_the_deadline_is_503() {
    let s = start(&[("RATER_REQUEST_DEADLINE_MS", "300")]).await;
    s.state_api.put("slow", serde_json::json!({"settings": {}}));
    s.state_api
        .set_mode(support::Mode::Slow(Duration::from_millis(1500)));
    let started = Instant::now();
    let r = s
        .send(&support::post(
            "/rate",
            "application/json",
            "x-smp-key: slow\r\n",
            b"{}",
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (503, "deadline_exceeded"));
    assert_eq!(r.header("retry-after"), Some("1"));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1400),
        "{took:?}"
    );
    s.assert_alive().await;
    s.stop().await;
}

/// The shutdown signal during a stream of requests: `/ready` turns 503 at once while the
/// server still answers during the grace; then it stops accepting; every request already
/// accepted (here: still sending its body) is answered; and `run` returns.
#[tokio::test]
async fn shutdown_loses_no_accepted_request() {
    let mut s = start(&[
        ("RATER_SHUTDOWN_GRACE_MS", "300"),
        ("RATER_DRAIN_TIMEOUT_MS", "3000"),
    ])
    .await;
    // A stream of keep-alive requests, and requests in flight with half their body sent.
    let mut streaming = s.connect().await;
    let mut in_flight = Vec::new();
    for _ in 0..5 {
        let mut c = s.connect().await;
        c.write(
            b"POST /rate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 2\r\n\r\n{",
        )
        .await;
        in_flight.push(c);
    }
    for _ in 0..3 {
        streaming.write(&get("/health")).await;
        assert_eq!(streaming.response().await.unwrap().status, 200);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    s.signal_shutdown();
    let run = s.take_handle();
    tokio::time::sleep(Duration::from_millis(50)).await;

    // In the grace period: new connections are served, /ready says 503.
    let r = s.send(&get("/ready")).await;
    assert_eq!((r.status, r.code().as_str()), (503, "draining"));
    assert_eq!(s.send(&get("/health")).await.status, 200);
    streaming.write(&get("/health")).await;
    assert_eq!(streaming.response().await.unwrap().status, 200);

    // After the grace: no longer accepting.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let refused = match tokio::net::TcpStream::connect(s.addr).await {
        Err(_) => true,
        Ok(stream) => {
            let mut c = Client::from_stream(stream);
            c.write(&get("/health")).await;
            c.response().await.is_none()
        }
    };
    assert!(refused, "a new connection was served after the grace");
    assert!(!run.is_finished(), "run returned with requests in flight");

    // The accepted requests finish and are answered, with `connection: close`.
    for c in &mut in_flight {
        c.write(b"}").await;
    }
    for c in &mut in_flight {
        let r = c.response().await.expect("an accepted request was lost");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("connection"), Some("close"));
    }
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("run returns once drained")
        .unwrap();
}

/// The header timer runs only while a head is being received: an idle keep-alive
/// connection outlives a header timeout much shorter than the idle timeout. (hyper's own
/// `header_read_timeout` closes it at the header timeout; that is why the server has its
/// own timer.)
#[tokio::test]
async fn idle_connection_outlives_the_header_timeout() {
    let s = start(&[
        ("RATER_HEADER_TIMEOUT_MS", "200"),
        ("RATER_IDLE_TIMEOUT_MS", "900"),
    ])
    .await;
    let mut c = s.connect().await;
    c.write(&get("/health")).await;
    assert_eq!(c.response().await.unwrap().status, 200);
    assert!(
        !c.closed_within(Duration::from_millis(600)).await,
        "an idle connection was closed at the header timeout"
    );
    c.write(&get("/health")).await;
    assert_eq!(c.response().await.expect("still open").status, 200);
    s.stop().await;
}

/// A client that connects and sends nothing is closed at the header timeout, not kept
/// for the whole idle timeout.
#[tokio::test]
async fn silent_connection_is_closed_at_the_header_timeout() {
    let s = start(&[
        ("RATER_HEADER_TIMEOUT_MS", "200"),
        ("RATER_IDLE_TIMEOUT_MS", "5000"),
    ])
    .await;
    let mut c = s.connect().await;
    let t = Instant::now();
    assert!(c.closed_within(Duration::from_millis(1500)).await);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    s.assert_alive().await;
    s.stop().await;
}

/// Once shutdown begins, answers carry `connection: close` (while the server still accepts
/// during the grace), so clients leave their keep-alive connections before the drain closes
/// idle ones under them.
#[tokio::test]
async fn answers_during_the_grace_say_connection_close() {
    let mut s = start(&[("RATER_SHUTDOWN_GRACE_MS", "500")]).await;
    let mut c = s.connect().await;
    c.write(&get("/health")).await;
    let r = c.response().await.unwrap();
    assert_eq!((r.status, r.header("connection")), (200, None));
    s.signal_shutdown();
    let run = s.take_handle();
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.write(&get("/health")).await;
    let r = c.response().await.expect("answered during the grace");
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    assert!(
        c.closed_within(Duration::from_millis(300)).await,
        "kept open"
    );
    // A new connection during the grace is still served.
    let r = s.send(&get("/health")).await;
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    tokio::time::timeout(Duration::from_secs(3), run)
        .await
        .expect("run returns")
        .unwrap();
}
