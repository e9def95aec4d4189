//! The QoE aggregates of a set of views (one asset's or one title's over a time range). Pure.
//!
//! - **views**: views started in the range; **unique viewers**: distinct viewer keys among them.
//! - **watch time**: the sum of their playing time; **average view duration**: watch time / views.
//! - **startup time p50 / p95**: over the views that showed a first frame, by the nearest-rank method (the
//!   smallest startup time such that at least p % of the views started at most that fast: the value at rank
//!   ⌈p/100 · n⌉ of the sorted times). Exact, and always a time some view had; no interpolation.
//! - **rebuffer percentage**: stalled time / (playing + stalled time), × 100.
//! - **average bitrate**: time-weighted over the playing time with a known rendition.
//! - **error rate**: share of views with at least one error.
//! - **exits before start**: views that never showed a frame and ended (or went silent for
//!   [`ABANDONED_AFTER_MS`]).

use serde::Serialize;
use utoipa::ToSchema;

/// A view with no event for this long is over, whatever its last event said.
pub const ABANDONED_AFTER_MS: i64 = 5 * 60_000;

/// What the aggregates need of one view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSummary {
    pub viewer_key: String,
    pub startup_ms: Option<i64>,
    pub watch_ms: i64,
    pub rebuffer_ms: i64,
    pub bitrate_ms: i64,
    pub played_bits: i64,
    pub errors: i64,
    pub ended: bool,
    pub last_at: i64,
}

/// The QoE aggregates of some views.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Aggregates {
    pub views: u64,
    pub unique_viewers: u64,
    pub watch_time_ms: i64,
    /// Absent when there are no views.
    pub average_view_duration_ms: Option<i64>,
    /// Absent when no view showed a frame.
    pub startup_time_p50_ms: Option<i64>,
    pub startup_time_p95_ms: Option<i64>,
    /// 0 to 100; absent when nothing played.
    pub rebuffer_percentage: Option<f64>,
    /// Absent when no rendition was reported.
    pub average_bitrate_bps: Option<i64>,
    /// 0 to 1; absent when there are no views.
    pub error_rate: Option<f64>,
    pub exits_before_start: u64,
}

