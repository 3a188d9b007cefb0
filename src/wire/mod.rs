//! The only place that knows Socotra's JSON shape: the request as pricing reads it
//! ([`payload`]: simd-json's tape, indexed in place) after [`prune`] has cut it down to the
//! members rating reads (walking the body's [`structure`], simdjson-style bit masks), the
//! typed borrowed model of the request
//! ([`request`]: serde types, the benchmark baseline and a reference for the shape), and
//! the response writer ([`response`]).

pub mod payload;
pub mod prune;
pub mod request;
pub mod response;
pub mod structure;
