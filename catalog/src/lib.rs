//! The catalog satellite (`marquee api` mounts it): titles of kind movie, series, season and episode, people
//! and their credits, artwork, availability windows, and the assets each title plays.
//!
//! - [`index`]: what the catalog tells a search index, in the transaction of each change.

pub mod index;
