//! `marquee origin`: serves published presentations over HTTP from a directory or S3, behind signed URLs.
//!
//! Every setting is declared once, on [`OriginSettings`] in the origin library, and is taken from, highest
//! first: its flag, its `MARQUEE_*` environment variable, the `[origin]` section of the `--config` file, and
//! the defaults (the `DEFAULT_*` consts of [`marquee_origin::config`], which clap shows in `--help`). `plan`
//! checks the result, opens or looks at what it names and collects every problem. `marquee config check` runs
//! the same, so it accepts exactly what `marquee origin --config` starts with.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::ArgMatches;
use marquee_http::{RequestAuthorizer, SignedUrls, Unsigned};
use marquee_origin::{Origin, OriginConfig, OriginSettings};
use marquee_settings::{names_a_scheme, Problem, Report, Resolved, Section};
use marquee_signing::KeyRing;

use crate::config::files::{access, tls_pair};
use crate::config::LoadedFile;

/// The `[origin]` section.
pub const ORIGIN: Section = Section::of::<OriginSettings>();

/// The `origin` subcommand's arguments as clap derives them: none, since every setting is added by [`args`]
/// from [`OriginSettings`]' declaration.
#[derive(Debug, clap::Args)]
pub struct OriginArgs {}

/// Adds `--config` and every setting of [`OriginSettings`] to the `origin` subcommand.
pub fn args(command: clap::Command) -> clap::Command {
    crate::config::service_args(ORIGIN, command)
}

/// The `origin` subcommand as `marquee` builds it.
pub fn command() -> clap::Command {
    args(clap::Command::new("origin"))
}

