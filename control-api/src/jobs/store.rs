//! The job queue on the database: enqueue, claim, heartbeat, complete, fail, cancel, lease expiry and depth.
//!
//! Each worker write is one `UPDATE … WHERE id AND attempt AND lease_owner AND state = 'running'`: the
//! fencing check and the change are one statement, so no lost lease can slip in between. Only when it changes
//! nothing does a second query find out why (for the error).
//!
//! The claim is one statement too, an `UPDATE` of the job that a subquery picks in fair order
//! ([`super::choice`]). On PostgreSQL the subquery locks its row `FOR UPDATE SKIP LOCKED`, so concurrent
//! claims (from any number of API instances) pass over each other's rows instead of queueing behind them; on
//! SQLite a writing statement takes the database's write lock before it reads, so claims are serialised.
//! The statement's own transaction is all it needs; the SQL is public so that the queue benchmark runs the
//! very same statements through `pgbench`.

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::backoff::RetrySchedule;
use super::choice::{self, Encoder, EncoderNeed};
use super::{
    ClaimedJob, ExpiredLease, FailOutcome, Job, JobError, JobFailure, JobState, Lease, NewJob, StateDepth,
    LEASE_EXPIRED,
};
use crate::db::{Database, Engine};

/// The columns every query that returns a job reads, in [`job_from_row`]'s order.
pub const JOB_COLUMNS: &str = "id, asset_id, owner_id, kind, preset, encoder, fallback_encoder, state, attempt, \
     max_attempts, fair_round, lease_owner, lease_expires_at, run_after, progress_json, result_json, error_code, \
     error_message, created_at, updated_at, started_at, finished_at";

