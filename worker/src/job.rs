//! One claimed job, start to end: fetch the source into scratch space, transcode it into the attempt's own
//! folder while a separate task sends heartbeats (with the latest progress), then report. A heartbeat that
//! says the job is no longer ours (lease lost, canceled) stops the transcoder, which deletes what it wrote,
//! and nothing is reported; a drain that runs out of time stops it too and hands the job back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use marquee_farm_protocol::{codes, ClaimedJob, CompleteJob, FailJob, Heartbeat, JobProgress, JobSource};
use marquee_storage::{ObjectKey, ObjectStore, Prefixed};
use marquee_transcoder::ladder::LadderPreset;
use marquee_transcoder::{transcode, TranscodeError, TranscodeRequest};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::client::{ApiClient, CallError};
use crate::plan;

/// What every job of a worker shares.
#[derive(Debug)]
pub struct JobContext {
    pub client: ApiClient,
    pub storage: Arc<dyn ObjectStore>,
    pub scratch_dir: PathBuf,
    pub heartbeat_interval: Duration,
    pub encoders: Vec<&'static str>,
    pub stall_timeout: Duration,
    /// The largest source fetched from an `input_url`.
    pub max_source_bytes: u64,
    /// Whether `input_url`s may reach loopback and private networks.
    pub allow_private_urls: bool,
}

/// Why a job stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The API took it back (lease lost or canceled): report nothing.
    TakenBack,
    /// The worker is stopping and its drain time is up: hand the job back.
    HandBack,
}

/// How a job ended, for the worker's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Completed,
    Failed {
        code: String,
        retrying: bool,
    },
    TakenBack,
    HandedBack,
    /// The outcome could not be reported (the API stayed unreachable); the lease will expire.
    Unreported(String),
}

/// Runs `job` to its end. `hand_back` turning true asks the job to stop and hand itself back.
pub async fn run(context: Arc<JobContext>, job: ClaimedJob, mut hand_back: watch::Receiver<bool>) -> Ended {
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(Mutex::new(None::<Stop>));
    let progress = Arc::new(Mutex::new(Some(JobProgress { stage: "fetching".into(), ..JobProgress::default() })));
    let beats = tokio::spawn(heartbeats(context.clone(), job.clone(), progress.clone(), cancel.clone(), stop.clone()));
    let stopper = {
        let (cancel, stop) = (cancel.clone(), stop.clone());
        tokio::spawn(async move {
            if hand_back.wait_for(|h| *h).await.is_ok() {
                stop.lock().expect("not poisoned").get_or_insert(Stop::HandBack);
                cancel.store(true, Ordering::SeqCst);
            }
        })
    };
    let outcome = work(&context, &job, progress, cancel).await;
    beats.abort();
    stopper.abort();
    let stopped = *stop.lock().expect("not poisoned");
    let folder = Prefixed::new(context.storage.clone(), &job.output_prefix);
    match (stopped, outcome) {
        (Some(Stop::TakenBack), _) => {
            remove_all(folder).await;
            tracing::warn!(job = %job.job_id, attempt = job.attempt, "The API took the job back; its output is removed.");
            Ended::TakenBack
        }
        (Some(Stop::HandBack), _) => {
            remove_all(folder).await;
            match with_retries(|| context.client.abort(&job.job_id, job.attempt)).await {
                Ok(()) | Err(CallError::Stop { .. }) => Ended::HandedBack,
                Err(e) => Ended::Unreported(e.to_string()),
            }
        }
        (None, Ok(done)) => report_done(&context, &job, done).await,
        (None, Err(failure)) => {
            remove_all(folder).await;
            report_failure(&context, &job, failure).await
        }
    }
}

/// A failed attempt as reported.
#[derive(Debug)]
struct Failure {
    code: &'static str,
    message: String,
    retryable: bool,
}

