//! The only place that knows Socotra's JSON shape: the borrowed request types
//! ([`request`]) and the response writer ([`response`]).

pub mod request;
pub mod response;
