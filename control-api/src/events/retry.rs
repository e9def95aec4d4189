//! When a failed webhook delivery is tried again: exponential backoff from [`DEFAULT_FIRST_RETRY_MS`], doubling
//! up to [`DEFAULT_MAX_RETRY_DELAY_MS`], with up to [`DEFAULT_JITTER`] of random extra delay (so receivers that
//! came back are not hit by every delayed delivery at the same moment), for [`DEFAULT_RETRY_WINDOW_MS`] after
//! the delivery was queued; then it is given up. Values in, values out: the dispatcher passes the times and
//! the random draw.

/// The wait after the first failed attempt: 5 s.
pub const DEFAULT_FIRST_RETRY_MS: i64 = 5_000;
/// The longest wait between two attempts: 2 h.
pub const DEFAULT_MAX_RETRY_DELAY_MS: i64 = 2 * 60 * 60 * 1000;
/// How long a delivery is tried, from when it was queued: 24 h.
pub const DEFAULT_RETRY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Extra random wait, as a fraction of the delay: up to 10 % more.
pub const DEFAULT_JITTER: f64 = 0.1;

/// A retry schedule. Times are Unix milliseconds, durations milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySchedule {
    pub first_retry_ms: i64,
    pub max_retry_delay_ms: i64,
    pub window_ms: i64,
    /// Fraction of the delay added at most as jitter (0 for exact times).
    pub jitter: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            first_retry_ms: DEFAULT_FIRST_RETRY_MS,
            max_retry_delay_ms: DEFAULT_MAX_RETRY_DELAY_MS,
            window_ms: DEFAULT_RETRY_WINDOW_MS,
            jitter: DEFAULT_JITTER,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(i64),
    /// The next attempt would fall after the retry window: stop.
    GiveUp,
}

impl RetrySchedule {
    /// The wait (without jitter) after the `failures`-th failed attempt in a row (1 after the first).
    pub fn delay_ms(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(1).min(62);
        self.first_retry_ms.saturating_mul(1_i64 << doublings).min(self.max_retry_delay_ms).max(0)
    }

    /// After the `failures`-th failed attempt, which started at `failed_at`, of a delivery queued at `queued_at`:
    /// when to try again, or to give up. `random` is a draw in `[0, 1)` that picks the jitter.
    pub fn after_failure(&self, queued_at: i64, failures: u32, failed_at: i64, random: f64) -> AfterFailure {
        let delay = self.delay_ms(failures);
        let jitter = (delay as f64 * self.jitter.max(0.0) * random.clamp(0.0, 1.0)) as i64;
        let at = failed_at.saturating_add(delay).saturating_add(jitter);
        if at <= queued_at.saturating_add(self.window_ms) {
            AfterFailure::RetryAt(at)
        } else {
            AfterFailure::GiveUp
        }
    }

    /// As [`after_failure`](Self::after_failure), but never sooner than the receiver asked with `Retry-After`
    /// (`retry_after_ms` after `failed_at`); a wait that ends past the window gives up.
    pub fn after_failure_asked(
        &self,
        queued_at: i64,
        failures: u32,
        failed_at: i64,
        random: f64,
        retry_after_ms: Option<i64>,
    ) -> AfterFailure {
        match self.after_failure(queued_at, failures, failed_at, random) {
            AfterFailure::GiveUp => AfterFailure::GiveUp,
            AfterFailure::RetryAt(at) => {
                let at = at.max(failed_at.saturating_add(retry_after_ms.unwrap_or(0).max(0)));
                if at <= queued_at.saturating_add(self.window_ms) {
                    AfterFailure::RetryAt(at)
                } else {
                    AfterFailure::GiveUp
                }
            }
        }
    }

