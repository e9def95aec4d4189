//! The upload service: the `uploads` table and the storage multipart upload behind each row. Create an upload,
//! read its offset, append a chunk (optionally checksummed), terminate it, expire the abandoned ones. A tus
//! handler calls these directly and maps [`UploadError`] to its answer with `ApiError::from`.
//!
//! Durability: the offset in the database only moves once the bytes it covers are stored (a whole part, or
//! the tail object). Exclusion: a PATCH first claims the row with one conditional UPDATE that also checks the
//! offset, so two concurrent PATCHes cannot both write; the claim is a lease renewed while the body arrives,
//! so an API instance that dies mid-request does not block the upload for longer than the lease.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use marquee_storage::{MultipartUpload, ObjectKey, ObjectStore, PartPlan, PlanError, StorageError, UploadedPart};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use tracing::{debug, info, warn};

use crate::db::Database;
use crate::error::ApiError;
use crate::metrics::{UploadEvent, UploadMetrics};
use crate::uploads::tus::{self, BodyHasher, Checksum, Metadata, TusError, UploadState};

/// The largest upload accepted unless configured otherwise: 256 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 256 << 30;
/// How long an unfinished upload lives after its creation or its last PATCH: 24 hours.
pub const DEFAULT_EXPIRE_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a PATCH's claim on an upload lasts without being renewed (it is renewed as the body arrives).
pub const DEFAULT_LOCK_LEASE_MS: i64 = 60 * 1000;
/// Where an upload's own objects (its tail) live: `uploads/<id>/…`.
const STAGING_PREFIX: &str = "uploads";

/// How the service behaves; every default is a `DEFAULT_*` const.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSettings {
    /// Creation of a longer upload is refused with 413 (`Tus-Max-Size`).
    pub max_upload_bytes: u64,
    /// An unfinished upload expires this long after it was created or last written to.
    pub expire_after_ms: i64,
    /// A PATCH's claim lapses this long after its last renewal.
    pub lock_lease_ms: i64,
    /// The part size used when the length allows it (see [`PartPlan`]). A PATCH holds at most two parts in
    /// memory: one being stored, the next arriving.
    pub preferred_part_size: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            expire_after_ms: DEFAULT_EXPIRE_AFTER_MS,
            lock_lease_ms: DEFAULT_LOCK_LEASE_MS,
            preferred_part_size: marquee_storage::multipart::DEFAULT_PLAN_PART_SIZE,
        }
    }
}

/// What goes wrong with an upload request.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The request breaks a protocol rule (wrong offset, checksum, size, expired, unknown, locked).
    #[error(transparent)]
    Tus(#[from] TusError),
    /// The request body could not be read (the client went away): what had arrived is kept, unless the PATCH
    /// carried a checksum, which cannot be checked then.
    #[error("the request body could not be read: {0}")]
    Body(String),
    #[error("storage failed: {0}")]
    Storage(#[from] StorageError),
    #[error("database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// A row or stored object is not what the service wrote.
    #[error("upload {id} is inconsistent: {detail}")]
    Inconsistent { id: String, detail: String },
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Tus(tus) => tus.into(),
            UploadError::Body(detail) => {
                ApiError::bad_request("body_unreadable", format!("the request body could not be read: {detail}"))
            }
            UploadError::Storage(e) => ApiError::internal("storage error", e),
            UploadError::Database(e) => ApiError::internal("database error", e),
            e @ UploadError::Inconsistent { .. } => ApiError::internal("upload state error", e),
        }
    }
}

/// A new upload, as a creation request describes it.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The asset this upload becomes (`Marquee-Asset-Id`).
    pub asset_id: String,
    pub owner_id: String,
    /// `Upload-Length`.
    pub length: u64,
    pub metadata: Metadata,
    /// Where the finished object appears, e.g. [`source_key_for`] the asset.
    pub storage_key: ObjectKey,
}

/// An upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub asset_id: String,
    pub owner_id: String,
    pub length: u64,
    /// `Upload-Offset`: bytes durably stored.
    pub offset: u64,
    pub metadata: Metadata,
    pub storage_key: ObjectKey,
    pub part_size: u64,
    /// Unix milliseconds (`Upload-Expires` while unfinished).
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Upload {
    pub fn state(&self) -> UploadState {
        UploadState {
            offset: self.offset,
            length: self.length,
            expires_at: self.expires_at,
            completed: self.completed_at.is_some(),
        }
    }

    pub fn is_complete(&self) -> bool {
        self.completed_at.is_some()
    }
}

