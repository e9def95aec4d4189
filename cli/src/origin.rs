//! `marquee origin`: serves published presentations over HTTP from a directory or S3, behind signed URLs.
//!
//! Every setting is taken from, highest first: its flag, its `MARQUEE_*` environment variable, the `[origin]`
//! section of the `--config` file, and the defaults, which are the `DEFAULT_*` consts of
//! [`marquee_origin::config`] (clap shows them in `--help`). [`merge`] applies that order; [`plan`] checks the
//! result and collects every problem. `marquee config check` runs the same two, so it accepts exactly what
//! `marquee origin --config` starts with.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgMatches, FromArgMatches};
use marquee_http::{RequestAuthorizer, SignedUrls, Unsigned};
use marquee_origin::config::{
    DEFAULT_BODY_CHUNK_BYTES, DEFAULT_HOT_CACHE_BYTES, DEFAULT_HOT_OBJECT_MAX_BYTES, DEFAULT_HOT_OBJECT_TTL,
    DEFAULT_LISTEN, DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_WORKERS,
};
use marquee_origin::{Origin, OriginConfig};
use marquee_signing::KeyRing;
use serde::Deserialize;

use crate::config::connections::{self, ConnectionArgs, ConnectionKeys, CONNECTIONS};
use crate::config::files::{read_key_ring, tls_pair};
use crate::config::precedence::{environment_problem, given_in, Given, Places, Precedence};
use crate::config::units::{socket_address, HumanBytes, HumanDuration};
use crate::config::{LoadedFile, Problem};

const ACCESS: &str = "Access";
const LISTENING: &str = "Listening";
const MEMORY: &str = "Memory";

/// Serve HLS and DASH presentations to players and edge caches.
///
/// Settings come from flags, then MARQUEE_* environment variables, then the [origin] section of --config FILE,
/// then the defaults shown here. `marquee config example` prints a file with every setting explained.
#[derive(Debug, clap::Args)]
pub struct OriginArgs {
    /// TOML file whose [origin] section holds these settings (`marquee config example` prints one). Flags and
    /// MARQUEE_* variables override it; relative paths in it are taken from the file's directory.
    #[arg(long, env = "MARQUEE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the presentations are: a directory, or s3://bucket/prefix (endpoint and credentials from
    /// MARQUEE_S3_ENDPOINT, MARQUEE_S3_REGION and the AWS environment; see the README). Required.
    #[arg(long, env = "MARQUEE_STORAGE", value_name = "LOCATION")]
    storage: Option<String>,
    /// Signing keys (made by `marquee keygen`): every media request needs a valid token from
    /// `marquee sign`, in the path (/t/TOKEN/asset/…) or as ?token=. This or --unsigned is required.
    #[arg(long, env = "MARQUEE_KEY_FILE", value_name = "FILE", help_heading = ACCESS)]
    key_file: Option<PathBuf>,
    /// Serve every object without a token. Only for public content or local development.
    #[arg(long, help_heading = ACCESS)]
    unsigned: bool,
    /// Address to listen on. Port 0 picks a free port; the address is printed once listening.
    #[arg(long, env = "MARQUEE_ORIGIN_LISTEN", value_name = "ADDR", default_value_t = DEFAULT_LISTEN,
          help_heading = LISTENING)]
    listen: SocketAddr,
    /// PEM certificate chain: with --tls-key, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) instead of
    /// cleartext HTTP/1.1 and h2c.
    #[arg(long, env = "MARQUEE_TLS_CERT", value_name = "FILE", help_heading = LISTENING)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "MARQUEE_TLS_KEY", value_name = "FILE", help_heading = LISTENING)]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    connections: ConnectionArgs,
    /// Worker threads, each with its own single-threaded runtime accepting on the shared socket (connections
    /// stay on the thread that accepted them, as with nginx's worker processes); 0: one per CPU.
    #[arg(long, env = "MARQUEE_ORIGIN_WORKERS", value_name = "N", default_value_t = DEFAULT_WORKERS,
          help_heading = CONNECTIONS)]
    workers: usize,
    /// Object bytes held in memory by all responses together; a GET that would go over it gets 503. Each GET
    /// reserves one body chunk of it, whatever its object's size.
    #[arg(long, env = "MARQUEE_ORIGIN_MAX_BUFFERED_BYTES", value_name = "SIZE",
          default_value_t = HumanBytes(DEFAULT_MAX_BUFFERED_BYTES), help_heading = MEMORY)]
    max_buffered_bytes: HumanBytes,
    /// Size of the body chunks handed to a connection (and read from a directory), so a slow client holds one
    /// chunk at a time; also each GET's share of --max-buffered-bytes.
    #[arg(long, env = "MARQUEE_ORIGIN_BODY_CHUNK_BYTES", value_name = "SIZE",
          default_value_t = HumanBytes(DEFAULT_BODY_CHUNK_BYTES as u64), help_heading = MEMORY)]
    body_chunk_bytes: HumanBytes,
    /// Memory for hot objects: whole small objects (manifests, init and media segments) kept after a read, so
    /// the next requests for them skip storage. 0 turns the cache off.
    #[arg(long, env = "MARQUEE_ORIGIN_HOT_CACHE_BYTES", value_name = "SIZE",
          default_value_t = HumanBytes(DEFAULT_HOT_CACHE_BYTES), help_heading = MEMORY)]
    hot_cache_bytes: HumanBytes,
    /// Objects larger than this are always streamed from storage, never kept whole in memory.
    #[arg(long, env = "MARQUEE_ORIGIN_HOT_OBJECT_MAX_BYTES", value_name = "SIZE",
          default_value_t = HumanBytes(DEFAULT_HOT_OBJECT_MAX_BYTES), help_heading = MEMORY)]
    hot_object_max_bytes: HumanBytes,
    /// How long a hot object is served from memory before storage is read again: an object replaced in
    /// storage (a `--force` republish) is served in its old version for at most this long.
    #[arg(long, env = "MARQUEE_ORIGIN_HOT_OBJECT_TTL", value_name = "DURATION",
          default_value_t = HumanDuration(DEFAULT_HOT_OBJECT_TTL), help_heading = MEMORY)]
    hot_object_ttl: HumanDuration,
}

