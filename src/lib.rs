//! rater: a high-throughput external rater for Socotra Enterprise Core.
//!
//! # Layout
//!
//! - [`engine`]: the pure premium engine (no IO, no JSON).
//! - [`plan`]: rate plans as data: loading, validation, indexing, selection.
//! - [`bundle`]: a tenant's plans as one `.tar.gz`: building, safe unpacking, checking.
//! - [`pricing`]: one rating request, bytes in, bytes out (shared by service and CLI).
//! - [`wire`]: Socotra's JSON: borrowed request types, response writer.
//! - [`tenant`]: tenant state from the State API, cached.
//! - [`actuary`]: actuary tooling: plan test cases (`rater test`), the impact of a plan
//!   change on a book of requests (`rater impact`).
//! - [`http`]: the hyper service; [`config`]: its settings; [`telemetry`]: logs and shared
//!   counters; [`cli`]: the command line.

pub mod actuary;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod engine;
pub mod http;
pub mod plan;
pub mod pricing;
pub mod telemetry;
pub mod tenant;
pub mod wire;
