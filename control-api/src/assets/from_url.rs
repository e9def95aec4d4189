//! `POST /v1/assets` with an `input_url`: an asset whose source the farm fetches itself. The URL is checked
//! here as far as it can be without fetching (http or https, a host, and unless `allow_private_input_urls`, no
//! literal private address); the worker checks again as it fetches (names that resolve to private addresses,
//! redirects, size) with `marquee_outbound::fetch_to_file`. The asset is `queued` at once, and its transcode
//! job is enqueued in the same transaction; a retry with the same `Idempotency-Key` gets the same asset.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{Asset, PlaybackPolicy};
use super::store::{self, NewAsset};
use crate::auth::{now_ms, Caller, Role};
use crate::db::begin_write;
use crate::error::extract::Json;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The longest `input_url` accepted.
pub const MAX_INPUT_URL_LENGTH: usize = 2048;

/// A new asset from a URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssetFromUrl {
    /// Where the source is: an http or https URL the farm downloads (up to 2048 characters).
    pub input_url: String,
    /// Who may play it (default `signed`).
    pub playback_policy: Option<PlaybackPolicy>,
    /// The ladder preset (default `default`).
    pub preset: Option<String>,
}

/// Whether `text` can be an `input_url`: the URL as it is stored, or a 400 `invalid_input_url` saying why not.
pub fn input_url(text: &str, allow_private: bool) -> Result<String, ApiError> {
    if text.len() > MAX_INPUT_URL_LENGTH {
        return Err(ApiError::bad_request(
            "invalid_input_url",
            format!("input_url is longer than {MAX_INPUT_URL_LENGTH} characters"),
        ));
    }
    let url = marquee_outbound::fetch::check_url(text, allow_private)
        .map_err(|e| ApiError::bad_request("invalid_input_url", format!("input_url: {e}")))?;
    Ok(url.to_string())
}

/// Creates an asset whose source the farm fetches from `input_url`; it is queued for transcoding at once.
#[utoipa::path(post, path = "/v1/assets", tag = "assets", security(("bearer" = [])),
    request_body = NewAssetFromUrl,
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key and body gets the same asset")),
    responses((status = 201, body = Asset, description = "the asset, queued; Location: its URL"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<NewAssetFromUrl>,
) -> Result<Response, ApiError> {
    caller.require(Role::Creator)?;
    let input_url = input_url(&request.input_url, state.ingest.allow_private_input_urls)?;
    let (_, preset) = crate::uploads::routes::asset_settings_from(None, request.preset.as_deref())?;
    let new = NewAsset {
        owner_id: caller.user_id.clone(),
        playback_policy: request.playback_policy.unwrap_or_default(),
        preset,
    };
    let now = now_ms();
    let mut tx = begin_write(state.db.pool()).await?;
    let asset = store::insert_from_url(&mut tx, &new, &input_url, now).await?;
    // The asset, its event and its job commit together: a queued asset always has its job.
    let job = crate::jobs::NewJob::transcode(&asset.id, &asset.owner_id, &asset.preset);
    crate::jobs::store::enqueue_in(&mut tx, &job, now).await.map_err(ApiError::from)?;
    tx.commit().await?;
    tracing::info!(asset = %asset.id, "Asset created from a URL; queued.");
    let location = crate::state::header_value(&format!("/v1/assets/{}", asset.id));
    let mut response = (StatusCode::CREATED, Json(asset)).into_response();
    response.headers_mut().insert(http::header::LOCATION, location);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn input_urls_are_http_with_a_host_and_public_unless_allowed() {
        assert_eq!(
            input_url("https://media.example.com/film.mp4?sig=a", false).unwrap(),
            "https://media.example.com/film.mp4?sig=a"
        );
        assert_eq!(input_url("HTTP://Media.Example.com/a b.mp4", false).unwrap(), "http://media.example.com/a%20b.mp4");
        assert!(input_url("http://127.0.0.1:8000/film.mp4", true).is_ok());
        for (text, says) in [
            ("film.mp4", "not an absolute URL"),
            ("ftp://media.example.com/film.mp4", "only http and https"),
            ("file:///etc/passwd", "only http and https"),
            ("http://127.0.0.1:8000/film.mp4", "private address"),
            ("http://[::1]/film.mp4", "private address"),
            ("http://10.0.0.5/film.mp4", "private address"),
            ("http://169.254.169.254/latest/meta-data", "private address"),
        ] {
            let error = input_url(text, false).unwrap_err();
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "invalid_input_url"), "{text}");
            assert!(error.message.contains(says), "{text}: {}", error.message);
        }
        let long = format!("https://media.example.com/{}", "a".repeat(MAX_INPUT_URL_LENGTH));
        assert!(input_url(&long, false).unwrap_err().message.contains("longer than"));
    }

    proptest! {
        /// Whatever is accepted is an http(s) URL that is accepted again as it is stored.
        #[test]
        fn accepted_urls_are_stable(text in "(https?|ftp)://[a-z0-9.:\\[\\]]{0,20}/[ -~]{0,30}") {
            if let Ok(stored) = input_url(&text, false) {
                prop_assert!(stored.starts_with("http://") || stored.starts_with("https://"), "{}", stored);
                prop_assert_eq!(input_url(&stored, false).unwrap(), stored.clone());
            }
        }
    }
}
