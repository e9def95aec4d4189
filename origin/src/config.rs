//! The origin's settings, with every default a documented `const`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use marquee_settings::{Problem, Settings};
use serde::{Deserialize, Serialize};

pub use marquee_http::{ConnectionSettings, TlsFiles};

/// Where the origin listens unless told otherwise: all IPv4 interfaces, port 8080.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080));
/// Object bytes held in memory by all responses together; a GET that would go over it gets 503. Bodies are
/// streamed from storage, so each GET reserves [`DEFAULT_BODY_CHUNK_BYTES`] (`body_chunk_bytes`) of it for
/// the chunk in hand, whatever its object's size: the default allows 16 384 bodies in flight at once.
pub const DEFAULT_MAX_BUFFERED_BYTES: u64 = 1024 * 1024 * 1024;
/// Size of the body chunks handed to hyper, so that a slow client holds one chunk of write buffer at a time;
/// also each GET's share of [`DEFAULT_MAX_BUFFERED_BYTES`]. `LocalDir` reads in chunks of the same size.
pub const DEFAULT_BODY_CHUNK_BYTES: usize = 256 * 1024;
/// Memory for hot objects: whole small objects (manifests, init and media segments) kept after a read so the
/// next requests for them skip storage. 0 turns the cache off. See [`DEFAULT_HOT_OBJECT_TTL`] for how stale
/// an answer can be.
pub const DEFAULT_HOT_CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Objects larger than this are always streamed from storage, never kept whole in memory.
pub const DEFAULT_HOT_OBJECT_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// How long a hot object is served from memory before storage is read again. An object replaced or deleted in
/// storage (a `--force` republish) is served in its old version for at most this long.
pub const DEFAULT_HOT_OBJECT_TTL: Duration = Duration::from_secs(1);
/// Worker threads, each running its own single-threaded runtime over the shared listening socket; 0: one per
/// CPU. Only `marquee origin` uses it ([`crate::Origin::run_on_worker_threads`]); [`crate::Origin::run`] runs
/// on the caller's runtime.
pub const DEFAULT_WORKERS: usize = 0;
const ACCESS: &str = "Access";
const LISTENING: &str = "Listening";
const CONNECTIONS: &str = "Connections and timeouts";
const MEMORY: &str = "Memory";

/// Everything `marquee origin` can be told: the `[origin]` section of `marquee.toml`, its flags and its
/// `MARQUEE_*` variables all come from this declaration, and each field's doc is its `--help` text. What
/// the server itself runs with is [`OriginConfig`], flattened in; the storage location, key file and TLS files
/// are opened and read by `marquee origin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "origin", env_prefix = "MARQUEE_ORIGIN")]
pub struct OriginSettings {
    /// Where the presentations are: a directory, or s3://bucket/prefix (endpoint and credentials from
    /// MARQUEE_S3_ENDPOINT, MARQUEE_S3_REGION and the AWS environment; see the README). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_STORAGE", value_name = "LOCATION", location, placeholder = "/srv/marquee/media")]
    pub storage: Option<String>,
    /// Signing keys (made by `marquee keygen`): every media request needs a valid token from
    /// `marquee sign`, in the path (/t/TOKEN/asset/…) or as ?token=. This or --unsigned is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_KEY_FILE", value_name = "FILE", heading = ACCESS, placeholder = "keys.toml")]
    pub key_file: Option<PathBuf>,
    /// Serve every object without a token. Only for public content or local development.
    #[setting(no_env, heading = ACCESS)]
    pub unsigned: bool,
    /// What the server runs with.
    #[setting(flatten)]
    pub config: OriginConfig,
    /// PEM certificate chain: with --tls-key, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) instead of
    /// cleartext HTTP/1.1 and h2c.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_TLS_CERT", value_name = "FILE", heading = LISTENING, placeholder = "cert.pem")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_TLS_KEY", value_name = "FILE", heading = LISTENING, placeholder = "key.pem")]
    pub tls_key: Option<PathBuf>,
}

