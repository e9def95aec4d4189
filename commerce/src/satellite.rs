//! [`Commerce`]: the satellite `marquee api` mounts, with its state, its background renewals and its
//! entitlements hook.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use marquee_control_api::satellite::Migrations;
use marquee_control_api::{ApiError, AppState, Satellite};
use sqlx::migrate::Migrator;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::entitlements::CommerceEntitlements;
use crate::model::RenewalReport;
use crate::provider::PaymentProvider;
use crate::titles::Titles;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

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
    pub clock: Arc<dyn Clock>,
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

/// The commerce satellite.
#[derive(Debug, Clone)]
pub struct Commerce {
    core: Arc<Core>,
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

impl Commerce {
    /// Over the catalog's titles, a payment provider and a clock ([`crate::clock::SystemClock`] in production).
    pub fn new(titles: Arc<dyn Titles>, provider: Arc<dyn PaymentProvider>, clock: Arc<dyn Clock>) -> Self {
        Self::with_settings(titles, provider, clock, CommerceSettings::default())
    }

    pub fn with_settings(
        titles: Arc<dyn Titles>,
        provider: Arc<dyn PaymentProvider>,
        clock: Arc<dyn Clock>,
        settings: CommerceSettings,
    ) -> Self {
        Self { core: Arc::new(Core { titles, provider, clock, settings }) }
    }

    /// The hook for `Playback::entitlements`.
    pub fn entitlements(&self) -> Arc<CommerceEntitlements> {
        Arc::new(CommerceEntitlements { core: self.core.clone() })
    }

    /// Places `caller`'s order under `key` as `POST /v1/orders` does (for front-ends of the API's own, and tests
    /// that bypass the HTTP layer's idempotency to check the database's).
    pub async fn place_order(
        &self,
        db: &marquee_control_api::Database,
        caller: &marquee_control_api::auth::Caller,
        key: &str,
        request: &crate::model::NewOrder,
        region: Option<&str>,
    ) -> Result<crate::model::Order, ApiError> {
        crate::orders::place(&self.core, db.pool(), caller, key, request, region).await
    }

    /// Charges the renewals due at `now` and ends what is due (the background task calls this every
    /// `renewal_interval`; tests call it with their clock's time).
    pub async fn renew_due(&self, db: &marquee_control_api::Database, now: i64) -> Result<RenewalReport, ApiError> {
        crate::renewals::renew_due(&self.core, db.pool(), now).await
    }
}

impl Satellite for Commerce {
    fn name(&self) -> &'static str {
        "commerce"
    }

    fn migrations(&self) -> Option<Migrations> {
        Some(Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn routes(&self, app: &AppState) -> Router<AppState> {
        crate::routes::router().with_state(CommerceState { app: app.clone(), core: self.core.clone() })
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <crate::routes::CommerceDoc as utoipa::OpenApi>::openapi()
    }

    fn spawn(&self, app: &AppState, mut stopping: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let (commerce, db) = (self.clone(), app.db.clone());
        let renewing = tokio::spawn(async move {
            let mut every = tokio::time::interval(commerce.core.settings.renewal_interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        let now = commerce.core.clock.now_ms();
                        if let Err(error) = commerce.renew_due(&db, now).await {
                            tracing::warn!(%error, "Renewals failed; the next run retries.");
                        }
                    }
                    changed = stopping.changed() => {
                        if changed.is_err() || *stopping.borrow() {
                            break;
                        }
                    }
                }
            }
        });
        vec![renewing]
    }
}
