//! Manifest rendering end to end: golden files for two hand-built presentations, every playlist parsed back
//! with `m3u8-rs` and every MPD read back with `quick-xml` and checked against what it describes, MPDs
//! validated against the ISO/IEC 23009-1 schema with xmllint, and random presentations through all of it.
//!
//! `MARQUEE_UPDATE_GOLDEN=1 cargo test -p marquee-packager --test manifests` rewrites the golden files;
//! read the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use m3u8_rs::{MasterPlaylist, MediaPlaylist, MediaPlaylistType, Playlist};
use marquee_packager::presentation::{
    segment_name, video_timescale, FIRST_SEGMENT_NUMBER, INIT_SEGMENT_NAME, MEDIA_PLAYLIST_NAME, MPD_NAME,
    MULTIVARIANT_PLAYLIST_NAME,
};
use marquee_packager::{
    dash, hls, AudioTrack, KeyframeRange, PackagerError, Presentation, Rational, Rendition, SegmentEntry, Track,
    TrackMedia, VideoTrack,
};
use proptest::prelude::*;
use quick_xml::events::Event;

// ---------------------------------------------------------------------------------------------------------
// Building presentations
// ---------------------------------------------------------------------------------------------------------

/// An AVCDecoderConfigurationRecord with one (shortened) SPS and PPS.
fn avcc(profile: u8, constraint_flags: u8, level: u8) -> Bytes {
    Bytes::from(vec![
        0x01,
        profile,
        constraint_flags,
        level,
        0xff,
        0xe1,
        0x00,
        0x04,
        0x67,
        profile,
        constraint_flags,
        level,
        0x01,
        0x00,
        0x02,
        0x68,
        0xeb,
    ])
}

/// AAC-LC, 48 kHz, stereo.
const ASC_LC_48K_STEREO: [u8; 2] = [0x11, 0x90];

/// One rung of a ladder.
struct Rung {
    id: &'static str,
    width: u32,
    height: u32,
    bits_per_second: u64,
    avc_config: Bytes,
}

/// A video rendition whose segments hold the given fragments (frame counts), each fragment starting with a
/// keyframe. Sizes follow the bit rate with a deterministic wobble, and each keyframe takes about a sixth
/// of its fragment, as in x264 output with a 2 s GOP.
fn video_rendition(rung: &Rung, frame_rate: Rational, segments: &[&[u64]]) -> Rendition {
    let timescale = video_timescale(frame_rate);
    let frame_ticks = u64::from(timescale) * u64::from(frame_rate.den) / u64::from(frame_rate.num);
    let mut start = 0;
    let mut entries = Vec::new();
    for (i, fragments) in segments.iter().enumerate() {
        let mut offset = 0;
        let mut pts = start;
        let mut keyframes = Vec::new();
        for (j, &frames) in fragments.iter().enumerate() {
            let duration = frames * frame_ticks;
            let wobble = 90 + ((i * 7 + j * 3) % 5) as u64 * 5;
            let bytes = rung.bits_per_second * duration / u64::from(timescale) / 8 * wobble / 100;
            keyframes.push(KeyframeRange { offset, length: bytes / 6, pts, duration });
            offset += bytes;
            pts += duration;
        }
        let duration = pts - start;
        entries.push(SegmentEntry {
            number: FIRST_SEGMENT_NUMBER + i as u32,
            start,
            duration,
            size: offset,
            keyframes,
        });
        start = pts;
    }
    Rendition {
        id: rung.id.into(),
        track: Track {
            track_id: 1,
            timescale,
            media: TrackMedia::Video(VideoTrack {
                width: rung.width,
                height: rung.height,
                sample_aspect_ratio: Rational::new(1, 1),
                frame_rate,
                avc_config: rung.avc_config.clone(),
            }),
        },
        segments: entries,
    }
}

