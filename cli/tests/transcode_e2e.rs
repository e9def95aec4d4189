//! End to end: `marquee transcode` on generated sources, output checked by real clients (ffprobe, ffmpeg,
//! GStreamer's hlsdemux2/dashdemux2, xmllint with the DASH schema, hls.js and dash.js in Chromium).

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

/// A 10 s 640x360 source with audio: two video rungs (360p, 240p) and audio, three segments each.
fn standard_ladder(dir: &Path) -> std::path::PathBuf {
    let src = make_sample(dir, "src.mp4", &["--duration", "10", "--size", "640x360"]);
    let out = dir.join("out");
    transcode_ok(&src, &out, &[]);
    out
}

fn media_playlist(path: &Path) -> m3u8_rs::MediaPlaylist {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match m3u8_rs::parse_playlist_res(&text) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
        other => panic!("{} is not a media playlist: {other:?}", path.display()),
    }
}

fn stream_duration(file: &Path, stream: &str) -> f64 {
    let v = ffprobe_json(file.to_str().unwrap(), &["-select_streams", stream, "-show_entries", "stream=duration"]);
    v["streams"][0]["duration"].as_str().and_then(|d| d.parse().ok()).expect("stream duration")
}

#[test]
fn ladder_is_read_by_ffmpeg_gstreamer_and_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let out = standard_ladder(tmp.path());

    // The output contract: both manifests plus one folder per rendition.
    assert!(out.join("master.m3u8").is_file() && out.join("manifest.mpd").is_file());
    assert_eq!(video_renditions(&out), vec!["video_240p", "video_360p"]);
    assert!(out.join("audio_aac/index.m3u8").is_file());

    // ffprobe reads every rendition, at the planned size.
    for (rendition, w, h) in [("video_360p", 640, 360), ("video_240p", 426, 240)] {
        let joined = tmp.path().join(format!("{rendition}.mp4"));
        let segments = concat_rendition(&out, rendition, &joined);
        assert_eq!(segments, 3, "{rendition}: 10 s in 4 s segments");
        let v = ffprobe_json(joined.to_str().unwrap(), &["-show_streams"]);
        let s = &v["streams"][0];
        assert_eq!(s["codec_name"], "h264", "{rendition}");
        assert_eq!((s["width"].as_i64(), s["height"].as_i64()), (Some(w), Some(h)), "{rendition}");
        assert_eq!(ffmpeg_decode_errors(joined.to_str().unwrap()), "", "{rendition} decodes cleanly");
    }
    let audio = tmp.path().join("audio.mp4");
    concat_rendition(&out, "audio_aac", &audio);
    let a = ffprobe_json(audio.to_str().unwrap(), &["-show_streams"]);
    assert_eq!(a["streams"][0]["codec_name"], "aac");
    assert_eq!(a["streams"][0]["sample_rate"], "48000");
    assert_eq!(a["streams"][0]["channels"], 2);

    // ffmpeg plays both manifests with every stream and prints no error.
    for manifest in ["master.m3u8", "manifest.mpd"] {
        let errors = ffmpeg_decode_errors(out.join(manifest).to_str().unwrap());
        assert_eq!(errors, "", "ffmpeg reading {manifest}");
    }

    // The MPD is valid against the ISO/IEC 23009-1 schema.
    validate_mpd(&out.join("manifest.mpd")).unwrap();

    // GStreamer's adaptive demuxers (playbin3 → hlsdemux2 / dashdemux2) play both over HTTP.
    let server = StaticServer::start(&out);
    gst_play(&server.url("master.m3u8")).expect("playbin3 plays the HLS");
    gst_play(&server.url("manifest.mpd")).expect("playbin3 plays the DASH");
}

