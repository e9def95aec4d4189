//! The catalog satellite (`marquee api` mounts it): titles of kind movie, series, season and episode, people
//! and their credits, artwork, availability windows, and the assets each title plays.
//!
//! - [`index`]: what the catalog tells a search index, in the transaction of each change.
//! - Pure: [`model`] (title kinds, fields and their rules), [`availability`] (windows and the rule that reads
//!   them), [`cursor`] (signed pagination cursors), [`artwork`] (image formats and storage keys).
//! - [`store`]: the tables; [`listing`]: what a caller sees, as SQL; [`indexing`]: the search index entries.

pub mod artwork;
pub mod availability;
pub mod cursor;
pub mod index;
pub mod indexing;
pub mod listing;
pub mod model;
pub mod store;
