//! `marquee sign` and `marquee keygen`: signed playback URLs and key files from the command line.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use marquee_signing::{generate_key_file_toml, Grant, KeyRing};

/// Default lifetime of a signed URL.
pub const DEFAULT_TTL: &str = "1h";
/// Default file linked to below the asset prefix.
pub const DEFAULT_FILE: &str = "master.m3u8";
/// Default key id written by `marquee keygen`.
pub const DEFAULT_KEY_ID: &str = "k1";

/// Print a signed URL that lets a player fetch one asset through the origin or an edge.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// TOML key file: one or more `[[keys]]` tables with `id`, `secret_hex` (32 to 64 bytes, hex) and
    /// `current = true` on the key that signs. `marquee keygen` writes one.
    #[arg(long, env = "MARQUEE_KEY_FILE", value_name = "FILE")]
    pub key_file: PathBuf,
    /// The asset prefix the URL authorises: a directory path such as /film42/. Every file below it
    /// (playlists, init and media segments) is covered; nothing outside it is.
    #[arg(long, value_name = "PREFIX")]
    pub path: String,
    /// How long the URL stays valid, e.g. 90s, 30m, 1h, 7d or "1h 30m".
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TTL, value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Only accept requests from this client IP (as the origin or edge sees it).
    #[arg(long, value_name = "IP")]
    pub ip: Option<IpAddr>,
    /// Only accept requests carrying this session id (1 to 128 bytes).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Origin or edge base URL, e.g. http://localhost:8080. Without it only the path is printed.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The file below the prefix to link to, e.g. master.m3u8 (HLS) or manifest.mpd (DASH).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_FILE)]
    pub file: String,
}

/// Print a new key file with one random key marked current (redirect it to a file and keep it secret).
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Id of the new key; it appears in every token it signs (1 to 32 characters of A-Z a-z 0-9 _ -).
    #[arg(long, value_name = "ID", default_value = DEFAULT_KEY_ID)]
    pub id: String,
}

/// Runs `marquee sign`: prints the signed URL (or path) on stdout.
pub fn run(args: SignArgs) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?.as_secs();
    let text = std::fs::read_to_string(&args.key_file)
        .with_context(|| format!("cannot read key file {}", args.key_file.display()))?;
    let keys = KeyRing::from_toml(&args.key_file.display().to_string(), &text)?;
    println!("{}", signed_url(&args, &keys, now)?);
    Ok(())
}

/// Runs `marquee keygen`: prints a new key file on stdout.
pub fn run_keygen(args: KeygenArgs) -> anyhow::Result<()> {
    print!("{}", generate_key_file_toml(&args.id)?);
    Ok(())
}

/// The URL `marquee sign` prints for `args`, signed with `keys` at `now` (unix seconds).
pub fn signed_url(args: &SignArgs, keys: &KeyRing, now: u64) -> anyhow::Result<String> {
    if args.ttl.is_zero() {
        bail!("--ttl must be longer than zero");
    }
    let expires_at = now.checked_add(args.ttl.as_secs().max(1)).context("--ttl is too long")?;
    let mut grant = Grant::new(&args.path, expires_at).context("bad --path")?;
    if let Some(ip) = args.ip {
        grant = grant.bind_ip(ip);
    }
    if let Some(session) = &args.session {
        grant = grant.bind_session(session).context("bad --session")?;
    }
    let path = keys.signed_path(&grant, &args.file).context("bad --file")?;
    let Some(base) = &args.base_url else {
        return Ok(path);
    };
    let base = base.trim_end_matches('/');
    let Some(host) = base.strip_prefix("http://").or_else(|| base.strip_prefix("https://")) else {
        bail!("--base-url {base:?} must start with http:// or https://");
    };
    if host.is_empty() || host.contains(['/', '?', '#']) {
        bail!("--base-url {base:?} must be a scheme and host (and port) only, like http://localhost:8080");
    }
    Ok(format!("{base}{path}"))
}