/// The `[origin]` section of `marquee.toml`. Every key is optional and is named like its flag (`max_headers`
/// for `--max-headers`); a flag or its environment variable overrides the key. `marquee config example`
/// prints the section with every key explained and set to its default.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginSection {
    /// Where the presentations are: a directory or `s3://bucket/prefix`. A relative directory is taken from
    /// the config file's directory. No default.
    pub storage: Option<String>,
    /// Signing key file (`marquee keygen`), relative to the config file's directory. This or `unsigned = true`
    /// is required.
    pub key_file: Option<PathBuf>,
    /// Serve every object without a token; cannot be combined with `key_file`. Default: false.
    pub unsigned: Option<bool>,
    /// Address to listen on, an IP address and a port. Default: [`DEFAULT_LISTEN`].
    #[serde(default, deserialize_with = "socket_address")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS, with `tls_key`; relative to the config file's directory.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`; relative to the config file's directory.
    pub tls_key: Option<PathBuf>,
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
    /// A size such as `"16KiB"` or a number of bytes. Default:
    /// [`DEFAULT_MAX_HEADER_BYTES`](marquee_http::connections::DEFAULT_MAX_HEADER_BYTES).
    pub max_header_bytes: Option<HumanBytes>,
    /// Default: [`DEFAULT_MAX_HEADERS`](marquee_http::connections::DEFAULT_MAX_HEADERS).
    pub max_headers: Option<usize>,
    /// A duration. Default: [`DEFAULT_SHUTDOWN_GRACE`](marquee_http::connections::DEFAULT_SHUTDOWN_GRACE).
    pub shutdown_grace: Option<HumanDuration>,
    /// Default: [`DEFAULT_WORKERS`] (one per CPU).
    pub workers: Option<usize>,
    /// A size. Default: [`DEFAULT_MAX_BUFFERED_BYTES`].
    pub max_buffered_bytes: Option<HumanBytes>,
    /// A size. Default: [`DEFAULT_BODY_CHUNK_BYTES`].
    pub body_chunk_bytes: Option<HumanBytes>,
    /// A size; 0 turns the hot-object cache off. Default: [`DEFAULT_HOT_CACHE_BYTES`].
    pub hot_cache_bytes: Option<HumanBytes>,
    /// A size. Default: [`DEFAULT_HOT_OBJECT_MAX_BYTES`].
    pub hot_object_max_bytes: Option<HumanBytes>,
    /// A duration. Default: [`DEFAULT_HOT_OBJECT_TTL`].
    pub hot_object_ttl: Option<HumanDuration>,
}

