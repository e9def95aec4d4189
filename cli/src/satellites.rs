//! The satellites `marquee api` mounts beside the control API (the catalog with its search, commerce, viewing
//! analytics with its recommendations) and the glue between them: each satellite defines what it needs from another as a
//! trait of its own, so none depends on another, and this module is where they meet.
//!
//! - search keeps its index of the catalog in the catalog's own transactions (the catalog's `CatalogIndex`);
//! - commerce asks the catalog about titles ([`CatalogTitles`]: a title's windows are those of its season and
//!   series too, [`chain_windows`]);
//! - the catalog's "most watched this week" row comes from analytics ([`AnalyticsPopularity`]);
//! - recommendations for titles nobody has watched compare the catalog's genres and people
//!   ([`CatalogFeatures`]);
//! - playback asks commerce who is entitled.

use std::sync::Arc;

use marquee_analytics::{Analytics, AnalyticsSettings, MostWatched, TitleFeatures, TitleFeaturesSource};
use marquee_catalog::availability::Window;
use marquee_catalog::{Catalog, Popularity};
use marquee_commerce::domain::title::{AvailabilityWindow, TitleFacts};
use marquee_commerce::provider::PaymentProvider;
use marquee_commerce::test_provider::TestProvider;
use marquee_commerce::titles::Titles;
use marquee_commerce::{Commerce, CommerceSettings};
use marquee_control_api::playback::Entitlements;
use marquee_control_api::{ApiError, AppState, Database, Satellites};
use marquee_search::Search;

/// What `marquee api` mounts, and the entitlements its playback asks.
pub struct Mounted {
    pub satellites: Satellites,
    pub entitlements: Arc<dyn Entitlements>,
}

/// What the satellites take from outside: the payment provider. (Their clock is the API's, `AppState::clock`.)
pub struct Parts {
    pub provider: Arc<dyn PaymentProvider>,
}

impl Default for Parts {
    /// The built-in test provider (no real payment network is wired in: a provider such as Stripe would
    /// implement [`PaymentProvider`] and replace it here).
    fn default() -> Self {
        Self { provider: Arc::new(TestProvider::new()) }
    }
}

/// Every satellite over `app`'s database and clock, glued together, with the default [`Parts`].
pub fn mount(app: &AppState) -> Mounted {
    mount_with(app, Parts::default())
}

/// The satellites' settings `marquee api` takes from its `[commerce]` and `[analytics]` sections.
#[derive(Debug, Clone, Default)]
pub struct SatelliteSettings {
    pub commerce: CommerceSettings,
    pub analytics: AnalyticsSettings,
}

/// Every satellite over `app`'s database and clock, glued together, with `parts` (tests keep the provider, to
/// sign its webhooks). Every satellite reads `app.clock`, so a test that moves it moves time for all of them.
pub fn mount_with(app: &AppState, parts: Parts) -> Mounted {
    mount_configured(app, parts, SatelliteSettings::default())
}

/// [`mount_with`] with the satellites' `settings`.
pub fn mount_configured(app: &AppState, parts: Parts, settings: SatelliteSettings) -> Mounted {
    let db = &app.db;
    // Search indexes the catalog inside the catalog's own transactions.
    let search = Search::new();
    let catalog = Catalog::new(Arc::new(search.index()))
        .with_popularity(Arc::new(AnalyticsPopularity(MostWatched::new(db.clone()))));
    let titles = Arc::new(CatalogTitles { db: db.clone() });
    let commerce = Commerce::with_settings(titles, parts.provider, app.clock.clone(), settings.commerce);
    let analytics =
        Analytics::new(settings.analytics).with_title_features(Arc::new(CatalogFeatures { db: db.clone() }));
    let entitlements = commerce.entitlements();
    Mounted { satellites: Satellites::new().with(catalog).with(search).with(commerce).with(analytics), entitlements }
}

/// The catalog's titles as commerce sees them.
#[derive(Debug)]
pub struct CatalogTitles {
    pub db: Database,
}

#[async_trait::async_trait]
impl Titles for CatalogTitles {
    async fn titles_of_asset(&self, asset_id: &str) -> Result<Vec<TitleFacts>, ApiError> {
        let titles = marquee_catalog::lookup::titles_of_asset(&self.db, asset_id).await?;
        Ok(titles.iter().map(commerce_facts).collect())
    }

    async fn title(&self, title_id: &str) -> Result<Option<TitleFacts>, ApiError> {
        let title = marquee_catalog::lookup::title_facts(&self.db, title_id).await?;
        Ok(title.as_ref().map(commerce_facts))
    }
}

