//! Allocation budget of the rating path: a counting global allocator around mimalloc (the
//! binary's allocator) counts heap allocations per rating request in steady state, through
//! `price_request` and through the whole HTTP handler (hyper connection, routing, tenant
//! cache hit, body read, pricing, answer). A count, never a time.
//!
//! Counting is per thread: only allocations made on a thread that turned counting on are
//! counted, so the test harness, other tests and the client side do not pollute the figure.
//! Run with `cargo test --test alloc_budget -- --nocapture` to see the counts.

mod support;

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rater::plan::Selector;
use rater::pricing::{PriceOptions, price_request};

/// The budget: heap allocations per rating request in steady state.
const BUDGET: u64 = 8;

struct Counting;

thread_local! {
    /// Counting this thread's allocations into [`LOCAL`].
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LOCAL: Cell<u64> = const { Cell::new(0) };
    /// This thread is the HTTP test's server: its allocations go to [`SERVER_ALLOCS`].
    static SERVER: Cell<bool> = const { Cell::new(false) };
}
static SERVER_ALLOCS: AtomicU64 = AtomicU64::new(0);

fn counted() {
    // `try_with`: the allocator can run while a thread's locals are being torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = LOCAL.try_with(|n| n.set(n.get() + 1));
    }
    if SERVER.try_with(Cell::get).unwrap_or(false) {
        SERVER_ALLOCS.fetch_add(1, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to mimalloc; counting touches no heap.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts the allocations `f` makes on this thread.
fn count<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = LOCAL.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (LOCAL.with(Cell::get) - before, r)
}

fn requests() -> Vec<(&'static str, PathBuf)> {
    let f = support::fixtures();
    vec![
        (
            "newbusiness2-12KB",
            f.join("rating-ec/ec-rating-request-newbusiness2.json"),
        ),
        (
            "endorsement1-36KB",
            f.join("rating-ec/ec-rating-request-endorsement1.json"),
        ),
        (
            "endorsement1-54KB",
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("loadtest/fixtures/endorsement1-54KB.json"),
        ),
        (
            "variant007-24KB",
            f.join("rating-variants/007.request.json"),
        ),
    ]
}

/// In steady state (after warm-up requests on this thread), one `price_request`, with the
/// caller's output buffer reused as the server reuses nothing else, allocates at most
/// [`BUDGET`] times.
#[test]
fn price_request_allocations_per_request() {
    let mut report = Vec::new();
    for plan in ["personal-auto", "socotra-reference"] {
        let selector = Selector::fixed(support::bundled(plan));
        for (name, path) in requests() {
            let body = std::fs::read(&path).unwrap();
            let mut out = Vec::with_capacity(1024);
            let run = |out: &mut Vec<u8>| {
                out.clear();
                price_request(&selector, &body, out, PriceOptions::default())
            };
            for _ in 0..3 {
                run(&mut out).unwrap();
            }
            let (n, r) = count(|| run(&mut out));
            r.unwrap();
            report.push((format!("price_request {plan:>17} {name:>18}"), n));
        }
    }
    // acme-auto reads field groups, dates, a prefix table, a matrix and named values: every
    // example, priced as a tenant with no `ratePlan` prices it (the edition chosen by the
    // term start, per peril characteristic).
    let plans =
        rater::plan::load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rating-tables"))
            .unwrap();
    let selector = Selector::resolve(&plans, None, &[]);
    for edition in ["acme-auto-2025-07", "acme-auto-2026-01"] {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("rating-tables")
            .join(edition)
            .join("tests");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".request.json"))
            .collect();
        files.sort();
        for path in files {
            let body = std::fs::read(&path).unwrap();
            let mut out = Vec::with_capacity(4096);
            let run = |out: &mut Vec<u8>| {
                out.clear();
                price_request(&selector, &body, out, PriceOptions::default())
            };
            // Refused examples build their error message; only priced ones are counted.
            if run(&mut out).is_err() {
                continue;
            }
            for _ in 0..3 {
                run(&mut out).unwrap();
            }
            let (n, r) = count(|| run(&mut out));
            r.unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            report.push((format!("price_request {edition:>17} {name:>18}"), n));
        }
    }
    for (what, n) in &report {
        println!("{what}: {n} allocations");
    }
    assert!(report.len() >= 4 * 2 + 21, "{} cases counted", report.len());
    // Pricing itself allocates nothing: every buffer it uses is the thread's and reused
    // (ARCHITECTURE.md, "Performance"); the budget above is the whole handler's.
    for (what, n) in &report {
        assert_eq!(*n, 0, "{what}: {n} allocations per request");
    }
}

