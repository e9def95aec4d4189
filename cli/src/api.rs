//! `marquee api`: the control API (uploads, assets, jobs, events, playback URLs) on SQLite or PostgreSQL, with
//! the satellites mounted (`crate::satellites`).
//!
//! Every setting is declared once, on [`ApiSettings`] in the control API library (the `[api]` section), on
//! [`CommerceSettings`] in commerce (`[commerce]`) and on [`AnalyticsSection`] (`[analytics]`), and is taken
//! from, highest first: its flag, its `MARQUEE_*` environment variable, its section of the `--config` file,
//! and the defaults (the libraries' `DEFAULT_*` consts).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::ArgMatches;
use marquee_commerce::CommerceSettings;
use marquee_control_api::events::{Dispatcher, DispatcherSettings};
use marquee_control_api::playback::{NoEntitlements, Playback};
use marquee_control_api::{Api, ApiSettings, AppState, Database};
use marquee_settings::{Problem, Report, Resolved, Section};
use marquee_signing::KeyRing;
use marquee_storage::ObjectStore;

use crate::config::analytics::AnalyticsSection;
use crate::config::LoadedFile;
use crate::satellites::SatelliteSettings;

/// The `[api]` section.
pub const API: Section = Section::of::<ApiSettings>();

/// The `api` subcommand's arguments as clap derives them: none, since every setting is added from
/// [`ApiSettings`]' declaration.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {}

/// The `api` subcommand as `marquee` builds it: the `[api]` settings, then the satellites' (their flags are
/// named `--commerce-*` and `--analytics-*`, so no two sections share one).
pub fn command() -> clap::Command {
    let sections = crate::config::SECTIONS.iter().filter(|section| crate::config::served_by(section.name) == "api");
    sections.fold(clap::Command::new("api"), |command, section| crate::config::section_args(*section, command))
}

/// The satellites' settings from `matches` over `file`, with every problem placed where its value was set.
fn satellite_settings(
    matches: &ArgMatches,
    file: Option<&LoadedFile>,
    problems: &mut Vec<Report>,
) -> (Resolved<CommerceSettings>, Resolved<AnalyticsSection>) {
    let (commerce, reports) = crate::config::resolve::<CommerceSettings>(matches, file);
    problems.extend(reports);
    problems.extend(commerce.value.problems().iter().map(|problem| commerce.places.report(problem)));
    let (analytics, reports) = crate::config::resolve::<AnalyticsSection>(matches, file);
    problems.extend(reports);
    problems.extend(analytics.value.problems().iter().map(|problem| analytics.places.report(problem)));
    (commerce, analytics)
}

/// Runs `marquee api`; `matches` are the subcommand's.
pub fn run(matches: &ArgMatches) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let file = match matches.get_one::<PathBuf>("config") {
        Some(path) => match crate::config::load(path, &mut problems) {
            Some(file) => Some(file),
            None => return Err(crate::config::failure("cannot start the API", &problems)),
        },
        None => None,
    };
    let (resolved, reports) = crate::config::resolve::<ApiSettings>(matches, file.as_ref());
    problems.extend(reports);
    let (commerce, analytics) = satellite_settings(matches, file.as_ref(), &mut problems);
    let satellites = SatelliteSettings { commerce: commerce.value, analytics: analytics.value.settings() };
    let open = |location: &str| marquee_storage::open(location).map_err(|e| e.to_string());
    let (storage, playback) = match plan(&resolved, open, &mut problems) {
        Some(plan) if problems.is_empty() => plan,
        _ => return Err(crate::config::failure("cannot start the API", &problems)),
    };
    let settings = resolved.value;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    runtime.block_on(serve(settings, satellites, storage, playback))
}

async fn serve(
    settings: ApiSettings,
    satellites: SatelliteSettings,
    storage: Arc<dyn ObjectStore>,
    playback: Option<Playback>,
) -> anyhow::Result<()> {
    let database = marquee_control_api::db::redacted(&settings.database);
    let api = start(&settings, satellites, storage, playback).await?;
    println!("Serving the control API on http://{} (database {database}, storage {})", api.local_addr(), api.location);
    if let Some((email, password)) = &api.first_admin {
        println!(
            "First start: made the admin {email} with the password {password}\n\
             (shown this once: sign in with POST /v1/auth/login and change it with PUT /v1/me/password)"
        );
    }
    let _ = std::io::stdout().flush();
    api.run(crate::shutdown::signal()).await?;
    eprintln!("Stopped: in-flight requests and webhook deliveries finished.");
    Ok(())
}

