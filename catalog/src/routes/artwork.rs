//! `PUT /v1/titles/{id}/artwork/{poster|backdrop}`: an image body (JPEG, PNG or WebP, told by its bytes) stored
//! at [`crate::artwork::storage_key`]; the title points at it, then the image it pointed at before is removed.
//! And what readers see of a title's artwork ([`show`]): the poster of its video until one is uploaded, and
//! the images' URLs.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use marquee_control_api::assets::model::keys;
use marquee_control_api::auth::{Caller, Role};
use marquee_control_api::db::begin_write;
use marquee_control_api::error::extract::{Json, Path};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use marquee_storage::ObjectKey;
use sqlx::AnyConnection;

use super::titles::{detail, TitleDetail};
use super::{editable_title, CatalogState};
use crate::artwork::{storage_key, ArtworkKind, ImageFormat, PosterSource, MAX_ARTWORK_BYTES};
use crate::indexing;
use crate::store::{self, Title};

/// Stores a poster or backdrop for a title, replacing the one it had.
#[utoipa::path(put, path = "/v1/titles/{id}/artwork/{kind}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id"),
        ("kind" = String, Path, description = "`poster` or `backdrop`")),
    request_body(content = Vec<u8>, description = "the image: JPEG, PNG or WebP, at most 10 MiB",
        content_type = "application/octet-stream"),
    responses((status = 200, body = TitleDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn put(
    State(state): State<CatalogState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
    body: Body,
) -> Result<Json<TitleDetail>, ApiError> {
    caller.require(Role::Creator)?;
    let kind = ArtworkKind::parse(&kind)
        .ok_or_else(|| ApiError::bad_request("invalid_path", "the artwork is a poster or a backdrop"))?;
    {
        let mut conn = state.connection().await?;
        editable_title(&state, &mut conn, &caller, &id).await?;
    }
    let bytes = axum::body::to_bytes(body, MAX_ARTWORK_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("artwork is {MAX_ARTWORK_BYTES} bytes at most"),
        )
    })?;
    let format = ImageFormat::sniff(&bytes).ok_or_else(|| {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image", "send a JPEG, PNG or WebP image")
    })?;
    let key = storage_key(&id, kind, format, &bytes);
    let object = ObjectKey::parse(&key).map_err(|e| ApiError::internal("cannot name the artwork", e))?;
    state.app.storage.put(&object, bytes).await.map_err(|e| ApiError::internal("cannot store the artwork", e))?;

    let mut tx = begin_write(state.app.db.pool()).await?;
    let title = editable_title(&state, &mut tx, &caller, &id).await?;
    let old = match kind {
        ArtworkKind::Poster => title.artwork.poster.clone(),
        ArtworkKind::Backdrop => title.artwork.backdrop.clone(),
    };
    store::set_artwork(&mut tx, &title.id, kind == ArtworkKind::Poster, &key, state.now()).await?;
    indexing::title(&mut tx, state.index.as_ref(), &title.id).await?;
    tx.commit().await?;
    // Removed only once nothing points at it.
    if let Some(old) = old.filter(|old| *old != key) {
        remove_object(&state, &old).await;
    }
    let mut conn = state.connection().await?;
    let title = store::title(&mut conn, &id).await?.ok_or_else(|| ApiError::not_found("title"))?;
    Ok(Json(detail(&state, &mut conn, Some(&caller), title, None).await?))
}

/// Removes a stored image no title points at any more; a failure leaves an unreferenced object, logged.
pub async fn remove_object(state: &CatalogState, key: &str) {
    let removed = match ObjectKey::parse(key) {
        Ok(object) => state.app.storage.delete(&object).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = removed {
        tracing::warn!(key, %error, "Cannot remove replaced artwork.");
    }
}

/// Fills in what readers see of `title`'s artwork: a title without an uploaded poster shows the poster of its
/// video ([`store::video_presentation`]), marked as coming from the asset so a client knows an upload would
/// replace it; and, when the API signs playback URLs, the URLs browsers fetch the images with through the edge
/// (the origin serves only signed paths; these are signed for the images' folder, not for a viewer).
pub async fn show(state: &CatalogState, conn: &mut AnyConnection, title: &mut Title) -> Result<(), ApiError> {
    let artwork = &mut title.artwork;
    if artwork.poster.is_some() {
        artwork.poster_source = Some(PosterSource::Upload);
    } else if let Some(prefix) = store::video_presentation(conn, &title.id, title.kind).await? {
        artwork.poster = Some(keys::poster(&prefix));
        artwork.poster_source = Some(PosterSource::Asset);
    }
    if let Some(playback) = &state.app.playback {
        // The origin checks expiry against real time, whatever the catalog's clock says.
        let now = u64::try_from(marquee_control_api::clock::now_ms() / 1000).unwrap_or_default();
        artwork.poster_url = artwork.poster.as_deref().and_then(|key| playback.image_url(key, now));
        artwork.backdrop_url = artwork.backdrop.as_deref().and_then(|key| playback.image_url(key, now));
    }
    Ok(())
}

/// [`show`] for every title of a list.
pub async fn show_all(state: &CatalogState, conn: &mut AnyConnection, titles: &mut [Title]) -> Result<(), ApiError> {
    for title in titles {
        show(state, conn, title).await?;
    }
    Ok(())
}
