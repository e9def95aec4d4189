//! `marquee worker`: a transcode worker of the farm. It registers with the control API (with an admin's API
//! key), then pulls jobs over HTTP with its own token, up to its capacity at once, each one run by [`job`]:
//! the source is read from storage, the ladder written to the attempt's own folder in the same storage, and
//! the outcome reported. It needs no database access, so any number of workers may run on any machines
//! that reach the API and the storage.
//!
//! Stopping: the first signal drains (no more claims; running jobs finish, up to the drain time, then are
//! handed back); a second signal hands them back at once. A worker that dies outright loses nothing: its
//! leases expire and other workers redo its jobs, each attempt in a folder of its own.
//!
//! - [`plan`]: pure decisions (encoders, progress, failure codes, renditions).
//! - [`client`]: the protocol over HTTP; [`job`]: one job.

pub mod client;
pub mod job;
pub mod plan;
pub mod settings;

pub use settings::WorkerSettings;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use marquee_farm_protocol::{ClaimRequest, RegisterWorker};
use marquee_storage::ObjectStore;
use marquee_transcoder::encoder::GstRegistry;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::client::{ApiClient, CallError};
use crate::job::{Ended, JobContext};

/// How long a claim waits on the API for a job before asking again.
pub const CLAIM_WAIT_SECONDS: u32 = 20;

/// What a worker is told at start.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub api: String,
    /// An admin's API key, to register with.
    pub api_key: String,
    pub storage: Arc<dyn ObjectStore>,
    pub name: String,
    pub capacity: i64,
    /// Where sources are copied while they are transcoded.
    pub scratch_dir: PathBuf,
    /// How long running jobs may take to finish after the first stop signal before they are handed back.
    pub drain_timeout: Duration,
    pub stall_timeout: Duration,
    /// The largest source fetched from an `input_url`.
    pub max_source_bytes: u64,
    /// Whether `input_url`s may reach loopback and private networks.
    pub allow_private_urls: bool,
}

/// Runs the worker until it has drained after a signal from `signals` (the first drains, the second hands
/// back at once). Returns the outcomes of the jobs it ran.
pub async fn run(options: WorkerOptions, mut signals: mpsc::UnboundedReceiver<()>) -> anyhow::Result<Vec<Ended>> {
    marquee_transcoder::init().context("GStreamer does not start")?;
    let encoders = plan::available_encoders(&GstRegistry);
    if encoders.is_empty() {
        bail!("this machine has no H.264 encoder in GStreamer: install gstreamer1.0-plugins-ugly (x264enc)");
    }
    let registration = RegisterWorker {
        name: options.name.clone(),
        encoders: encoders.iter().map(|e| (*e).to_string()).collect(),
        capacity: options.capacity,
    };
    let (client, registered) = match ApiClient::register(&options.api, &options.api_key, &registration).await {
        Ok(done) => done,
        Err(CallError::Refused { status: 401 | 403, message, .. }) => {
            bail!("the API refused to register this worker: {message} (pass an admin's API key with --api-key or MARQUEE_API_KEY)")
        }
        Err(e) => bail!("cannot register with the API at {}: {e}", options.api),
    };
    println!(
        "Worker {} registered as {} (encoders {}, {} job(s) at once); claiming jobs from {}",
        options.name,
        registered.worker_id,
        encoders.join(", "),
        options.capacity,
        options.api
    );
    let context = Arc::new(JobContext {
        client: client.clone(),
        storage: options.storage.clone(),
        scratch_dir: options.scratch_dir.clone(),
        heartbeat_interval: Duration::from_secs_f64(registered.heartbeat_seconds.max(0.1)),
        encoders,
        stall_timeout: options.stall_timeout,
        max_source_bytes: options.max_source_bytes,
        allow_private_urls: options.allow_private_urls,
    });
    let slots = Arc::new(Semaphore::new(usize::try_from(options.capacity.max(1)).unwrap_or(1)));
    let (hand_back, handing_back) = watch::channel(false);
    let mut jobs = JoinSet::new();
    let mut ended = Vec::new();
    let mut unreachable_since: Option<std::time::Instant> = None;
    let claim = ClaimRequest { wait_seconds: CLAIM_WAIT_SECONDS, ..ClaimRequest::default() };
    'claiming: loop {
        let permit = tokio::select! {
            _ = signals.recv() => break 'claiming,
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                ended.extend(done.ok());
                continue;
            }
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let claimed = tokio::select! {
            _ = signals.recv() => break 'claiming,
            claimed = client.claim(&claim) => claimed,
        };
        match claimed {
            Ok(Some(job)) => {
                unreachable_since = None;
                tracing::info!(job = %job.job_id, asset = %job.asset_id, attempt = job.attempt, "Claimed a job.");
                let (context, handing_back) = (context.clone(), handing_back.clone());
                jobs.spawn(async move {
                    let ended = job::run(context, job, handing_back).await;
                    drop(permit);
                    ended
                });
            }
            Ok(None) => unreachable_since = None,
            Err(e) if e.is_transient() => {
                let since = *unreachable_since.get_or_insert_with(std::time::Instant::now);
                tracing::warn!(error = %e, down_for = ?since.elapsed(), "Cannot claim; trying again in 1 s.");
                tokio::select! {
                    _ = signals.recv() => break 'claiming,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            Err(e) => bail!("the API refuses this worker's claims: {e}"),
        }
    }
    eprintln!("Draining: no more claims; finishing {} running job(s)…", jobs.len());
    if let Err(e) = client.drain().await {
        tracing::warn!(error = %e, "Cannot tell the API this worker is draining.");
    }
    let drained = async {
        while let Some(done) = jobs.join_next().await {
            ended.extend(done.ok());
        }
    };
    let mut handed_back = false;
    tokio::select! {
        () = drained => {}
        _ = signals.recv() => handed_back = true,
        () = tokio::time::sleep(options.drain_timeout) => handed_back = true,
    }
    if handed_back {
        eprintln!("Handing back {} unfinished job(s)…", jobs.len());
        let _ = hand_back.send(true);
        while let Some(done) = jobs.join_next().await {
            ended.extend(done.ok());
        }
    }
    eprintln!("Stopped: every job finished or handed back.");
    Ok(ended)
}
