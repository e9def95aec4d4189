//! The poster a transcode publishes: transcodes generated clips through the library with a local directory
//! and reads the poster back with ffprobe and ffmpeg (independent readers), checking its size and that its
//! picture is the clip's content, not the black frames it starts with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use marquee_storage::{LocalDir, ObjectStore};
use marquee_transcoder::encoder::EncoderPreference;
use marquee_transcoder::ladder::LadderPreset;
use marquee_transcoder::{transcode, TranscodeRequest, POSTER_PATH};

/// A `seconds`-long `size` clip without audio whose first `black_s` seconds are black, then a bright test
/// pattern (testsrc2 with its luma lifted) to the end.
fn clip(dir: &Path, size: &str, seconds: u32, black_s: f64) -> PathBuf {
    let out = dir.join("src.mp4");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size={size}:rate=25:duration={seconds},lutyuv=y='clipval*0.5+100',\
             drawbox=enable='lt(t\\,{black_s})':color=black:t=fill"
        ))
        .args(["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make the clip");
    out
}

fn run(input: &Path, out: &Path) -> Result<marquee_transcoder::TranscodeSummary, marquee_transcoder::TranscodeError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalDir::new(out).unwrap());
    let request = TranscodeRequest {
        input: input.to_owned(),
        preset: LadderPreset::builtin("default").unwrap(),
        encoder: EncoderPreference::X264,
        sidx: false,
        force: false,
        stall_timeout: Duration::from_secs(60),
    };
    transcode(&request, store, runtime.handle().clone(), &mut |_| {}, Arc::new(AtomicBool::new(false)))
}

/// Codec and size of an image, as ffprobe reads it.
fn probe_image(path: &Path) -> (String, i64, i64) {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_streams"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(o.status.success(), "ffprobe: {}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["streams"][0];
    (s["codec_name"].as_str().unwrap().to_owned(), s["width"].as_i64().unwrap(), s["height"].as_i64().unwrap())
}

/// The mean luma (0–255) of an image, decoded by ffmpeg to 8-bit grey.
fn mean_luma(path: &Path) -> f64 {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(o.status.success() && !o.stdout.is_empty(), "ffmpeg: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout.iter().map(|&b| f64::from(b)).sum::<f64>() / o.stdout.len() as f64
}

/// A 10 s clip whose first 1.5 s are black: the first candidate (1 s, a tenth in) is black too, so the
/// poster is the next one, at the top rung's size, beside the manifests.
#[test]
fn the_poster_is_a_jpeg_of_the_first_bright_candidate_at_the_top_rungs_size() {
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "640x360", 10, 1.5);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    run(&src, &out).expect("transcode");

    let poster = out.join(POSTER_PATH);
    assert!(poster.is_file(), "{POSTER_PATH} is published");
    assert!(out.join("master.m3u8").is_file() && out.join("manifest.mpd").is_file());
    assert_eq!(probe_image(&poster), ("mjpeg".to_owned(), 640, 360), "a JPEG of the top rung (360p)");
    // The black frames measure about 16; the lifted pattern about 160.
    let luma = mean_luma(&poster);
    assert!(luma > 100.0, "the poster is the picture, not the black opening: mean luma {luma:.1}");
}

/// A clip shorter than a second reaches no later candidate: its first frame is the poster; a wide source
/// above the cap gives a poster capped at 1280 wide with the aspect kept.
#[test]
fn a_very_short_wide_clip_still_gets_a_capped_poster() {
    let tmp = tempfile::tempdir().unwrap();
    let src = clip(tmp.path(), "1920x800", 1, 0.0);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    run(&src, &out).expect("transcode");
    let poster = out.join(POSTER_PATH);
    let (codec, width, height) = probe_image(&poster);
    assert_eq!(codec, "mjpeg");
    assert_eq!(width, 1280, "capped at 1280 wide");
    assert_eq!(height % 2, 0, "even");
    let aspect = width as f64 / height as f64;
    assert!((aspect - 1920.0 / 800.0).abs() < 0.02, "aspect kept: {width}x{height}");
    assert!(mean_luma(&poster) > 100.0);
}
