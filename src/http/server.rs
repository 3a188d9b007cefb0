//! The accept loop and the per-connection task: [`run`]`(listener, state, shutdown)`, after
//! mini-redis's `server::run` and hyper's `graceful_shutdown` example.
//!
//! Per connection: TCP_NODELAY (answers are one small write; Nagle would hold it back for
//! the client's delayed ACK), a header-read timeout and an idle keep-alive timeout (both
//! ours, see [`Activity`]), and graceful close when draining. The connection limit is a semaphore
//! acquired *before* `accept`, so extra clients wait in the kernel's backlog instead of
//! costing us memory.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::AppState;
use super::routes;
use super::shutdown::{Drain, DrainWatch};

/// Largest request head (request line and headers). Socotra's heads are a few hundred
/// bytes; past this hyper answers 431 and closes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Pause after an accept error that is not about one connection (out of file descriptors):
/// retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `listener` until `shutdown` resolves, then: `/ready` answers 503 at once; the
/// server keeps accepting for the shutdown grace; it stops accepting; every connection
/// finishes its in-flight request and closes; `run` returns once all are closed or the
/// drain timeout has passed.
pub async fn run(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>) {
    let config = state.config().clone();
    let server = Server {
        http: http_builder(),
        limit: Arc::new(Semaphore::new(config.max_connections)),
        drain: Drain::new(),
        state,
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }

    tokio::pin!(shutdown);
    tokio::select! {
        _ = server.accept_loop(&listener) => {}
        _ = &mut shutdown => {}
    }
    server.state.begin_drain();
    tracing::info!(
        grace_ms = config.shutdown_grace.as_millis() as u64,
        "shutting down: /ready answers 503; still serving for the grace period"
    );
    let _ = tokio::time::timeout(config.shutdown_grace, server.accept_loop(&listener)).await;
    drop(listener);

    server.drain.0.start();
    let open = config.max_connections - server.limit.available_permits();
    tracing::info!(open, "stopped accepting; draining open connections");
    // Every connection task holds one permit until it ends: owning all permits again means
    // every connection has closed.
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    match tokio::time::timeout(config.drain_timeout, server.limit.acquire_many(all)).await {
        Ok(_) => tracing::info!("drained"),
        Err(_) => tracing::warn!(
            open = config.max_connections - server.limit.available_permits(),
            "drain timeout: abandoning the connections still open"
        ),
    }
}

struct Server {
    /// Built once: `serve_connection` only borrows it.
    http: http1::Builder,
    /// One permit per open connection: bounds memory and file descriptors, and tells the
    /// drain when every connection is gone.
    limit: Arc<Semaphore>,
    /// Tells connections to close after their in-flight request.
    drain: (Drain, DrainWatch),
    state: Arc<AppState>,
}

fn http_builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    // hyper's own header timer is off (see [`Activity`] for why): ours replaces it.
    b.header_read_timeout(None)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    // `max_headers` stays at hyper's default (100): a custom value moves header parsing
    // from the stack to a heap allocation per request.
    b
}

