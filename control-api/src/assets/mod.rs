//! Assets: what an upload becomes. [`model`] (statuses and their transitions, what the API shows; pure),
//! [`store`] (the table; every status change records its event in the same transaction), [`routes`];
//! [`from_url`]: `POST /v1/assets` with an `input_url` the farm fetches.

pub mod from_url;
pub mod model;
pub mod routes;
pub mod store;

pub use model::{Asset, AssetStatus, PlaybackPolicy, Poster};
