//! The search satellite (`marquee api` mounts it): `GET /v1/search` over the catalog's titles and people,
//! typo-tolerant, prefix-aware, accent-insensitive and ranked, with the same results on SQLite and PostgreSQL.
//! The catalog keeps the index current through [`marquee_catalog::index::CatalogIndex`], which
//! [`SearchIndex`] implements.
//!
//! - [`text`], [`query`], [`document`]: folding text into words, a query's words and limits, an entry's
//!   words by field (pure).
//! - [`rank`]: how words match and how answers are ordered (pure).
//! - [`store`]: the index's tables and the queries that find candidates.
//! - [`routes`]: `GET /v1/search`, paged with the control API's signed cursors (`marquee_control_api::cursor`).
//! - [`corpus`]: a generated catalog with misspelled queries, for tests and benchmarks.
//!
//! ```ignore
//! let search = Search::new();
//! let catalog = Catalog::new(Arc::new(search.index()));
//! let satellites = Satellites::new().with(catalog).with(search);
//! ```

pub mod corpus;
pub mod document;
pub mod query;
pub mod rank;
pub mod routes;
pub mod store;
pub mod text;

use axum::Router;
use marquee_catalog::index::{CatalogIndex, IndexEntry};
use marquee_control_api::satellite::Migrations;
use marquee_control_api::{AppState, Satellite};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use utoipa::OpenApi;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Answers one query can page through at most.
pub const MAX_RESULTS: usize = 1000;

/// The search index over the catalog's entries, in the API's database. The catalog writes to it in its own
/// transactions ([`CatalogIndex`]); searches read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchIndex;

impl SearchIndex {
    pub fn new() -> Self {
        Self
    }

    /// The answers to a query's (folded, distinct) `words` among the entries visible at `now`, best first,
    /// at most [`MAX_RESULTS`].
    pub async fn ranked(&self, pool: &AnyPool, words: &[String], now: i64) -> Result<Vec<rank::Ranked>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let candidates = store::candidates(&mut conn, words, now).await?;
        let mut ranked = rank::rank(words.len(), &candidates);
        ranked.truncate(MAX_RESULTS);
        Ok(ranked)
    }

    /// The `limit` answers from `offset`, and whether there are more.
    pub async fn page(
        &self,
        pool: &AnyPool,
        words: &[String],
        now: i64,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<store::EntryView>, bool), sqlx::Error> {
        let ranked = self.ranked(pool, words, now).await?;
        let ids: Vec<String> = ranked.iter().skip(offset).take(limit).map(|r| r.id.clone()).collect();
        let more = ranked.len() > offset.saturating_add(limit);
        let mut conn = pool.acquire().await?;
        Ok((store::views(&mut conn, &ids).await?, more))
    }
}

#[async_trait::async_trait]
impl CatalogIndex for SearchIndex {
    async fn upsert(&self, connection: &mut sqlx::AnyConnection, entry: &IndexEntry) -> Result<(), sqlx::Error> {
        store::upsert(connection, entry).await
    }

    async fn remove(&self, connection: &mut sqlx::AnyConnection, id: &str) -> Result<(), sqlx::Error> {
        store::remove(connection, id).await
    }
}

/// Search's paths and schemas, merged into `/openapi.json`.
#[derive(Debug, OpenApi)]
#[openapi(
    paths(routes::search),
    components(schemas(routes::SearchPage, routes::SearchResult, routes::ResultKind)),
    tags((name = "search", description = "Titles and people by words: typo-tolerant, prefix-aware, accent-insensitive."))
)]
pub struct SearchDoc;

/// The search satellite: its schema, `GET /v1/search` and its OpenAPI paths.
#[derive(Debug, Clone, Default)]
pub struct Search {
    index: SearchIndex,
}

impl Search {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index to give the catalog (`Catalog::new(Arc::new(search.index()))`).
    pub fn index(&self) -> SearchIndex {
        self.index
    }
}

impl Satellite for Search {
    fn name(&self) -> &'static str {
        "search"
    }

    fn migrations(&self) -> Option<Migrations> {
        Some(Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn routes(&self, app: &AppState) -> Router<AppState> {
        routes::routes(routes::SearchState::new(app.clone(), self.index))
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        SearchDoc::openapi()
    }
}