/// An unfinished upload past its expiry, as [`UploadService::expired`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredUpload {
    pub id: String,
    /// The asset it was to become.
    pub asset_id: String,
}

/// An upload claimed for its clean-up (terminated, and locked with `token` so nothing else writes to or cleans
/// it meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanUpClaim {
    pub id: String,
    token: String,
}

/// Why an upload is claimed for its clean-up, which decides the state it must be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Termination {
    /// A client terminated it (tus termination): any upload not terminated yet.
    Requested,
    /// It expired unfinished.
    Expired,
    /// Its clean-up was interrupted: it is terminated already.
    Interrupted,
}

/// The default key of an asset's uploaded source: `sources/<asset id>`.
pub fn source_key_for(asset_id: &str) -> Result<ObjectKey, StorageError> {
    ObjectKey::parse("sources")?.join(asset_id)
}

/// A part as recorded in `parts_json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartRecord {
    number: u32,
    size: u64,
    etag: String,
}

/// Everything in a row, including what only the service needs.
#[derive(Debug, Clone)]
struct StoredUpload {
    upload: Upload,
    multipart_upload_id: Option<String>,
    parts: Vec<UploadedPart>,
    tail_key: Option<String>,
    lock_token: Option<String>,
    lock_expires_at: Option<i64>,
    terminated_at: Option<i64>,
}

impl StoredUpload {
    fn multipart(&self) -> Option<MultipartUpload> {
        self.multipart_upload_id
            .as_ref()
            .map(|upload_id| MultipartUpload { key: self.upload.storage_key.clone(), upload_id: upload_id.clone() })
    }

    fn locked(&self, now: i64) -> bool {
        self.lock_token.is_some() && self.lock_expires_at.is_some_and(|until| until > now)
    }
}

const COLUMNS: &str = "id, asset_id, owner_id, length, upload_offset, metadata_json, storage_key, \
    multipart_upload_id, part_size, parts_json, tail_key, lock_token, lock_expires_at, expires_at, completed_at, \
    terminated_at, created_at, updated_at";

/// The time source: the API's one clock type (tests pass a [`crate::clock::TestClock`]'s).
pub use crate::clock::Clock;

/// Uploads over a database and a store. Cheap to clone.
#[derive(Clone)]
pub struct UploadService {
    db: Database,
    storage: Arc<dyn ObjectStore>,
    settings: UploadSettings,
    clock: Clock,
    metrics: UploadMetrics,
}

impl std::fmt::Debug for UploadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadService")
            .field("storage", &self.storage.location())
            .field("settings", &self.settings)
            .finish()
    }
}

impl UploadService {
    pub fn new(db: Database, storage: Arc<dyn ObjectStore>, settings: UploadSettings) -> Self {
        Self { db, storage, settings, clock: Clock::system(), metrics: UploadMetrics::new() }
    }

