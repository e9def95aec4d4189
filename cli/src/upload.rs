//! `marquee upload`: sends a film to the control API over tus, with a progress bar, and resumes where the
//! server says it is: after a network failure (retried with backoff) and after Ctrl-C or a crash (the next
//! run of the same command finds the unfinished upload in its state file and asks the server for its offset).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// PATCH bodies are this large unless told otherwise: large enough that the API writes whole parts, small
/// enough that a failure resends little.
pub const DEFAULT_CHUNK_BYTES: u64 = 64 * 1024 * 1024;
/// How often a failed request is retried (after 1, 2, 4, 8, 16 s) before giving up.
const RETRIES: u32 = 5;
/// The size of the reads that feed a PATCH body (and of the progress bar's steps).
const READ_BYTES: usize = 256 * 1024;

/// Upload a film to the control API (tus), with a progress bar; resumes an interrupted upload of the same
/// file to the same API.
#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// The film to upload.
    file: PathBuf,
    /// The control API's base URL.
    #[arg(long, env = "MARQUEE_API", value_name = "URL")]
    api: String,
    /// An API key (mqk_…) or access token of a creator.
    #[arg(long, env = "MARQUEE_API_KEY", value_name = "KEY", hide_env_values = true)]
    api_key: String,
    /// Who may play the asset: signed (its owner, admins and entitled viewers) or public.
    #[arg(long, value_name = "POLICY", default_value = "signed", value_parser = ["signed", "public"])]
    playback_policy: String,
    /// The ladder preset the asset is transcoded with.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Bytes per PATCH request, e.g. 64MiB.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    chunk_size: u64,
    /// Progress display: a bar on a terminal, `lines` (one line per acknowledged chunk, for logs), or none.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = ["auto", "bar", "lines", "none"])]
    progress: String,
    /// Where unfinished uploads are remembered (default: $XDG_STATE_HOME/marquee/uploads or
    /// ~/.local/state/marquee/uploads).
    #[arg(long, env = "MARQUEE_UPLOAD_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let size = text.parse::<bytesize::ByteSize>().map_err(|e| format!("{text:?} is not a size: {e}"))?.as_u64();
    if size == 0 {
        return Err("must be more than 0".into());
    }
    Ok(size)
}

/// What is remembered of an unfinished upload.
#[derive(Debug, Serialize, Deserialize)]
struct Resumable {
    upload_url: String,
    asset_id: String,
}

pub fn run(args: UploadArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(upload(args))
}

async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let meta = std::fs::metadata(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", args.file.display());
    }
    let size = meta.len();
    let api = args.api.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let tus = Tus { client, api: api.clone(), auth: format!("Bearer {}", args.api_key) };
    let state_file =
        state_dir(args.state_dir.as_deref())?.join(format!("{}.json", fingerprint(&api, &args.file, &meta)?));

    // Resume what the state file remembers, if the server still has it.
    let mut resumed = None;
    if let Ok(text) = std::fs::read_to_string(&state_file) {
        if let Ok(saved) = serde_json::from_str::<Resumable>(&text) {
            match tus.offset(&saved.upload_url).await? {
                Some(offset) => {
                    eprintln!("Resuming the upload of asset {} at byte {offset} of {size}.", saved.asset_id);
                    resumed = Some((saved, offset));
                }
                None => eprintln!("The earlier upload of this file is gone from the server (expired?); starting over."),
            }
        }
    }
    let (saved, mut offset) = match resumed {
        Some(found) => found,
        None => {
            let name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or("film");
            let mut metadata = vec![("filename", name.to_owned()), ("playback_policy", args.playback_policy.clone())];
            if let Some(preset) = &args.preset {
                metadata.push(("preset", preset.clone()));
            }
            let saved = tus.create(size, &metadata).await?;
            if let Some(dir) = state_file.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&state_file, serde_json::to_vec(&saved)?)
                .with_context(|| format!("cannot write {}", state_file.display()))?;
            (saved, 0)
        }
    };

    let bar = progress(&args.progress, size);
    bar.set_position(offset);
    let started = Instant::now();
    let first_offset = offset;
    let mut failures = 0u32;
    while offset < size {
        let len = args.chunk_size.min(size - offset);
        match tus.patch(&saved.upload_url, &args.file, offset, len, &bar).await {
            Ok(acknowledged) => {
                offset = acknowledged;
                failures = 0;
                if bar.is_hidden() && args.progress == "lines" {
                    eprintln!("uploaded {offset} of {size} bytes");
                }
            }
            Err(Failure::Refused(e)) => {
                bar.abandon();
                return Err(e);
            }
            Err(Failure::Retry(e)) => {
                failures += 1;
                if failures > RETRIES {
                    bar.abandon();
                    return Err(e.context(format!(
                        "giving up after {RETRIES} retries; run the same command again to resume at byte {offset}"
                    )));
                }
                let wait = Duration::from_secs(1 << (failures - 1));
                bar.suspend(|| eprintln!("{e:#}; asking the server where to resume in {} s", wait.as_secs()));
                tokio::time::sleep(wait).await;
                offset = match tus.offset(&saved.upload_url).await {
                    Ok(Some(at)) => at,
                    Ok(None) => bail!("the upload is gone from the server (expired or terminated); start again"),
                    Err(e) => {
                        bar.suspend(|| eprintln!("{e:#}"));
                        offset
                    }
                };
                bar.set_position(offset);
            }
        }
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_file(&state_file);
    let took = started.elapsed().as_secs_f64().max(0.001);
    #[allow(clippy::cast_precision_loss)]
    let rate = (size - first_offset) as f64 / took / 1e6;
    eprintln!("Uploaded {} ({size} bytes) in {took:.1} s ({rate:.1} MB/s).", args.file.display());
    println!("{}", saved.asset_id);
    Ok(())
}

