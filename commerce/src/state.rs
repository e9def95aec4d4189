//! What every part of the commerce satellite shares: its settings, its [`Core`] (titles, payment provider,
//! clock) and the routes' [`CommerceState`].

use std::sync::Arc;
use std::time::Duration;

use marquee_control_api::clock::Clock;
use marquee_control_api::AppState;

use crate::provider::PaymentProvider;
use crate::titles::Titles;

/// How long a `past_due` subscription keeps playing before it is canceled, unless configured otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(3 * 24 * 3600);
/// How often a declined renewal is retried while the subscription is past due.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// How often the background task runs renewals.
pub const DEFAULT_RENEWAL_INTERVAL: Duration = Duration::from_secs(60);

/// Commerce's settings.
#[derive(Debug, Clone, Copy)]
pub struct CommerceSettings {
    pub grace_period: Duration,
    /// Between retries of a declined renewal.
    pub retry_interval: Duration,
    pub renewal_interval: Duration,
}

impl Default for CommerceSettings {
    fn default() -> Self {
        Self {
            grace_period: DEFAULT_GRACE_PERIOD,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            renewal_interval: DEFAULT_RENEWAL_INTERVAL,
        }
    }
}

/// What every part of the satellite shares.
#[derive(Debug)]
pub struct Core {
    pub titles: Arc<dyn Titles>,
    pub provider: Arc<dyn PaymentProvider>,
    /// The API's clock ([`AppState::clock`]).
    pub clock: Clock,
    pub settings: CommerceSettings,
}

impl Core {
    pub fn grace_ms(&self) -> i64 {
        i64::try_from(self.settings.grace_period.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn retry_ms(&self) -> i64 {
        i64::try_from(self.settings.retry_interval.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The routes' state: the control API's and commerce's.
#[derive(Debug, Clone)]
pub struct CommerceState {
    pub app: AppState,
    pub core: Arc<Core>,
}

impl AsRef<AppState> for CommerceState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}
