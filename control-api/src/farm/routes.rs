//! `/v1/workers…`: the worker protocol (register with an admin credential, then claim, heartbeat, complete,
//! fail, abort and drain with the worker's own token), the admins' view of the farm, and the asset calls that
//! drive it (cancel, re-transcode).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use marquee_farm_protocol::{
    AbortJob, ClaimRequest, ClaimedJob, CompleteJob, FailAck, FailJob, Heartbeat, HeartbeatAck, RegisterWorker,
    RegisteredWorker,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::caller::WorkerCaller;
use crate::assets::model::{is_preset_name, Asset, AssetStatus, PRESET_NAME_RULE};
use crate::assets::routes::owned;
use crate::assets::store as assets;
use crate::auth::{Caller, Role};
use crate::clock::now_ms;
use crate::db::begin_write;
use crate::error::extract::{Json, Path};
use crate::error::{ApiError, ErrorBody};
use crate::jobs::{enqueue_in, NewJob};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workers", post(register).get(list))
        .route("/workers/claim", post(claim))
        .route("/workers/drain", post(drain))
        .route("/workers/jobs/{id}/heartbeat", post(heartbeat))
        .route("/workers/jobs/{id}/complete", post(complete))
        .route("/workers/jobs/{id}/fail", post(fail))
        .route("/workers/jobs/{id}/abort", post(abort))
        .route("/assets/{id}/cancel", post(cancel))
        .route("/assets/{id}/transcode", post(transcode))
}

/// Registers a worker (admins only) and returns its token, shown once.
#[utoipa::path(post, path = "/v1/workers", tag = "farm", security(("bearer" = [])), request_body = RegisterWorker,
    responses((status = 201, body = RegisteredWorker), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<RegisterWorker>,
) -> Result<(StatusCode, Json<RegisteredWorker>), ApiError> {
    caller.require(Role::Admin)?;
    Ok((StatusCode::CREATED, Json(state.farm.register(&request).await?)))
}

/// A running job as the farm's view shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunningJob {
    pub job_id: String,
    pub asset_id: String,
    pub attempt: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<serde_json::Value>,
}

/// A worker as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerView {
    pub id: String,
    pub name: String,
    pub encoders: Vec<String>,
    pub capacity: i64,
    /// Unix milliseconds.
    pub registered_at: i64,
    pub last_seen_at: i64,
    pub draining: bool,
    pub running: Vec<RunningJob>,
}

/// The farm's workers seen in the last day, newest first, with the jobs they hold (admins only).
#[utoipa::path(get, path = "/v1/workers", tag = "farm", security(("bearer" = [])),
    responses((status = 200, body = Vec<WorkerView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<WorkerView>>, ApiError> {
    caller.require(Role::Admin)?;
    let workers = state.farm.queue().workers_seen_since(now_ms() - 24 * 3600 * 1000).await?;
    let rows =
        sqlx::query("SELECT id, asset_id, attempt, lease_owner, progress_json FROM jobs WHERE state = 'running'")
            .fetch_all(state.db.pool())
            .await?;
    let mut views: Vec<WorkerView> = workers
        .into_iter()
        .map(|w| WorkerView {
            encoders: w.encoders.iter().map(|e| e.as_str().to_string()).collect(),
            draining: w.draining_at.is_some(),
            id: w.id,
            name: w.name,
            capacity: w.capacity,
            registered_at: w.registered_at,
            last_seen_at: w.last_seen_at,
            running: Vec::new(),
        })
        .collect();
    for row in rows {
        let owner: Option<String> = row.try_get(3)?;
        if let Some(view) = views.iter_mut().find(|v| Some(&v.id) == owner.as_ref()) {
            let progress: Option<String> = row.try_get(4)?;
            view.running.push(RunningJob {
                job_id: row.try_get(0)?,
                asset_id: row.try_get(1)?,
                attempt: row.try_get(2)?,
                progress: progress.and_then(|p| serde_json::from_str(&p).ok()),
            });
        }
    }
    Ok(Json(views))
}

/// The next job for this worker (by the kinds it names and the encoders it registered), waiting up to
/// `wait_seconds` for one; 204 when none came.
#[utoipa::path(post, path = "/v1/workers/claim", tag = "farm", security(("worker" = [])), request_body = ClaimRequest,
    responses((status = 200, body = ClaimedJob), (status = 204, description = "no job for this worker now"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    WorkerCaller(worker): WorkerCaller,
    Json(request): Json<ClaimRequest>,
) -> Result<Response, ApiError> {
    match state.farm.claim(&worker, &request).await? {
        Some(job) => Ok(Json(job).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// This worker is stopping: it gets no more jobs (it finishes or hands back those it has).
#[utoipa::path(post, path = "/v1/workers/drain", tag = "farm", security(("worker" = [])),
    responses((status = 204, description = "draining"), (status = 401, body = ErrorBody)))]
pub async fn drain(State(state): State<AppState>, WorkerCaller(worker): WorkerCaller) -> Result<StatusCode, ApiError> {
    state.farm.queue().drain_worker(&worker.id, now_ms()).await?;
    tracing::info!(worker = %worker.id, "Worker draining.");
    Ok(StatusCode::NO_CONTENT)
}

/// Extends the claim's lease and reports progress. 409 `lease_lost` or `job_canceled`: stop the job.
#[utoipa::path(post, path = "/v1/workers/jobs/{id}/heartbeat", tag = "farm", security(("worker" = [])),
    params(("id" = String, Path, description = "the job's id")), request_body = Heartbeat,
    responses((status = 200, body = HeartbeatAck), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "lease_lost or job_canceled: stop", body = ErrorBody)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    WorkerCaller(worker): WorkerCaller,
    Path(id): Path<String>,
    Json(beat): Json<Heartbeat>,
) -> Result<Json<HeartbeatAck>, ApiError> {
    Ok(Json(state.farm.heartbeat(&worker, &id, &beat).await?))
}

/// The claim's attempt has published its whole presentation under its `output_prefix`: the asset becomes
/// ready. 409: the claim is no longer current and nothing changed.
#[utoipa::path(post, path = "/v1/workers/jobs/{id}/complete", tag = "farm", security(("worker" = [])),
    params(("id" = String, Path, description = "the job's id")), request_body = CompleteJob,
    responses((status = 204, description = "the asset is ready"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "lease_lost or job_canceled", body = ErrorBody),
        (status = 422, description = "incomplete_output: the manifests are not in storage", body = ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    WorkerCaller(worker): WorkerCaller,
    Path(id): Path<String>,
    Json(done): Json<CompleteJob>,
) -> Result<StatusCode, ApiError> {
    state.farm.complete(&worker, &id, &done).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The claim's attempt failed: retried after a backoff when `retryable` and attempts are left, else the
/// asset is errored with this reason.
#[utoipa::path(post, path = "/v1/workers/jobs/{id}/fail", tag = "farm", security(("worker" = [])),
    params(("id" = String, Path, description = "the job's id")), request_body = FailJob,
    responses((status = 200, body = FailAck), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "lease_lost or job_canceled", body = ErrorBody)))]
pub async fn fail(
    State(state): State<AppState>,
    WorkerCaller(worker): WorkerCaller,
    Path(id): Path<String>,
    Json(failed): Json<FailJob>,
) -> Result<Json<FailAck>, ApiError> {
    Ok(Json(state.farm.fail(&worker, &id, &failed).await?))
}

/// Hands the job back unfinished (the worker is stopping); it is queued again at once.
#[utoipa::path(post, path = "/v1/workers/jobs/{id}/abort", tag = "farm", security(("worker" = [])),
    params(("id" = String, Path, description = "the job's id")), request_body = AbortJob,
    responses((status = 204, description = "handed back"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "lease_lost or job_canceled", body = ErrorBody)))]
