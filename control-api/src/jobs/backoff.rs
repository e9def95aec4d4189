//! When a failed job is tried again: exponential backoff, as a pure function of the attempt that failed.

use std::time::Duration;

/// Default delay after the first failed attempt.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(10);
/// Default longest delay between attempts.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(10 * 60);
/// Default number of attempts (claims) a job gets before it fails for good.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 5;

/// How long to wait before each retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Delay after the first failed attempt; each later failure doubles it.
    pub base: Duration,
    /// The delay never grows past this.
    pub max: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self { base: DEFAULT_RETRY_BASE, max: DEFAULT_RETRY_MAX }
    }
}

impl RetrySchedule {
    /// Milliseconds to wait after attempt `failed_attempt` (1 for the first claim) failed:
    /// `base · 2^(failed_attempt − 1)`, at most `max`. No jitter: the failures of different jobs are already
    /// spread in time by their work.
    pub fn delay_ms(&self, failed_attempt: i64) -> i64 {
        let base = i64::try_from(self.base.as_millis()).unwrap_or(i64::MAX);
        let max = i64::try_from(self.max.as_millis()).unwrap_or(i64::MAX);
        let doublings = u32::try_from(failed_attempt.saturating_sub(1).clamp(0, 62)).unwrap_or(62);
        base.saturating_mul(1i64 << doublings).min(max).max(0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let s = RetrySchedule { base: Duration::from_secs(10), max: Duration::from_secs(60) };
        let delays: Vec<i64> = (1..=6).map(|a| s.delay_ms(a)).collect();
        assert_eq!(delays, [10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
        assert_eq!(s.delay_ms(0), 10_000);
        assert_eq!(s.delay_ms(i64::MAX), 60_000);
    }

    proptest! {
        #[test]
        fn never_shrinks_and_never_passes_the_cap(base_ms in 0u64..100_000, max_ms in 0u64..10_000_000, attempt in 0i64..200) {
            let s = RetrySchedule { base: Duration::from_millis(base_ms), max: Duration::from_millis(max_ms) };
            let (now, next) = (s.delay_ms(attempt), s.delay_ms(attempt + 1));
            prop_assert!(now <= next);
            prop_assert!(next <= max_ms as i64);
            prop_assert!(now >= (base_ms as i64).min(max_ms as i64));
            if next < max_ms as i64 && attempt >= 1 {
                prop_assert_eq!(next, now * 2);
            }
        }
    }
}
