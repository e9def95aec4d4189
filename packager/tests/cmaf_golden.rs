//! Byte-exact golden files for a video header, an audio header and a small indexed video segment, so that
//! any change to what the packager writes shows up in review. Each golden file is also read back with the
//! independent reader, so it cannot be blessed into something malformed.
//!
//! After an intended change, rewrite them with `MARQUEE_BLESS=1 cargo test -p marquee-packager --test
//! cmaf_golden` and review the diff (`cmp -l` or a hex dump).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::reader;
use marquee_packager::segmenter::SegmenterOptions;
use marquee_packager::{AudioTrack, Rational, Sample, Track, TrackMedia, VideoTrack};

const BLESS_ENV: &str = "MARQUEE_BLESS";

fn video_track() -> Track {
    Track {
        track_id: 1,
        timescale: 90_000,
        media: TrackMedia::Video(VideoTrack {
            width: 1280,
            height: 720,
            sample_aspect_ratio: Rational::new(1, 1),
            frame_rate: Rational::new(30, 1),
            avc_config: Bytes::from_static(&[
                0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x09, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05,
                0x01, 0x00, 0x04, 0x68, 0xeb, 0xe3, 0xcb,
            ]),
        }),
    }
}

fn audio_track() -> Track {
    Track {
        track_id: 1,
        timescale: 48_000,
        media: TrackMedia::Audio(AudioTrack {
            sample_rate: 48_000,
            channels: 2,
            audio_specific_config: Bytes::from_static(&[0x11, 0x90]),
            language: "eng".into(),
        }),
    }
}

/// I P B at 30 fps, decoded one frame early.
fn ipb() -> Vec<Sample> {
    [(0, -3000, true, &b"IDR"[..]), (6000, 0, false, b"P"), (3000, 3000, false, b"B")]
        .into_iter()
        .map(|(pts, dts, keyframe, data)| Sample { pts, dts, duration: 3000, keyframe, data: Bytes::from_static(data) })
        .collect()
}

fn assert_golden(name: &str, golden: &[u8], actual: &[u8]) {
    if std::env::var_os(BLESS_ENV).is_some_and(|v| v == "1") {
        let path = format!("{}/tests/data/cmaf/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(path, actual).unwrap();
        return;
    }
    assert!(
        golden == actual,
        "{name} differs from the golden file ({} bytes, now {}); if intended, rerun with {BLESS_ENV}=1 and review",
        golden.len(),
        actual.len()
    );
}

#[test]
fn video_header_and_indexed_segment_match_the_golden_files() {
    const INIT: &[u8] = include_bytes!("data/cmaf/video_init.mp4");
    const SEGMENT: &[u8] = include_bytes!("data/cmaf/video_segment_sidx.m4s");
    let (init, segments) =
        common::package(&video_track(), &ipb(), Duration::from_secs(2), SegmenterOptions { sidx: true });
    assert_eq!(segments.len(), 1);
    assert_golden("video_init.mp4", INIT, &init);
    assert_golden("video_segment_sidx.m4s", SEGMENT, &segments[0].data);

    let mp4 = reader::read_init(&init);
    assert_eq!(mp4.tracks()[&1].width(), 1280);
    assert_eq!(reader::edit_media_time(&init), 3000, "the IDR is shown one frame after it is decoded");
    let read = reader::read_segment(&segments[0].data, &reader::trex_defaults(&init));
    assert_eq!(read.boxes, ["styp", "sidx", "moof", "mdat"]);
    let offsets: Vec<i32> = read.samples().map(|s| s.composition_offset).collect();
    assert_eq!(offsets, [3000, 6000, 0]);
    assert_eq!(read.sidx.unwrap().earliest_presentation_time, 0);
}

#[test]
fn audio_header_matches_the_golden_file() {
    const INIT: &[u8] = include_bytes!("data/cmaf/audio_init.mp4");
    let sample = Sample { pts: 0, dts: 0, duration: 1024, keyframe: true, data: Bytes::from_static(b"aac") };
    let (init, _) = common::package(&audio_track(), &[sample], Duration::from_secs(2), SegmenterOptions::default());
    assert_golden("audio_init.mp4", INIT, &init);
    assert_eq!(reader::read_init(&init).tracks()[&1].language(), "eng");
}
