//! Routing and the handlers: ONE `match` from method and path to a [`Route`], then one
//! function per route. Every request passes through [`serve`], which adds the deadline, the
//! metrics, the access log line and the single error-to-response conversion.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::AppState;
use super::body;
use super::error::{HttpError, HttpResponse, empty, json_ok};
use crate::pricing::{self, PriceOptions};
use crate::tenant::KeyHash;
use crate::tenant::TenantError;

/// The tenant key header the platform's router adds to every call.
pub const KEY_HEADER: &str = "x-smp-key";
/// `x-rater-explain: 1` asks for the engine's trace beside the prices.
pub const EXPLAIN_HEADER: &str = "x-rater-explain";

/// On an answer priced by a tenant's own plan bundle: that bundle's SHA-256.
pub const BUNDLE_HEADER: &str = "x-rater-plan-bundle";

/// Initial capacity of the answer buffer: a few priced perils fit without growing.
const OUT_CAPACITY: usize = 1024;

/// How long past the request deadline the outer timer in [`serve`] waits. The rate route
/// times its own phases against the deadline itself, so it can tell a body that never
/// arrived (the client's fault: 408) from a tenant lookup that took too long (ours: 503);
/// the outer timer is only the backstop and must not win that race.
const DEADLINE_BACKSTOP: std::time::Duration = std::time::Duration::from_millis(250);

/// What a request asked for; also the `route` label of metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /`.
    Root,
    /// `GET /health`.
    Health,
    /// `GET /ready`.
    Ready,
    /// `GET /_app/start`.
    AppStart,
    /// `GET /_app/stop`.
    AppStop,
    /// `POST {rate path}`.
    Rate,
    /// `GET /metrics`.
    Metrics,
    /// `GET /plan-status`: the calling tenant's plan bundle status.
    PlanStatus,
    /// Any other path.
    Unknown,
}

impl Route {
    /// The number of routes.
    pub const COUNT: usize = 9;
    /// Every route, in discriminant order.
    pub const ALL: [Route; Route::COUNT] = [
        Route::Root,
        Route::Health,
        Route::Ready,
        Route::AppStart,
        Route::AppStop,
        Route::Rate,
        Route::Metrics,
        Route::PlanStatus,
        Route::Unknown,
    ];

    /// The label used in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Route::Root => "root",
            Route::Health => "health",
            Route::Ready => "ready",
            Route::AppStart => "app_start",
            Route::AppStop => "app_stop",
            Route::Rate => "rate",
            Route::Metrics => "metrics",
            Route::PlanStatus => "plan_status",
            Route::Unknown => "unknown",
        }
    }

    /// Matches a request to its route; `Err` is 404 or 405.
    pub fn of(method: &Method, path: &str, rate_path: &str) -> (Route, Result<(), HttpError>) {
        let (route, allow) = match path {
            "/" => (Route::Root, "GET"),
            "/health" => (Route::Health, "GET"),
            "/ready" => (Route::Ready, "GET"),
            "/_app/start" => (Route::AppStart, "GET"),
            "/_app/stop" => (Route::AppStop, "GET"),
            "/metrics" => (Route::Metrics, "GET"),
            "/plan-status" => (Route::PlanStatus, "GET"),
            p if p == rate_path => (Route::Rate, "POST"),
            _ => return (Route::Unknown, Err(HttpError::NotFound)),
        };
        let expected = if allow == "POST" {
            Method::POST
        } else {
            Method::GET
        };
        if *method == expected {
            (route, Ok(()))
        } else {
            (route, Err(HttpError::MethodNotAllowed { allow }))
        }
    }
}

