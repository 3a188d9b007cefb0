//! Service configuration from flags and environment variables, validated before any port
//! is bound.
//!
//! Two layers, as in linkerd's `env.rs`:
//!
//! - [`ServeArgs`] is the raw command line: every setting is an optional string that clap
//!   fills from a flag or from its environment variable (`rater --help` lists both).
//! - [`Config`] is the resolved, typed configuration. [`Config::from_lookup`] reads raw
//!   values through the [`Lookup`] trait, so tests pass a `HashMap` and never touch the
//!   process environment (`std::env::set_var` races with other test threads).
//!
//! Every variable has an `ENV_*` name and a `DEFAULT_*` value side by side. Validation
//! collects every bad value and names each one (variable, flag, value, reason) in
//! [`ConfigErrors`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Listening port (the platform sets it in the container).
pub const ENV_PORT: &str = "SMP_PORT";
/// Port of the platform's .NET example.
pub const DEFAULT_PORT: u16 = 10101;

/// Listening address.
pub const ENV_BIND: &str = "RATER_BIND_ADDR";
/// All interfaces: the platform's router reaches the container from outside.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Folder holding the plan folders.
pub const ENV_PLANS_DIR: &str = "RATER_PLANS_DIR";
/// Relative to the working directory (`/app` in the image).
pub const DEFAULT_PLANS_DIR: &str = "rating-tables";

/// Path of the external rater endpoint (declared in `socotra-app.json`).
pub const ENV_RATE_PATH: &str = "RATER_RATE_PATH";
/// As declared in `socotra-app.json`.
pub const DEFAULT_RATE_PATH: &str = "/rate";

/// Largest accepted request body.
pub const ENV_MAX_BODY_BYTES: &str = "RATER_MAX_BODY_BYTES";
/// 4 MiB: Socotra policies are tens to hundreds of KB; this leaves room for long histories.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;

/// Most open connections at once (per worker runtime with `per-core`).
pub const ENV_MAX_CONNECTIONS: &str = "RATER_MAX_CONNECTIONS";
/// Bounds memory (each connection holds hyper's buffers) well inside a 128 MB plan.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Time a client has to send a complete request head.
pub const ENV_HEADER_TIMEOUT_MS: &str = "RATER_HEADER_TIMEOUT_MS";
/// Socotra sends small heads at once; 5 s only cuts off slow or stuck clients.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Time an idle keep-alive connection stays open.
pub const ENV_IDLE_TIMEOUT_MS: &str = "RATER_IDLE_TIMEOUT_MS";
/// Longer than the usual 60 s proxy idle timeout, so the proxy in front of us closes idle
/// connections first and never sends a request on a connection we are closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Budget of one request, body read included; past it the answer is 503.
pub const ENV_REQUEST_DEADLINE_MS: &str = "RATER_REQUEST_DEADLINE_MS";
/// Socotra's rater call is synchronous; CONTRACT.md section 7 targets at most 5 s in total.
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// After SIGTERM, how long the server keeps accepting while `/ready` answers 503.
pub const ENV_SHUTDOWN_GRACE_MS: &str = "RATER_SHUTDOWN_GRACE_MS";
/// Long enough for a load balancer to see `/ready` fail and stop routing to us.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// After the grace, how long in-flight requests get to finish.
pub const ENV_DRAIN_TIMEOUT_MS: &str = "RATER_DRAIN_TIMEOUT_MS";
/// Grace plus drain stay under the 30 s a container gets between SIGTERM and SIGKILL.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound of grace plus drain.
pub const MAX_STOP_BUDGET: Duration = Duration::from_secs(30);

/// `text` or `json` log lines.
pub const ENV_LOG_FORMAT: &str = "RATER_LOG_FORMAT";
/// Human-readable by default.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;

/// `multi` or `per-core` runtime layout.
pub const ENV_RUNTIME: &str = "RATER_RUNTIME";
/// One work-stealing runtime: the safe default until `per-core` is measured.
pub const DEFAULT_RUNTIME: RuntimeKind = RuntimeKind::Multi;

/// Worker threads (`multi`) or runtimes (`per-core`).
pub const ENV_WORKERS: &str = "RATER_WORKERS";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// How the tokio runtime is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    /// One multi-threaded, work-stealing runtime with one listener.
    Multi,
    /// One current-thread runtime per worker, each with its own `SO_REUSEPORT` listener:
    /// no cross-thread wake-ups or task stealing; the kernel spreads connections.
    PerCore,
}

