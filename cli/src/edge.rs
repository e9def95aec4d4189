//! `marquee edge`: the caching proxy between players and origins (or shield edges).
//!
//! Every setting is taken from, highest first: its flag, its `MARQUEE_*` environment variable, the `[edge]`
//! section of the `--config` file, and the defaults, which are the `DEFAULT_*` consts of
//! [`marquee_edge_cache::config`] and [`marquee_edge_cache::freshness`] (clap shows them in `--help`).
//! [`merge`] applies that order; [`plan`] checks the result and collects every problem. `marquee config
//! check` runs the same two, so it accepts exactly what `marquee edge --config` starts with.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, FromArgMatches};
use marquee_edge_cache::config::{
    DEFAULT_DISK_BYTES, DEFAULT_HEALTH_INTERVAL, DEFAULT_LISTEN, DEFAULT_MAX_OBJECT_BYTES, DEFAULT_MEMORY_BYTES,
    DEFAULT_MEMORY_MAX_OBJECT_BYTES, DEFAULT_PREFETCH_SEGMENTS, DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
    DEFAULT_UPSTREAM_DOWN_FOR, DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_UPSTREAM_TOKEN_TTL, DEFAULT_WORKERS,
};
use marquee_edge_cache::freshness::{
    FreshnessPolicy, DEFAULT_MAX_TTL, DEFAULT_NEGATIVE_TTL, DEFAULT_STALE_IF_ERROR, DEFAULT_STALE_WHILE_REVALIDATE,
    DEFAULT_TTL,
};
use marquee_edge_cache::memory::MemoryConfig;
use marquee_edge_cache::{EdgeConfig, EdgeServer};
use marquee_http::{RequestAuthorizer, SignedUrls, TlsFiles, Unsigned};
use marquee_signing::KeyRing;
use serde::Deserialize;

use crate::config::connections::{self, ConnectionArgs, ConnectionKeys};
use crate::config::files::{read_key_ring, tls_pair, writable_directory, WritableDirectory};
use crate::config::precedence::{environment_problem, given_in, Given, Places, Precedence};
use crate::config::units::{socket_address, HumanBytes, HumanDuration};
use crate::config::{LoadedFile, Problem};

const ACCESS: &str = "Access";
const LISTENING: &str = "Listening";
const UPSTREAM_REQUESTS: &str = "Upstream requests";
const CACHE: &str = "Cache tiers";
const FRESHNESS: &str = "Freshness, where the upstream's headers leave room";

