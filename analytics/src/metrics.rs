//! The analytics' Prometheus metrics, on the API's registry (served at `/metrics`). Labels come from enums only
//! (event kind, outcome, reject reason): no asset, title or viewer is ever a label, so the series count is fixed.
//!
//! The aggregates of `GET /v1/analytics/…`, service-wide: views (`marquee_analytics_views_total{outcome="started"}`),
//! exits before start (`…{outcome="exited_before_start"}`), startup time (the
//! `marquee_analytics_video_startup_seconds` histogram: p50/p95 by `histogram_quantile`), watch time and rebuffer
//! percentage (`marquee_analytics_watch_seconds_total`, `marquee_analytics_rebuffer_seconds_total`), average
//! bitrate (`marquee_analytics_played_bits_total` over `marquee_analytics_bitrate_known_seconds_total`), error
//! rate (`marquee_analytics_playback_errors_total` over views). Unique viewers are not a counter; the API has them.

use prometheus::{Counter, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::beacon::{EventKind, RejectReason};
use crate::store::BatchOutcome;

/// The `type` label of beacons whose type was not one of the kinds.
pub const INVALID_TYPE: &str = "invalid";

/// What happened to a beacon, as the `outcome` label of `marquee_analytics_beacons_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconOutcome {
    /// Valid and queued for the batch writer.
    Accepted,
    /// Invalid (see `marquee_analytics_beacons_rejected_total` for why).
    Rejected,
    /// Valid, but the queue was full or closing: the request was answered 503.
    Refused,
}

impl BeaconOutcome {
    pub const ALL: [Self; 3] = [Self::Accepted, Self::Rejected, Self::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Refused => "refused",
        }
    }
}

/// The satellite's metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AnalyticsMetrics {
    beacons: IntCounterVec,
    rejected: IntCounterVec,
    written: IntCounter,
    dropped: IntCounterVec,
    batch_seconds: Histogram,
    pub(crate) queued: IntGauge,
    views: IntCounterVec,
    startup_seconds: Histogram,
    rebuffer_seconds: Counter,
    watch_seconds: Counter,
    bitrate_seconds: Counter,
    played_bits: Counter,
    playback_errors: IntCounter,
    pub(crate) model_titles: IntGauge,
    model_seconds: Histogram,
}

