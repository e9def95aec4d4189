//! The viewing-analytics satellite (`marquee api` mounts it): player beacons under a view id, written in
//! batches, aggregated per asset and title over a time range (views, watch time, startup time, rebuffering,
//! bitrate, errors), and the same aggregates as Prometheus metrics with bounded labels.
//!
//! - [`beacon`]: the events a player sends and their validation, event by event (pure).
//! - [`view`]: one view's state machine, folding its events into a summary (pure).
//! - [`aggregate`]: the QoE aggregates of a set of views (pure).

pub mod aggregate;
pub mod beacon;
pub mod view;
