//! `marquee worker`: a transcode worker of the farm (the `marquee-worker` crate), with its flags and the
//! signals that stop it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// Pull transcode jobs from the control API, publish their ladders to storage.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The control API's base URL.
    #[arg(long, env = "MARQUEE_API", value_name = "URL")]
    api: String,
    /// An admin's API key (mqk_…), used once to register this worker; later calls use the worker's own token.
    #[arg(long, env = "MARQUEE_API_KEY", value_name = "KEY", hide_env_values = true)]
    api_key: String,
    /// The storage the API keeps uploads and presentations in (the same directory on one machine, the same
    /// s3://bucket/prefix in a farm): sources are read from it and ladders written to it.
    #[arg(long, env = "MARQUEE_STORAGE", value_name = "LOCATION")]
    storage: String,
    /// A name for this worker in the API's farm view (default: the host name and process id).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Jobs run at once (each uses every core it can get; more than 1 helps only on large machines).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=64))]
    capacity: i64,
    /// Where sources are copied while being transcoded (default: the system's temporary directory).
    #[arg(long, env = "MARQUEE_SCRATCH_DIR", value_name = "DIR")]
    scratch_dir: Option<PathBuf>,
    /// After Ctrl-C or SIGTERM, how long running jobs may take to finish before they are handed back to the
    /// queue (a second signal hands them back at once).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
    /// Give a job up when no encoded data has arrived for this long (a stalled pipeline).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    stall_timeout: Duration,
    /// The largest source fetched for an asset created from an input_url.
    #[arg(long, value_name = "SIZE", default_value = "20GiB", value_parser = parse_size)]
    max_source_bytes: u64,
    /// Let input_url sources reach loopback and private networks (off: a URL users chose must not reach the
    /// farm's own machines).
    #[arg(long)]
    allow_private_source_urls: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    text.parse::<bytesize::ByteSize>().map(|s| s.as_u64()).map_err(|e| format!("{text:?} is not a size: {e}"))
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let storage =
        marquee_storage::open(&args.storage).with_context(|| format!("cannot open storage {}", args.storage))?;
    let name = args.name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        format!("{}-{}", if host.is_empty() { "worker" } else { &host }, std::process::id())
    });
    let options = marquee_worker::WorkerOptions {
        api: args.api,
        api_key: args.api_key,
        storage,
        name,
        capacity: args.capacity,
        scratch_dir: args.scratch_dir.unwrap_or_else(std::env::temp_dir),
        drain_timeout: args.drain_timeout,
        stall_timeout: args.stall_timeout,
        max_source_bytes: args.max_source_bytes,
        allow_private_urls: args.allow_private_source_urls,
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