async fn work(
    context: &JobContext,
    job: &ClaimedJob,
    progress: Arc<Mutex<Option<JobProgress>>>,
    cancel: Arc<AtomicBool>,
) -> Result<CompleteJob, Failure> {
    let preset = LadderPreset::builtin(&job.preset).map_err(|e| Failure {
        code: "invalid_preset",
        message: e.to_string(),
        retryable: false,
    })?;
    let encoder = plan::encoder_for(job.encoder.as_deref(), job.x264_fallback, &context.encoders)
        .map_err(|message| Failure { code: "encoder_unavailable", message, retryable: true })?;
    let scratch = tempfile::Builder::new().prefix("marquee-job-").tempdir_in(&context.scratch_dir).map_err(|e| {
        Failure { code: codes::TRANSCODE_FAILED, message: format!("no scratch space: {e}"), retryable: true }
    })?;
    let source = scratch.path().join("source");
    fetch(context, &job.source, &source).await?;
    let store: Arc<dyn ObjectStore> =
        Arc::new(Prefixed::new(context.storage.clone(), &job.output_prefix).map_err(|e| Failure {
            code: codes::TRANSCODE_FAILED,
            message: format!("bad output folder: {e}"),
            retryable: false,
        })?);
    let request = TranscodeRequest {
        input: source.clone(),
        preset,
        encoder,
        sidx: false,
        force: false,
        stall_timeout: context.stall_timeout,
    };
    let runtime = tokio::runtime::Handle::current();
    let (transcode_store, transcode_cancel) = (store.clone(), cancel.clone());
    let summary = tokio::task::spawn_blocking(move || {
        let mut on_progress = |event: &marquee_transcoder::progress::ProgressEvent| {
            if let Some(p) = plan::progress_of(event) {
                *progress.lock().expect("not poisoned") = Some(p);
            }
        };
        let summary = transcode(&request, transcode_store, runtime, &mut on_progress, transcode_cancel)?;
        let facts = marquee_transcoder::probe::probe(&request.input).map(|s| plan::source_facts(&s))?;
        Ok::<_, TranscodeError>((summary, facts))
    })
    .await
    .map_err(|e| Failure {
        code: codes::TRANSCODE_FAILED,
        message: format!("the transcode panicked: {e}"),
        retryable: true,
    })?;
    let (summary, source_facts) = summary.map_err(|e| {
        let (code, retryable) = plan::classify(&e);
        Failure { code, message: e.to_string(), retryable }
    })?;
    let master = store.get(&ObjectKey::parse("master.m3u8").expect("a valid key")).await.map_err(|e| Failure {
        code: codes::INCOMPLETE_OUTPUT,
        message: format!("cannot read back the master playlist: {e}"),
        retryable: true,
    })?;
    let renditions = plan::renditions_of(&master).map_err(|message| Failure {
        code: codes::INCOMPLETE_OUTPUT,
        message,
        retryable: true,
    })?;
    Ok(CompleteJob {
        attempt: job.attempt,
        duration_seconds: summary.duration_s,
        source: source_facts,
        renditions,
        encoder: summary.encoder.to_string(),
    })
}

/// Copies the job's source into `dest`.
async fn fetch(context: &JobContext, source: &JobSource, dest: &Path) -> Result<(), Failure> {
    let unavailable = |message: String| Failure { code: codes::SOURCE_UNAVAILABLE, message, retryable: true };
    match source {
        JobSource::Stored { key } => {
            let key = ObjectKey::parse(key).map_err(|e| unavailable(format!("bad source key: {e}")))?;
            let mut read = context
                .storage
                .get_range(&key, None)
                .await
                .map_err(|e| unavailable(format!("cannot read the source {key}: {e}")))?;
            let mut file =
                tokio::fs::File::create(dest).await.map_err(|e| unavailable(format!("scratch space: {e}")))?;
            while let Some(chunk) = read.body.next().await {
                let chunk = chunk.map_err(|e| unavailable(format!("reading the source {key}: {e}")))?;
                file.write_all(&chunk).await.map_err(|e| unavailable(format!("scratch space: {e}")))?;
            }
            file.flush().await.map_err(|e| unavailable(format!("scratch space: {e}")))?;
            Ok(())
        }
        JobSource::Url { url } => {
            let fetched =
                marquee_outbound::fetch_to_file(url, dest, context.max_source_bytes, context.allow_private_urls).await;
            match fetched {
                Ok(bytes) => {
                    tracing::info!(%url, bytes, "Fetched the source.");
                    Ok(())
                }
                Err(e) => Err(Failure {
                    code: codes::SOURCE_UNAVAILABLE,
                    message: e.to_string(),
                    retryable: e.is_retryable(),
                }),
            }
        }
    }
}

