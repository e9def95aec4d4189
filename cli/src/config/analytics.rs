//! The `[analytics]` section that `marquee api` reads: the viewing-analytics satellite's settings an operator
//! tunes. The analytics library's own `AnalyticsSettings` is not a serde type (it holds the recommendation
//! model's weights too), so the section is declared here, over its `DEFAULT_*` consts, and becomes one with
//! [`AnalyticsSection::settings`]; the weights and the writer's batch size keep their defaults.

use std::time::Duration;

use marquee_analytics::AnalyticsSettings;
use marquee_settings::{Problem, Settings};
use serde::{Deserialize, Serialize};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The analytics settings of `marquee api`: `[analytics]`, `--analytics-*` flags, `MARQUEE_ANALYTICS_*`
/// variables. Each field's doc is its `--help` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "analytics", env_prefix = "MARQUEE_ANALYTICS", heading = "Viewing analytics")]
pub struct AnalyticsSection {
    /// Accepted player beacons that may wait to be written (about 300 bytes each); beyond it POST /v1/beacons
    /// answers 503 until the writer catches up.
    #[setting(flag = "analytics-queue-beacons", value_name = "COUNT")]
    pub queue_beacons: usize,
    /// The longest a beacon waits before its batch is written.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "analytics-flush-every", value_name = "DURATION")]
    pub flush_every: Duration,
    /// Anonymous beacon requests one client address may send in a burst...
    #[setting(flag = "analytics-anonymous-burst", value_name = "COUNT")]
    pub anonymous_burst: u32,
    /// ...then one more each this long (many players may share an address behind NAT).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "analytics-anonymous-refill", value_name = "DURATION")]
    pub anonymous_refill: Duration,
    /// How long raw beacon events are kept (the views' summaries, which the aggregates read, are kept).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "analytics-events-retention", value_name = "DURATION")]
    pub events_retention: Duration,
    /// How often the recommendation model is rebuilt from the stored views.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "analytics-rebuild-every", value_name = "DURATION")]
    pub rebuild_every: Duration,
    /// The recommendation model learns from the views started this long ago at most.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "analytics-watch-window", value_name = "DURATION")]
    pub watch_window: Duration,
}

impl Default for AnalyticsSection {
    fn default() -> Self {
        Self {
            queue_beacons: marquee_analytics::DEFAULT_QUEUE_BEACONS,
            flush_every: marquee_analytics::DEFAULT_FLUSH_EVERY,
            anonymous_burst: marquee_analytics::DEFAULT_ANONYMOUS_BURST,
            anonymous_refill: marquee_analytics::DEFAULT_ANONYMOUS_REFILL,
            events_retention: marquee_analytics::DEFAULT_EVENTS_RETENTION,
            rebuild_every: marquee_analytics::DEFAULT_REBUILD_EVERY,
            watch_window: marquee_analytics::DEFAULT_WATCH_WINDOW,
        }
    }
}

impl AnalyticsSection {
    /// What is wrong with these values, each about its key.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let between = |value: Duration, low: Duration, high: Duration| value >= low && value <= high;
        if !(1_000..=10_000_000).contains(&self.queue_beacons) {
            problems.push(Problem::new("queue_beacons", "must be between 1000 and 10000000"));
        }
        if !between(self.flush_every, Duration::from_millis(10), Duration::from_secs(60)) {
            problems.push(Problem::new("flush_every", "must be between 10ms and 1m"));
        }
        if self.anonymous_burst == 0 {
            problems.push(Problem::new("anonymous_burst", "must be at least 1"));
        }
        if !between(self.anonymous_refill, Duration::from_millis(1), Duration::from_secs(3600)) {
            problems.push(Problem::new("anonymous_refill", "must be between 1ms and 1h"));
        }
        if !between(self.events_retention, DAY, 3650 * DAY) {
            problems.push(Problem::new("events_retention", "must be between 1 day and 3650 days"));
        }
        if !between(self.rebuild_every, Duration::from_secs(10), DAY) {
            problems.push(Problem::new("rebuild_every", "must be between 10s and 1 day"));
        }
        if !between(self.watch_window, DAY, 3650 * DAY) {
            problems.push(Problem::new("watch_window", "must be between 1 day and 3650 days"));
        }
        problems
    }

    /// The library's settings: these values over its defaults.
    pub fn settings(&self) -> AnalyticsSettings {
        let defaults = AnalyticsSettings::default();
        AnalyticsSettings {
            queue_beacons: self.queue_beacons,
            // A batch is never larger than the queue it drains.
            batch_beacons: defaults.batch_beacons.min(self.queue_beacons),
            flush_every: self.flush_every,
            anonymous_burst: self.anonymous_burst,
            anonymous_refill: self.anonymous_refill,
            events_retention: self.events_retention,
            recommendations: marquee_analytics::recommend::RecommendSettings {
                rebuild_every: self.rebuild_every,
                window: self.watch_window,
                ..defaults.recommendations
            },
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_librarys_and_pass() {
        let section = AnalyticsSection::default();
        assert_eq!(section.problems(), []);
        assert_eq!(section.settings(), AnalyticsSettings::default());
    }

    #[test]
    fn each_bad_value_is_named() {
        let bad = AnalyticsSection {
            queue_beacons: 10,
            flush_every: Duration::ZERO,
            anonymous_burst: 0,
            anonymous_refill: Duration::ZERO,
            events_retention: Duration::from_secs(60),
            rebuild_every: Duration::from_secs(1),
            watch_window: Duration::ZERO,
        };
        let keys: Vec<&str> = bad.problems().iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "queue_beacons",
                "flush_every",
                "anonymous_burst",
                "anonymous_refill",
                "events_retention",
                "rebuild_every",
                "watch_window"
            ]
        );
    }
}