impl Server {
    /// Accepts until cancelled (dropping the future is the only way out; `accept` and the
    /// semaphore are cancel-safe).
    async fn accept_loop(&self, listener: &TcpListener) {
        loop {
            let permit = self
                .limit
                .clone()
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed");
            match listener.accept().await {
                Ok((stream, _peer)) => self.spawn_connection(stream, permit),
                Err(e) => {
                    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
                    if !matches!(e.kind(), ConnectionAborted | ConnectionReset) {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                }
            }
        }
    }

    fn spawn_connection(&self, stream: TcpStream, permit: OwnedSemaphorePermit) {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        // One allocation per connection (not per request): the clock the header and idle
        // timers read, which the IO wrapper and every request update.
        let activity = Arc::new(Activity::new());
        let service = {
            let state = self.state.clone();
            let activity = activity.clone();
            service_fn(move |req| {
                let busy = Busy::begin(&activity);
                let state = state.clone();
                async move {
                    let mut resp = routes::serve(&state, req).await;
                    // Shutting down: every answer from now on tells its client to close, so
                    // busy clients move off their keep-alive connections during the grace
                    // (while we still accept) instead of sending their next request just as
                    // the drain closes an idle connection under them (measured under load
                    // before this: 4 requests of 48,000 lost that way, never answered).
                    if state.is_draining() {
                        resp.headers_mut()
                            .insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    drop(busy);
                    Ok::<_, Infallible>(resp)
                }
            })
        };
        let io = TokioIo::new(ActivityIo {
            inner: stream,
            activity: activity.clone(),
        });
        let conn = self.http.serve_connection(io, service);
        let config = self.state.config();
        let timers = Timers {
            header: config.header_timeout,
            idle: config.idle_timeout,
        };
        let mut drain = self.drain.1.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            let mut closing = false;
            loop {
                let deadline = activity.next_deadline(timers, closing);
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            // Resets and parse errors: the client's doing.
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tokio::time::sleep_until(deadline) => match activity.expired(timers) {
                        Some(Expired::Head) => {
                            // A head still incomplete: nothing to finish, close at once.
                            tracing::debug!("request head not received in time; closing");
                            break;
                        }
                        Some(Expired::Idle) if !closing => {
                            conn.as_mut().graceful_shutdown();
                            closing = true;
                        }
                        _ => {}
                    },
                    // A head started or a request ended: the deadline moved.
                    _ = activity.changed.notified() => {}
                    _ = drain.started(), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        });
    }
}

/// The two connection timers.
#[derive(Clone, Copy, Debug)]
struct Timers {
    /// From the first byte of a request head (or the accept) to the complete head.
    header: Duration,
    /// From the end of the last request to the close of a quiet connection.
    idle: Duration,
}

/// Which timer ran out.
#[derive(Debug, PartialEq, Eq)]
enum Expired {
    Head,
    Idle,
}

/// "No head in progress" in [`Activity::head_start_ms`].
const NO_HEAD: u64 = u64::MAX;

/// The clock of one connection's header and idle timers.
///
/// Why not hyper's `header_read_timeout`: hyper starts it whenever it waits for a head,
/// including between keep-alive requests, so it also closes every idle connection after
/// the header timeout (measured: an idle connection closed at 300 ms with a 300 ms header
/// timeout and a 3 s idle timeout). Here the head timer starts at the accept or at the
/// first byte after a request, and the idle timer at the end of a request.
///
/// Atomics rather than a lock: the IO wrapper, the service and the connection task each
/// hold their own `Arc`.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Milliseconds from `epoch` to the end of the last request (or the accept).
    last_ms: AtomicU64,
    /// Milliseconds from `epoch` to the first byte of the head being received, or
    /// [`NO_HEAD`]. Starts at 0: the first head is due one header timeout after the accept,
    /// so a client that connects and stays silent does not hold a slot for the idle time.
    head_start_ms: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicU32,
    /// Wakes the connection task when a head starts or a request ends: either moves its
    /// deadline. The service runs inside the connection task, so this is a cheap self-wake.
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            head_start_ms: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A request ended: the idle clock restarts.
    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Relaxed);
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// Bytes arrived: if no request is being answered and no head is in progress, they
    /// start a head.
    fn on_read(&self) {
        if self.in_flight.load(Relaxed) == 0 && self.head_start_ms.load(Relaxed) == NO_HEAD {
            self.head_start_ms.store(self.now_ms(), Relaxed);
            self.changed.notify_one();
        }
    }

    /// When the connection task must look again.
    fn next_deadline(&self, t: Timers, closing: bool) -> Instant {
        let head = self.head_start_ms.load(Relaxed);
        if head != NO_HEAD {
            return self.at(head) + t.header;
        }
        if closing || self.in_flight.load(Relaxed) > 0 {
            // Nothing can expire until a request ends or a head starts (which notifies);
            // look again later in any case.
            return Instant::now() + t.idle.max(t.header);
        }
        self.at(self.last_ms.load(Relaxed)) + t.idle
    }

    fn expired(&self, t: Timers) -> Option<Expired> {
        let now = Instant::now();
        let head = self.head_start_ms.load(Relaxed);
        if head != NO_HEAD {
            return (now >= self.at(head) + t.header).then_some(Expired::Head);
        }
        let idle = self.in_flight.load(Relaxed) == 0
            && now >= self.at(self.last_ms.load(Relaxed)) + t.idle;
        idle.then_some(Expired::Idle)
    }
}

/// The TCP stream, reporting reads to the connection's [`Activity`]: one relaxed load per
/// read on the hot path.
struct ActivityIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        res
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Marks a request in flight; dropping it (answered, or cancelled when the client left)
/// restarts the idle clock.
struct Busy(Arc<Activity>);

impl Busy {
    /// hyper calls the service once the head is complete: the head timer stops.
    fn begin(activity: &Arc<Activity>) -> Busy {
        activity.in_flight.fetch_add(1, Relaxed);
        activity.head_start_ms.store(NO_HEAD, Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Relaxed);
        self.0.changed.notify_one();
    }
}