pub async fn abort(
    State(state): State<AppState>,
    WorkerCaller(worker): WorkerCaller,
    Path(id): Path<String>,
    Json(request): Json<AbortJob>,
) -> Result<StatusCode, ApiError> {
    state.farm.abort(&worker, &id, request.attempt).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops the asset's transcode (a running job stops within a heartbeat); the asset is errored with code
/// `canceled`. 409 when nothing is queued or running.
#[utoipa::path(post, path = "/v1/assets/{id}/cancel", tag = "assets", security(("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id")),
    responses((status = 200, body = Asset), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "nothing to cancel", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Asset>, ApiError> {
    caller.require(Role::Creator)?;
    let row = owned(&state, &caller, &id).await?;
    if !state.farm.cancel(&id, &format!("user {}", caller.user_id)).await? {
        return Err(ApiError::conflict(
            "nothing_to_cancel",
            format!("the asset is {}: it has no transcode queued or running", row.asset.status.as_str()),
        ));
    }
    Ok(Json(owned(&state, &caller, &id).await?.asset))
}

/// What a re-transcode asks for.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscodeRequest {
    /// The ladder preset (default: the asset's current one).
    pub preset: Option<String>,
}

/// Transcodes a ready or errored asset again (with another preset); its current presentation stays playable
/// until the new one is ready. 409 while a transcode is queued or running.
#[utoipa::path(post, path = "/v1/assets/{id}/transcode", tag = "assets", security(("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id")), request_body = TranscodeRequest,
    responses((status = 202, body = Asset), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "a transcode is queued or running, or the asset has no source", body = ErrorBody)))]
pub async fn transcode(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<TranscodeRequest>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    caller.require(Role::Creator)?;
    let row = owned(&state, &caller, &id).await?;
    let preset = request.preset.unwrap_or_else(|| row.asset.preset.clone());
    if !is_preset_name(&preset) {
        return Err(ApiError::bad_request("invalid_preset", PRESET_NAME_RULE));
    }
    if row.source_key.is_none() && row.asset.input_url.is_none() {
        return Err(ApiError::conflict("no_source", "the asset has no uploaded source to transcode"));
    }
    let now = now_ms();
    let mut tx = begin_write(state.db.pool()).await?;
    let Some(asset) = assets::queue_again(&mut tx, &id, &preset, now).await? else {
        tx.rollback().await?;
        let status = row.asset.status;
        let why = if status == AssetStatus::Deleted { "deleted" } else { status.as_str() };
        return Err(ApiError::conflict(
            "asset_busy",
            format!("the asset is {why}: only a ready or errored asset can be transcoded again"),
        ));
    };
    enqueue_in(&mut tx, &NewJob::transcode(&asset.id, &asset.owner_id, &preset), now).await?;
    tx.commit().await?;
    state.farm.config.wake_claims();
    Ok((StatusCode::ACCEPTED, Json(asset)))
}