    /// The same service counting into `metrics` (the API's, served at `/metrics`).
    pub fn with_metrics(mut self, metrics: UploadMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same service reading the time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn settings(&self) -> &UploadSettings {
        &self.settings
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Creates an upload: checks the length against the limit, plans its parts and begins the storage
    /// upload. An empty upload is stored (empty) and complete at once.
    pub async fn create(&self, new: NewUpload) -> Result<Upload, UploadError> {
        tus::check_creation(new.length, self.settings.max_upload_bytes)?;
        let plan = PartPlan::with_preferred_part_size(new.length, self.settings.preferred_part_size).map_err(
            |PlanError::TooLarge { length }| TusError::TooLarge {
                length,
                limit: marquee_storage::multipart::MAX_OBJECT_SIZE,
            },
        )?;
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let (multipart, completed_at) = if new.length == 0 {
            self.storage.put(&new.storage_key, Bytes::new()).await?;
            (None, Some(now))
        } else {
            (Some(self.storage.begin_multipart(&new.storage_key).await?), None)
        };
        let upload = Upload {
            id,
            asset_id: new.asset_id,
            owner_id: new.owner_id,
            length: new.length,
            offset: 0,
            metadata: new.metadata,
            storage_key: new.storage_key,
            part_size: plan.part_size,
            expires_at: now + self.settings.expire_after_ms,
            completed_at,
            created_at: now,
            updated_at: now,
        };
        let inserted = sqlx::query(
            "INSERT INTO uploads (id, asset_id, owner_id, length, upload_offset, metadata_json, storage_key, \
             multipart_upload_id, part_size, parts_json, expires_at, completed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '[]', $10, $11, $12, $12)",
        )
        .bind(&upload.id)
        .bind(&upload.asset_id)
        .bind(&upload.owner_id)
        .bind(to_i64(upload.length))
        .bind(to_i64(upload.offset))
        .bind(upload.metadata.to_json())
        .bind(upload.storage_key.as_str())
        .bind(multipart.as_ref().map(|m| m.upload_id.clone()))
        .bind(to_i64(upload.part_size))
        .bind(upload.expires_at)
        .bind(upload.completed_at)
        .bind(now)
        .execute(self.db.pool())
        .await;
        if let Err(error) = inserted {
            if let Some(multipart) = &multipart {
                if let Err(abort) = self.storage.abort_multipart(multipart).await {
                    warn!(key = %upload.storage_key, error = %abort, "Could not abort the upload of a failed creation.");
                }
            }
            return Err(error.into());
        }
        info!(upload = %upload.id, asset = %upload.asset_id, length = upload.length, "Upload created.");
        self.metrics.count(UploadEvent::Created);
        if upload.is_complete() {
            self.metrics.count(UploadEvent::Completed);
        }
        Ok(upload)
    }

    /// The upload (for HEAD): 404 if unknown or terminated, 410 once expired.
    pub async fn get(&self, id: &str) -> Result<Upload, UploadError> {
        let row = self.load(id).await?.ok_or(TusError::NotFound)?;
        if row.terminated_at.is_some() {
            return Err(TusError::NotFound.into());
        }
        if row.upload.state().expired(self.now()) {
            return Err(TusError::Expired.into());
        }
        Ok(row.upload)
    }

    /// Appends `body` at `offset` (a PATCH, or the data of a creation-with-upload). With a `checksum`, the
    /// whole body is checked first and nothing of it is kept if it does not match (460). Without one, the
    /// bytes stored before the body failed are kept. Returns the upload as it now is; on the last byte the
    /// object is completed at its key.
    pub async fn append<S, E>(
        &self,
        id: &str,
        offset: u64,
        body: S,
        checksum: Option<Checksum>,
    ) -> Result<Upload, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let body = std::pin::pin!(body);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let now = self.now();
        let claimed = sqlx::query(
            "UPDATE uploads SET lock_token = $1, lock_expires_at = $2 WHERE id = $3 AND upload_offset = $4 \
             AND completed_at IS NULL AND terminated_at IS NULL AND expires_at > $5 \
             AND (lock_token IS NULL OR lock_expires_at <= $5)",
        )
        .bind(&token)
        .bind(now + self.settings.lock_lease_ms)
        .bind(id)
        .bind(to_i64(offset))
        .bind(now)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if claimed == 0 {
            return self.refuse_append(id, offset, body).await;
        }
        let row = self.load(id).await?.ok_or(TusError::NotFound)?;
        let mut writer = Writer { service: self, row, token, last_renewal: now };
        match writer.write(body, checksum).await {
            Ok(upload) => Ok(upload),
            Err(error) => {
                writer.release().await;
                Err(error)
            }
        }
    }

    /// Why a PATCH could not claim the upload.
    async fn refuse_append<S, E>(
        &self,
        id: &str,
        offset: u64,
        mut body: std::pin::Pin<&mut S>,
    ) -> Result<Upload, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let now = self.now();
        let row = self.load(id).await?.ok_or(TusError::NotFound)?;
        if row.terminated_at.is_some() {
            return Err(TusError::NotFound.into());
        }
        tus::check_patch(&row.upload.state(), offset, None, now)?;
        if row.upload.is_complete() {
            // At the end of a complete upload: fine if nothing is sent (a client confirming), 413 otherwise.
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
                tus::check_data_end(row.upload.length, offset, chunk.len() as u64)?;
            }
            return Ok(row.upload);
        }
        if row.locked(now) {
            return Err(TusError::Locked.into());
        }
        // The row changed between the claim and the look (another PATCH finished): the client asks again.
        Err(TusError::Locked.into())
    }

    /// Terminates an upload (tus termination): its stored parts and tail are removed and it is forgotten.
    /// A complete upload's object stays where it is (it is the asset's source now). 423 while a PATCH writes.
    pub async fn terminate(&self, id: &str) -> Result<(), UploadError> {
        let now = self.now();
        let claim = self.claim_for_clean_up(self.db.pool(), id, now, Termination::Requested).await?;
        let Some(claim) = claim else {
            let row = self.load(id).await?.ok_or(TusError::NotFound)?;
            if row.terminated_at.is_some() {
                return Err(TusError::NotFound.into());
            }
            return Err(TusError::Locked.into());
        };
        self.metrics.count(UploadEvent::Terminated);
        self.clean_up_claimed(&claim).await?;
        info!(upload = %id, "Upload terminated.");
        Ok(())
    }

    /// Removes every unfinished upload that expired at `now`, with its stored parts and tail, and finishes the
    /// clean-up of terminations that were interrupted. Returns how many uploads were removed. Uploads a PATCH
    /// is writing to are left for the next round. The uploads only: [`crate::uploads::expiry`] also fails
    /// their assets, in the claim's transaction.
    pub async fn expire(&self, now: i64) -> Result<usize, UploadError> {
        let mut removed = 0;
        for expired in self.expired(now, i64::MAX).await? {
            let Some(claim) = self.claim_expired(self.db.pool(), &expired.id, now).await? else { continue };
            self.clean_up_claimed(&claim).await?;
            debug!(upload = %expired.id, "Expired upload removed.");
            removed += 1;
        }
        removed += self.clean_up_interrupted(now, i64::MAX).await?;
        if removed > 0 {
            info!(removed, "Expired uploads removed.");
        }
        Ok(removed)
    }

    /// Unfinished uploads that expired by `now` and are not terminated yet, soonest expiry first, at most
    /// `limit`. Candidates only: [`claim_expired`](Self::claim_expired) decides.
    pub async fn expired(&self, now: i64, limit: i64) -> Result<Vec<ExpiredUpload>, UploadError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, asset_id FROM uploads WHERE completed_at IS NULL AND expires_at <= $1 \
             AND terminated_at IS NULL ORDER BY expires_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, asset_id)| ExpiredUpload { id, asset_id }).collect())
    }

    /// Claims the expired upload `id` on `connection` (a transaction of the caller's, so that what else expiry
    /// changes commits with the claim, or the pool): marks it terminated and takes its lock for the clean-up,
    /// in one conditional UPDATE, so that of several API instances only one claims it. An upload a PATCH is
    /// writing to is not claimed (it is left for the next round, and the PATCH extends its expiry). `None`
    /// when the upload is not, or no longer, expired and free.
    pub async fn claim_expired<'c, C>(
        &self,
        connection: C,
        id: &str,
        now: i64,
    ) -> Result<Option<CleanUpClaim>, UploadError>
    where
        C: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        let claim = self.claim_for_clean_up(connection, id, now, Termination::Expired).await?;
        if claim.is_some() {
            self.metrics.count(UploadEvent::Expired);
        }
        Ok(claim)
    }

    /// Finishes the clean-up of up to `limit` terminated uploads whose clean-up was interrupted (an API
    /// instance died, or storage failed, in the middle): each is claimed again once its clean-up lock has
    /// lapsed. Returns how many were removed.
    pub async fn clean_up_interrupted(&self, now: i64, limit: i64) -> Result<usize, UploadError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM uploads WHERE terminated_at IS NOT NULL \
             AND (lock_token IS NULL OR lock_expires_at <= $1) ORDER BY terminated_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        let mut removed = 0;
        for id in ids {
            let Some(claim) = self.claim_for_clean_up(self.db.pool(), &id, now, Termination::Interrupted).await? else {
                continue;
            };
            self.clean_up_claimed(&claim).await?;
            debug!(upload = %id, "Interrupted clean-up finished.");
            removed += 1;
        }
        Ok(removed)
    }

    /// The one conditional UPDATE that claims an upload for its clean-up: sets `terminated_at` (kept if set)
    /// and takes the lock for one lease, if the upload is in the state `why` needs and no PATCH (nor another
    /// clean-up) holds it.
    async fn claim_for_clean_up<'c, C>(
        &self,
        connection: C,
        id: &str,
        now: i64,
        why: Termination,
    ) -> Result<Option<CleanUpClaim>, UploadError>
    where
        C: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        let condition = match why {
            Termination::Requested => "terminated_at IS NULL",
            Termination::Expired => "completed_at IS NULL AND expires_at <= $1 AND terminated_at IS NULL",
            Termination::Interrupted => "terminated_at IS NOT NULL",
        };
        let token = uuid::Uuid::new_v4().simple().to_string();
        let claimed = sqlx::query(&format!(
            "UPDATE uploads SET terminated_at = COALESCE(terminated_at, $1), lock_token = $2, lock_expires_at = $3, \
             updated_at = $1 WHERE id = $4 AND {condition} AND (lock_token IS NULL OR lock_expires_at <= $1)"
        ))
        .bind(now)
        .bind(&token)
        .bind(now + self.settings.lock_lease_ms)
        .bind(id)
        .execute(connection)
        .await?
        .rows_affected();
        Ok((claimed == 1).then(|| CleanUpClaim { id: id.to_owned(), token }))
    }

    /// Removes what storage holds for a claimed, terminated upload (the multipart upload unless it was complete,
    /// the tails), then its row, if the claim is still this one's. Safe to run again after a failure: aborting
    /// and deleting are idempotent, and a lapsed claim is taken again by [`clean_up_interrupted`].
    ///
    /// [`clean_up_interrupted`]: Self::clean_up_interrupted
    pub async fn clean_up_claimed(&self, claim: &CleanUpClaim) -> Result<(), UploadError> {
        let Some(row) = self.load(&claim.id).await? else { return Ok(()) };
        if row.lock_token.as_deref() != Some(claim.token.as_str()) {
            warn!(upload = %claim.id, "Another clean-up took over this upload; leaving it to that one.");
            return Ok(());
        }
        if row.upload.completed_at.is_none() {
            if let Some(multipart) = row.multipart() {
                self.storage.abort_multipart(&multipart).await?;
            }
        }
        self.delete_staging(&row.upload.id).await?;
        sqlx::query("DELETE FROM uploads WHERE id = $1 AND lock_token = $2")
            .bind(&claim.id)
            .bind(&claim.token)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes every object under the upload's staging prefix (its tails, current and left over).
    async fn delete_staging(&self, id: &str) -> Result<(), StorageError> {
        for key in self.storage.list(&format!("{STAGING_PREFIX}/{id}/")).await? {
            self.storage.delete(&key).await?;
        }
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<StoredUpload>, UploadError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|row| from_row(&row)).transpose()
    }
}

