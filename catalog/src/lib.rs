//! The catalog satellite (`marquee api` mounts it): titles of kind movie, series, season and episode, people
//! and their credits, artwork, availability windows, and the assets each title plays.
//!
//! - Pure: [`model`] (title kinds, fields and their rules), [`availability`] (windows and the rule that reads
//!   them), [`artwork`] (image formats and storage keys).
//! - [`store`]: the tables; [`listing`]: what a caller sees, as SQL; [`indexing`]: the search index entries.
//! - [`routes`]: `/v1/titles`, `/v1/people`, `/v1/home`.
//! - Boundaries others implement: [`index::CatalogIndex`] (search), [`popularity::Popularity`] (analytics).
//! - [`lookup`]: what commerce and playback ask about an asset.
//!
//! ```ignore
//! let satellites = Satellites::new().with(Catalog::new(Arc::new(search_index)).with_popularity(analytics));
//! ```

pub mod artwork;
pub mod availability;
pub mod index;
pub mod indexing;
pub mod listing;
pub mod lookup;
pub mod model;
pub mod popularity;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use marquee_control_api::satellite::Migrations;
use marquee_control_api::{AppState, Satellite};
use sqlx::migrate::Migrator;

pub use index::{CatalogIndex, IndexEntry, NoIndex};
pub use lookup::{titles_of_asset, TitleFacts};
pub use popularity::{NoPopularity, Popularity};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The catalog, as `marquee api` mounts it.
#[derive(Debug, Clone)]
pub struct Catalog {
    index: Arc<dyn CatalogIndex>,
    popularity: Arc<dyn Popularity>,
}

impl Catalog {
    /// A catalog that keeps `index` current (use [`NoIndex`] without search), with no viewing figures. What
    /// is available now is decided by the API's clock (`AppState::clock`).
    pub fn new(index: Arc<dyn CatalogIndex>) -> Self {
        Self { index, popularity: Arc::new(NoPopularity) }
    }

    /// Fills the home page's "most watched this week" row from `popularity` (the analytics satellite).
    pub fn with_popularity(mut self, popularity: Arc<dyn Popularity>) -> Self {
        self.popularity = popularity;
        self
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        routes::titles::create, routes::titles::list, routes::titles::read, routes::titles::update,
        routes::titles::delete, routes::titles::put_credits, routes::titles::put_availability,
        routes::titles::put_assets, routes::artwork::put,
        routes::people::create, routes::people::list, routes::people::read, routes::people::update,
        routes::people::delete, routes::home::home,
    ),
    components(schemas(
        routes::titles::NewTitle, routes::titles::TitlePatch, routes::titles::TitleDetail,
        routes::titles::SeasonDetail, routes::titles::TitlePage, routes::titles::CreditsInput,
        routes::titles::CreditInput, routes::titles::AvailabilityInput, routes::titles::AssetsInput,
        routes::titles::AssetInput, routes::people::NewPerson, routes::people::PersonPatch,
        routes::people::PersonDetail, routes::people::CreditedTitle, routes::people::PersonPage,
        routes::home::Home, routes::home::HomeRow, store::Title, store::Artwork, artwork::PosterSource, store::Person, store::Credit,
        store::TitleAsset, availability::Window, model::TitleKind, model::AssetRole, model::CreditKind,
    )),
    tags((name = "catalog", description = "Titles, people, credits, availability, artwork and home rows"))
)]
struct CatalogDoc;

impl Satellite for Catalog {
    fn name(&self) -> &'static str {
        "catalog"
    }

    fn migrations(&self) -> Option<Migrations> {
        Some(Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn routes(&self, app: &AppState) -> Router<AppState> {
        routes::router(routes::CatalogState::new(app.clone(), self.index.clone(), self.popularity.clone()))
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <CatalogDoc as utoipa::OpenApi>::openapi()
    }
}
