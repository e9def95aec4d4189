//! The edge's settings, with every default a documented `const`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use marquee_http::ConnectionSettings;
use marquee_settings::{Problem, Settings};
use serde::{Deserialize, Serialize};

use crate::freshness::FreshnessPolicy;
use crate::memory::ENTRY_OVERHEAD_BYTES;

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

const ACCESS: &str = "Access";
const LISTENING: &str = "Listening";
const UPSTREAM_REQUESTS: &str = "Upstream requests";
const CACHE: &str = "Cache tiers";

/// Everything `marquee edge` can be told: the `[edge]` section of `marquee.toml`, its flags and its
/// `MARQUEE_EDGE_*` variables all come from this declaration, and each field's doc is its `--help` text.
/// `Default` uses the `DEFAULT_*` consts of this module. The key file and TLS files are read by `marquee
/// edge`, which hands [`crate::EdgeServer::bind`] what it read; the server uses the rest.
#[derive(Debug, Clone, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(section = "edge", env_prefix = "MARQUEE_EDGE")]
pub struct EdgeConfig {
    /// An upstream base URL (an origin, or a shield edge): http://host:port. Repeat the flag, or separate
    /// them with commas in the variable, for several; each object goes to its rendezvous-hash owner first
    /// and fails over to the others in a fixed order. At least one is required.
    #[serde(deserialize_with = "upstream_list")]
    #[setting(flag = "upstream", value_name = "URL", placeholder = "http://origin-a:8080,http://origin-b:8080")]
    pub upstreams: Vec<String>,
    /// Signing keys (the origin's key file, made by `marquee keygen`): players' tokens are checked here, bad
    /// ones never reach the upstream, and the edge signs its own upstream requests with the current key.
    /// This or --unsigned is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(env = "MARQUEE_KEY_FILE", value_name = "FILE", heading = ACCESS, placeholder = "keys.toml")]
    pub key_file: Option<PathBuf>,
    /// Serve without tokens, and ask the upstream unsigned. Only for public content or development.
    #[setting(no_env, heading = ACCESS)]
    pub unsigned: bool,
    /// Bearer token of the purge API (POST /.marquee/purge?target=asset/), at least 16 characters; without
    /// it the API is off. A config file that holds it should be readable by the edge's user only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(value_name = "TOKEN", hide_env_values, heading = ACCESS, placeholder = "replace-with-32-random-hex-digits")]
    pub purge_token: Option<String>,
    /// Address to listen on. Port 0 picks a free port; the address is printed once listening.
    #[serde(with = "marquee_settings::human::socket_address")]
    #[setting(value_name = "ADDR", heading = LISTENING)]
    pub listen: SocketAddr,
    /// PEM certificate chain: with --tls-key, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(value_name = "FILE", heading = LISTENING, placeholder = "cert.pem")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(value_name = "FILE", heading = LISTENING, placeholder = "key.pem")]
    pub tls_key: Option<PathBuf>,
    /// How long to wait for an upstream to accept a connection before trying the next one.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = UPSTREAM_REQUESTS)]
    pub upstream_connect_timeout: Duration,
    /// How long to wait for an upstream's response headers, and then for each body chunk.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = UPSTREAM_REQUESTS)]
    pub upstream_timeout: Duration,
    /// How long an upstream that failed to connect or answer is skipped before it is tried again (unless
    /// every upstream is).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = UPSTREAM_REQUESTS)]
    pub upstream_down_for: Duration,
    /// How often each upstream's /healthz is probed.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = UPSTREAM_REQUESTS)]
    pub health_interval: Duration,
    /// Lifetime of the tokens the edge signs for its own upstream requests (with a key file).
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION", heading = UPSTREAM_REQUESTS)]
    pub upstream_token_ttl: Duration,
    /// Memory budget for object bodies: the memory tier plus the bodies being fetched (--fill-memory of it).
    /// The process needs this plus a few tens of MB (benches/edge-rss.sh measures it).
    #[serde(rename = "memory", with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = CACHE)]
    pub memory_bytes: u64,
    /// Part of --memory that bodies being fetched from upstream may hold at once; the memory tier gets the
    /// rest. When misses need more, they wait for room (up to --upstream-timeout, then 503). Default: an eighth
    /// of --memory; at most half of it.
    #[serde(
        rename = "fill_memory",
        with = "marquee_settings::human::bytes_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[setting(value_name = "SIZE", heading = CACHE, placeholder = "64MiB")]
    pub fill_memory_bytes: Option<u64>,
    /// Largest object kept in memory (bigger ones live on disk only); at most half of the memory tier (--memory
    /// less --fill-memory).
    #[serde(rename = "memory_max_object", with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = CACHE)]
    pub memory_max_object_bytes: u64,
    /// Directory of the disk tier, kept across restarts and created if missing. Without it the edge caches
    /// in memory only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[setting(value_name = "DIR", heading = CACHE, placeholder = "/var/cache/marquee")]
    pub disk_dir: Option<PathBuf>,
    /// Disk tier budget, with --disk-dir.
    #[serde(rename = "disk", with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = CACHE)]
    pub disk_bytes: u64,
    /// Largest object the edge fills through itself: a bigger upstream response fails its fill (502) rather
    /// than being held whole.
    #[serde(with = "marquee_settings::human::bytes")]
    #[setting(value_name = "SIZE", heading = CACHE)]
    pub max_object_bytes: u64,
    /// A query parameter that is part of the cache key and is sent upstream, such as a cache-busting `v`.
    /// Repeat the flag, or separate names with commas in the variable. Every other parameter (tracking, the
    /// token) is dropped, so all viewers share one copy. Default: none.
    #[setting(flag = "cache-query-param", value_name = "NAME", heading = CACHE, placeholder = "v")]
    pub cache_query_params: Vec<String>,
    /// After a media segment miss, fetch this many following segments in the background (0: off).
    #[serde(rename = "prefetch")]
    #[setting(value_name = "N", heading = CACHE)]
    pub prefetch_segments: usize,
    /// Worker threads, each with its own single-threaded runtime accepting on the shared socket (connections
    /// stay on the thread that accepted them); 0: one per CPU.
    #[setting(value_name = "N", heading = LISTENING)]
    pub workers: usize,
    /// Lifetimes where the upstream leaves room.
    #[setting(flatten)]
    pub freshness: FreshnessPolicy,
    /// Client connections: timeouts, limits, shutdown grace (the origin's defaults).
    #[setting(flatten)]
    pub connections: ConnectionSettings,
}

