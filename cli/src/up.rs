//! `marquee up`: the whole platform in one process on embedded defaults, for one machine: the control API with
//! its satellites, one transcode worker, the origin and an edge cache, over SQLite and a local directory kept
//! in one data directory. Nothing to install or configure; the same parts run split over many machines as
//! `marquee api`, `marquee worker`, `marquee origin` and `marquee edge`.
//!
//! The data directory holds everything a restart keeps (see [`DataDir`]): the database (users, catalog, assets,
//! uploads in progress, the job queue), the media, the signing keys and the edge's disk cache. A transcode that
//! a stop interrupted is handed back to the queue and runs again on the next start.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use marquee_control_api::auth::{store as accounts, Role};
use marquee_control_api::playback::{NoEntitlements, Playback};
use marquee_control_api::{ApiSettings, Database};
use marquee_edge_cache::{EdgeConfig, EdgeServer};
use marquee_http::{RequestAuthorizer, SignedUrls};
use marquee_origin::{Origin, OriginConfig};
use marquee_signing::KeyRing;
use marquee_storage::{LocalDir, ObjectStore};

use crate::satellites::SatelliteSettings;
use tokio::sync::watch;

/// The edge's disk tier under the data directory.
const EDGE_DISK_BYTES: u64 = 2 << 30;
/// The edge's memory tier.
const EDGE_MEMORY_BYTES: u64 = 256 << 20;
/// The name the in-process worker has in the farm's view.
const WORKER_NAME: &str = "marquee-up";

/// Run everything on this machine: web address, control API, worker, origin and edge.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where everything is kept: the SQLite database, uploads and presentations, signing keys and the edge's
    /// cache (created on first start). Default: `marquee` in the user's data directory
    /// ($XDG_DATA_HOME or ~/.local/share on Linux).
    #[arg(long, env = "MARQUEE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address of the control API (and of the web app).
    #[arg(long, env = "MARQUEE_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The address players fetch video from: the edge cache in front of the origin.
    #[arg(long, env = "MARQUEE_MEDIA_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8091")]
    media_listen: SocketAddr,
    /// The web app: `embedded` (the build inside this binary), `off`, or a folder with a Vite build of
    /// web-app/frontend, read on every request (`npm --prefix web-app/frontend run build -- --watch` rebuilds it
    /// as you edit).
    #[arg(long, env = "MARQUEE_WEB_APP", value_name = "embedded|off|DIR", default_value = marquee_control_api::settings::DEFAULT_WEB_APP)]
    web_app: String,
    /// Let webhooks go to loopback and private addresses (receivers on this machine or its network). Off by
    /// default: endpoint URLs are chosen by users, who must not reach this machine's other services through them.
    #[arg(long, env = "MARQUEE_ALLOW_PRIVATE_WEBHOOKS")]
    allow_private_webhooks: bool,
}

/// How `marquee up` serves, beyond its addresses.
#[derive(Debug, Clone)]
pub struct Options {
    /// `embedded`, `off`, or a folder with a build of the web app.
    pub web_app: String,
    /// Webhooks may go to loopback and private addresses.
    pub allow_private_webhooks: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { web_app: marquee_control_api::settings::DEFAULT_WEB_APP.to_string(), allow_private_webhooks: false }
    }
}

/// What is kept where under the data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `marquee` in the user's data directory.
    pub fn default_root() -> anyhow::Result<PathBuf> {
        dirs::data_dir()
            .map(|dir| dir.join("marquee"))
            .context("this user has no data directory (no HOME?): give one with --data-dir")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The SQLite database.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.root.join("marquee.db").display())
    }
    /// Uploads and published presentations.
    pub fn media(&self) -> PathBuf {
        self.root.join("media")
    }
    /// The signing keys of playback URLs.
    pub fn key_file(&self) -> PathBuf {
        self.root.join("keys.toml")
    }
    /// The in-process worker's API key.
    pub fn worker_key_file(&self) -> PathBuf {
        self.root.join("worker.key")
    }
    /// The edge's disk tier.
    pub fn edge_cache(&self) -> PathBuf {
        self.root.join("edge-cache")
    }
    /// Where the worker copies sources while transcoding.
    pub fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }
    /// Held while a `marquee up` uses the directory.
    fn lock_file(&self) -> PathBuf {
        self.root.join("marquee.lock")
    }
}

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let root = match args.data_dir {
        Some(dir) => dir,
        None => DataDir::default_root()?,
    };
    let data = DataDir::new(root);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let options = Options { web_app: args.web_app, allow_private_webhooks: args.allow_private_webhooks };
    runtime.block_on(up(data, args.listen, args.media_listen, options, crate::shutdown::signal()))
}