impl OriginSection {
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

/// The `origin` subcommand's arguments as clap defines them: for [`run`]'s precedence, `config check` (which
/// reads the environment through it) and `config example` (which is written from its help and defaults).
pub fn command() -> clap::Command {
    with_variables(<OriginArgs as clap::Args>::augment_args(clap::Command::new("origin")))
}

/// Names the variables of the shared connection arguments (`MARQUEE_ORIGIN_WRITE_TIMEOUT`, …).
pub fn with_variables(command: clap::Command) -> clap::Command {
    connections::with_env(command, "MARQUEE_ORIGIN")
}

/// Placeholders for the settings that have no default, shown commented out in `marquee config example`.
pub const EXAMPLE_PLACEHOLDERS: &[(&str, &str)] =
    &[("storage", "/srv/marquee/media"), ("key_file", "keys.toml"), ("tls_cert", "cert.pem"), ("tls_key", "key.pem")];

/// Arguments of [`command`] that are not settings of the `[origin]` section.
pub const NOT_IN_FILE: &[&str] = &["config"];

/// Runs `marquee origin`; `matches` are the subcommand's, to tell flags and variables from defaults.
pub fn run(args: OriginArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let file = match &args.config {
        Some(path) => match crate::config::load(path, &mut problems) {
            Some(file) => Some(file),
            None => return Err(crate::config::failure("cannot start the origin", &problems)),
        },
        None => None,
    };
    let merged = merge(&args, &given_in(&command(), matches), file.as_ref());
    let open = |location: &str| marquee_storage::open(location).map_err(|e| e.to_string());
    let plan = match plan(&merged, open, &mut problems) {
        Some(plan) if problems.is_empty() => plan,
        _ => return Err(crate::config::failure("cannot start the origin", &problems)),
    };
    let store = plan.storage;
    let access = crate::config::files::access_summary(plan.keys.as_ref());
    let authorizer: Arc<dyn RequestAuthorizer> = match plan.keys {
        Some(keys) => Arc::new(SignedUrls::new(keys)),
        None => Arc::new(Unsigned),
    };
    let config = plan.config;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let workers = match config.workers {
        0 => marquee_http::default_worker_threads(),
        n => n,
    };
    // This runtime binds and watches for signals; the worker threads serve.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the runtime")?;
    let origin = runtime.block_on(Origin::bind(config, store.clone(), authorizer))?;
    println!("Serving {} on {scheme}://{} ({access})", store.location(), origin.local_addr());
    let _ = std::io::stdout().flush();
    origin.run_on_worker_threads(&runtime, workers, crate::shutdown::signal())?;
    eprintln!("Stopped: in-flight responses finished.");
    Ok(())
}

/// `marquee config check` for the `[origin]` section: merges it with the `MARQUEE_*` environment as
/// `marquee origin --config FILE` would, and checks the result without opening anything for good (a missing
/// storage directory is not created). Returns a summary line when the origin would start.
pub fn check(file: &LoadedFile, problems: &mut Vec<Problem>, notes: &mut Vec<String>) -> Option<String> {
    let command = command();
    let matches = match command.clone().try_get_matches_from(["origin"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(environment_problem(&command, &e));
            return None;
        }
    };
    let args = match OriginArgs::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => {
            problems.push(Problem::new("environment", e.to_string()));
            return None;
        }
    };
    let merged = merge(&args, &given_in(&command, &matches), Some(file));
    if !merged.places.from_env.is_empty() {
        notes.push(format!("set from the environment: {}", merged.places.from_env.join(", ")));
    }
    let plan = plan(&merged, check_location, problems)?;
    let (location, note) = plan.storage;
    notes.extend(note);
    let scheme = if plan.config.tls.is_some() { "https" } else { "http" };
    Some(format!(
        "[origin] serves {location} on {scheme}://{} ({})",
        plan.config.listen,
        crate::config::files::access_summary(plan.keys.as_ref())
    ))
}

/// Every setting after precedence, with the place to name in a message about each.
#[derive(Debug)]
struct MergedOrigin {
    storage: Option<String>,
    key_file: Option<PathBuf>,
    unsigned: bool,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// Everything else; `tls` is filled in by [`plan`].
    config: OriginConfig,
    places: Places,
}

