//! The catalog's clock: what "available now" means. The API's real clock in service; a clock a test sets,
//! so availability windows can be crossed without waiting.

use std::sync::Arc;

/// Milliseconds since the Unix epoch, from a function.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system's clock (the control API's `now_ms`).
    pub fn system() -> Self {
        Self(Arc::new(marquee_control_api::clock::now_ms))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}
