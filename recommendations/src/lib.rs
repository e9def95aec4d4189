//! Recommendations (`marquee api` mounts them): "more like this" per title (item-to-item co-viewing, with
//! genre and people similarity for titles nobody watched yet) and "for you" per viewer, falling back to
//! popularity. The scoring is pure; an offline evaluation measures hit rate at 10 against most-popular.
//!
//! - [`model`]: the model built from a watch log and the titles' features; "more like this", "for you",
//!   popularity.
//! - [`content`]: Jaccard similarity over genres and people.
//! - [`evaluate`]: the seeded watch-log generator and hit rate at k against most-popular
//!   (`cargo run -p marquee-recommendations --release --example evaluate`).

pub mod content;
pub mod evaluate;
pub mod model;

pub use model::{Model, Reason, Recommendation, Settings, TitleFeatures, WatchEvent};
