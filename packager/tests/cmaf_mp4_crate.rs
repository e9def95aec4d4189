//! Init and media segments written by the segmenter, read back field by field with the independent `mp4`
//! crate (see `common::reader` for the two things it cannot read: `sidx`, and sample addressing relative to
//! the `moof`).

mod common;

use std::io::Cursor;
use std::time::Duration;

use bytes::Bytes;
use common::reader::{self, ReadSegment};
use marquee_packager::segmenter::SegmenterOptions;
use marquee_packager::{AudioTrack, Rational, Sample, Segment, Track, TrackMedia, VideoTrack};

const SPS: &[u8] = &[0x67, 0x4d, 0x40, 0x1f, 0xe8, 0x80, 0x28, 0x02, 0xdd, 0x80, 0xb5, 0x01, 0x01, 0x01, 0x40];
const PPS: &[u8] = &[0x68, 0xee, 0x3c, 0x80];

fn video_track() -> Track {
    let mut avc_config = vec![1, SPS[1], SPS[2], SPS[3], 0xff, 0xe1, 0, SPS.len() as u8];
    avc_config.extend_from_slice(SPS);
    avc_config.extend_from_slice(&[1, 0, PPS.len() as u8]);
    avc_config.extend_from_slice(PPS);
    Track {
        track_id: 1,
        timescale: 90_000,
        media: TrackMedia::Video(VideoTrack {
            width: 1440,
            height: 1080,
            sample_aspect_ratio: Rational::new(4, 3),
            frame_rate: Rational::new(25, 1),
            avc_config: Bytes::from(avc_config),
        }),
    }
}

fn audio_track() -> Track {
    Track {
        track_id: 1,
        timescale: 44_100,
        media: TrackMedia::Audio(AudioTrack {
            sample_rate: 44_100,
            channels: 1,
            audio_specific_config: Bytes::from_static(&[0x12, 0x08]),
            language: "deu".into(),
        }),
    }
}

/// `count` frames at 25 fps in decode order: an I-frame every `gop` frames, then groups of P B B whose P is
/// shown after its two B-frames. Frame `n` is shown at `n × 3600` and decoded two frames early.
fn ipbb(count: i64, gop: i64) -> Vec<Sample> {
    assert!(count % gop == 0 && (gop - 1) % 3 == 0, "whole GOPs of whole P B B groups");
    let shown = |i: i64| match (i % gop, (i % gop + 2) % 3) {
        (0, _) => i,
        (_, 0) => i + 2,
        _ => i - 1,
    };
    (0..count)
        .map(|i| Sample {
            pts: shown(i) * 3600,
            dts: (i - 2) * 3600,
            duration: 3600,
            keyframe: i % gop == 0,
            data: Bytes::from(format!("frame {i} shown {}", shown(i)).into_bytes()),
        })
        .collect()
}

fn read_all(init: &[u8], segments: &[Segment]) -> Vec<ReadSegment> {
    let trex = reader::trex_defaults(init);
    segments.iter().map(|segment| reader::read_segment(&segment.data, &trex)).collect()
}

#[test]
fn the_video_pattern_is_a_permutation_with_b_frames() {
    let samples = ipbb(50, 25);
    let mut shown: Vec<i64> = samples.iter().map(|s| s.pts / 3600).collect();
    assert!(shown.windows(2).any(|w| w[1] < w[0]));
    shown.sort();
    assert_eq!(shown, (0..50).collect::<Vec<_>>());
    assert!(samples.iter().all(|s| s.dts <= s.pts));
}