/// `rater serve` settings, as given: each is a flag or its environment variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// The port to listen on [default: 10101].
    #[arg(long, env = ENV_PORT, value_name = "PORT")]
    pub port: Option<String>,
    /// The address to listen on [default: 0.0.0.0].
    #[arg(long, env = ENV_BIND, value_name = "IP")]
    pub bind: Option<String>,
    /// The folder holding the plan folders [default: rating-tables].
    #[arg(long, env = ENV_PLANS_DIR, value_name = "DIR")]
    pub plans_dir: Option<String>,
    /// The path of the rating endpoint [default: /rate].
    #[arg(long, env = ENV_RATE_PATH, value_name = "PATH")]
    pub rate_path: Option<String>,
    /// The largest accepted request body in bytes [default: 4194304].
    #[arg(long, env = ENV_MAX_BODY_BYTES, value_name = "BYTES")]
    pub max_body_bytes: Option<String>,
    /// The most open connections (per runtime with --runtime per-core) [default: 1024].
    #[arg(long, env = ENV_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: Option<String>,
    /// Time to receive a request head, in ms [default: 5000].
    #[arg(long, env = ENV_HEADER_TIMEOUT_MS, value_name = "MS")]
    pub header_timeout_ms: Option<String>,
    /// Time an idle keep-alive connection stays open, in ms [default: 75000].
    #[arg(long, env = ENV_IDLE_TIMEOUT_MS, value_name = "MS")]
    pub idle_timeout_ms: Option<String>,
    /// Budget of one request, in ms; past it the answer is 503 [default: 5000].
    #[arg(long, env = ENV_REQUEST_DEADLINE_MS, value_name = "MS")]
    pub request_deadline_ms: Option<String>,
    /// After SIGTERM, time to keep serving while /ready answers 503, in ms [default: 3000].
    #[arg(long, env = ENV_SHUTDOWN_GRACE_MS, value_name = "MS")]
    pub shutdown_grace_ms: Option<String>,
    /// Then, time for in-flight requests to finish, in ms; grace + drain < 30 s [default: 20000].
    #[arg(long, env = ENV_DRAIN_TIMEOUT_MS, value_name = "MS")]
    pub drain_timeout_ms: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = ENV_LOG_FORMAT, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Runtime layout: multi or per-core [default: multi].
    #[arg(long, env = ENV_RUNTIME, value_name = "LAYOUT")]
    pub runtime: Option<String>,
    /// Worker threads (multi) or runtimes (per-core) [default: the number of CPUs].
    #[arg(long, env = ENV_WORKERS, value_name = "N")]
    pub workers: Option<String>,
}

/// Where raw setting values come from, keyed by environment variable name.
pub trait Lookup {
    /// The raw value of `var`, if set.
    fn lookup(&self, var: &str) -> Option<&str>;
}

impl Lookup for HashMap<&str, &str> {
    fn lookup(&self, var: &str) -> Option<&str> {
        self.get(var).copied()
    }
}

impl Lookup for ServeArgs {
    fn lookup(&self, var: &str) -> Option<&str> {
        let field = match var {
            ENV_PORT => &self.port,
            ENV_BIND => &self.bind,
            ENV_PLANS_DIR => &self.plans_dir,
            ENV_RATE_PATH => &self.rate_path,
            ENV_MAX_BODY_BYTES => &self.max_body_bytes,
            ENV_MAX_CONNECTIONS => &self.max_connections,
            ENV_HEADER_TIMEOUT_MS => &self.header_timeout_ms,
            ENV_IDLE_TIMEOUT_MS => &self.idle_timeout_ms,
            ENV_REQUEST_DEADLINE_MS => &self.request_deadline_ms,
            ENV_SHUTDOWN_GRACE_MS => &self.shutdown_grace_ms,
            ENV_DRAIN_TIMEOUT_MS => &self.drain_timeout_ms,
            ENV_LOG_FORMAT => &self.log_format,
            ENV_RUNTIME => &self.runtime,
            ENV_WORKERS => &self.workers,
            _ => return None,
        };
        field.as_deref()
    }
}

/// The resolved service configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The folder holding the plan folders.
    pub plans_dir: PathBuf,
    /// The path of the rating endpoint.
    pub rate_path: String,
    /// The largest accepted request body.
    pub max_body_bytes: usize,
    /// The most open connections (per runtime with `per-core`).
    pub max_connections: usize,
    /// Time to receive a request head.
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection stays open.
    pub idle_timeout: Duration,
    /// Budget of one request.
    pub request_deadline: Duration,
    /// Time to keep serving after the shutdown signal, with `/ready` answering 503.
    pub shutdown_grace: Duration,
    /// Time for in-flight requests to finish once accepting stops.
    pub drain_timeout: Duration,
    /// Log line format.
    pub log_format: LogFormat,
    /// Runtime layout.
    pub runtime: RuntimeKind,
    /// Worker threads or runtimes.
    pub workers: usize,
}

