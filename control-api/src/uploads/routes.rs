//! tus 1.0 at `/v1/uploads`: OPTIONS (what the server offers), POST (creation, with or without data), HEAD
//! (the offset to resume from), PATCH (data), DELETE (termination). A creation makes the asset the upload
//! becomes (`Marquee-Asset-Id`); the last byte queues it for transcoding, with its `upload.completed` event.
//!
//! Metadata (`Upload-Metadata`) the API reads: `filename` (kept), `playback_policy` (`public` or `signed`,
//! the default) and `preset` (the ladder, default `default`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use super::service::{source_key_for, NewUpload, Upload};
use super::tus::{self, header, Checksum, Metadata, TusError, OFFSET_OCTET_STREAM, TUS_VERSION};
use crate::assets::model::{AssetStatus, PlaybackPolicy};
use crate::assets::store::{self as assets, NewAsset};
use crate::auth::{now_ms, Caller, Role};
use crate::error::extract::Path;
use crate::error::ApiError;
use crate::events::{begin_write, EventType};
use crate::state::AppState;

/// The preset an upload is transcoded with unless its metadata names another.
pub const DEFAULT_PRESET: &str = "default";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/uploads", post(create).options(options))
        .route("/uploads/{id}", axum::routing::head(head).patch(patch).delete(terminate))
        .layer(middleware::from_fn(tus_resumable))
}

/// Every tus answer, errors included, says which protocol version it speaks.
async fn tus_resumable(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(header::TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

fn value(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    headers.get(name).map(|v| v.as_bytes().to_vec())
}

fn number(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).expect("digits are a valid header value")
}

/// The `Tus-Resumable` header's schema: the one version spoken ([`TUS_VERSION`]).
#[derive(Debug)]
pub struct TusResumable;

impl utoipa::PartialSchema for TusResumable {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some([TUS_VERSION]))
            .into()
    }
}

impl utoipa::ToSchema for TusResumable {}

/// The schema of upload data: any bytes.
#[derive(Debug)]
pub struct UploadData;

impl utoipa::PartialSchema for UploadData {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .content_media_type("application/octet-stream")
            .into()
    }
}

impl utoipa::ToSchema for UploadData {}

/// What the server offers (tus core): version, extensions, size limit, checksum algorithms.
#[utoipa::path(options, path = "/v1/uploads", tag = "uploads",
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm")))]
pub async fn options(State(state): State<AppState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::TUS_VERSION, HeaderValue::from_static(TUS_VERSION));
    headers.insert(header::TUS_EXTENSION, HeaderValue::from_static(tus::TUS_EXTENSIONS));
    headers.insert(header::TUS_CHECKSUM_ALGORITHM, HeaderValue::from_static(tus::TUS_CHECKSUM_ALGORITHMS));
    headers.insert(header::TUS_MAX_SIZE, number(state.uploads.settings().max_upload_bytes));
    response
}

/// The asset settings an upload's metadata asks for.
fn asset_settings(metadata: &Metadata) -> Result<(PlaybackPolicy, String), ApiError> {
    asset_settings_from(metadata.text("playback_policy"), metadata.text("preset"))
        .map_err(|e| ApiError { code: "invalid_metadata", ..e })
}

/// The playback policy and preset a new asset asks for (`signed` and [`DEFAULT_PRESET`] when not given), or a
/// 400 `invalid_asset_settings` naming the wrong one. Shared by every way an asset is made.
pub(crate) fn asset_settings_from(
    policy: Option<&str>,
    preset: Option<&str>,
) -> Result<(PlaybackPolicy, String), ApiError> {
    let policy = match policy {
        None => PlaybackPolicy::default(),
        Some(text) => PlaybackPolicy::parse(text).ok_or_else(|| {
            ApiError::bad_request("invalid_asset_settings", "playback_policy must be `public` or `signed`")
        })?,
    };
    let preset = preset.unwrap_or(DEFAULT_PRESET).to_owned();
    if !crate::assets::model::is_preset_name(&preset) {
        return Err(ApiError::bad_request("invalid_asset_settings", crate::assets::model::PRESET_NAME_RULE));
    }
    Ok((policy, preset))
}

/// Creates an upload and the asset it becomes (tus creation); with a body of `application/offset+octet-stream`,
/// also its first data (creation-with-upload).
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads", security(("bearer" = [])),
    params(
        ("Tus-Resumable" = inline(TusResumable), Header, description = "the tus version: 1.0.0"),
        ("Upload-Length" = u64, Header, description = "the file's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "filename, playback_policy, preset (base64 values)"),
    ),
    responses(
        (status = 201, description = "Location: the upload's URL; Marquee-Asset-Id: the asset; Upload-Offset; Upload-Expires"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 412, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody), (status = 423, body = crate::error::ErrorBody),
        (status = 460, description = "checksum mismatch of the data sent with the creation", body = crate::error::ErrorBody)))]