    /// The times of every attempt of a delivery queued (and first tried) at `queued_at` that always fails,
    /// with no jitter: what the dispatcher does to a receiver that is down for the whole window.
    pub fn attempt_times(&self, queued_at: i64) -> Vec<i64> {
        let mut times = vec![queued_at];
        let no_jitter = RetrySchedule { jitter: 0.0, ..*self };
        while let AfterFailure::RetryAt(at) =
            no_jitter.after_failure(queued_at, times.len() as u32, *times.last().unwrap_or(&queued_at), 0.0)
        {
            times.push(at);
        }
        times
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;

    #[test]
    fn the_default_schedule_doubles_from_five_seconds_to_two_hours() {
        let schedule = RetrySchedule::default();
        let delays: Vec<i64> = (1..=13).map(|n| schedule.delay_ms(n) / 1000).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 7200, 7200]);
    }

    #[test]
    fn a_receiver_down_all_day_gets_attempts_for_24_hours_then_none() {
        let schedule = RetrySchedule::default();
        let times = schedule.attempt_times(0);
        let last = *times.last().unwrap();
        assert!(last <= 24 * HOUR && last > 22 * HOUR, "last attempt at {} h", last as f64 / HOUR as f64);
        // 12 attempts in the first 2.8 h (5 s … 85 min apart), then every 2 h.
        assert_eq!(times.len(), 22, "{times:?}");
        assert_eq!(schedule.after_failure(0, times.len() as u32, last, 0.0), AfterFailure::GiveUp);
    }

    #[test]
    fn jitter_only_ever_adds_up_to_its_fraction() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.after_failure(0, 1, 1000, 0.0), AfterFailure::RetryAt(6000));
        assert_eq!(schedule.after_failure(0, 1, 1000, 0.999_999), AfterFailure::RetryAt(6499));
    }

    #[test]
    fn a_receiver_may_ask_for_a_longer_wait_not_a_shorter_one() {
        let schedule = RetrySchedule { jitter: 0.0, ..RetrySchedule::default() };
        assert_eq!(schedule.after_failure_asked(0, 1, 0, 0.0, Some(60_000)), AfterFailure::RetryAt(60_000));
        assert_eq!(schedule.after_failure_asked(0, 1, 0, 0.0, Some(1_000)), AfterFailure::RetryAt(5_000));
        assert_eq!(schedule.after_failure_asked(0, 1, 0, 0.0, None), AfterFailure::RetryAt(5_000));
        assert_eq!(schedule.after_failure_asked(0, 1, 0, 0.0, Some(25 * HOUR)), AfterFailure::GiveUp);
    }

    proptest! {
        #[test]
        fn retries_wait_at_least_the_delay_and_never_leave_the_window(
            queued_at in 0_i64..4_000_000_000_000,
            failures in 1_u32..200,
            since_queued in 0_i64..(25 * HOUR),
            random in 0.0_f64..1.0,
        ) {
            let schedule = RetrySchedule::default();
            let failed_at = queued_at + since_queued;
            match schedule.after_failure(queued_at, failures, failed_at, random) {
                AfterFailure::RetryAt(at) => {
                    let delay = schedule.delay_ms(failures);
                    prop_assert!(at >= failed_at + delay);
                    prop_assert!(at as f64 <= failed_at as f64 + delay as f64 * (1.0 + schedule.jitter) + 1.0);
                    prop_assert!(at <= queued_at + schedule.window_ms);
                }
                AfterFailure::GiveUp => {
                    // Given up only when even the shortest wait would end past the window.
                    prop_assert!(failed_at + schedule.delay_ms(failures) > queued_at + schedule.window_ms
                        || random > 0.0);
                }
            }
        }

        #[test]
        fn delays_never_shrink_and_stay_within_bounds(
            first in 1_i64..100_000,
            max in 1_i64..(10 * HOUR),
            failures in 1_u32..1000,
        ) {
            let schedule = RetrySchedule { first_retry_ms: first, max_retry_delay_ms: max, ..RetrySchedule::default() };
            let delay = schedule.delay_ms(failures);
            prop_assert!(delay <= max);
            prop_assert!(delay >= first.min(max));
            prop_assert!(schedule.delay_ms(failures + 1) >= delay);
        }

        #[test]
        fn every_schedule_ends(first in 1_i64..600_000, window in 0_i64..(48 * HOUR)) {
            let schedule = RetrySchedule { first_retry_ms: first, window_ms: window, ..RetrySchedule::default() };
            let times = schedule.attempt_times(0);
            prop_assert!(times.windows(2).all(|pair| pair[1] > pair[0]));
            prop_assert!(*times.last().unwrap() <= window);
        }
    }
}
