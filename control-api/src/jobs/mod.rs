//! The transcode job queue the farm's workers pull from, as a library the HTTP handlers call.
//!
//! A job is `queued` until a worker claims it; a claim is a lease (`running`, `lease_expires_at`) that the
//! worker's heartbeats extend, and it raises the job's `attempt`. That attempt number is a fencing token:
//! every write a worker makes (heartbeat, complete, fail) names its [`Lease`] (job, attempt, worker) and
//! changes nothing unless the job is still running under that very claim; otherwise it gets
//! [`JobError::LeaseLost`] (or [`JobError::Canceled`]). A lease that passes without heartbeats is taken back
//! by [`JobQueue::expire_leases`] and the job is claimed again under a new attempt. Failures are retried with
//! exponential backoff ([`backoff`]) until `max_attempts`, then the job is `failed` with its error kept.
//!
//! - [`choice`]: pure rules for which job a worker gets (encoder routing, fair order by owner then age).
//! - [`backoff`]: pure retry schedule.
//! - [`store`]: the queue on the database (claims with `FOR UPDATE SKIP LOCKED` on PostgreSQL, one writer
//!   on SQLite); [`workers`]: the registry of workers.
//!
//! Every function takes the time as `now` (milliseconds since the Unix epoch), so callers and tests own the
//! clock.

pub mod backoff;
pub mod choice;
pub mod store;
pub mod workers;

use std::fmt;

pub use backoff::RetrySchedule;
pub use choice::{Encoder, EncoderNeed};
pub use store::{enqueue_in, JobQueue};
pub use workers::{NewWorker, Worker};

use crate::error::ApiError;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl JobState {
    pub const ALL: [JobState; 5] =
        [JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Canceled];

    /// The name in the database, the API, logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Canceled => "canceled",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job will never run again.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Canceled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub asset_id: String,
    pub owner_id: String,
    /// What to do, e.g. `transcode`; workers claim by the kinds they can do.
    pub kind: String,
    pub preset: String,
    pub need: EncoderNeed,
    /// Claims the job gets at most (at least 1).
    pub max_attempts: i64,
}

impl NewJob {
    /// A transcode of `asset_id` with `preset`, any encoder, [`backoff::DEFAULT_MAX_ATTEMPTS`].
    pub fn transcode(asset_id: impl Into<String>, owner_id: impl Into<String>, preset: impl Into<String>) -> Self {
        Self {
            asset_id: asset_id.into(),
            owner_id: owner_id.into(),
            kind: "transcode".into(),
            preset: preset.into(),
            need: EncoderNeed::ANY,
            max_attempts: backoff::DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// Why an attempt failed: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub code: String,
    pub message: String,
}

impl JobFailure {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub asset_id: String,
    pub owner_id: String,
    pub kind: String,
    pub preset: String,
    pub need: EncoderNeed,
    pub state: JobState,
    /// Claims so far (0 while never claimed); the current claim's fencing token.
    pub attempt: i64,
    pub max_attempts: i64,
    pub fair_round: i64,
    /// The worker of the latest claim.
    pub lease_owner: Option<String>,
    /// While running: when the lease ends unless a heartbeat extends it.
    pub lease_expires_at: Option<i64>,
    /// Not claimed before this time (backoff after a failure).
    pub run_after: i64,
    pub progress: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    /// The latest attempt's error, kept when the job fails for good.
    pub error: Option<JobFailure>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the latest attempt started.
    pub started_at: Option<i64>,
    /// When the job reached a final state.
    pub finished_at: Option<i64>,
}

impl Job {
    /// The lease of the current claim, while the job is running.
    pub fn lease(&self) -> Option<Lease> {
        match (&self.lease_owner, self.state) {
            (Some(worker), JobState::Running) => {
                Some(Lease { job_id: self.id.clone(), attempt: self.attempt, worker_id: worker.clone() })
            }
            _ => None,
        }
    }
}

/// What a worker names on every write: the job, its claim's attempt number (the fencing token), and itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    pub job_id: String,
    pub attempt: i64,
    pub worker_id: String,
}

/// A job a worker has just claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub lease: Lease,
    /// When the lease ends unless a heartbeat extends it.
    pub lease_expires_at: i64,
    pub job: Job,
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again, not to be claimed before `run_after`.
    Retrying { run_after: i64 },
    /// Failed for good (not retryable, or out of attempts); the error is kept on the job.
    Failed,
}

/// A lease that passed without heartbeats, and what became of its job (`queued` again, or `failed` when it
/// had no attempts left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    pub job_id: String,
    pub attempt: i64,
    pub state: JobState,
    pub asset_id: String,
}

/// How many jobs are in a state and how long the oldest has been in it (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateDepth {
    pub state: JobState,
    pub jobs: i64,
    /// Milliseconds since the longest-waiting job entered this state (queued: since it was queued or requeued;
    /// running: since its attempt started; final states: since it finished). `None` with no jobs.
    pub oldest_age_ms: Option<i64>,
}

/// The error codes of [`JobError`] in API answers.
pub const LEASE_LOST: &str = "lease_lost";
pub const JOB_CANCELED: &str = "job_canceled";
/// The error kept on a job whose lease expired.
pub const LEASE_EXPIRED: &str = "lease_expired";

/// Why a queue operation did nothing.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no job {0}")]
    NotFound(String),
    #[error("no worker {0}")]
    UnknownWorker(String),
    /// The lease was taken back (expired, or the job was claimed again): the worker must stop and publish
    /// nothing.
    #[error("job {job_id}: the lease of attempt {attempt} was lost (the job is {state}, attempt {current_attempt})")]
    LeaseLost { job_id: String, attempt: i64, current_attempt: i64, state: JobState },
    /// The job was canceled while the worker held it: the worker must stop.
    #[error("job {0} was canceled")]
    Canceled(String),
    #[error("job queue database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::NotFound(_) => ApiError::not_found("job"),
            JobError::UnknownWorker(_) => ApiError::not_found("worker"),
            e @ JobError::LeaseLost { .. } => ApiError::conflict(LEASE_LOST, e.to_string()),
            e @ JobError::Canceled(_) => ApiError::conflict(JOB_CANCELED, e.to_string()),
            JobError::Database(e) => ApiError::internal("job queue database error", e),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn state_names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("errored"), None);
        assert!(JobState::Canceled.is_final() && !JobState::Running.is_final());
    }

    #[test]
    fn fencing_refusals_are_conflicts_with_their_own_codes() {
        let lost = JobError::LeaseLost { job_id: "j".into(), attempt: 1, current_attempt: 2, state: JobState::Running };
        let api = ApiError::from(lost);
        assert_eq!((api.status, api.code), (StatusCode::CONFLICT, LEASE_LOST));
        let api = ApiError::from(JobError::Canceled("j".into()));
        assert_eq!((api.status, api.code), (StatusCode::CONFLICT, JOB_CANCELED));
        assert_eq!(ApiError::from(JobError::NotFound("j".into())).status, StatusCode::NOT_FOUND);
    }
}