/// One claimed PATCH: the row as claimed, the claim's token, and when the claim was last renewed.
struct Writer<'a> {
    service: &'a UploadService,
    row: StoredUpload,
    token: String,
    last_renewal: i64,
}

impl Writer<'_> {
    async fn write<S, E>(
        &mut self,
        mut body: std::pin::Pin<&mut S>,
        checksum: Option<Checksum>,
    ) -> Result<Upload, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let storage = self.service.storage.clone();
        let id = self.row.upload.id.clone();
        let inconsistent = |detail: String| UploadError::Inconsistent { id: id.clone(), detail };
        let multipart = self
            .row
            .multipart()
            .ok_or_else(|| inconsistent("an unfinished upload without a multipart upload".into()))?;
        let part_size = usize::try_from(self.row.upload.part_size).map_err(|_| inconsistent("part size".into()))?;
        let (length, start) = (self.row.upload.length, self.row.upload.offset);
        let mut parts = self.row.parts.clone();
        let stored: u64 = parts.iter().map(|part| part.size).sum();

        // The bytes after the last whole part, from the tail object: less than one part.
        let mut pending = BytesMut::with_capacity(part_size);
        let mut old_tail = self.row.tail_key.clone();
        if let Some(tail) = &old_tail {
            let bytes = storage.get(&parse_key(tail, &id)?).await?;
            pending.extend_from_slice(&bytes);
        }
        if stored + pending.len() as u64 != start {
            return Err(inconsistent(format!(
                "{stored} bytes in parts and {} in the tail at offset {start}",
                pending.len()
            )));
        }

        let mut hasher = checksum.as_ref().map(|c| BodyHasher::new(c.algorithm));
        // Parts of a checksummed body wait for the checksum before they count.
        let mut unconfirmed: Vec<UploadedPart> = Vec::new();
        let mut received: u64 = 0;
        let mut failure: Option<UploadError> = None;
        // The part being stored while the next one arrives. One at a time, so parts are stored in order and a
        // PATCH holds at most two parts in memory; storing overlaps receiving instead of pausing it (a local
        // store's fsync per part, an S3 PUT per part).
        let mut storing: Option<PartTask> = None;
        // A failure of storage or of the claim: nothing more is stored or recorded.
        let mut error: Option<UploadError> = None;
        let confirm_later = checksum.is_some();
        'body: while let Some(chunk) = body.next().await {
            let mut chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    failure = Some(UploadError::Body(e.to_string()));
                    break;
                }
            };
            if let Err(e) = tus::check_data_end(length, start, received + chunk.len() as u64) {
                failure = Some(e.into());
                break;
            }
            if let Some(hasher) = &mut hasher {
                hasher.update(&chunk);
            }
            received += chunk.len() as u64;
            while !chunk.is_empty() {
                let take = chunk.len().min(part_size - pending.len());
                pending.extend_from_slice(&chunk.split_to(take));
                if pending.len() < part_size {
                    continue;
                }
                if let Some(task) = storing.take() {
                    let stored = joined(task, &id).await;
                    if let Err(e) =
                        self.settle(stored, confirm_later, &mut parts, &mut unconfirmed, &mut old_tail).await
                    {
                        error = Some(e);
                        break 'body;
                    }
                }
                let full = std::mem::replace(&mut pending, BytesMut::with_capacity(part_size)).freeze();
                let Ok(number) = u32::try_from(parts.len() + unconfirmed.len() + 1) else {
                    error = Some(inconsistent("part count".into()));
                    break 'body;
                };
                let (storage, multipart) = (storage.clone(), multipart.clone());
                storing = Some(tokio::spawn(async move { storage.put_part(&multipart, number, full).await }));
            }
            // A part stored while this chunk arrived is recorded now, so the offset keeps up.
            if let Some(task) = storing.take_if(|task| task.is_finished()) {
                let stored = joined(task, &id).await;
                if let Err(e) = self.settle(stored, confirm_later, &mut parts, &mut unconfirmed, &mut old_tail).await {
                    error = Some(e);
                    break;
                }
            }
            if let Err(e) = self.renew_if_due().await {
                error = Some(e);
                break;
            }
        }
        // The part in flight ends before anything else happens: the claim is not given up while it writes.
        if let Some(task) = storing.take() {
            let stored = joined(task, &id).await;
            if error.is_none() {
                error = self.settle(stored, confirm_later, &mut parts, &mut unconfirmed, &mut old_tail).await.err();
            }
        }
        if let Some(error) = error {
            return Err(error);
        }

        if let (Some(checksum), Some(hasher)) = (&checksum, hasher) {
            if let Some(failure) = failure {
                return Err(failure);
            }
            checksum.verify(hasher)?;
            parts.append(&mut unconfirmed);
        }
        let stored: u64 = parts.iter().map(|part| part.size).sum();
        let offset = stored + pending.len() as u64;
        if offset == self.row.upload.offset && offset != length {
            // Nothing new to record (an empty body, or one that failed before its first byte).
            self.release().await;
            return match failure {
                Some(failure) => Err(failure),
                None => Ok(self.row.upload.clone()),
            };
        }
        let upload = if offset == length {
            self.finish_object(&multipart, &mut parts, pending.freeze()).await?;
            let upload = self.commit(offset, &parts, None, true).await?;
            // Whatever is left beside the upload (its last tail) goes.
            if let Err(error) = self.service.delete_staging(&id).await {
                warn!(upload = %id, %error, "Could not remove a completed upload's tail.");
            }
            info!(upload = %id, asset = %upload.asset_id, bytes = length, "Upload complete.");
            upload
        } else {
            let tail = if pending.is_empty() {
                None
            } else {
                let key = ObjectKey::parse(&format!("{STAGING_PREFIX}/{id}/tail-{offset}-{}", &self.token[..12]))
                    .map_err(|e| inconsistent(e.to_string()))?;
                storage.put(&key, pending.freeze()).await?;
                Some(key.to_string())
            };
            match self.commit(offset, &parts, tail.as_deref(), true).await {
                Ok(upload) => {
                    if let Some(old) = old_tail.filter(|old| Some(old) != tail.as_ref()) {
                        self.delete_tail(&old).await;
                    }
                    upload
                }
                Err(error) => {
                    if let Some(tail) = tail {
                        self.delete_tail(&tail).await;
                    }
                    return Err(error);
                }
            }
        };
        match failure {
            Some(failure) => Err(failure),
            None => Ok(upload),
        }
    }

    /// Takes in a part that was stored: a checksummed body's parts wait for the checksum (`confirm_later`),
    /// any other part is recorded at once (and the tail it absorbed is deleted).
    async fn settle(
        &mut self,
        stored: Result<UploadedPart, UploadError>,
        confirm_later: bool,
        parts: &mut Vec<UploadedPart>,
        unconfirmed: &mut Vec<UploadedPart>,
        old_tail: &mut Option<String>,
    ) -> Result<(), UploadError> {
        let part = stored?;
        if confirm_later {
            unconfirmed.push(part);
            return Ok(());
        }
        parts.push(part);
        let offset: u64 = parts.iter().map(|part| part.size).sum();
        // The tail is inside this part now.
        self.commit(offset, parts, None, false).await?;
        if let Some(tail) = old_tail.take() {
            self.delete_tail(&tail).await;
        }
        Ok(())
    }

    /// Stores the last part (`last`, unless empty) and completes the object at its key. If an earlier attempt
    /// completed it but died before recording that, the upload is gone from storage and the object is there
    /// whole: that is success too.
    async fn finish_object(
        &self,
        multipart: &MultipartUpload,
        parts: &mut Vec<UploadedPart>,
        last: Bytes,
    ) -> Result<(), UploadError> {
        let storage = &self.service.storage;
        let mut finished = async {
            if !last.is_empty() {
                let number = u32::try_from(parts.len() + 1).unwrap_or(u32::MAX);
                parts.push(storage.put_part(multipart, number, last).await?);
            }
            storage.complete_multipart(multipart, parts).await
        }
        .await;
        if let Err(StorageError::NotFound { .. }) = &finished {
            if storage.head(&multipart.key).await.is_ok_and(|meta| meta.size == self.row.upload.length) {
                warn!(upload = %self.row.upload.id, "The upload was completed in storage by an earlier request; recording it.");
                finished = Ok(());
            }
        }
        Ok(finished?)
    }

    /// Records the stored bytes. `finish` also ends the claim (and completes the upload at its length); a
    /// commit in the middle of a body renews the claim instead. Fails if the claim was lost.
    async fn commit(
        &mut self,
        offset: u64,
        parts: &[UploadedPart],
        tail: Option<&str>,
        finish: bool,
    ) -> Result<Upload, UploadError> {
        let now = self.service.now();
        let complete = finish && offset == self.row.upload.length;
        let parts_json = serde_json::to_string(
            &parts
                .iter()
                .map(|p| PartRecord { number: p.number, size: p.size, etag: p.etag.clone() })
                .collect::<Vec<_>>(),
        )
        .expect("parts serialise");
        let expires_at = self.row.upload.expires_at.max(now + self.service.settings.expire_after_ms);
        let (lock_token, lock_expires_at) = if finish {
            (None, None)
        } else {
            (Some(self.token.clone()), Some(now + self.service.settings.lock_lease_ms))
        };
        let updated = sqlx::query(
            "UPDATE uploads SET upload_offset = $1, parts_json = $2, tail_key = $3, lock_token = $4, \
             lock_expires_at = $5, expires_at = $6, completed_at = $7, updated_at = $8 WHERE id = $9 AND lock_token = $10",
        )
        .bind(to_i64(offset))
        .bind(parts_json)
        .bind(tail.map(str::to_owned))
        .bind(lock_token)
        .bind(lock_expires_at)
        .bind(expires_at)
        .bind(complete.then_some(now))
        .bind(now)
        .bind(&self.row.upload.id)
        .bind(&self.token)
        .execute(self.service.db.pool())
        .await?
        .rows_affected();
        if updated != 1 {
            warn!(upload = %self.row.upload.id, "A PATCH lost its claim on the upload before it could record its bytes.");
            return Err(TusError::Locked.into());
        }
        self.last_renewal = now;
        self.service.metrics.stored(offset.saturating_sub(self.row.upload.offset));
        if complete {
            self.service.metrics.count(UploadEvent::Completed);
        }
        let upload = &mut self.row.upload;
        upload.offset = offset;
        upload.expires_at = expires_at;
        upload.updated_at = now;
        if complete {
            upload.completed_at = Some(now);
        }
        self.row.parts = parts.to_vec();
        self.row.tail_key = tail.map(str::to_owned);
        Ok(upload.clone())
    }

    /// Extends the claim once a third of the lease has passed, so a long body keeps it.
    async fn renew_if_due(&mut self) -> Result<(), UploadError> {
        let now = self.service.now();
        let lease = self.service.settings.lock_lease_ms;
        if now - self.last_renewal < lease / 3 {
            return Ok(());
        }
        let renewed = sqlx::query("UPDATE uploads SET lock_expires_at = $1 WHERE id = $2 AND lock_token = $3")
            .bind(now + lease)
            .bind(&self.row.upload.id)
            .bind(&self.token)
            .execute(self.service.db.pool())
            .await?
            .rows_affected();
        if renewed != 1 {
            return Err(TusError::Locked.into());
        }
        self.last_renewal = now;
        Ok(())
    }

    /// Ends the claim without recording anything (best effort: an unreleased claim lapses with its lease).
    async fn release(&self) {
        let released = sqlx::query(
            "UPDATE uploads SET lock_token = NULL, lock_expires_at = NULL WHERE id = $1 AND lock_token = $2",
        )
        .bind(&self.row.upload.id)
        .bind(&self.token)
        .execute(self.service.db.pool())
        .await;
        if let Err(error) = released {
            warn!(upload = %self.row.upload.id, %error, "Could not release a PATCH's claim; it lapses with its lease.");
        }
    }

    /// Deletes a tail the row no longer names (best effort: expiry and completion sweep the prefix).
    async fn delete_tail(&self, tail: &str) {
        let Ok(key) = ObjectKey::parse(tail) else { return };
        if let Err(error) = self.service.storage.delete(&key).await {
            warn!(upload = %self.row.upload.id, %error, "Could not delete an old tail object.");
        }
    }
}