/// Flags and variables (as clap parsed them into `args`, with `given` telling which were given) over the
/// file's `[origin]` section over the defaults. Relative paths in the file are taken from its directory.
fn merge(args: &OriginArgs, given: &dyn Fn(&str) -> Option<Given>, file: Option<&LoadedFile>) -> MergedOrigin {
    let section = file.and_then(|f| f.settings.origin.clone()).unwrap_or_default();
    let dir = file.map(LoadedFile::dir).unwrap_or(Path::new(""));
    let in_dir = |path: Option<PathBuf>| path.map(|p| dir.join(p));
    let command = command();
    let mut p = Precedence::new("origin", &command, given, file);
    let duration = |d: Option<HumanDuration>| d.map(|d| d.0);
    let bytes = |b: Option<HumanBytes>| b.map(|b| b.0);
    let usize_bytes = |b: Option<HumanBytes>| b.map(HumanBytes::as_usize);
    let connection_keys = section.connection_keys();
    let storage = section.storage.map(|s| storage_in_dir(dir, s));
    MergedOrigin {
        storage: p.pick("storage", args.storage.clone(), storage.map(Some)),
        key_file: p.pick("key_file", args.key_file.clone(), in_dir(section.key_file).map(Some)),
        unsigned: p.pick("unsigned", args.unsigned, section.unsigned),
        tls_cert: p.pick("tls_cert", args.tls_cert.clone(), in_dir(section.tls_cert).map(Some)),
        tls_key: p.pick("tls_key", args.tls_key.clone(), in_dir(section.tls_key).map(Some)),
        config: OriginConfig {
            listen: p.pick("listen", args.listen, section.listen),
            connections: connections::merge(&mut p, &args.connections, connection_keys),
            max_buffered_bytes: p.pick(
                "max_buffered_bytes",
                args.max_buffered_bytes.0,
                bytes(section.max_buffered_bytes),
            ),
            body_chunk_bytes: p.pick(
                "body_chunk_bytes",
                args.body_chunk_bytes.as_usize(),
                usize_bytes(section.body_chunk_bytes),
            ),
            workers: p.pick("workers", args.workers, section.workers),
            hot_cache_bytes: p.pick("hot_cache_bytes", args.hot_cache_bytes.0, bytes(section.hot_cache_bytes)),
            hot_object_max_bytes: p.pick(
                "hot_object_max_bytes",
                args.hot_object_max_bytes.0,
                bytes(section.hot_object_max_bytes),
            ),
            hot_object_ttl: p.pick("hot_object_ttl", args.hot_object_ttl.0, duration(section.hot_object_ttl)),
            tls: None,
        },
        places: p.finish(),
    }
}

/// A relative directory named in the file is taken from the file's directory; URLs stay as they are.
fn storage_in_dir(dir: &Path, location: String) -> String {
    if location.is_empty() || names_a_scheme(&location) || Path::new(&location).is_absolute() {
        return location;
    }
    dir.join(location).to_string_lossy().into_owned()
}

