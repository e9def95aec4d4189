//! `POST /v1/assets/upload`: a small file in one request, for clients that do not speak tus. The body is the
//! file (any content type), its length is `Content-Length`, and the query says how to publish it. The same
//! upload service as tus stores it (straight into storage, one part in memory at most, at `sources/<asset>`),
//! and the same completion queues it: the asset becomes `queued` with its `upload.completed` event and its
//! transcode job, in one transaction.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use utoipa::IntoParams;

use super::routes::{asset_settings_from, completed, forget_asset};
use super::service::{source_key_for, NewUpload};
use super::tus::Metadata;
use crate::assets::model::Asset;
use crate::assets::store::{self as assets, NewAsset};
use crate::auth::{now_ms, Caller, Role};
use crate::db::begin_write;
use crate::error::extract::{Json, Query};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/upload", post(upload))
}

/// How the uploaded file is published.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OneShotQuery {
    /// `public` or `signed` (the default).
    pub playback_policy: Option<String>,
    /// The ladder preset (default `default`).
    pub preset: Option<String>,
    /// The file's name, kept with the upload.
    pub filename: Option<String>,
}

/// The body's declared length: 411 without one (a chunked body cannot be checked against the limit before it
/// is read), 400 if it is not a number.
fn declared_length(headers: &HeaderMap) -> Result<u64, ApiError> {
    let value = headers.get(http::header::CONTENT_LENGTH).ok_or_else(|| {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "send the file with a Content-Length (or upload it with tus at /v1/uploads)",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .ok_or_else(|| ApiError::bad_request("invalid_content_length", "Content-Length must be a number of bytes"))
}

/// Uploads a small file in one request and makes it an asset, queued for transcoding.
///
/// The body is the file; `Content-Length` is required and at most the server's `max_oneshot_bytes` (64 MiB by
/// default; larger files go through tus at /v1/uploads). Answers 201 with the asset, `queued`.
#[utoipa::path(post, path = "/v1/assets/upload", tag = "assets", security(("bearer" = [])), params(OneShotQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file"),
    responses((status = 201, body = Asset, description = "the asset, queued; Location: its URL"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 411, body = ErrorBody, description = "no Content-Length"),
        (status = 413, body = ErrorBody, description = "larger than max_oneshot_bytes")))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<OneShotQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(Role::Creator)?;
    let (playback_policy, preset) = asset_settings_from(query.playback_policy.as_deref(), query.preset.as_deref())?;
    let (parts, body) = request.into_parts();
    let length = declared_length(&parts.headers)?;
    let limit = state.ingest.max_oneshot_bytes;
    if length > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the file is {length} bytes, more than the {limit} bytes one request may carry; upload it with tus at /v1/uploads"),
        ));
    }
    if length == 0 {
        return Err(ApiError::bad_request("empty_body", "the body is empty: send the file as the body"));
    }
    let pairs = query.filename.map(|name| vec![("filename".to_owned(), name.into_bytes())]).unwrap_or_default();
    let metadata = Metadata::from_pairs(pairs).unwrap_or_default();

    // The rest runs in a task of its own: if the client goes away, hyper drops this handler, but an asset once
    // made must still end stored and queued, or removed again with its upload.
    let (task_state, owner_id) = (state.clone(), caller.user_id.clone());
    let task = tokio::spawn(async move {
        let mut tx = begin_write(task_state.db.pool()).await?;
        let asset = assets::insert(&mut tx, &NewAsset { owner_id, playback_policy, preset }, now_ms()).await?;
        tx.commit().await?;
        store_and_queue(&task_state, &asset, length, metadata, body).await?;
        Ok::<_, ApiError>(asset)
    });
    let asset = match task.await {
        Ok(result) => result?,
        Err(error) => return Err(ApiError::internal("the one-shot upload task failed", error)),
    };
    let asset = assets::get(&state.db, &asset.id).await?.ok_or_else(|| ApiError::not_found("asset"))?.asset;
    let location = crate::state::header_value(&format!("/v1/assets/{}", asset.id));
    let mut response = (StatusCode::CREATED, Json(asset)).into_response();
    response.headers_mut().insert(http::header::LOCATION, location);
    Ok(response)
}