#[test]
fn segments_start_on_keyframes_align_across_rungs_and_sum_to_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "9", "--size", "854x480", "--fps", "30"]);
    let out = tmp.path().join("out");
    transcode_ok(&src, &out, &["--segment-duration", "2", "--keyframe-interval", "1"]);
    let rungs = video_renditions(&out);
    assert_eq!(rungs.len(), 3, "{rungs:?}");

    let mut boundaries = Vec::new();
    for rung in &rungs {
        // Every segment, read on its own with the init segment, starts with a keyframe.
        let init = std::fs::read(out.join(rung).join("init.mp4")).unwrap();
        let playlist = media_playlist(&out.join(rung).join("index.m3u8"));
        let mut starts = Vec::new();
        for seg in &playlist.segments {
            let mut one = init.clone();
            one.extend(std::fs::read(out.join(rung).join(&seg.uri)).unwrap());
            let file = tmp.path().join("one.mp4");
            std::fs::write(&file, one).unwrap();
            let p = ffprobe_json(
                file.to_str().unwrap(),
                &["-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-read_intervals", "%+#1"],
            );
            let first = &p["packets"][0];
            assert!(first["flags"].as_str().unwrap().starts_with('K'), "{rung}/{} starts with {first}", seg.uri);
            starts.push(first["pts_time"].as_str().unwrap().to_owned());
        }
        boundaries.push((rung.clone(), starts, playlist.segments.iter().map(|s| s.duration).collect::<Vec<_>>()));

        // EXTINF durations add up to the source's video duration within one frame.
        let total: f64 = playlist.segments.iter().map(|s| f64::from(s.duration)).sum();
        let source = stream_duration(&src, "v:0");
        assert!((total - source).abs() <= 1.0 / 30.0 + 1e-6, "{rung}: EXTINF sum {total} vs source {source}");
        let target = playlist.target_duration as f64;
        assert!(playlist.segments.iter().all(|s| f64::from(s.duration).round() <= target));
    }
    // Identical boundaries (first PTS of every segment, and every EXTINF) in every rung.
    for (rung, starts, durations) in &boundaries[1..] {
        assert_eq!(starts, &boundaries[0].1, "{rung} vs {}: segment start times", boundaries[0].0);
        assert_eq!(durations, &boundaries[0].2, "{rung} vs {}: segment durations", boundaries[0].0);
    }
    assert_eq!(boundaries[0].1.len(), 5, "9 s in 2 s segments");
}

#[test]
fn plays_in_hls_js_and_dash_js_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let out = standard_ladder(tmp.path());
    let harness = repo_root().join("browser-tests/play.mjs");
    let o = node()
        .arg(&harness)
        .arg(&out)
        .args(["--protocol", "both"])
        .output()
        .expect("run node browser-tests/play.mjs (install with scripts/install-deps.sh --test)");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "players failed:\n{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("\"protocol\":\"hls\"") && stdout.contains("\"protocol\":\"dash\""), "{stdout}");
}

#[test]
fn an_existing_presentation_is_only_replaced_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "3", "--size", "320x240"]);
    let out = tmp.path().join("out");
    transcode_ok(&src, &out, &[]);
    let before = list_files(&out);
    let again = transcode(&src, &out, &[]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds a published presentation") && stderr.contains("--force"), "{stderr}");
    assert_eq!(list_files(&out), before, "a refused run changes nothing");
    transcode_ok(&src, &out, &["--force"]);
    assert_eq!(list_files(&out), before);
}

#[test]
fn progress_events_are_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "3", "--size", "320x240"]);
    let o = Command::new(env!("CARGO_BIN_EXE_marquee"))
        .arg("transcode")
        .arg(&src)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .args(["--progress", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"started"));
    assert_eq!(&names[names.len() - 2..], &["publishing", "finished"]);
    assert_eq!(events[0]["renditions"], serde_json::json!(["video_240p", "audio_aac"]));
}

#[test]
fn frame_rates_above_60_are_halved() {
    let tmp = tempfile::tempdir().unwrap();
    let src =
        make_sample(tmp.path(), "fast.mp4", &["--duration", "2", "--size", "320x240", "--fps", "120", "--no-audio"]);
    let out = tmp.path().join("out");
    transcode_ok(&src, &out, &[]);
    let joined = tmp.path().join("rung.mp4");
    concat_rendition(&out, "video_240p", &joined);
    let v = ffprobe_json(joined.to_str().unwrap(), &["-count_packets", "-show_streams"]);
    assert_eq!(v["streams"][0]["avg_frame_rate"], "60/1");
    assert_eq!(v["streams"][0]["nb_read_packets"], "120", "2 s at 60 fps");
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains("FRAME-RATE=60"), "{master}");
}