/// Answers one request: route, deadline, handler, error mapping, metrics, access log.
pub async fn serve(state: &AppState, req: Request<Incoming>) -> HttpResponse {
    let start = Instant::now();
    let request_id = state.next_request_id.fetch_add(1, Relaxed);
    let key = key_header(req.headers());
    let duplicate_key = matches!(key, Err(HttpError::DuplicateKey));
    // The log names the tenant by a short hash of its key (a non-text or duplicated key
    // hashes as "-").
    let tenant = key.ok().flatten().map(KeyHash::of);
    let config = state.config();
    let (route, matched) = Route::of(req.method(), req.uri().path(), &config.rate_path);

    let result = match matched {
        Err(e) => Err(e),
        // Refused on every route, before its handler runs: whichever key a handler took, it
        // could act for the wrong tenant (price, warm, forget), and a probe that sends two
        // keys is as broken as a rating call that does.
        Ok(()) if duplicate_key => Err(HttpError::DuplicateKey),
        // The rate route bounds every await it has (the body and the tenant lookup) by the
        // deadline itself, with one timer for both (see `rate`); after those it only prices,
        // synchronously, which no timer can interrupt. So the backstop could never fire
        // there, and skipping it saves a second timer-wheel registration and removal per
        // rating request.
        Ok(()) if route == Route::Rate => {
            rate(state, req, request_id, start + config.request_deadline).await
        }
        // The other routes answer without waiting (their timer is never even registered:
        // `timeout` polls the handler first); the backstop stays for any that ever awaits.
        Ok(()) => tokio::time::timeout(
            config.request_deadline + DEADLINE_BACKSTOP,
            handle(
                state,
                route,
                req,
                request_id,
                start + config.request_deadline,
            ),
        )
        .await
        .unwrap_or(Err(HttpError::Deadline(config.request_deadline))),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            state.metrics.record_error(e.code());
            if let HttpError::BodyRead(cause) = &e {
                tracing::debug!(request_id, error = %cause, "body read failed");
            }
            e.into_response()
        }
    };
    let latency = start.elapsed();
    state.metrics.record(route, resp.status(), latency);
    tracing::info!(
        target: crate::telemetry::access_line::ACCESS_TARGET,
        request_id,
        tenant = %TenantTag(tenant),
        route = route.label(),
        status = resp.status().as_u16(),
        latency_us = latency.as_micros() as u64,
    );
    resp
}

async fn handle(
    state: &AppState,
    route: Route,
    req: Request<Incoming>,
    request_id: u64,
    deadline: Instant,
) -> Result<HttpResponse, HttpError> {
    match route {
        Route::Root | Route::Health => Ok(json_static(b"{\"status\":\"ok\"}")),
        Route::Ready => {
            if state.is_draining() {
                Err(HttpError::Draining)
            } else if state.tenants().is_none() {
                Err(HttpError::NotReady)
            } else {
                Ok(json_static(b"{\"status\":\"ready\"}"))
            }
        }
        // Lifecycle hooks answer at once and are idempotent: start warms the key's entry in
        // the background (a failure there is the next rating request's problem, not the
        // hook's), stop drops it. Neither lets a bad key fail the hook: AMP only needs a 2xx.
        Route::AppStart => {
            if let (Some(tenants), Ok(key)) = (state.tenants(), key_header(req.headers())) {
                let _ = tenants.warm(key);
                // And the tenant's plan bundle, once its state is in: the first rating
                // request then finds it loaded instead of waiting for the download.
                let (tenants, bundles) = (tenants.clone(), state.bundles().clone());
                let key = key.map(str::to_owned);
                tokio::spawn(async move {
                    if let Ok(tenant) = tenants.get(key.as_deref()).await
                        && let Some(source) = &tenant.plan_source
                    {
                        let _ = bundles.get(source).await;
                    }
                });
            }
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Route::AppStop => {
            if let (Some(tenants), Ok(key)) = (state.tenants(), key_header(req.headers())) {
                let _ = tenants.forget(key);
            }
            Ok(empty(StatusCode::OK))
        }
        Route::Metrics => {
            let cache = state.tenants().map(|t| t.stats());
            let mut text = state.metrics.render(cache);
            super::metrics::render_bundles(&mut text, state.bundles().stats());
            let mut resp = Response::new(Full::new(Bytes::from(text)));
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(resp)
        }
        Route::Rate => rate(state, req, request_id, deadline).await,
        Route::PlanStatus => plan_status(state, &req, deadline).await,
        Route::Unknown => Err(HttpError::NotFound),
    }
}

/// Runs `a` and `b` concurrently until both are done or `deadline` passes; `None` for the
/// one(s) still pending then (dropped, as `tokio::time::timeout_at` would).
///
/// Why not `join!(timeout_at(a), timeout_at(b))`: that is two timers; here one `Sleep` is
/// polled only while something is still pending, so it is registered at most once per
/// request (and not at all when both are ready at once).
async fn until_deadline<A: Future, B: Future>(
    deadline: Instant,
    a: A,
    b: B,
) -> (Option<A::Output>, Option<B::Output>) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let mut timer = std::pin::pin!(tokio::time::sleep_until(deadline));
    let (mut a_out, mut b_out) = (None, None);
    std::future::poll_fn(|cx| {
        if a_out.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            a_out = Some(v);
        }
        if b_out.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            b_out = Some(v);
        }
        if (a_out.is_some() && b_out.is_some()) || timer.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (a_out, b_out)
}