/// Starts every part over `data`, serves until `shutdown`, then stops them all (the worker hands its job back).
pub async fn up(
    data: DataDir,
    listen: SocketAddr,
    media_listen: SocketAddr,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    for dir in [data.root().to_path_buf(), data.media(), data.edge_cache(), data.scratch()] {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Two processes on one database and one media directory would each think the other's jobs abandoned.
    let lock = std::fs::File::create(data.lock_file())
        .with_context(|| format!("cannot create {}", data.lock_file().display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "another `marquee up` is using {}: stop it first, or give this one another --data-dir",
            data.root().display()
        );
    }
    let keys = signing_keys(&data)?;
    let storage: Arc<dyn ObjectStore> =
        Arc::new(LocalDir::new(data.media()).with_context(|| format!("cannot open {}", data.media().display()))?);
    let authorizer: Arc<dyn RequestAuthorizer> = Arc::new(SignedUrls::new(keys.clone()));

    let origin_config = OriginConfig { listen: SocketAddr::from(([127, 0, 0, 1], 0)), ..OriginConfig::default() };
    let origin = Origin::bind(origin_config, storage.clone(), authorizer.clone()).await?;
    let edge_config = EdgeConfig {
        listen: media_listen,
        upstreams: vec![format!("http://{}", origin.local_addr())],
        key_file: Some(data.key_file()),
        disk_dir: Some(data.edge_cache()),
        disk_bytes: EDGE_DISK_BYTES,
        memory_bytes: EDGE_MEMORY_BYTES,
        ..EdgeConfig::default()
    };
    let edge = EdgeServer::bind(edge_config, authorizer, Some(keys.clone()), None)
        .await
        .with_context(|| format!("cannot serve media on {media_listen}"))?;
    let media_url = format!("http://{}", edge.local_addr());

    let settings = ApiSettings {
        listen,
        database: data.database_url(),
        storage: Some(data.media().display().to_string()),
        key_file: Some(data.key_file()),
        playback_base_url: Some(media_url.clone()),
        web_app: options.web_app,
        webhook_allow_private_networks: options.allow_private_webhooks,
        ..ApiSettings::default()
    };
    let playback = Playback {
        keys,
        base_url: media_url.clone(),
        ttl: settings.playback_ttl,
        entitlements: Arc::new(NoEntitlements),
    };
    let api = crate::api::start(&settings, SatelliteSettings::default(), storage.clone(), Some(playback)).await?;
    let api_url = format!("http://{}", api.local_addr());
    let worker_key = worker_key(&data, &api.db).await?;

    println!("Marquee is up on {api_url}");
    println!("  web app       {api_url}/   (open it in a browser)");
    println!("  control API   {api_url}/v1   (OpenAPI document: {api_url}/openapi.json)");
    println!("  media (edge)  {media_url}");
    println!("  data          {}", data.root().display());
    if let Some((email, password)) = &api.first_admin {
        println!("First start: made the admin {email} with the password {password} (shown this once; change it with PUT /v1/me/password).");
    }
    if !data.root().join("sample.json").exists() {
        println!("Publishing a sample title, \"{SAMPLE_TITLE}\": it plays once the worker has transcoded it.");
    }
    println!("Stop with Ctrl-C; everything is kept for the next start.");
    let _ = std::io::stdout().flush();

    let (stop, stopping) = watch::channel(false);
    let stopped = |mut stopping: watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let (signal_worker, worker_signals) = tokio::sync::mpsc::unbounded_channel();
    let worker = marquee_worker::WorkerOptions {
        api: api_url.clone(),
        api_key: worker_key.clone(),
        storage,
        name: WORKER_NAME.to_owned(),
        capacity: 1,
        scratch_dir: data.scratch(),
        drain_timeout: Duration::ZERO,
        stall_timeout: Duration::from_secs(60),
        max_source_bytes: 20 << 30,
        allow_private_urls: false,
    };
    let serving_origin = tokio::spawn(origin.run(stopped(stopping.clone())));
    let serving_edge = tokio::spawn(edge.run(stopped(stopping.clone())));
    let serving_api = tokio::spawn(api.run(stopped(stopping)));
    let working = tokio::spawn(marquee_worker::run(worker, worker_signals));
    let sample = {
        let (data, api_url, key) = (data.clone(), api_url.clone(), worker_key.clone());
        tokio::spawn(async move {
            if let Err(e) = publish_sample(&data, &api_url, &key).await {
                eprintln!("warning: the sample title is not published ({e:#}); the next start tries again");
            }
        })
    };

    shutdown.await;
    sample.abort();
    eprintln!("Stopping: the worker hands its job back (it runs again on the next start)...");
    // Twice: drain, then hand running jobs back at once instead of finishing them.
    let _ = signal_worker.send(());
    let _ = signal_worker.send(());
    let worked = working.await.context("the worker panicked")?;
    let _ = stop.send(true);
    serving_api.await.context("the control API panicked")??;
    serving_edge.await.context("the edge panicked")?;
    serving_origin.await.context("the origin panicked")??;
    worked.context("the worker failed")?;
    eprintln!("Stopped.");
    Ok(())
}

/// The data directory's signing keys, made on first start (readable by this user only).
fn signing_keys(data: &DataDir) -> anyhow::Result<KeyRing> {
    let path = data.key_file();
    if !path.exists() {
        let text = marquee_signing::generate_key_file_toml("up-1")?;
        write_private(&path, &text)?;
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(KeyRing::from_toml(&path.display().to_string(), &text)?)
}

/// The in-process worker's API key: the one kept in the data directory while it still works, else a new one for
/// an admin (kept for the next start).
async fn worker_key(data: &DataDir, db: &Database) -> anyhow::Result<String> {
    let path = data.worker_key_file();
    let now = marquee_control_api::clock::now_ms();
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim().to_owned();
        if accounts::caller_of_api_key(db, &key, now).await?.is_some_and(|caller| caller.role == Role::Admin) {
            return Ok(key);
        }
    }
    let users = accounts::list_users(db, None, None, 1000).await?;
    let Some(admin) = users.iter().find(|user| user.role == Role::Admin && user.disabled_at.is_none()) else {
        bail!("no admin account is left to run the worker as: make one with `marquee admin create`");
    };
    let (_, key) = accounts::create_api_key(db, &admin.id, "marquee up's worker", Role::Admin, now).await?;
    write_private(&path, &key)?;
    Ok(key)
}

/// Writes `text` to `path` for this user only, atomically.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// What the first start publishes so there is something to watch at once, and how far it got (kept in the data
/// directory, so a stop in the middle goes on from there on the next start).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SampleProgress {
    asset_id: Option<String>,
    title_id: Option<String>,
    done: bool,
}

