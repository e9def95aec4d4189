//! `marquee edge`: the caching proxy between players and origins (or shield edges).
//!
//! Every setting is declared once, on [`EdgeConfig`] in the edge-cache library, and is taken from, highest
//! first: its flag, its `MARQUEE_*` environment variable, the `[edge]` section of the `--config` file, and the
//! defaults (the `DEFAULT_*` consts of [`marquee_edge_cache::config`] and [`marquee_edge_cache::freshness`],
//! which clap shows in `--help`). `plan` checks the result, reads the files it names and collects every
//! problem. `marquee config check` runs the same, so it accepts exactly what `marquee edge --config` starts
//! with.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::ArgMatches;
use marquee_edge_cache::{EdgeConfig, EdgeServer};
use marquee_http::{RequestAuthorizer, SignedUrls, TlsFiles, Unsigned};
use marquee_settings::human::HumanBytes;
use marquee_settings::{Problem, Report, Resolved, Section};
use marquee_signing::KeyRing;

use crate::config::files::{access, tls_pair, writable_directory, WritableDirectory};
use crate::config::LoadedFile;

/// The `[edge]` section.
pub const EDGE: Section = Section::of::<EdgeConfig>();

/// The `edge` subcommand's arguments as clap derives them: none, since every setting is added by [`args`]
/// from [`EdgeConfig`]'s declaration.
#[derive(Debug, clap::Args)]
pub struct EdgeArgs {}

/// Adds `--config` and every setting of [`EdgeConfig`] to the `edge` subcommand.
pub fn args(command: clap::Command) -> clap::Command {
    crate::config::service_args(EDGE, command)
}

/// The `edge` subcommand as `marquee` builds it.
pub fn command() -> clap::Command {
    args(clap::Command::new("edge"))
}

