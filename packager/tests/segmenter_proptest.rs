//! Property tests: random sample sequences (sizes, durations, keyframe patterns, B-frame reorderings)
//! through the segmenter, read back with the mp4-crate reader (`common::reader`) and checked against a simple
//! model: same samples and timing out, contiguous decode times, fragments and segments that start on
//! keyframes, consecutive numbers, and cuts exactly where the cutting rule puts them.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::reader::{self, ReadFragment, ReadSample, ReadSegment};
use marquee_packager::segmenter::{Segmenter, SegmenterOptions};
use marquee_packager::{AudioTrack, Rational, Sample, Segment, Track, TrackMedia, VideoTrack};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Scenario {
    track: Track,
    target_ms: u64,
    sidx: bool,
    samples: Vec<Sample>,
}

fn track(video: bool, timescale: u32) -> Track {
    let media = if video {
        TrackMedia::Video(VideoTrack {
            width: 640,
            height: 360,
            sample_aspect_ratio: Rational::new(1, 1),
            frame_rate: Rational::new(0, 1),
            avc_config: Bytes::from_static(&[1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 2, 0x68, 0xce]),
        })
    } else {
        TrackMedia::Audio(AudioTrack {
            sample_rate: 48_000,
            channels: 2,
            audio_specific_config: Bytes::from_static(&[0x11, 0x90]),
            language: "und".into(),
        })
    };
    Track { track_id: 1, timescale, media }
}

fn timescale() -> impl Strategy<Value = u32> {
    prop_oneof![Just(90_000u32), Just(48_000), Just(1000), 1u32..=1_000_000]
}

fn data() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

/// Video in decode order. Frames are laid out in presentation order with random durations, then grouped:
/// the first frame alone (a keyframe), then groups of up to three B-frames followed by their anchor, which is
/// decoded first and is a keyframe at random (a keyframe with B-frames before it makes an open GOP). Decode
/// times are the sorted presentation times moved back just enough that none is after its presentation time.
fn video_samples() -> impl Strategy<Value = Vec<Sample>> {
    (1usize..120)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(0u32..4000, n),
                prop::collection::vec((0usize..=3, prop::bool::weighted(0.3)), n),
                prop::collection::vec(data(), n),
                0i64..100_000,
                0u32..5000,
            )
        })
        .prop_map(|(durations, groups, data, first_pts, last_duration)| {
            let n = durations.len();
            let later = durations.iter().scan(first_pts, |t, &d| {
                *t += i64::from(d);
                Some(*t)
            });
            let presentation: Vec<i64> = std::iter::once(first_pts).chain(later).take(n).collect();
            let mut order = vec![(0, true)];
            let mut next = 1;
            for (b_frames, keyframe) in groups {
                if next >= n {
                    break;
                }
                let anchor = (next + b_frames).min(n - 1);
                order.push((anchor, keyframe));
                order.extend((next..anchor).map(|b| (b, false)));
                next = anchor + 1;
            }
            let delay = (0..n).map(|i| presentation[i] - presentation[order[i].0]).max().unwrap().max(0);
            order
                .iter()
                .zip(data)
                .enumerate()
                .map(|(i, (&(shown, keyframe), data))| Sample {
                    pts: presentation[shown],
                    dts: presentation[i] - delay,
                    duration: if i + 1 == n { last_duration } else { 1 },
                    keyframe,
                    data,
                })
                .collect()
        })
}