/// The control API with its satellites, bound and ready to run: what `marquee api` serves, and `marquee up`
/// beside its other parts.
pub struct Started {
    api: Api,
    dispatcher: Dispatcher,
    farm: marquee_control_api::farm::Farm,
    /// The storage location, for people to read.
    pub location: String,
    /// The admin made on an empty database, with its password (to be shown once).
    pub first_admin: Option<(String, String)>,
    /// The database, open.
    pub db: Database,
}

/// Opens the database (migrating it and the satellites' tables), mounts the satellites and binds the listener.
pub async fn start(
    settings: &ApiSettings,
    satellites: SatelliteSettings,
    storage: Arc<dyn ObjectStore>,
    playback: Option<Playback>,
) -> anyhow::Result<Started> {
    let web = web_app(&settings.web_app)?;
    let db = Database::connect(&settings.database).await?;
    let location = storage.location();
    let first_admin = marquee_control_api::auth::first_admin(&db).await.context("cannot read the users")?;
    let mut state =
        AppState::new(db.clone(), storage, settings).await.context("cannot read the access-token secret")?;
    // The satellites read the state's database and clock (the system's): one time for playback and all of them.
    let mounted = crate::satellites::mount_configured(&state, crate::satellites::Parts::default(), satellites);
    mounted.satellites.migrate(&state.db).await.context("cannot apply the satellites' migrations")?;
    if let Some(mut playback) = playback {
        // Beyond owners, admins and public assets, commerce says who may watch.
        playback.entitlements = mounted.entitlements.clone();
        state = state.with_playback(playback);
    }
    let dispatcher = Dispatcher::new(state.db.clone(), DispatcherSettings::from(settings))
        .context("cannot start the webhook dispatcher")?
        .with_metrics(state.metrics.registry())
        .context("cannot register the webhook metrics")?;
    let farm = state.farm.clone();
    let api = Api::bind_with(settings, state, mounted.satellites)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let api = match web {
        Some(source) => api.with_web_app(marquee_web_app::router(source)),
        None => api,
    };
    Ok(Started { api, dispatcher, farm, location, first_admin, db })
}

/// What the `web_app` setting names: the embedded build, none (`off`), or a folder with a Vite build in it.
pub fn web_app(setting: &str) -> anyhow::Result<Option<marquee_web_app::Source>> {
    match setting {
        "embedded" => {
            if !marquee_web_app::is_built() {
                tracing::warn!("This binary was built without its web app; its pages say how to build it.");
            }
            Ok(Some(marquee_web_app::Source::Embedded))
        }
        "off" => Ok(None),
        folder => {
            let folder = std::path::PathBuf::from(folder);
            if !folder.join("index.html").is_file() {
                anyhow::bail!(
                    "web_app: {} holds no index.html; give a folder with a Vite build of web-app/frontend \
                     (npm --prefix web-app/frontend run build writes web-app/frontend/dist), or `embedded` or `off`",
                    folder.display()
                );
            }
            Ok(Some(marquee_web_app::Source::Directory(folder)))
        }
    }
}

impl Started {
    /// Where the API listens.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.api.local_addr()
    }

    /// Serves until `shutdown` completes; then lets in-flight requests, the webhook dispatcher's step in progress
    /// and the lease sweeper finish.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let sweeping = marquee_control_api::farm::sweeper::spawn(self.farm, stopped(stopping.clone()));
        let dispatching = self.dispatcher.spawn(stopped(stopping));
        self.api
            .run(async move {
                shutdown.await;
                let _ = stop.send(true);
            })
            .await;
        dispatching.await.context("the webhook dispatcher failed")?;
        sweeping.await.context("the lease sweeper failed")?;
        Ok(())
    }
}