/// The sample film's length.
const SAMPLE_SECONDS: u32 = 10;
/// The sample's catalog entry.
const SAMPLE_TITLE: &str = "Marquee Sample";

/// Publishes the sample title through the API as the in-process worker's admin key: a generated film as a
/// public asset (the worker transcodes it like any upload), and a movie in the catalog whose feature it is.
async fn publish_sample(data: &DataDir, api_url: &str, key: &str) -> anyhow::Result<()> {
    let progress_file = data.root().join("sample.json");
    let mut progress: SampleProgress = match std::fs::read_to_string(&progress_file) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(_) => SampleProgress::default(),
    };
    if progress.done {
        return Ok(());
    }
    let save = |progress: &SampleProgress| write_private(&progress_file, &serde_json::to_string(progress)?);
    let client = reqwest::Client::new();
    let call = |request: reqwest::RequestBuilder| async {
        let response = request.bearer_auth(key).send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{status}: {body}");
        }
        anyhow::Ok(body)
    };
    let asset_id = match progress.asset_id.clone() {
        Some(id) => id,
        None => {
            let film = data.scratch().join("marquee-sample.mp4");
            let made = film.clone();
            tokio::task::spawn_blocking(move || marquee_transcoder::sample::generate_sample(&made, SAMPLE_SECONDS))
                .await??;
            let bytes = tokio::fs::read(&film).await?;
            let asset = call(
                client
                    .post(format!("{api_url}/v1/assets/upload?playback_policy=public"))
                    .header("content-type", "video/mp4")
                    .body(bytes),
            )
            .await
            .context("cannot upload the sample film")?;
            let _ = tokio::fs::remove_file(&film).await;
            let id = asset["id"].as_str().context("the upload's answer has no asset id")?.to_owned();
            progress.asset_id = Some(id.clone());
            save(&progress)?;
            id
        }
    };
    let title_id = match progress.title_id.clone() {
        Some(id) => id,
        None => {
            let title = serde_json::json!({
                "kind": "movie",
                "title": SAMPLE_TITLE,
                "synopsis": "Colour bars drift across the screen to a steady tone: the film Marquee makes on its first \
                             start, so there is something to watch before anything is uploaded.",
                "runtime_minutes": 1,
                "genres": ["sample"],
                "languages": ["en"],
                "maturity_rating": "G",
            });
            let title = call(
                client
                    .post(format!("{api_url}/v1/titles"))
                    .header("idempotency-key", "marquee-up-sample-title")
                    .json(&title),
            )
            .await
            .context("cannot create the sample's catalog entry")?;
            let id = title["id"].as_str().context("the title's answer has no id")?.to_owned();
            progress.title_id = Some(id.clone());
            save(&progress)?;
            id
        }
    };
    let link = serde_json::json!({"assets": [{"asset_id": asset_id, "role": "feature"}]});
    call(client.put(format!("{api_url}/v1/titles/{title_id}/assets")).json(&link))
        .await
        .context("cannot link the sample film to its title")?;
    progress.done = true;
    save(&progress)?;
    tracing::info!(title = %title_id, asset = %asset_id, "Sample title published.");
    Ok(())
}
