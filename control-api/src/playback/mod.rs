//! `POST /v1/assets/{id}/playback`: signed HLS and DASH URLs for a ready asset, on the configured edge or
//! origin, to a caller allowed to watch it: its owner, admins, anyone for a `public` asset, and whoever the
//! [`Entitlements`] hook allows (the commerce satellite fills it in; until then nobody else).

use std::sync::Arc;
use std::time::Duration;

use marquee_signing::KeyRing;

use crate::assets::model::Asset;
use crate::auth::caller::Caller;
use crate::error::ApiError;

pub mod routes;

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