#[test]
fn video_init_segment_fields() {
    let (init, _) = common::package(&video_track(), &ipbb(25, 25), Duration::from_secs(2), SegmenterOptions::default());
    let mp4 = reader::read_init(&init);
    assert_eq!(mp4.ftyp.major_brand.to_string(), "cmfc");
    let brands: Vec<String> = mp4.ftyp.compatible_brands.iter().map(|b| b.to_string()).collect();
    assert_eq!(brands, ["iso6", "cmfc", "cmf2", "dash"]);
    assert_eq!(mp4.moov.mvhd.timescale, 90_000);
    assert_eq!(mp4.moov.mvhd.next_track_id, 2);
    assert_eq!(mp4.moov.traks.len(), 1);

    let track = &mp4.tracks()[&1];
    assert_eq!(track.track_type().unwrap(), mp4::TrackType::Video);
    assert_eq!(track.box_type().unwrap().to_string(), "avc1");
    assert_eq!((track.timescale(), track.width(), track.height()), (90_000, 1440, 1080));
    assert_eq!(track.sequence_parameter_set().unwrap(), SPS);
    assert_eq!(track.picture_parameter_set().unwrap(), PPS);
    assert_eq!(track.language(), "und");

    let trak = &mp4.moov.traks[0];
    assert_eq!((trak.tkhd.track_id, trak.tkhd.duration, trak.tkhd.flags), (1, 0, 3));
    // 1440 × 4/3 = 1920 wide on screen.
    assert_eq!((trak.tkhd.width.value(), trak.tkhd.height.value()), (1920, 1080));
    // Decoded two frames before it is shown: an edit list presents the first frame at 0 all the same.
    let elst = trak.edts.as_ref().and_then(|edts| edts.elst.as_ref()).expect("an edit list");
    assert_eq!(elst.entries.len(), 1);
    assert_eq!(
        (elst.entries[0].segment_duration, elst.entries[0].media_time, elst.entries[0].media_rate),
        (0, 7200, 1)
    );
    assert_eq!(reader::edit_media_time(&init), 7200);
    assert_eq!((trak.mdia.mdhd.timescale, trak.mdia.mdhd.duration), (90_000, 0));
    assert_eq!(trak.mdia.hdlr.handler_type.to_string(), "vide");
    assert!(trak.mdia.minf.vmhd.is_some() && trak.mdia.minf.smhd.is_none());
    let stbl = &trak.mdia.minf.stbl;
    assert!(stbl.stts.entries.is_empty() && stbl.stsc.entries.is_empty());
    assert_eq!((stbl.stsz.sample_count, stbl.stco.as_ref().unwrap().entries.len()), (0, 0));
    let avc1 = stbl.stsd.avc1.as_ref().unwrap();
    assert_eq!((avc1.width, avc1.height, avc1.data_reference_index), (1440, 1080, 1));
    assert_eq!((avc1.avcc.avc_profile_indication, avc1.avcc.avc_level_indication), (0x4d, 0x1f));
    let trex = &mp4.moov.mvex.as_ref().unwrap().trex;
    assert_eq!((trex.track_id, trex.default_sample_description_index), (1, 1));

    // The record is carried verbatim, and `pasp` follows it inside avc1.
    let TrackMedia::Video(video) = &video_track().media else { unreachable!() };
    let at = init.windows(4).position(|w| w == b"avcC").unwrap();
    let len = u32::from_be_bytes(init[at - 4..at].try_into().unwrap()) as usize;
    assert_eq!(&init[at + 4..at - 4 + len], &video.avc_config[..]);
    assert_eq!(&init[at - 4 + len..at - 4 + len + 16], b"\x00\x00\x00\x10pasp\x00\x00\x00\x04\x00\x00\x00\x03");
}

#[test]
fn audio_init_segment_fields() {
    let samples = [Sample { pts: 0, dts: 0, duration: 1024, keyframe: true, data: Bytes::from_static(b"aac") }];
    let (init, _) = common::package(&audio_track(), &samples, Duration::from_secs(2), SegmenterOptions::default());
    let mp4 = reader::read_init(&init);
    let track = &mp4.tracks()[&1];
    assert_eq!(track.track_type().unwrap(), mp4::TrackType::Audio);
    assert_eq!(track.box_type().unwrap().to_string(), "mp4a");
    assert_eq!((track.timescale(), track.language()), (44_100, "deu"));
    assert_eq!(track.audio_profile().unwrap(), mp4::AudioObjectType::AacLowComplexity);
    assert_eq!(track.sample_freq_index().unwrap(), mp4::SampleFreqIndex::Freq44100);
    assert_eq!(track.channel_config().unwrap(), mp4::ChannelConfig::Mono);
    let trak = &mp4.moov.traks[0];
    assert_eq!(trak.tkhd.volume.value(), 1);
    assert_eq!((trak.tkhd.width.value(), trak.tkhd.height.value()), (0, 0));
    assert_eq!(trak.mdia.hdlr.handler_type.to_string(), "soun");
    assert!(trak.mdia.minf.smhd.is_some());
    let mp4a = trak.mdia.minf.stbl.stsd.mp4a.as_ref().unwrap();
    assert_eq!((mp4a.channelcount, mp4a.samplesize, mp4a.samplerate.value()), (1, 16, 44_100));
    let decoder = &mp4a.esds.as_ref().unwrap().es_desc.dec_config;
    assert_eq!((decoder.object_type_indication, decoder.stream_type), (0x40, 5));
    let trex = &mp4.moov.mvex.as_ref().unwrap().trex;
    assert_eq!(trex.default_sample_flags, 0x0200_0000, "audio samples are all sync");
}