/// The value at nearest rank ⌈p/100 · n⌉ of `sorted` (ascending), or `None` when empty.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The aggregates of `views`, as of `now_ms` (for abandoned views).
pub fn aggregate(views: &[ViewSummary], now_ms: i64) -> Aggregates {
    let count = views.len() as u64;
    let unique_viewers = views.iter().map(|v| v.viewer_key.as_str()).collect::<std::collections::HashSet<_>>().len();
    let watch: i64 = views.iter().map(|v| v.watch_ms).sum();
    let stalled: i64 = views.iter().map(|v| v.rebuffer_ms).sum();
    let mut startups: Vec<i64> = views.iter().filter_map(|v| v.startup_ms).collect();
    startups.sort_unstable();
    // Sums in 128 bits: a title's played bits over a year overflow 64.
    let bits: i128 = views.iter().map(|v| i128::from(v.played_bits)).sum();
    let bitrate_ms: i128 = views.iter().map(|v| i128::from(v.bitrate_ms)).sum();
    let errored = views.iter().filter(|v| v.errors > 0).count() as u64;
    let exits = views
        .iter()
        .filter(|v| v.startup_ms.is_none() && (v.ended || now_ms - v.last_at >= ABANDONED_AFTER_MS))
        .count() as u64;
    Aggregates {
        views: count,
        unique_viewers: unique_viewers as u64,
        watch_time_ms: watch,
        average_view_duration_ms: (count > 0).then(|| watch / count as i64),
        startup_time_p50_ms: percentile(&startups, 50.0),
        startup_time_p95_ms: percentile(&startups, 95.0),
        rebuffer_percentage: (watch + stalled > 0).then(|| 100.0 * stalled as f64 / (watch + stalled) as f64),
        average_bitrate_bps: (bitrate_ms > 0).then(|| i64::try_from(bits * 1000 / bitrate_ms).unwrap_or(i64::MAX)),
        error_rate: (count > 0).then(|| errored as f64 / count as f64),
        exits_before_start: exits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn view(viewer: &str, startup: Option<i64>, watch: i64, stall: i64) -> ViewSummary {
        ViewSummary {
            viewer_key: viewer.into(),
            startup_ms: startup,
            watch_ms: watch,
            rebuffer_ms: stall,
            bitrate_ms: watch,
            played_bits: watch * 3_000,
            errors: 0,
            ended: true,
            last_at: 0,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<i64> = (1..=20).map(|i| i * 100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(1_000));
        assert_eq!(percentile(&sorted, 95.0), Some(1_900));
        assert_eq!(percentile(&sorted, 100.0), Some(2_000));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn aggregates_of_a_few_views() {
        let mut errored = view("user:b", Some(300), 0, 0);
        errored.errors = 2;
        let views = vec![
            view("user:a", Some(100), 9_000, 1_000),
            view("user:a", Some(200), 1_000, 0),
            errored,
            view("device:c", None, 0, 0),
        ];
        let a = aggregate(&views, 0);
        assert_eq!((a.views, a.unique_viewers, a.watch_time_ms), (4, 3, 10_000));
        assert_eq!(a.average_view_duration_ms, Some(2_500));
        assert_eq!((a.startup_time_p50_ms, a.startup_time_p95_ms), (Some(200), Some(300)));
        assert_eq!(a.rebuffer_percentage, Some(100.0 * 1_000.0 / 11_000.0));
        assert_eq!(a.average_bitrate_bps, Some(3_000_000));
        assert_eq!((a.error_rate, a.exits_before_start), (Some(0.25), 1));
        let none = aggregate(&[], 0);
        assert_eq!(
            (none.views, none.average_view_duration_ms, none.startup_time_p50_ms, none.error_rate),
            (0, None, None, None)
        );
    }

    #[test]
    fn a_silent_view_without_a_frame_is_an_exit_once_abandoned() {
        let mut loading = view("view:x", None, 0, 0);
        loading.ended = false;
        loading.last_at = 1_000;
        assert_eq!(aggregate(std::slice::from_ref(&loading), 1_000 + ABANDONED_AFTER_MS - 1).exits_before_start, 0);
        assert_eq!(aggregate(&[loading], 1_000 + ABANDONED_AFTER_MS).exits_before_start, 1);
    }

    proptest! {
        /// The nearest-rank percentile is a sample, at least p % of the samples are at or below it, and fewer
        /// than p % are strictly below it.
        #[test]
        fn percentiles_match_their_definition(mut values in prop::collection::vec(0i64..100_000, 1..200), p in 1.0f64..=100.0) {
            values.sort_unstable();
            let q = percentile(&values, p).unwrap();
            prop_assert!(values.contains(&q));
            let n = values.len() as f64;
            let at_or_below = values.iter().filter(|v| **v <= q).count() as f64;
            let below = values.iter().filter(|v| **v < q).count() as f64;
            prop_assert!(at_or_below >= p / 100.0 * n - 1e-9);
            prop_assert!(below < p / 100.0 * n);
        }

        /// p50 ≤ p95, rates are shares, and the counts add up, whatever the views.
        #[test]
        fn aggregates_are_consistent(raw in prop::collection::vec((0u8..5, prop::option::of(0i64..30_000), 0i64..1_000_000, 0i64..100_000, 0i64..3), 0..60)) {
            let views: Vec<ViewSummary> = raw.iter().map(|(viewer, startup, watch, stall, errors)| ViewSummary {
                errors: *errors, ..view(&format!("user:{viewer}"), *startup, *watch, *stall)
            }).collect();
            let a = aggregate(&views, 0);
            prop_assert_eq!(a.views, views.len() as u64);
            prop_assert!(a.unique_viewers <= a.views.min(5));
            if let (Some(p50), Some(p95)) = (a.startup_time_p50_ms, a.startup_time_p95_ms) {
                prop_assert!(p50 <= p95);
            }
            prop_assert!(a.rebuffer_percentage.is_none_or(|r| (0.0..=100.0).contains(&r)));
            prop_assert!(a.error_rate.is_none_or(|r| (0.0..=1.0).contains(&r)));
            prop_assert!(a.exits_before_start <= a.views);
        }
    }
}