#[test]
fn segments_with_sidx_still_play() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "5", "--size", "320x240"]);
    let out = tmp.path().join("out");
    transcode_ok(&src, &out, &["--sidx"]);
    let seg = std::fs::read(out.join("video_240p/seg_00001.m4s")).unwrap();
    assert_eq!(&seg[4..8], b"styp");
    let styp_len = u32::from_be_bytes(seg[0..4].try_into().unwrap()) as usize;
    assert_eq!(&seg[styp_len + 4..styp_len + 8], b"sidx", "sidx follows styp");
    for manifest in ["master.m3u8", "manifest.mpd"] {
        assert_eq!(ffmpeg_decode_errors(out.join(manifest).to_str().unwrap()), "", "{manifest}");
    }
}

#[test]
fn presets_and_encoders_commands_explain_the_choices() {
    let presets = Command::new(env!("CARGO_BIN_EXE_marquee")).arg("presets").output().unwrap();
    let text = String::from_utf8_lossy(&presets.stdout);
    assert!(presets.status.success());
    assert!(text.contains("default:") && text.contains("bench-3rung:") && text.contains("1080p"), "{text}");
    let encoders = Command::new(env!("CARGO_BIN_EXE_marquee")).arg("encoders").output().unwrap();
    let text = String::from_utf8_lossy(&encoders.stdout);
    assert!(encoders.status.success());
    // No machine this suite runs on has an H.264 hardware encoder, so auto falls back to x264.
    assert!(text.contains("auto: x264enc (software)"), "{text}");
    assert!(text.contains("nvenc: unavailable") && text.contains("nvh264enc"), "{text}");
}

