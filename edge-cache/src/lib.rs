//! The edge cache: a tiered memory + disk caching reverse proxy in front of origins and shields (issue #4).
//!
//! Pure parts (no I/O): [`key`] (cache keys without tokens), [`freshness`] (how long an upstream answer may
//! be served, and stale), [`hashing`] (which upstream owns a key). Tiers: [`memory`] (moka, weighted by bytes,
//! behind a frequency-based admission gate) and [`disk`] (an LRU over files with a byte budget that survives
//! restarts). Memory: bodies of segment size live in mappings of their own ([`body`]), and fills in flight
//! hold at most the [`budget`] carved out of the memory budget, so that the process stays within its
//! configured memory plus a bounded overhead.

mod admission;
pub mod body;
pub mod budget;
pub mod config;
pub mod disk;
mod error;
pub mod fill;
mod filling;
pub mod freshness;
#[doc(hidden)]
pub mod fuzzing;
pub mod hashing;
pub mod key;
mod lookup;
pub mod memory;
pub mod metrics;
pub mod object;
mod purge;
mod response;
mod server;
mod state;
pub mod upstream;

pub use config::EdgeConfig;
pub use error::{EdgeError, Refusal};
pub use response::EdgeBody;
pub use server::{EdgeServer, PURGE_PATH};