/// The claim for a worker that does `kinds` kinds of job with `encoders` encoders. Parameters: `$1` worker,
/// `$2` now, `$3` lease milliseconds, then the kinds, then the encoders. Takes the first queued job in fair
/// order whose backoff has passed, whose kind the worker does and whose encoder need it meets, while the
/// worker is registered, not draining and below its capacity.
pub fn claim_sql(engine: Engine, kinds: usize, encoders: usize) -> String {
    let list = |first: usize, n: usize| (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let kinds_list = list(4, kinds.max(1));
    let encoder_clause = if encoders == 0 {
        "encoder IS NULL".to_string()
    } else {
        let encoders = list(4 + kinds.max(1), encoders);
        format!("(encoder IS NULL OR encoder IN ({encoders}) OR fallback_encoder IN ({encoders}))")
    };
    let lock = match engine {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    format!(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_expires_at = $2 + $3, \
         lease_ms = $3, started_at = $2, updated_at = $2 \
         WHERE state = 'queued' AND id = (\
         SELECT id FROM jobs WHERE state = 'queued' AND run_after <= $2 AND kind IN ({kinds_list}) AND {encoder_clause} \
         AND (SELECT COUNT(*) FROM jobs AS mine WHERE mine.state = 'running' AND mine.lease_owner = $1) \
         < (SELECT capacity FROM workers WHERE workers.id = $1 AND workers.draining_at IS NULL) \
         ORDER BY fair_round, created_at, id LIMIT 1{lock}) \
         RETURNING {JOB_COLUMNS}"
    )
}

/// Extends a lease by the claim's lease length and records progress. `$1` job, `$2` attempt, `$3` worker,
/// `$4` now, `$5` progress JSON (NULL keeps the last).
pub const HEARTBEAT_SQL: &str = "UPDATE jobs SET lease_expires_at = $4 + lease_ms, \
     progress_json = COALESCE($5, progress_json), updated_at = $4 \
     WHERE id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running' RETURNING lease_expires_at";

/// Finishes a job. `$1` job, `$2` attempt, `$3` worker, `$4` result JSON, `$5` now.
pub const COMPLETE_SQL: &str = "UPDATE jobs SET state = 'succeeded', result_json = $4, lease_expires_at = NULL, \
     error_code = NULL, error_message = NULL, finished_at = $5, updated_at = $5 \
     WHERE id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'";

/// Fails an attempt: queued again after `$6` ms when `$4` is 1 and attempts are left, else failed for good.
/// `$1` job, `$2` attempt, `$3` worker, `$4` retryable (0/1), `$5` now, `$6` delay, `$7` code, `$8` message.
pub const FAIL_SQL: &str = "UPDATE jobs SET \
     state = CASE WHEN $4 = 1 AND attempt < max_attempts THEN 'queued' ELSE 'failed' END, \
     finished_at = CASE WHEN $4 = 1 AND attempt < max_attempts THEN NULL ELSE $5 END, \
     run_after = $5 + $6, lease_expires_at = NULL, error_code = $7, error_message = $8, updated_at = $5 \
     WHERE id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running' RETURNING state, run_after";

const EXPIRE_SQL: &str = "UPDATE jobs SET \
     state = CASE WHEN attempt < max_attempts THEN 'queued' ELSE 'failed' END, \
     finished_at = CASE WHEN attempt < max_attempts THEN NULL ELSE $1 END, \
     run_after = $1, lease_expires_at = NULL, error_code = $2, error_message = $3, updated_at = $1 \
     WHERE state = 'running' AND lease_expires_at < $1 RETURNING id, attempt, state, asset_id";

/// Hands a running job back unfinished (its worker is stopping): queued again at once, and the attempt does
/// not count against `max_attempts`. `$1` job, `$2` attempt, `$3` worker, `$4` now.
const ABORT_SQL: &str = "UPDATE jobs SET state = 'queued', max_attempts = max_attempts + 1, run_after = $4, \
     lease_expires_at = NULL, updated_at = $4 \
     WHERE id = $1 AND attempt = $2 AND lease_owner = $3 AND state = 'running'";

const EXPIRED_MESSAGE: &str = "the worker stopped sending heartbeats before its lease ended";

/// The job queue on a database.
#[derive(Debug, Clone)]
pub struct JobQueue {
    db: Database,
    retry: RetrySchedule,
}

impl JobQueue {
    pub fn new(db: Database) -> Self {
        Self { db, retry: RetrySchedule::default() }
    }

    pub fn with_retry_schedule(mut self, retry: RetrySchedule) -> Self {
        self.retry = retry;
        self
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Queues a job on its own; [`enqueue_in`] does it inside a caller's transaction.
    pub async fn enqueue(&self, job: &NewJob, now: i64) -> Result<Job, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        enqueue_in(&mut conn, job, now).await
    }

    pub async fn get(&self, job_id: &str) -> Result<Option<Job>, JobError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(job_id)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// Leases the next job for `worker_id` (see [`claim_sql`]), or `None` when there is none it may take now
    /// (or the worker is unknown, draining or at capacity).
    pub async fn claim(
        &self,
        worker_id: &str,
        kinds: &[&str],
        encoders: &[Encoder],
        lease: Duration,
        now: i64,
    ) -> Result<Option<ClaimedJob>, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        claim_in(&mut conn, self.db.engine(), worker_id, kinds, encoders, lease, now).await
    }

    /// The retry schedule failed attempts are queued again by.
    pub fn retry_schedule(&self) -> &RetrySchedule {
        &self.retry
    }

    /// Extends the lease by its length from `now` and records `progress` (if any); returns the new end of
    /// the lease. A lease that has passed but whose job nobody took back yet is still extended.
    pub async fn heartbeat(
        &self,
        lease: &Lease,
        progress: Option<&serde_json::Value>,
        now: i64,
    ) -> Result<i64, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        match heartbeat_in(&mut conn, lease, progress, now).await? {
            Some(at) => Ok(at),
            None => Err(self.refusal(lease).await),
        }
    }

    /// Marks the job succeeded with `result`. Sent again by the same claim after it succeeded, it is a no-op.
    pub async fn complete(&self, lease: &Lease, result: &serde_json::Value, now: i64) -> Result<(), JobError> {
        let mut conn = self.db.pool().acquire().await?;
        if complete_in(&mut conn, lease, result, now).await? {
            return Ok(());
        }
        drop(conn);
        self.complete_refusal(lease).await
    }

    /// Why [`complete_in`] changed nothing, or `Ok` when this very claim had completed the job already (a
    /// repeated report).
    pub async fn complete_refusal(&self, lease: &Lease) -> Result<(), JobError> {
        match self.refusal(lease).await {
            JobError::LeaseLost { state: JobState::Succeeded, current_attempt, .. }
                if current_attempt == lease.attempt && self.latest_worker(&lease.job_id).await? == lease.worker_id =>
            {
                Ok(())
            }
            refusal => Err(refusal),
        }
    }

    /// Records a failed attempt: queued again after the backoff when `retryable` and attempts are left,
    /// otherwise failed for good. The error is kept on the job either way.
    pub async fn fail(
        &self,
        lease: &Lease,
        failure: &JobFailure,
        retryable: bool,
        now: i64,
    ) -> Result<FailOutcome, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        match fail_in(&mut conn, lease, failure, retryable, self.retry.delay_ms(lease.attempt), now).await? {
            Some(outcome) => Ok(outcome),
            None => Err(self.refusal(lease).await),
        }
    }

    /// Cancels a queued or running job (a running job's worker learns it from its next write); returns the
    /// job's state afterwards, which is its final state if it had already finished.
    pub async fn cancel(&self, job_id: &str, now: i64) -> Result<JobState, JobError> {
        let canceled = sqlx::query(
            "UPDATE jobs SET state = 'canceled', lease_expires_at = NULL, finished_at = $2, updated_at = $2 \
             WHERE id = $1 AND state IN ('queued', 'running')",
        )
        .bind(job_id)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        if canceled.rows_affected() == 1 {
            return Ok(JobState::Canceled);
        }
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(self.db.pool())
            .await?;
        state.map_or_else(|| Err(JobError::NotFound(job_id.to_string())), |s| Ok(state_of(&s)?))
    }

    /// Takes back every lease that ended before `now`: the job is queued again (claimable at once, under the
    /// next attempt number) or, if that was its last attempt, failed with [`LEASE_EXPIRED`].
    pub async fn expire_leases(&self, now: i64) -> Result<Vec<ExpiredLease>, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        expire_leases_in(&mut conn, now).await
    }

    /// Jobs in each state (every state, 0 included) and the age of the longest-waiting one, for metrics.
    pub async fn depth_by_state(&self, now: i64) -> Result<Vec<StateDepth>, JobError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*), MIN(CASE state WHEN 'queued' THEN updated_at WHEN 'running' THEN started_at \
             ELSE finished_at END) FROM jobs GROUP BY state",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut depths: Vec<StateDepth> =
            JobState::ALL.into_iter().map(|state| StateDepth { state, jobs: 0, oldest_age_ms: None }).collect();
        for row in rows {
            let state = state_of(&row.try_get::<String, _>(0)?)?;
            let depth = depths.iter_mut().find(|d| d.state == state).expect("every state is listed");
            depth.jobs = row.try_get(1)?;
            depth.oldest_age_ms = row.try_get::<Option<i64>, _>(2)?.map(|since| now.saturating_sub(since).max(0));
        }
        Ok(depths)
    }

    /// Why a worker write changed nothing.
    pub async fn refusal(&self, lease: &Lease) -> JobError {
        let row = sqlx::query("SELECT state, attempt FROM jobs WHERE id = $1")
            .bind(&lease.job_id)
            .fetch_optional(self.db.pool())
            .await;
        let row = match row {
            Ok(Some(row)) => row,
            Ok(None) => return JobError::NotFound(lease.job_id.clone()),
            Err(e) => return e.into(),
        };
        let found = row
            .try_get::<String, _>(0)
            .map_err(JobError::from)
            .and_then(|s| Ok(state_of(&s)?))
            .and_then(|state| Ok((state, row.try_get::<i64, _>(1)?)));
        match found {
            Ok((JobState::Canceled, _)) => JobError::Canceled(lease.job_id.clone()),
            Ok((state, current_attempt)) => {
                JobError::LeaseLost { job_id: lease.job_id.clone(), attempt: lease.attempt, current_attempt, state }
            }
            Err(e) => e,
        }
    }

    async fn latest_worker(&self, job_id: &str) -> Result<String, JobError> {
        let worker: Option<String> = sqlx::query_scalar("SELECT lease_owner FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(self.db.pool())
            .await?;
        Ok(worker.unwrap_or_default())
    }
}

