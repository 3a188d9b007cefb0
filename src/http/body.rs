//! The request body: the JSON content-type check and reading the body under a size limit.
//!
//! Why it is fast: a body that arrives as one frame (hyper read it in one go, the usual case
//! for a Socotra request on a keep-alive connection) is passed on as hyper's own `Bytes`,
//! neither copied nor allocated; only a body in several frames is gathered into one buffer,
//! sized from `Content-Length` when given. Pricing only reads the body (the pruner copies
//! what rating reads into a per-thread buffer). A declared length over the limit is refused
//! before a byte is read; a chunked body is refused as soon as it grows past the limit.

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::error::HttpError;

/// Capacity of the buffer of a body without `Content-Length` (chunked): typical Socotra
/// requests fit, larger ones grow by doubling.
const CHUNKED_INITIAL_CAPACITY: usize = 16 * 1024;

/// Whether the body is read as JSON: its `Content-Type` is `application/json` (with any
/// parameters, `charset=utf-8`), or it has none. Nothing the platform documents says Socotra
/// sends a content type with a rating request, so its absence cannot be a reason to refuse
/// one; only a declared other type is (a caller that says "this is not JSON" is believed).
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    let v = v.as_bytes();
    let essence = v.split(|&b| b == b';').next().unwrap_or(v);
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// The declared body length, refused with 413 when over `limit`.
pub fn declared_len(headers: &HeaderMap, limit: usize) -> Result<Option<usize>, HttpError> {
    let Some(v) = headers.get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    // hyper has already refused conflicting or unparsable lengths; this is defensive.
    let n: u64 = std::str::from_utf8(v.as_bytes())
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(HttpError::BadContentLength)?;
    if n > limit as u64 {
        return Err(HttpError::PayloadTooLarge { limit });
    }
    Ok(Some(n as usize))
}

/// Reads the whole body, of at most `limit` bytes.
pub async fn read(
    mut body: Incoming,
    declared: Option<usize>,
    limit: usize,
) -> Result<Bytes, HttpError> {
    let mut gathered = Gathered::Empty;
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(HttpError::BodyRead)?;
        // Trailers (the only other frame kind) are ignored.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len += data.len();
        if len > limit {
            return Err(HttpError::PayloadTooLarge { limit });
        }
        gathered = match gathered {
            _ if data.is_empty() => gathered,
            Gathered::Empty => Gathered::One(data),
            Gathered::One(first) => {
                let capacity = declared.unwrap_or(CHUNKED_INITIAL_CAPACITY).min(limit);
                let mut buf = Vec::with_capacity(capacity.max(len));
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
                Gathered::Many(buf)
            }
            Gathered::Many(mut buf) => {
                buf.extend_from_slice(&data);
                Gathered::Many(buf)
            }
        };
    }
    Ok(match gathered {
        Gathered::Empty => Bytes::new(),
        Gathered::One(data) => data,
        Gathered::Many(buf) => Bytes::from(buf),
    })
}

/// The frames of a body read so far.
enum Gathered {
    Empty,
    /// One frame: kept as hyper gave it.
    One(Bytes),
    /// More: copied into one buffer.
    Many(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(ct: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        h
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(is_json(&headers(" application/json ;charset=UTF-8")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/jsonx")));
        // Declared, but empty: not JSON.
        assert!(!is_json(&headers("")));
        // Not declared at all: read as JSON.
        assert!(is_json(&HeaderMap::new()));
    }

    #[test]
    fn declared_length_limit() {
        let mut h = HeaderMap::new();
        assert_eq!(declared_len(&h, 10).unwrap(), None);
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("10"));
        assert_eq!(declared_len(&h, 10).unwrap(), Some(10));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("11"));
        assert!(matches!(
            declared_len(&h, 10),
            Err(HttpError::PayloadTooLarge { limit: 10 })
        ));
    }
}
