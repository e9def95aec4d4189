//! The client-connection settings every Marquee HTTP server takes (timeouts, limits, shutdown grace): one set
//! of clap arguments flattened into `marquee origin` and `marquee edge`, with each service's own environment
//! variables (`MARQUEE_ORIGIN_WRITE_TIMEOUT`, `MARQUEE_EDGE_WRITE_TIMEOUT`), and one merge into
//! [`ConnectionSettings`].
//!
//! The `[origin]` and `[edge]` sections list the same keys themselves (serde cannot flatten a struct into one
//! that denies unknown keys) and hand them over as a [`ConnectionKeys`].

use marquee_http::connections::{
    ConnectionSettings, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_KEEP_ALIVE, DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_WRITE_TIMEOUT,
};

use crate::config::precedence::Precedence;
use crate::config::units::{HumanBytes, HumanDuration};

/// The `--help` heading of these arguments.
pub const CONNECTIONS: &str = "Connections and timeouts";

/// Client-connection arguments; their variables are set by [`with_env`].
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// How long an HTTP/1 client may take to send a request's headers; also how long an idle keep-alive
    /// connection is kept open.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(DEFAULT_HEADER_READ_TIMEOUT),
          help_heading = CONNECTIONS)]
    pub header_read_timeout: HumanDuration,
    /// How long a response write may make no progress (a client that stopped reading) before the connection
    /// is dropped.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(DEFAULT_WRITE_TIMEOUT),
          help_heading = CONNECTIONS)]
    pub write_timeout: HumanDuration,
    /// HTTP/2: how often an idle connection is pinged; a ping unanswered for as long closes it.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(DEFAULT_HTTP2_KEEP_ALIVE),
          help_heading = CONNECTIONS)]
    pub http2_keep_alive: HumanDuration,
    /// Connections served at once; further clients wait in the kernel's accept queue.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, help_heading = CONNECTIONS)]
    pub max_connections: usize,
    /// HTTP/2 streams one connection may have open at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS, help_heading = CONNECTIONS)]
    pub http2_max_concurrent_streams: u32,
    /// HTTP/1 read buffer, which bounds the request line plus headers (answered 431 above it). Values under
    /// 8KiB are raised to 8KiB.
    #[arg(long, value_name = "SIZE", default_value_t = HumanBytes(DEFAULT_MAX_HEADER_BYTES as u64),
          help_heading = CONNECTIONS)]
    pub max_header_bytes: HumanBytes,
    /// Most headers in one HTTP/1 request (answered 431 above it).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_HEADERS, help_heading = CONNECTIONS)]
    pub max_headers: usize,
    /// How long shutdown (Ctrl-C, SIGTERM) waits for in-flight responses before dropping the connections
    /// that are left.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(DEFAULT_SHUTDOWN_GRACE),
          help_heading = CONNECTIONS)]
    pub shutdown_grace: HumanDuration,
}

/// The argument ids of [`ConnectionArgs`], which are also the keys in a config file section.
pub const KEYS: [&str; 8] = [
    "header_read_timeout",
    "write_timeout",
    "http2_keep_alive",
    "max_connections",
    "http2_max_concurrent_streams",
    "max_header_bytes",
    "max_headers",
    "shutdown_grace",
];

/// Gives each of `command`'s connection arguments the variable `{prefix}_{KEY}` (`MARQUEE_EDGE_MAX_HEADERS`).
pub fn with_env(command: clap::Command, prefix: &str) -> clap::Command {
    KEYS.iter().fold(command, |command, key| {
        let variable = format!("{prefix}_{}", key.to_ascii_uppercase());
        command.mut_arg(*key, |arg| arg.env(variable))
    })
}

/// The connection keys of a config file section, as its own fields hold them.
#[derive(Debug, Default, Clone)]
pub struct ConnectionKeys {
    pub header_read_timeout: Option<HumanDuration>,
    pub write_timeout: Option<HumanDuration>,
    pub http2_keep_alive: Option<HumanDuration>,
    pub max_connections: Option<usize>,
    pub http2_max_concurrent_streams: Option<u32>,
    pub max_header_bytes: Option<HumanBytes>,
    pub max_headers: Option<usize>,
    pub shutdown_grace: Option<HumanDuration>,
}

/// The flags and variables in `args` over the file's `keys` over the defaults.
pub fn merge(p: &mut Precedence<'_>, args: &ConnectionArgs, keys: ConnectionKeys) -> ConnectionSettings {
    let duration = |d: Option<HumanDuration>| d.map(|d| d.0);
    ConnectionSettings {
        header_read_timeout: p.pick(
            "header_read_timeout",
            args.header_read_timeout.0,
            duration(keys.header_read_timeout),
        ),
        write_timeout: p.pick("write_timeout", args.write_timeout.0, duration(keys.write_timeout)),
        http2_keep_alive: p.pick("http2_keep_alive", args.http2_keep_alive.0, duration(keys.http2_keep_alive)),
        max_header_bytes: p.pick(
            "max_header_bytes",
            args.max_header_bytes.as_usize(),
            keys.max_header_bytes.map(HumanBytes::as_usize),
        ),
        max_headers: p.pick("max_headers", args.max_headers, keys.max_headers),
        http2_max_concurrent_streams: p.pick(
            "http2_max_concurrent_streams",
            args.http2_max_concurrent_streams,
            keys.http2_max_concurrent_streams,
        ),
        max_connections: p.pick("max_connections", args.max_connections, keys.max_connections),
        shutdown_grace: p.pick("shutdown_grace", args.shutdown_grace.0, duration(keys.shutdown_grace)),
    }
}