/// A catalog title as commerce's rules take it: its tags and its season's and series' (a plan unlocking a
/// series' tag unlocks its episodes), and the windows in which it and every title above it are available.
fn commerce_facts(title: &marquee_catalog::TitleFacts) -> TitleFacts {
    let mut levels: Vec<&[Window]> = vec![&title.windows];
    levels.extend(title.ancestors.iter().map(|a| a.windows.as_slice()));
    TitleFacts {
        id: title.title_id.clone(),
        tags: title.all_tags().into_iter().map(str::to_owned).collect(),
        availability: chain_windows(&levels),
        owner_id: Some(title.owner_id.clone()),
    }
}

/// The windows in which a title is available when each of `levels` (its own windows, then its season's, then
/// its series') must be: the intersection of the levels, each level the union of its windows (none: always,
/// everywhere). The result is commerce's form: a union of windows, none at all meaning always and everywhere.
/// A chain that is never available gives one window that never opens.
pub fn chain_windows(levels: &[&[Window]]) -> Vec<AvailabilityWindow> {
    let everywhere = || vec![AvailabilityWindow { from: i64::MIN, until: None, regions: Vec::new() }];
    let mut windows = everywhere();
    for level in levels.iter().filter(|level| !level.is_empty()) {
        let mut next = Vec::new();
        for have in &windows {
            for window in level.iter() {
                let from = have.from.max(window.starts_at.unwrap_or(i64::MIN));
                let until = match (have.until, window.ends_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if until.is_some_and(|until| until <= from) {
                    continue;
                }
                let regions = match (have.regions.is_empty(), window.regions.is_empty()) {
                    (true, _) => window.regions.clone(),
                    (false, true) => have.regions.clone(),
                    (false, false) => {
                        let shared: Vec<String> = have
                            .regions
                            .iter()
                            .filter(|r| window.regions.iter().any(|w| w.eq_ignore_ascii_case(r)))
                            .cloned()
                            .collect();
                        if shared.is_empty() {
                            continue;
                        }
                        shared
                    }
                };
                next.push(AvailabilityWindow { from, until, regions });
            }
        }
        windows = next;
    }
    match windows.as_slice() {
        [] => vec![AvailabilityWindow { from: i64::MAX, until: Some(i64::MAX), regions: Vec::new() }],
        [only] if only.from == i64::MIN && only.until.is_none() && only.regions.is_empty() => Vec::new(),
        _ => windows,
    }
}

/// Analytics' most-watched titles for the catalog's home row.
#[derive(Debug)]
pub struct AnalyticsPopularity(pub MostWatched);

#[async_trait::async_trait]
impl Popularity for AnalyticsPopularity {
    async fn most_watched(&self, from_ms: i64, until_ms: i64, limit: usize) -> Vec<String> {
        self.0.most_watched(from_ms, until_ms, limit).await
    }
}

/// The catalog's genres and credited people, for recommending titles nobody has watched yet.
#[derive(Debug)]
pub struct CatalogFeatures {
    pub db: Database,
}

#[async_trait::async_trait]
impl TitleFeaturesSource for CatalogFeatures {
    async fn title_features(&self) -> Result<Vec<TitleFeatures>, String> {
        let features = marquee_catalog::lookup::title_features(&self.db).await.map_err(|e| e.to_string())?;
        Ok(features
            .into_iter()
            .map(|f| TitleFeatures { title_id: f.title_id, genres: f.genres, people: f.people })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: Option<i64>, until: Option<i64>, regions: &[&str]) -> Window {
        Window { starts_at: from, ends_at: until, regions: regions.iter().map(|r| r.to_string()).collect() }
    }

    fn open(from: i64, until: Option<i64>, regions: &[&str]) -> AvailabilityWindow {
        AvailabilityWindow { from, until, regions: regions.iter().map(|r| r.to_string()).collect() }
    }

    #[test]
    fn no_windows_anywhere_is_always_everywhere() {
        assert_eq!(chain_windows(&[]), vec![]);
        assert_eq!(chain_windows(&[&[], &[]]), vec![]);
    }

    #[test]
    fn an_episode_is_available_only_while_its_series_is() {
        let episode = [window(Some(100), None, &[])];
        let series = [window(None, Some(500), &["FR", "BE"])];
        assert_eq!(chain_windows(&[&episode, &[], &series]), vec![open(100, Some(500), &["FR", "BE"])]);
        // A level's windows are a union; each pair of windows intersects.
        let series = [window(Some(0), Some(200), &["US"]), window(Some(300), None, &[])];
        assert_eq!(chain_windows(&[&episode, &series]), vec![open(100, Some(200), &["US"]), open(300, None, &[])]);
    }

    #[test]
    fn disjoint_levels_are_never_available() {
        let never = vec![open(i64::MAX, Some(i64::MAX), &[])];
        assert_eq!(chain_windows(&[&[window(Some(500), None, &[])], &[window(None, Some(500), &[])]]), never);
        assert_eq!(chain_windows(&[&[window(None, None, &["FR"])], &[window(None, None, &["US"])]]), never);
        assert_eq!(chain_windows(&[&[window(None, None, &["fr"])], &[window(None, None, &["FR", "US"])]]).len(), 1);
    }
}