pub async fn create(State(state): State<AppState>, caller: Caller, request: Request) -> Result<Response, ApiError> {
    caller.require(Role::Creator)?;
    let (parts, body) = request.into_parts();
    tus::check_resumable(parts.headers.get(header::TUS_RESUMABLE).map(HeaderValue::as_bytes))?;
    let length = tus::parse_length(value(&parts.headers, header::UPLOAD_LENGTH).as_deref())?;
    let metadata = Metadata::parse(value(&parts.headers, header::UPLOAD_METADATA).as_deref())?;
    let (playback_policy, preset) = asset_settings(&metadata)?;
    tus::check_creation(length, state.uploads.settings().max_upload_bytes)?;
    let with_data = content_type_is_upload(&parts.headers);

    let now = now_ms();
    let mut tx = begin_write(state.db.pool()).await?;
    let asset =
        assets::insert(&mut tx, &NewAsset { owner_id: caller.user_id.clone(), playback_policy, preset }, now).await?;
    tx.commit().await?;
    let storage_key = source_key_for(&asset.id).map_err(|e| ApiError::internal("cannot name the source", e))?;
    let new = NewUpload { asset_id: asset.id.clone(), owner_id: caller.user_id.clone(), length, metadata, storage_key };
    let mut upload = match state.uploads.create(new).await {
        Ok(upload) => upload,
        Err(error) => {
            forget_asset(&state, &asset.id).await;
            return Err(error.into());
        }
    };
    if with_data {
        let checksum = checksum(&parts.headers)?;
        upload = append(&state, &upload.id, 0, body, checksum).await?;
    }
    if upload.is_complete() {
        completed(&state, &upload).await?;
    }
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::LOCATION, crate::state::header_value(&format!("/v1/uploads/{}", upload.id)));
    headers.insert("marquee-asset-id", crate::state::header_value(&asset.id));
    headers.insert(header::UPLOAD_OFFSET, number(upload.offset));
    if !upload.is_complete() {
        headers.insert(header::UPLOAD_EXPIRES, crate::state::header_value(&tus::format_expires(upload.expires_at)));
    }
    Ok(response)
}

/// An asset whose upload could not even begin is removed again (its `asset.deleted` event says so).
pub(crate) async fn forget_asset(state: &AppState, asset_id: &str) {
    let result = async {
        let mut tx = begin_write(state.db.pool()).await?;
        assets::mark_deleted(&mut tx, asset_id, now_ms()).await?;
        tx.commit().await
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(asset = %asset_id, %error, "Could not remove the asset of a failed upload creation.");
    }
}

fn content_type_is_upload(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == OFFSET_OCTET_STREAM)
}

fn checksum(headers: &HeaderMap) -> Result<Option<Checksum>, TusError> {
    headers.get(header::UPLOAD_CHECKSUM).map(|v| Checksum::parse(v.as_bytes())).transpose()
}

/// The upload `id` if the caller may see it; another user's upload is not shown to exist.
async fn owned(state: &AppState, caller: &Caller, id: &str) -> Result<Upload, ApiError> {
    let upload = state.uploads.get(id).await?;
    if caller.may_manage(&upload.owner_id) {
        Ok(upload)
    } else {
        Err(TusError::NotFound.into())
    }
}

/// The offset to resume from (tus core), with the length, metadata and expiry.
#[utoipa::path(head, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the upload's id"),
        ("Tus-Resumable" = inline(TusResumable), Header, description = "the tus version: 1.0.0")),
    responses((status = 200, description = "Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires"),
        (status = 404, description = "unknown or terminated"), (status = 410, description = "expired"),
        (status = 412, description = "Tus-Resumable is not 1.0.0")))]
pub async fn head(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    tus::check_resumable(headers.get(header::TUS_RESUMABLE).map(HeaderValue::as_bytes))?;
    let upload = owned(&state, &caller, &id).await?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(header::UPLOAD_OFFSET, number(upload.offset));
    headers.insert(header::UPLOAD_LENGTH, number(upload.length));
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("marquee-asset-id", crate::state::header_value(&upload.asset_id));
    if !upload.metadata.is_empty() {
        headers.insert(header::UPLOAD_METADATA, crate::state::header_value(&upload.metadata.to_string()));
    }
    if !upload.is_complete() {
        headers.insert(header::UPLOAD_EXPIRES, crate::state::header_value(&tus::format_expires(upload.expires_at)));
    }
    Ok(response)
}