/// One bad setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var} (--{flag}) = {value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// The flag, without `--`.
    pub flag: &'static str,
    /// The raw value as given.
    pub value: String,
    /// Why it is refused.
    pub reason: String,
}

/// Every bad setting found, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration:")?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads one setting: the default when unset, else `parse`'s value; a refusal is recorded.
struct Reader<'a, L: ?Sized> {
    src: &'a L,
    errors: Vec<ConfigError>,
}

impl<L: Lookup + ?Sized> Reader<'_, L> {
    fn read<T>(
        &mut self,
        var: &'static str,
        flag: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        let Some(raw) = self.src.lookup(var) else {
            return default;
        };
        match parse(raw.trim()) {
            Ok(v) => v,
            Err(reason) => {
                self.errors.push(ConfigError {
                    var,
                    flag,
                    value: raw.to_owned(),
                    reason,
                });
                default
            }
        }
    }
}

fn whole(lo: u64, hi: u64) -> impl Fn(&str) -> Result<u64, String> {
    move |s| match s.parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(_) => Err(format!("must be between {lo} and {hi}")),
        Err(_) => Err("not a whole number".into()),
    }
}

fn millis(lo: u64, hi: u64) -> impl Fn(&str) -> Result<Duration, String> {
    let w = whole(lo, hi);
    move |s| w(s).map(Duration::from_millis)
}

fn rate_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err("must start with `/`".into());
    }
    if s.len() > 256 || !s.bytes().all(|b| b.is_ascii_graphic()) || s.contains(['?', '#']) {
        return Err("must be a plain URL path of at most 256 visible ASCII characters".into());
    }
    if s.starts_with("/_app/") || s == "/_app" {
        return Err("`/_app/` is reserved for the platform's lifecycle calls".into());
    }
    if matches!(s, "/" | "/health" | "/ready" | "/metrics") {
        return Err("collides with a built-in route".into());
    }
    Ok(s.to_owned())
}

impl Config {
    /// Resolves the command line (flags, else environment variables).
    pub fn from_args(args: &ServeArgs) -> Result<Config, ConfigErrors> {
        Config::from_lookup(args)
    }

    /// Resolves settings read through `src`; unset ones take their `DEFAULT_*`.
    pub fn from_lookup<L: Lookup + ?Sized>(src: &L) -> Result<Config, ConfigErrors> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut r = Reader {
            src,
            errors: Vec::new(),
        };
        let port = r.read(ENV_PORT, "port", DEFAULT_PORT, |s| {
            s.parse::<u16>()
                .map_err(|_| "not a port number (0 to 65535)".into())
        });
        let bind = r.read(ENV_BIND, "bind", DEFAULT_BIND, |s| {
            s.parse::<IpAddr>()
                .map_err(|_| "not an IPv4 or IPv6 address".into())
        });
        let plans_dir = r.read(ENV_PLANS_DIR, "plans-dir", DEFAULT_PLANS_DIR.into(), |s| {
            if s.is_empty() {
                Err("must not be empty".into())
            } else {
                Ok(PathBuf::from(s))
            }
        });
        let rate_path = r.read(
            ENV_RATE_PATH,
            "rate-path",
            DEFAULT_RATE_PATH.into(),
            rate_path,
        );
        let max_body_bytes = r.read(
            ENV_MAX_BODY_BYTES,
            "max-body-bytes",
            DEFAULT_MAX_BODY_BYTES as u64,
            whole(1024, 1 << 30),
        ) as usize;
        let max_connections = r.read(
            ENV_MAX_CONNECTIONS,
            "max-connections",
            DEFAULT_MAX_CONNECTIONS as u64,
            whole(1, 1_000_000),
        ) as usize;
        let header_timeout = r.read(
            ENV_HEADER_TIMEOUT_MS,
            "header-timeout-ms",
            DEFAULT_HEADER_TIMEOUT,
            millis(1, 600_000),
        );
        let idle_timeout = r.read(
            ENV_IDLE_TIMEOUT_MS,
            "idle-timeout-ms",
            DEFAULT_IDLE_TIMEOUT,
            millis(1, 3_600_000),
        );
        let request_deadline = r.read(
            ENV_REQUEST_DEADLINE_MS,
            "request-deadline-ms",
            DEFAULT_REQUEST_DEADLINE,
            millis(1, 600_000),
        );
        let shutdown_grace = r.read(
            ENV_SHUTDOWN_GRACE_MS,
            "shutdown-grace-ms",
            DEFAULT_SHUTDOWN_GRACE,
            millis(0, MAX_STOP_BUDGET.as_millis() as u64 - 1),
        );
        let drain_timeout = r.read(
            ENV_DRAIN_TIMEOUT_MS,
            "drain-timeout-ms",
            DEFAULT_DRAIN_TIMEOUT,
            millis(0, MAX_STOP_BUDGET.as_millis() as u64 - 1),
        );
        let log_format = r.read(
            ENV_LOG_FORMAT,
            "log-format",
            DEFAULT_LOG_FORMAT,
            |s| match s {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("must be `text` or `json`".into()),
            },
        );
        let runtime = r.read(ENV_RUNTIME, "runtime", DEFAULT_RUNTIME, |s| match s {
            "multi" => Ok(RuntimeKind::Multi),
            "per-core" => Ok(RuntimeKind::PerCore),
            _ => Err("must be `multi` or `per-core`".into()),
        });
        let workers = r.read(ENV_WORKERS, "workers", cpus as u64, whole(1, 1024)) as usize;

