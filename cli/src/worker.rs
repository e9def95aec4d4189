//! `marquee worker`: a transcode worker of the farm (the `marquee-worker` crate), with the signals that stop it.
//!
//! Every setting is declared once, on [`WorkerSettings`] in the worker library (the `[worker]` section), and is
//! taken from, highest first: its flag, its `MARQUEE_*` environment variable, the `--config` file's `[worker]`
//! section, and the defaults.

use std::path::PathBuf;

use anyhow::Context;
use clap::ArgMatches;
use marquee_settings::{Report, Section};
use marquee_worker::WorkerSettings;

use crate::config::LoadedFile;

/// The `[worker]` section.
pub const WORKER: Section = Section::of::<WorkerSettings>();

/// The `worker` subcommand's arguments as clap derives them: none, since every setting is added from
/// [`WorkerSettings`]' declaration.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {}

fn command() -> clap::Command {
    crate::config::service_args(WORKER, clap::Command::new("worker"))
}

/// Runs `marquee worker`; `matches` are the subcommand's.
pub fn run(matches: &ArgMatches) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let file = match matches.get_one::<PathBuf>("config") {
        Some(path) => match crate::config::load(path, &mut problems) {
            Some(file) => Some(file),
            None => return Err(crate::config::failure("cannot start the worker", &problems)),
        },
        None => None,
    };
    let (resolved, reports) = crate::config::resolve::<WorkerSettings>(matches, file.as_ref());
    problems.extend(reports);
    problems.extend(resolved.value.problems().iter().map(|problem| resolved.places.report(problem)));
    let storage = resolved.value.storage.as_deref().and_then(|location| {
        marquee_storage::open(location)
            .map_err(|e| {
                problems.push(resolved.places.report(&marquee_settings::Problem::new("storage", e.to_string())))
            })
            .ok()
    });
    let (Some(storage), true) = (storage, problems.is_empty()) else {
        return Err(crate::config::failure("cannot start the worker", &problems));
    };
    let settings = resolved.value;
    let name = settings.name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        format!("{}-{}", if host.is_empty() { "worker" } else { &host }, std::process::id())
    });
    let options = marquee_worker::WorkerOptions {
        api: settings.api.unwrap_or_default(),
        api_key: settings.api_key.unwrap_or_default(),
        storage,
        name,
        capacity: i64::from(settings.capacity),
        scratch_dir: settings.scratch_dir.unwrap_or_else(std::env::temp_dir),
        drain_timeout: settings.drain_timeout,
        stall_timeout: settings.stall_timeout,
        max_source_bytes: settings.max_source_bytes,
        allow_private_urls: settings.allow_private_source_urls,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (signal, signals) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                crate::shutdown::signal().await;
                if signal.send(()).is_err() {
                    return;
                }
            }
        });
        marquee_worker::run(options, signals).await.map(|_| ())
    })
}

/// `marquee config check` for the `[worker]` section: the values and the storage location, as `marquee worker`
/// would start with them (the API key's validity is the API's to say, at start).
pub fn check(file: &LoadedFile, problems: &mut Vec<Report>, notes: &mut Vec<String>) -> Option<String> {
    let matches = match command().try_get_matches_from(["worker"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(Report::new("environment", e.to_string()));
            return None;
        }
    };
    let (resolved, reports) = crate::config::resolve::<WorkerSettings>(&matches, Some(file));
    if !resolved.places.from_env.is_empty() {
        notes.push(format!("set from the environment: {}", resolved.places.from_env.join(", ")));
    }
    let before = problems.len();
    problems.extend(reports);
    problems.extend(resolved.value.problems().iter().map(|problem| resolved.places.report(problem)));
    if let Some(location) = &resolved.value.storage {
        match crate::origin::check_location(location) {
            Ok((_, note)) => notes.extend(note),
            Err(e) => problems.push(resolved.places.report(&marquee_settings::Problem::new("storage", e))),
        }
    }
    (problems.len() == before).then(|| {
        format!(
            "[worker] claims up to {} job(s) at once from {} and publishes to {}",
            resolved.value.capacity,
            resolved.value.api.as_deref().unwrap_or("?"),
            resolved.value.storage.as_deref().unwrap_or("?")
        )
    })
}