/// [`JobQueue::claim`] on `conn`, which may be inside the caller's transaction (the claim and the asset's
/// change to processing commit together).
pub async fn claim_in(
    conn: &mut AnyConnection,
    engine: Engine,
    worker_id: &str,
    kinds: &[&str],
    encoders: &[Encoder],
    lease: Duration,
    now: i64,
) -> Result<Option<ClaimedJob>, JobError> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let sql = claim_sql(engine, kinds.len(), encoders.len());
    let mut query = sqlx::query(&sql).bind(worker_id).bind(now).bind(millis(lease));
    for kind in kinds {
        query = query.bind(*kind);
    }
    for encoder in encoders {
        query = query.bind(encoder.as_str());
    }
    let Some(row) = query.fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let job = job_from_row(&row)?;
    let lease = job.lease().ok_or_else(|| decode_error("a claimed job is not running"))?;
    let lease_expires_at = job.lease_expires_at.unwrap_or(now);
    Ok(Some(ClaimedJob { lease, lease_expires_at, job }))
}

/// [`JobQueue::heartbeat`] on `conn`: the new end of the lease, or `None` when the claim is no longer current.
pub async fn heartbeat_in(
    conn: &mut AnyConnection,
    lease: &Lease,
    progress: Option<&serde_json::Value>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(HEARTBEAT_SQL)
        .bind(&lease.job_id)
        .bind(lease.attempt)
        .bind(&lease.worker_id)
        .bind(now)
        .bind(progress.map(|p| p.to_string()))
        .fetch_optional(&mut *conn)
        .await
}

