//! The farm's operations, each one transaction over the job queue and the asset it works on: a claim starts
//! the asset processing, a completion publishes it, a failure errors it or queues it again, an expired lease
//! queues it again. A worker's write changes nothing unless its claim is the job's current one (the attempt
//! is the fencing token), and an asset is pointed at an attempt's folder only by that attempt's completion,
//! after its manifests are in storage: players get one attempt's presentation, complete, or none.

use std::sync::Arc;
use std::time::{Duration, Instant};

use marquee_farm_protocol::{
    self as protocol, attempt_prefix, ClaimRequest, CompleteJob, FailAck, FailJob, Heartbeat, HeartbeatAck, JobSource,
    RegisterWorker, RegisteredWorker,
};
use marquee_storage::{ObjectKey, ObjectStore};
use sqlx::Row;

use super::config::{FarmConfig, MAX_CLAIM_WAIT};
use super::metrics::FarmMetrics;
use crate::assets::model::{keys, AssetError, AssetStatus};
use crate::assets::store::{self as assets, Published};
use crate::auth::tokens::{random_secret, secret_hash};
use crate::clock::now_ms;
use crate::db::{begin_write, Database};
use crate::error::ApiError;
use crate::jobs::store::{
    abort_in, cancel_asset_jobs_in, claim_in, complete_in, expire_leases_in, fail_in, heartbeat_in,
};
use crate::jobs::{Encoder, FailOutcome, JobFailure, JobQueue, JobState, Lease, NewWorker, Worker};

/// Longest worker name.
pub const MAX_NAME_CHARS: usize = 200;
/// Most jobs one worker runs at once.
pub const MAX_CAPACITY: i64 = 64;
/// The error code of an asset whose job was canceled.
pub const CANCELED: &str = "canceled";

/// The farm over the database and the storage workers publish to.
#[derive(Debug, Clone)]
pub struct Farm {
    db: Database,
    storage: Arc<dyn ObjectStore>,
    queue: JobQueue,
    pub config: FarmConfig,
    pub metrics: FarmMetrics,
}

impl Farm {
    pub fn new(db: Database, storage: Arc<dyn ObjectStore>, config: FarmConfig, metrics: FarmMetrics) -> Self {
        let queue = JobQueue::new(db.clone());
        Self { db, storage, queue, config, metrics }
    }

    pub fn queue(&self) -> &JobQueue {
        &self.queue
    }

