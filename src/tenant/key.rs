//! Tenant keys (`x-smp-key`): validation, percent-encoding as one URL path segment, URL
//! joining, and the short stable hash that stands in for a key in logs.
//!
//! The platform does not document the key's format, so validation rejects only what cannot
//! be a key: empty, over [`MAX_KEY_BYTES`], white space or control characters, and the dot
//! segments `.` and `..` (a URL parser would resolve them away, even percent-encoded, so
//! the request would reach another path). A key that fails here never reaches the State API.

use std::borrow::Borrow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest key accepted, in bytes. Generous: real keys are short tokens, and the bound
/// only keeps a hostile header from becoming a long URL and a long map key.
pub const MAX_KEY_BYTES: usize = 256;

/// Everything but RFC 3986 "unreserved" characters is encoded, so a key is always exactly one
/// path segment (`/`, `?`, `#`, `%` and non-ASCII all become `%XX`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a string cannot be a tenant key. The `Display` never repeats the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is the empty string.
    #[error("the key is empty")]
    Empty,
    /// The key is longer than [`MAX_KEY_BYTES`].
    #[error("the key is {0} bytes long, more than {MAX_KEY_BYTES}")]
    TooLong(usize),
    /// The key holds white space or a control character (at this byte offset).
    #[error("the key holds white space or a control character at byte {0}")]
    BadChar(usize),
    /// The key is `.` or `..`, which URL parsers resolve as dot segments.
    #[error("the key is a dot segment")]
    DotSegment,
}

/// A validated tenant key. Cheap to compare and hash as a `str` (it is the dashmap key).
///
/// `Debug` prints the [`KeyHash`], not the key: keys identify customers and end up in logs
/// through `{:?}` far too easily.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TenantKey(Box<str>);

impl TenantKey {
    /// Validates `raw` as a key.
    pub fn parse(raw: &str) -> Result<TenantKey, KeyError> {
        validate(raw)?;
        Ok(TenantKey(raw.into()))
    }

    /// The key itself. Do not log it: log [`TenantKey::hash`].
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key percent-encoded as one URL path segment.
    pub fn path_segment(&self) -> String {
        utf8_percent_encode(&self.0, SEGMENT).to_string()
    }

    /// The short stable hash used in logs.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

impl Borrow<str> for TenantKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantKey(#{})", self.hash())
    }
}

/// Checks `raw` without allocating (the per-request path calls this before any lookup).
pub fn validate(raw: &str) -> Result<(), KeyError> {
    if raw.is_empty() {
        return Err(KeyError::Empty);
    }
    if raw.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong(raw.len()));
    }
    if raw == "." || raw == ".." {
        return Err(KeyError::DotSegment);
    }
    match raw
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        Some((at, _)) => Err(KeyError::BadChar(at)),
        None => Ok(()),
    }
}

/// Joins a base URL and a path with exactly one `/` between them, whether or not `base`
/// ends in `/` or `path` starts with one (the platform's own samples disagree on whether
/// `SMP_STATE_API` ends in a slash).
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let mut url = String::with_capacity(base.len() + 1 + path.len());
    url.push_str(base);
    url.push('/');
    url.push_str(path);
    url
}

/// A short, stable, non-reversible stand-in for a key in logs and traces.
///
/// FNV-1a 64 (a few lines, no dependency, the same in every Rust version, unlike std's
/// `DefaultHasher`), shown as its top 32 bits in hex. 32 bits are enough to tell tenants
/// apart in a log and too few to be a useful index back to a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(u32);

impl KeyHash {
    /// The hash of a key's bytes.
    pub fn of(key: &str) -> KeyHash {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let h = key
            .bytes()
            .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
        KeyHash((h >> 32) as u32)
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_could_be_a_key() {
        for key in ["demo", "a", "ABC-123_x.y~z", "clé", "a/b?c#d%e", "..."] {
            assert!(TenantKey::parse(key).is_ok(), "{key}");
        }
        assert!(TenantKey::parse(&"k".repeat(MAX_KEY_BYTES)).is_ok());
    }

    #[test]
    fn rejects_what_cannot_be_a_key() {
        assert_eq!(validate(""), Err(KeyError::Empty));
        assert_eq!(validate(&"k".repeat(257)), Err(KeyError::TooLong(257)));
        assert_eq!(validate("a b"), Err(KeyError::BadChar(1)));
        assert_eq!(validate("ab\t"), Err(KeyError::BadChar(2)));
        assert_eq!(validate("a\u{7f}"), Err(KeyError::BadChar(1)));
        assert_eq!(validate("a\u{a0}b"), Err(KeyError::BadChar(1)));
        assert_eq!(validate("\n"), Err(KeyError::BadChar(0)));
        assert_eq!(validate("."), Err(KeyError::DotSegment));
        assert_eq!(validate(".."), Err(KeyError::DotSegment));
    }

    #[test]
    fn errors_never_repeat_the_key() {
        let err = validate("secret key").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn encodes_as_one_segment() {
        let key = TenantKey::parse("a/b?c#d%e+é").unwrap();
        assert_eq!(key.path_segment(), "a%2Fb%3Fc%23d%25e%2B%C3%A9");
        assert_eq!(
            TenantKey::parse("Ab-1._~").unwrap().path_segment(),
            "Ab-1._~"
        );
    }

    #[test]
    fn joins_with_exactly_one_slash() {
        for base in ["http://s:1", "http://s:1/", "http://s:1//"] {
            assert_eq!(join_url(base, "state/k"), "http://s:1/state/k");
            assert_eq!(join_url(base, "/state/k"), "http://s:1/state/k");
        }
        assert_eq!(join_url("http://s/api/", "state/k"), "http://s/api/state/k");
    }

    #[test]
    fn hash_is_stable_and_debug_hides_the_key() {
        // Pinned so logs stay comparable across builds and Rust versions.
        assert_eq!(KeyHash::of("demo").to_string(), "a5e41b67");
        assert_eq!(KeyHash::of("demo"), KeyHash::of("demo"));
        assert_ne!(KeyHash::of("demo"), KeyHash::of("demp"));
        assert_eq!(KeyHash::of("").to_string(), "cbf29ce4");
        let key = TenantKey::parse("very-private").unwrap();
        assert!(!format!("{key:?}").contains("private"));
    }
}
