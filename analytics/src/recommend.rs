//! Recommendations served from the stored views: the model ([`marquee_recommendations::Model`]) is rebuilt on
//! a schedule by a background task from the views of the last [`RecommendSettings::window`] and the titles'
//! content features ([`TitleFeaturesSource`], which `marquee api` glues to the catalog), and kept in memory;
//! "for you" reads the viewer's recent views from the database on each request, so what they just watched
//! counts at once. Each API instance builds its own model from the shared database.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use marquee_control_api::clock::Clock;
use marquee_control_api::Database;
use marquee_recommendations::{Model, Settings, TitleFeatures};
use tokio::sync::watch;

use crate::metrics::AnalyticsMetrics;
use crate::store;

/// Where the titles' genres and people come from (the catalog, glued in by `marquee api`). Titles nobody has
/// watched yet are recommended by these.
#[async_trait::async_trait]
pub trait TitleFeaturesSource: Send + Sync + std::fmt::Debug + 'static {
    /// Every title's features (titles without any may be left out).
    async fn title_features(&self) -> Result<Vec<TitleFeatures>, String>;
}

/// No catalog: co-viewing and popularity only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTitleFeatures;

#[async_trait::async_trait]
impl TitleFeaturesSource for NoTitleFeatures {
    async fn title_features(&self) -> Result<Vec<TitleFeatures>, String> {
        Ok(Vec::new())
    }
}

/// How the model is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendSettings {
    /// Rebuilt this often (and once at start).
    pub rebuild_every: Duration,
    /// From the views started this long ago at most…
    pub window: Duration,
    /// …the newest this many.
    pub max_views: i64,
    pub model: Settings,
}

/// The model in use, swapped whole when a new one is built.
#[derive(Debug, Default)]
pub struct CurrentModel(RwLock<Arc<Model>>);

impl CurrentModel {
    pub fn get(&self) -> Arc<Model> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn set(&self, model: Model) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(model);
    }
}

/// Builds a model from the database now.
pub async fn build(
    db: &Database,
    clock: &Clock,
    features: &dyn TitleFeaturesSource,
    settings: &RecommendSettings,
) -> Result<Model, String> {
    let window = i64::try_from(settings.window.as_millis()).unwrap_or(i64::MAX);
    let log = store::watch_log(db, clock.now_ms().saturating_sub(window), settings.max_views)
        .await
        .map_err(|e| format!("cannot read the watch log: {e}"))?;
    let features = features.title_features().await.map_err(|e| format!("cannot read the titles' features: {e}"))?;
    let model_settings = settings.model.clone();
    tokio::task::spawn_blocking(move || Model::build(&log, &features, model_settings))
        .await
        .map_err(|e| format!("the model build failed: {e}"))
}

/// Rebuilds `current` every [`RecommendSettings::rebuild_every`] until `stopping` turns true.
pub async fn run(
    db: Database,
    clock: Clock,
    features: Arc<dyn TitleFeaturesSource>,
    current: Arc<CurrentModel>,
    metrics: AnalyticsMetrics,
    settings: RecommendSettings,
    mut stopping: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(settings.rebuild_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = crate::writer::stopped(&mut stopping) => break,
            _ = tick.tick() => {
                let started = Instant::now();
                match build(&db, &clock, features.as_ref(), &settings).await {
                    Ok(model) => {
                        metrics.model_built(model.titles(), started.elapsed().as_secs_f64());
                        current.set(model);
                    }
                    Err(error) => tracing::error!(%error, "Cannot rebuild the recommendation model."),
                }
            }
        }
    }
}
