//! The viewing-analytics satellite (`marquee api` mounts it): player beacons under a view id, written in
//! batches, aggregated per asset and title over a time range (views, watch time, startup time, rebuffering,
//! bitrate, errors), and the same aggregates as Prometheus metrics with bounded labels.
