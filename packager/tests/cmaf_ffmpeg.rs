//! Real H.264 (with B-frames) and AAC from ffmpeg, packaged by the segmenter, then read back by ffprobe and
//! decoded by ffmpeg from `init.mp4` + segments concatenated, and read back by the mp4-crate reader.
//!
//! These tests need ffmpeg and ffprobe; set `MARQUEE_SKIP_FFMPEG_TESTS=1` to skip them where those are
//! missing (they fail otherwise, rather than pass without checking anything).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::media::{self, Clip};
use common::reader;
use marquee_packager::segmenter::SegmenterOptions;
use marquee_packager::{Sample, Segment};

/// x264 with up to 3 B-frames (pyramid), a keyframe every second and nowhere else.
const BFRAME_GOP_30: &[&str] = &["-bf", "3", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0"];

fn package(clip: &Clip, target: Duration, options: SegmenterOptions) -> (bytes::Bytes, Vec<Segment>) {
    common::package(&clip.track, &clip.samples, target, options)
}

/// `init.mp4` followed by every segment, as a player appending them to one buffer sees them.
fn concatenate(dir: &Path, name: &str, init: &[u8], segments: &[Segment]) -> PathBuf {
    let mut file = init.to_vec();
    for segment in segments {
        file.extend_from_slice(&segment.data);
    }
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    path
}

/// Reads every segment back and checks each sample against what was pushed: data, presentation time
/// (after the header's edit list), keyframe flag, and decode time `dts + shift`.
fn assert_segments_hold(init: &[u8], segments: &[Segment], samples: &[Sample]) {
    let trex = reader::trex_defaults(init);
    let shift = samples[0].pts - samples[0].dts;
    let edit = reader::edit_media_time(init);
    assert_eq!(edit, i128::from(shift), "the edit list takes the first sample's delay off");
    let read: Vec<reader::ReadSample> = segments
        .iter()
        .flat_map(|segment| reader::read_segment(&segment.data, &trex).samples().cloned().collect::<Vec<_>>())
        .collect();
    assert_eq!(read.len(), samples.len());
    for (i, (read, pushed)) in read.iter().zip(samples).enumerate() {
        assert_eq!(read.data, pushed.data, "sample {i} data");
        assert_eq!(read.presentation_time(edit), i128::from(pushed.pts), "sample {i} pts");
        assert_eq!(read.decode_time as i64, pushed.dts + shift, "sample {i} decode time");
        assert_eq!(read.keyframe(), pushed.keyframe, "sample {i} keyframe");
    }
}

#[test]
fn h264_with_b_frames_plays_back_exactly_as_pushed() {
    if !media::ffmpeg_tests_enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = media::h264_clip(dir.path(), "bframes", (320, 240), 30, BFRAME_GOP_30);
    assert_eq!(clip.samples.len(), 90);
    assert!(clip.samples.windows(2).any(|w| w[1].pts < w[0].pts), "the clip has reordered B-frames");
    assert!(clip.samples[0].dts < clip.samples[0].pts, "decoding starts before presentation");
    let keyframes: Vec<i64> = clip.samples.iter().filter(|s| s.keyframe).map(|s| s.pts).collect();
    assert_eq!(keyframes, [0, 90_000, 180_000]);

    for sidx in [false, true] {
        let (init, segments) = package(&clip, Duration::from_secs(1), SegmenterOptions { sidx });
        let starts: Vec<u64> = segments.iter().map(|s| s.entry.start).collect();
        assert_eq!(starts, [0, 90_000, 180_000], "sidx: {sidx}");
        assert_segments_hold(&init, &segments, &clip.samples);

        let file = concatenate(dir.path(), &format!("bframes-sidx-{sidx}.mp4"), &init, &segments);
        // ffmpeg applies the edit list: it reports exactly the timestamps pushed, the first frame presented
        // at 0 and decoded before it, as the source had them. (Before the edit list, signed offsets put
        // every pts one B-frame delay late in ffmpeg, which lost lip sync against the audio.)
        let packets = media::probe_packets(&file);
        assert_eq!(packets.len(), clip.samples.len());
        for (i, (packet, sample)) in packets.iter().zip(&clip.samples).enumerate() {
            assert_eq!(packet.pts, sample.pts, "packet {i} pts (sidx: {sidx})");
            assert_eq!(packet.dts, sample.dts, "packet {i} dts (sidx: {sidx})");
            assert_eq!(packet.keyframe, sample.keyframe, "packet {i} keyframe (sidx: {sidx})");
            assert_eq!(packet.size, sample.data.len() as u64, "packet {i} size (sidx: {sidx})");
        }
        let stream = media::probe_stream(&file, "codec_name,width,height,time_base");
        for fact in [("codec_name", "h264"), ("width", "320"), ("height", "240"), ("time_base", "1/90000")] {
            assert!(stream.contains(&(fact.0.into(), fact.1.into())), "{fact:?} in {stream:?}");
        }
        assert_eq!(media::decode_errors(&file), "", "ffmpeg decodes every frame cleanly (sidx: {sidx})");
    }
}

#[test]
fn aac_plays_back_exactly_as_pushed() {
    if !media::ffmpeg_tests_enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = media::aac_clip(dir.path(), "tone");
    // 3 s of 1024-sample frames plus the encoder's priming and padding.
    assert!((141..=145).contains(&clip.samples.len()), "{} frames", clip.samples.len());
    let (init, segments) = package(&clip, Duration::from_secs(1), SegmenterOptions::default());
    // Every frame may start a segment: the first at or after each whole second less 10 ms (480 ticks).
    let expected_starts: Vec<u64> = (0..)
        .map(|second| clip.samples.iter().find(|s| s.pts >= second * 48_000 - 480).map(|s| s.pts as u64))
        .take_while(Option::is_some)
        .flatten()
        .collect();
    assert_eq!(expected_starts.len(), 4, "the last frames pass 3 s");
    assert_eq!(segments.iter().map(|s| s.entry.start).collect::<Vec<_>>(), expected_starts);
    assert_segments_hold(&init, &segments, &clip.samples);

    let file = concatenate(dir.path(), "tone.mp4", &init, &segments);
    let packets = media::probe_packets(&file);
    assert_eq!(packets.len(), clip.samples.len());
    for (i, (packet, sample)) in packets.iter().zip(&clip.samples).enumerate() {
        assert_eq!((packet.pts, packet.dts), (sample.pts, sample.dts), "packet {i}");
        assert!(packet.keyframe, "packet {i}");
        assert_eq!(packet.size, sample.data.len() as u64, "packet {i} size");
    }
    let stream = media::probe_stream(&file, "codec_name,profile,sample_rate,channels");
    for fact in [("codec_name", "aac"), ("profile", "LC"), ("sample_rate", "48000"), ("channels", "2")] {
        assert!(stream.contains(&(fact.0.into(), fact.1.into())), "{fact:?} in {stream:?}");
    }
    assert_eq!(media::decode_errors(&file), "");
}

#[test]
fn rungs_with_forced_keyframes_cut_at_the_same_instants() {
    if !media::ffmpeg_tests_enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // What the transcoder does: keyframes forced every second in every rung, GOPs otherwise long.
    let forced = ["-bf", "2", "-g", "250", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*1)"];
    let rungs = [("high", (320, 240), 30), ("low", (160, 120), 25)];
    let mut cut_times = Vec::new();
    for (name, size, rate) in rungs {
        let clip = media::h264_clip(dir.path(), name, size, rate, &forced);
        let (init, segments) = package(&clip, Duration::from_secs(1), SegmenterOptions::default());
        assert_segments_hold(&init, &segments, &clip.samples);
        let file = concatenate(dir.path(), &format!("{name}.mp4"), &init, &segments);
        assert_eq!(media::decode_errors(&file), "", "{name}");
        let seconds: Vec<f64> = segments.iter().map(|s| s.entry.start as f64 / 90_000.0).collect();
        cut_times.push(seconds);
    }
    assert_eq!(cut_times[0], [0.0, 1.0, 2.0]);
    assert_eq!(cut_times[0], cut_times[1]);
}