/// Cache and serve HLS/DASH from upstream origins or shield edges.
///
/// Settings come from flags, then MARQUEE_* environment variables, then the [edge] section of --config FILE,
/// then the defaults shown here. `marquee config example` prints a file with every setting explained.
#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    /// TOML file whose [edge] section holds these settings (`marquee config example` prints one). Flags and
    /// MARQUEE_* variables override it; relative paths in it are taken from the file's directory.
    #[arg(long, env = "MARQUEE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// An upstream base URL (an origin, or a shield edge): http://host:port. Repeat the flag, or separate
    /// them with commas in the variable, for several; each object goes to its rendezvous-hash owner first
    /// and fails over to the others in a fixed order. At least one is required.
    #[arg(long = "upstream", env = "MARQUEE_EDGE_UPSTREAMS", value_name = "URL", value_delimiter = ',')]
    upstreams: Vec<String>,
    /// Signing keys (the origin's key file, made by `marquee keygen`): players' tokens are checked here, bad
    /// ones never reach the upstream, and the edge signs its own upstream requests with the current key.
    /// This or --unsigned is required.
    #[arg(long, env = "MARQUEE_KEY_FILE", value_name = "FILE", help_heading = ACCESS)]
    key_file: Option<PathBuf>,
    /// Serve without tokens, and ask the upstream unsigned. Only for public content or development.
    #[arg(long, help_heading = ACCESS)]
    unsigned: bool,
    /// Bearer token of the purge API (POST /.marquee/purge?target=asset/), at least 16 characters; without
    /// it the API is off. A config file that holds it should be readable by the edge's user only.
    #[arg(long, env = "MARQUEE_EDGE_PURGE_TOKEN", value_name = "TOKEN", hide_env_values = true,
          help_heading = ACCESS)]
    purge_token: Option<String>,
    /// Address to listen on. Port 0 picks a free port; the address is printed once listening.
    #[arg(long, env = "MARQUEE_EDGE_LISTEN", value_name = "ADDR", default_value_t = DEFAULT_LISTEN,
          help_heading = LISTENING)]
    listen: SocketAddr,
    /// PEM certificate chain: with --tls-key, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
    #[arg(long, env = "MARQUEE_EDGE_TLS_CERT", value_name = "FILE", help_heading = LISTENING)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "MARQUEE_EDGE_TLS_KEY", value_name = "FILE", help_heading = LISTENING)]
    tls_key: Option<PathBuf>,
    /// How long to wait for an upstream to accept a connection before trying the next one.
    #[arg(long, env = "MARQUEE_EDGE_UPSTREAM_CONNECT_TIMEOUT", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_UPSTREAM_CONNECT_TIMEOUT), help_heading = UPSTREAM_REQUESTS)]
    upstream_connect_timeout: HumanDuration,
    /// How long to wait for an upstream's response headers, and then for each body chunk.
    #[arg(long, env = "MARQUEE_EDGE_UPSTREAM_TIMEOUT", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_UPSTREAM_TIMEOUT), help_heading = UPSTREAM_REQUESTS)]
    upstream_timeout: HumanDuration,
    /// How long an upstream that failed to connect or answer is skipped before it is tried again (unless
    /// every upstream is).
    #[arg(long, env = "MARQUEE_EDGE_UPSTREAM_DOWN_FOR", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_UPSTREAM_DOWN_FOR), help_heading = UPSTREAM_REQUESTS)]
    upstream_down_for: HumanDuration,
    /// How often each upstream's /healthz is probed.
    #[arg(long, env = "MARQUEE_EDGE_HEALTH_INTERVAL", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_HEALTH_INTERVAL), help_heading = UPSTREAM_REQUESTS)]
    health_interval: HumanDuration,
    /// Lifetime of the tokens the edge signs for its own upstream requests (with a key file).
    #[arg(long, env = "MARQUEE_EDGE_UPSTREAM_TOKEN_TTL", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_UPSTREAM_TOKEN_TTL), help_heading = UPSTREAM_REQUESTS)]
    upstream_token_ttl: HumanDuration,
    /// Memory budget for object bodies: the memory tier plus the bodies being fetched (--fill-memory of it).
    /// The process needs this plus a few tens of MB (benches/edge-rss.sh measures it).
    #[arg(long, env = "MARQUEE_EDGE_MEMORY", value_name = "SIZE", default_value_t = HumanBytes(DEFAULT_MEMORY_BYTES),
          help_heading = CACHE)]
    memory: HumanBytes,
    /// Part of --memory that bodies being fetched from upstream may hold at once; the memory tier gets the
    /// rest. When misses need more, they wait for room (up to --upstream-timeout, then 503). Default: an eighth
    /// of --memory; at most half of it.
    #[arg(long, env = "MARQUEE_EDGE_FILL_MEMORY", value_name = "SIZE", help_heading = CACHE)]
    fill_memory: Option<HumanBytes>,
    /// Largest object kept in memory (bigger ones live on disk only); at most half of the memory tier (--memory
    /// less --fill-memory).
    #[arg(long, env = "MARQUEE_EDGE_MEMORY_MAX_OBJECT", value_name = "SIZE",
          default_value_t = HumanBytes(DEFAULT_MEMORY_MAX_OBJECT_BYTES), help_heading = CACHE)]
    memory_max_object: HumanBytes,
    /// Directory of the disk tier, kept across restarts and created if missing. Without it the edge caches
    /// in memory only.
    #[arg(long, env = "MARQUEE_EDGE_DISK_DIR", value_name = "DIR", help_heading = CACHE)]
    disk_dir: Option<PathBuf>,
    /// Disk tier budget, with --disk-dir.
    #[arg(long, env = "MARQUEE_EDGE_DISK", value_name = "SIZE", default_value_t = HumanBytes(DEFAULT_DISK_BYTES),
          help_heading = CACHE)]
    disk: HumanBytes,
    /// Largest object the edge fills through itself: a bigger upstream response fails its fill (502) rather
    /// than being held whole.
    #[arg(long, env = "MARQUEE_EDGE_MAX_OBJECT_BYTES", value_name = "SIZE",
          default_value_t = HumanBytes(DEFAULT_MAX_OBJECT_BYTES), help_heading = CACHE)]
    max_object_bytes: HumanBytes,
    /// A query parameter that is part of the cache key and is sent upstream, such as a cache-busting `v`.
    /// Repeat the flag, or separate names with commas in the variable. Every other parameter (tracking, the
    /// token) is dropped, so all viewers share one copy. Default: none.
    #[arg(long = "cache-query-param", env = "MARQUEE_EDGE_CACHE_QUERY_PARAMS", value_name = "NAME",
          value_delimiter = ',', help_heading = CACHE)]
    cache_query_params: Vec<String>,
    /// After a media segment miss, fetch this many following segments in the background (0: off).
    #[arg(long, env = "MARQUEE_EDGE_PREFETCH", value_name = "N", default_value_t = DEFAULT_PREFETCH_SEGMENTS,
          help_heading = CACHE)]
    prefetch: usize,
    #[command(flatten)]
    connections: ConnectionArgs,
    /// Worker threads, each with its own single-threaded runtime accepting on the shared socket (connections
    /// stay on the thread that accepted them); 0: one per CPU.
    #[arg(long, env = "MARQUEE_EDGE_WORKERS", value_name = "N", default_value_t = DEFAULT_WORKERS,
          help_heading = LISTENING)]
    workers: usize,
    /// How long a response is served fresh when the upstream gives no lifetime (no max-age, s-maxage or
    /// Expires) and its status may be cached heuristically; also the cap of the Last-Modified heuristic.
    #[arg(long, env = "MARQUEE_EDGE_DEFAULT_TTL", value_name = "DURATION", default_value_t = HumanDuration(DEFAULT_TTL),
          help_heading = FRESHNESS)]
    default_ttl: HumanDuration,
    /// Longest time a response is served fresh, whatever the upstream says; also the cap of every stale
    /// window. A wrong header on a changing object costs at most this long.
    #[arg(long, env = "MARQUEE_EDGE_MAX_TTL", value_name = "DURATION", default_value_t = HumanDuration(DEFAULT_MAX_TTL),
          help_heading = FRESHNESS)]
    max_ttl: HumanDuration,
    /// How long a 404 or 410 is served when the upstream gives no lifetime, and the cap when it gives one:
    /// an asset published after a miss appears within this long.
    #[arg(long, env = "MARQUEE_EDGE_NEGATIVE_TTL", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_NEGATIVE_TTL), help_heading = FRESHNESS)]
    negative_ttl: HumanDuration,
    /// How long past expiry a response may be served while it is refreshed, when the upstream says nothing
    /// (0s: never without the upstream's permission, as RFC 9111 asks of a connected cache).
    #[arg(long, env = "MARQUEE_EDGE_DEFAULT_STALE_WHILE_REVALIDATE", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_STALE_WHILE_REVALIDATE), help_heading = FRESHNESS)]
    default_stale_while_revalidate: HumanDuration,
    /// How long past expiry a response may stand in for a failing upstream, when the upstream says nothing.
    #[arg(long, env = "MARQUEE_EDGE_DEFAULT_STALE_IF_ERROR", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_STALE_IF_ERROR), help_heading = FRESHNESS)]
    default_stale_if_error: HumanDuration,
}

