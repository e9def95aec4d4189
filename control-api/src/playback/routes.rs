//! The playback endpoint.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use marquee_signing::Grant;
use serde::Serialize;
use utoipa::ToSchema;

use super::{lifetime, region_of, Viewer, DASH_MANIFEST, HLS_MANIFEST};
use crate::assets::model::{AssetStatus, PlaybackPolicy};
use crate::assets::store;
use crate::auth::MaybeCaller;
use crate::error::extract::{Json, Path};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Signed playback URLs, short-lived: a player that keeps watching asks for new ones at `refresh_at` and
/// swaps them in (same files, new token), so a viewer who may no longer watch is stopped within one lifetime.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybackUrls {
    pub hls_url: String,
    pub dash_url: String,
    /// When the URLs stop working (the origin and edges refuse them from this second on), Unix seconds.
    pub expires_at: u64,
    /// When the player should call this endpoint again for fresh URLs, Unix seconds: before `expires_at`
    /// (by a minute with the default five-minute lifetime), so a slow answer does not interrupt playback.
    pub refresh_at: u64,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{id}/playback", post(playback))
}

/// Signed HLS and DASH URLs for a ready asset. They expire within minutes (`expires_at`): a player asks again
/// at `refresh_at` while the viewer keeps watching and swaps in the new URLs; each call checks the viewer's
/// entitlement again, so a canceled subscription stops playback within one lifetime.
#[utoipa::path(post, path = "/v1/assets/{id}/playback", tag = "playback", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id"),
        ("marquee-region" = Option<String>, Header, description = "the viewer's country (ISO 3166-1 alpha-2), set by the edge")),
    responses((status = 200, body = PlaybackUrls), (status = 401, body = ErrorBody),
        (status = 403, description = "not allowed to watch this asset: `forbidden`, or the entitlements' reason (`not_subscribed`, `rental_expired`, `not_available_in_region`, `not_yet_available`)", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "not ready yet", body = ErrorBody),
        (status = 503, description = "playback is not configured on this API", body = ErrorBody)))]
pub async fn playback(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Result<Json<PlaybackUrls>, ApiError> {
    let Some(playback) = &state.playback else {
        return Err(ApiError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "playback_not_configured",
            "this API has no signing keys or playback base URL: start it with --key-file and --playback-base-url",
        ));
    };
    let row = match store::get(&state.db, &id).await? {
        Some(row) if row.asset.status != AssetStatus::Deleted => row,
        _ => return Err(ApiError::not_found("asset")),
    };
    let allowed = match (&caller, row.asset.playback_policy) {
        (_, PlaybackPolicy::Public) => true,
        (Some(caller), PlaybackPolicy::Signed) => {
            let region = region_of(&headers);
            let viewer = Viewer { caller, region: region.as_deref(), now_ms: state.clock.now_ms() };
            caller.may_manage(&row.asset.owner_id)
                || playback.entitlements.may_watch(&state.db, &viewer, &row.asset).await?
        }
        (None, PlaybackPolicy::Signed) => {
            return Err(ApiError::unauthorized("sign in to watch this asset"));
        }
    };
    if !allowed {
        return Err(ApiError::forbidden("you are not allowed to watch this asset"));
    }
    // A re-transcode keeps the current presentation playable until the new one replaces it.
    let prefix = match (&row.asset.status, &row.presentation_prefix) {
        (AssetStatus::Ready | AssetStatus::Queued | AssetStatus::Processing, Some(prefix)) => prefix,
        _ => {
            return Err(ApiError::conflict(
                "asset_not_ready",
                format!("the asset is {}, not ready; its events say when it is", row.asset.status.as_str()),
            ))
        }
    };
    let (expires_at, refresh_at) = lifetime(state.clock.now_s(), playback.ttl);
    let grant = Grant::new(&format!("/{}", prefix.trim_start_matches('/')), expires_at)
        .map_err(|e| ApiError::internal("cannot sign the asset's path", e))?;
    let url = |file: &str| {
        playback
            .keys
            .signed_path(&grant, file)
            .map(|path| format!("{}{path}", playback.base_url.trim_end_matches('/')))
            .map_err(|e| ApiError::internal("cannot sign the asset's path", e))
    };
    Ok(Json(PlaybackUrls { hls_url: url(HLS_MANIFEST)?, dash_url: url(DASH_MANIFEST)?, expires_at, refresh_at }))
}
