//! The premium engine: pure and synchronous. Typed inputs and a loaded plan in, a priced
//! result per peril characteristic (or a typed [`RatingError`]) out.
//!
//! **Architecture invariant:** the engine does no IO and knows no JSON. Money is
//! `rust_decimal::Decimal` with checked operations; never a float.

mod error;
mod eval;
mod input;
pub mod proration;
mod rate;
mod rounding;
mod trace;

pub use error::RatingError;
pub use eval::whole_years;
pub use input::{Builtin, InputSource, Level, Source, Value};
pub use proration::{Duration, Method, ProrationError};
pub use rate::{Commission, MAX_AMOUNT, PolicyPeriod, Priced, rate, value_of};
pub use rounding::{Rounding, RoundingMode};
pub use trace::{Explain, NoTrace, TraceEvent, Tracer};