/// Stores `body` (`length` bytes) as the source of `asset` and queues it; on any failure, removes the upload and
/// the asset again.
async fn store_and_queue(
    state: &AppState,
    asset: &Asset,
    length: u64,
    metadata: Metadata,
    body: axum::body::Body,
) -> Result<(), ApiError> {
    let asset_id = asset.id.clone();
    let created = match source_key_for(&asset_id) {
        Ok(storage_key) => {
            let new = NewUpload {
                asset_id: asset_id.clone(),
                owner_id: asset.owner_id.clone(),
                length,
                metadata,
                storage_key,
            };
            state.uploads.create(new).await.map_err(ApiError::from)
        }
        Err(error) => Err(ApiError::internal("cannot name the source", error)),
    };
    let upload = match created {
        Ok(upload) => upload,
        Err(error) => {
            forget_asset(state, &asset_id).await;
            return Err(error);
        }
    };
    // Streamed into storage as it arrives; hyper ends the body at Content-Length, and one that ends early fails.
    let stored = state.uploads.append(&upload.id, 0, body.into_data_stream(), None).await;
    let stored = match stored {
        Ok(stored) if stored.is_complete() => stored,
        outcome => {
            if let Err(error) = state.uploads.terminate(&upload.id).await {
                tracing::warn!(upload = %upload.id, %error, "Could not remove a failed one-shot upload; expiry will.");
            }
            forget_asset(state, &asset_id).await;
            return Err(match outcome {
                Err(error) => error.into(),
                Ok(_) => ApiError::bad_request("body_incomplete", format!("the body ended before its {length} bytes")),
            });
        }
    };
    completed(state, &stored).await
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::assets::model::PlaybackPolicy;

    fn length_of(value: Option<&str>) -> Result<u64, (u16, &'static str)> {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(http::header::CONTENT_LENGTH, value.parse().unwrap());
        }
        declared_length(&headers).map_err(|e| (e.status.as_u16(), e.code))
    }

    #[test]
    fn the_length_is_required_and_a_number() {
        assert_eq!(length_of(Some("1024")), Ok(1024));
        assert_eq!(length_of(None), Err((411, "length_required")));
        assert_eq!(length_of(Some("-1")), Err((400, "invalid_content_length")));
        assert_eq!(length_of(Some("12 MB")), Err((400, "invalid_content_length")));
    }

    #[test]
    fn asset_settings_default_and_refuse_by_name() {
        assert_eq!(asset_settings_from(None, None).unwrap(), (PlaybackPolicy::Signed, "default".to_owned()));
        assert_eq!(
            asset_settings_from(Some("public"), Some("bench-3rung")).unwrap(),
            (PlaybackPolicy::Public, "bench-3rung".to_owned())
        );
        let policy = asset_settings_from(Some("open"), None).unwrap_err();
        assert!(policy.message.contains("playback_policy"), "{policy}");
        for preset in ["", "../etc", "a b", &"x".repeat(65)] {
            let error = asset_settings_from(None, Some(preset)).unwrap_err();
            assert_eq!(error.code, "invalid_asset_settings");
            assert!(error.message.contains("preset"), "{error}");
        }
    }

    proptest! {
        /// Any number is read back exactly; anything else is refused, never misread.
        #[test]
        fn lengths_are_read_exactly(length in any::<u64>(), junk in "[a-zA-Z.,;_+-]{1,8}") {
            prop_assert_eq!(length_of(Some(&length.to_string())), Ok(length));
            let misspelt = format!("{length}{junk}");
            prop_assert!(length_of(Some(&misspelt)).is_err());
        }
    }
}
