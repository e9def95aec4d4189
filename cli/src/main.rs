//! `marquee`: one binary with a subcommand per component.

//!
//! Only parsing and dispatch live here; every subcommand is a function of the `marquee` library
//! (`cli/src/lib.rs`), which the integration tests call too.

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use marquee::{admin, api, config, config_command, edge, origin, sign, transcode, up, upload, worker};

/// Marquee: a self-hosted video platform engine. Transcodes films into adaptive-bitrate CMAF ladders with
/// HLS and DASH manifests; later releases serve them from an origin and edge caches.
#[derive(Debug, Parser)]
#[command(name = "marquee", version, propagate_version = true)]
struct Cli {
    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `marquee_transcoder=debug`).
    #[arg(long, global = true, env = "MARQUEE_LOG", default_value = "warn")]
    log: String,
    /// Log format on stderr.
    #[arg(long, global = true, env = "MARQUEE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform on this machine: the control API with the catalog, commerce and analytics, a
    /// transcode worker, the origin and an edge cache, over SQLite and one data directory. Nothing to set up.
    ///
    /// The first start makes an admin (its password is printed once) and signing keys. Stopping (Ctrl-C,
    /// SIGTERM) and starting again keeps users, catalog, assets and uploads; a transcode that was running
    /// starts again.
    ///
    /// Example: marquee up
    ///
    /// Example: marquee up --data-dir /srv/marquee --listen 0.0.0.0:8090 --media-listen 0.0.0.0:8091
    Up(up::UpArgs),
    /// Transcode a film into an adaptive-bitrate CMAF ladder with HLS and DASH manifests.
    ///
    /// Writes OUT/master.m3u8 (HLS) and OUT/manifest.mpd (DASH) plus one folder per rendition with
    /// init.mp4 and seg_NNNNN.m4s files shared by both protocols. The manifests are written last: a
    /// folder without them is not a finished presentation. If anything fails, everything written is
    /// removed again and the exit code is non-zero.
    ///
    /// Example: marquee transcode film.mp4 --out out/film
    Transcode(transcode::TranscodeArgs),
    /// List the built-in ladder presets and their rungs.
    Presets,
    /// Show which H.264 encoders GStreamer offers on this machine and which one `--encoder auto` picks.
    Encoders,
    /// Serve published presentations to players and edge caches, from a directory or S3.
    ///
    /// Every setting is a flag, a MARQUEE_* environment variable and a key of the [origin] section of a
    /// config file (--config), in that order of precedence; `marquee config example` prints such a file.
    ///
    /// Example: marquee origin --storage out --key-file keys.toml --listen 0.0.0.0:8080
    ///
    /// Example: marquee origin --config /etc/marquee/marquee.toml
    Origin(origin::OriginArgs),
    /// Cache and serve what upstream origins (or shield edges) publish: the CDN node players pull from.
    ///
    /// Memory and disk tiers with byte budgets, one upstream fetch per object however many players ask,
    /// stale copies served when the upstream fails, and the same signed URLs as the origin.
    ///
    /// Example: marquee edge --upstream http://origin:8080 --key-file keys.toml --disk-dir /var/cache/marquee
    ///
    /// Example: marquee edge --config /etc/marquee/marquee.toml   (the [edge] section; see `marquee config example`)
    Edge(edge::EdgeArgs),
    /// Serve the control API: users and keys, uploads, assets, the transcode job queue, webhooks and
    /// playback URLs, on SQLite (the default, one file) or PostgreSQL (any number of API instances).
    ///
    /// Every setting is a flag, a MARQUEE_* environment variable and a key of the [api] section of a config
    /// file (--config); `marquee config example` prints such a file.
    ///
    /// Example: marquee api --storage /srv/marquee/media --database sqlite:/var/lib/marquee/api.db
    ///
    /// Example: marquee api --storage s3://media/ --database postgres://marquee@db:5432/marquee
    Api(api::ApiArgs),
    /// Upload a film to the control API (tus) with a progress bar; prints the new asset's id.
    ///
    /// An interrupted upload (Ctrl-C, a crash, a network failure) resumes from where the server says it is
    /// when the same command runs again.
    ///
    /// Example: MARQUEE_API_KEY=mqk_… marquee upload film.mp4 --api http://localhost:8090
    Upload(upload::UploadArgs),
    /// Run a transcode worker: claim jobs from the control API, transcode each source into its ladder and
    /// publish it to storage. Any number of workers may run on any machines that reach the API and storage.
    ///
    /// The first Ctrl-C or SIGTERM drains (no new jobs; running ones finish, then are handed back after
    /// --drain-timeout); a second hands them back at once. A worker killed outright loses nothing: its jobs
    /// return to the queue when their leases expire.
    ///
    /// Every setting is a flag, a MARQUEE_* environment variable and a key of the [worker] section of a config
    /// file (--config); `marquee config example` prints such a file.
    ///
    /// Example: MARQUEE_API_KEY=mqk_… marquee worker --api http://localhost:8090 --storage /srv/marquee/media
    Worker(worker::WorkerArgs),
    /// Account chores on the API's database, such as making the first admin.
    ///
    /// Example: marquee admin create --email ops@example.com --database sqlite:api.db
    Admin(admin::AdminArgs),
    /// Print a signed playback URL for one asset.
    ///
    /// The token authorises every path under the asset's prefix until it expires, so the relative
    /// segment URIs inside the manifests stay authorised without rewriting them.
    ///
    /// Example: marquee sign --key-file keys.toml --path /film42/ --ttl 1h --base-url http://localhost:8080
    Sign(sign::SignArgs),
    /// Print a new signing key file with one random key (redirect it to a file, then chmod 600).
    Keygen(sign::KeygenArgs),
    /// Check a marquee.toml config file (every problem at once), or print a complete example of one.
    Config(config_command::ConfigArgs),
}

fn main() -> ExitCode {
    // Each service's settings are arguments built from its library's declaration, and read from the matches.
    let command = config::SECTIONS.iter().fold(Cli::command(), |command, section| {
        command.mut_subcommand(config::served_by(section.name), |sub| config::section_args(*section, sub))
    });
    let matches = command.get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(e) = init_logging(&cli) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Transcode(args) => transcode::run(args),
        Command::Presets => transcode::list_presets(),
        Command::Encoders => transcode::list_encoders(),
        Command::Origin(_) => origin::run(matches.subcommand_matches("origin").expect("clap matched origin")),
        Command::Edge(_) => edge::run(matches.subcommand_matches("edge").expect("clap matched edge")),
        Command::Api(_) => api::run(matches.subcommand_matches("api").expect("clap matched api")),
        Command::Admin(args) => admin::run(args),
        Command::Upload(args) => upload::run(args),
        Command::Worker(_) => worker::run(matches.subcommand_matches("worker").expect("clap matched worker")),
        Command::Sign(args) => sign::run(args),
        Command::Keygen(args) => sign::run_keygen(args),
        Command::Config(args) => config_command::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).with_context(|| format!("bad --log {:?}", cli.log))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