/// Runs `marquee edge`; `matches` are the subcommand's.
pub fn run(matches: &ArgMatches) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let file = match matches.get_one::<PathBuf>("config") {
        Some(path) => match crate::config::load(path, &mut problems) {
            Some(file) => Some(file),
            None => return Err(crate::config::failure("cannot start the edge", &problems)),
        },
        None => None,
    };
    let (resolved, reports) = crate::config::resolve::<EdgeConfig>(matches, file.as_ref());
    problems.extend(reports);
    // The disk tier creates its directory and says what went wrong if it cannot, so it is not looked at here.
    let plan = match plan(&resolved, &mut problems) {
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

/// `marquee config check` for the `[edge]` section: resolves it with the `MARQUEE_*` environment as
/// `marquee edge --config FILE` would, and checks the result without creating anything (a missing disk
/// directory is only looked for a parent it could be created in). Returns a summary line when the edge would
/// start.
pub fn check(file: &LoadedFile, problems: &mut Vec<Report>, notes: &mut Vec<String>) -> Option<String> {
    let matches = match command().try_get_matches_from(["edge"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(Report::new("environment", e.to_string()));
            return None;
        }
    };
    let (resolved, reports) = crate::config::resolve::<EdgeConfig>(&matches, Some(file));
    if !resolved.places.from_env.is_empty() {
        notes.push(format!("[edge] set from the environment: {}", resolved.places.from_env.join(", ")));
    }
    let before = problems.len();
    problems.extend(reports);
    if let Some(dir) = &resolved.value.disk_dir {
        match writable_directory(dir) {
            Ok(WritableDirectory::Exists) => {}
            Ok(WritableDirectory::Missing) => notes.push(format!(
                "disk directory {} does not exist yet: `marquee edge` will create it, empty",
                dir.display()
            )),
            Err(e) => problems.push(resolved.places.report(&Problem::new("disk_dir", e))),
        }
    }
    let plan = plan(&resolved, problems)?;
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

/// What the edge runs with once every setting is known to work.
struct EdgePlan {
    /// `None`: unsigned.
    keys: Option<KeyRing>,
    tls: Option<TlsFiles>,
    config: EdgeConfig,
}

/// Checks the resolved settings: the key file and the TLS files they name, and what [`EdgeConfig`] says is
/// wrong with the values, each placed where it was set. Adds every problem to `problems`.
fn plan(resolved: &Resolved<EdgeConfig>, problems: &mut Vec<Report>) -> Option<EdgePlan> {
    let before = problems.len();
    let (config, places) = (&resolved.value, &resolved.places);
    let keys = access(
        config.key_file.as_ref(),
        config.unsigned,
        "neither a key file nor unsigned is set: give --key-file FILE (signed URLs, with the origin's key \
         file) or --unsigned (every object public), or `key_file` or `unsigned = true` under [edge]",
        places,
        problems,
    );
    let tls = tls_pair(config.tls_cert.as_ref(), config.tls_key.as_ref(), places, problems);
    problems.extend(config.problems().iter().map(|problem| places.report(problem)));
    if problems.len() > before {
        return None;
    }
    Some(EdgePlan { keys, tls, config: config.clone() })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use marquee_edge_cache::freshness::DEFAULT_MAX_TTL;

    use super::*;
    use crate::config;
    use crate::config::test_support::{file, parse_with, resolve};

    fn merge_argv(argv: &[&str], file: Option<&LoadedFile>) -> Resolved<EdgeConfig> {
        resolve::<EdgeConfig>(command(), argv, file)
    }

    /// EdgeConfig has no `PartialEq`; its `Debug` shows every field.
    fn same(a: &EdgeConfig, b: &EdgeConfig) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn defaults_are_the_library_consts() {
        let merged = merge_argv(&[], None).value;
        assert!(same(&merged, &EdgeConfig::default()), "{merged:?}");
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
        assert_eq!(merged.value.upstreams, ["http://c:3"]);
        assert_eq!(merged.value.prefetch_segments, 4);
        assert_eq!(merged.value.listen, "127.0.0.1:1".parse().unwrap());
        assert_eq!(merged.value.memory_bytes, 1 << 30);
        assert_eq!(merged.value.freshness.negative_ttl, Duration::from_secs(3));
        assert_eq!(merged.value.freshness.max_ttl, DEFAULT_MAX_TTL);
        assert_eq!(merged.places.place("upstreams"), "--upstream");
        assert_eq!(merged.places.place("memory"), "edge.memory (line 4)");
        assert_eq!(merged.places.place("disk"), "edge.disk");
        let merged = merge_argv(&[], Some(&f));
        assert_eq!(merged.value.upstreams, ["http://a:1", "http://b:2"]);
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
        let connections = &merged.value.connections;
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
        // clap reads --memory from a variable of this test's own, but names it by the setting's variable.
        let variable = format!("MARQUEE_TEST_EDGE_MEMORY_{}", std::process::id());
        std::env::set_var(&variable, "2GiB");
        let matches = parse_with(command(), &[], &[("memory", &variable)]);
        let (merged, reports) = config::resolve::<EdgeConfig>(&matches, Some(&f));
        assert_eq!(reports, []);
        assert_eq!((merged.value.memory_bytes, merged.value.disk_bytes), (2 << 30, 1 << 30));
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
        assert_eq!(merged.value.disk_dir, Some(PathBuf::from("/etc/marquee/cache")));
        assert_eq!(merged.value.key_file, Some(PathBuf::from("/etc/marquee/keys.toml")));
        assert_eq!(merged.value.tls_cert, Some(PathBuf::from("/pki/cert.pem")));
        assert_eq!(
            merged.value.tls_key,
            Some(PathBuf::from("key.pem")),
            "flags stay relative to the working directory"
        );
    }

    fn problems_of(argv: &[&str], file: Option<&LoadedFile>) -> Vec<Report> {
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
            [Report::new("--memory-max-object", "must exceed the per-entry overhead (256 bytes)")],
            "{problems:?}"
        );
        let problems =
            problems_of(&["--unsigned", "--upstream", "http://o:1", "--purge-token", "0123456789 abcdefgh"], None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.starts_with("must be printable ASCII"), "{problems:?}");
    }

    #[test]
    fn bad_flag_and_variable_values_are_each_reported_where_they_were_given() {
        let variable = format!("MARQUEE_TEST_EDGE_PREFETCH_{}", std::process::id());
        std::env::set_var(&variable, "many");
        let matches = parse_with(command(), &["--memory", "lots", "--listen", "localhost"], &[("prefetch", &variable)]);
        let (resolved, reports) = config::resolve::<EdgeConfig>(&matches, None);
        let places: Vec<&str> = reports.iter().map(|r| r.place.as_str()).collect();
        assert_eq!(places, ["--listen", "--memory", "MARQUEE_EDGE_PREFETCH"], "{reports:?}");
        assert!(reports[0].message.contains("\"localhost\" is not an IP address and port"), "{reports:?}");
        assert!(reports[1].message.contains("\"lots\" is not a size"), "{reports:?}");
        assert!(same(&resolved.value, &EdgeConfig::default()), "bad values are left out");
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
        assert!(same(&merged.value, &EdgeConfig::default()), "{:?}", merged.value);
        let example = config::example();
        let edge = &example[example.find("\n[edge]\n").expect("an [edge] section")..];
        for arg in command().get_arguments().filter(|a| a.get_id() != "config") {
            let key = arg.get_id();
            assert!(edge.contains(&format!("\n{key} = ")) || edge.contains(&format!("# {key} = ")), "{key}");
        }
        assert!(edge.contains("\n# upstreams = [\"http://origin-a:8080\", \"http://origin-b:8080\"]\n"), "{edge}");
    }
}
