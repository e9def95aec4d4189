//! `POST /v1/assets/{id}/playback`: signed HLS and DASH URLs for a ready asset, on the configured edge or
//! origin, to a caller allowed to watch it: its owner, admins, anyone for a `public` asset, and whoever the
//! [`Entitlements`] hook allows (the commerce satellite fills it in; until then nobody else).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use marquee_signing::{Grant, KeyRing};
use serde::Serialize;
use utoipa::ToSchema;

use crate::assets::model::{Asset, AssetStatus, PlaybackPolicy};
use crate::assets::store;
use crate::auth::{now_ms, Caller, MaybeCaller};
use crate::error::extract::{Json, Path};
use crate::error::{ApiError, ErrorBody};
use crate::server::AppState;

/// How long playback URLs are valid unless configured otherwise.
pub const DEFAULT_PLAYBACK_TTL: Duration = Duration::from_secs(6 * 3600);
/// The manifests every published presentation has.
pub const HLS_MANIFEST: &str = "master.m3u8";
pub const DASH_MANIFEST: &str = "manifest.mpd";

/// Who else may watch an asset (rentals, purchases, subscriptions): asked for signed assets the caller does
/// not own.
#[async_trait::async_trait]
pub trait Entitlements: Send + Sync + std::fmt::Debug {
    async fn may_watch(&self, caller: &Caller, asset: &Asset) -> Result<bool, ApiError>;
}

/// No entitlements: only owners and admins watch signed assets.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEntitlements;

#[async_trait::async_trait]
impl Entitlements for NoEntitlements {
    async fn may_watch(&self, _: &Caller, _: &Asset) -> Result<bool, ApiError> {
        Ok(false)
    }
}

/// What playback URLs are made with.
#[derive(Debug, Clone)]
pub struct Playback {
    /// The keys the origin and edges verify with (`marquee keygen`); the current one signs.
    pub keys: KeyRing,
    /// `http(s)://host[:port]` of the edge (or origin) players fetch from.
    pub base_url: String,
    pub ttl: Duration,
    pub entitlements: Arc<dyn Entitlements>,
}

/// Signed playback URLs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybackUrls {
    pub hls_url: String,
    pub dash_url: String,
    /// When the URLs stop working, Unix seconds.
    pub expires_at: u64,
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{id}/playback", post(playback))
}

/// Signed HLS and DASH URLs for a ready asset.
#[utoipa::path(post, path = "/v1/assets/{id}/playback", tag = "playback", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id")),
    responses((status = 200, body = PlaybackUrls), (status = 401, body = ErrorBody),
        (status = 403, description = "not allowed to watch this asset", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "not ready yet", body = ErrorBody),
        (status = 503, description = "playback is not configured on this API", body = ErrorBody)))]
pub async fn playback(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
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
            caller.may_manage(&row.asset.owner_id) || playback.entitlements.may_watch(caller, &row.asset).await?
        }
        (None, PlaybackPolicy::Signed) => {
            return Err(ApiError::unauthorized("sign in to watch this asset"));
        }
    };
    if !allowed {
        return Err(ApiError::forbidden("you are not allowed to watch this asset"));
    }
    let prefix = match (&row.asset.status, &row.presentation_prefix) {
        (AssetStatus::Ready, Some(prefix)) => prefix,
        _ => {
            return Err(ApiError::conflict(
                "asset_not_ready",
                format!("the asset is {}, not ready; its events say when it is", row.asset.status.as_str()),
            ))
        }
    };
    let now = u64::try_from(now_ms() / 1000).unwrap_or_default();
    let expires_at = now + playback.ttl.as_secs().max(1);
    let grant = Grant::new(&format!("/{}", prefix.trim_start_matches('/')), expires_at)
        .map_err(|e| ApiError::internal("cannot sign the asset's path", e))?;
    let url = |file: &str| {
        playback
            .keys
            .signed_path(&grant, file)
            .map(|path| format!("{}{path}", playback.base_url.trim_end_matches('/')))
            .map_err(|e| ApiError::internal("cannot sign the asset's path", e))
    };
    Ok(Json(PlaybackUrls { hls_url: url(HLS_MANIFEST)?, dash_url: url(DASH_MANIFEST)?, expires_at }))
}
