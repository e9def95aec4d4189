//! `POST /v1/assets/{id}/playback`: signed HLS and DASH URLs for a ready asset, on the configured edge or
//! origin, to a caller allowed to watch it: its owner, admins, anyone for a `public` asset, and whoever the
//! [`Entitlements`] hook allows (the commerce satellite fills it in; until then nobody else). Also the URLs
//! of images shown to anyone browsing (posters, artwork): [`Playback::image_url`].

use std::sync::Arc;
use std::time::Duration;

use marquee_signing::{Grant, KeyRing, SigningError};

use crate::assets::model::Asset;
use crate::auth::caller::Caller;
use crate::db::Database;
use crate::error::ApiError;

pub mod routes;

/// How long playback URLs are valid unless configured otherwise: five minutes. Long enough for a slow start
/// (the manifests and the first segments take seconds even on a poor link) and for a player that misses its
/// `refresh_at` once; short enough that a canceled subscription or an ended rental stops new playback within
/// minutes, since a player must ask this endpoint again (and be refused) to go on. Players keep watching by
/// asking again at `refresh_at` and swapping in the new URLs.
pub const DEFAULT_PLAYBACK_TTL: Duration = Duration::from_secs(5 * 60);
/// How long before `expires_at` a player is told to ask again (`refresh_at`), at most: a minute of slack for a
/// slow or failed refresh. Short TTLs get a quarter of their lifetime instead.
pub const PLAYBACK_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The manifests every published presentation has.
pub const HLS_MANIFEST: &str = "master.m3u8";
pub const DASH_MANIFEST: &str = "manifest.mpd";

/// The request header with the viewer's country (ISO 3166-1 alpha-2, `FR`), which the edge or load balancer in
/// front of the API sets from the client's address (and must strip from what clients send), as Cloudflare's
/// `CF-IPCountry` does. Without it the region is unknown.
pub const REGION_HEADER: &str = "marquee-region";

/// Who asks to watch: the caller, where from, and when.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub caller: &'a Caller,
    /// From [`REGION_HEADER`], upper case; `None` when absent or not two ASCII letters.
    pub region: Option<&'a str>,
    /// The time of the request by the API's clock ([`crate::AppState::clock`]), Unix milliseconds.
    pub now_ms: i64,
}

/// When URLs issued at `now_s` (Unix seconds) with `ttl` expire, and when the player should ask for new ones:
/// `(expires_at, refresh_at)`, both Unix seconds, `now_s < refresh_at < expires_at` for any TTL of 2 s or more.
pub fn lifetime(now_s: u64, ttl: Duration) -> (u64, u64) {
    let ttl = ttl.as_secs().max(1);
    let margin = PLAYBACK_REFRESH_MARGIN.as_secs().min(ttl / 4).max(1).min(ttl - 1);
    let expires_at = now_s.saturating_add(ttl);
    (expires_at, expires_at - margin)
}

/// The region a [`REGION_HEADER`] value names, if it is two ASCII letters (upper-cased).
pub fn region_of(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(REGION_HEADER)?.to_str().ok()?.trim();
    (value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic())).then(|| value.to_ascii_uppercase())
}

/// Who else may watch an asset (rentals, purchases, subscriptions): asked for signed assets the caller does
/// not own. `Ok(false)` answers a plain 403 `forbidden`; an `Err` is answered as it is, so an implementation
/// can say why (`not_subscribed`, `rental_expired`, …). It may record the play (a rental's first play).
#[async_trait::async_trait]
pub trait Entitlements: Send + Sync + std::fmt::Debug {
    async fn may_watch(&self, db: &Database, viewer: &Viewer<'_>, asset: &Asset) -> Result<bool, ApiError>;
}

/// No entitlements: only owners and admins watch signed assets.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEntitlements;

#[async_trait::async_trait]
impl Entitlements for NoEntitlements {
    async fn may_watch(&self, _: &Database, _: &Viewer<'_>, _: &Asset) -> Result<bool, ApiError> {
        Ok(false)
    }
}

/// How long an image URL stays valid at least: longer than any page a browser keeps open.
pub const IMAGE_URL_MIN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Image URLs expire on a whole multiple of this, so a URL is the same for this long and browsers and edges
/// that key on the full URL cache it.
pub const IMAGE_URL_PERIOD: Duration = Duration::from_secs(24 * 3600);

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

impl Playback {
    /// A URL for the image stored at `key` (`media/…/images/poster.jpg`, `artwork/{title}/poster-….jpg`) that
    /// needs no viewer's token: the origin and edges serve only signed paths, so the API signs it, for the
    /// image's folder (images live in folders of their own, never beside media) and not for a viewer. It
    /// expires at least [`IMAGE_URL_MIN_TTL`] after `now_s` (Unix seconds), on a multiple of
    /// [`IMAGE_URL_PERIOD`]. `None` when `key` has no folder or is not a plain path.
    pub fn image_url(&self, key: &str, now_s: u64) -> Option<String> {
        let (folder, file) = key.trim_start_matches('/').rsplit_once('/')?;
        let period = IMAGE_URL_PERIOD.as_secs();
        let expires_at = (now_s + IMAGE_URL_MIN_TTL.as_secs()).div_ceil(period) * period;
        let signed = Grant::new(&format!("/{folder}/"), expires_at)
            .and_then(|grant| self.keys.signed_path(&grant, file))
            .map_err(|e: SigningError| tracing::warn!(key, error = %e, "Cannot sign an image URL."))
            .ok()?;
        Some(format!("{}{signed}", self.base_url.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_two_letters_upper_cased() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(REGION_HEADER, value.parse().unwrap());
            region_of(&headers)
        };
        assert_eq!(with("fr").as_deref(), Some("FR"));
        assert_eq!(with(" DE ").as_deref(), Some("DE"));
        for bad in ["", "FRA", "F1", "é"] {
            assert_eq!(with(bad), None, "{bad:?}");
        }
        assert_eq!(region_of(&http::HeaderMap::new()), None);
    }

    #[test]
    fn the_default_lifetime_is_minutes_with_a_refresh_a_minute_before_expiry() {
        assert!(
            DEFAULT_PLAYBACK_TTL >= Duration::from_secs(60) && DEFAULT_PLAYBACK_TTL <= Duration::from_secs(15 * 60)
        );
        assert_eq!(lifetime(1_000, DEFAULT_PLAYBACK_TTL), (1_300, 1_240));
        // The settings' lower bound, one minute: a refresh 15 s before expiry.
        assert_eq!(lifetime(1_000, Duration::from_secs(60)), (1_060, 1_045));
        assert_eq!(lifetime(1_000, Duration::from_secs(6 * 3600)), (22_600, 22_540));
    }

    proptest::proptest! {
        #[test]
        fn refresh_comes_after_now_and_before_expiry(now in 0u64..4_000_000_000, ttl in 2u64..1_000_000) {
            let (expires_at, refresh_at) = lifetime(now, Duration::from_secs(ttl));
            proptest::prop_assert_eq!(expires_at, now + ttl);
            proptest::prop_assert!(now < refresh_at && refresh_at < expires_at);
            proptest::prop_assert!(expires_at - refresh_at <= PLAYBACK_REFRESH_MARGIN.as_secs());
        }
    }
}