#[test]
fn video_segments_fields() {
    let samples = ipbb(150, 25); // 6 s, a keyframe every second
    let options = SegmenterOptions { sidx: true };
    let (init, segments) = common::package(&video_track(), &samples, Duration::from_secs(2), options);
    let read = read_all(&init, &segments);
    assert_eq!(read.len(), 3);

    let mut next_sequence_number = 1;
    let mut next_decode_time = 0;
    let mut pushed = samples.iter();
    for (index, (segment, read)) in segments.iter().zip(&read).enumerate() {
        assert_eq!(read.boxes[..2], ["styp", "sidx"]);
        assert_eq!(read.boxes.len(), 2 + 2 * 2, "two GOPs of a second each: two moof + mdat");
        assert_eq!(read.major_brand, "cmfs");
        assert_eq!(read.compatible_brands, ["cmfs", "msdh", "msix"]);

        let entry = &segment.entry;
        assert_eq!(entry.number, index as u32 + 1);
        assert_eq!((entry.start, entry.duration), (index as u64 * 180_000, 180_000));
        assert_eq!(entry.size, segment.data.len() as u64);

        let sidx = read.sidx.as_ref().unwrap();
        assert_eq!((sidx.version, sidx.reference_id, sidx.timescale, sidx.first_offset), (1, 1, 90_000, 0));
        assert_eq!(sidx.earliest_presentation_time, entry.start);
        assert_eq!(sidx.end, read.fragments[0].offset);

        for (k, fragment) in read.fragments.iter().enumerate() {
            assert_eq!((fragment.track_id, fragment.trun_version), (1, 1));
            assert_eq!(fragment.sequence_number, next_sequence_number);
            next_sequence_number += 1;
            assert_eq!(fragment.base_media_decode_time, next_decode_time, "contiguous decode times");
            assert_eq!(fragment.samples.len(), 25);
            assert!(fragment.samples[0].keyframe() && fragment.samples[1..].iter().all(|s| !s.keyframe()));
            for sample in &fragment.samples {
                let pushed = pushed.next().unwrap();
                assert_eq!(sample.data, pushed.data);
                assert_eq!(sample.presentation_time(7200), i128::from(pushed.pts));
                assert_eq!(sample.decode_time as i64, pushed.dts + 7200);
                assert_eq!(i64::from(sample.composition_offset), pushed.pts - pushed.dts);
                assert_eq!(sample.duration, 3600);
                assert_eq!(sample.flags, if pushed.keyframe { 0x0200_0000 } else { 0x0101_0000 });
                next_decode_time += u64::from(sample.duration);
            }
            assert!(fragment.samples.iter().all(|s| s.composition_offset >= 0), "offsets are pts - dts");

            let reference = &sidx.references[k];
            assert_eq!((reference.reference_type, u64::from(reference.referenced_size)), (0, fragment.len));
            assert_eq!(reference.subsegment_duration, 90_000);
            assert_eq!((reference.starts_with_sap, reference.sap_type, reference.sap_delta_time), (true, 1, 0));

            let range = &entry.keyframes[k];
            assert_eq!(range.offset, fragment.offset);
            let first = &fragment.samples[0];
            let keyframe_end = (range.offset + range.length) as usize;
            assert!(segment.data[..keyframe_end].ends_with(&first.data), "the range ends with the keyframe");
            assert_eq!(&segment.data[range.offset as usize + 4..range.offset as usize + 8], b"moof");
            assert_eq!((range.pts as i128, range.duration), (first.presentation_time(7200), 90_000));
        }
    }
    assert!(pushed.next().is_none());

    // The crate's own reader sees every fragment of the concatenated file.
    let mut file = init.to_vec();
    segments.iter().for_each(|s| file.extend_from_slice(&s.data));
    let whole = mp4::Mp4Reader::read_header(Cursor::new(&file), file.len() as u64).unwrap();
    assert_eq!(whole.moofs.len(), 6);
    assert_eq!(whole.tracks()[&1].sample_count(), 150);
}

#[test]
fn audio_segments_fields() {
    // Frames of 1024 samples, one of them 512 (a gap the encoder filled), sizes varying.
    let mut dts = 0;
    let samples: Vec<Sample> = (0..200)
        .map(|n| {
            let duration = if n == 77 { 512 } else { 1024 };
            let sample =
                Sample { pts: dts, dts, duration, keyframe: true, data: Bytes::from(vec![n as u8; 100 + n % 7]) };
            dts += i64::from(duration);
            sample
        })
        .collect();
    let (init, segments) =
        common::package(&audio_track(), &samples, Duration::from_secs(1), SegmenterOptions::default());
    let read = read_all(&init, &segments);
    assert!(read.len() >= 4);
    let mut pushed = samples.iter();
    for (segment, read) in segments.iter().zip(&read) {
        assert_eq!(read.boxes, ["styp", "moof", "mdat"], "one fragment per audio segment");
        assert_eq!(read.compatible_brands, ["cmfs", "cmff", "msdh"]);
        let fragment = &read.fragments[0];
        assert_eq!(fragment.trun_version, 0, "no composition offsets to write");
        assert_eq!(segment.entry.start, fragment.base_media_decode_time);
        assert_eq!(segment.entry.keyframes.len(), 1);
        for sample in &fragment.samples {
            let pushed = pushed.next().unwrap();
            assert_eq!((sample.decode_time as i64, sample.composition_offset), (pushed.dts, 0));
            assert_eq!(sample.data, pushed.data);
            assert_eq!(sample.flags, 0x0200_0000);
        }
        // Segments start at the first frame no earlier than 10 ms before a whole second.
        let start = segment.entry.start as f64 / 44_100.0;
        assert!(start == 0.0 || start - start.round() >= -0.010, "starts at {start}");
    }
    assert!(pushed.next().is_none());
    let durations: Vec<u32> = read.iter().flat_map(|r| r.samples().map(|s| s.duration)).collect();
    assert_eq!(durations[77], 512);
    assert_eq!(durations.iter().map(|&d| u64::from(d)).sum::<u64>(), 199 * 1024 + 512);
}