/// An AAC rendition cut at the AAC frame nearest to each of `boundaries` (seconds), one fragment per
/// segment, as the segmenter cuts audio to follow the video.
fn audio_rendition(boundaries: &[f64], bits_per_second: u64) -> Rendition {
    const SAMPLE_RATE: u32 = 48_000;
    let frame_at = |secs: f64| (secs * f64::from(SAMPLE_RATE) / 1024.0).round() as u64;
    let mut entries = Vec::new();
    for (i, pair) in boundaries.windows(2).enumerate() {
        let start = frame_at(pair[0]) * 1024;
        let duration = frame_at(pair[1]) * 1024 - start;
        let size = bits_per_second * duration / u64::from(SAMPLE_RATE) / 8 + 900;
        entries.push(SegmentEntry {
            number: FIRST_SEGMENT_NUMBER + i as u32,
            start,
            duration,
            size,
            keyframes: vec![KeyframeRange { offset: 0, length: size, pts: start, duration }],
        });
    }
    Rendition {
        id: "audio_und".into(),
        track: Track {
            track_id: 1,
            timescale: SAMPLE_RATE,
            media: TrackMedia::Audio(AudioTrack {
                sample_rate: SAMPLE_RATE,
                channels: 2,
                audio_specific_config: Bytes::from_static(&ASC_LC_48K_STEREO),
                language: "und".into(),
            }),
        },
        segments: entries,
    }
}

fn ladder() -> [Rung; 3] {
    [
        Rung {
            id: "video_1080p",
            width: 1920,
            height: 1080,
            bits_per_second: 5_000_000,
            avc_config: avcc(0x64, 0, 40),
        },
        Rung { id: "video_720p", width: 1280, height: 720, bits_per_second: 3_000_000, avc_config: avcc(0x64, 0, 31) },
        Rung { id: "video_360p", width: 640, height: 360, bits_per_second: 800_000, avc_config: avcc(0x4d, 0x40, 30) },
    ]
}

/// 29.97 fps, 4 s segments of two 2 s GOPs, a short last segment, and stereo AAC.
fn ntsc_with_audio() -> Presentation {
    let rate = Rational::new(30000, 1001);
    let layout: &[&[u64]] = &[&[60, 60], &[60, 60], &[60, 60], &[60, 15]];
    let video: Vec<Rendition> = ladder().iter().map(|rung| video_rendition(rung, rate, layout)).collect();
    let boundaries: Vec<f64> = std::iter::once(0.0)
        .chain(video[0].segments.iter().map(|s| (s.start + s.duration) as f64 / 90_000.0))
        .collect();
    Presentation { video, audio: Some(audio_rendition(&boundaries, 128_000)), segment_target_secs: 4.0 }
}

/// 30 fps, no audio, a last segment with a single keyframe.
fn thirty_fps_video_only() -> Presentation {
    let layout: &[&[u64]] = &[&[60, 60], &[60, 60], &[30]];
    let video = ladder().iter().map(|rung| video_rendition(rung, Rational::new(30, 1), layout)).collect();
    Presentation { video, audio: None, segment_target_secs: 4.0 }
}

/// Every manifest of a presentation, by its path relative to the output root.
fn render_all(p: &Presentation) -> Result<Vec<(String, String)>, PackagerError> {
    let mut files = vec![
        (MULTIVARIANT_PLAYLIST_NAME.to_string(), hls::multivariant_playlist(p)?),
        (MPD_NAME.to_string(), dash::mpd(p)?),
    ];
    for r in &p.video {
        files.push((r.media_playlist_path(), hls::media_playlist(r)?));
        files.push((r.iframe_playlist_path(), hls::iframe_playlist(r)?));
    }
    if let Some(audio) = &p.audio {
        files.push((audio.media_playlist_path(), hls::media_playlist(audio)?));
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------------------------
// Golden files
// ---------------------------------------------------------------------------------------------------------

fn golden_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case)
}