impl Default for AnalyticsMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl AnalyticsMetrics {
    /// Metrics in no registry yet, every label value shown from the start at 0.
    pub fn new() -> Self {
        let beacons = IntCounterVec::new(
            Opts::new("marquee_analytics_beacons_total", "Player beacons received, by event type and outcome"),
            &["type", "outcome"],
        )
        .expect("valid metric");
        for kind in EventKind::ALL.iter().map(|k| k.as_str()).chain([INVALID_TYPE]) {
            for outcome in BeaconOutcome::ALL {
                beacons.with_label_values(&[kind, outcome.as_str()]);
            }
        }
        let rejected = IntCounterVec::new(
            Opts::new("marquee_analytics_beacons_rejected_total", "Player beacons rejected, by reason"),
            &["reason"],
        )
        .expect("valid metric");
        for reason in RejectReason::ALL {
            rejected.with_label_values(&[reason.as_str()]);
        }
        let dropped = IntCounterVec::new(
            Opts::new(
                "marquee_analytics_beacons_dropped_total",
                "Accepted beacons not stored: their batch failed to write, or their view belongs to another viewer",
            ),
            &["cause"],
        )
        .expect("valid metric");
        for cause in ["write_failed", "foreign_view"] {
            dropped.with_label_values(&[cause]);
        }
        let views = IntCounterVec::new(
            Opts::new("marquee_analytics_views_total", "Views by what they did: started, exited before start"),
            &["outcome"],
        )
        .expect("valid metric");
        for outcome in ["started", "exited_before_start"] {
            views.with_label_values(&[outcome]);
        }
        let seconds = |name: &str, help: &str, buckets: Vec<f64>| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid metric")
        };
        Self {
            beacons,
            rejected,
            written: IntCounter::new("marquee_analytics_beacons_written_total", "Beacons stored by the batch writer")
                .expect("valid metric"),
            dropped,
            batch_seconds: seconds(
                "marquee_analytics_write_batch_duration_seconds",
                "Time to write one batch of beacons (one transaction)",
                vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0],
            ),
            queued: IntGauge::new("marquee_analytics_queue_beacons", "Accepted beacons waiting for the batch writer")
                .expect("valid metric"),
            views,
            startup_seconds: seconds(
                "marquee_analytics_video_startup_seconds",
                "Video startup time: from view start to first frame",
                vec![0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0],
            ),
            rebuffer_seconds: Counter::new(
                "marquee_analytics_rebuffer_seconds_total",
                "Time players stalled after the first frame",
            )
            .expect("valid metric"),
            watch_seconds: Counter::new("marquee_analytics_watch_seconds_total", "Time players played")
                .expect("valid metric"),
            bitrate_seconds: Counter::new(
                "marquee_analytics_bitrate_known_seconds_total",
                "Playing time with a known rendition bitrate (the average bitrate is played bits over this)",
            )
            .expect("valid metric"),
            played_bits: Counter::new(
                "marquee_analytics_played_bits_total",
                "Bits of the renditions played, by their nominal bitrate",
            )
            .expect("valid metric"),
            playback_errors: IntCounter::new(
                "marquee_analytics_playback_errors_total",
                "Playback errors players reported",
            )
            .expect("valid metric"),
            model_titles: IntGauge::new(
                "marquee_analytics_recommendation_titles",
                "Titles the recommendation model knows",
            )
            .expect("valid metric"),
            model_seconds: seconds(
                "marquee_analytics_recommendation_build_duration_seconds",
                "Time to rebuild the recommendation model from the stored views",
                vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0],
            ),
        }
    }

    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.beacons.clone()))?;
        registry.register(Box::new(self.rejected.clone()))?;
        registry.register(Box::new(self.written.clone()))?;
        registry.register(Box::new(self.dropped.clone()))?;
        registry.register(Box::new(self.batch_seconds.clone()))?;
        registry.register(Box::new(self.queued.clone()))?;
        registry.register(Box::new(self.views.clone()))?;
        registry.register(Box::new(self.startup_seconds.clone()))?;
        registry.register(Box::new(self.rebuffer_seconds.clone()))?;
        registry.register(Box::new(self.watch_seconds.clone()))?;
        registry.register(Box::new(self.bitrate_seconds.clone()))?;
        registry.register(Box::new(self.played_bits.clone()))?;
        registry.register(Box::new(self.playback_errors.clone()))?;
        registry.register(Box::new(self.model_titles.clone()))?;
        registry.register(Box::new(self.model_seconds.clone()))?;
        Ok(())
    }

    pub fn beacon(&self, kind: &str, outcome: BeaconOutcome) {
        self.beacons.with_label_values(&[kind, outcome.as_str()]).inc();
    }

    pub fn rejected(&self, reason: RejectReason) {
        self.rejected.with_label_values(&[reason.as_str()]).inc();
    }

    pub fn write_failed(&self, beacons: u64) {
        self.dropped.with_label_values(&["write_failed"]).inc_by(beacons);
    }

    /// A written batch: its duration and what it changed.
    pub fn batch(&self, outcome: &BatchOutcome, seconds: f64) {
        self.batch_seconds.observe(seconds);
        self.written.inc_by(outcome.written);
        self.dropped.with_label_values(&["foreign_view"]).inc_by(outcome.foreign);
        self.views.with_label_values(&["started"]).inc_by(outcome.views_started);
        self.views.with_label_values(&["exited_before_start"]).inc_by(outcome.exits_before_start);
        for startup in &outcome.startups_ms {
            self.startup_seconds.observe(*startup as f64 / 1000.0);
        }
        self.rebuffer_seconds.inc_by(outcome.rebuffer_ms.max(0) as f64 / 1000.0);
        self.watch_seconds.inc_by(outcome.watch_ms.max(0) as f64 / 1000.0);
        self.bitrate_seconds.inc_by(outcome.bitrate_ms.max(0) as f64 / 1000.0);
        self.played_bits.inc_by(outcome.played_bits.max(0) as f64);
        self.playback_errors.inc_by(u64::try_from(outcome.errors).unwrap_or_default());
    }

    pub fn model_built(&self, titles: usize, seconds: f64) {
        self.model_titles.set(i64::try_from(titles).unwrap_or(i64::MAX));
        self.model_seconds.observe(seconds);
    }
}