/// What the origin server runs with (a group of [`OriginSettings`]). `Default` uses the `DEFAULT_*` consts of
/// this module; each field's doc is its `--help` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
pub struct OriginConfig {
    /// Address to listen on. Port 0 picks a free port; the address is printed once listening.
    #[serde(with = "marquee_settings::human::socket_address")]
    #[setting(value_name = "ADDR", heading = LISTENING)]
    pub listen: SocketAddr,
    /// Client connections: timeouts, limits, shutdown grace ([`ConnectionSettings`], with the defaults of
    /// [`marquee_http::connections`]).
    #[setting(flatten)]
    pub connections: ConnectionSettings,
    /// Worker threads, each with its own single-threaded runtime accepting on the shared socket (connections
    /// stay on the thread that accepted them, as with nginx's worker processes); 0: one per CPU.
    #[setting(value_name = "N", heading = CONNECTIONS)]
    pub workers: usize,
    /// Object bytes held in memory by all responses together; a GET that would go over it gets 503. Each GET
    /// reserves one body chunk of it, whatever its object's size.
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = MEMORY)]
    pub max_buffered_bytes: u64,
    /// Size of the body chunks handed to a connection (and read from a directory), so a slow client holds one
    /// chunk at a time; also each GET's share of --max-buffered-bytes.
    #[serde(with = "marquee_settings::human::bytes_usize")]
    #[setting(value_name = "SIZE", heading = MEMORY)]
    pub body_chunk_bytes: usize,
    /// Memory for hot objects: whole small objects (manifests, init and media segments) kept after a read, so
    /// the next requests for them skip storage. 0 turns the cache off.
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = MEMORY)]
    pub hot_cache_bytes: u64,
    /// Objects larger than this are always streamed from storage, never kept whole in memory.
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = MEMORY)]
    pub hot_object_max_bytes: u64,
    /// How long a hot object is served from memory before storage is read again: an object replaced in
    /// storage (a `--force` republish) is served in its old version for at most this long.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = MEMORY)]
    pub hot_object_ttl: Duration,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this certificate instead of cleartext. Default: none,
    /// cleartext HTTP/1.1 and h2c, for use behind a TLS-terminating edge. Not a setting itself: `marquee
    /// origin` fills it in from [`OriginSettings::tls_cert`] and [`OriginSettings::tls_key`].
    #[serde(skip)]
    #[setting(skip)]
    pub tls: Option<TlsFiles>,
}

impl Default for OriginConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            connections: ConnectionSettings::default(),
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            body_chunk_bytes: DEFAULT_BODY_CHUNK_BYTES,
            workers: DEFAULT_WORKERS,
            hot_cache_bytes: DEFAULT_HOT_CACHE_BYTES,
            hot_object_max_bytes: DEFAULT_HOT_OBJECT_MAX_BYTES,
            hot_object_ttl: DEFAULT_HOT_OBJECT_TTL,
            tls: None,
        }
    }
}

impl OriginConfig {
    /// Every problem with the values, each about the setting it concerns, so that `marquee config check` can
    /// report them all at once.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = self.connections.problems();
        if self.body_chunk_bytes == 0 || self.body_chunk_bytes > u32::MAX as usize {
            problems.push(Problem::new("body_chunk_bytes", "must be between 1 byte and 4 GiB"));
        }
        if self.max_buffered_bytes < self.body_chunk_bytes as u64 {
            problems.push(Problem::new("max_buffered_bytes", "must be at least ").setting("body_chunk_bytes"));
        }
        if self.hot_cache_bytes > 0 {
            if self.hot_object_max_bytes == 0 || self.hot_object_max_bytes > self.hot_cache_bytes {
                problems.push(
                    Problem::new("hot_object_max_bytes", "must be between 1 byte and ").setting("hot_cache_bytes"),
                );
            }
            if self.hot_object_max_bytes > u64::from(u32::MAX) {
                problems.push(Problem::new("hot_object_max_bytes", "must be at most 4 GiB"));
            }
            if self.hot_object_ttl.is_zero() {
                problems.push(
                    Problem::new("hot_object_ttl", "must be more than zero (set ")
                        .setting("hot_cache_bytes")
                        .text(" to 0 to turn the cache off)"),
                );
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(OriginConfig::default().problems(), Vec::<Problem>::new());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let connections =
            ConnectionSettings { header_read_timeout: Duration::ZERO, max_connections: 0, ..Default::default() };
        let config = OriginConfig { connections, body_chunk_bytes: 0, ..OriginConfig::default() };
        assert_eq!(config.problems().len(), 3, "{:?}", config.problems());
    }
}
