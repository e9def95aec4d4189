//! Events and signed webhooks. Every change to an asset records an event in the same transaction (the
//! outbox, [`outbox::record`]); clients read them in order from a cursor ([`outbox::events_after`]) and
//! register endpoints ([`endpoints`]) that the [`dispatcher::Dispatcher`] sends them to, signed per the
//! Standard Webhooks spec, retried for 24 hours ([`retry`]), every attempt logged ([`deliveries`]).
//!
//! Pure parts, values in and values out: [`kind`] (the event types), [`retry`] (the backoff schedule),
//! [`outcome`] (what an answer means), [`endpoint_rules`] (endpoint URLs and filters), [`signing`]. The
//! functions that touch the database take the pool (or an open transaction), an owner scope (`Some(user)` for
//! a creator, `None` for an admin) and the time, so handlers call them directly; [`routes`] are those handlers.

pub mod deliveries;
pub mod dispatcher;
pub mod endpoint_rules;
pub mod endpoints;
pub mod error;
pub mod kind;
pub mod metrics;
pub mod outbox;
pub mod outcome;
pub mod retry;
pub mod routes;
pub mod signing;

pub use deliveries::{
    delivery, delivery_attempts, list_deliveries, redeliver, redeliver_event, Attempt, Delivery, DeliveryState,
};
pub use dispatcher::{DispatchReport, Dispatcher, DispatcherSettings};
pub use endpoints::{
    create_endpoint, delete_endpoint, endpoint, list_endpoints, CreatedEndpoint, Endpoint, NewEndpoint,
};
pub use error::EventsError;
pub use kind::EventType;
pub use outbox::{event, events_after, record, Event, EventPage, NewEvent};
pub use retry::RetrySchedule;

pub use crate::db::begin_write;