/// Sends a heartbeat every interval with the latest progress until aborted; a refusal that says the job is
/// no longer ours cancels the transcode.
async fn heartbeats(
    context: Arc<JobContext>,
    job: ClaimedJob,
    progress: Arc<Mutex<Option<JobProgress>>>,
    cancel: Arc<AtomicBool>,
    stop: Arc<Mutex<Option<Stop>>>,
) {
    let mut ticks = tokio::time::interval(context.heartbeat_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let beat = Heartbeat { attempt: job.attempt, progress: progress.lock().expect("not poisoned").clone() };
        match context.client.heartbeat(&job.job_id, &beat).await {
            Ok(_) => {}
            Err(CallError::Stop { code, message }) => {
                tracing::warn!(job = %job.job_id, %code, %message, "Stopping the job.");
                stop.lock().expect("not poisoned").get_or_insert(Stop::TakenBack);
                cancel.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => tracing::warn!(job = %job.job_id, error = %e, "Heartbeat failed; trying again."),
        }
    }
}

async fn report_done(context: &JobContext, job: &ClaimedJob, done: CompleteJob) -> Ended {
    match with_retries(|| context.client.complete(&job.job_id, &done)).await {
        Ok(()) => {
            tracing::info!(job = %job.job_id, asset = %job.asset_id, attempt = job.attempt, "Job completed.");
            Ended::Completed
        }
        Err(CallError::Stop { .. }) => {
            remove_all(Prefixed::new(context.storage.clone(), &job.output_prefix)).await;
            Ended::TakenBack
        }
        Err(CallError::Refused { code, message, .. }) => {
            let failure =
                Failure { code: codes::INCOMPLETE_OUTPUT, message: format!("{code}: {message}"), retryable: true };
            remove_all(Prefixed::new(context.storage.clone(), &job.output_prefix)).await;
            report_failure(context, job, failure).await
        }
        Err(e) => Ended::Unreported(e.to_string()),
    }
}

async fn report_failure(context: &JobContext, job: &ClaimedJob, failure: Failure) -> Ended {
    tracing::warn!(job = %job.job_id, code = failure.code, reason = %failure.message, "Job failed.");
    let failed = FailJob {
        attempt: job.attempt,
        code: failure.code.to_string(),
        message: failure.message,
        retryable: failure.retryable,
    };
    match with_retries(|| context.client.fail(&job.job_id, &failed)).await {
        Ok(ack) => Ended::Failed { code: failed.code, retrying: ack.retrying },
        Err(CallError::Stop { .. }) => Ended::TakenBack,
        Err(e) => Ended::Unreported(e.to_string()),
    }
}

/// Calls `call` until it succeeds or fails for good, waiting 1, 2, 4, … 16 s between transient failures
/// (about a minute in all: past that the lease has likely expired and another worker redoes the job).
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut wait = Duration::from_secs(1);
    loop {
        match call().await {
            Err(e) if e.is_transient() && wait <= Duration::from_secs(16) => {
                tracing::warn!(error = %e, "Retrying in {} s.", wait.as_secs());
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            other => return other,
        }
    }
}

async fn remove_all(folder: Result<Prefixed, marquee_storage::StorageError>) {
    let Ok(folder) = folder else { return };
    match folder.list("").await {
        Ok(keys) => {
            for key in keys {
                if let Err(e) = folder.delete(&key).await {
                    tracing::warn!(%key, error = %e, "Cannot remove an object of an abandoned attempt.");
                }
            }
        }
        Err(e) => tracing::warn!(folder = %folder.prefix(), error = %e, "Cannot list an abandoned attempt's objects."),
    }
}