fn assert_golden(case: &str, p: &Presentation) {
    let update = std::env::var_os("MARQUEE_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let rendered = render_all(p).unwrap();
    if !update {
        // A golden file nothing renders any more is a stale expectation.
        let mut on_disk = Vec::new();
        let mut dirs = vec![golden_dir(case)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}; MARQUEE_UPDATE_GOLDEN=1 writes it", dir.display()))
                .map(Result::unwrap)
            {
                if entry.file_type().unwrap().is_dir() {
                    dirs.push(entry.path());
                } else {
                    on_disk.push(entry.path().strip_prefix(golden_dir(case)).unwrap().to_str().unwrap().to_owned());
                }
            }
        }
        let mut expected: Vec<String> = rendered.iter().map(|(path, _)| path.clone()).collect();
        on_disk.sort();
        expected.sort();
        assert_eq!(on_disk, expected, "golden files of {case}");
    }
    for (path, text) in rendered {
        let file = golden_dir(case).join(&path);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!("{}: {e}; run with MARQUEE_UPDATE_GOLDEN=1 to create it, then read it", file.display())
        });
        if text != expected {
            let line = text.lines().zip(expected.lines()).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{} differs from the golden file, first at line {}:\n  rendered: {:?}\n  golden:   {:?}\n\
                 full rendering:\n{text}\n(MARQUEE_UPDATE_GOLDEN=1 rewrites the golden files)",
                file.display(),
                line + 1,
                text.lines().nth(line),
                expected.lines().nth(line),
            );
        }
    }
}

#[test]
fn ntsc_with_audio_matches_golden_files() {
    assert_golden("ntsc_with_audio", &ntsc_with_audio());
}

#[test]
fn thirty_fps_video_only_matches_golden_files() {
    assert_golden("thirty_fps_video_only", &thirty_fps_video_only());
}

// ---------------------------------------------------------------------------------------------------------
// Reading back what was rendered
// ---------------------------------------------------------------------------------------------------------

fn parse_media(text: &str) -> MediaPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(Playlist::MediaPlaylist(pl)) => pl,
        other => panic!("not a media playlist: {other:?}\n{text}"),
    }
}

fn parse_multivariant(text: &str) -> MasterPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(Playlist::MasterPlaylist(pl)) => pl,
        other => panic!("not a multivariant playlist: {other:?}\n{text}"),
    }
}

/// The EXTINF values as written. m3u8-rs parses them into `f32`, too coarse for a 1 µs check.
fn extinf_seconds(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|v| v.trim_end_matches(',').parse::<f64>().unwrap_or_else(|e| panic!("EXTINF {v:?}: {e}")))
        .collect()
}

fn secs(ticks: u64, timescale: u32) -> f64 {
    ticks as f64 / f64::from(timescale)
}

/// Target duration covers every EXTINF rounded to the nearest integer (RFC 8216 §4.3.3.1), and is the
/// smallest value that does.
fn check_target_duration(pl: &MediaPlaylist, extinf: &[f64]) {
    let rounded = extinf.iter().map(|d| d.round() as u64).max().unwrap();
    assert_eq!(pl.target_duration, rounded.max(1), "EXTINFs {extinf:?}");
}

fn check_media_playlist(r: &Rendition, text: &str) {
    let pl = parse_media(text);
    assert_eq!(pl.version, Some(7));
    assert_eq!(pl.playlist_type, Some(MediaPlaylistType::Vod));
    assert!(pl.end_list && pl.independent_segments && !pl.i_frames_only);
    assert_eq!(pl.media_sequence, 0);
    let uris: Vec<String> = pl.segments.iter().map(|s| s.uri.clone()).collect();
    let expected: Vec<String> = r.segments.iter().map(|s| segment_name(s.number)).collect();
    assert_eq!(uris, expected);
    assert_eq!(pl.segments[0].map.as_ref().map(|m| m.uri.as_str()), Some(INIT_SEGMENT_NAME));
    assert!(pl.segments.iter().all(|s| s.byte_range.is_none()));

    let extinf = extinf_seconds(text);
    assert_eq!(extinf.len(), r.segments.len());
    check_target_duration(&pl, &extinf);
    let sum: f64 = extinf.iter().sum();
    assert!((sum - r.duration_secs()).abs() <= 1e-6, "EXTINF sum {sum} vs duration {}", r.duration_secs());
    for (d, s) in extinf.iter().zip(&r.segments) {
        assert!((d - secs(s.duration, r.track.timescale)).abs() <= 1e-6, "segment {}: EXTINF {d}", s.number);
    }
    for (parsed, written) in pl.segments.iter().zip(&extinf) {
        assert!((f64::from(parsed.duration) - written).abs() < 1e-5, "m3u8-rs read {} for {written}", parsed.duration);
    }
}

