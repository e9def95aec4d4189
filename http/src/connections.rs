//! How client connections are served, by every Marquee HTTP service: timeouts, limits and the shutdown grace,
//! with every default a documented `const`.

use std::time::Duration;

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

/// How client connections are served. `Default` uses the `DEFAULT_*` consts of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// See [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`DEFAULT_WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// See [`DEFAULT_HTTP2_KEEP_ALIVE`].
    pub http2_keep_alive: Duration,
    /// See [`DEFAULT_MAX_HEADER_BYTES`]; values under 8192 are raised to 8192.
    pub max_header_bytes: usize,
    /// See [`DEFAULT_MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS`].
    pub http2_max_concurrent_streams: u32,
    /// See [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`DEFAULT_SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl ConnectionSettings {
    /// Every problem with these settings (named as the fields are).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("write_timeout", self.write_timeout),
            ("http2_keep_alive", self.http2_keep_alive),
        ] {
            if value.is_zero() {
                problems.push(format!("{name} must be more than zero"));
            }
        }
        for (name, value) in [
            ("max_headers", self.max_headers),
            ("http2_max_concurrent_streams", self.http2_max_concurrent_streams as usize),
            ("max_connections", self.max_connections),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be more than zero"));
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
        }
    }
}
