//! The control API's settings, with every default a documented `const`: the `[api]` section of
//! `marquee.toml`, the flags of `marquee api` and its `MARQUEE_API_*` variables all come from [`ApiSettings`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use marquee_http::ConnectionSettings;
use marquee_settings::{Problem, Settings};
use serde::{Deserialize, Serialize};

/// Where the API listens unless told otherwise: all IPv4 interfaces, port 8090.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8090));
/// The embedded default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE: &str = "sqlite:marquee-api.db";
/// The largest JSON request body; larger ones get 413.
pub const DEFAULT_MAX_JSON_BYTES: u64 = 1024 * 1024;

/// The largest file `POST /v1/assets/upload` takes in one request: 64 MiB (larger files go through tus).
pub const DEFAULT_MAX_ONESHOT_BYTES: u64 = 64 << 20;
/// How long an unfinished upload lives after its creation or its last data.
pub const DEFAULT_UPLOAD_EXPIRY: Duration =
    Duration::from_millis(crate::uploads::service::DEFAULT_EXPIRE_AFTER_MS as u64);
/// How often the API looks for expired uploads.
pub const DEFAULT_UPLOAD_EXPIRY_INTERVAL: Duration = crate::uploads::expiry::DEFAULT_EXPIRY_INTERVAL;

/// How long an access token is valid; refresh tokens get new ones.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a login lasts without being refreshed.
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

const STORAGE: &str = "Storage and database";
const SIGN_IN: &str = "Sign-in";
const PLAYBACK: &str = "Playback";
const LISTENING: &str = "Listening";
const WEBHOOKS: &str = "Webhooks";
const FARM: &str = "Transcode farm";

/// How long a webhook receiver has to answer (the Standard Webhooks spec recommends 15 to 30 s).
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = crate::events::dispatcher::DEFAULT_REQUEST_TIMEOUT;
/// How often the webhook dispatcher looks for new events and due retries when it has nothing to do.
pub const DEFAULT_WEBHOOK_POLL_INTERVAL: Duration = crate::events::dispatcher::DEFAULT_POLL_INTERVAL;

/// Serve the web app built into the binary.
pub const DEFAULT_WEB_APP: &str = "embedded";

