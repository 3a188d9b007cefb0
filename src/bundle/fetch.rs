//! Downloading a bundle: reqwest over rustls, and never a confused deputy.
//!
//! A tenant's `planUrl` is a URL a customer typed; the rater fetches it from inside the
//! platform's network. So, unless the host is listed in `RATER_PLAN_ALLOW_HOSTS`:
//!
//! - only `https` (plain `http` only to a listed host);
//! - no host that resolves to a loopback, private, shared (CGNAT), link-local, multicast,
//!   unspecified or broadcast address, nor a cloud metadata address (`169.254.169.254`,
//!   `fd00:ec2::254`). The check sits in the client's DNS resolver ([`CheckedResolver`]), so
//!   the address that was checked is the address connected to: a name that resolves to a
//!   public address for the check and a private one for the connection (DNS rebinding) has
//!   nothing to slip through. IP-literal hosts, which reach no resolver, are checked before
//!   the request;
//! - redirects are followed by hand, at most [`MAX_REDIRECTS`], each target checked the same
//!   way, never from https to http; the `Authorization: Bearer` token goes only to the
//!   `planUrl`'s own scheme, host and port, never to where a redirect points elsewhere.
//!
//! Also: connect and total timeouts, a compressed-size cap enforced while streaming,
//! conditional requests (`If-None-Match`, `If-Modified-Since`; a `304` is
//! [`Fetched::NotModified`]), no proxy from the environment, no content decoding (the bytes
//! hashed are the bytes served).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    AUTHORIZATION, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
};
use reqwest::{StatusCode, Url};

use crate::tenant::Secret;

/// Most redirects followed for one download.
pub const MAX_REDIRECTS: usize = 3;

/// Hosts exempt from the address checks, and allowed plain http (comma-separated).
pub const ENV_ALLOW_HOSTS: &str = "RATER_PLAN_ALLOW_HOSTS";
/// A PEM file of extra CA certificates trusted beside the built-in roots.
pub const ENV_CA_FILE: &str = "RATER_PLAN_CA_FILE";

/// The fetcher's settings.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Hosts (lowercase names or IP literals) exempt from the address checks.
    pub allow_hosts: HashSet<String>,
    /// Extra CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Connect timeout (TCP and TLS handshake).
    pub connect_timeout: Duration,
    /// Total time for one download, redirects and body included.
    pub timeout: Duration,
    /// The largest body read, bytes (the bundle's compressed-size cap).
    pub max_bytes: u64,
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        FetchConfig {
            allow_hosts: HashSet::new(),
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_bytes: super::Limits::default().max_compressed,
        }
    }
}

impl FetchConfig {
    /// Reads [`ENV_ALLOW_HOSTS`] and [`ENV_CA_FILE`] through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> FetchConfig {
        let allow_hosts = lookup(ENV_ALLOW_HOSTS)
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().trim_matches(['[', ']']).to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        FetchConfig {
            allow_hosts,
            ca_file: lookup(ENV_CA_FILE)
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
            ..FetchConfig::default()
        }
    }
}

/// Why a download failed. Never holds the token; a URL is shown without its query.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL cannot be used at all.
    #[error("plan URL {url}: {why}")]
    BadUrl {
        /// The URL (without query).
        url: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The host is one the rater must not reach on a tenant's behalf.
    #[error("plan URL host {host} is refused: {why}")]
    Forbidden {
        /// The host.
        host: String,
        /// Which kind of address it is.
        why: &'static str,
    },
    /// A redirect that is not followed.
    #[error("plan URL redirect refused: {0}")]
    Redirect(&'static str),
    /// The server answered an error status.
    #[error("plan URL answered HTTP {0}")]
    Status(u16),
    /// No answer within the timeout.
    #[error("plan URL timed out after {0:?}")]
    Timeout(Duration),
    /// No connection (refused, reset, TLS handshake failed, name not found).
    #[error("plan URL cannot be reached: {0}")]
    Connect(String),
    /// The body is larger than the compressed-size cap.
    #[error("plan bundle is over the limit of {0} bytes")]
    TooLarge(u64),
    /// `RATER_PLAN_CA_FILE` cannot be used.
    #[error("{ENV_CA_FILE} {path}: {why}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

impl FetchError {
    /// The stable reason, for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::BadUrl { .. } => "bad_url",
            FetchError::Forbidden { .. } => "forbidden_host",
            FetchError::Redirect(_) => "bad_redirect",
            FetchError::Status(_) => "http_status",
            FetchError::Timeout(_) => "timeout",
            FetchError::Connect(_) => "connect",
            FetchError::TooLarge(_) => "too_large",
            FetchError::CaFile { .. } => "ca_file",
        }
    }
}

/// What the last good download's server said identifies its content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A download's outcome.
#[derive(Debug)]
pub enum Fetched {
    /// `304`: what the caller has is current.
    NotModified,
    /// The bundle's bytes and its validators.
    Body {
        /// The `.tar.gz`, exactly as served.
        bytes: Vec<u8>,
        /// For the next conditional request.
        validators: Validators,
    },
}

/// The bundle downloader. Cheap to clone; one connection pool.
#[derive(Clone, Debug)]
pub struct BundleFetcher {
    http: reqwest::Client,
    allow: Arc<HashSet<String>>,
    config: FetchConfig,
}