/// Audio: every frame a sync sample, presented when decoded, mostly 1024 ticks long.
fn audio_samples() -> impl Strategy<Value = Vec<Sample>> {
    (prop::collection::vec((prop_oneof![3 => Just(1024u32), 1 => 0u32..3000], data()), 1..300), 0i64..100_000).prop_map(
        |(frames, first)| {
            let mut t = first;
            frames
                .into_iter()
                .map(|(duration, data)| {
                    let sample = Sample { pts: t, dts: t, duration, keyframe: true, data };
                    t += i64::from(duration);
                    sample
                })
                .collect()
        },
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let video = (timescale(), video_samples()).prop_map(|(ts, samples)| (track(true, ts), samples));
    let audio = (timescale(), audio_samples()).prop_map(|(ts, samples)| (track(false, ts), samples));
    (prop_oneof![video, audio], prop_oneof![1 => Just(0u64), 9 => 1u64..4000], any::<bool>())
        .prop_map(|((track, samples), target_ms, sidx)| Scenario { track, target_ms, sidx, samples })
}

fn options(scenario: &Scenario) -> SegmenterOptions {
    SegmenterOptions { sidx: scenario.sidx }
}

fn target(scenario: &Scenario) -> Duration {
    Duration::from_millis(scenario.target_ms)
}

/// The cutting rule, restated in units of 1/(1000 × timescale) s (ticks × 1000, milliseconds × timescale):
/// the indices of the samples that start a segment.
fn model_cuts(scenario: &Scenario) -> Vec<usize> {
    let timescale = i128::from(scenario.track.timescale);
    let period = i128::from(scenario.target_ms) * timescale;
    let tolerance = 10 * timescale;
    let time = |pts: i64| i128::from(pts) * 1000;
    let boundary_after = |pts: i64| (period > 0).then(|| ((time(pts) + tolerance).div_euclid(period) + 1) * period);
    let mut cuts = vec![0];
    let mut boundary = boundary_after(scenario.samples[0].pts);
    for (i, sample) in scenario.samples.iter().enumerate().skip(1) {
        let may_cut = sample.keyframe || !scenario.track.is_video();
        if may_cut && boundary.is_none_or(|b| time(sample.pts) >= b - tolerance) {
            cuts.push(i);
            boundary = boundary_after(sample.pts);
        }
    }
    cuts
}

/// Everything the output must satisfy for `scenario`, whose samples the segmenter all accepted.
fn check(scenario: &Scenario, init: &Bytes, segments: &[Segment]) -> Result<(), TestCaseError> {
    let samples = &scenario.samples;
    let video = scenario.track.is_video();
    let trex = reader::trex_defaults(init);
    let read: Vec<ReadSegment> = segments.iter().map(|s| reader::read_segment(&s.data, &trex)).collect();
    // The first sample's composition delay, never negative: decode times are shifted by it, composition
    // offsets are pts - dts, and the header's edit list takes the delay off again.
    let shift = (i128::from(samples[0].pts) - i128::from(samples[0].dts)).max(0);
    let edit = reader::edit_media_time(init);
    prop_assert_eq!(edit, shift, "the edit list's media time is the first sample's delay");

    // The same samples come out, with the CMAF timing.
    let out: Vec<&ReadSample> = read.iter().flat_map(ReadSegment::samples).collect();
    prop_assert_eq!(out.len(), samples.len());
    for (i, (out, sample)) in out.iter().zip(samples).enumerate() {
        prop_assert_eq!(&out.data[..], &sample.data[..], "sample {} data", i);
        prop_assert_eq!(out.keyframe(), sample.keyframe, "sample {} keyframe", i);
        prop_assert_eq!(i128::from(out.decode_time), i128::from(sample.dts) + shift, "sample {} decode time", i);
        prop_assert_eq!(
            i128::from(out.composition_offset),
            i128::from(sample.pts) - i128::from(sample.dts),
            "sample {} composition offset",
            i
        );
        prop_assert_eq!(out.presentation_time(edit), i128::from(sample.pts), "sample {} presentation time", i);
        let duration = samples.get(i + 1).map_or(i64::from(sample.duration), |next| next.dts - sample.dts);
        prop_assert_eq!(i64::from(out.duration), duration, "sample {} duration", i);
    }
    let last = samples.last().unwrap();
    let total: u64 = segments.iter().map(|s| s.entry.duration).sum();
    prop_assert_eq!(i128::from(total), i128::from(last.dts) - i128::from(samples[0].dts) + i128::from(last.duration));

    // Fragments: numbered from 1 across the track, decode times contiguous, video cut at every keyframe.
    let fragments: Vec<&ReadFragment> = read.iter().flat_map(|r| &r.fragments).collect();
    for (k, fragment) in fragments.iter().enumerate() {
        prop_assert_eq!(fragment.sequence_number as usize, k + 1);
        prop_assert_eq!(fragment.track_id, 1);
        prop_assert!(!fragment.samples.is_empty());
        if let Some(next) = fragments.get(k + 1) {
            let end =
                fragment.base_media_decode_time + fragment.samples.iter().map(|s| u64::from(s.duration)).sum::<u64>();
            prop_assert_eq!(next.base_media_decode_time, end, "fragment {} ends where the next starts", k);
        }
        if video {
            prop_assert!(fragment.samples[0].keyframe(), "fragment {} starts with a keyframe", k);
            prop_assert!(fragment.samples[1..].iter().all(|s| !s.keyframe()), "one keyframe per fragment");
        }
        if fragment.samples.iter().any(|s| s.composition_offset != 0) {
            prop_assert_eq!(fragment.trun_version, 1);
        }
    }

    // Segments: numbered from 1, contiguous, described by their entries.
    let mut first_sample = 0;
    let mut starts = Vec::new();
    for (k, (segment, read)) in segments.iter().zip(&read).enumerate() {
        let entry = &segment.entry;
        prop_assert_eq!(entry.number as usize, k + 1);
        prop_assert_eq!(entry.size, segment.data.len() as u64);
        prop_assert_eq!(entry.start, read.fragments[0].base_media_decode_time);
        prop_assert_eq!(entry.duration, read.samples().map(|s| u64::from(s.duration)).sum::<u64>());
        if let Some(next) = segments.get(k + 1) {
            prop_assert_eq!(next.entry.start, entry.start + entry.duration);
        }
        if !video {
            prop_assert_eq!(read.fragments.len(), 1, "one fragment per audio segment");
        }
        prop_assert_eq!(read.compatible_brands.contains(&"cmff".to_owned()), read.fragments.len() == 1);
        prop_assert_eq!(read.compatible_brands.contains(&"msix".to_owned()), scenario.sidx);

        prop_assert_eq!(entry.keyframes.len(), read.fragments.len());
        for (range, fragment) in entry.keyframes.iter().zip(&read.fragments) {
            let first = &fragment.samples[0];
            prop_assert_eq!(range.offset, fragment.offset);
            let bytes = &segment.data[range.offset as usize..(range.offset + range.length) as usize];
            prop_assert_eq!(&bytes[4..8], b"moof");
            prop_assert!(bytes.ends_with(&first.data));
            prop_assert!(range.length <= fragment.len);
            prop_assert_eq!(i128::from(range.pts), first.presentation_time(edit));
            prop_assert_eq!(range.duration, fragment.samples.iter().map(|s| u64::from(s.duration)).sum::<u64>());
        }

        match &read.sidx {
            Some(sidx) => {
                prop_assert!(scenario.sidx);
                prop_assert_eq!(
                    (sidx.reference_id, sidx.timescale, sidx.first_offset),
                    (1, scenario.track.timescale, 0)
                );
                let earliest = read.fragments[0].samples.iter().map(|s| s.presentation_time(edit)).min().unwrap();
                prop_assert_eq!(i128::from(sidx.earliest_presentation_time), earliest);
                prop_assert_eq!(sidx.references.len(), read.fragments.len());
                for (reference, fragment) in sidx.references.iter().zip(&read.fragments) {
                    prop_assert_eq!(u64::from(reference.referenced_size), fragment.len);
                    let duration: u64 = fragment.samples.iter().map(|s| u64::from(s.duration)).sum();
                    prop_assert_eq!(u64::from(reference.subsegment_duration), duration);
                    prop_assert_eq!(reference.starts_with_sap, fragment.samples[0].keyframe());
                    // Type 1 when the keyframe is presented first; 3 (open GOP) when samples decoded after it
                    // are presented before it.
                    let first_shown = fragment.samples[0].presentation_time(edit);
                    let shown_first = fragment.samples.iter().all(|s| s.presentation_time(edit) >= first_shown);
                    let sap_type = match (reference.starts_with_sap, shown_first) {
                        (false, _) => 0,
                        (true, true) => 1,
                        (true, false) => 3,
                    };
                    prop_assert_eq!(reference.sap_type, sap_type);
                    prop_assert_eq!(reference.sap_delta_time, 0);
                }
            }
            None => prop_assert!(!scenario.sidx),
        }
        starts.push(first_sample);
        first_sample += read.samples().count();
    }
    prop_assert_eq!(starts, model_cuts(scenario));
    Ok(())
}

proptest! {
    #[test]
    fn segments_hold_exactly_the_pushed_samples(scenario in scenario()) {
        let (init, segments) = common::package(&scenario.track, &scenario.samples, target(&scenario), options(&scenario));
        check(&scenario, &init, &segments)?;
    }

    /// Anything at all: never a panic; refused samples leave no trace, so what comes out is exactly the
    /// accepted samples, with every property above.
    #[test]
    fn any_input_is_accepted_or_refused_without_a_trace(
        video in any::<bool>(),
        timescale in timescale(),
        target_ms in 0u64..3000,
        sidx in any::<bool>(),
        first_dts in prop_oneof![-1000i64..1000, any::<i64>()],
        steps in prop::collection::vec(
            (
                prop_oneof![8 => 0i64..5000, 1 => -100i64..0, 1 => any::<i64>()],
                prop_oneof![8 => 0i64..10_000, 1 => -10_000i64..0, 1 => any::<i64>()],
                prop::bool::weighted(0.3),
                any::<u32>(),
                data(),
            ),
            1..60,
        ),
    ) {
        let track = track(video, timescale);
        let options = SegmenterOptions { sidx };
        let mut segmenter = Segmenter::new(track.clone(), Duration::from_millis(target_ms), options);
        let mut dts = first_dts;
        let mut accepted = Vec::new();
        let mut segments = Vec::new();
        for (dts_step, pts_offset, keyframe, duration, data) in steps {
            let sample = Sample { pts: dts.saturating_add(pts_offset), dts, duration, keyframe, data };
            if let Ok(segment) = segmenter.push(sample.clone()) {
                segments.extend(segment);
                accepted.push(sample);
            }
            // Step from the last accepted decode time, so later samples have a chance to be accepted.
            dts = accepted.last().map_or(first_dts, |s: &Sample| s.dts).saturating_add(dts_step);
        }
        if let Ok(last) = segmenter.finish() {
            segments.extend(last);
            if !accepted.is_empty() {
                let scenario = Scenario { track, target_ms, sidx, samples: accepted };
                let init = segmenter.init_segment();
                prop_assert!(init.is_some(), "a header once a sample is in");
                check(&scenario, &init.unwrap_or_default(), &segments)?;
            } else {
                prop_assert!(segments.is_empty());
            }
        }
    }
}

#[test]
fn the_generators_produce_what_they_claim() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut reordered = 0;
    let mut open_gops = 0;
    for _ in 0..200 {
        let samples = video_samples().new_tree(&mut runner).unwrap().current();
        assert!(samples[0].keyframe);
        assert!(samples.windows(2).all(|w| w[0].dts <= w[1].dts), "decode order");
        assert!(samples.iter().all(|s| s.dts <= s.pts));
        let mut shown: Vec<i64> = samples.iter().map(|s| s.pts).collect();
        reordered += usize::from(shown.windows(2).any(|w| w[1] < w[0]));
        open_gops += usize::from(samples.windows(2).any(|w| w[0].keyframe && w[1].pts < w[0].pts));
        shown.sort();
        assert!(shown.windows(2).all(|w| w[0] <= w[1]));
    }
    assert!(reordered > 100, "most sequences have B-frames ({reordered})");
    assert!(open_gops > 10, "some have open GOPs ({open_gops})");
}
