//! The expiry of abandoned uploads: a background task (one per API instance, started with the server and
//! stopped with it) that removes unfinished uploads past their `expires_at` and leaves their assets `errored`
//! with the code [`UPLOAD_EXPIRED`].
//!
//! Each step ([`UploadExpiry::run_once`]) works at a given time, so tests drive it step by step. Per expired
//! upload, one transaction claims the upload (a conditional UPDATE that marks it terminated and locks it, so of
//! several API instances on one PostgreSQL database only one acts) and moves its asset from `waiting_upload` to
//! `errored` with its `asset.errored` event; after the commit, the storage multipart upload is aborted, the
//! tail objects deleted and the row removed. A clean-up that is interrupted (a crash, a storage failure) is
//! finished by a later step, once its lock has lapsed.

use std::future::Future;
use std::time::Duration;

use tracing::{info, warn};

use super::service::{UploadError, UploadService};
use crate::assets::model::{AssetError, AssetStatus};
use crate::assets::store as assets;
use crate::clock::now_ms;
use crate::db::{begin_write, Database};

/// How often the task looks for expired uploads.
pub const DEFAULT_EXPIRY_INTERVAL: Duration = Duration::from_secs(60);
/// Uploads expired per step, at most; a full batch is followed by the next step at once.
pub const BATCH_SIZE: i64 = 100;
/// The error code of an asset whose upload expired unfinished.
pub const UPLOAD_EXPIRED: &str = "upload_expired";

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Expired uploads this step claimed and removed.
    pub expired: usize,
    /// Their assets that went from `waiting_upload` to `errored` (an asset deleted meanwhile does not).
    pub assets_errored: usize,
    /// Terminated uploads whose interrupted clean-up this step finished.
    pub cleaned_up: usize,
}

/// Expires the abandoned uploads of one API instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UploadExpiry {
    db: Database,
    uploads: UploadService,
    interval: Duration,
}

impl UploadExpiry {
    pub fn new(db: Database, uploads: UploadService, interval: Duration) -> Self {
        Self { db, uploads, interval }
    }

    /// Runs steps until `stop` completes, pausing the interval whenever a step found less than a full batch.
    /// A step in progress when `stop` comes is finished first.
    pub fn spawn(self, stop: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                let pause = match self.run_once(now_ms()).await {
                    Ok(report) if report.expired + report.cleaned_up >= BATCH_SIZE as usize => Duration::ZERO,
                    Ok(_) => self.interval,
                    Err(error) => {
                        warn!(%error, "Upload expiry step failed.");
                        self.interval
                    }
                };
                tokio::select! {
                    biased;
                    () = &mut stop => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// One step at time `now` (Unix milliseconds): expire up to [`BATCH_SIZE`] uploads whose `expires_at` is at
    /// or before `now`, then finish up to [`BATCH_SIZE`] interrupted clean-ups.
    pub async fn run_once(&self, now: i64) -> Result<ExpiryReport, UploadError> {
        let mut report = ExpiryReport::default();
        let error = AssetError {
            code: UPLOAD_EXPIRED.to_owned(),
            message: "the upload was not finished before it expired; upload the file again".to_owned(),
        };
        for expired in self.uploads.expired(now, BATCH_SIZE).await? {
            let mut tx = begin_write(self.db.pool()).await?;
            let Some(claim) = self.uploads.claim_expired(&mut *tx, &expired.id, now).await? else {
                // Another instance claimed it, a PATCH is writing to it, or it was finished meanwhile.
                tx.rollback().await?;
                continue;
            };
            let errored = assets::fail(&mut tx, &expired.asset_id, &[AssetStatus::WaitingUpload], &error, now).await?;
            tx.commit().await?;
            report.assets_errored += usize::from(errored.is_some());
            // Committed: the upload is terminated and locked by this claim, the asset errored. If the clean-up
            // fails now, a later step finishes it once the lock lapses.
            self.uploads.clean_up_claimed(&claim).await?;
            info!(upload = %expired.id, asset = %expired.asset_id, "Upload expired unfinished; its asset errored.");
            report.expired += 1;
        }
        report.cleaned_up = self.uploads.clean_up_interrupted(now, BATCH_SIZE).await?;
        Ok(report)
    }
}
