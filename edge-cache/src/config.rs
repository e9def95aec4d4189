//! The edge's settings, with every default a documented `const`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use marquee_http::ConnectionSettings;

use crate::freshness::FreshnessPolicy;

/// Where the edge listens unless told otherwise: all IPv4 interfaces, port 8081.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8081));
/// Memory budget for object bodies: the memory tier plus the bodies of fills in flight.
pub const DEFAULT_MEMORY_BYTES: u64 = 512 * 1024 * 1024;
/// Unless set, the fill budget is this fraction (1/N) of the memory budget; the memory tier gets the rest.
pub const DEFAULT_FILL_MEMORY_DIVISOR: u64 = 8;
/// Largest object kept in memory (bigger ones live on disk only).
pub const DEFAULT_MEMORY_MAX_OBJECT_BYTES: u64 = 16 * 1024 * 1024;
/// Disk tier budget (only with a disk directory).
pub const DEFAULT_DISK_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// Largest object the edge fills through itself; a bigger response fails its fill (502) rather than being
/// held whole. Segments are a few MB.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 64 * 1024 * 1024;
/// How long to wait for an upstream to accept a connection before trying the next one.
pub const DEFAULT_UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for an upstream's response headers, and then for each body chunk.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// An upstream that failed to connect or answer is skipped for this long (unless every upstream is).
pub const DEFAULT_UPSTREAM_DOWN_FOR: Duration = Duration::from_secs(10);
/// How often each upstream's `/healthz` is probed.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// Lifetime of the tokens the edge signs for its upstream requests.
pub const DEFAULT_UPSTREAM_TOKEN_TTL: Duration = Duration::from_secs(300);
/// Media segments fetched ahead after a segment miss (0: no prefetch).
pub const DEFAULT_PREFETCH_SEGMENTS: usize = 0;

/// Worker threads of `marquee edge` (one single-threaded runtime each); 0: one per CPU.
pub const DEFAULT_WORKERS: usize = 0;

/// Everything `marquee edge` can be told. `Default` uses the `DEFAULT_*` consts of this module.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Base URLs of the upstreams (origins, or shield edges): `http://host:port`. A key goes to its
    /// rendezvous-hash owner first, then to the others in rank order when that one is down.
    pub upstreams: Vec<String>,
    /// See [`DEFAULT_MEMORY_BYTES`]: the memory tier gets this less [`EdgeConfig::fill_bytes`].
    pub memory_bytes: u64,
    /// Part of `memory_bytes` that the bodies of fills in flight may hold at once (a fill waits for room, up
    /// to `upstream_timeout`, then fails with 503). `None`: `memory_bytes / DEFAULT_FILL_MEMORY_DIVISOR`.
    pub fill_memory_bytes: Option<u64>,
    /// See [`DEFAULT_MEMORY_MAX_OBJECT_BYTES`].
    pub memory_max_object_bytes: u64,
    /// Directory of the disk tier; `None`: memory only.
    pub disk_dir: Option<PathBuf>,
    /// See [`DEFAULT_DISK_BYTES`].
    pub disk_bytes: u64,
    /// See [`DEFAULT_MAX_OBJECT_BYTES`].
    pub max_object_bytes: u64,
    /// Lifetimes where the upstream leaves room.
    pub freshness: FreshnessPolicy,
    /// See [`DEFAULT_UPSTREAM_CONNECT_TIMEOUT`].
    pub upstream_connect_timeout: Duration,
    /// See [`DEFAULT_UPSTREAM_TIMEOUT`].
    pub upstream_timeout: Duration,
    /// See [`DEFAULT_UPSTREAM_DOWN_FOR`].
    pub upstream_down_for: Duration,
    /// See [`DEFAULT_HEALTH_INTERVAL`].
    pub health_interval: Duration,
    /// See [`DEFAULT_UPSTREAM_TOKEN_TTL`].
    pub upstream_token_ttl: Duration,
    /// See [`DEFAULT_PREFETCH_SEGMENTS`].
    pub prefetch_segments: usize,
    /// Query parameters that are part of the cache key (such as a `v` that busts caches); every other one
    /// (tracking, the token) is dropped from the key and from the upstream request. Empty by default.
    pub cache_query_params: Vec<String>,
    /// Bearer token the purge API requires; `None`: the purge API is off.
    pub purge_token: Option<String>,
    /// See [`DEFAULT_WORKERS`]; used by `marquee edge` ([`crate::EdgeServer::run_on_worker_threads`]).
    pub workers: usize,
    /// Client connections: timeouts, limits, shutdown grace (the origin's defaults).
    pub connections: ConnectionSettings,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            upstreams: Vec::new(),
            memory_bytes: DEFAULT_MEMORY_BYTES,
            fill_memory_bytes: None,
            memory_max_object_bytes: DEFAULT_MEMORY_MAX_OBJECT_BYTES,
            disk_dir: None,
            disk_bytes: DEFAULT_DISK_BYTES,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            freshness: FreshnessPolicy::default(),
            upstream_connect_timeout: DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            upstream_down_for: DEFAULT_UPSTREAM_DOWN_FOR,
            health_interval: DEFAULT_HEALTH_INTERVAL,
            upstream_token_ttl: DEFAULT_UPSTREAM_TOKEN_TTL,
            prefetch_segments: DEFAULT_PREFETCH_SEGMENTS,
            cache_query_params: Vec::new(),
            purge_token: None,
            workers: DEFAULT_WORKERS,
            connections: ConnectionSettings::default(),
        }
    }
}

