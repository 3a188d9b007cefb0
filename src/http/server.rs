//! The accept loop and the per-connection task: [`run`]`(listener, state, shutdown)`, after
//! mini-redis's `server::run` and hyper's `graceful_shutdown` example.
//!
//! Per connection: TCP_NODELAY (answers are one small write; Nagle would hold it back for
//! the client's delayed ACK), hyper's header-read timeout, an idle keep-alive timeout
//! (hyper has none), and graceful close when draining. The connection limit is a semaphore
//! acquired *before* `accept`, so extra clients wait in the kernel's backlog instead of
//! costing us memory.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::AppState;
use super::routes;
use super::shutdown::{Drain, DrainWatch};
use crate::config::Config;

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
        http: http_builder(&config),
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

fn http_builder(config: &Config) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
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
        // One allocation per connection (not per request): the activity clock the idle
        // timer reads and every request updates.
        let activity = Arc::new(Activity::new());
        let service = {
            let state = self.state.clone();
            let activity = activity.clone();
            service_fn(move |req| {
                let busy = Busy::begin(&activity);
                let state = state.clone();
                async move {
                    let resp = routes::serve(&state, req).await;
                    drop(busy);
                    Ok::<_, Infallible>(resp)
                }
            })
        };
        let conn = self.http.serve_connection(TokioIo::new(stream), service);
        let idle = self.state.config().idle_timeout;
        let mut drain = self.drain.1.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            let mut closing = false;
            loop {
                tokio::select! {
                    res = conn.as_mut() => {
                        if let Err(e) = res {
                            // Header timeouts, resets, parse errors: the client's doing.
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tokio::time::sleep_until(activity.idle_deadline(idle)), if !closing => {
                        if activity.idle_for(idle) {
                            conn.as_mut().graceful_shutdown();
                            closing = true;
                        }
                    }
                    _ = drain.started(), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        });
    }
}

/// When a connection last finished a request, and how many it is serving, for the idle
/// keep-alive timeout. Atomics rather than a lock: the service and the connection task
/// touch it from the same task but through different borrows.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Milliseconds from `epoch` to the end of the last request (or the accept).
    last_ms: AtomicU64,
    in_flight: AtomicU32,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.epoch.elapsed().as_millis() as u64, Relaxed);
    }

    /// When the connection becomes idle for `idle` if nothing happens; a busy connection
    /// is checked again one `idle` from now.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Relaxed) > 0 {
            return Instant::now() + idle;
        }
        self.epoch + Duration::from_millis(self.last_ms.load(Relaxed)) + idle
    }

    fn idle_for(&self, idle: Duration) -> bool {
        self.in_flight.load(Relaxed) == 0 && Instant::now() >= self.idle_deadline(idle)
    }
}

/// Marks a request in flight; dropping it (answered, or cancelled when the client left)
/// restarts the idle clock.
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: &Arc<Activity>) -> Busy {
        activity.in_flight.fetch_add(1, Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}
