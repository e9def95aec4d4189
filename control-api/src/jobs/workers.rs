//! The workers the queue knows: registered with their encoders and capacity, seen at each contact, and
//! draining when they shut down (a draining worker finishes or hands back what it has and claims nothing).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::choice::Encoder;
use super::store::JobQueue;
use super::JobError;

/// A worker to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorker {
    pub name: String,
    pub encoders: Vec<Encoder>,
    /// Jobs it runs at once (at least 1).
    pub capacity: i64,
}

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    pub id: String,
    pub name: String,
    pub encoders: Vec<Encoder>,
    pub capacity: i64,
    pub registered_at: i64,
    pub last_seen_at: i64,
    pub draining_at: Option<i64>,
}

const WORKER_COLUMNS: &str = "id, name, encoders, capacity, registered_at, last_seen_at, draining_at";

impl JobQueue {
    pub async fn register_worker(&self, worker: &NewWorker, now: i64) -> Result<Worker, JobError> {
        self.register_worker_with_token(worker, None, now).await
    }

    /// Registers a worker that will call with the token whose SHA-256 is `token_hash`.
    pub async fn register_worker_with_token(
        &self,
        worker: &NewWorker,
        token_hash: Option<&str>,
        now: i64,
    ) -> Result<Worker, JobError> {
        let encoders: Vec<&str> = worker.encoders.iter().map(|e| e.as_str()).collect();
        let row = sqlx::query(&format!(
            "INSERT INTO workers (id, name, encoders, capacity, registered_at, last_seen_at, token_hash) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING {WORKER_COLUMNS}"
        ))
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&worker.name)
        .bind(serde_json::to_string(&encoders).expect("a list of strings serialises"))
        .bind(worker.capacity.max(1))
        .bind(now)
        .bind(token_hash)
        .fetch_one(self.database().pool())
        .await?;
        Ok(worker_from_row(&row)?)
    }

    /// The worker whose token has this SHA-256.
    pub async fn worker_by_token(&self, token_hash: &str) -> Result<Option<Worker>, JobError> {
        let row = sqlx::query(&format!("SELECT {WORKER_COLUMNS} FROM workers WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.database().pool())
            .await?;
        Ok(row.as_ref().map(worker_from_row).transpose()?)
    }

    /// Workers seen since `since`, most recently registered first.
    pub async fn workers_seen_since(&self, since: i64) -> Result<Vec<Worker>, JobError> {
        let rows = sqlx::query(&format!(
            "SELECT {WORKER_COLUMNS} FROM workers WHERE last_seen_at >= $1 ORDER BY registered_at DESC, id LIMIT 1000"
        ))
        .bind(since)
        .fetch_all(self.database().pool())
        .await?;
        rows.iter().map(|row| Ok(worker_from_row(row)?)).collect()
    }

    pub async fn worker(&self, worker_id: &str) -> Result<Option<Worker>, JobError> {
        let row = sqlx::query(&format!("SELECT {WORKER_COLUMNS} FROM workers WHERE id = $1"))
            .bind(worker_id)
            .fetch_optional(self.database().pool())
            .await?;
        Ok(row.as_ref().map(worker_from_row).transpose()?)
    }

    /// Records that the worker was in touch at `now`.
    pub async fn touch_worker(&self, worker_id: &str, now: i64) -> Result<(), JobError> {
        self.update_worker("UPDATE workers SET last_seen_at = $2 WHERE id = $1", worker_id, now).await
    }

    /// Stops giving the worker new jobs (from `now`; a second call keeps the first time).
    pub async fn drain_worker(&self, worker_id: &str, now: i64) -> Result<(), JobError> {
        self.update_worker(
            "UPDATE workers SET draining_at = COALESCE(draining_at, $2), last_seen_at = $2 WHERE id = $1",
            worker_id,
            now,
        )
        .await
    }

    async fn update_worker(&self, sql: &str, worker_id: &str, now: i64) -> Result<(), JobError> {
        let done = sqlx::query(sql).bind(worker_id).bind(now).execute(self.database().pool()).await?;
        if done.rows_affected() == 0 {
            return Err(JobError::UnknownWorker(worker_id.to_string()));
        }
        Ok(())
    }
}

fn worker_from_row(row: &AnyRow) -> Result<Worker, sqlx::Error> {
    let names: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(2)?)
        .map_err(|e| sqlx::Error::Decode(format!("a worker's encoders are not a JSON list: {e}").into()))?;
    let encoders = names
        .iter()
        .map(|n| n.parse::<Encoder>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
    Ok(Worker {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        encoders,
        capacity: row.try_get(3)?,
        registered_at: row.try_get(4)?,
        last_seen_at: row.try_get(5)?,
        draining_at: row.try_get(6)?,
    })
}