/// Everything `marquee api` can be told. Each field's doc is its `--help` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "api", env_prefix = "MARQUEE_API")]
pub struct ApiSettings {
    /// Address to listen on. Port 0 picks a free port; the address is printed once listening.
    #[serde(with = "marquee_settings::human::socket_address")]
    #[setting(value_name = "ADDR", heading = LISTENING)]
    pub listen: SocketAddr,
    /// The database: sqlite:PATH (the embedded default, created on first start; one API process owns it) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (any number of API instances may share it). Migrations
    /// are applied at start.
    #[setting(env = "MARQUEE_DATABASE", value_name = "URL", heading = STORAGE, hide_env_values)]
    pub database: String,
    /// Where uploads and published presentations are kept: a directory, or s3://bucket/prefix (endpoint
    /// and credentials from MARQUEE_S3_ENDPOINT, MARQUEE_S3_REGION and the AWS environment). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_STORAGE", value_name = "LOCATION", location, heading = STORAGE, placeholder = "/srv/marquee/media")]
    pub storage: Option<String>,
    /// The largest JSON request body; larger ones are refused with 413.
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = LISTENING)]
    pub max_json_bytes: u64,
    /// The largest upload accepted (tus creation of a longer one is refused with 413; `Tus-Max-Size`).
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = STORAGE)]
    pub max_upload_bytes: u64,
    /// How long an unfinished upload lives after its creation or its last data (`Upload-Expires`). Then it is
    /// removed with what it stored, and its asset becomes `errored` with the code `upload_expired`.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = STORAGE)]
    pub upload_expiry: Duration,
    /// How often the API looks for expired uploads to remove.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = STORAGE)]
    pub upload_expiry_interval: Duration,
    /// The largest file accepted in one request by POST /v1/assets/upload (413 above it); larger files go
    /// through tus (/v1/uploads).
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = STORAGE)]
    pub max_oneshot_bytes: u64,
    /// Let `input_url` assets name loopback, private and link-local addresses. Off by default, since the URLs
    /// are chosen by users, who must not reach the API's or the workers' own machines or network through them;
    /// tests and single-machine setups that serve sources locally need it. Workers fetching sources should be
    /// told the same.
    #[setting(heading = STORAGE)]
    pub allow_private_input_urls: bool,
    /// Signing keys (`marquee keygen`; the same file the origin and edges verify with): playback URLs are
    /// signed with its current key. Without it, playback requests answer 503.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_KEY_FILE", value_name = "FILE", heading = PLAYBACK, placeholder = "keys.toml")]
    pub key_file: Option<PathBuf>,
    /// Where players fetch media: the edge (or origin) base URL, http(s)://host[:port], that playback URLs
    /// start with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(value_name = "URL", heading = PLAYBACK, placeholder = "https://cdn.example.com")]
    pub playback_base_url: Option<String>,
    /// How long playback URLs are valid. Short (minutes): players ask again at the answer's `refresh_at`, and
    /// each request checks the viewer's entitlement again, so a canceled subscription stops within one lifetime.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = PLAYBACK)]
    pub playback_ttl: Duration,
    /// How long an access token (a JWT) is valid; clients refresh it with their refresh token.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = SIGN_IN)]
    pub access_token_ttl: Duration,
    /// How long a login lasts without a refresh; each refresh extends it by this much.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = SIGN_IN)]
    pub refresh_token_ttl: Duration,
    /// Refuse sign-up (POST /v1/auth/register): admins create every account.
    #[setting(heading = SIGN_IN)]
    pub no_registration: bool,
    /// The web app, served at every path the API does not take: `embedded` (the build inside this binary),
    /// `off` (the API alone), or a folder with a `vite build` output of web-app/frontend (to work on the app
    /// without rebuilding marquee).
    #[setting(value_name = "embedded|off|DIR", heading = LISTENING)]
    pub web_app: String,
    /// Let webhooks go to loopback, private and link-local addresses. Off by default, since endpoint URLs are
    /// chosen by users, who must not reach the API's own machine or network through them; tests and
    /// single-machine setups whose receivers run on the same machine need it.
    #[setting(heading = WEBHOOKS)]
    pub webhook_allow_private_networks: bool,
    /// How long a webhook receiver has to answer before the attempt counts as failed (and is retried).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = WEBHOOKS)]
    pub webhook_timeout: Duration,
    /// How often the webhook dispatcher looks for new events and due retries when idle: the longest a new
    /// event waits before it is sent.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = WEBHOOKS)]
    pub webhook_poll_interval: Duration,
    /// How long a worker's claim on a job lasts without a heartbeat: a worker that dies loses its job to another
    /// this long after its last heartbeat.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = FARM)]
    pub job_lease: Duration,
    /// How often workers send heartbeats (told at registration): a canceled job stops within this time.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = FARM)]
    pub heartbeat_interval: Duration,
    /// Client connections: timeouts, limits, shutdown grace.
    #[setting(flatten)]
    pub connections: ConnectionSettings,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            database: DEFAULT_DATABASE.to_string(),
            storage: None,
            max_json_bytes: DEFAULT_MAX_JSON_BYTES,
            max_upload_bytes: crate::uploads::service::DEFAULT_MAX_UPLOAD_BYTES,
            upload_expiry: DEFAULT_UPLOAD_EXPIRY,
            upload_expiry_interval: DEFAULT_UPLOAD_EXPIRY_INTERVAL,
            max_oneshot_bytes: DEFAULT_MAX_ONESHOT_BYTES,
            allow_private_input_urls: false,
            key_file: None,
            playback_base_url: None,
            playback_ttl: crate::playback::DEFAULT_PLAYBACK_TTL,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
            no_registration: false,
            web_app: DEFAULT_WEB_APP.to_string(),
            webhook_allow_private_networks: false,
            webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            webhook_poll_interval: DEFAULT_WEBHOOK_POLL_INTERVAL,
            job_lease: crate::farm::config::DEFAULT_JOB_LEASE,
            heartbeat_interval: crate::farm::config::DEFAULT_HEARTBEAT_INTERVAL,
            connections: ConnectionSettings::default(),
        }
    }
}

