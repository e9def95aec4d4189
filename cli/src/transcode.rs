//! `marquee transcode`, `marquee presets` and `marquee encoders`: films into CMAF ladders, and what this
//! machine offers for it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use marquee_transcoder::encoder::{select_encoder, EncoderPreference, GstRegistry};
use marquee_transcoder::ladder::{LadderPreset, BUILTIN_PRESETS, DEFAULT_PRESET_NAME};
use marquee_transcoder::progress::ProgressEvent;
use marquee_transcoder::{transcode, TranscodeRequest};

#[derive(Debug, clap::Args)]
pub struct TranscodeArgs {
    /// The source file (anything GStreamer can decode: MP4, MOV, MKV, WebM, MPEG-TS, …).
    input: PathBuf,
    /// Output directory; created if missing. Must not already hold a presentation unless --force.
    #[arg(long, short)]
    out: String,
    /// Ladder preset: a built-in name (see `marquee presets`) or a path to a TOML file.
    #[arg(long, env = "MARQUEE_PRESET", default_value = DEFAULT_PRESET_NAME)]
    preset: String,
    /// H.264 encoder. `auto` uses a hardware encoder when GStreamer has one (NVENC, VA-API, QSV),
    /// otherwise x264. Naming one that is missing is an error that says what to install.
    #[arg(long, env = "MARQUEE_ENCODER", default_value = "auto", value_parser = parse_encoder)]
    encoder: EncoderPreference,
    /// Target media segment duration in seconds (overrides the preset).
    #[arg(long, value_name = "SECONDS")]
    segment_duration: Option<f64>,
    /// Forced keyframe interval in seconds (overrides the preset); must divide the segment duration.
    #[arg(long, value_name = "SECONDS")]
    keyframe_interval: Option<f64>,
    /// Write a segment index (sidx) at the start of every media segment.
    #[arg(long)]
    sidx: bool,
    /// Replace a presentation already published in the output directory.
    #[arg(long)]
    force: bool,
    /// Give up when no encoded data has arrived for this long (a stalled pipeline).
    #[arg(long, value_name = "SECONDS", default_value_t = marquee_transcoder::DEFAULT_STALL_TIMEOUT.as_secs())]
    stall_timeout: u64,
    /// Progress display: a bar on a terminal (`auto`), always a bar, JSON lines on stdout for
    /// machines, or nothing.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProgressMode {
    Auto,
    Bar,
    Json,
    None,
}

fn parse_encoder(s: &str) -> Result<EncoderPreference, String> {
    s.parse()
}

fn load_preset(name_or_path: &str) -> anyhow::Result<LadderPreset> {
    if BUILTIN_PRESETS.iter().any(|(n, _)| *n == name_or_path) {
        return Ok(LadderPreset::builtin(name_or_path)?);
    }
    let path = PathBuf::from(name_or_path);
    if path.extension().is_some_and(|e| e == "toml") || path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read preset {}", path.display()))?;
        return Ok(LadderPreset::from_toml(&path.display().to_string(), &text)?);
    }
    Ok(LadderPreset::builtin(name_or_path)?)
}

pub fn run(args: TranscodeArgs) -> anyhow::Result<()> {
    let mut preset = load_preset(&args.preset)?;
    if let Some(s) = args.segment_duration {
        preset.segment_duration_s = s;
    }
    if let Some(k) = args.keyframe_interval {
        preset.keyframe_interval_s = k;
    }
    let problems = preset.problems();
    if !problems.is_empty() {
        anyhow::bail!("these settings do not work together:\n  - {}", problems.join("\n  - "));
    }
    let store = marquee_storage::open(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nStopping: removing the partial output…");
                cancel.store(true, Ordering::SeqCst);
            }
        });
    }
    let request = TranscodeRequest {
        input: args.input.clone(),
        preset,
        encoder: args.encoder,
        sidx: args.sidx,
        force: args.force,
        stall_timeout: Duration::from_secs(args.stall_timeout.max(1)),
    };
    let mode = match args.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
        ProgressMode::Auto => ProgressMode::None,
        m => m,
    };
    let mut reporter = ProgressReporter::new(mode);
    let summary = transcode(&request, store, runtime.handle().clone(), &mut |e| reporter.report(e), cancel)
        .with_context(|| format!("transcoding {} failed", args.input.display()));
    reporter.finish();
    let summary = summary?;
    if mode != ProgressMode::Json {
        println!(
            "Published {} renditions ({} segments, {:.1} s of media) to {} in {:.1} s with {}.",
            summary.renditions.len(),
            summary.segments,
            summary.duration_s,
            summary.output,
            summary.wall_s,
            summary.encoder
        );
        println!(
            "  HLS:  {}/master.m3u8\n  DASH: {}/manifest.mpd",
            args.out.trim_end_matches('/'),
            args.out.trim_end_matches('/')
        );
    }
    Ok(())
}