fn progress(mode: &str, size: u64) -> ProgressBar {
    let show = match mode {
        "bar" => true,
        "auto" => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        _ => false,
    };
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
            .expect("valid template"),
    );
    bar
}

fn state_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(state).join("marquee/uploads"));
    }
    let home = std::env::var_os("HOME").context("neither XDG_STATE_HOME nor HOME is set: give --state-dir")?;
    Ok(PathBuf::from(home).join(".local/state/marquee/uploads"))
}

/// The same file (path, size, modification time) to the same API is the same upload.
fn fingerprint(api: &str, file: &Path, meta: &std::fs::Metadata) -> anyhow::Result<String> {
    use sha2::Digest as _;
    let path = std::fs::canonicalize(file)?;
    let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
    let text = format!("{api}\n{}\n{}\n{}", path.display(), meta.len(), modified.as_nanos());
    Ok(sha2::Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect())
}

/// Why a request failed: refused for good (a 4xx that retrying does not change) or worth retrying.
enum Failure {
    Refused(anyhow::Error),
    Retry(anyhow::Error),
}

struct Tus {
    client: reqwest::Client,
    api: String,
    auth: String,
}

impl Tus {
    /// POST /v1/uploads: where to send the data, and the asset it becomes.
    async fn create(&self, size: u64, metadata: &[(&str, String)]) -> anyhow::Result<Resumable> {
        use base64::Engine as _;
        let metadata: Vec<String> = metadata
            .iter()
            .map(|(key, value)| format!("{key} {}", base64::engine::general_purpose::STANDARD.encode(value)))
            .collect();
        let response = self
            .client
            .post(format!("{}/v1/uploads", self.api))
            .header("authorization", &self.auth)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", size.to_string())
            .header("upload-metadata", metadata.join(","))
            .send()
            .await
            .with_context(|| format!("cannot reach the API at {}", self.api))?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(refusal(response).await);
        }
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = header("location").context("the API's answer has no Location")?;
        let asset_id = header("marquee-asset-id").context("the API's answer has no Marquee-Asset-Id")?;
        let upload_url = if location.starts_with("http") { location } else { format!("{}{location}", self.api) };
        Ok(Resumable { upload_url, asset_id })
    }

    /// HEAD: the offset the server has, or `None` when the upload is gone (404, 410).
    async fn offset(&self, url: &str) -> anyhow::Result<Option<u64>> {
        let response = self
            .client
            .head(url)
            .header("authorization", &self.auth)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .with_context(|| format!("cannot reach the API at {}", self.api))?;
        match response.status().as_u16() {
            200 | 204 => {
                let offset = response.headers().get("upload-offset").and_then(|v| v.to_str().ok());
                Ok(Some(offset.and_then(|v| v.parse().ok()).context("the API's answer has no Upload-Offset")?))
            }
            404 | 410 => Ok(None),
            status => bail!("the API answered {status} to HEAD {url}"),
        }
    }

    /// PATCH `len` bytes of `file` from `offset`: the new offset.
    async fn patch(&self, url: &str, file: &Path, offset: u64, len: u64, bar: &ProgressBar) -> Result<u64, Failure> {
        let mut reader = std::fs::File::open(file).map_err(|e| Failure::Refused(e.into()))?;
        reader.seek(SeekFrom::Start(offset)).map_err(|e| Failure::Refused(e.into()))?;
        let bar = bar.clone();
        let chunks =
            futures_util::stream::unfold((reader.take(len), bar, offset), |(mut reader, bar, at)| async move {
                let mut buffer = vec![0; READ_BYTES];
                match reader.read(&mut buffer) {
                    Ok(0) => None,
                    Ok(n) => {
                        buffer.truncate(n);
                        bar.set_position(at + n as u64);
                        Some((Ok::<_, std::io::Error>(buffer), (reader, bar, at + n as u64)))
                    }
                    Err(e) => Some((Err(e), (reader, bar, at))),
                }
            });
        let response = self
            .client
            .patch(url)
            .header("authorization", &self.auth)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .header("content-length", len.to_string())
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .map_err(|e| Failure::Retry(anyhow::Error::new(e).context("the upload was interrupted")))?;
        match response.status().as_u16() {
            204 => response
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Failure::Refused(anyhow::anyhow!("the API's answer has no Upload-Offset"))),
            // The offset moved under us (a retried chunk had arrived after all), or another request holds
            // it for now: ask again where to resume.
            409 | 423 | 500..=599 => Err(Failure::Retry(refusal(response).await)),
            _ => Err(Failure::Refused(refusal(response).await)),
        }
    }
}

/// The API's error in words: its JSON message when it sent one.
async fn refusal(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or(body);
    anyhow::anyhow!("the API refused the upload ({status}): {message}")
}
