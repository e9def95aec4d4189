//! Awkward and broken sources: each either becomes a correct ladder or fails with one clear line, and a
//! failure never leaves anything behind that looks published.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// What a run must look like when it fails: non-zero exit, one `error:` line naming the problem, no
/// panic, and no manifests (nor anything else) left in the output.
fn assert_clean_failure(out: &Path, o: &std::process::Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected a failure, got success");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected:\n{stderr}");
    assert!(error_lines[0].contains(expect), "error should mention {expect:?}: {}", error_lines[0]);
    assert_eq!(list_files(out), Vec::<String>::new(), "a failed run leaves nothing behind");
}

/// What a run must look like when it succeeds: both manifests, ffmpeg decodes both without error.
fn assert_good_ladder(out: &Path) {
    for manifest in ["master.m3u8", "manifest.mpd"] {
        assert!(out.join(manifest).is_file(), "{manifest} missing");
        assert_eq!(ffmpeg_decode_errors(out.join(manifest).to_str().unwrap()), "", "{manifest}");
    }
    validate_mpd(&out.join("manifest.mpd")).unwrap();
}

fn rung_size(out: &Path, rendition: &str) -> (i64, i64) {
    let joined = out.join(format!("{rendition}.probe.mp4"));
    concat_rendition(out, rendition, &joined);
    let v = ffprobe_json(joined.to_str().unwrap(), &["-show_streams"]);
    std::fs::remove_file(&joined).unwrap();
    (v["streams"][0]["width"].as_i64().unwrap(), v["streams"][0]["height"].as_i64().unwrap())
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    (tmp, out)
}

#[test]
fn zero_byte_file_fails_clearly() {
    let (tmp, out) = setup();
    let src = tmp.path().join("empty.mp4");
    std::fs::write(&src, b"").unwrap();
    assert_clean_failure(&out, &transcode(&src, &out, &[]), "is empty");
}

#[test]
fn missing_file_fails_clearly() {
    let (tmp, out) = setup();
    assert_clean_failure(&out, &transcode(&tmp.path().join("nope.mp4"), &out, &[]), "cannot read");
}

#[test]
fn non_media_fails_clearly() {
    let (tmp, out) = setup();
    let src = tmp.path().join("notes.mp4");
    std::fs::write(&src, "These are meeting notes, not a film.\n".repeat(200)).unwrap();
    assert_clean_failure(&out, &transcode(&src, &out, &[]), "not a media file");
}

#[test]
fn audio_only_fails_clearly() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "audio.mp4", &["--duration", "3", "--no-video"]);
    assert_clean_failure(&out, &transcode(&src, &out, &[]), "only audio");
}

#[test]
fn video_only_gets_a_ladder_without_audio() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "video.mp4", &["--duration", "5", "--size", "320x240", "--no-audio"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(!master.contains("TYPE=AUDIO") && !master.contains("mp4a"), "{master}");
    assert!(!out.join("audio_aac").exists());
}

#[test]
fn truncated_file_is_a_shorter_ladder_or_a_clean_failure() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "full.mp4", &["--duration", "8", "--size", "320x240"]);
    let bytes = std::fs::read(&src).unwrap();
    let cut = tmp.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = transcode(&cut, &out, &[]);
    if o.status.success() {
        assert_good_ladder(&out);
    } else {
        assert_clean_failure(&out, &o, "");
    }
}

#[test]
fn corrupted_frames_in_the_middle_still_make_a_ladder() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "6", "--size", "320x240", "--no-audio"]);
    let mut bytes = std::fs::read(&src).unwrap();
    // Overwrite a run of bytes well inside the media data (faststart puts moov first, so this is mdat).
    let start = bytes.len() / 2;
    for (i, b) in bytes[start..start + 4000].iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    let broken = tmp.path().join("broken.mp4");
    std::fs::write(&broken, bytes).unwrap();
    let o = transcode(&broken, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_good_ladder(&out);
}

#[test]
fn variable_frame_rate_source() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "vfr.mp4", &["--duration", "6", "--size", "320x240", "--vfr"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
}

#[test]
fn tiny_source_gets_one_rung_at_its_size() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "tiny.mp4", &["--duration", "3", "--size", "64x64"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    assert_eq!(video_renditions(&out), vec!["video_64p"]);
    assert_eq!(rung_size(&out, "video_64p"), (64, 64));
}

#[test]
fn clip_shorter_than_one_segment() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "short.mp4", &["--duration", "2", "--size", "320x240"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    assert!(out.join("video_240p/seg_00001.m4s").is_file());
    assert!(!out.join("video_240p/seg_00002.m4s").exists());
}

#[test]
fn odd_dimensions_become_even_rungs() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "odd.mp4", &["--duration", "3", "--size", "641x359", "--pix-fmt", "yuv444p"]);
    let probe = ffprobe_json(src.to_str().unwrap(), &["-select_streams", "v", "-show_entries", "stream=width,height"]);
    assert_eq!((probe["streams"][0]["width"].as_i64(), probe["streams"][0]["height"].as_i64()), (Some(641), Some(359)));
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    assert_eq!(video_renditions(&out), vec!["video_240p"]);
    let (w, h) = rung_size(&out, "video_240p");
    assert_eq!((w % 2, h % 2), (0, 0));
    assert_eq!((w, h), (428, 240));
}

#[test]
fn rotated_phone_video_becomes_a_portrait_ladder() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "phone.mp4", &["--duration", "3", "--size", "640x360", "--rotate", "90"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    assert_eq!(video_renditions(&out), vec!["video_240p", "video_360p"]);
    assert_eq!(rung_size(&out, "video_360p"), (360, 640));
    assert_eq!(rung_size(&out, "video_240p"), (240, 426));
}

#[test]
fn four_k_source_is_scaled_down_the_ladder() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "uhd.mp4", &["--duration", "2", "--size", "3840x2160", "--no-audio"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    assert_eq!(video_renditions(&out).len(), 5);
    assert_eq!(rung_size(&out, "video_1080p"), (1920, 1080));
}

#[test]
fn surround_audio_is_downmixed_to_stereo() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "surround.mp4", &["--duration", "3", "--size", "320x240", "--channels", "6"]);
    transcode_ok(&src, &out, &[]);
    assert_good_ladder(&out);
    let joined = tmp.path().join("audio.mp4");
    concat_rendition(&out, "audio_aac", &joined);
    let a = ffprobe_json(joined.to_str().unwrap(), &["-show_streams"]);
    assert_eq!(a["streams"][0]["channels"], 2);
}

#[test]
fn missing_hardware_encoder_is_a_clear_error() {
    let (tmp, out) = setup();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "1", "--size", "320x240"]);
    // This machine (and CI) has no NVIDIA encoder, so GStreamer registers no nvh264enc.
    let o = transcode(&src, &out, &["--encoder", "nvenc"]);
    assert_clean_failure(&out, &o, "nvh264enc");
}
