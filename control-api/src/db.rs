//! The database: one schema on two engines, through sqlx's `Any` driver. SQLite (in WAL mode) is the
//! embedded single-node default; PostgreSQL is for scale-out, where any number of API instances share one
//! database. The migrations in `control-api/migrations/{sqlite,postgres}` are applied at start.
//!
//! Queries are written once, with `$1`-style parameters, which both engines accept. Where the two need
//! different SQL (claiming a job with `FOR UPDATE SKIP LOCKED`), the caller branches on [`Database::engine`].
//! Ids are text, times integer milliseconds since the Unix epoch, JSON documents text: the types both engines
//! read back the same way.

use std::fs::File;
use std::path::{Path, PathBuf};

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Connections a PostgreSQL pool opens at most; SQLite gets [`SQLITE_CONNECTIONS`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// SQLite connections: one writer at a time anyway; a few readers beside it (WAL).
pub const SQLITE_CONNECTIONS: u32 = 4;
/// Set on every SQLite connection: write-ahead logging (readers do not wait for the writer), a 10 s wait for
/// another connection's write before failing, foreign keys enforced, and `synchronous = NORMAL` (in WAL mode a
/// committed transaction survives a crash of the process; a power cut may lose the last ones).
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// Which engine a [`Database`] is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE")]
    UnsupportedUrl(String),
    #[error("{path} is in use by another `marquee api` (one API process owns a SQLite database; use PostgreSQL to run several)")]
    SqliteInUse { path: PathBuf },
    #[error("cannot open the lock file {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// An open, migrated database.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
    /// Held for as long as any clone lives: the SQLite file's owner lock.
    _owner: Option<std::sync::Arc<File>>,
}

impl Database {
    /// Opens the database at `url` (`sqlite:PATH`, created if missing, or `postgres://…`) and applies the
    /// migrations it has not had yet. Several API instances may do this at once on PostgreSQL (the migrator
    /// takes an advisory lock); a SQLite file is owned by the first process that opens it.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        sqlx::any::install_default_drivers();
        let engine = engine_of(url)?;
        let connect_error = |source| DatabaseError::Connect { url: redacted(url), source };
        let (pool, owner) = match engine {
            Engine::Sqlite => {
                let path = sqlite_path(url);
                let owner = match &path {
                    Some(path) => Some(std::sync::Arc::new(own_sqlite_file(path)?)),
                    None => None,
                };
                // Created if missing; the pragmas are set on every connection the pool opens.
                let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                let pool = AnyPoolOptions::new()
                    .max_connections(if path.is_some() { SQLITE_CONNECTIONS } else { 1 })
                    .after_connect(|connection, _| {
                        Box::pin(
                            async move { sqlx::Executor::execute(&mut *connection, SQLITE_PRAGMAS).await.map(|_| ()) },
                        )
                    })
                    // A connection still inside a transaction is closed (which rolls it back), never reused: a
                    // `begin_write` whose future was dropped between sqlx's BEGIN and its `Transaction` (a client
                    // that hung up) leaves one behind holding SQLite's write lock, and every later write then
                    // waits out the busy timeout or fails with "begin_with at non-zero transaction depth".
                    .after_release(|connection, _| Box::pin(async move { Ok(!in_transaction(connection)) }))
                    .before_acquire(|connection, _| Box::pin(async move { Ok(!in_transaction(connection)) }))
                    .connect(&url)
                    .await
                    .map_err(connect_error)?;
                (pool, owner)
            }
            Engine::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(DEFAULT_MAX_CONNECTIONS)
                    // No ping before each use: it doubled the round trips of the job queue's one-statement
                    // claims (benches/queue.sh: 1 813 → 2 069 jobs/s). A connection the server dropped fails
                    // its next query instead, and the pool replaces it.
                    .test_before_acquire(false)
                    .connect(url)
                    .await
                    .map_err(connect_error)?;
                (pool, None)
            }
        };
        let database = Self { pool, engine, _owner: owner };
        database
            .migrate(match engine {
                Engine::Sqlite => &SQLITE_MIGRATIONS,
                Engine::Postgres => &POSTGRES_MIGRATIONS,
            })
            .await?;
        Ok(database)
    }

    /// Applies the migrations of `migrator` that the database has not had yet. The control API's and every
    /// satellite's migrators share one `_sqlx_migrations` table, each in its own range of versions (see
    /// [`crate::satellite`]), so each ignores the versions it does not know: those are another's.
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), DatabaseError> {
        let migrator = Migrator { migrations: migrator.migrations.clone(), ignore_missing: true, ..Migrator::DEFAULT };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether the database answers a trivial query (the `database` readiness check).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}

/// The engine a database URL names.
pub fn engine_of(url: &str) -> Result<Engine, DatabaseError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        Err(DatabaseError::UnsupportedUrl(redacted(url)))
    }
}

/// The file a `sqlite:` URL names, or `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Takes the exclusive lock on `PATH.lock` beside the database file, for as long as the returned file is open:
/// two API processes writing one SQLite file would each think they own the job queue.
fn own_sqlite_file(path: &Path) -> Result<File, DatabaseError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DatabaseError::Lock { path: parent.to_path_buf(), source })?;
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| DatabaseError::Lock { path: lock_path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DatabaseError::SqliteInUse { path: path.to_path_buf() }),
        Err(std::fs::TryLockError::Error(source)) => Err(DatabaseError::Lock { path: lock_path, source }),
    }
}

/// `url` without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Whether sqlx counts `connection` as inside a transaction.
fn in_transaction(connection: &sqlx::AnyConnection) -> bool {
    <<sqlx::Any as sqlx::Database>::TransactionManager as sqlx::TransactionManager>::get_transaction_depth(connection)
        > 0
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`, which takes the write lock at once
/// (waiting out the busy timeout): a deferred transaction that reads first cannot become a writer once another
/// connection has written since, and fails at once with "database is locked".
pub async fn begin_write(pool: &sqlx::AnyPool) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_by_scheme() {
        assert_eq!(engine_of("sqlite:/var/lib/marquee/api.db").unwrap(), Engine::Sqlite);
        assert_eq!(engine_of("postgres://m@127.0.0.1:5432/marquee").unwrap(), Engine::Postgres);
        assert_eq!(engine_of("postgresql://m@h/db").unwrap(), Engine::Postgres);
        let e = engine_of("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(e.contains("mysql://u:***@h/db") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite:api.db"), Some(PathBuf::from("api.db")));
        assert_eq!(sqlite_path("sqlite:///abs/api.db?mode=rwc"), Some(PathBuf::from("/abs/api.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redacted("postgres://marquee:pw@db:5432/m"), "postgres://marquee:***@db:5432/m");
        assert_eq!(redacted("postgres://marquee@db/m"), "postgres://marquee@db/m");
        assert_eq!(redacted("sqlite:a.db"), "sqlite:a.db");
    }
}