/// Runs `marquee origin`; `matches` are the subcommand's.
pub fn run(matches: &ArgMatches) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let file = match matches.get_one::<PathBuf>("config") {
        Some(path) => match crate::config::load(path, &mut problems) {
            Some(file) => Some(file),
            None => return Err(crate::config::failure("cannot start the origin", &problems)),
        },
        None => None,
    };
    let (resolved, reports) = crate::config::resolve::<OriginSettings>(matches, file.as_ref());
    problems.extend(reports);
    let open = |location: &str| marquee_storage::open(location).map_err(|e| e.to_string());
    let plan = match plan(&resolved, open, &mut problems) {
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

/// `marquee config check` for the `[origin]` section: resolves it with the `MARQUEE_*` environment as
/// `marquee origin --config FILE` would, and checks the result without opening anything for good (a missing
/// storage directory is not created). Returns a summary line when the origin would start.
pub fn check(file: &LoadedFile, problems: &mut Vec<Report>, notes: &mut Vec<String>) -> Option<String> {
    let matches = match command().try_get_matches_from(["origin"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(Report::new("environment", e.to_string()));
            return None;
        }
    };
    let (resolved, reports) = crate::config::resolve::<OriginSettings>(&matches, Some(file));
    if !resolved.places.from_env.is_empty() {
        notes.push(format!("set from the environment: {}", resolved.places.from_env.join(", ")));
    }
    problems.extend(reports);
    let plan = plan(&resolved, check_location, problems)?;
    let (location, note) = plan.storage;
    notes.extend(note);
    let scheme = if plan.config.tls.is_some() { "https" } else { "http" };
    Some(format!(
        "[origin] serves {location} on {scheme}://{} ({})",
        plan.config.listen,
        crate::config::files::access_summary(plan.keys.as_ref())
    ))
}

/// What the origin runs with once every setting is known to work. `S` is the opened store when serving, or
/// what `config check` learnt about the location.
struct OriginPlan<S> {
    storage: S,
    /// `None`: unsigned.
    keys: Option<KeyRing>,
    config: OriginConfig,
}

/// Checks the resolved settings: the storage location (`open` turns it into `S` or says why it cannot), the
/// key file and TLS files they name, and what [`OriginConfig`] says is wrong with the values, each placed
/// where it was set. Adds every problem to `problems`.
fn plan<S>(
    resolved: &Resolved<OriginSettings>,
    open: impl FnOnce(&str) -> Result<S, String>,
    problems: &mut Vec<Report>,
) -> Option<OriginPlan<S>> {
    let before = problems.len();
    let (settings, places) = (&resolved.value, &resolved.places);
    let storage = match &settings.storage {
        Some(location) => open(location).map_err(|e| problems.push(places.report(&Problem::new("storage", e)))).ok(),
        None => {
            problems.push(places.report(&Problem::new(
                "storage",
                "no storage location: set `storage` under [origin], --storage or MARQUEE_STORAGE to a directory or \
                 s3://bucket/prefix",
            )));
            None
        }
    };
    let keys = access(
        settings.key_file.as_ref(),
        settings.unsigned,
        "neither a key file nor unsigned is set: give --key-file FILE (signed URLs; `marquee keygen` writes one) \
         or --unsigned (every object public), or `key_file` or `unsigned = true` under [origin]",
        places,
        problems,
    );
    let tls = tls_pair(settings.tls_cert.as_ref(), settings.tls_key.as_ref(), places, problems);
    let config = OriginConfig { tls, ..settings.config.clone() };
    problems.extend(config.problems().iter().map(|problem| places.report(problem)));
    if problems.len() > before {
        return None;
    }
    Some(OriginPlan { storage: storage?, keys, config })
}

/// `config check`'s look at a storage location: what `marquee_storage::open` would say, without creating a
/// missing directory as `open` does. Locations with a scheme go through `open`, which sends nothing to S3.
/// Returns the location and a note for a directory that does not exist yet.
pub(crate) fn check_location(location: &str) -> Result<(String, Option<String>), String> {
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
    use crate::config::test_support::{file, parse_with, resolve};

    fn merge_argv(argv: &[&str], file: Option<&LoadedFile>) -> Resolved<OriginSettings> {
        resolve::<OriginSettings>(command(), argv, file)
    }

    #[test]
    fn defaults_are_the_library_consts() {
        let merged = merge_argv(&[], None).value;
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
        assert_eq!(merged.value.config.listen, "127.0.0.2:2".parse().unwrap());
        assert_eq!(merged.value.config.hot_cache_bytes, 0);
        assert_eq!(merged.value.config.connections.write_timeout, Duration::from_secs(5));
        assert_eq!(merged.value.config.connections.max_connections, 7);
        assert_eq!(merged.value.config.connections.max_headers, marquee_http::connections::DEFAULT_MAX_HEADERS);
        assert_eq!(merged.places.place("listen"), "--listen");
        assert_eq!(merged.places.place("max_connections"), "origin.max_connections (line 4)");
        assert_eq!(merged.places.place("max_headers"), "origin.max_headers");
    }

    #[test]
    fn a_variable_beats_the_file() {
        let f = file("marquee.toml", "[origin]\nmax_headers = 10\nmax_connections = 20\n");
        // clap reads --max-headers from a variable of this test's own, but names it by the setting's variable.
        let variable = format!("MARQUEE_TEST_ORIGIN_MAX_HEADERS_{}", std::process::id());
        std::env::set_var(&variable, "30");
        let matches = parse_with(command(), &[], &[("max_headers", &variable)]);
        let (merged, reports) = config::resolve::<OriginSettings>(&matches, Some(&f));
        assert_eq!(reports, []);
        assert_eq!(
            (merged.value.config.connections.max_headers, merged.value.config.connections.max_connections),
            (30, 20)
        );
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
        let merged = merged.value;
        assert_eq!(merged.storage.as_deref(), Some("/etc/marquee/media"));
        assert_eq!(merged.key_file, Some(PathBuf::from("/etc/marquee/keys.toml")));
        assert_eq!(merged.tls_cert, Some(PathBuf::from("/pki/cert.pem")));
        assert_eq!(merged.tls_key, Some(PathBuf::from("key.pem")), "flags stay relative to the working directory");
        for url in ["s3://bucket/films", "file:///srv/media"] {
            let f = file("/etc/marquee/marquee.toml", &format!("[origin]\nstorage = \"{url}\"\n"));
            assert_eq!(merge_argv(&[], Some(&f)).value.storage.as_deref(), Some(url));
        }
    }

    fn problems_of(argv: &[&str], file: Option<&LoadedFile>) -> Vec<Report> {
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
        let merged = merge_argv(&[], Some(&f)).value;
        assert_eq!(merged.config, OriginConfig::default());
        assert_eq!((merged.storage, merged.key_file, merged.unsigned), (None, None, false));
        // Every setting is in the example, set or commented out.
        let example = config::example();
        for arg in command().get_arguments().filter(|a| a.get_id() != "config") {
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
