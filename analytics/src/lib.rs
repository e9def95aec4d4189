//! The viewing-analytics satellite (`marquee api` mounts it): player beacons under a view id, written in
//! batches, aggregated per asset and title over a time range (views, watch time, startup time, rebuffering,
//! bitrate, errors), and the same aggregates as Prometheus metrics with bounded labels. It also serves the
//! recommendations (`marquee-recommendations`) built from the views it stores.
//!
//! - [`beacon`]: the events a player sends and their validation, event by event (pure).
//! - [`view`]: one view's state machine, folding its events into a summary (pure).
//! - [`aggregate`]: the QoE aggregates of a set of views (pure).
//! - [`store`]: the tables; [`writer`]: the bounded queue's batch writer; [`recommend`]: the model rebuilt on
//!   a schedule and the [`TitleFeaturesSource`] the catalog is glued to; [`routes`]; [`metrics`].
//!
//! ```ignore
//! let analytics = Analytics::new(AnalyticsSettings::default()).with_title_features(Arc::new(catalog_features));
//! let satellites = Satellites::new().with(analytics);
//! ```

pub mod aggregate;
pub mod beacon;
pub mod metrics;
pub mod recommend;
pub mod routes;
pub mod store;
pub mod view;
pub mod writer;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota};
use marquee_control_api::satellite::{Migrations, Satellite};
use marquee_control_api::AppState;
use sqlx::migrate::Migrator;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use utoipa::OpenApi;

pub use marquee_recommendations::TitleFeatures;
pub use recommend::{NoTitleFeatures, TitleFeaturesSource};

use crate::beacon::Beacon;
use crate::metrics::AnalyticsMetrics;
use crate::recommend::{CurrentModel, RecommendSettings};
use crate::routes::{AnalyticsState, Shared};
use crate::writer::WriterSettings;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Accepted beacons that may wait for the writer; beyond it requests are answered 503 (about 300 bytes each).
pub const DEFAULT_QUEUE_BEACONS: usize = 100_000;
/// Beacons per write transaction at most…
pub const DEFAULT_BATCH_BEACONS: usize = 1_000;
/// …and how long one waits at most.
pub const DEFAULT_FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Events per `POST /v1/beacons`.
pub const DEFAULT_MAX_BEACONS_PER_REQUEST: usize = 500;
/// Anonymous beacon requests per client address: a burst of this many…
pub const DEFAULT_ANONYMOUS_BURST: u32 = 60;
/// …then one more every this long: 20 a second (a player sends one batch every few seconds; many players
/// share an address behind NAT).
pub const DEFAULT_ANONYMOUS_REFILL: Duration = Duration::from_millis(50);
/// Raw events are kept this long (the views' summaries, which the aggregates read, are kept).
pub const DEFAULT_EVENTS_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Old events are deleted, and idle addresses forgotten by the rate limiter, this often.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);
/// The recommendation model is rebuilt this often.
pub const DEFAULT_REBUILD_EVERY: Duration = Duration::from_secs(300);
/// From the views of this long…
pub const DEFAULT_WATCH_WINDOW: Duration = Duration::from_secs(90 * 24 * 3600);
/// …at most this many, the newest.
pub const DEFAULT_MAX_MODEL_VIEWS: i64 = 1_000_000;

/// The satellite's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsSettings {
    pub queue_beacons: usize,
    pub batch_beacons: usize,
    pub flush_every: Duration,
    pub max_beacons_per_request: usize,
    pub anonymous_burst: u32,
    pub anonymous_refill: Duration,
    pub events_retention: Duration,
    pub recommendations: RecommendSettings,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self {
            queue_beacons: DEFAULT_QUEUE_BEACONS,
            batch_beacons: DEFAULT_BATCH_BEACONS,
            flush_every: DEFAULT_FLUSH_EVERY,
            max_beacons_per_request: DEFAULT_MAX_BEACONS_PER_REQUEST,
            anonymous_burst: DEFAULT_ANONYMOUS_BURST,
            anonymous_refill: DEFAULT_ANONYMOUS_REFILL,
            events_retention: DEFAULT_EVENTS_RETENTION,
            recommendations: RecommendSettings {
                rebuild_every: DEFAULT_REBUILD_EVERY,
                window: DEFAULT_WATCH_WINDOW,
                max_views: DEFAULT_MAX_MODEL_VIEWS,
                model: marquee_recommendations::Settings::default(),
            },
        }
    }
}

/// The analytics satellite.
#[derive(Debug)]
pub struct Analytics {
    settings: AnalyticsSettings,
    features: Arc<dyn TitleFeaturesSource>,
    queue: mpsc::Sender<Beacon>,
    /// The queue's other end, until the writer takes it.
    receiver: Mutex<Option<mpsc::Receiver<Beacon>>>,
    model: Arc<CurrentModel>,
    /// Anonymous beacon requests per client address.
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Made with the API's metrics registry, by whichever of `routes` and `spawn` runs first.
    metrics: OnceLock<AnalyticsMetrics>,
}

