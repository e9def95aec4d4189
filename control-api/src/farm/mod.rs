//! The transcode farm as the API serves it: workers register with an admin credential and then pull jobs
//! over HTTP with a token of their own (the protocol's messages are `marquee-farm-protocol`), so a worker
//! needs no database access and may run anywhere that reaches the API and the storage.
//!
//! - [`config`]: lease timing and the signal that wakes waiting claims.
//! - [`caller`]: the worker behind a request (`Authorization: Bearer mqw_…`).
//! - [`service`]: each operation as one transaction over the job queue ([`crate::jobs`]) and its asset.
//! - [`routes`]: the HTTP endpoints; [`sweeper`]: the background task that takes back expired leases and
//!   keeps the queue metrics fresh; [`metrics`].

pub mod caller;
pub mod config;
pub mod metrics;
pub mod routes;
pub mod service;
pub mod sweeper;

pub use config::FarmConfig;
pub use service::Farm;
