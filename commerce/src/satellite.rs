//! [`Commerce`]: the satellite `marquee api` mounts, with its state, its background renewals and its
//! entitlements hook.

use std::sync::Arc;

use axum::Router;
use marquee_control_api::clock::Clock;
use marquee_control_api::satellite::Migrations;
use marquee_control_api::{ApiError, AppState, Satellite};
use sqlx::migrate::Migrator;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::entitlements::CommerceEntitlements;
use crate::model::RenewalReport;
use crate::provider::PaymentProvider;
pub use crate::state::{
    CommerceSettings, CommerceState, Core, DEFAULT_GRACE_PERIOD, DEFAULT_RENEWAL_INTERVAL, DEFAULT_RETRY_INTERVAL,
};
use crate::titles::Titles;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The commerce satellite.
#[derive(Debug, Clone)]
pub struct Commerce {
    core: Arc<Core>,
}

impl Commerce {
    /// Over the catalog's titles, a payment provider and the clock of the API it is mounted on (`app.clock`:
    /// commerce's periods and rentals must run on the same time as playback).
    pub fn new(titles: Arc<dyn Titles>, provider: Arc<dyn PaymentProvider>, clock: Clock) -> Self {
        Self::with_settings(titles, provider, clock, CommerceSettings::default())
    }

    pub fn with_settings(
        titles: Arc<dyn Titles>,
        provider: Arc<dyn PaymentProvider>,
        clock: Clock,
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