/// A list of upstream URLs, with a message that shows the list syntax when a single string is given.
fn upstream_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    match OneOrMany::deserialize(deserializer) {
        Ok(OneOrMany::Many(list)) => Ok(list),
        Ok(OneOrMany::One(url)) => {
            Err(serde::de::Error::custom(format!("must be a list, even of one: upstreams = [{url:?}]")))
        }
        Err(_) => {
            Err(serde::de::Error::custom("must be a list of http://host:port URLs, such as [\"http://origin:8080\"]"))
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            upstreams: Vec::new(),
            key_file: None,
            unsigned: false,
            tls_cert: None,
            tls_key: None,
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

    /// Every problem with the values, reported at once, each about the setting it concerns: what the edge
    /// checks itself, the memory tier's own limits (which [`crate::EdgeServer::bind`] applies too), and what
    /// would make the upstream ring or the purge API unusable. The files the settings name are not read here.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.upstreams.is_empty() {
            problems.push(Problem::new(
                "upstreams",
                "no upstream: set `upstreams` under [edge], --upstream or MARQUEE_EDGE_UPSTREAMS to the origins (or \
                 shield edges) to fill from, such as [\"http://origin:8080\"]",
            ));
        }
        for upstream in &self.upstreams {
            match upstream.parse::<http::Uri>() {
                Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
                    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
                        problems.push(Problem::new(
                            "upstreams",
                            format!("upstream {upstream}: give only scheme, host and port"),
                        ));
                    }
                }
                _ => problems
                    .push(Problem::new("upstreams", format!("upstream {upstream}: not an http://host:port URL"))),
            }
        }
        let fill = self.fill_bytes();
        if fill < 1024 || fill.saturating_mul(2) > self.memory_bytes {
            problems.push(
                Problem::new("fill_memory", format!("({fill} bytes) must be at least 1 KiB and at most half of "))
                    .setting("memory")
                    .text(format!(" ({})", self.memory_bytes)),
            );
        } else if self.memory_max_object_bytes == 0 || self.memory_max_object_bytes * 2 > self.memory_tier_bytes() {
            problems.push(
                Problem::new("memory_max_object", "must be more than 0 and at most half of the memory tier, which is ")
                    .setting("memory")
                    .text(" less ")
                    .setting("fill_memory")
                    .text(format!(" ({} bytes)", self.memory_tier_bytes())),
            );
        }
        if self.max_object_bytes == 0 {
            problems.push(Problem::new("max_object_bytes", "must be more than 0"));
        }
        if self.disk_dir.is_some() && self.disk_bytes == 0 {
            problems.push(Problem::new("disk", "must be more than 0 when a disk directory is set"));
        }
        for (key, value) in [
            ("upstream_connect_timeout", self.upstream_connect_timeout),
            ("upstream_timeout", self.upstream_timeout),
            ("health_interval", self.health_interval),
            ("upstream_token_ttl", self.upstream_token_ttl),
        ] {
            if value.is_zero() {
                problems.push(Problem::new(key, "must be more than zero"));
            }
        }
        if self.prefetch_segments > crate::key::MAX_NEXT_SEGMENTS {
            problems.push(Problem::new("prefetch", format!("must be at most {}", crate::key::MAX_NEXT_SEGMENTS)));
        }
        if let Err(error) = crate::key::QueryAllowList::new(self.cache_query_params.iter().cloned()) {
            problems.push(Problem::new("cache_query_params", error.to_string()));
        }
        problems.extend(self.connections.problems());
        if self.purge_token.as_deref().is_some_and(|token| token.len() < 16) {
            problems.push(Problem::new("purge_token", "must be at least 16 characters"));
        }
        // The memory tier's own limits (MemoryConfig::problems); its half-of-capacity rule is checked above.
        if !problems.iter().any(|p| p.key == "memory_max_object") {
            if self.memory_max_object_bytes <= ENTRY_OVERHEAD_BYTES {
                problems.push(Problem::new(
                    "memory_max_object",
                    format!("must exceed the per-entry overhead ({ENTRY_OVERHEAD_BYTES} bytes)"),
                ));
            }
            if self.memory_max_object_bytes > u64::from(u32::MAX) {
                problems.push(Problem::new("memory_max_object", format!("must be at most {}", u32::MAX)));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for upstream in &self.upstreams {
            if !seen.insert(upstream.trim_end_matches('/')) {
                problems.push(Problem::new("upstreams", format!("upstream {upstream} is listed more than once")));
            }
        }
        if self.purge_token.as_deref().is_some_and(|token| !token.chars().all(|c| c.is_ascii_graphic())) {
            problems.push(Problem::new(
                "purge_token",
                "must be printable ASCII without spaces: it is sent as `Authorization: Bearer TOKEN`",
            ));
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
        assert_eq!(config.problems(), Vec::<Problem>::new());
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