impl EdgeConfig {
    /// The fill budget: [`EdgeConfig::fill_memory_bytes`] or its default share of `memory_bytes`.
    pub fn fill_bytes(&self) -> u64 {
        self.fill_memory_bytes.unwrap_or(self.memory_bytes / DEFAULT_FILL_MEMORY_DIVISOR)
    }

    /// The memory tier's budget: `memory_bytes` less the fill budget.
    pub fn memory_tier_bytes(&self) -> u64 {
        self.memory_bytes.saturating_sub(self.fill_bytes())
    }

    /// Every problem with the settings, reported at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.upstreams.is_empty() {
            problems.push("at least one upstream is needed (an origin or a shield edge: http://host:port)".into());
        }
        for upstream in &self.upstreams {
            match upstream.parse::<http::Uri>() {
                Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
                    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
                        problems.push(format!("upstream {upstream}: give only scheme, host and port"));
                    }
                }
                _ => problems.push(format!("upstream {upstream}: not an http://host:port URL")),
            }
        }
        let fill = self.fill_bytes();
        if fill < 1024 || fill.saturating_mul(2) > self.memory_bytes {
            problems.push(format!(
                "fill_memory ({fill} bytes) must be at least 1 KiB and at most half of memory_bytes ({})",
                self.memory_bytes
            ));
        } else if self.memory_max_object_bytes == 0 || self.memory_max_object_bytes * 2 > self.memory_tier_bytes() {
            problems.push(format!(
                "memory_max_object_bytes must be more than 0 and at most half of the memory tier, which is \
                 memory_bytes less fill_memory ({} bytes)",
                self.memory_tier_bytes()
            ));
        }
        if self.max_object_bytes == 0 {
            problems.push("max_object_bytes must be more than 0".into());
        }
        if self.disk_dir.is_some() && self.disk_bytes == 0 {
            problems.push("disk_bytes must be more than 0 when a disk directory is set".into());
        }
        for (name, value) in [
            ("upstream_connect_timeout", self.upstream_connect_timeout),
            ("upstream_timeout", self.upstream_timeout),
            ("health_interval", self.health_interval),
            ("upstream_token_ttl", self.upstream_token_ttl),
        ] {
            if value.is_zero() {
                problems.push(format!("{name} must be more than zero"));
            }
        }
        if self.prefetch_segments > crate::key::MAX_NEXT_SEGMENTS {
            problems.push(format!("prefetch_segments must be at most {}", crate::key::MAX_NEXT_SEGMENTS));
        }
        if let Err(error) = crate::key::QueryAllowList::new(self.cache_query_params.iter().cloned()) {
            problems.push(format!("cache_query_params: {error}"));
        }
        problems.extend(self.connections.problems());
        if self.purge_token.as_deref().is_some_and(|token| token.len() < 16) {
            problems.push("purge_token must be at least 16 characters".into());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_only_an_upstream() {
        assert_eq!(EdgeConfig::default().problems().len(), 1);
        let config = EdgeConfig { upstreams: vec!["http://127.0.0.1:8080".into()], ..EdgeConfig::default() };
        assert_eq!(config.problems(), Vec::<String>::new());
    }

    #[test]
    fn the_fill_budget_is_carved_out_of_the_memory_budget() {
        let mut config = EdgeConfig { upstreams: vec!["http://127.0.0.1:8080".into()], ..EdgeConfig::default() };
        assert_eq!(config.fill_bytes(), DEFAULT_MEMORY_BYTES / DEFAULT_FILL_MEMORY_DIVISOR);
        assert_eq!(config.memory_tier_bytes() + config.fill_bytes(), config.memory_bytes);
        config.fill_memory_bytes = Some(config.memory_bytes / 2 + 1);
        assert_eq!(config.problems().len(), 1, "{:?}", config.problems());
        config.fill_memory_bytes = Some(config.memory_bytes / 2);
        config.memory_max_object_bytes = config.memory_bytes / 4 + 1;
        assert_eq!(config.problems().len(), 1, "the object limit is checked against the tier's share");
    }

    #[test]
    fn every_problem_at_once() {
        let config = EdgeConfig {
            upstreams: vec!["ftp://x".into(), "http://h:1/path".into()],
            memory_max_object_bytes: 0,
            upstream_timeout: Duration::ZERO,
            purge_token: Some("short".into()),
            cache_query_params: vec!["v".into(), "token".into()],
            ..EdgeConfig::default()
        };
        assert_eq!(config.problems().len(), 6, "{:?}", config.problems());
    }
}
