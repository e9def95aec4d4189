//! How client connections are served, by every Marquee HTTP service: timeouts, limits and the shutdown grace,
//! with every default a documented `const`.

use std::time::Duration;

use marquee_settings::{Problem, Settings};

use crate::client::ProxyRange;
use serde::{Deserialize, Serialize};

/// How long an HTTP/1 client may take to send a request's headers. The same timer runs while a keep-alive
/// connection waits for its next request, so it is also the HTTP/1 idle timeout.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response write may make no progress (a client that stopped reading) before the connection is
/// dropped.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2: how often an idle connection is pinged; a ping unanswered for the same time closes it.
pub const DEFAULT_HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// HTTP/1 read buffer, which bounds the request line plus headers (over it: 431). hyper's minimum is 8 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most headers in one HTTP/1 request (hyper answers 431 above it).
pub const DEFAULT_MAX_HEADERS: usize = 64;
/// HTTP/2 streams one connection may have open at once.
pub const DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS: u32 = 128;
/// Connections served at once; further clients wait in the kernel's accept queue.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// How long shutdown waits for in-flight responses before dropping the connections that are left.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How client connections are served: a group of settings that every service flattens into its own section
/// (`[origin]`, `[edge]`), with its own variables (`MARQUEE_EDGE_WRITE_TIMEOUT`). Each field's doc is its
/// `--help` text; `Default` uses the `DEFAULT_*` consts of this module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Settings)]
#[serde(default, deny_unknown_fields)]
#[settings(heading = "Connections and timeouts")]
pub struct ConnectionSettings {
    /// How long an HTTP/1 client may take to send a request's headers; also how long an idle keep-alive
    /// connection is kept open.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub header_read_timeout: Duration,
    /// How long a response write may make no progress (a client that stopped reading) before the connection
    /// is dropped.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub write_timeout: Duration,
    /// HTTP/2: how often an idle connection is pinged; a ping unanswered for as long closes it.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub http2_keep_alive: Duration,
    /// Connections served at once; further clients wait in the kernel's accept queue.
    #[setting(value_name = "N")]
    pub max_connections: usize,
    /// HTTP/2 streams one connection may have open at once.
    #[setting(value_name = "N")]
    pub http2_max_concurrent_streams: u32,
    /// HTTP/1 read buffer, which bounds the request line plus headers (answered 431 above it). Values under
    /// 8KiB are raised to 8KiB.
    #[serde(with = "marquee_settings::human::bytes_usize")]
    #[setting(value_name = "SIZE")]
    pub max_header_bytes: usize,
    /// Most headers in one HTTP/1 request (answered 431 above it).
    #[setting(value_name = "N")]
    pub max_headers: usize,
    /// How long shutdown (Ctrl-C, SIGTERM) waits for in-flight responses before dropping the connections
    /// that are left.
    #[serde(with = "marquee_settings::human::duration")]
    #[setting(value_name = "DURATION")]
    pub shutdown_grace: Duration,
    /// An address or CIDR range of the load balancers or TLS terminators in front of this server. A request
    /// from one of them counts as coming from the address its X-Forwarded-For names (the nearest one that is
    /// not itself a trusted proxy), for tokens bound to a client IP. Repeat the flag, or separate them with
    /// commas in the variable. Default: none, every peer is the client.
    #[setting(flag = "trusted-proxy", value_name = "ADDR", placeholder = "10.0.0.0/8")]
    pub trusted_proxies: Vec<ProxyRange>,
}

impl ConnectionSettings {
    /// Every problem with these settings, each about its key.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("write_timeout", self.write_timeout),
            ("http2_keep_alive", self.http2_keep_alive),
        ] {
            if value.is_zero() {
                problems.push(Problem::new(key, "must be more than zero"));
            }
        }
        for (key, value) in [
            ("max_headers", self.max_headers),
            ("http2_max_concurrent_streams", self.http2_max_concurrent_streams as usize),
            ("max_connections", self.max_connections),
        ] {
            if value == 0 {
                problems.push(Problem::new(key, "must be more than zero"));
            }
        }
        problems
    }
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            http2_keep_alive: DEFAULT_HTTP2_KEEP_ALIVE,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            http2_max_concurrent_streams: DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            trusted_proxies: Vec::new(),
        }
    }
}
