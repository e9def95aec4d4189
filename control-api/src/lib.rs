//! The control API (`marquee api`): what content teams and their apps talk to. Users, roles and API keys;
//! resumable (tus) uploads straight into storage; assets and their progress; the transcode job queue that
//! `marquee worker`s claim work from; events with signed webhooks; signed playback URLs. One schema on SQLite
//! (the embedded default) or PostgreSQL (scale-out: any number of API instances on one database).
//!
//! - [`settings`]: the `[api]` section, flags and variables.
//! - [`auth`]: users, roles, sign-in, API keys, and the [`auth::Caller`] of every request.
//! - [`db`]: the database and its migrations (`control-api/migrations/{sqlite,postgres}`).
//! - [`state`]: what every handler may use; [`server`]: the router, its middleware and serving on
//!   `marquee-http`; [`routes`]: the `/v1` routes of each resource module.
//! - [`satellite`]: how the catalog, commerce and analytics libraries are mounted beside these routes.
//! - [`clock`]: the one clock (tests move it); [`cursor`]: signed pagination cursors for the satellites' lists.
//! - [`error`]: the one JSON error format; [`openapi`]: the generated OpenAPI document; [`metrics`].

pub mod assets;
pub mod auth;
pub mod clock;
pub mod cursor;
pub mod db;
pub mod error;
pub mod events;
pub mod farm;
pub mod idempotency;
pub mod jobs;
pub mod layer_responses;
pub mod metrics;
pub mod openapi;
pub mod playback;
pub mod routes;
pub mod satellite;
pub mod server;
pub mod settings;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod uploads;

pub use db::{Database, DatabaseError, Engine};
pub use error::ApiError;
pub use metrics::ApiMetrics;
pub use satellite::{Satellite, Satellites};
pub use server::{router, Api};
pub use settings::ApiSettings;
pub use state::AppState;
