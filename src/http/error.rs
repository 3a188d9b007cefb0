//! [`HttpError`]: every way a request can fail, and the ONE place where a failure becomes an
//! HTTP status, headers and a JSON body `{"error": {"code", "message"}}`, plus
//! `"exceptionMessage"` (the text Socotra shows its user) for rating errors (422).
//!
//! The `code` is stable and machine-readable; the `message` is for people and may change.
//!
//! Two answers never pass through here because the request never reaches the service:
//! hyper's parser itself answers 431 (request head over `max_header_size`, or more than
//! `max_headers` header fields) and 400 (unparsable head), with an empty body, and closes
//! the connection.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::bundle::BundleFailure;
use crate::pricing::{PriceError, PriceErrorKind};
use crate::tenant::TenantError;

/// Why a request is not answered with prices.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No route has this path.
    #[error("no route for this path")]
    NotFound,
    /// The route exists, not with this method.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed {
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// The body is declared as something other than JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The `x-smp-key` header came more than once. Which one names the tenant cannot be
    /// known (hyper would hand out the first: a router that appends its key to a caller's
    /// would have the caller's tenant priced), so the request is refused whatever the values.
    #[error("the x-smp-key header must be sent once; this request carries it more than once")]
    DuplicateKey,
    /// The body (declared or received) exceeds the limit.
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// `Content-Length` is present but not a number.
    #[error("content-length is not a number")]
    BadContentLength,
    /// The body did not arrive in full within the request deadline (the client declared
    /// more than it sent, or sends too slowly).
    #[error("the request body did not arrive within the {0:?} deadline")]
    BodyTimeout(Duration),
    /// The body could not be read (the client broke the framing or went away).
    #[error("request body could not be read: {0}")]
    BodyRead(#[source] hyper::Error),
    /// The tenant could not be had.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// The request could not be priced.
    /// The tenant's plan bundle (`planUrl`) cannot be used: 503 while it cannot be
    /// downloaded, 422 when it is refused (bad bundle, pin mismatch, forbidden URL).
    #[error(transparent)]
    Bundle(#[from] BundleFailure),
    #[error(transparent)]
    Price(#[from] PriceError),
    /// The pricing code panicked on this request: a bug, caught so that one bad input
    /// cannot take a task or the process down.
    #[error("the rater failed on this request (request {request_id})")]
    Panicked {
        /// For support: find the log line.
        request_id: u64,
    },
    /// Plans are not loaded yet.
    #[error("the service is starting: rate plans are not loaded yet")]
    NotReady,
    /// The service is shutting down (`/ready` only).
    #[error("the service is shutting down")]
    Draining,
    /// The request took longer than the deadline.
    #[error("the request exceeded its {0:?} deadline")]
    Deadline(Duration),
}

/// A full response, the only body type the service answers with.
pub type HttpResponse = Response<Full<Bytes>>;

static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
static RETRY_1S: HeaderValue = HeaderValue::from_static("1");

impl HttpError {
    /// The status answered.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::BadContentLength | HttpError::BodyRead(_) | HttpError::DuplicateKey => {
                StatusCode::BAD_REQUEST
            }
            HttpError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            HttpError::Tenant(TenantError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Tenant(_) => StatusCode::UNAUTHORIZED,
            HttpError::Bundle(BundleFailure::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Bundle(BundleFailure::Refused { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            HttpError::Price(e) => match e.kind() {
                PriceErrorKind::BadRequest => StatusCode::BAD_REQUEST,
                PriceErrorKind::Unratable => StatusCode::UNPROCESSABLE_ENTITY,
            },
            // Not 500: the request cannot be rated and Socotra should show why; a 5xx would
            // read as "the service is down" to the caller and its retries.
            HttpError::Panicked { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            HttpError::NotReady | HttpError::Draining | HttpError::Deadline(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::NotFound => "not_found",
            HttpError::MethodNotAllowed { .. } => "method_not_allowed",
            HttpError::UnsupportedMediaType => "unsupported_media_type",
            HttpError::DuplicateKey => "duplicate_key",
            HttpError::PayloadTooLarge { .. } => "payload_too_large",
            HttpError::BadContentLength => "bad_content_length",
            HttpError::BodyRead(_) => "invalid_body",
            HttpError::BodyTimeout(_) => "body_timeout",
            HttpError::Tenant(e) => match e {
                TenantError::MissingKey => "missing_key",
                TenantError::InvalidKey => "invalid_key",
                TenantError::UnknownKey => "unknown_key",
                TenantError::Unavailable { .. } => "tenant_unavailable",
            },
            HttpError::Bundle(BundleFailure::Unavailable { .. }) => "plan_bundle_unavailable",
            HttpError::Bundle(BundleFailure::Refused { .. }) => "plan_bundle_refused",
            HttpError::Price(e) => e.code(),
            HttpError::Panicked { .. } => "rating_panicked",
            HttpError::NotReady => "not_ready",
            HttpError::Draining => "draining",
            HttpError::Deadline(_) => "deadline_exceeded",
        }
    }

    /// Whether Socotra should show the message to its user (`exceptionMessage`).
    fn is_rating_error(&self) -> bool {
        self.status() == StatusCode::UNPROCESSABLE_ENTITY
    }

    /// The answer: status, headers and JSON body.
    pub fn into_response(self) -> HttpResponse {
        let status = self.status();
        let message = self.to_string();
        let mut body = Vec::with_capacity(64 + 2 * message.len());
        body.extend_from_slice(b"{\"error\":{\"code\":\"");
        body.extend_from_slice(self.code().as_bytes());
        body.extend_from_slice(b"\",\"message\":");
        write_json_str(&mut body, &message);
        body.push(b'}');
        if self.is_rating_error() {
            body.extend_from_slice(b",\"exceptionMessage\":");
            write_json_str(&mut body, &message);
        }
        body.push(b'}');

        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, APPLICATION_JSON.clone());
        match &self {
            HttpError::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            HttpError::Tenant(TenantError::Unavailable { retry_after, .. })
            | HttpError::Bundle(BundleFailure::Unavailable { retry_after, .. }) => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            HttpError::NotReady | HttpError::Draining | HttpError::Deadline(_) => {
                headers.insert(RETRY_AFTER, RETRY_1S.clone());
            }
            _ => {}
        }
        resp
    }
}

/// Appends `s` as a JSON string literal (quotes and escapes included).
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaper writes into a Vec without failing.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A JSON success answer; `body` is moved into the response, not copied.
pub fn json_ok(body: Vec<u8>) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON.clone());
    resp
}

/// A bodiless answer with `status`.
pub fn empty(status: StatusCode) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(resp: HttpResponse) -> serde_json::Value {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn rating_errors_carry_exception_message() {
        let err = HttpError::Price(PriceError::Locator {
            locator: "abc".into(),
            message: "locator \"abc\" is not in the policy".into(),
        });
        let resp = err.into_response();
        assert_eq!(resp.status(), 422);
        let v = body_of(resp).await;
        assert_eq!(v["error"]["code"], "unknown_locator");
        assert_eq!(
            v["exceptionMessage"],
            "locator \"abc\" is not in the policy"
        );
    }

    #[tokio::test]
    async fn tenant_unavailable_has_retry_after() {
        let err = HttpError::Tenant(TenantError::Unavailable {
            reason: "state api down".into(),
            retry_after: Duration::from_millis(2500),
        });
        let resp = err.into_response();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()[RETRY_AFTER], "3");
        let v = body_of(resp).await;
        assert_eq!(v["error"]["code"], "tenant_unavailable");
        assert!(v.get("exceptionMessage").is_none());
    }

    #[test]
    fn statuses() {
        let cases: [(HttpError, u16); 7] = [
            (HttpError::NotFound, 404),
            (HttpError::MethodNotAllowed { allow: "GET" }, 405),
            (HttpError::UnsupportedMediaType, 415),
            (HttpError::DuplicateKey, 400),
            (HttpError::PayloadTooLarge { limit: 1 }, 413),
            (HttpError::Tenant(TenantError::UnknownKey), 401),
            (HttpError::Deadline(Duration::from_secs(1)), 503),
        ];
        for (e, s) in cases {
            assert_eq!(e.status().as_u16(), s, "{e}");
        }
    }
}