/// `marquee config check` for the `[api]` section: the values and the storage location, without opening
/// the database (which `marquee api` would create or migrate).
pub fn check(file: &LoadedFile, problems: &mut Vec<Report>, notes: &mut Vec<String>) -> Option<String> {
    let matches = match command().try_get_matches_from(["api"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(Report::new("environment", e.to_string()));
            return None;
        }
    };
    let (resolved, reports) = crate::config::resolve::<ApiSettings>(&matches, Some(file));
    if !resolved.places.from_env.is_empty() {
        notes.push(format!("set from the environment: {}", resolved.places.from_env.join(", ")));
    }
    problems.extend(reports);
    if let Err(e) = web_app(&resolved.value.web_app) {
        problems.push(Report::new("web_app", format!("{e:#}")));
    }
    let ((location, note), _) = plan(&resolved, crate::origin::check_location, problems)?;
    notes.extend(note);
    Some(format!(
        "[api] serves on http://{} with database {} and storage {location}",
        resolved.value.listen,
        marquee_control_api::db::redacted(&resolved.value.database)
    ))
}

/// `marquee config check` for the `[commerce]` section: its values, as `marquee api` would start with them.
pub fn check_commerce(file: &LoadedFile, problems: &mut Vec<Report>, notes: &mut Vec<String>) -> Option<String> {
    let commerce = check_section::<CommerceSettings>(file, problems, notes, CommerceSettings::problems)?;
    Some(format!(
        "[commerce] cancels past-due subscriptions after {}, retrying their renewal every {}",
        humantime::format_duration(commerce.grace_period),
        humantime::format_duration(commerce.retry_interval)
    ))
}

/// `marquee config check` for the `[analytics]` section.
pub fn check_analytics(file: &LoadedFile, problems: &mut Vec<Report>, notes: &mut Vec<String>) -> Option<String> {
    let analytics = check_section::<AnalyticsSection>(file, problems, notes, AnalyticsSection::problems)?;
    Some(format!(
        "[analytics] keeps beacon events {} and rebuilds recommendations every {}",
        humantime::format_duration(analytics.events_retention),
        humantime::format_duration(analytics.rebuild_every)
    ))
}

/// One satellite section as `marquee api` would resolve it from `file`, the environment and the defaults: its
/// values when they have no problem (`problems_of` finds those between values).
fn check_section<T: marquee_settings::Settings>(
    file: &LoadedFile,
    problems: &mut Vec<Report>,
    notes: &mut Vec<String>,
    problems_of: fn(&T) -> Vec<Problem>,
) -> Option<T> {
    let matches = match command().try_get_matches_from(["api"]) {
        Ok(matches) => matches,
        Err(e) => {
            problems.push(Report::new("environment", e.to_string()));
            return None;
        }
    };
    let (resolved, reports) = crate::config::resolve::<T>(&matches, Some(file));
    if !resolved.places.from_env.is_empty() {
        notes.push(format!("set from the environment: {}", resolved.places.from_env.join(", ")));
    }
    let before = problems.len();
    problems.extend(reports);
    problems.extend(problems_of(&resolved.value).iter().map(|problem| resolved.places.report(problem)));
    (problems.len() == before).then_some(resolved.value)
}

/// Checks the resolved settings, the storage location (`open` turns it into `S` or says why it cannot) and the
/// key file, each problem placed where it was set.
fn plan<S>(
    resolved: &Resolved<ApiSettings>,
    open: impl FnOnce(&str) -> Result<S, String>,
    problems: &mut Vec<Report>,
) -> Option<(S, Option<Playback>)> {
    let before = problems.len();
    let (settings, places) = (&resolved.value, &resolved.places);
    let storage = match &settings.storage {
        Some(location) => open(location).map_err(|e| problems.push(places.report(&Problem::new("storage", e)))).ok(),
        None => {
            problems.push(places.report(&Problem::new(
                "storage",
                "no storage location: set `storage` under [api], --storage or MARQUEE_STORAGE to a directory or \
                 s3://bucket/prefix (where uploads and published presentations are kept)",
            )));
            None
        }
    };
    problems.extend(settings.problems().iter().map(|problem| places.report(problem)));
    let keys = settings.key_file.as_ref().and_then(|path| {
        let keys = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| KeyRing::from_toml(&path.display().to_string(), &text).map_err(|e| e.to_string()));
        keys.map_err(|e| problems.push(places.report(&Problem::new("key_file", e)))).ok()
    });
    if problems.len() > before {
        return None;
    }
    let playback = match (keys, &settings.playback_base_url) {
        (Some(keys), Some(base_url)) => Some(Playback {
            keys,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ttl: settings.playback_ttl,
            entitlements: Arc::new(NoEntitlements),
        }),
        _ => None,
    };
    Some((storage?, playback))
}
