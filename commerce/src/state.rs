//! What every part of the commerce satellite shares: its settings (the `[commerce]` section of `marquee.toml`,
//! read by `marquee api`), its [`Core`] (titles, payment provider, clock) and the routes' [`CommerceState`].

use std::sync::Arc;
use std::time::Duration;

use marquee_control_api::clock::Clock;
use marquee_control_api::AppState;
use marquee_settings::{Problem, Settings};
use serde::{Deserialize, Serialize};

use crate::provider::PaymentProvider;
use crate::titles::Titles;

/// How long a `past_due` subscription keeps playing before it is canceled, unless configured otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(3 * 24 * 3600);
/// How often a declined renewal is retried while the subscription is past due.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// How often the background task runs renewals.
pub const DEFAULT_RENEWAL_INTERVAL: Duration = Duration::from_secs(60);

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Commerce's settings: the `[commerce]` section, `marquee api`'s `--commerce-*` flags and `MARQUEE_COMMERCE_*`
/// variables. Each field's doc is its `--help` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "commerce", env_prefix = "MARQUEE_COMMERCE", heading = "Commerce")]
pub struct CommerceSettings {
    /// How long a subscription whose renewal was declined (past_due) keeps playing before it is canceled.
    /// Declined renewals are retried meanwhile, and a new card is charged at once.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "commerce-grace-period", value_name = "DURATION")]
    pub grace_period: Duration,
    /// Between retries of a declined renewal while the subscription is past due.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "commerce-retry-interval", value_name = "DURATION")]
    pub retry_interval: Duration,
    /// How often renewals that are due are charged (and ended subscriptions closed): the longest a renewal
    /// waits after its period ends.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(flag = "commerce-renewal-interval", value_name = "DURATION")]
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

impl CommerceSettings {
    /// What is wrong with these values, each about its key.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.grace_period > 90 * DAY {
            problems.push(Problem::new("grace_period", "must be at most 90 days"));
        }
        if self.retry_interval < Duration::from_secs(60) {
            problems.push(Problem::new("retry_interval", "must be at least 1m"));
        }
        if self.renewal_interval < Duration::from_secs(1) || self.renewal_interval > Duration::from_secs(3600) {
            problems.push(Problem::new("renewal_interval", "must be between 1s and 1h"));
        }
        problems
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