/// Marks the job succeeded on `conn`; `false` when the claim is no longer current (nothing changed).
pub async fn complete_in(
    conn: &mut AnyConnection,
    lease: &Lease,
    result: &serde_json::Value,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(COMPLETE_SQL)
        .bind(&lease.job_id)
        .bind(lease.attempt)
        .bind(&lease.worker_id)
        .bind(result.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// [`JobQueue::fail`] on `conn` with the retry delay given; `None` when the claim is no longer current.
pub async fn fail_in(
    conn: &mut AnyConnection,
    lease: &Lease,
    failure: &JobFailure,
    retryable: bool,
    delay_ms: i64,
    now: i64,
) -> Result<Option<FailOutcome>, sqlx::Error> {
    let row = sqlx::query(FAIL_SQL)
        .bind(&lease.job_id)
        .bind(lease.attempt)
        .bind(&lease.worker_id)
        .bind(i64::from(retryable))
        .bind(now)
        .bind(delay_ms)
        .bind(&failure.code)
        .bind(&failure.message)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(match state_of(&row.try_get::<String, _>(0)?)? {
        JobState::Queued => FailOutcome::Retrying { run_after: row.try_get(1)? },
        _ => FailOutcome::Failed,
    }))
}

/// Hands the claim's job back on `conn` (see `ABORT_SQL`); `false` when the claim is no longer current.
pub async fn abort_in(conn: &mut AnyConnection, lease: &Lease, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(ABORT_SQL)
        .bind(&lease.job_id)
        .bind(lease.attempt)
        .bind(&lease.worker_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// [`JobQueue::expire_leases`] on `conn`.
pub async fn expire_leases_in(conn: &mut AnyConnection, now: i64) -> Result<Vec<ExpiredLease>, JobError> {
    let rows =
        sqlx::query(EXPIRE_SQL).bind(now).bind(LEASE_EXPIRED).bind(EXPIRED_MESSAGE).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            Ok(ExpiredLease {
                job_id: row.try_get(0)?,
                attempt: row.try_get(1)?,
                state: state_of(&row.try_get::<String, _>(2)?)?,
                asset_id: row.try_get(3)?,
            })
        })
        .collect()
}

/// Cancels every queued or running job of `asset_id` on `conn` (their workers learn it from their next
/// write); returns how many.
pub async fn cancel_asset_jobs_in(conn: &mut AnyConnection, asset_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'canceled', lease_expires_at = NULL, finished_at = $2, updated_at = $2 \
         WHERE asset_id = $1 AND state IN ('queued', 'running')",
    )
    .bind(asset_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Queues a job on `conn`, which may be inside the caller's transaction (the asset's change, the job and its
/// event committed together). Its round is [`choice::enqueue_round`] over the owner's latest active round
/// and the queue's floor; two jobs of one owner enqueued at the same instant may share a round.
pub async fn enqueue_in(conn: &mut AnyConnection, job: &NewJob, now: i64) -> Result<Job, JobError> {
    let rounds = sqlx::query(
        "SELECT (SELECT MAX(fair_round) FROM jobs WHERE owner_id = $1 AND state IN ('queued', 'running')), \
         (SELECT MIN(fair_round) FROM jobs WHERE state = 'queued'), \
         (SELECT MAX(fair_round) FROM jobs WHERE state = 'running')",
    )
    .bind(&job.owner_id)
    .fetch_one(&mut *conn)
    .await?;
    let floor = choice::queue_floor(rounds.try_get(1)?, rounds.try_get(2)?);
    let round = choice::enqueue_round(rounds.try_get(0)?, floor);
    let row = sqlx::query(&format!(
        "INSERT INTO jobs (id, asset_id, owner_id, kind, preset, encoder, fallback_encoder, state, attempt, \
         max_attempts, fair_round, run_after, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9, $10, $10, $10) RETURNING {JOB_COLUMNS}"
    ))
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&job.asset_id)
    .bind(&job.owner_id)
    .bind(&job.kind)
    .bind(&job.preset)
    .bind(job.need.encoder.map(Encoder::as_str))
    .bind(job.need.fallback().map(Encoder::as_str))
    .bind(job.max_attempts.max(1))
    .bind(round)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(job_from_row(&row)?)
}

/// Reads a row of [`JOB_COLUMNS`].
pub fn job_from_row(row: &AnyRow) -> Result<Job, sqlx::Error> {
    let encoder = row.try_get::<Option<String>, _>(5)?.map(|e| encoder_of(&e)).transpose()?;
    let fallback = row.try_get::<Option<String>, _>(6)?.map(|e| encoder_of(&e)).transpose()?;
    let error = match (row.try_get::<Option<String>, _>(16)?, row.try_get::<Option<String>, _>(17)?) {
        (Some(code), message) => Some(JobFailure { code, message: message.unwrap_or_default() }),
        (None, _) => None,
    };
    Ok(Job {
        id: row.try_get(0)?,
        asset_id: row.try_get(1)?,
        owner_id: row.try_get(2)?,
        kind: row.try_get(3)?,
        preset: row.try_get(4)?,
        need: EncoderNeed { encoder, x264_fallback: fallback == Some(Encoder::X264) },
        state: state_of(&row.try_get::<String, _>(7)?)?,
        attempt: row.try_get(8)?,
        max_attempts: row.try_get(9)?,
        fair_round: row.try_get(10)?,
        lease_owner: row.try_get(11)?,
        lease_expires_at: row.try_get(12)?,
        run_after: row.try_get(13)?,
        progress: json_of(row.try_get(14)?)?,
        result: json_of(row.try_get(15)?)?,
        error,
        created_at: row.try_get(18)?,
        updated_at: row.try_get(19)?,
        started_at: row.try_get(20)?,
        finished_at: row.try_get(21)?,
    })
}

fn state_of(name: &str) -> Result<JobState, sqlx::Error> {
    JobState::parse(name).ok_or_else(|| decode_error(format!("unknown job state {name:?}")))
}

fn encoder_of(name: &str) -> Result<Encoder, sqlx::Error> {
    name.parse().map_err(|e: choice::UnknownEncoder| decode_error(e.to_string()))
}

fn json_of(text: Option<String>) -> Result<Option<serde_json::Value>, sqlx::Error> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| decode_error(format!("stored JSON is not valid: {e}"))))
        .transpose()
}

fn decode_error(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_locks_with_skip_locked_only_on_postgres() {
        let pg = claim_sql(Engine::Postgres, 1, 2);
        assert!(pg.contains("LIMIT 1 FOR UPDATE SKIP LOCKED)"), "{pg}");
        assert!(pg.contains("kind IN ($4)") && pg.contains("encoder IN ($5, $6)"), "{pg}");
        let sqlite = claim_sql(Engine::Sqlite, 2, 0);
        assert!(!sqlite.contains("SKIP LOCKED") && sqlite.contains("kind IN ($4, $5) AND encoder IS NULL"), "{sqlite}");
    }
}
