//! Events and signed webhooks. Every change to an asset records an event in the same transaction (the
//! outbox); clients read them in order from a cursor and register endpoints that a dispatcher sends them
//! to, signed per the Standard Webhooks spec, retried for 24 hours ([`retry`]).
//!
//! Pure parts, values in and values out: [`kind`] (the event types), [`retry`] (the backoff schedule),
//! [`outcome`] (what an answer means), [`endpoint_rules`] (endpoint URLs and filters), [`signing`].

pub mod endpoint_rules;
pub mod error;
pub mod kind;
pub mod outcome;
pub mod retry;
pub mod signing;

pub use error::EventsError;
pub use kind::EventType;
pub use retry::RetrySchedule;