impl Analytics {
    pub fn new(settings: AnalyticsSettings) -> Self {
        let (queue, receiver) = mpsc::channel(settings.queue_beacons.max(1));
        let quota = Quota::with_period(settings.anonymous_refill.max(Duration::from_micros(1)))
            .expect("a non-zero period")
            .allow_burst(NonZeroU32::new(settings.anonymous_burst.max(1)).expect("non-zero"));
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            settings,
            features: Arc::new(NoTitleFeatures),
            queue,
            receiver: Mutex::new(Some(receiver)),
            model: Arc::new(CurrentModel::default()),
            metrics: OnceLock::new(),
        }
    }

    /// Titles' genres and people for the recommendations (from the catalog).
    pub fn with_title_features(mut self, features: Arc<dyn TitleFeaturesSource>) -> Self {
        self.features = features;
        self
    }

    fn metrics(&self, app: &AppState) -> AnalyticsMetrics {
        self.metrics
            .get_or_init(|| {
                let metrics = AnalyticsMetrics::new();
                if let Err(error) = metrics.register(app.metrics.registry()) {
                    tracing::error!(%error, "Cannot register the analytics metrics.");
                }
                metrics
            })
            .clone()
    }
}

impl Satellite for Analytics {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn migrations(&self) -> Option<Migrations> {
        Some(Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn routes(&self, app: &AppState) -> axum::Router<AppState> {
        let shared = Shared {
            queue: self.queue.clone(),
            metrics: self.metrics(app),
            limiter: self.limiter.clone(),
            model: self.model.clone(),
            max_beacons_per_request: self.settings.max_beacons_per_request,
        };
        routes::routes(AnalyticsState { app: app.clone(), shared: Arc::new(shared) })
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        AnalyticsDoc::openapi()
    }

    fn spawn(&self, app: &AppState, stopping: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let metrics = self.metrics(app);
        let mut tasks = Vec::new();
        let receiver = self.receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        match receiver {
            Some(receiver) => {
                let settings = WriterSettings {
                    batch_beacons: self.settings.batch_beacons,
                    flush_every: self.settings.flush_every,
                };
                tasks.push(tokio::spawn(writer::run(
                    app.db.clone(),
                    app.clock.clone(),
                    receiver,
                    metrics.clone(),
                    settings,
                    stopping.clone(),
                )));
            }
            None => tracing::error!("The analytics batch writer runs already; not starting another."),
        }
        tasks.push(tokio::spawn(housekeeping(
            app.db.clone(),
            app.clock.clone(),
            self.limiter.clone(),
            self.settings.events_retention,
            stopping.clone(),
        )));
        tasks.push(tokio::spawn(recommend::run(
            app.db.clone(),
            app.clock.clone(),
            self.features.clone(),
            self.model.clone(),
            metrics,
            self.settings.recommendations.clone(),
            stopping,
        )));
        tasks
    }
}

/// The titles watched most over a time span, from the stored views: what the catalog's "most watched this
/// week" row is made of (`marquee api` adapts it to the catalog's `Popularity` trait).
#[derive(Debug, Clone)]
pub struct MostWatched {
    db: marquee_control_api::Database,
}

impl MostWatched {
    pub fn new(db: marquee_control_api::Database) -> Self {
        Self { db }
    }

    /// The ids of the titles with the most distinct viewers among the views started in `[from_ms, until_ms)`,
    /// most first, at most `limit`. A database failure is logged and answered with an empty list (a home page
    /// row is left out rather than failing the page).
    pub async fn most_watched(&self, from_ms: i64, until_ms: i64, limit: usize) -> Vec<String> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        store::most_watched(&self.db, from_ms, until_ms, limit).await.unwrap_or_else(|error| {
            tracing::error!(%error, "Cannot read the most watched titles.");
            Vec::new()
        })
    }
}

/// Every [`HOUSEKEEPING_EVERY`]: deletes events older than `retention` and forgets idle addresses.
async fn housekeeping(
    db: marquee_control_api::Database,
    clock: marquee_control_api::clock::Clock,
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    retention: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = writer::stopped(&mut stopping) => break,
            _ = tick.tick() => {
                limiter.retain_recent();
                limiter.shrink_to_fit();
                let before = clock
                    .now_ms()
                    .saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
                match store::delete_events_before(&db, before).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "Old analytics events deleted."),
                    Err(error) => tracing::error!(%error, "Cannot delete old analytics events."),
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(routes::beacons, routes::asset_analytics, routes::title_analytics, routes::similar, routes::for_you,
        routes::continue_watching),
    components(schemas(
        routes::BeaconBatch,
        routes::BeaconReceipt,
        routes::RejectedBeacon,
        routes::AnalyticsReport,
        routes::Recommendations,
        routes::RecommendedTitle,
        routes::ContinueWatchingList,
        routes::ContinueWatching,
        beacon::BeaconInput,
        beacon::RejectReason,
        beacon::EventKind,
        aggregate::Aggregates,
    )),
    tags((name = "analytics", description = "Player beacons and QoE aggregates per asset and title"),
        (name = "recommendations", description = "More like this, and for you"))
)]
struct AnalyticsDoc;
