//! The request body: the JSON content-type check and reading the body into ONE buffer under
//! a size limit.
//!
//! Why it is fast: the buffer is allocated once, sized from `Content-Length` when given, and
//! every received chunk is copied into it exactly once; simd-json then parses that buffer in
//! place, so the body is never copied again. A declared length over the limit is refused
//! before a byte is read; a chunked body is refused as soon as it grows past the limit.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::error::HttpError;

/// Capacity of the buffer of a body without `Content-Length` (chunked): typical Socotra
/// requests fit, larger ones grow by doubling.
const CHUNKED_INITIAL_CAPACITY: usize = 16 * 1024;

/// Whether the `Content-Type` is `application/json`, with any parameters (`charset=utf-8`).
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(v) = headers.get(CONTENT_TYPE) else {
        return false;
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

/// Spare capacity every body buffer has past its last byte: simd-json's padding, so a
/// parser can read the body in place (`simd_json::fill_tape_padded` wants
/// `INPUT_PADDING` bytes after the document) instead of copying it into a padded buffer.
pub const BODY_PADDING: usize = simd_json::INPUT_PADDING;

/// Reads the whole body into one buffer of at most `limit` bytes. The buffer returned has
/// at least [`BODY_PADDING`] bytes of spare capacity after the body (`capacity() - len()`),
/// reserved up front with the declared length, so padding never moves the body.
pub async fn read(
    mut body: Incoming,
    declared: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, HttpError> {
    let mut buf =
        Vec::with_capacity(declared.unwrap_or(CHUNKED_INITIAL_CAPACITY).min(limit) + BODY_PADDING);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(HttpError::BodyRead)?;
        // Trailers (the only other frame kind) are ignored.
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(HttpError::PayloadTooLarge { limit });
            }
            buf.extend_from_slice(&data);
        }
    }
    // A no-op when the length was declared (reserved above); a chunked body that grew may
    // need it.
    buf.reserve(BODY_PADDING);
    Ok(buf)
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
        assert!(!is_json(&HeaderMap::new()));
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
