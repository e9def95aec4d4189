//! The time as the database keeps it: milliseconds since the Unix epoch. The one clock of the API and the
//! satellites it mounts: [`Clock`] is carried in [`crate::AppState`], so playback, the catalog's availability,
//! commerce's periods and rentals, and analytics' windows all read the same time, and a test that moves a
//! [`TestClock`] moves it for all of them at once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Milliseconds since the Unix epoch by the system's clock: the times the database keeps. Code that has an
/// [`crate::AppState`] reads [`AppState::clock`](crate::AppState) instead, so tests can move it.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// What "now" is: the system's time in service, a [`TestClock`]'s in tests. Cheap to clone; clones read the
/// same time.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => now_ms(),
            Some(set) => set.load(Ordering::SeqCst),
        }
    }

    /// Whole seconds since the Unix epoch (what signed URLs expire at), never negative.
    pub fn now_s(&self) -> u64 {
        u64::try_from(self.now_ms().div_euclid(1000)).unwrap_or_default()
    }

    /// Whether this is a test's clock rather than the system's.
    pub fn is_test(&self) -> bool {
        self.0.is_some()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::System"),
            Some(set) => write!(f, "Clock::Test({})", set.load(Ordering::SeqCst)),
        }
    }
}

/// A clock that stands still until a test moves it; [`TestClock::clock`] is the [`Clock`] to hand to the API.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    /// Standing at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now_ms)))
    }

    /// Standing at the system's time now.
    pub fn at_system_time() -> Self {
        Self::new(now_ms())
    }

    /// The [`Clock`] that reads this one's time.
    pub fn clock(&self) -> Clock {
        Clock(Some(self.0.clone()))
    }

    pub fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves to `now_ms` (backwards too: tests of clock skew need it).
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // fetch_update rather than fetch_add: saturate instead of wrapping into the past.
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| Some(now.saturating_add(by)));
    }
}

impl Default for TestClock {
    fn default() -> Self {
        Self::at_system_time()
    }
}

impl From<&TestClock> for Clock {
    fn from(test: &TestClock) -> Self {
        test.clock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_follows_the_system_time() {
        let clock = Clock::system();
        let (before, read, after) = (now_ms(), clock.now_ms(), now_ms());
        assert!(before <= read && read <= after, "{before} {read} {after}");
        assert!(!clock.is_test());
        // Some time after 2020 and before 2100: milliseconds, not seconds or microseconds.
        assert!((1_577_836_800_000..4_102_444_800_000).contains(&read), "{read}");
    }

    #[test]
    fn a_test_clock_stands_still_until_moved_and_every_clone_sees_the_move() {
        let test = TestClock::new(1_000_000);
        let (a, b) = (test.clock(), Clock::from(&test));
        assert!(a.is_test());
        assert_eq!((a.now_ms(), b.now_ms()), (1_000_000, 1_000_000));
        test.advance(Duration::from_secs(90));
        assert_eq!((a.now_ms(), b.now_ms(), a.now_s()), (1_090_000, 1_090_000, 1_090));
        test.set(5);
        assert_eq!((a.clone().now_ms(), test.now_ms()), (5, 5));
    }

    #[test]
    fn a_test_clock_saturates_instead_of_wrapping() {
        let test = TestClock::new(i64::MAX - 10);
        test.advance(Duration::from_secs(1));
        assert_eq!(test.now_ms(), i64::MAX);
        test.advance(Duration::MAX);
        assert_eq!(test.now_ms(), i64::MAX);
    }

    #[test]
    fn seconds_round_down_and_never_go_negative() {
        let test = TestClock::new(1_999);
        assert_eq!(test.clock().now_s(), 1);
        test.set(-1);
        assert_eq!(test.clock().now_s(), 0);
    }

    #[test]
    fn a_test_clock_at_system_time_starts_at_the_system_time() {
        let before = now_ms();
        let test = TestClock::at_system_time();
        assert!(test.now_ms() >= before && test.now_ms() <= now_ms());
    }
}