impl BundleFetcher {
    /// A fetcher trusting the built-in roots plus `config.ca_file`.
    pub fn new(config: FetchConfig) -> Result<BundleFetcher, FetchError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &config.ca_file {
            use rustls_pki_types::pem::PemObject as _;
            let bad = |why: String| FetchError::CaFile {
                path: path.clone(),
                why,
            };
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificate in the file".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Connect(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let allow = Arc::new(config.allow_hosts.clone());
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(Arc::new(CheckedResolver {
                allow: allow.clone(),
            }))
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            // Followed by hand (see `fetch`), so each hop is checked and the token kept home.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        Ok(BundleFetcher {
            http,
            allow,
            config,
        })
    }

    /// Downloads `url`; with `prior`, conditionally. `token` goes to `url`'s origin only.
    pub async fn fetch(
        &self,
        url: &str,
        token: Option<&Secret>,
        prior: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        let timeout = self.config.timeout;
        tokio::time::timeout(timeout, self.fetch_hops(url, token, prior))
            .await
            .unwrap_or(Err(FetchError::Timeout(timeout)))
    }

    async fn fetch_hops(
        &self,
        url: &str,
        token: Option<&Secret>,
        prior: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        let mut url = Url::parse(url).map_err(|_| FetchError::BadUrl {
            url: shown(url),
            why: "not a URL",
        })?;
        let origin = url.origin();
        for hop in 0..=MAX_REDIRECTS {
            self.check_url(&url)?;
            let mut request = self.http.get(url.clone());
            if let Some(token) = token
                && url.origin() == origin
            {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| FetchError::BadUrl {
                        url: shown(url.as_str()),
                        why: "the plan token is not a valid header value",
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            if let Some(prior) = prior {
                if let Some(etag) = prior.etag.as_deref().and_then(header) {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(at) = prior.last_modified.as_deref().and_then(header) {
                    request = request.header(IF_MODIFIED_SINCE, at);
                }
            }
            let mut response = request
                .send()
                .await
                .map_err(|e| classify(e, self.config.timeout))?;
            let status = response.status();
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if status.is_redirection() {
                if hop == MAX_REDIRECTS {
                    return Err(FetchError::Redirect("too many redirects"));
                }
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(FetchError::Redirect("no usable Location"))?;
                if url.scheme() == "https" && next.scheme() != "https" {
                    return Err(FetchError::Redirect("from https to http"));
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let cap = self.config.max_bytes;
            if response.content_length().is_some_and(|n| n > cap) {
                return Err(FetchError::TooLarge(cap));
            }
            let validators = Validators {
                etag: text(response.headers().get(ETAG)),
                last_modified: text(response.headers().get(LAST_MODIFIED)),
            };
            // Chunk by chunk, stopping at the cap: a length can be absent or lie.
            let mut bytes = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| classify(e, self.config.timeout))?
            {
                if (bytes.len() + chunk.len()) as u64 > cap {
                    return Err(FetchError::TooLarge(cap));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Fetched::Body { bytes, validators });
        }
        Err(FetchError::Redirect("too many redirects"))
    }

    /// Scheme and, for an IP-literal host, its address (names are checked by the resolver).
    fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => {
                return Err(FetchError::BadUrl {
                    url: shown(url.as_str()),
                    why: "no host",
                });
            }
        };
        let allowed = self.allow.contains(&host);
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            "http" => {
                return Err(FetchError::BadUrl {
                    url: shown(url.as_str()),
                    why: "only https (plain http only to a host in RATER_PLAN_ALLOW_HOSTS)",
                });
            }
            _ => {
                return Err(FetchError::BadUrl {
                    url: shown(url.as_str()),
                    why: "the scheme must be https",
                });
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::BadUrl {
                url: shown(url.as_str()),
                why: "credentials in the URL (use the planToken setting)",
            });
        }
        if allowed {
            return Ok(());
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match ip.and_then(refused) {
            Some(why) => Err(FetchError::Forbidden { host, why }),
            None => Ok(()),
        }
    }
}

/// A rustls config over *ring* that trusts no certificate, for reqwest clients that must
/// never speak TLS (the State API client): reqwest needs some config to build.
pub fn no_tls() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

fn header(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

fn text(v: Option<&HeaderValue>) -> Option<String> {
    v.and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A URL as shown in errors and logs: no query or fragment (which may carry a signature).
fn shown(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or("").to_owned()
}

/// reqwest errors are classified and their text kept without the URL's query.
fn classify(e: reqwest::Error, timeout: Duration) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<HostRefused>() {
            return FetchError::Forbidden {
                host: r.host.clone(),
                why: r.why,
            };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout(timeout);
    }
    let mut why = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if !why.is_empty() {
            why.push_str(": ");
        }
        why.push_str(&s.to_string());
        source = s.source();
    }
    if why.is_empty() {
        why = if e.is_connect() {
            "connect error"
        } else {
            "transport error"
        }
        .into();
    }
    FetchError::Connect(why)
}

/// Why an address must not be fetched from on a tenant's behalf, if so.
pub fn refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let seg0 = v6.segments()[0];
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg0 & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if seg0 & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else {
                None
            }
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified address")
    } else if ip.is_broadcast() {
        Some("the broadcast address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else {
        None
    }
}

/// Resolution refused by [`CheckedResolver`]; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {why}")]
struct HostRefused {
    host: String,
    why: &'static str,
}

/// The client's only resolver: every address a name resolves to is checked, and only a
/// name whose addresses all pass is connected to, at exactly those addresses.
struct CheckedResolver {
    allow: Arc<HashSet<String>>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let allowed = self.allow.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allowed {
                // One refused address refuses the name: a mixed answer is how rebinding
                // attacks hedge.
                if let Some(why) = addrs.iter().find_map(|a| refused(a.ip())) {
                    return Err(Box::new(HostRefused { host, why }) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(refused(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "100.128.0.1"] {
            assert_eq!(refused(ip.parse().unwrap()), None, "{ip}");
        }
        assert_eq!(
            refused("169.254.169.254".parse().unwrap()),
            Some("a cloud metadata address")
        );
    }
}