/// Whether `marquee_storage::open` reads `location` as a URL (`s3://…`, `file://…`) rather than a path: it
/// starts with a scheme of two or more characters, a letter first, and a `:`.
fn names_a_scheme(location: &str) -> bool {
    location.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() >= 2
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// What the origin runs with once every setting is known to work. `S` is the opened store when serving, or
/// what `config check` learnt about the location.
struct OriginPlan<S> {
    storage: S,
    /// `None`: unsigned.
    keys: Option<KeyRing>,
    config: OriginConfig,
}

/// Checks the merged settings, reading the key file and looking at the TLS files, and adds every problem to
/// `problems`. `open` turns the storage location into `S` or says why it cannot.
fn plan<S>(
    merged: &MergedOrigin,
    open: impl FnOnce(&str) -> Result<S, String>,
    problems: &mut Vec<Problem>,
) -> Option<OriginPlan<S>> {
    let before = problems.len();
    let places = &merged.places;
    let place = |key: &str| places.place(key);
    let storage = match &merged.storage {
        Some(location) => open(location).map_err(|e| problems.push(Problem::new(place("storage"), e))).ok(),
        None => {
            problems.push(Problem::new(
                place("storage"),
                "no storage location: set `storage` under [origin], --storage or MARQUEE_STORAGE to a directory or \
                 s3://bucket/prefix",
            ));
            None
        }
    };
    let keys = match (&merged.key_file, merged.unsigned) {
        (Some(path), true) => {
            problems.push(Problem::new(
                place("unsigned"),
                format!("cannot be used together with a key file ({}): remove one of them", places.name("key_file")),
            ));
            if let Err(e) = read_key_ring(path) {
                problems.push(Problem::new(place("key_file"), e));
            }
            None
        }
        (None, false) => {
            problems.push(Problem::new(
                place("key_file"),
                "neither a key file nor unsigned is set: give --key-file FILE (signed URLs; `marquee keygen` \
                 writes one) or --unsigned (every object public), or `key_file` or `unsigned = true` under [origin]",
            ));
            None
        }
        (Some(path), false) => read_key_ring(path).map_err(|e| problems.push(Problem::new(place("key_file"), e))).ok(),
        (None, true) => None,
    };
    let tls = tls_pair(merged.tls_cert.as_ref(), merged.tls_key.as_ref(), places, problems);
    let config = OriginConfig { tls, ..merged.config.clone() };
    for problem in config.problems() {
        // The library's messages start with the setting they are about: "max_headers must be more than zero".
        match problem.split_once(' ') {
            Some((key, rest)) if places.has(key) => problems.push(Problem::new(place(key), rest)),
            _ => problems.push(Problem::new("origin", problem)),
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(OriginPlan { storage: storage?, keys, config })
}

/// `config check`'s look at a storage location: what `marquee_storage::open` would say, without creating a
/// missing directory as `open` does. Locations with a scheme go through `open`, which sends nothing to S3.
/// Returns the location and a note for a directory that does not exist yet.
fn check_location(location: &str) -> Result<(String, Option<String>), String> {
    if location.is_empty() || names_a_scheme(location) {
        return marquee_storage::open(location).map(|store| (store.location(), None)).map_err(|e| e.to_string());
    }
    match std::fs::metadata(location) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(location)
            .map(|_| (location.to_owned(), None))
            .map_err(|e| format!("cannot read directory {location}: {e}")),
        Ok(_) => Err(format!("{location} is not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((
            location.to_owned(),
            Some(format!("storage directory {location} does not exist yet: `marquee origin` will create it, empty")),
        )),
        Err(e) => Err(format!("cannot read {location}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config;
    use crate::config::test_support::{file, parse};

    fn merge_argv(argv: &[&str], file: Option<&LoadedFile>) -> MergedOrigin {
        let (args, matches) = parse::<OriginArgs>(command(), argv);
        let given = given_in(&command(), &matches);
        merge(&args, &given, file)
    }

    #[test]
    fn defaults_are_the_library_consts() {
        let merged = merge_argv(&[], None);
        assert_eq!(merged.config, OriginConfig::default());
        assert_eq!((merged.storage, merged.key_file, merged.unsigned), (None, None, false));
        assert_eq!((merged.tls_cert, merged.tls_key), (None, None));
    }

    #[test]
    fn the_file_beats_the_defaults_and_a_flag_beats_the_file() {
        let f = file(
            "marquee.toml",
            "[origin]\nlisten = \"127.0.0.1:1\"\nwrite_timeout = \"5s\"\nmax_connections = 7\nhot_cache_bytes = \
             \"1MiB\"\n",
        );
        let merged = merge_argv(&["--listen", "127.0.0.2:2", "--hot-cache-bytes", "0"], Some(&f));
        assert_eq!(merged.config.listen, "127.0.0.2:2".parse().unwrap());
        assert_eq!(merged.config.hot_cache_bytes, 0);
        assert_eq!(merged.config.connections.write_timeout, Duration::from_secs(5));
        assert_eq!(merged.config.connections.max_connections, 7);
        assert_eq!(merged.config.connections.max_headers, marquee_http::connections::DEFAULT_MAX_HEADERS);
        assert_eq!(merged.places.place("listen"), "--listen");
        assert_eq!(merged.places.place("max_connections"), "origin.max_connections (line 4)");
        assert_eq!(merged.places.place("max_headers"), "origin.max_headers");
    }

    #[test]
    fn a_variable_beats_the_file() {
        let f = file("marquee.toml", "[origin]\nmax_headers = 10\nmax_connections = 20\n");
        let (args, matches) = parse::<OriginArgs>(command(), &["--max-headers", "30"]);
        // As if clap had read --max-headers from its variable rather than the command line.
        let from_clap = given_in(&command(), &matches);
        let given = |id: &str| from_clap(id).map(|_| Given::Env("MARQUEE_ORIGIN_MAX_HEADERS".to_owned()));
        let merged = merge(&args, &given, Some(&f));
        assert_eq!((merged.config.connections.max_headers, merged.config.connections.max_connections), (30, 20));
        assert_eq!(merged.places.place("max_headers"), "MARQUEE_ORIGIN_MAX_HEADERS");
        assert_eq!(merged.places.from_env, ["MARQUEE_ORIGIN_MAX_HEADERS"]);
    }

    #[test]
    fn relative_paths_in_the_file_are_taken_from_its_directory() {
        let f = file(
            "/etc/marquee/marquee.toml",
            "[origin]\nstorage = \"media\"\nkey_file = \"keys.toml\"\ntls_cert = \"/pki/cert.pem\"\n",
        );
        let merged = merge_argv(&["--tls-key", "key.pem"], Some(&f));
        assert_eq!(merged.storage.as_deref(), Some("/etc/marquee/media"));
        assert_eq!(merged.key_file, Some(PathBuf::from("/etc/marquee/keys.toml")));
        assert_eq!(merged.tls_cert, Some(PathBuf::from("/pki/cert.pem")));
        assert_eq!(merged.tls_key, Some(PathBuf::from("key.pem")), "flags stay relative to the working directory");
        for url in ["s3://bucket/films", "file:///srv/media"] {
            let f = file("/etc/marquee/marquee.toml", &format!("[origin]\nstorage = \"{url}\"\n"));
            assert_eq!(merge_argv(&[], Some(&f)).storage.as_deref(), Some(url));
        }
    }

    fn problems_of(argv: &[&str], file: Option<&LoadedFile>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let planned = plan(&merge_argv(argv, file), |location| Ok(location.to_owned()), &mut problems);
        assert_eq!(planned.is_some(), problems.is_empty());
        problems
    }

    #[test]
    fn access_needs_exactly_one_of_a_key_file_and_unsigned() {
        let neither = problems_of(&["--storage", "out"], None);
        assert_eq!(neither.len(), 1, "{neither:?}");
        assert_eq!(neither[0].place, "--key-file");
        assert!(neither[0].message.contains("--key-file FILE") && neither[0].message.contains("--unsigned"));

        let f = file("marquee.toml", "[origin]\nstorage = \"out\"\nunsigned = true\n");
        assert_eq!(problems_of(&[], Some(&f)), []);
        // The key file is read all the same, so that a check reports its problems too.
        let both = problems_of(&["--key-file", "no-such-keys.toml"], Some(&f));
        assert_eq!(both.len(), 2, "{both:?}");
        assert_eq!(both[0].place, "origin.unsigned (line 3)");
        assert!(both[0].message.contains("a key file (--key-file)"), "{both:?}");
        assert_eq!(both[1].place, "--key-file");
        assert!(both[1].message.starts_with("cannot read key file no-such-keys.toml"), "{both:?}");
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let f = file(
            "marquee.toml",
            "[origin]\nunsigned = true\nmax_connections = 0\ntls_cert = \"cert.pem\"\nhot_object_ttl = \"0s\"\n",
        );
        let problems = problems_of(&["--max-headers", "0"], Some(&f));
        let places: Vec<&str> = problems.iter().map(|p| p.place.as_str()).collect();
        assert_eq!(
            places,
            [
                "origin.storage",
                "origin.tls_cert (line 4)",
                "--max-headers",
                "origin.max_connections (line 3)",
                "origin.hot_object_ttl (line 5)"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn the_example_holds_the_defaults() {
        let f = file("marquee.toml", &config::example());
        let merged = merge_argv(&[], Some(&f));
        assert_eq!(merged.config, OriginConfig::default());
        assert_eq!((merged.storage, merged.key_file, merged.unsigned), (None, None, false));
        // Every setting is in the example, set or commented out.
        let example = config::example();
        for arg in command().get_arguments().filter(|a| !NOT_IN_FILE.contains(&a.get_id().as_str())) {
            assert!(
                example.contains(&format!("\n{} = ", arg.get_id()))
                    || example.contains(&format!("# {} = ", arg.get_id())),
                "{}",
                arg.get_id()
            );
        }
    }

    #[test]
    fn scheme_detection_matches_the_storage_crate() {
        for url in ["s3://b/p", "file:///x", "S3://b", "gs://b", "s3:bucket"] {
            assert!(names_a_scheme(url), "{url}");
        }
        for path in ["out", "./a:b", "/srv/media", "C:\\media", "1x:y"] {
            assert!(!names_a_scheme(path), "{path}");
        }
    }
}