fn check_iframe_playlist(r: &Rendition, text: &str) {
    let pl = parse_media(text);
    assert_eq!(pl.version, Some(7));
    assert_eq!(pl.playlist_type, Some(MediaPlaylistType::Vod));
    assert!(pl.i_frames_only && pl.end_list);
    assert_eq!(pl.segments[0].map.as_ref().map(|m| m.uri.as_str()), Some(INIT_SEGMENT_NAME));

    let keyframes: Vec<(&SegmentEntry, &KeyframeRange)> =
        r.segments.iter().flat_map(|s| s.keyframes.iter().map(move |k| (s, k))).collect();
    assert_eq!(pl.segments.len(), keyframes.len());
    let extinf = extinf_seconds(text);
    check_target_duration(&pl, &extinf);
    for ((entry, (segment, keyframe)), d) in pl.segments.iter().zip(&keyframes).zip(&extinf) {
        assert_eq!(entry.uri, segment_name(segment.number));
        let range = entry.byte_range.as_ref().expect("every I-frame entry has a byte range");
        let offset = range.offset.expect("every byte range has an explicit offset");
        assert!(range.length > 0 && offset + range.length <= segment.size, "{range:?} outside {} bytes", segment.size);
        assert_eq!((offset, range.length), (keyframe.offset, keyframe.length));
        assert!((d - secs(keyframe.duration, r.track.timescale)).abs() <= 1e-6);
    }
    let total: u64 = keyframes.iter().map(|(_, k)| k.duration).sum();
    let sum: f64 = extinf.iter().sum();
    assert!((sum - secs(total, r.track.timescale)).abs() <= 1e-6);
}

fn check_multivariant(p: &Presentation, text: &str) {
    let pl = parse_multivariant(text);
    assert_eq!(pl.version, Some(7));
    assert!(pl.independent_segments);
    let (variants, iframes): (Vec<_>, Vec<_>) = pl.variants.iter().partition(|v| !v.is_i_frame);
    let audio = p.audio.as_ref();
    let audio_codec = audio.map(|a| a.track.codec_string().unwrap());

    if p.video.is_empty() {
        let audio = audio.unwrap();
        assert!(pl.alternatives.is_empty() && iframes.is_empty());
        assert_eq!(variants.len(), 1);
        assert_eq!(variants[0].uri, audio.media_playlist_path());
        assert_eq!(variants[0].codecs, audio_codec);
        assert_eq!(variants[0].bandwidth, audio.peak_bandwidth());
        return;
    }

    match audio {
        Some(audio) => {
            let TrackMedia::Audio(track) = &audio.track.media else { unreachable!() };
            assert_eq!(pl.alternatives.len(), 1);
            let media = &pl.alternatives[0];
            assert_eq!(media.media_type, m3u8_rs::AlternativeMediaType::Audio);
            assert_eq!(media.uri.as_deref(), Some(format!("{}/{MEDIA_PLAYLIST_NAME}", audio.id).as_str()));
            assert!(media.default && media.autoselect);
            assert_eq!(media.channels, Some(track.channels.to_string()));
            assert_eq!(media.language.as_deref(), Some(track.language.as_str()).filter(|l| !l.is_empty()));
        }
        None => assert!(pl.alternatives.is_empty()),
    }

    assert_eq!(variants.len(), p.video.len());
    assert_eq!(iframes.len(), p.video.len());
    assert!(variants.windows(2).all(|w| w[0].bandwidth >= w[1].bandwidth), "variants are not highest first");
    for v in &variants {
        let r = p.video.iter().find(|r| r.media_playlist_path() == v.uri).unwrap_or_else(|| panic!("{}", v.uri));
        let TrackMedia::Video(track) = &r.track.media else { unreachable!() };
        let video_codec = r.track.codec_string().unwrap();
        let codecs: Vec<&str> = v.codecs.as_deref().unwrap().split(',').collect();
        assert_eq!(codecs[0], video_codec);
        assert_eq!(codecs.get(1).copied(), audio_codec.as_deref(), "CODECS names every codec of the variant");
        assert_eq!(v.bandwidth, r.peak_bandwidth() + audio.map_or(0, Rendition::peak_bandwidth));
        assert_eq!(v.average_bandwidth, Some(r.average_bandwidth() + audio.map_or(0, Rendition::average_bandwidth)));
        assert!(v.average_bandwidth.unwrap() <= v.bandwidth);
        assert_eq!(v.resolution.map(|res| (res.width, res.height)), Some((track.width.into(), track.height.into())));
        assert_eq!(v.audio.is_some(), audio.is_some());
        if let Some(group) = &v.audio {
            assert!(pl.alternatives.iter().any(|m| &m.group_id == group), "AUDIO={group} has no EXT-X-MEDIA");
        }
        match v.frame_rate {
            Some(fps) => assert!((fps - track.frame_rate.as_f64()).abs() <= 0.0005 && track.frame_rate.num > 0),
            None => assert_eq!(track.frame_rate.num, 0),
        }
    }
    for v in &iframes {
        let r = p.video.iter().find(|r| r.iframe_playlist_path() == v.uri).unwrap_or_else(|| panic!("{}", v.uri));
        assert_eq!(v.codecs, Some(r.track.codec_string().unwrap()));
        assert!(v.frame_rate.is_none() && v.audio.is_none());
        let ts = f64::from(r.track.timescale);
        let peak = r
            .segments
            .iter()
            .flat_map(|s| &s.keyframes)
            .filter(|k| k.duration > 0)
            .map(|k| (k.length as f64 * 8.0 * ts / k.duration as f64).ceil() as u64)
            .max()
            .unwrap();
        assert_eq!(v.bandwidth, peak);
    }
}