/// The whole HTTP handler on a current-thread runtime of its own thread (the server side
/// only is counted; the client is a blocking socket on the test thread): per keep-alive
/// request in steady state, including the answer's buffer and hyper's per-request work.
#[test]
fn http_handler_allocations_per_request() {
    let body =
        std::fs::read(support::fixtures().join("rating-ec/ec-rating-request-endorsement1.json"))
            .unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let api = support::StateApi::start().await;
            api.put("alloc-tenant", tenant_state("personal-auto"));
            let url = api.url();
            let map: std::collections::HashMap<&str, &str> = [
                ("SMP_STATE_API", url.as_str()),
                ("RATER_MAX_BODY_BYTES", "1000000"),
            ]
            .into_iter()
            .collect();
            let config = rater::config::Config::from_lookup(&map).unwrap();
            let setup =
                rater::http::TenantSetup::from_lookup(|k| map.get(k).map(|v| v.to_string()), None)
                    .unwrap();
            let state = rater::http::AppState::new(config, setup.clone());
            state.set_ready(Arc::new(rater::http::tenant_cache(
                Arc::new(support::bundled_plans()),
                &setup,
            )));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            // Count only this thread: the server's work.
            SERVER.with(|c| c.set(true));
            rater::http::server::run(listener, state, async {
                let _ = stop_rx.await;
            })
            .await;
            SERVER.with(|c| c.set(false));
            drop(api);
        });
    });
    let addr = addr_rx.recv().unwrap();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let head = format!(
        "POST /rate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-smp-key: alloc-tenant\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let one = |conn: &mut std::net::TcpStream| {
        conn.write_all(&request).unwrap();
        read_response(conn)
    };
    // Warm-up: the tenant fetch, hyper's buffers, the thread-local parse buffers.
    for _ in 0..20 {
        assert!(one(&mut conn).starts_with(b"HTTP/1.1 200"));
    }
    const N: u64 = 50;
    let before = SERVER_ALLOCS.load(Relaxed);
    for _ in 0..N {
        assert!(one(&mut conn).starts_with(b"HTTP/1.1 200"));
    }
    let per_request = (SERVER_ALLOCS.load(Relaxed) - before) as f64 / N as f64;
    println!("http handler endorsement1-36KB: {per_request:.1} allocations per request");
    drop(conn);
    let _ = stop_tx.send(());
    server.join().unwrap();
    // The HTTP budget: the pricing budget plus what hyper and the handler need per request
    // (see docs/PERFORMANCE.md for the list).
    assert!(
        per_request <= (BUDGET + HTTP_EXTRA) as f64,
        "{per_request} allocations per HTTP request, budget {}",
        BUDGET + HTTP_EXTRA
    );
}

/// Allocations per request the HTTP layer adds on top of pricing (9 measured, all outside
/// pricing: the body buffer, the answer buffer and its `Bytes`, hyper's request and response
/// header maps and its per-request state); a little headroom for a hyper upgrade.
const HTTP_EXTRA: u64 = 4;

fn tenant_state(plan: &str) -> serde_json::Value {
    serde_json::json!({
        "socotraApiUrl": "http://127.0.0.1:9",
        "tenantHostName": "alloc.local",
        "token": "t",
        "settings": { "ratePlan": plan }
    })
}

/// Reads one response with a `content-length` body.
fn read_response(conn: &mut std::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
    }
}
