//! The State API client: `GET {SMP_STATE_API}/state/{key}` with our own timeouts, no
//! redirects, a response size cap, and errors typed as unknown key, upstream failure or
//! malformed answer (CONTRACT.md 2.2).
//!
//! The State API is a cluster-internal plain-http service (no auth, no TLS seen in any
//! platform sample), so this client trusts no certificate and `https` URLs are refused at
//! start-up rather than failing on the first request.

use reqwest::header::{ACCEPT, HeaderValue};

use super::config::{ClientConfig, TenantConfigError};
use super::key::{TenantKey, join_url};
use super::source::{FetchError, UpstreamError};
use super::state::{MalformedState, StateDoc};

/// A State API client. Cheap to share: reqwest pools connections inside.
#[derive(Debug, Clone)]
pub struct StateClient {
    http: reqwest::Client,
    /// `SMP_STATE_API` as given (joined with exactly one `/` per request).
    base: Box<str>,
    max_bytes: usize,
}

impl StateClient {
    /// A client for the State API at `base` (`http://host:port`, with or without a path and
    /// trailing `/`).
    pub fn new(base: &str, config: &ClientConfig) -> Result<StateClient, TenantConfigError> {
        let bad = |reason: &'static str| TenantConfigError::StateApiUrl {
            url: base.to_owned(),
            reason,
        };
        let url = reqwest::Url::parse(base).map_err(|_| bad("not a URL"))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(
                    "https is not supported: the State API is cluster-internal http and this build has no TLS",
                ));
            }
            _ => return Err(bad("the scheme must be http")),
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "a query or fragment cannot be joined with /state/{key}",
            ));
        }
        let http = reqwest::Client::builder()
            // reqwest is built with rustls but no process-wide crypto provider (the bundle
            // fetcher brings its own config); without a config of its own the builder would
            // look for that provider and panic. This one trusts nothing: https is refused
            // above, so it is never used.
            .tls_backend_preconfigured(crate::bundle::fetch::no_tls())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            // A redirect from a cluster-internal service is a misconfiguration; following it
            // could send the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            // Cluster-internal: never route through an HTTP(S)_PROXY from the environment.
            .no_proxy()
            .build()
            .map_err(|_| TenantConfigError::ClientBuild)?;
        Ok(StateClient {
            http,
            base: base.into(),
            max_bytes: config.max_bytes,
        })
    }

    /// The base URL, for the start-up log.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Fetches and parses one tenant's state.
    pub async fn fetch(&self, key: &TenantKey) -> Result<StateDoc, FetchError> {
        let url = join_url(&self.base, &format!("state/{}", key.path_segment()));
        // reqwest errors are classified and dropped, never wrapped: their Display carries
        // the URL, and the URL carries the key.
        let mut response = self
            .http
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(FetchError::UnknownKey);
        }
        if !status.is_success() {
            return Err(UpstreamError::Status(status.as_u16()).into());
        }
        let too_big = MalformedState::TooBig {
            limit: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_big.into());
        }
        // Read chunk by chunk and stop at the cap: a length header can be absent (chunked)
        // or lie, and a runaway body must not be buffered whole.
        let mut body = Vec::with_capacity(response.content_length().map_or(4096, |n| n as usize));
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_big.into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(StateDoc::from_json(&body)?)
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    let kind = if e.is_timeout() {
        UpstreamError::Timeout
    } else if e.is_connect() {
        UpstreamError::Connect
    } else {
        UpstreamError::Transport
    };
    kind.into()
}