#[test]
fn a_custom_preset_file_sets_profile_level_and_segment_length() {
    let tmp = tempfile::tempdir().unwrap();
    let preset = tmp.path().join("mine.toml");
    std::fs::write(
        &preset,
        r#"
name = "mine"
segment_duration_s = 3.0
keyframe_interval_s = 1.5
[[video]]
name = "small"
short_side = 240
bitrate_kbps = 300
profile = "baseline"
level = "3.1"
"#,
    )
    .unwrap();
    let src = make_sample(tmp.path(), "src.mp4", &["--duration", "6", "--size", "320x240"]);
    let out = tmp.path().join("out");
    transcode_ok(&src, &out, &["--preset", preset.to_str().unwrap()]);
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    // Baseline profile_idc 66 (0x42); level 3.1 = 0x1f.
    assert!(master.contains("CODECS=\"avc1.42") && master.contains("1f,mp4a.40.2\""), "{master}");
    let playlist = media_playlist(&out.join("video_small/index.m3u8"));
    assert_eq!(playlist.segments.len(), 2, "6 s in 3 s segments");

    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = 'bad'\n[[video]]\nname = 'x'\nshort_side = 240\nbitrate_kbps = 300\nprofile = 'main'\nlevel = '9'\n",
    )
    .unwrap();
    let o = transcode(&src, &tmp.path().join("out2"), &["--preset", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("level = \"9\" is not one of"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A ladder with a B-frame rung (High, x264's default 3 B-frames) and a rung without (Baseline has none).
const B_AND_NO_B_PRESET: &str = r#"
name = "b-and-no-b"
segment_duration_s = 2.0
keyframe_interval_s = 2.0
[[video]]
name = "high"
short_side = 240
bitrate_kbps = 400
profile = "high"
[[video]]
name = "baseline"
short_side = 144
bitrate_kbps = 150
profile = "baseline"
"#;

/// One AAC frame at 48 kHz: how far audio may move against video.
const AUDIO_FRAME_S: f64 = 1024.0 / 48_000.0;

fn ffmpeg_ok(args: &[&str]) {
    let o = Command::new("ffmpeg").args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]).args(args).output();
    let o = o.expect("run ffmpeg");
    assert!(o.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// `(codec_type, start_time)` of every stream ffprobe finds in `target` (an HLS or DASH manifest lists
/// each rendition once per variant or representation).
fn stream_starts(target: &Path) -> Vec<(String, f64)> {
    let v = ffprobe_json(target.to_str().unwrap(), &["-show_entries", "stream=codec_type,start_time"]);
    v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| {
            let start = s["start_time"].as_str().and_then(|t| t.parse().ok());
            (s["codec_type"].as_str().unwrap().to_owned(), start.unwrap_or_else(|| panic!("{target:?}: {s}")))
        })
        .collect()
}

/// Video start minus audio start, for every video stream of `target`; its audio streams must agree.
fn video_minus_audio(target: &Path) -> Vec<f64> {
    let starts = stream_starts(target);
    let audio: Vec<f64> = starts.iter().filter(|(kind, _)| kind == "audio").map(|(_, t)| *t).collect();
    assert!(!audio.is_empty() && audio.iter().all(|t| *t == audio[0]), "{target:?}: audio starts {audio:?}");
    let offsets: Vec<f64> = starts.iter().filter(|(kind, _)| kind == "video").map(|(_, t)| t - audio[0]).collect();
    assert!(!offsets.is_empty(), "{target:?} has video");
    offsets
}

/// The media time of the first edit of `file`'s video track (0 without an edit list).
fn video_edit_media_time(file: &Path) -> u64 {
    let reader = mp4::read_mp4(std::fs::File::open(file).unwrap()).expect("an MP4 source");
    let video = reader.moov.traks.iter().find(|t| t.mdia.hdlr.handler_type.to_string() == "vide").expect("video");
    video.edts.as_ref().and_then(|e| e.elst.as_ref()).map_or(0, |elst| elst.entries[0].media_time)
}

#[test]
fn audio_keeps_its_offset_to_video_in_every_rung_manifest_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plain = make_sample(dir, "plain.mp4", &["--duration", "5", "--size", "426x240"]);
    // The same streams with the audio half a second later, and cut at 1.3 s by stream copy: ffmpeg keeps
    // the frames from the keyframe before the cut and hides them with an edit list.
    let late = dir.join("late.mp4");
    let p = plain.to_str().unwrap();
    ffmpeg_ok(&[
        "-i",
        p,
        "-itsoffset",
        "0.5",
        "-i",
        p,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c",
        "copy",
        late.to_str().unwrap(),
    ]);
    let cut = dir.join("cut.mp4");
    ffmpeg_ok(&["-ss", "1.3", "-i", p, "-c", "copy", cut.to_str().unwrap()]);
    assert!(video_edit_media_time(&plain) > 0, "x264's B-frames: the source's video has an edit list");
    assert!(video_edit_media_time(&cut) > video_edit_media_time(&plain), "the cut skips media by its edit list");

    let preset = dir.join("b-and-no-b.toml");
    std::fs::write(&preset, B_AND_NO_B_PRESET).unwrap();
    for source in [&plain, &late, &cut] {
        let name = source.file_stem().unwrap().to_str().unwrap();
        let source_offset = video_minus_audio(source);
        let out = dir.join(format!("out-{name}"));
        transcode_ok(source, &out, &["--preset", preset.to_str().unwrap()]);

        // Both kinds of rung are in the ladder: one with B-frames, one without.
        let b_frames = |rendition: &str| {
            let joined = dir.join(format!("{name}-{rendition}-probe.mp4"));
            concat_rendition(&out, rendition, &joined);
            let v = ffprobe_json(joined.to_str().unwrap(), &["-show_entries", "stream=has_b_frames"]);
            v["streams"][0]["has_b_frames"].as_i64().unwrap()
        };
        assert!(b_frames("video_high") > 0 && b_frames("video_baseline") == 0, "{name}");

        // ffprobe through both manifests and on each rendition's init + segments, as a player joins them.
        let mut views = vec![
            ("master.m3u8".to_owned(), video_minus_audio(&out.join("master.m3u8"))),
            ("manifest.mpd".to_owned(), video_minus_audio(&out.join("manifest.mpd").canonicalize().unwrap())),
        ];
        let audio = dir.join(format!("{name}-audio.mp4"));
        concat_rendition(&out, "audio_aac", &audio);
        let audio_start = stream_starts(&audio)[0].1;
        for rendition in ["video_high", "video_baseline"] {
            let joined = dir.join(format!("{name}-{rendition}.mp4"));
            concat_rendition(&out, rendition, &joined);
            views.push((rendition.to_owned(), vec![stream_starts(&joined)[0].1 - audio_start]));
        }
        for (view, offsets) in views {
            for offset in offsets {
                assert!(
                    (offset - source_offset[0]).abs() <= AUDIO_FRAME_S,
                    "{name}, {view}: video starts {offset:.6} s after the audio, the source {:.6} s",
                    source_offset[0]
                );
            }
        }
        validate_mpd(&out.join("manifest.mpd")).unwrap();
    }
}

/// Every file of the presentation in `out`, relative and sorted: its poster, and what the manifests lead a
/// player to: both manifests, the playlists the multivariant playlist names, and the init and media segments
/// those name. Checks that the DASH representations are the same rendition folders.
fn files_the_manifests_reference(out: &Path) -> Vec<String> {
    let mut files = vec!["master.m3u8".to_owned(), "manifest.mpd".to_owned(), "images/poster.jpg".to_owned()];
    let text = std::fs::read(out.join("master.m3u8")).unwrap();
    let Ok(m3u8_rs::Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(&text) else {
        panic!("master.m3u8 is not a multivariant playlist")
    };
    let playlists: Vec<String> = master
        .variants
        .iter()
        .map(|v| v.uri.clone())
        .chain(master.alternatives.iter().filter_map(|a| a.uri.clone()))
        .collect();
    for playlist in &playlists {
        files.push(playlist.clone());
        let folder = Path::new(playlist).parent().unwrap();
        let media = media_playlist(&out.join(playlist));
        for segment in &media.segments {
            files.push(folder.join(&segment.uri).to_str().unwrap().to_owned());
            if let Some(map) = &segment.map {
                files.push(folder.join(&map.uri).to_str().unwrap().to_owned());
            }
        }
    }
    files.sort();
    files.dedup();

    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    let mut representations: Vec<&str> = mpd
        .split("<Representation ")
        .skip(1)
        .map(|r| r.split("id=\"").nth(1).and_then(|id| id.split('"').next()).expect("Representation@id"))
        .collect();
    representations.sort();
    let mut folders: Vec<&str> = playlists.iter().map(|p| p.split('/').next().unwrap()).collect();
    folders.sort();
    folders.dedup();
    assert_eq!(representations, folders, "DASH and HLS describe the same renditions");
    files
}

/// Every directory under `dir` (relative, sorted), so that empty ones show.
fn list_dirs(dir: &Path) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap().flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path().strip_prefix(dir).unwrap().to_str().unwrap().to_owned());
                pending.push(entry.path());
            }
        }
    }
    dirs.sort();
    dirs
}