/// A log line's tenant: the key's hash, or `-`; formatted in place, no allocation.
struct TenantTag(Option<KeyHash>);

impl std::fmt::Display for TenantTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(h) => h.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The `x-smp-key` header: absent, or one text value. Two header lines (whatever their
/// values, equal or not) are [`HttpError::DuplicateKey`]: `HeaderMap::get` would quietly take
/// the first. A non-text value cannot be a key.
fn key_header(headers: &http::HeaderMap) -> Result<Option<&str>, HttpError> {
    let mut values = headers.get_all(KEY_HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(HttpError::DuplicateKey),
        (Some(v), None) => v
            .to_str()
            .map(Some)
            .map_err(|_| HttpError::from(TenantError::InvalidKey)),
    }
}

fn json_static(body: &'static [u8]) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from_static(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `POST {rate path}`: the external rater.
async fn rate(
    state: &AppState,
    req: Request<Incoming>,
    request_id: u64,
    deadline: Instant,
) -> Result<HttpResponse, HttpError> {
    let tenants = state.tenants().ok_or(HttpError::NotReady)?;
    let (parts, incoming) = req.into_parts();
    let headers = &parts.headers;
    if !body::is_json(headers) {
        return Err(HttpError::UnsupportedMediaType);
    }
    let limit = state.config().max_body_bytes;
    let declared = body::declared_len(headers, limit)?;
    let explain = headers
        .get(EXPLAIN_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1");
    let key = key_header(headers);
    let budget = state.config().request_deadline;
    // The tenant lookup (possibly a State API call) overlaps receiving the body, under ONE
    // deadline timer for both: a cache hit is ready at once, so only the body's wait ever
    // needs the timer, and one shared entry in tokio's timer wheel replaces the two (one
    // per phase, plus the backstop's) that each registered and removed per request.
    let tenant = async {
        match key {
            Ok(key) => tenants.get(key).await.map_err(HttpError::from),
            Err(e) => Err(e),
        }
    };
    let body = body::read(incoming, declared, limit);
    let (buf, tenant) = until_deadline(deadline, body, tenant).await;
    // At the deadline, a body still incomplete is the client's doing (it declared more than
    // it sent, or sends too slowly): 408, so neither Socotra nor a monitor reads it as the
    // rater being down; waiting on the State API is ours to answer for: 503 with
    // Retry-After. Body errors are answered first: they say the request itself is unusable.
    let buf = buf.unwrap_or(Err(HttpError::BodyTimeout(budget)));
    let tenant = tenant.unwrap_or(Err(HttpError::Deadline(budget)));
    let buf = buf?;
    let tenant = tenant?;
    // A tenant with a `planUrl` is priced by its bundle only; the first load waits here (to
    // the same deadline), later ones are answered at once while refreshes run behind.
    let bundle_selector;
    let mut bundle_sha = None;
    let selector = match &tenant.plan_source {
        None => &tenant.selector,
        Some(source) => {
            let active = tokio::time::timeout_at(deadline, state.bundles().get(source))
                .await
                .map_err(|_| HttpError::Deadline(budget))??;
            tracing::debug!(
                request_id,
                bundle = %active.sha256,
                plans = %crate::bundle::plan_list(&active.plans),
                "priced by the tenant's plan bundle"
            );
            bundle_selector = tenant.selector_for(&active);
            bundle_sha = HeaderValue::from_str(&active.sha256).ok();
            &*bundle_selector
        }
    };

    let mut out = Vec::with_capacity(OUT_CAPACITY);
    // Pricing is synchronous CPU work of microseconds to a few milliseconds, so it runs on
    // the runtime thread: a hop to the blocking pool would cost more than it saves.
    // `catch_unwind` is the last line of defence: a bug in pricing on one odd input must
    // cost that request, not the connection task (and its other requests) or the process.
    // AssertUnwindSafe holds: on a panic `buf` and `out` are dropped, and the tenant is
    // only read.
    let priced = catch_unwind(AssertUnwindSafe(|| {
        pricing::price_request(selector, &buf, &mut out, PriceOptions { explain })
    }));
    match priced {
        // The explain trace names each peril's plan and version; this header names the
        // bundle those plans came from, on every answer a tenant's bundle priced.
        Ok(Ok(())) => {
            let mut resp = json_ok(out);
            if let Some(sha) = bundle_sha {
                resp.headers_mut().insert(BUNDLE_HEADER, sha);
            }
            Ok(resp)
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            tracing::error!(request_id, "pricing panicked; answered 422");
            Err(HttpError::Panicked { request_id })
        }
    }
}

/// `GET /plan-status`: the calling tenant's view only (its key picks its settings, and so
/// its bundle): the active bundle's SHA-256, plans and versions, when it was fetched and
/// checked, and the last error with its location. A first call loads the bundle.
async fn plan_status(
    state: &AppState,
    req: &Request<Incoming>,
    deadline: Instant,
) -> Result<HttpResponse, HttpError> {
    let tenants = state.tenants().ok_or(HttpError::NotReady)?;
    let tenant = tenants.get(key_header(req.headers())?).await?;
    let Some(source) = &tenant.plan_source else {
        let body = serde_json::json!({ "source": "bundled" });
        return Ok(json_ok(body.to_string().into_bytes()));
    };
    // Only to have something to show on a first call: its outcome is in the status.
    let _ = tokio::time::timeout_at(deadline, state.bundles().get(source)).await;
    let status = state.bundles().status(source);
    let time = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(|t| t.to_string())
    };
    let active = status.active.as_ref().map(|a| {
        serde_json::json!({
            "sha256": a.sha256,
            "testCases": a.cases,
            "plans": a.plans.iter().map(|p| serde_json::json!({
                "id": p.id(),
                "version": p.version(),
                "product": p.product(),
                "effectiveFrom": p.effective_from().to_string(),
            })).collect::<Vec<_>>(),
        })
    });
    let last_error = status.last_error.as_ref().map(|e| {
        serde_json::json!({
            "code": e.code,
            "message": e.message,
            "at": time(Some(e.at)),
        })
    });
    let body = serde_json::json!({
        "source": "bundle",
        // Without a query: a signed URL's signature is a credential.
        "planUrl": source.url.split(['?', '#']).next().unwrap_or(""),
        "planSha256": source.pin.as_deref(),
        "active": active,
        "fetchedAt": time(status.fetched_at),
        "checkedAt": time(status.checked_at),
        "lastError": last_error,
    });
    Ok(json_ok(body.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing() {
        let r = |m: Method, p: &str| {
            let (route, res) = Route::of(&m, p, "/rate");
            (route, res.map_err(|e| e.status().as_u16()))
        };
        assert_eq!(r(Method::GET, "/health"), (Route::Health, Ok(())));
        assert_eq!(r(Method::POST, "/rate"), (Route::Rate, Ok(())));
        assert_eq!(r(Method::GET, "/rate"), (Route::Rate, Err(405)));
        assert_eq!(r(Method::POST, "/health"), (Route::Health, Err(405)));
        assert_eq!(r(Method::GET, "/nope"), (Route::Unknown, Err(404)));
        assert_eq!(r(Method::GET, "/_app/start"), (Route::AppStart, Ok(())));
    }

    #[test]
    fn key_header_refuses_a_second_line() {
        use http::HeaderMap;
        let mut h = HeaderMap::new();
        assert!(matches!(key_header(&h), Ok(None)));
        h.append(KEY_HEADER, HeaderValue::from_static("a"));
        assert!(matches!(key_header(&h), Ok(Some("a"))));
        h.append(KEY_HEADER, HeaderValue::from_static("a"));
        assert!(matches!(key_header(&h), Err(HttpError::DuplicateKey)));
    }

    #[test]
    fn route_discriminants_index_all() {
        for (i, r) in Route::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