/// The `[edge]` section of `marquee.toml`. Every key is optional and is named like its setting's argument
/// (`memory_max_object` for `--memory-max-object`, `upstreams` for `--upstream`); a flag or its environment
/// variable overrides the key. `marquee config example` prints the section with every key explained and set
/// to its default.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSection {
    /// Upstream base URLs, a list: `["http://origin-a:8080", "http://origin-b:8080"]`. At least one, from here
    /// or from the flags, is required.
    #[serde(default, deserialize_with = "upstream_list")]
    pub upstreams: Option<Vec<String>>,
    /// Signing key file (the origin's), relative to the config file's directory. This or `unsigned = true`
    /// is required.
    pub key_file: Option<PathBuf>,
    /// Serve and fetch without tokens; cannot be combined with `key_file`. Default: false.
    pub unsigned: Option<bool>,
    /// Bearer token of the purge API, at least 16 characters. No default: the API is off.
    pub purge_token: Option<String>,
    /// Address to listen on, an IP address and a port. Default: [`DEFAULT_LISTEN`].
    #[serde(default, deserialize_with = "socket_address")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS, with `tls_key`; relative to the config file's directory.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`; relative to the config file's directory.
    pub tls_key: Option<PathBuf>,
    /// A duration such as `"2s"`. Default: [`DEFAULT_UPSTREAM_CONNECT_TIMEOUT`].
    pub upstream_connect_timeout: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_UPSTREAM_TIMEOUT`].
    pub upstream_timeout: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_UPSTREAM_DOWN_FOR`].
    pub upstream_down_for: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_HEALTH_INTERVAL`].
    pub health_interval: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_UPSTREAM_TOKEN_TTL`].
    pub upstream_token_ttl: Option<HumanDuration>,
    /// A size such as `"512MiB"` or a number of bytes. Default: [`DEFAULT_MEMORY_BYTES`].
    pub memory: Option<HumanBytes>,
    /// A size. Default: `memory` / [`marquee_edge_cache::config::DEFAULT_FILL_MEMORY_DIVISOR`].
    pub fill_memory: Option<HumanBytes>,
    /// A size. Default: [`DEFAULT_MEMORY_MAX_OBJECT_BYTES`].
    pub memory_max_object: Option<HumanBytes>,
    /// Disk tier directory, relative to the config file's directory. No default: memory only.
    pub disk_dir: Option<PathBuf>,
    /// A size. Default: [`DEFAULT_DISK_BYTES`].
    pub disk: Option<HumanBytes>,
    /// A size. Default: [`DEFAULT_MAX_OBJECT_BYTES`].
    pub max_object_bytes: Option<HumanBytes>,
    /// Query parameter names kept in cache keys, a list: `["v"]`. Default: none.
    pub cache_query_params: Option<Vec<String>>,
    /// Default: [`DEFAULT_PREFETCH_SEGMENTS`].
    pub prefetch: Option<usize>,
    /// A duration such as `"10s"`. Default:
    /// [`DEFAULT_HEADER_READ_TIMEOUT`](marquee_http::connections::DEFAULT_HEADER_READ_TIMEOUT).
    pub header_read_timeout: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_WRITE_TIMEOUT`](marquee_http::connections::DEFAULT_WRITE_TIMEOUT).
    pub write_timeout: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_HTTP2_KEEP_ALIVE`](marquee_http::connections::DEFAULT_HTTP2_KEEP_ALIVE).
    pub http2_keep_alive: Option<HumanDuration>,
    /// Default: [`DEFAULT_MAX_CONNECTIONS`](marquee_http::connections::DEFAULT_MAX_CONNECTIONS).
    pub max_connections: Option<usize>,
    /// Default: [`DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS`](marquee_http::connections::DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS).
    pub http2_max_concurrent_streams: Option<u32>,
    /// A size. Default: [`DEFAULT_MAX_HEADER_BYTES`](marquee_http::connections::DEFAULT_MAX_HEADER_BYTES).
    pub max_header_bytes: Option<HumanBytes>,
    /// Default: [`DEFAULT_MAX_HEADERS`](marquee_http::connections::DEFAULT_MAX_HEADERS).
    pub max_headers: Option<usize>,
    /// A duration. Default: [`DEFAULT_SHUTDOWN_GRACE`](marquee_http::connections::DEFAULT_SHUTDOWN_GRACE).
    pub shutdown_grace: Option<HumanDuration>,
    /// Default: [`DEFAULT_WORKERS`] (one per CPU).
    pub workers: Option<usize>,
    /// A duration. Default: [`DEFAULT_TTL`].
    pub default_ttl: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_MAX_TTL`].
    pub max_ttl: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_NEGATIVE_TTL`].
    pub negative_ttl: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_STALE_WHILE_REVALIDATE`].
    pub default_stale_while_revalidate: Option<HumanDuration>,
    /// A duration. Default: [`DEFAULT_STALE_IF_ERROR`].
    pub default_stale_if_error: Option<HumanDuration>,
}

impl EdgeSection {
    fn connection_keys(&self) -> ConnectionKeys {
        ConnectionKeys {
            header_read_timeout: self.header_read_timeout,
            write_timeout: self.write_timeout,
            http2_keep_alive: self.http2_keep_alive,
            max_connections: self.max_connections,
            http2_max_concurrent_streams: self.http2_max_concurrent_streams,
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            shutdown_grace: self.shutdown_grace,
        }
    }
}

/// A list of upstream URLs, with a message that shows the list syntax when a single string is given.
fn upstream_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    match OneOrMany::deserialize(deserializer) {
        Ok(OneOrMany::Many(list)) => Ok(Some(list)),
        Ok(OneOrMany::One(url)) => {
            Err(serde::de::Error::custom(format!("must be a list, even of one: upstreams = [{url:?}]")))
        }
        Err(_) => {
            Err(serde::de::Error::custom("must be a list of http://host:port URLs, such as [\"http://origin:8080\"]"))
        }
    }
}

/// The `edge` subcommand's arguments as clap defines them: for [`run`]'s precedence, `config check` (which
/// reads the environment through it) and `config example` (which is written from its help and defaults).
pub fn command() -> clap::Command {
    with_variables(<EdgeArgs as clap::Args>::augment_args(clap::Command::new("edge")))
}

/// Names the variables of the shared connection arguments (`MARQUEE_EDGE_WRITE_TIMEOUT`, …).
pub fn with_variables(command: clap::Command) -> clap::Command {
    connections::with_env(command, "MARQUEE_EDGE")
}

/// Placeholders for the settings that have no default, shown commented out in `marquee config example`.
pub const EXAMPLE_PLACEHOLDERS: &[(&str, &str)] = &[
    ("upstreams", "http://origin-a:8080,http://origin-b:8080"),
    ("key_file", "keys.toml"),
    ("purge_token", "replace-with-32-random-hex-digits"),
    ("tls_cert", "cert.pem"),
    ("tls_key", "key.pem"),
    ("disk_dir", "/var/cache/marquee"),
    ("fill_memory", "64MiB"),
    ("cache_query_params", "v"),
];

/// Arguments of [`command`] that are not settings of the `[edge]` section.
pub const NOT_IN_FILE: &[&str] = &["config"];

/// Runs `marquee edge`; `matches` are the subcommand's, to tell flags and variables from defaults.
pub fn run(args: EdgeArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let file = match &args.config {
        Some(path) => match crate::config::load(path, &mut problems) {
            Some(file) => Some(file),
            None => return Err(crate::config::failure("cannot start the edge", &problems)),
        },
        None => None,
    };
    let merged = merge(&args, &given_in(&command(), matches), file.as_ref());
    // The disk tier creates its directory and says what went wrong if it cannot, so it is not looked at here.
    let plan = match plan(&merged, &mut problems) {
        Some(plan) if problems.is_empty() => plan,
        _ => return Err(crate::config::failure("cannot start the edge", &problems)),
    };
    let access = crate::config::files::access_summary(plan.keys.as_ref());
    let authorizer: Arc<dyn RequestAuthorizer> = match &plan.keys {
        Some(keys) => Arc::new(SignedUrls::new(keys.clone())),
        None => Arc::new(Unsigned),
    };
    let tls = plan.tls.as_ref().map(marquee_http::tls::acceptor).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let workers = match plan.config.workers {
        0 => marquee_http::default_worker_threads(),
        n => n,
    };
    // This runtime binds, watches for signals and probes the upstreams; the worker threads serve.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the runtime")?;
    let edge = runtime.block_on(EdgeServer::bind(plan.config, authorizer, plan.keys, tls))?;
    println!("Edge serving on {scheme}://{} ({access})", edge.local_addr());
    let _ = std::io::stdout().flush();
    edge.run_on_worker_threads(&runtime, workers, crate::shutdown::signal())?;
    eprintln!("Stopped: in-flight responses finished.");
    Ok(())
}

/// `marquee config check` for the `[edge]` section: merges it with the `MARQUEE_*` environment as
/// `marquee edge --config FILE` would, and checks the result without creating anything (a missing disk
/// directory is only looked for a parent it could be created in). Returns a summary line when the edge would
/// start.
pub fn check(file: &LoadedFile, problems: &mut Vec<Problem>, notes: &mut Vec<String>) -> Option<String> {
    let command = command();
    let matches = match command.clone().try_get_matches_from(["edge"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(environment_problem(&command, &e));
            return None;
        }
    };
    let args = match EdgeArgs::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => {
            problems.push(Problem::new("environment", e.to_string()));
            return None;
        }
    };
    let merged = merge(&args, &given_in(&command, &matches), Some(file));
    if !merged.places.from_env.is_empty() {
        notes.push(format!("[edge] set from the environment: {}", merged.places.from_env.join(", ")));
    }
    let before = problems.len();
    if let Some(dir) = &merged.config.disk_dir {
        match writable_directory(dir) {
            Ok(WritableDirectory::Exists) => {}
            Ok(WritableDirectory::Missing) => notes.push(format!(
                "disk directory {} does not exist yet: `marquee edge` will create it, empty",
                dir.display()
            )),
            Err(e) => problems.push(Problem::new(merged.places.place("disk_dir"), e)),
        }
    }
    let plan = plan(&merged, problems)?;
    if problems.len() > before {
        return None;
    }
    let config = &plan.config;
    let scheme = if plan.tls.is_some() { "https" } else { "http" };
    let disk = match &config.disk_dir {
        Some(dir) => format!("disk {} in {}", HumanBytes(config.disk_bytes), dir.display()),
        None => "no disk tier".to_owned(),
    };
    Some(format!(
        "[edge] caches {} on {scheme}://{} ({}); memory {} ({} for fills), {disk}",
        config.upstreams.join(", "),
        config.listen,
        crate::config::files::access_summary(plan.keys.as_ref()),
        HumanBytes(config.memory_bytes),
        HumanBytes(config.fill_bytes()),
    ))
}

/// Every setting after precedence, with the place to name in a message about each.
#[derive(Debug)]
struct MergedEdge {
    key_file: Option<PathBuf>,
    unsigned: bool,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// Everything else.
    config: EdgeConfig,
    places: Places,
}

/// Flags and variables (as clap parsed them into `args`, with `given` telling which were given) over the
/// file's `[edge]` section over the defaults. Relative paths in the file are taken from its directory.
fn merge(args: &EdgeArgs, given: &dyn Fn(&str) -> Option<Given>, file: Option<&LoadedFile>) -> MergedEdge {
    let section = file.and_then(|f| f.settings.edge.clone()).unwrap_or_default();
    let dir = file.map(LoadedFile::dir).unwrap_or(Path::new(""));
    let in_dir = |path: Option<PathBuf>| path.map(|p| Some(dir.join(p)));
    let command = command();
    let mut p = Precedence::new("edge", &command, given, file);
    let duration = |d: Option<HumanDuration>| d.map(|d| d.0);
    let connection_keys = section.connection_keys();
    let bytes = |b: Option<HumanBytes>| b.map(|b| b.0);
    let config = EdgeConfig {
        upstreams: p.pick("upstreams", args.upstreams.clone(), section.upstreams),
        purge_token: p.pick("purge_token", args.purge_token.clone(), section.purge_token.map(Some)),
        listen: p.pick("listen", args.listen, section.listen),
        upstream_connect_timeout: p.pick(
            "upstream_connect_timeout",
            args.upstream_connect_timeout.0,
            duration(section.upstream_connect_timeout),
        ),
        upstream_timeout: p.pick("upstream_timeout", args.upstream_timeout.0, duration(section.upstream_timeout)),
        upstream_down_for: p.pick("upstream_down_for", args.upstream_down_for.0, duration(section.upstream_down_for)),
        health_interval: p.pick("health_interval", args.health_interval.0, duration(section.health_interval)),
        upstream_token_ttl: p.pick(
            "upstream_token_ttl",
            args.upstream_token_ttl.0,
            duration(section.upstream_token_ttl),
        ),
        memory_bytes: p.pick("memory", args.memory.0, bytes(section.memory)),
        fill_memory_bytes: p.pick("fill_memory", args.fill_memory.map(|b| b.0), section.fill_memory.map(|b| Some(b.0))),
        memory_max_object_bytes: p.pick(
            "memory_max_object",
            args.memory_max_object.0,
            bytes(section.memory_max_object),
        ),
        disk_dir: p.pick("disk_dir", args.disk_dir.clone(), in_dir(section.disk_dir)),
        disk_bytes: p.pick("disk", args.disk.0, bytes(section.disk)),
        max_object_bytes: p.pick("max_object_bytes", args.max_object_bytes.0, bytes(section.max_object_bytes)),
        prefetch_segments: p.pick("prefetch", args.prefetch, section.prefetch),
        cache_query_params: p.pick("cache_query_params", args.cache_query_params.clone(), section.cache_query_params),
        connections: connections::merge(&mut p, &args.connections, connection_keys),
        workers: p.pick("workers", args.workers, section.workers),
        freshness: FreshnessPolicy {
            default_ttl: p.pick("default_ttl", args.default_ttl.0, duration(section.default_ttl)),
            max_ttl: p.pick("max_ttl", args.max_ttl.0, duration(section.max_ttl)),
            negative_ttl: p.pick("negative_ttl", args.negative_ttl.0, duration(section.negative_ttl)),
            default_stale_while_revalidate: p.pick(
                "default_stale_while_revalidate",
                args.default_stale_while_revalidate.0,
                duration(section.default_stale_while_revalidate),
            ),
            default_stale_if_error: p.pick(
                "default_stale_if_error",
                args.default_stale_if_error.0,
                duration(section.default_stale_if_error),
            ),
        },
    };
    MergedEdge {
        key_file: p.pick("key_file", args.key_file.clone(), in_dir(section.key_file)),
        unsigned: p.pick("unsigned", args.unsigned, section.unsigned),
        tls_cert: p.pick("tls_cert", args.tls_cert.clone(), in_dir(section.tls_cert)),
        tls_key: p.pick("tls_key", args.tls_key.clone(), in_dir(section.tls_key)),
        config,
        places: p.finish(),
    }
}

/// What the edge runs with once every setting is known to work.
struct EdgePlan {
    /// `None`: unsigned.
    keys: Option<KeyRing>,
    tls: Option<TlsFiles>,
    config: EdgeConfig,
}

/// Checks the merged settings, reading the key file and looking at the TLS files, and adds every problem to
/// `problems`.
fn plan(merged: &MergedEdge, problems: &mut Vec<Problem>) -> Option<EdgePlan> {
    let before = problems.len();
    let places = &merged.places;
    let keys = match (&merged.key_file, merged.unsigned) {
        (Some(path), true) => {
            problems.push(Problem::new(
                places.place("unsigned"),
                format!("cannot be used together with a key file ({}): remove one of them", places.name("key_file")),
            ));
            if let Err(e) = read_key_ring(path) {
                problems.push(Problem::new(places.place("key_file"), e));
            }
            None
        }
        (None, false) => {
            problems.push(Problem::new(
                places.place("key_file"),
                "neither a key file nor unsigned is set: give --key-file FILE (signed URLs, with the origin's key \
                 file) or --unsigned (every object public), or `key_file` or `unsigned = true` under [edge]",
            ));
            None
        }
        (Some(path), false) => {
            read_key_ring(path).map_err(|e| problems.push(Problem::new(places.place("key_file"), e))).ok()
        }
        (None, true) => None,
    };
    let tls = tls_pair(merged.tls_cert.as_ref(), merged.tls_key.as_ref(), places, problems);
    problems.extend(setting_problems(&merged.config, places));
    if problems.len() > before {
        return None;
    }
    Some(EdgePlan { keys, tls, config: merged.config.clone() })
}

/// The library's names for settings in [`EdgeConfig::problems`] and [`MemoryConfig::problems`] messages, and
/// the settings they are.
const LIBRARY_NAMES: &[(&str, &str)] = &[
    ("memory_bytes", "memory"),
    ("fill_memory_bytes", "fill_memory"),
    ("memory_max_object_bytes", "memory_max_object"),
    ("disk_bytes", "disk"),
    ("prefetch_segments", "prefetch"),
];

/// What is wrong with the values themselves: [`EdgeConfig::problems`], the memory tier's own limits (which
/// `EdgeServer::bind` applies too), and what would make the upstream ring or the purge API unusable. Each
/// problem is placed at its setting.
fn setting_problems(config: &EdgeConfig, places: &Places) -> Vec<Problem> {
    let mut found = Vec::new();
    if config.upstreams.is_empty() {
        found.push(Problem::new(
            places.place("upstreams"),
            "no upstream: set `upstreams` under [edge], --upstream or MARQUEE_EDGE_UPSTREAMS to the origins (or shield \
             edges) to fill from, such as [\"http://origin:8080\"]",
        ));
    }
    for problem in config.problems() {
        if config.upstreams.is_empty() && problem.starts_with("at least one upstream") {
            continue; // said above, with where to set it
        }
        found.push(library_problem(&problem, places));
    }
    if !found.iter().any(|p| p.place == places.place("memory_max_object")) {
        let memory = MemoryConfig {
            capacity_bytes: config.memory_tier_bytes(),
            max_object_bytes: config.memory_max_object_bytes,
            ..MemoryConfig::default()
        };
        // Its `capacity_bytes` problem is the half-of-memory rule that EdgeConfig checks too.
        for problem in memory.problems() {
            if let Some(rest) = problem.strip_prefix("max_object_bytes ") {
                let rest = rest.strip_prefix('(').and_then(|r| r.split_once(") ")).map_or(rest, |(_, r)| r);
                found.push(Problem::new(places.place("memory_max_object"), rest));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for upstream in &config.upstreams {
        if !seen.insert(upstream.trim_end_matches('/')) {
            found
                .push(Problem::new(places.place("upstreams"), format!("upstream {upstream} is listed more than once")));
        }
    }
    if config.purge_token.as_deref().is_some_and(|token| !token.chars().all(|c| c.is_ascii_graphic())) {
        found.push(Problem::new(
            places.place("purge_token"),
            "must be printable ASCII without spaces: it is sent as `Authorization: Bearer TOKEN`",
        ));
    }
    found
}

/// One of [`EdgeConfig::problems`], which start with the setting they are about ("max_object_bytes must be
/// more than 0", "upstream ftp://x: not an http://host:port URL"), placed at that setting and with the
/// library's names of settings replaced by ours.
fn library_problem(problem: &str, places: &Places) -> Problem {
    let setting = |word: &str| -> Option<String> {
        let key = LIBRARY_NAMES.iter().find(|(name, _)| *name == word).map_or(word, |(_, key)| key);
        places.has(key).then(|| key.to_owned())
    };
    let (first, rest) = problem.split_once(' ').unwrap_or((problem, ""));
    let first = first.strip_suffix(':').unwrap_or(first);
    if first == "upstream" {
        return Problem::new(places.place("upstreams"), problem);
    }
    let Some(key) = setting(first) else {
        return Problem::new("edge", problem);
    };
    let rest: Vec<String> = rest
        .split(' ')
        .map(|word| {
            let name = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            match setting(name).filter(|_| name.contains('_')) {
                Some(key) => word.replacen(name, &places.name(&key), 1),
                None => word.to_owned(),
            }
        })
        .collect();
    Problem::new(places.place(&key), rest.join(" "))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config;
    use crate::config::test_support::{file, parse};

    fn merge_argv(argv: &[&str], file: Option<&LoadedFile>) -> MergedEdge {
        let (args, matches) = parse::<EdgeArgs>(command(), argv);
        let given = given_in(&command(), &matches);
        merge(&args, &given, file)
    }

    /// EdgeConfig has no `PartialEq`; its `Debug` shows every field.
    fn same(a: &EdgeConfig, b: &EdgeConfig) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn defaults_are_the_library_consts() {
        let merged = merge_argv(&[], None);
        assert!(same(&merged.config, &EdgeConfig::default()), "{:?}", merged.config);
        assert_eq!((merged.key_file, merged.unsigned, merged.tls_cert, merged.tls_key), (None, false, None, None));
    }

    #[test]
    fn the_file_beats_the_defaults_and_a_flag_beats_the_file() {
        let f = file(
            "marquee.toml",
            "[edge]\nupstreams = [\"http://a:1\", \"http://b:2\"]\nlisten = \"127.0.0.1:1\"\nmemory = \"1GiB\"\n\
             negative_ttl = \"3s\"\nprefetch = 2\n",
        );
        let merged = merge_argv(&["--upstream", "http://c:3", "--prefetch", "4"], Some(&f));
        assert_eq!(merged.config.upstreams, ["http://c:3"]);
        assert_eq!(merged.config.prefetch_segments, 4);
        assert_eq!(merged.config.listen, "127.0.0.1:1".parse().unwrap());
        assert_eq!(merged.config.memory_bytes, 1 << 30);
        assert_eq!(merged.config.freshness.negative_ttl, Duration::from_secs(3));
        assert_eq!(merged.config.freshness.max_ttl, DEFAULT_MAX_TTL);
        assert_eq!(merged.places.place("upstreams"), "--upstream");
        assert_eq!(merged.places.place("memory"), "edge.memory (line 4)");
        assert_eq!(merged.places.place("disk"), "edge.disk");
        let merged = merge_argv(&[], Some(&f));
        assert_eq!(merged.config.upstreams, ["http://a:1", "http://b:2"]);
        assert_eq!(merged.places.place("upstreams"), "edge.upstreams (line 2)");
    }

    #[test]
    fn client_connection_settings_come_from_the_file_and_flags_and_are_checked() {
        let f = file(
            "marquee.toml",
            "[edge]\nunsigned = true\nupstreams = [\"http://a:1\"]\nmax_connections = 7\nshutdown_grace = \"2s\"\n\
             write_timeout = \"0s\"\n",
        );
        let merged = merge_argv(&["--max-headers", "12"], Some(&f));
        let connections = &merged.config.connections;
        assert_eq!((connections.max_connections, connections.max_headers), (7, 12));
        assert_eq!(connections.shutdown_grace, Duration::from_secs(2));
        assert_eq!(connections.header_read_timeout, marquee_http::connections::DEFAULT_HEADER_READ_TIMEOUT);
        assert_eq!(merged.places.place("max_connections"), "edge.max_connections (line 4)");
        let mut problems = Vec::new();
        assert!(plan(&merged, &mut problems).is_none());
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["edge.write_timeout (line 6): must be more than zero"]);
        let command = command();
        let variable = command.get_arguments().find(|arg| arg.get_id() == "shutdown_grace").unwrap().get_env();
        assert_eq!(variable.and_then(|name| name.to_str()), Some("MARQUEE_EDGE_SHUTDOWN_GRACE"));
    }

    #[test]
    fn a_variable_beats_the_file() {
        let f = file("marquee.toml", "[edge]\nmemory = \"1GiB\"\ndisk = \"1GiB\"\n");
        let (args, matches) = parse::<EdgeArgs>(command(), &["--memory", "2GiB"]);
        let from_clap = given_in(&command(), &matches);
        let given = |id: &str| from_clap(id).map(|_| Given::Env("MARQUEE_EDGE_MEMORY".to_owned()));
        let merged = merge(&args, &given, Some(&f));
        assert_eq!((merged.config.memory_bytes, merged.config.disk_bytes), (2 << 30, 1 << 30));
        assert_eq!(merged.places.place("memory"), "MARQUEE_EDGE_MEMORY");
        assert_eq!(merged.places.from_env, ["MARQUEE_EDGE_MEMORY"]);
    }

    #[test]
    fn relative_paths_in_the_file_are_taken_from_its_directory() {
        let f = file(
            "/etc/marquee/marquee.toml",
            "[edge]\ndisk_dir = \"cache\"\nkey_file = \"keys.toml\"\ntls_cert = \"/pki/cert.pem\"\n",
        );
        let merged = merge_argv(&["--tls-key", "key.pem"], Some(&f));
        assert_eq!(merged.config.disk_dir, Some(PathBuf::from("/etc/marquee/cache")));
        assert_eq!(merged.key_file, Some(PathBuf::from("/etc/marquee/keys.toml")));
        assert_eq!(merged.tls_cert, Some(PathBuf::from("/pki/cert.pem")));
        assert_eq!(merged.tls_key, Some(PathBuf::from("key.pem")), "flags stay relative to the working directory");
    }

    fn problems_of(argv: &[&str], file: Option<&LoadedFile>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let planned = plan(&merge_argv(argv, file), &mut problems);
        assert_eq!(planned.is_some(), problems.is_empty());
        problems
    }

    #[test]
    fn access_needs_exactly_one_of_a_key_file_and_unsigned() {
        let neither = problems_of(&["--upstream", "http://o:8080"], None);
        assert_eq!(neither.len(), 1, "{neither:?}");
        assert_eq!(neither[0].place, "--key-file");
        let f = file("marquee.toml", "[edge]\nupstreams = [\"http://o:8080\"]\nunsigned = true\n");
        assert_eq!(problems_of(&[], Some(&f)), []);
        let both = problems_of(&["--key-file", "no-such-keys.toml"], Some(&f));
        let places: Vec<&str> = both.iter().map(|p| p.place.as_str()).collect();
        assert_eq!(places, ["edge.unsigned (line 3)", "--key-file"], "{both:?}");
        assert!(both[0].message.contains("a key file (--key-file)"), "{both:?}");
    }

    #[test]
    fn every_problem_is_reported_at_its_setting_in_our_names() {
        let f = file(
            "marquee.toml",
            "[edge]\nunsigned = true\nupstreams = [\"ftp://x\", \"http://a:1\", \"http://a:1/\"]\n\
             memory = \"1MiB\"\nmemory_max_object = \"1MiB\"\npurge_token = \"short\"\nhealth_interval = \"0s\"\n\
             tls_key = \"key.pem\"\ncache_query_params = [\"v\", \"token\"]\n",
        );
        let problems = problems_of(&["--disk-dir", "cache", "--disk", "0", "--prefetch", "1000"], Some(&f));
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "edge.tls_key (line 8): needs edge.tls_cert as well: HTTPS takes a certificate chain and its private key",
                "edge.upstreams (line 3): upstream ftp://x: not an http://host:port URL",
                "edge.memory_max_object (line 5): must be more than 0 and at most half of the memory tier, which is \
                 edge.memory less edge.fill_memory (917504 bytes)",
                "--disk: must be more than 0 when a disk directory is set",
                "edge.health_interval (line 7): must be more than zero",
                "--prefetch: must be at most 32",
                "edge.cache_query_params (line 9): query allow-list entry \"token\" is unusable: the token is never \
                 part of a cache key",
                "edge.purge_token (line 6): must be at least 16 characters",
                "edge.upstreams (line 3): upstream http://a:1/ is listed more than once",
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn the_memory_tiers_own_limits_are_checked_too() {
        let problems = problems_of(&["--unsigned", "--upstream", "http://o:1", "--memory-max-object", "100"], None);
        assert_eq!(
            problems,
            [Problem::new("--memory-max-object", "must exceed the per-entry overhead (256 bytes)")],
            "{problems:?}"
        );
        let problems =
            problems_of(&["--unsigned", "--upstream", "http://o:1", "--purge-token", "0123456789 abcdefgh"], None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.starts_with("must be printable ASCII"), "{problems:?}");
    }

    #[test]
    fn a_missing_upstream_says_where_to_set_one() {
        let problems = problems_of(&["--unsigned"], None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].place, "--upstream");
        assert!(problems[0].message.starts_with("no upstream: set `upstreams` under [edge]"), "{problems:?}");
    }

    #[test]
    fn upstreams_in_the_file_are_a_list() {
        let mut problems = Vec::new();
        config::load_text(Path::new("m.toml"), "[edge]\nupstreams = \"http://o:8080\"\n", &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].place, "edge.upstreams (line 2)");
        assert!(problems[0].message.contains("must be a list, even of one: upstreams = [\"http://o:8080\"]"));
    }

    #[test]
    fn the_example_holds_the_defaults() {
        let f = file("marquee.toml", &config::example());
        let merged = merge_argv(&[], Some(&f));
        assert!(same(&merged.config, &EdgeConfig::default()), "{:?}", merged.config);
        let example = config::example();
        let edge = &example[example.find("\n[edge]\n").expect("an [edge] section")..];
        for arg in command().get_arguments().filter(|a| !NOT_IN_FILE.contains(&a.get_id().as_str())) {
            let key = arg.get_id();
            assert!(edge.contains(&format!("\n{key} = ")) || edge.contains(&format!("# {key} = ")), "{key}");
        }
        assert!(edge.contains("\n# upstreams = [\"http://origin-a:8080\", \"http://origin-b:8080\"]\n"), "{edge}");
    }
}