/// Transcodes three rungs in 1 s segments into `out`, then one of them in 2 s segments with `--force`: the
/// second run has fewer rungs, and fewer segments in the rung both share.
fn replace_a_larger_ladder_with_a_smaller_one(dir: &Path) -> std::path::PathBuf {
    let src = make_sample(dir, "src.mp4", &["--duration", "4", "--size", "640x360"]);
    let out = dir.join("out");
    let rung = |name: &str, short_side: u32| {
        format!("[[video]]\nname = \"{name}\"\nshort_side = {short_side}\nbitrate_kbps = 300\nprofile = \"main\"\n")
    };
    let large = dir.join("large.toml");
    let ladder = [rung("360p", 360), rung("240p", 240), rung("144p", 144)].concat();
    std::fs::write(&large, format!("name = 'large'\nsegment_duration_s = 1.0\nkeyframe_interval_s = 1.0\n{ladder}"))
        .unwrap();
    let small = dir.join("small.toml");
    let ladder = rung("240p", 240);
    std::fs::write(&small, format!("name = 'small'\nsegment_duration_s = 2.0\nkeyframe_interval_s = 2.0\n{ladder}"))
        .unwrap();

    transcode_ok(&src, &out, &["--preset", large.to_str().unwrap()]);
    assert_eq!(video_renditions(&out), ["video_144p", "video_240p", "video_360p"]);
    assert_eq!(list_files(&out), files_the_manifests_reference(&out), "the first run writes what it references");
    assert!(out.join("video_240p/seg_00004.m4s").is_file());
    transcode_ok(&src, &out, &["--preset", small.to_str().unwrap(), "--force"]);
    out
}

#[test]
fn force_with_a_smaller_ladder_leaves_only_the_files_of_the_new_presentation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = replace_a_larger_ladder_with_a_smaller_one(tmp.path());
    assert_eq!(list_files(&out), files_the_manifests_reference(&out), "no file of the larger ladder is left");
    assert!(!out.join("video_240p/seg_00003.m4s").exists() && !out.join("video_360p/init.mp4").exists());
}

/// Nor are the old rendition folders left behind empty: `LocalDir::delete` removes the directories it empties.
#[test]
fn force_with_a_smaller_ladder_leaves_no_stale_rendition_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let out = replace_a_larger_ladder_with_a_smaller_one(tmp.path());
    assert_eq!(list_dirs(&out), ["audio_aac", "images", "video_240p"], "no stale folders, not even empty ones");
}
