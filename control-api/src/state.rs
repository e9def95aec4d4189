//! What every handler may use: the database, the store, the metrics, sign-in's keys and limits, the upload
//! service and the playback signer. Handlers take it as axum state; `server` builds the router over it.

use std::sync::Arc;

use marquee_storage::ObjectStore;

use crate::auth::limiter::LoginLimiter;
use crate::auth::state::{AuthPolicy, AuthState};
use crate::auth::tokens::AccessTokens;
use crate::clock::Clock;
use crate::cursor::CursorKey;
use crate::db::Database;
use crate::farm::config::FarmConfig;
use crate::farm::metrics::FarmMetrics;
use crate::farm::service::Farm;
use crate::metrics::ApiMetrics;
use crate::playback::Playback;
use crate::settings::{ApiSettings, IngestSettings};
use crate::uploads::service::{UploadService, UploadSettings};

/// What every handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
    pub storage: Arc<dyn ObjectStore>,
    pub metrics: ApiMetrics,
    pub auth: AuthState,
    pub uploads: UploadService,
    /// Limits of one-shot uploads and `input_url` assets.
    pub ingest: IngestSettings,
    /// Signing keys and base URL for playback URLs; `None` answers 503 to playback requests.
    pub playback: Option<Playback>,
    /// The transcode farm: job claims, leases and the assets they work on.
    pub farm: Farm,
    /// What "now" is for playback and the satellites (the system's clock unless a test sets its own).
    pub clock: Clock,
    /// Signs the satellites' pagination cursors (derived from the shared secret, so every instance reads
    /// every other's cursors).
    pub cursors: CursorKey,
}

impl AppState {
    /// The state over an open database and store, with `settings`' sign-in policy and the access-token secret
    /// from the database (made on the first start).
    pub async fn new(db: Database, storage: Arc<dyn ObjectStore>, settings: &ApiSettings) -> Result<Self, sqlx::Error> {
        let secret = crate::auth::store::jwt_secret(&db, crate::clock::now_ms()).await?;
        let cursors = CursorKey::derive(&secret);
        let auth = AuthState {
            tokens: AccessTokens::new(&secret),
            limiter: Arc::new(LoginLimiter::new()),
            policy: AuthPolicy {
                access_token_ttl: settings.access_token_ttl,
                refresh_token_ttl: settings.refresh_token_ttl,
                allow_registration: !settings.no_registration,
            },
        };
        let metrics = ApiMetrics::new();
        let uploads = UploadService::new(
            db.clone(),
            storage.clone(),
            UploadSettings {
                max_upload_bytes: settings.max_upload_bytes,
                expire_after_ms: i64::try_from(settings.upload_expiry.as_millis()).unwrap_or(i64::MAX),
                ..UploadSettings::default()
            },
        )
        .with_metrics(metrics.uploads().clone());
        let farm_metrics = FarmMetrics::new(metrics.registry())
            .map_err(|e| sqlx::Error::Configuration(format!("cannot register the farm's metrics: {e}").into()))?;
        let farm = Farm::new(
            db.clone(),
            storage.clone(),
            FarmConfig::new(settings.job_lease, settings.heartbeat_interval),
            farm_metrics,
        );
        let ingest = IngestSettings::from(settings);
        Ok(Self { db, storage, metrics, auth, uploads, ingest, playback: None, farm, clock: Clock::system(), cursors })
    }

    /// Makes playback URLs with `playback`.
    pub fn with_playback(mut self, playback: Playback) -> Self {
        self.playback = Some(playback);
        self
    }

    /// Reads the time from `clock` (tests pass a [`crate::clock::TestClock`]'s).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// So that handlers on a satellite's state, which holds this one, know their [`crate::auth::Caller`].
impl AsRef<AppState> for AppState {
    fn as_ref(&self) -> &AppState {
        self
    }
}

/// A header value from a string the API made itself.
pub fn header_value(text: &str) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(text).unwrap_or_else(|_| axum::http::HeaderValue::from_static("-"))
}