impl ApiSettings {
    /// What is wrong with these values, each about its key.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = self.connections.problems();
        if let Err(e) = crate::db::engine_of(&self.database) {
            problems.push(Problem::new("database", e.to_string()));
        }
        if self.max_json_bytes < 1024 {
            problems.push(Problem::new("max_json_bytes", "must be at least 1 KiB"));
        }
        if self.max_upload_bytes == 0 || self.max_upload_bytes > marquee_storage::multipart::MAX_OBJECT_SIZE {
            problems.push(Problem::new("max_upload_bytes", "must be between 1 byte and 5 TiB (the S3 object limit)"));
        }
        if self.upload_expiry < Duration::from_secs(1) || self.upload_expiry > Duration::from_secs(365 * 24 * 3600) {
            problems.push(Problem::new("upload_expiry", "must be between 1s and 365 days"));
        }
        if self.upload_expiry_interval < Duration::from_millis(10)
            || self.upload_expiry_interval > Duration::from_secs(3600)
        {
            problems.push(Problem::new("upload_expiry_interval", "must be between 10ms and 1h"));
        }
        if self.max_oneshot_bytes == 0 || self.max_oneshot_bytes > self.max_upload_bytes {
            problems.push(Problem::new("max_oneshot_bytes", "must be between 1 byte and max_upload_bytes"));
        }
        if let Some(url) = &self.playback_base_url {
            if let Some(problem) = base_url_problem(url) {
                problems.push(Problem::new("playback_base_url", problem));
            }
        }
        if self.key_file.is_some() != self.playback_base_url.is_some() {
            let missing = if self.key_file.is_some() { "playback_base_url" } else { "key_file" };
            problems.push(Problem::new(missing, "playback URLs need both key_file and playback_base_url"));
        }
        if self.playback_ttl < Duration::from_secs(60) {
            problems.push(Problem::new("playback_ttl", "must be at least 1m"));
        }
        if self.access_token_ttl < Duration::from_secs(10) || self.access_token_ttl > Duration::from_secs(24 * 3600) {
            problems.push(Problem::new("access_token_ttl", "must be between 10s and 24h"));
        }
        if self.refresh_token_ttl <= self.access_token_ttl {
            problems.push(Problem::new("refresh_token_ttl", "must be longer than access_token_ttl"));
        }
        if self.webhook_timeout < Duration::from_secs(1) || self.webhook_timeout > Duration::from_secs(60) {
            problems.push(Problem::new("webhook_timeout", "must be between 1s and 60s"));
        }
        if self.webhook_poll_interval < Duration::from_millis(10)
            || self.webhook_poll_interval > Duration::from_secs(60)
        {
            problems.push(Problem::new("webhook_poll_interval", "must be between 10ms and 60s"));
        }
        if self.job_lease < Duration::from_secs(1) || self.job_lease > Duration::from_secs(3600) {
            problems.push(Problem::new("job_lease", "must be between 1s and 1h"));
        }
        if self.heartbeat_interval < Duration::from_millis(100) || self.heartbeat_interval * 3 > self.job_lease {
            problems.push(Problem::new(
                "heartbeat_interval",
                "must be at least 100ms and at most a third of job_lease (so one lost heartbeat does not lose the job)",
            ));
        }
        problems
    }
}

/// What is wrong with a base URL for playback, if anything: it must be `http(s)://host[:port]`.
pub fn base_url_problem(url: &str) -> Option<&'static str> {
    let url = url.trim_end_matches('/');
    let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match host {
        None => Some("must start with http:// or https://"),
        Some(host) if host.is_empty() || host.contains(['/', '?', '#', ' ']) => {
            Some("must be a scheme and host (and port) only, like https://cdn.example.com")
        }
        Some(_) => None,
    }
}

/// What one-shot uploads and `input_url` assets may take; the handlers' part of [`ApiSettings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestSettings {
    /// `max_oneshot_bytes`.
    pub max_oneshot_bytes: u64,
    /// `allow_private_input_urls`.
    pub allow_private_input_urls: bool,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self::from(&ApiSettings::default())
    }
}

impl From<&ApiSettings> for IngestSettings {
    fn from(api: &ApiSettings) -> Self {
        Self { max_oneshot_bytes: api.max_oneshot_bytes, allow_private_input_urls: api.allow_private_input_urls }
    }
}

impl From<&ApiSettings> for crate::events::dispatcher::DispatcherSettings {
    /// The dispatcher `marquee api` runs: the `webhook_*` settings, the defaults for the rest.
    fn from(api: &ApiSettings) -> Self {
        Self {
            request_timeout: api.webhook_timeout,
            poll_interval: api.webhook_poll_interval,
            allow_private_networks: api.webhook_allow_private_networks,
            ..Self::default()
        }
    }
}