    /// Registers a worker and makes its token (returned once; only its hash is kept).
    pub async fn register(&self, request: &RegisterWorker) -> Result<RegisteredWorker, ApiError> {
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(
                "invalid_worker",
                format!("name must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if !(1..=MAX_CAPACITY).contains(&request.capacity) {
            return Err(ApiError::bad_request("invalid_worker", format!("capacity must be 1 to {MAX_CAPACITY}")));
        }
        let mut encoders = Vec::new();
        for name in &request.encoders {
            let encoder =
                name.parse::<Encoder>().map_err(|e| ApiError::bad_request("invalid_worker", e.to_string()))?;
            if !encoders.contains(&encoder) {
                encoders.push(encoder);
            }
        }
        let token = random_secret(protocol::WORKER_TOKEN_PREFIX);
        let worker = NewWorker { name: name.to_string(), encoders, capacity: request.capacity };
        let worker = self.queue.register_worker_with_token(&worker, Some(&secret_hash(&token)), now_ms()).await?;
        tracing::info!(worker = %worker.id, name = %worker.name, capacity = worker.capacity, "Worker registered.");
        Ok(RegisteredWorker {
            worker_id: worker.id,
            token,
            lease_seconds: self.config.lease.as_secs().max(1),
            heartbeat_seconds: self.config.heartbeat_interval.as_secs_f64(),
        })
    }

    /// The next job for `worker`, waiting up to `request.wait_seconds` for one.
    pub async fn claim(
        &self,
        worker: &Worker,
        request: &ClaimRequest,
    ) -> Result<Option<protocol::ClaimedJob>, ApiError> {
        if request.kinds.is_empty() || request.kinds.iter().any(|k| k.is_empty() || k.len() > 50) {
            return Err(ApiError::bad_request("invalid_claim", "kinds must name 1 or more job kinds of 1 to 50 bytes"));
        }
        let wait = Duration::from_secs(u64::from(request.wait_seconds)).min(MAX_CLAIM_WAIT);
        let deadline = Instant::now() + wait;
        let kinds: Vec<&str> = request.kinds.iter().map(String::as_str).collect();
        loop {
            // Listen before looking, so a job enqueued between the look and the wait still wakes this claim.
            let woken = self.config.jobs_ready.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.try_claim(worker, &kinds).await? {
                Claim::Got(job) => return Ok(Some(*job)),
                Claim::Again => continue,
                Claim::None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(left.min(super::config::CLAIM_RECHECK)) => {}
            }
        }
    }

    async fn try_claim(&self, worker: &Worker, kinds: &[&str]) -> Result<Claim, ApiError> {
        let now = now_ms();
        // A read first: idle workers polling an empty queue take no write lock (SQLite has one for everything).
        let waiting: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM jobs WHERE state = 'queued' AND run_after <= $1 LIMIT 1")
                .bind(now)
                .fetch_optional(self.db.pool())
                .await?;
        if waiting.is_none() {
            return Ok(Claim::None);
        }
        let mut tx = begin_write(self.db.pool()).await?;
        let claimed =
            claim_in(&mut tx, self.db.engine(), &worker.id, kinds, &worker.encoders, self.config.lease, now).await?;
        let Some(claimed) = claimed else {
            tx.rollback().await?;
            return Ok(Claim::None);
        };
        let job = &claimed.job;
        let asset = sqlx::query("SELECT status, source_key, input_url FROM assets WHERE id = $1")
            .bind(&job.asset_id)
            .fetch_optional(&mut *tx)
            .await?;
        let source = match &asset {
            Some(row) if row.try_get::<String, _>(0)? != AssetStatus::Deleted.as_str() => {
                match (row.try_get::<Option<String>, _>(1)?, row.try_get::<Option<String>, _>(2)?) {
                    (Some(key), _) => Some(JobSource::Stored { key }),
                    (None, Some(url)) => Some(JobSource::Url { url }),
                    (None, None) => None,
                }
            }
            _ => None,
        };
        let Some(source) = source else {
            // Its asset is gone (or never had a source): the job has nothing to do.
            sqlx::query("UPDATE jobs SET state = 'canceled', lease_expires_at = NULL, finished_at = $2, updated_at = $2 WHERE id = $1")
                .bind(&job.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::warn!(job = %job.id, asset = %job.asset_id, "Canceled a job whose asset is gone.");
            return Ok(Claim::Again);
        };
        assets::start_processing(&mut tx, &job.asset_id, now).await?;
        touch_worker(&mut tx, &worker.id, now).await?;
        tx.commit().await?;
        self.metrics.claims.inc();
        tracing::info!(job = %job.id, asset = %job.asset_id, attempt = job.attempt, worker = %worker.id, "Job claimed.");
        Ok(Claim::Got(Box::new(protocol::ClaimedJob {
            job_id: job.id.clone(),
            attempt: job.attempt,
            asset_id: job.asset_id.clone(),
            kind: job.kind.clone(),
            preset: job.preset.clone(),
            encoder: job.need.encoder.map(|e| e.as_str().to_string()),
            x264_fallback: job.need.x264_fallback,
            source,
            output_prefix: attempt_prefix(&job.asset_id, &job.id, job.attempt),
            lease_expires_at: claimed.lease_expires_at,
        })))
    }

    /// Extends the claim's lease and records its progress on the job and the asset.
    pub async fn heartbeat(&self, worker: &Worker, job_id: &str, beat: &Heartbeat) -> Result<HeartbeatAck, ApiError> {
        let lease = lease(worker, job_id, beat.attempt);
        let progress = beat.progress.as_ref().map(|p| serde_json::to_value(p).unwrap_or_default());
        let now = now_ms();
        let mut tx = begin_write(self.db.pool()).await?;
        let Some(lease_expires_at) = heartbeat_in(&mut tx, &lease, progress.as_ref(), now).await? else {
            tx.rollback().await?;
            return Err(self.queue.refusal(&lease).await.into());
        };
        if let Some(progress) = &progress {
            let asset_id: String = asset_of(&mut tx, job_id).await?;
            assets::set_progress(&mut tx, &asset_id, progress, now).await?;
        }
        touch_worker(&mut tx, &worker.id, now).await?;
        tx.commit().await?;
        Ok(HeartbeatAck { lease_expires_at })
    }

    /// The claim's attempt published its whole presentation: the job succeeds and the asset is ready, pointing
    /// at that attempt's folder; every other folder of the asset is removed afterwards.
    pub async fn complete(&self, worker: &Worker, job_id: &str, done: &CompleteJob) -> Result<(), ApiError> {
        let lease = lease(worker, job_id, done.attempt);
        let job = self.queue.get(job_id).await?.ok_or_else(|| ApiError::not_found("job"))?;
        if job.lease().as_ref() != Some(&lease) {
            // Not (or no longer) this claim's: say why before looking at storage. A repeated completion of
            // the claim that did complete the job is fine.
            return self.queue.complete_refusal(&lease).await.map_err(ApiError::from);
        }
        let prefix = attempt_prefix(&job.asset_id, &job.id, done.attempt);
        if !done.duration_seconds.is_finite() || done.duration_seconds < 0.0 || done.renditions.is_empty() {
            return Err(ApiError::bad_request("invalid_result", "a completion needs a duration and its renditions"));
        }
        // The manifests are written last: with both there, the attempt's presentation is whole.
        for manifest in ["master.m3u8", "manifest.mpd"] {
            let key = ObjectKey::parse(&format!("{prefix}{manifest}"))
                .map_err(|e| ApiError::internal("cannot name the manifest", e))?;
            match self.storage.head(&key).await {
                Ok(_) => {}
                Err(marquee_storage::StorageError::NotFound { .. }) => {
                    return Err(ApiError::new(
                        http::StatusCode::UNPROCESSABLE_ENTITY,
                        protocol::codes::INCOMPLETE_OUTPUT,
                        format!("{prefix}{manifest} is not in storage: publish the whole presentation, then complete"),
                    ))
                }
                Err(e) => return Err(ApiError::internal("cannot check the published manifests", e)),
            }
        }
        let now = now_ms();
        let result = serde_json::to_value(done).unwrap_or_default();
        let mut tx = begin_write(self.db.pool()).await?;
        if !complete_in(&mut tx, &lease, &result, now).await? {
            tx.rollback().await?;
            return self.queue.complete_refusal(&lease).await.map_err(ApiError::from);
        }
        let published = Published {
            prefix: prefix.clone(),
            source: done.source.clone(),
            renditions: serde_json::to_value(&done.renditions).unwrap_or_default(),
            #[allow(clippy::cast_possible_truncation)]
            duration_ms: (done.duration_seconds * 1000.0).round() as i64,
        };
        if assets::publish(&mut tx, &job.asset_id, &published, now).await?.is_none() {
            tracing::warn!(job = %job_id, asset = %job.asset_id, "A job completed for an asset that was not processing.");
        }
        tx.commit().await?;
        self.metrics.finished.with_label_values(&["succeeded"]).inc();
        tracing::info!(job = %job_id, asset = %job.asset_id, attempt = done.attempt, prefix = %prefix, "Asset ready.");
        self.remove_other_folders(job.asset_id.clone(), prefix);
        Ok(())
    }

    /// The claim's attempt failed: queued again after the backoff when retryable and attempts are left,
    /// otherwise the asset is errored with the worker's reason. The attempt's folder is removed.
    pub async fn fail(&self, worker: &Worker, job_id: &str, failed: &FailJob) -> Result<FailAck, ApiError> {
        if failed.code.is_empty() || failed.code.len() > 64 {
            return Err(ApiError::bad_request("invalid_failure", "code must be 1 to 64 bytes"));
        }
        let lease = lease(worker, job_id, failed.attempt);
        let message: String = failed.message.chars().take(2000).collect();
        let failure = JobFailure::new(failed.code.clone(), message.clone());
        let now = now_ms();
        let delay = self.queue.retry_schedule().delay_ms(failed.attempt);
        let mut tx = begin_write(self.db.pool()).await?;
        let Some(outcome) = fail_in(&mut tx, &lease, &failure, failed.retryable, delay, now).await? else {
            tx.rollback().await?;
            return Err(self.queue.refusal(&lease).await.into());
        };
        let asset_id: String = asset_of(&mut tx, job_id).await?;
        let retrying = matches!(outcome, FailOutcome::Retrying { .. });
        if retrying {
            assets::requeue(&mut tx, &asset_id, now).await?;
        } else {
            let error = AssetError { code: failed.code.clone(), message };
            assets::fail(&mut tx, &asset_id, &[AssetStatus::Processing, AssetStatus::Queued], &error, now).await?;
        }
        tx.commit().await?;
        if retrying {
            self.metrics.retries.inc();
        } else {
            self.metrics.finished.with_label_values(&["failed"]).inc();
        }
        tracing::info!(job = %job_id, asset = %asset_id, attempt = failed.attempt, code = %failed.code, retrying, "Attempt failed.");
        self.remove_folder(attempt_prefix(&asset_id, job_id, failed.attempt));
        Ok(FailAck { retrying })
    }

    /// The worker hands the job back unfinished (it is stopping): queued again at once, not counted as an
    /// attempt.
    pub async fn abort(&self, worker: &Worker, job_id: &str, attempt: i64) -> Result<(), ApiError> {
        let lease = lease(worker, job_id, attempt);
        let now = now_ms();
        let mut tx = begin_write(self.db.pool()).await?;
        if !abort_in(&mut tx, &lease, now).await? {
            tx.rollback().await?;
            return Err(self.queue.refusal(&lease).await.into());
        }
        let asset_id: String = asset_of(&mut tx, job_id).await?;
        assets::requeue(&mut tx, &asset_id, now).await?;
        tx.commit().await?;
        self.metrics.finished.with_label_values(&["handed_back"]).inc();
        tracing::info!(job = %job_id, asset = %asset_id, attempt, "Job handed back.");
        self.remove_folder(attempt_prefix(&asset_id, job_id, attempt));
        self.config.wake_claims();
        Ok(())
    }

    /// Takes back the leases that passed without heartbeats: each job is queued again (its asset too) or, out
    /// of attempts, failed with its asset errored. The abandoned attempts' folders are removed. Returns how
    /// many leases were taken back.
    pub async fn expire_leases(&self) -> Result<usize, ApiError> {
        let now = now_ms();
        let mut tx = begin_write(self.db.pool()).await?;
        let expired = expire_leases_in(&mut tx, now).await?;
        if expired.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        for lease in &expired {
            if lease.state == JobState::Queued {
                assets::requeue(&mut tx, &lease.asset_id, now).await?;
            } else {
                let error = AssetError {
                    code: crate::jobs::LEASE_EXPIRED.into(),
                    message: "every attempt's worker stopped sending heartbeats before finishing".into(),
                };
                assets::fail(&mut tx, &lease.asset_id, &[AssetStatus::Processing, AssetStatus::Queued], &error, now)
                    .await?;
            }
        }
        tx.commit().await?;
        for lease in &expired {
            tracing::warn!(job = %lease.job_id, asset = %lease.asset_id, attempt = lease.attempt, now = %lease.state,
                "Lease expired: the worker stopped sending heartbeats.");
            self.remove_folder(attempt_prefix(&lease.asset_id, &lease.job_id, lease.attempt));
        }
        self.metrics.lease_expiries.inc_by(expired.len() as u64);
        self.config.wake_claims();
        Ok(expired.len())
    }

    /// Refreshes the queue depth gauges.
    pub async fn observe_queue(&self) -> Result<(), ApiError> {
        self.metrics.set_depths(&self.queue.depth_by_state(now_ms()).await?);
        Ok(())
    }

    /// Cancels the asset's queued or running job in `tx` (a running one's worker stops at its next heartbeat)
    /// and returns the running attempt's folder, if one was running, to remove once `tx` commits.
    pub async fn cancel_jobs_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        asset_id: &str,
        now: i64,
    ) -> Result<(u64, Option<String>), sqlx::Error> {
        let running = sqlx::query("SELECT id, attempt FROM jobs WHERE asset_id = $1 AND state = 'running'")
            .bind(asset_id)
            .fetch_optional(&mut **tx)
            .await?;
        let folder = match running {
            Some(row) => Some(attempt_prefix(asset_id, &row.try_get::<String, _>(0)?, row.try_get(1)?)),
            None => None,
        };
        let canceled = cancel_asset_jobs_in(tx, asset_id, now).await?;
        Ok((canceled, folder))
    }

    /// Cancels the asset's job: the asset is errored with [`CANCELED`]. `false` when it had none queued or
    /// running.
    pub async fn cancel(&self, asset_id: &str, by: &str) -> Result<bool, ApiError> {
        let now = now_ms();
        let mut tx = begin_write(self.db.pool()).await?;
        let (canceled, folder) = Self::cancel_jobs_in(&mut tx, asset_id, now).await?;
        if canceled == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let error = AssetError { code: CANCELED.into(), message: format!("the transcode was canceled by {by}") };
        assets::fail(&mut tx, asset_id, &[AssetStatus::Queued, AssetStatus::Processing], &error, now).await?;
        tx.commit().await?;
        self.metrics.finished.with_label_values(&["canceled"]).inc();
        if let Some(folder) = folder {
            self.remove_folder(folder);
        }
        Ok(true)
    }

    /// Removes every object under `folder`, in the background (logged on failure).
    pub fn remove_folder(&self, folder: String) {
        let storage = self.storage.clone();
        tokio::spawn(async move {
            if let Err(e) = remove_under(storage.as_ref(), &folder, None).await {
                tracing::warn!(%folder, error = %e, "Cannot remove an abandoned attempt's objects.");
            }
        });
    }

    /// Removes every object of the asset's presentations except those under `keep`, in the background.
    fn remove_other_folders(&self, asset_id: String, keep: String) {
        let storage = self.storage.clone();
        tokio::spawn(async move {
            let root = keys::presentation_root(&asset_id);
            if let Err(e) = remove_under(storage.as_ref(), &root, Some(&keep)).await {
                tracing::warn!(asset = %asset_id, error = %e, "Cannot remove the asset's earlier presentations.");
            }
        });
    }
}

/// What one look for a job found.
enum Claim {
    Got(Box<protocol::ClaimedJob>),
    /// A job was found but had nothing to do and was canceled: look again.
    Again,
    None,
}

/// Records in `tx` that the worker was in touch at `now`.
async fn touch_worker(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    worker_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE workers SET last_seen_at = $2 WHERE id = $1")
        .bind(worker_id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// The asset job `job_id` works on, read in `tx`.
async fn asset_of(tx: &mut sqlx::Transaction<'static, sqlx::Any>, job_id: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT asset_id FROM jobs WHERE id = $1").bind(job_id).fetch_one(&mut **tx).await
}

fn lease(worker: &Worker, job_id: &str, attempt: i64) -> Lease {
    Lease { job_id: job_id.to_string(), attempt, worker_id: worker.id.clone() }
}

/// Deletes every object under `folder` except those under `keep`; returns how many.
pub async fn remove_under(
    storage: &dyn ObjectStore,
    folder: &str,
    keep: Option<&str>,
) -> Result<usize, marquee_storage::StorageError> {
    let mut removed = 0;
    for key in storage.list(folder).await? {
        if keep.is_some_and(|keep| key.as_str().starts_with(keep)) {
            continue;
        }
        storage.delete(&key).await?;
        removed += 1;
    }
    Ok(removed)
}
