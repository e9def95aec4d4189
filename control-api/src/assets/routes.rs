//! `/v1/assets`: create from a URL ([`super::from_url`]), list (cursor pagination, status filter), read, delete. Creators see and change their own
//! assets, admins everyone's; another user's asset answers 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{keys, Asset, AssetStatus};
use super::store::{self, AssetRow};
use crate::auth::{now_ms, Caller, Role};
use crate::db::begin_write;
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Assets listed per page at most.
pub const MAX_PAGE: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets", get(list).post(super::from_url::create))
        .route("/assets/{id}", get(read).delete(delete))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AssetQuery {
    /// Only assets in this status (default: all but deleted ones).
    #[param(value_type = Option<AssetStatus>)]
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many at most (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// One page of assets.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetPage {
    pub items: Vec<Asset>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The caller's assets (everyone's for admins), oldest first.
#[utoipa::path(get, path = "/v1/assets", tag = "assets", security(("bearer" = [])), params(AssetQuery),
    responses((status = 200, body = AssetPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AssetQuery>,
) -> Result<Json<AssetPage>, ApiError> {
    caller.require(Role::Creator)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(AssetStatus::parse(text).ok_or_else(|| {
            let names: Vec<&str> = AssetStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request("invalid_query", format!("status must be one of {}", names.join(", ")))
        })?),
    };
    let owner = (!caller.is_admin()).then_some(caller.user_id.as_str());
    let mut items = store::list(&state.db, owner, status, query.after.as_deref(), limit).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|a| a.id.clone())).flatten();
    for asset in &mut items {
        with_poster_url(&state, asset);
    }
    Ok(Json(AssetPage { items, next_cursor }))
}

/// The asset `id` if the caller may manage it; another user's asset is not shown to exist.
pub async fn owned(state: &AppState, caller: &Caller, id: &str) -> Result<AssetRow, ApiError> {
    match store::get(&state.db, id).await? {
        Some(row) if caller.may_manage(&row.asset.owner_id) => Ok(row),
        _ => Err(ApiError::not_found("asset")),
    }
}

/// Gives the asset's poster the URL browsers fetch it with, when the API signs playback URLs.
pub fn with_poster_url(state: &AppState, asset: &mut Asset) {
    if let (Some(playback), Some(poster)) = (&state.playback, &mut asset.poster) {
        let now = u64::try_from(now_ms() / 1000).unwrap_or_default();
        poster.url = playback.image_url(&poster.path, now);
    }
}

/// One asset: status, progress, source facts, renditions, error, poster.
#[utoipa::path(get, path = "/v1/assets/{id}", tag = "assets", security(("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id")),
    responses((status = 200, body = Asset), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Asset>, ApiError> {
    caller.require(Role::Creator)?;
    let mut asset = owned(&state, &caller, &id).await?.asset;
    with_poster_url(&state, &mut asset);
    Ok(Json(asset))
}

/// Deletes an asset and every object stored for it (source, presentations). Deleting twice is fine.
#[utoipa::path(delete, path = "/v1/assets/{id}", tag = "assets", security(("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Creator)?;
    let row = owned(&state, &caller, &id).await?;
    let now = now_ms();
    let mut tx = begin_write(state.db.pool()).await?;
    store::mark_deleted(&mut tx, &id, now).await?;
    // A queued job is dropped and a running one stops at its worker's next heartbeat.
    crate::farm::service::Farm::cancel_jobs_in(&mut tx, &id, now).await?;
    tx.commit().await?;
    // The row says deleted before any object goes, so nothing half-deleted is ever served as ready; a crash in
    // between leaves objects that a second DELETE removes.
    remove_objects(&state, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_objects(state: &AppState, row: &AssetRow) -> Result<(), ApiError> {
    let storage_error = |e| ApiError::internal("cannot remove the asset's stored objects", e);
    let mut removed = 0usize;
    if let Some(source) = &row.source_key {
        let key = marquee_storage::ObjectKey::parse(source).map_err(storage_error)?;
        match state.storage.delete(&key).await {
            Ok(()) => removed += 1,
            Err(marquee_storage::StorageError::NotFound { .. }) => {}
            Err(e) => return Err(storage_error(e)),
        }
    }
    for key in state.storage.list(&keys::presentation_root(&row.asset.id)).await.map_err(storage_error)? {
        state.storage.delete(&key).await.map_err(storage_error)?;
        removed += 1;
    }
    tracing::info!(asset = %row.asset.id, objects = removed, "Asset deleted.");
    Ok(())
}