/// Renders progress events as a bar on a terminal or JSON lines on stdout.
struct ProgressReporter {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
}

impl ProgressReporter {
    fn new(mode: ProgressMode) -> Self {
        Self { mode, bar: None }
    }

    fn report(&mut self, event: &ProgressEvent) {
        match self.mode {
            ProgressMode::Json => {
                if let Ok(line) = serde_json::to_string(event) {
                    println!("{line}");
                }
            }
            ProgressMode::Bar => self.draw(event),
            ProgressMode::Auto | ProgressMode::None => {}
        }
    }

    fn draw(&mut self, event: &ProgressEvent) {
        match event {
            ProgressEvent::Started { duration_s, encoder, renditions, .. } => {
                let total_ms = duration_s.map(|d| (d * 1000.0) as u64).unwrap_or(0);
                let bar = if total_ms > 0 { ProgressBar::new(total_ms) } else { ProgressBar::new_spinner() };
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg} (ETA {eta})")
                        .expect("static template")
                        .progress_chars("=> "),
                );
                bar.println(format!(
                    "Encoding {} renditions with {encoder}: {}",
                    renditions.len(),
                    renditions.join(", ")
                ));
                self.bar = Some(bar);
            }
            ProgressEvent::Progress { position_s, duration_s, fps, speed } => {
                if let Some(bar) = &self.bar {
                    bar.set_position((position_s * 1000.0) as u64);
                    let total = duration_s.map(|d| format!("{d:.1}")).unwrap_or_else(|| "?".into());
                    bar.set_message(format!("{position_s:.1}/{total} s  {fps:.0} fps  {speed:.2}x"));
                }
            }
            ProgressEvent::Publishing { segments } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("writing manifests for {segments} segments"));
                }
            }
            ProgressEvent::Finished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

pub fn list_presets() -> anyhow::Result<()> {
    for (name, _) in BUILTIN_PRESETS {
        let preset = LadderPreset::builtin(name)?;
        println!("{name}: {}", preset.description);
        println!(
            "  segments {} s, keyframes every {} s, x264 {} with {} B-frames, audio AAC-LC {} kb/s {} Hz {} ch",
            preset.segment_duration_s,
            preset.keyframe_interval_s,
            preset.encoder.speed_preset,
            preset.encoder.b_frames,
            preset.audio.bitrate_kbps,
            preset.audio.sample_rate,
            preset.audio.channels
        );
        for rung in &preset.video {
            println!(
                "  {:>6}: short side {:>4} px, {:>5} kb/s, VBV {} ms, {} profile, level {}",
                rung.name,
                rung.short_side,
                rung.bitrate_kbps,
                rung.vbv_buffer_ms,
                rung.profile,
                rung.level.as_deref().unwrap_or("auto")
            );
        }
    }
    println!("\nUse one with --preset NAME, or write your own TOML file (same fields) and pass its path.");
    Ok(())
}

pub fn list_encoders() -> anyhow::Result<()> {
    marquee_transcoder::init()?;
    for preference in EncoderPreference::ALL {
        match select_encoder(preference, &GstRegistry) {
            Ok(family) => println!(
                "{:>6}: {} ({})",
                preference.as_str(),
                family.factory(),
                if family.is_hardware() { "hardware" } else { "software" }
            ),
            Err(e) => println!("{:>6}: unavailable: {e}", preference.as_str()),
        }
    }
    Ok(())
}
