//! Satellites: libraries of their own (the catalog, commerce, viewing analytics) that `marquee api` mounts
//! beside the control API's routes. A satellite brings its routes, its schema migrations and its OpenAPI
//! paths; it shares the API's database, sign-in ([`crate::auth::Caller`]), error format ([`crate::ApiError`]),
//! idempotency (`Idempotency-Key` on every mutating route), request ids, metrics registry and
//! `/openapi.json`.
//!
//! A satellite depends on this crate; this crate knows satellites only through [`Satellite`], so the one
//! binary (`cli/`) is where they are put together:
//!
//! ```ignore
//! let satellites = Satellites::new().with(Catalog::new(index)).with(Commerce::new(titles, provider, clock));
//! satellites.migrate(&db).await?;
//! let api = Api::bind_with(&settings, AppState::new(db, storage, &settings).await?, satellites).await?;
//! ```
//!
//! **Migration versions.** Every migrator of one database writes to the same `_sqlx_migrations` table, so
//! each satellite numbers its migrations in a range of its own: the control API uses 1–999, the catalog
//! 1001–1049, search 1051–1099, commerce 2001–2999, analytics 3001–3499. Each migrator ignores the versions
//! the others applied.

use std::sync::Arc;

use axum::Router;
use sqlx::migrate::Migrator;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::{Database, DatabaseError, Engine};
use crate::state::AppState;

/// A satellite's schema: one migrator per engine, from `sqlx::migrate!("migrations/sqlite")` and
/// `sqlx::migrate!("migrations/postgres")` in its crate.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// A library mounted by `marquee api` beside the control API's own routes.
pub trait Satellite: Send + Sync + std::fmt::Debug + 'static {
    /// A short name for logs and errors: `catalog`.
    fn name(&self) -> &'static str;

    /// Its schema, applied when it is mounted (before the API serves).
    fn migrations(&self) -> Option<Migrations> {
        None
    }

    /// Its `/v1` routes (paths relative to `/v1`: `/titles`), with its own state already applied over `app`.
    /// Handlers take [`crate::auth::Caller`] as the control API's do: make the satellite's state give
    /// [`AppState`] through `AsRef<AppState>`.
    fn routes(&self, app: &AppState) -> Router<AppState>;

    /// Its paths (full: `/v1/titles`) and schemas, merged into `/openapi.json`.
    fn openapi(&self) -> utoipa::openapi::OpenApi;

    /// Background work (flushing batched writes, recomputing on a schedule), run beside the server until
    /// `stopping` turns true; `Api::run` waits for the handles after the server stops.
    fn spawn(&self, _app: &AppState, _stopping: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        Vec::new()
    }
}

/// The satellites an API mounts, in order.
#[derive(Debug, Clone, Default)]
pub struct Satellites(Vec<Arc<dyn Satellite>>);

impl Satellites {
    pub fn new() -> Self {
        Self::default()
    }

    /// These and `satellite`.
    pub fn with(mut self, satellite: impl Satellite) -> Self {
        self.0.push(Arc::new(satellite));
        self
    }

    /// These and `satellite`, shared.
    pub fn with_shared(mut self, satellite: Arc<dyn Satellite>) -> Self {
        self.0.push(satellite);
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Satellite>> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies every satellite's migrations that `db` has not had yet.
    pub async fn migrate(&self, db: &Database) -> Result<(), DatabaseError> {
        for satellite in &self.0 {
            if let Some(migrations) = satellite.migrations() {
                let migrator = match db.engine() {
                    Engine::Sqlite => migrations.sqlite,
                    Engine::Postgres => migrations.postgres,
                };
                db.migrate(migrator).await?;
            }
        }
        Ok(())
    }

    /// Every satellite's routes, merged.
    pub(crate) fn routes(&self, app: &AppState) -> Router<AppState> {
        self.0.iter().fold(Router::new(), |router, satellite| router.merge(satellite.routes(app)))
    }

    /// Every satellite's background work.
    pub(crate) fn spawn(&self, app: &AppState, stopping: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.0.iter().flat_map(|satellite| satellite.spawn(app, stopping.clone())).collect()
    }
}