/// What an MPD says about one Representation.
#[derive(Debug, Default)]
struct MpdRepresentation {
    id: String,
    bandwidth: u64,
    codecs: String,
    timescale: u32,
    start_number: u32,
    /// (start, duration) of every segment, with `S@r` expanded.
    segments: Vec<(u64, u64)>,
}

/// Reads the Representations and their expanded timelines, plus the MPD's own attributes.
fn read_mpd(text: &str) -> (Vec<(String, String)>, Vec<MpdRepresentation>) {
    let attrs = |e: &quick_xml::events::BytesStart| -> Vec<(String, String)> {
        e.attributes()
            .map(|a| {
                let a = a.unwrap();
                (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().into_owned())
            })
            .collect()
    };
    let get = |attrs: &[(String, String)], key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut mpd, mut reps, mut next_t) = (Vec::new(), Vec::<MpdRepresentation>::new(), 0u64);
    loop {
        match reader.read_event().unwrap() {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let a = attrs(&e);
                match e.name().as_ref() {
                    b"MPD" => mpd = a,
                    b"Representation" => reps.push(MpdRepresentation {
                        id: get(&a, "id").unwrap(),
                        bandwidth: get(&a, "bandwidth").unwrap().parse().unwrap(),
                        codecs: get(&a, "codecs").unwrap(),
                        ..Default::default()
                    }),
                    b"SegmentTemplate" => {
                        let rep = reps.last_mut().unwrap();
                        rep.timescale = get(&a, "timescale").unwrap().parse().unwrap();
                        rep.start_number = get(&a, "startNumber").unwrap().parse().unwrap();
                        next_t = 0;
                    }
                    b"S" => {
                        let d: u64 = get(&a, "d").unwrap().parse().unwrap();
                        let r: u64 = get(&a, "r").map_or(0, |r| r.parse().unwrap());
                        let mut t = get(&a, "t").map_or(next_t, |t| t.parse().unwrap());
                        for _ in 0..=r {
                            reps.last_mut().unwrap().segments.push((t, d));
                            t += d;
                        }
                        next_t = t;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    (mpd, reps)
}

fn check_mpd(p: &Presentation, text: &str) {
    let (mpd, reps) = read_mpd(text);
    let get = |key: &str| mpd.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("type"), Some("static"));
    assert_eq!(get("profiles"), Some(dash::PROFILES));
    let renditions: Vec<&Rendition> = p.video.iter().chain(&p.audio).collect();
    assert_eq!(reps.len(), renditions.len());
    for (rep, r) in reps.iter().zip(renditions) {
        assert_eq!(rep.id, r.id);
        assert_eq!(rep.bandwidth, r.peak_bandwidth());
        assert_eq!(rep.codecs, r.track.codec_string().unwrap());
        assert_eq!(rep.timescale, r.track.timescale);
        assert_eq!(rep.start_number, FIRST_SEGMENT_NUMBER);
        let expected: Vec<(u64, u64)> = r.segments.iter().map(|s| (s.start, s.duration)).collect();
        assert_eq!(rep.segments, expected, "timeline of {}", r.id);
    }
}

fn check_all(p: &Presentation) {
    let files = render_all(p).unwrap_or_else(|e| panic!("{e}"));
    let text = |path: &str| &files.iter().find(|(p, _)| p == path).unwrap().1;
    check_multivariant(p, text(MULTIVARIANT_PLAYLIST_NAME));
    check_mpd(p, text(MPD_NAME));
    for r in &p.video {
        check_media_playlist(r, text(&r.media_playlist_path()));
        check_iframe_playlist(r, text(&r.iframe_playlist_path()));
    }
    if let Some(audio) = &p.audio {
        check_media_playlist(audio, text(&audio.media_playlist_path()));
    }
}

#[test]
fn rendered_manifests_read_back_as_what_they_describe() {
    check_all(&ntsc_with_audio());
    check_all(&thirty_fps_video_only());
}

#[test]
fn multivariant_playlist_sorts_variants_and_sums_the_audio_peak() {
    let mut p = ntsc_with_audio();
    p.video.reverse();
    let pl = parse_multivariant(&hls::multivariant_playlist(&p).unwrap());
    let uris: Vec<&str> = pl.variants.iter().filter(|v| !v.is_i_frame).map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["video_1080p/index.m3u8", "video_720p/index.m3u8", "video_360p/index.m3u8"]);
    let audio_peak = p.audio.as_ref().unwrap().peak_bandwidth();
    assert!(audio_peak > 128_000, "{audio_peak}");
    let video_peak = p.video.iter().find(|r| r.id == "video_1080p").unwrap().peak_bandwidth();
    assert_eq!(pl.variants[0].bandwidth, video_peak + audio_peak);
    assert_eq!(pl.variants[0].codecs.as_deref(), Some("avc1.640028,mp4a.40.2"));
    assert_eq!(pl.variants[2].codecs.as_deref(), Some("avc1.4d401e,mp4a.40.2"));
}

#[test]
fn audio_only_presentation_has_one_audio_variant() {
    let p = Presentation { video: vec![], ..ntsc_with_audio() };
    check_all(&p);
    let text = hls::multivariant_playlist(&p).unwrap();
    assert!(text.contains("CODECS=\"mp4a.40.2\"") && !text.contains("EXT-X-MEDIA:"), "{text}");
}

#[test]
fn frame_rate_is_left_out_for_variable_rate_video() {
    let mut p = thirty_fps_video_only();
    for r in &mut p.video {
        let TrackMedia::Video(v) = &mut r.track.media else { unreachable!() };
        v.frame_rate = Rational::new(0, 1);
    }
    check_all(&p);
    let master = hls::multivariant_playlist(&p).unwrap();
    let mpd = dash::mpd(&p).unwrap();
    assert!(!master.contains("FRAME-RATE") && !mpd.contains("rameRate"), "{master}\n{mpd}");
}

#[test]
fn timeline_keeps_gaps_and_compresses_repeats() {
    let mut p = thirty_fps_video_only();
    let r = &mut p.video[0];
    // A 1 s hole before the last segment: its S gets its own @t.
    r.segments[2].start += 90_000;
    for k in &mut r.segments[2].keyframes {
        k.pts += 90_000;
    }
    let mpd = dash::mpd(&p).unwrap();
    assert!(mpd.contains(r#"<S t="0" d="360000" r="1"/>"#), "{mpd}");
    assert!(mpd.contains(r#"<S t="810000" d="90000"/>"#), "{mpd}");
    // The other rungs keep their boundaries, so the set is no longer aligned.
    assert!(mpd.contains(r#"segmentAlignment="false""#), "{mpd}");
    check_mpd(&p, &mpd);
}

#[test]
fn bad_input_is_an_error_not_a_broken_manifest() {
    fn render_error(result: Result<String, PackagerError>) -> String {
        match result {
            Err(PackagerError::Render { reason, .. }) => reason,
            other => panic!("expected a render error, got {other:?}"),
        }
    }
    let p = ntsc_with_audio();

    let mut quoted = p.clone();
    quoted.video[0].id = "video\"1080p".into();
    assert!(render_error(hls::multivariant_playlist(&quoted)).contains("cannot be written"));
    let mut spaced = p.clone();
    spaced.video[0].id = "video 1080p".into();
    assert!(render_error(dash::mpd(&spaced)).contains("white space"));

    let mut outside = p.video[0].clone();
    outside.segments[1].keyframes[1].length = outside.segments[1].size;
    assert!(render_error(hls::iframe_playlist(&outside)).contains("outside"));

    let mut renumbered = p.clone();
    renumbered.video[1].segments[2].number = 7;
    assert!(render_error(dash::mpd(&renumbered)).contains("numbered 7"));

    let mut overlapping = p.clone();
    overlapping.video[2].segments[1].start -= 1;
    assert!(render_error(dash::mpd(&overlapping)).contains("inside the previous one"));

    let mut language = p.clone();
    let Some(TrackMedia::Audio(a)) = language.audio.as_mut().map(|a| &mut a.track.media) else { unreachable!() };
    a.language = "en_US".into();
    assert!(render_error(dash::mpd(&language)).contains("not a language tag"));

    let empty = Presentation { video: vec![], audio: None, segment_target_secs: 4.0 };
    assert!(render_error(hls::multivariant_playlist(&empty)).contains("neither"));
    assert!(render_error(dash::mpd(&empty)).contains("neither"));
    assert!(render_error(hls::iframe_playlist(p.audio.as_ref().unwrap())).contains("not video"));
    let no_segments = Rendition { segments: vec![], ..p.video[0].clone() };
    assert!(render_error(hls::media_playlist(&no_segments)).contains("no segments"));

    let mut bad_avcc = p.clone();
    let TrackMedia::Video(v) = &mut bad_avcc.video[0].track.media else { unreachable!() };
    v.avc_config = Bytes::from_static(&[0x01, 0x64, 0x00]);
    for result in [hls::multivariant_playlist(&bad_avcc), dash::mpd(&bad_avcc)] {
        assert!(matches!(result, Err(PackagerError::InvalidCodecConfig { codec: "avcC", .. })), "{result:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// MPD schema validation
// ---------------------------------------------------------------------------------------------------------

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dash-schema")
}

/// Runs xmllint on `mpd` against the copied ISO/IEC 23009-1 schema, offline, and returns whether it is
/// valid and what xmllint said.
fn validate_mpd(mpd: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(MPD_NAME);
    std::fs::write(&file, mpd).unwrap();
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema_dir().join("DASH-MPD.xsd"))
        .arg(&file)
        .env("XML_CATALOG_FILES", schema_dir().join("catalog.xml"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): MPD schema validation needs it; install libxml2-utils (apt-get install -y libxml2-utils)")
        });
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), said)
}

#[test]
fn mpds_are_valid_against_the_dash_schema() {
    let mut pce = ntsc_with_audio();
    let TrackMedia::Audio(a) = &mut pce.audio.as_mut().unwrap().track.media else { unreachable!() };
    a.audio_specific_config = Bytes::from_static(&[0x11, 0x80]); // channelConfiguration 0: layout in a PCE
    a.language = "pt-BR".into();
    let mut gap = thirty_fps_video_only();
    gap.video[1].segments[2].start += 3000;
    let cases = [
        ("ntsc_with_audio", ntsc_with_audio()),
        ("thirty_fps_video_only", thirty_fps_video_only()),
        ("audio_only", Presentation { video: vec![], ..ntsc_with_audio() }),
        ("pce_audio_with_region", pce),
        ("timeline_gap", gap),
    ];
    for (name, p) in cases {
        let mpd = dash::mpd(&p).unwrap();
        let (valid, said) = validate_mpd(&mpd);
        assert!(valid, "{name}: xmllint rejected the MPD:\n{said}\n{mpd}");
    }
}

#[test]
fn schema_validation_rejects_an_invalid_mpd() {
    // Proves the check above can fail: minBufferTime is required, and Representation@bandwidth is an integer.
    let mpd = dash::mpd(&ntsc_with_audio()).unwrap();
    let start = mpd.find(" minBufferTime=\"").unwrap();
    let value = start + " minBufferTime=\"".len();
    let end = value + mpd[value..].find('"').unwrap() + 1;
    let without_min_buffer = format!("{}{}", &mpd[..start], &mpd[end..]);
    assert!(!without_min_buffer.contains("minBufferTime"));
    let (valid, said) = validate_mpd(&without_min_buffer);
    assert!(!valid && said.contains("minBufferTime"), "{said}");
    let (valid, said) = validate_mpd(&mpd.replacen("bandwidth=\"", "bandwidth=\"x", 1));
    assert!(!valid && said.contains("bandwidth"), "{said}");
}

// ---------------------------------------------------------------------------------------------------------
// Random presentations
// ---------------------------------------------------------------------------------------------------------

const FRAME_RATES: [(u32, u32); 6] = [(30000, 1001), (30, 1), (25, 1), (24000, 1001), (60, 1), (0, 1)];

prop_compose! {
    /// Segments given as fragments of frames, each fragment a GOP.
    fn arb_layout()(segments in prop::collection::vec(prop::collection::vec(1u64..=150, 1..=3), 1..=12)) -> Vec<Vec<u64>> {
        segments
    }
}

prop_compose! {
    fn arb_presentation()(
        rungs in 1usize..=3,
        rate in prop::sample::select(&FRAME_RATES[..]),
        layout in arb_layout(),
        bitrates in prop::collection::vec(50_000u64..20_000_000, 3),
        with_audio in any::<bool>(),
        audio_bps in 32_000u64..320_000,
        language in prop::sample::select(&["und", "en", "fra", "pt-BR", ""][..]),
    ) -> Presentation {
        let (num, den) = rate;
        let ladder = ladder();
        let layout: Vec<&[u64]> = layout.iter().map(Vec::as_slice).collect();
        // A variable-rate source still has frames: lay it out at 30 fps in a 90 kHz timescale.
        let nominal = if num == 0 { Rational::new(30, 1) } else { Rational::new(num, den) };
        let video: Vec<Rendition> = ladder[..rungs]
            .iter()
            .zip(&bitrates)
            .map(|(rung, &bps)| {
                let mut r = video_rendition(&Rung { bits_per_second: bps, avc_config: rung.avc_config.clone(), ..*rung }, nominal, &layout);
                let TrackMedia::Video(v) = &mut r.track.media else { unreachable!() };
                v.frame_rate = Rational::new(num, den);
                r
            })
            .collect();
        let audio = with_audio.then(|| {
            let ts = f64::from(video[0].track.timescale);
            let ends = video[0].segments.iter().map(|s| (s.start + s.duration) as f64 / ts);
            let boundaries: Vec<f64> = std::iter::once(0.0).chain(ends).collect();
            let mut audio = audio_rendition(&boundaries, audio_bps);
            // Very short segments can round to no AAC frame at all; the segmenter never emits those.
            audio.segments.retain(|s| s.duration > 0);
            for (i, s) in audio.segments.iter_mut().enumerate() {
                s.number = FIRST_SEGMENT_NUMBER + i as u32;
            }
            let TrackMedia::Audio(a) = &mut audio.track.media else { unreachable!() };
            a.language = language.to_string();
            audio
        }).filter(|a| !a.segments.is_empty());
        Presentation { video, audio, segment_target_secs: 4.0 }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_presentations_render_and_read_back(p in arb_presentation()) {
        check_all(&p);
    }
}