/// Appends data at `Upload-Offset` (tus core; with `Upload-Checksum`, the checksum extension).
#[utoipa::path(patch, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the upload's id"),
        ("Tus-Resumable" = inline(TusResumable), Header, description = "the tus version: 1.0.0"),
        ("Upload-Offset" = u64, Header, description = "where this data starts"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 BASE64` or `sha256 BASE64` of this body")),
    request_body(content = inline(UploadData), content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "Upload-Offset: the new offset"),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 410, body = crate::error::ErrorBody), (status = 412, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 423, body = crate::error::ErrorBody),
        (status = 460, description = "checksum mismatch", body = crate::error::ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    tus::check_resumable(parts.headers.get(header::TUS_RESUMABLE).map(HeaderValue::as_bytes))?;
    if !content_type_is_upload(&parts.headers) {
        return Err(TusError::WrongContentType.into());
    }
    let offset = tus::parse_offset(value(&parts.headers, header::UPLOAD_OFFSET).as_deref())?;
    let checksum = checksum(&parts.headers)?;
    owned(&state, &caller, &id).await?;
    let upload = append(&state, &id, offset, body, checksum).await?;
    if upload.is_complete() {
        completed(&state, &upload).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::UPLOAD_OFFSET, number(upload.offset));
    if !upload.is_complete() {
        response
            .headers_mut()
            .insert(header::UPLOAD_EXPIRES, crate::state::header_value(&tus::format_expires(upload.expires_at)));
    }
    Ok(response)
}

/// Stops an upload and removes what it stored (tus termination). Its asset is deleted with it unless the
/// upload was already complete.
#[utoipa::path(delete, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = String, Path, description = "the upload's id"),
        ("Tus-Resumable" = inline(TusResumable), Header, description = "the tus version: 1.0.0")),
    responses((status = 204, description = "terminated"), (status = 404, body = crate::error::ErrorBody),
        (status = 410, body = crate::error::ErrorBody), (status = 412, body = crate::error::ErrorBody),
        (status = 423, body = crate::error::ErrorBody)))]
pub async fn terminate(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    tus::check_resumable(headers.get(header::TUS_RESUMABLE).map(HeaderValue::as_bytes))?;
    let upload = owned(&state, &caller, &id).await?;
    state.uploads.terminate(&id).await?;
    if !upload.is_complete() {
        forget_asset(&state, &upload.asset_id).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Appends `body` in a task of its own. When the client goes away while the append is busy storing a part,
/// hyper drops this request's handler; a task of its own still sees the body end, keeps what arrived and
/// releases its claim on the upload, so the client's next PATCH is not refused as locked until the claim's
/// 60 s lease runs out (`marquee upload` killed and rerun at once met that 423 in 2 of 7 runs before).
async fn append(
    state: &AppState,
    id: &str,
    offset: u64,
    body: axum::body::Body,
    checksum: Option<Checksum>,
) -> Result<Upload, ApiError> {
    let (uploads, id) = (state.uploads.clone(), id.to_owned());
    let task = tokio::spawn(async move { uploads.append(&id, offset, body.into_data_stream(), checksum).await });
    match task.await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal("the upload task failed", e)),
    }
}

/// The upload is complete: its asset waits for a transcode, with its `upload.completed` event and its job in
/// the queue. Safe to call again (a client resending the last PATCH finds the asset queued already).
pub(crate) async fn completed(state: &AppState, upload: &Upload) -> Result<(), ApiError> {
    let mut tx = begin_write(state.db.pool()).await?;
    assets::set_source_key(&mut tx, &upload.asset_id, upload.storage_key.as_str()).await?;
    let moved = assets::transition(
        &mut tx,
        &upload.asset_id,
        AssetStatus::WaitingUpload,
        AssetStatus::Queued,
        Some(EventType::UploadCompleted),
        now_ms(),
    )
    .await?;
    // The asset's change, its event and its transcode job commit together: a queued asset always has its job.
    if let Some(asset) = &moved {
        let job = crate::jobs::NewJob::transcode(&asset.id, &asset.owner_id, &asset.preset);
        crate::jobs::store::enqueue_in(&mut tx, &job, now_ms()).await.map_err(ApiError::from)?;
    }
    tx.commit().await?;
    state.farm.config.wake_claims();
    if moved.is_some() {
        tracing::info!(asset = %upload.asset_id, upload = %upload.id, bytes = upload.length, "Upload complete; asset queued.");
    }
    Ok(())
}