/// A part being stored by a task of its own.
type PartTask = tokio::task::JoinHandle<Result<UploadedPart, StorageError>>;

/// The stored part, once its task is done.
async fn joined(task: PartTask, id: &str) -> Result<UploadedPart, UploadError> {
    match task.await {
        Ok(stored) => Ok(stored?),
        Err(e) => Err(UploadError::Inconsistent { id: id.to_owned(), detail: format!("storing a part failed: {e}") }),
    }
}

fn parse_key(key: &str, id: &str) -> Result<ObjectKey, UploadError> {
    ObjectKey::parse(key).map_err(|e| UploadError::Inconsistent { id: id.to_owned(), detail: e.to_string() })
}

/// Lengths and offsets are stored as BIGINT; anything accepted is far below `i64::MAX` (5 TiB at most).
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_row(row: &AnyRow) -> Result<StoredUpload, UploadError> {
    let id: String = row.try_get("id")?;
    let inconsistent = |detail: &str| UploadError::Inconsistent { id: id.clone(), detail: detail.to_owned() };
    let count = |name: &str| -> Result<u64, UploadError> {
        let value: i64 = row.try_get(name)?;
        u64::try_from(value).map_err(|_| inconsistent(name))
    };
    let metadata_json: String = row.try_get("metadata_json")?;
    let metadata = Metadata::from_json(&metadata_json).ok_or_else(|| inconsistent("metadata_json"))?;
    let storage_key: String = row.try_get("storage_key")?;
    let storage_key = ObjectKey::parse(&storage_key).map_err(|_| inconsistent("storage_key"))?;
    let parts_json: String = row.try_get("parts_json")?;
    let parts: Vec<PartRecord> = serde_json::from_str(&parts_json).map_err(|_| inconsistent("parts_json"))?;
    let upload = Upload {
        id: id.clone(),
        asset_id: row.try_get("asset_id")?,
        owner_id: row.try_get("owner_id")?,
        length: count("length")?,
        offset: count("upload_offset")?,
        metadata,
        storage_key,
        part_size: count("part_size")?,
        expires_at: row.try_get("expires_at")?,
        completed_at: row.try_get("completed_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    };
    Ok(StoredUpload {
        upload,
        multipart_upload_id: row.try_get("multipart_upload_id")?,
        parts: parts.into_iter().map(|p| UploadedPart { number: p.number, size: p.size, etag: p.etag }).collect(),
        tail_key: row.try_get("tail_key")?,
        lock_token: row.try_get("lock_token")?,
        lock_expires_at: row.try_get("lock_expires_at")?,
        terminated_at: row.try_get("terminated_at")?,
    })
}
