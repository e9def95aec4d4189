//! The origin's settings, with every default a documented `const`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

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
/// Everything `marquee origin` can be told. `Default` uses the `DEFAULT_*` consts of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginConfig {
    /// Address to listen on; port 0 picks a free port ([`crate::Origin::local_addr`] tells which).
    pub listen: SocketAddr,
    /// Client connections: timeouts, limits, shutdown grace ([`ConnectionSettings`], with the defaults of
    /// [`marquee_http::connections`]).
    pub connections: ConnectionSettings,
    /// See [`DEFAULT_MAX_BUFFERED_BYTES`].
    pub max_buffered_bytes: u64,
    /// See [`DEFAULT_BODY_CHUNK_BYTES`].
    pub body_chunk_bytes: usize,
    /// See [`DEFAULT_WORKERS`].
    pub workers: usize,
    /// See [`DEFAULT_HOT_CACHE_BYTES`].
    pub hot_cache_bytes: u64,
    /// See [`DEFAULT_HOT_OBJECT_MAX_BYTES`].
    pub hot_object_max_bytes: u64,
    /// See [`DEFAULT_HOT_OBJECT_TTL`].
    pub hot_object_ttl: Duration,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this certificate instead of cleartext. Default: none,
    /// cleartext HTTP/1.1 and h2c, for use behind a TLS-terminating edge.
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
    /// Every problem with the settings, so that `marquee config check` can report them all at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.connections.problems();
        if self.body_chunk_bytes == 0 || self.body_chunk_bytes > u32::MAX as usize {
            problems.push("body_chunk_bytes must be between 1 byte and 4 GiB".to_owned());
        }
        if self.max_buffered_bytes < self.body_chunk_bytes as u64 {
            problems.push("max_buffered_bytes must be at least body_chunk_bytes".to_owned());
        }
        if self.hot_cache_bytes > 0 {
            if self.hot_object_max_bytes == 0 || self.hot_object_max_bytes > self.hot_cache_bytes {
                problems.push("hot_object_max_bytes must be between 1 byte and hot_cache_bytes".to_owned());
            }
            if self.hot_object_max_bytes > u64::from(u32::MAX) {
                problems.push("hot_object_max_bytes must be at most 4 GiB".to_owned());
            }
            if self.hot_object_ttl.is_zero() {
                problems.push(
                    "hot_object_ttl must be more than zero (set hot_cache_bytes = 0 to turn the cache off)".to_owned(),
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
        assert_eq!(OriginConfig::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let connections =
            ConnectionSettings { header_read_timeout: Duration::ZERO, max_connections: 0, ..Default::default() };
        let config = OriginConfig { connections, body_chunk_bytes: 0, ..OriginConfig::default() };
        assert_eq!(config.problems().len(), 3, "{:?}", config.problems());
    }
}