        if shutdown_grace + drain_timeout >= MAX_STOP_BUDGET {
            let value = format!(
                "{} + {}",
                shutdown_grace.as_millis(),
                drain_timeout.as_millis()
            );
            r.errors.push(ConfigError {
                var: ENV_DRAIN_TIMEOUT_MS,
                flag: "drain-timeout-ms",
                value,
                reason: format!(
                    "{ENV_SHUTDOWN_GRACE_MS} + {ENV_DRAIN_TIMEOUT_MS} must stay under 30000 ms \
                     (the time between SIGTERM and SIGKILL)"
                ),
            });
        }
        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        Ok(Config {
            addr: SocketAddr::new(bind, port),
            plans_dir,
            rate_path,
            max_body_bytes,
            max_connections,
            header_timeout,
            idle_timeout,
            request_deadline,
            shutdown_grace,
            drain_timeout,
            log_format,
            runtime,
            workers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<Config, ConfigErrors> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        Config::from_lookup(&map)
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.addr, "0.0.0.0:10101".parse().unwrap());
        assert_eq!(c.plans_dir, PathBuf::from("rating-tables"));
        assert_eq!(c.rate_path, "/rate");
        assert_eq!(c.max_body_bytes, 4 << 20);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.runtime, RuntimeKind::Multi);
        assert!(c.workers >= 1);
    }

    #[test]
    fn values_are_read() {
        let c = parse(&[
            (ENV_PORT, "8080"),
            (ENV_BIND, "127.0.0.1"),
            (ENV_RATE_PATH, "/price"),
            (ENV_IDLE_TIMEOUT_MS, "250"),
            (ENV_LOG_FORMAT, "json"),
            (ENV_RUNTIME, "per-core"),
            (ENV_WORKERS, "3"),
        ])
        .unwrap();
        assert_eq!(c.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.rate_path, "/price");
        assert_eq!(c.idle_timeout, Duration::from_millis(250));
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.runtime, RuntimeKind::PerCore);
        assert_eq!(c.workers, 3);
    }

    #[test]
    fn every_bad_value_is_named() {
        let err = parse(&[
            (ENV_PORT, "70000"),
            (ENV_MAX_BODY_BYTES, "lots"),
            (ENV_RATE_PATH, "/_app/rate"),
            (ENV_LOG_FORMAT, "xml"),
            (ENV_DRAIN_TIMEOUT_MS, "30000"),
        ])
        .unwrap_err();
        let vars: Vec<_> = err.0.iter().map(|e| e.var).collect();
        assert_eq!(
            vars,
            [
                ENV_PORT,
                ENV_RATE_PATH,
                ENV_MAX_BODY_BYTES,
                ENV_DRAIN_TIMEOUT_MS,
                ENV_LOG_FORMAT
            ]
        );
        let text = err.to_string();
        assert!(text.contains("SMP_PORT (--port) = \"70000\""), "{text}");
        assert!(text.contains("RATER_LOG_FORMAT"), "{text}");
    }

    #[test]
    fn grace_plus_drain_stays_under_30_s() {
        let err = parse(&[
            (ENV_SHUTDOWN_GRACE_MS, "15000"),
            (ENV_DRAIN_TIMEOUT_MS, "15000"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].reason.contains("30000"));
    }

    #[test]
    fn rate_path_must_not_shadow_routes() {
        for bad in ["rate", "/health", "/_app", "/a b", "/r?x=1"] {
            assert!(
                parse(&[(ENV_RATE_PATH, bad)]).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
