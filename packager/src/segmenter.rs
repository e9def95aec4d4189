//! Cuts a track's samples into CMAF fragments and segments on keyframes at a target duration.
//!
//! # Timing
//! For each track, the composition delay `delay = pts - dts` of the first sample (0 if that is negative) is
//! the reorder delay of video with B-frames and 0 otherwise. The decode time written for a sample is
//! `dts + delay`, so the first sample is decoded at the time it is presented (normally 0) and `tfdt` is the
//! written decode time of a fragment's first sample. The composition offset written is `pts - dts`, never
//! negative for a decodable stream, so composition times are `pts + delay`; a track with a delay gets an
//! edit list in its header ([`init_segment`](Segmenter::init_segment)) whose media time is `delay`, so
//! presentation times are exactly the samples' `pts` and every track of a presentation keeps the offsets
//! between them that the samples had.
//!
//! Why an edit list and not signed (`trun` version 1) offsets with the first composition time equal to the
//! first decode time, which needs none: ISO/IEC 14496-12 8.6.6 recommends this edit to present the first
//! sample at 0 when composition offsets are used, MSE requires browsers to honour it, and both are read
//! alike by Chromium and GStreamer's qtdemux. ffmpeg's mov demuxer (5.1) however adds the largest negative
//! offset to every presentation time of a track without an edit list, so B-frame video came out that many
//! frames after its audio there (and in every player built on it). With the edit list, ffmpeg reports the
//! samples' own `pts` and `dts`.
//!
//! A sample's duration is the distance to the next sample's `dts`; the last sample of the track keeps its
//! own.
//!
//! # Cutting
//! Deterministic, so that every rung of a ladder, whose keyframes the transcoder forces at the same
//! presentation times, cuts at the same instants. Boundaries are the whole multiples of the target duration.
//! A sample starts a new segment when it may (video: a keyframe; audio: any sample) and its `pts` is no
//! earlier than [`CUT_TOLERANCE`] before the next boundary. The next boundary is then the first multiple
//! after `pts + CUT_TOLERANCE`: a long GOP skips boundaries instead of leaving empty segments, and a
//! keyframe that cut a little early consumes the boundary it was early for. Times are compared exactly (ticks
//! × 10⁹ against nanoseconds × timescale), so rungs with different timescales agree too.
//!
//! Within a segment, video starts a fragment (`moof` + `mdat`) at every keyframe; audio has one fragment per
//! segment.
//!
//! Because a duration needs the next sample, the segmenter holds one sample back: [`Segmenter::push`]
//! returns a segment when the pushed sample starts the next one, and [`Segmenter::finish`] flushes the rest.

use std::time::Duration;

use bytes::Bytes;

use crate::cmaf::{self, fit, Fragment, FragmentSample};
use crate::presentation::{KeyframeRange, Sample, Segment, SegmentEntry, Track, FIRST_SEGMENT_NUMBER};
use crate::PackagerError;

/// Segments carry no `sidx` unless asked: HLS does not use it and DASH `SegmentTemplate` does not need it.
pub const DEFAULT_SIDX: bool = false;
/// A sample this close before a boundary still starts the segment of that boundary, so that frame times
/// rounded to the timescale do not push a cut a whole GOP later.
pub const CUT_TOLERANCE: Duration = Duration::from_millis(10);

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// How segments are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmenterOptions {
    /// Start every segment with a `sidx` indexing its fragments.
    pub sidx: bool,
}

impl Default for SegmenterOptions {
    fn default() -> Self {
        Self { sidx: DEFAULT_SIDX }
    }
}

/// Where a segmenter is in its track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmenterPhase {
    AwaitingFirstSample,
    Segmenting,
    Finished,
}

impl SegmenterPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingFirstSample => "awaiting_first_sample",
            Self::Segmenting => "segmenting",
            Self::Finished => "finished",
        }
    }
}

/// Turns one track's samples, in decode order, into an init segment and numbered media segments.
#[derive(Debug)]
pub struct Segmenter {
    track: Track,
    options: SegmenterOptions,
    /// Whether the track can be written as a CMAF header; when not, every push reports why.
    describable: bool,
    /// The CMAF header, made when the first sample is taken in: its edit list depends on that sample.
    header: Option<Bytes>,
    boundaries: Boundaries,
    /// `pts - dts` of the first sample, at least 0 (see the module's timing notes).
    composition_delay: u64,
    /// The last sample pushed, waiting for the next one to know its duration.
    pending: Option<Pending>,
    /// The fragments of the segment being built.
    fragments: Vec<Fragment>,
    /// Scaled time (see [`Boundaries`]) of the next boundary.
    next_boundary: i128,
    next_sequence_number: u64,
    next_segment_number: u64,
    finished: bool,
}

#[derive(Debug)]
struct Pending {
    dts: i64,
    decode_time: u64,
    /// With the sample's own duration, which is kept only if it turns out to be the last.
    sample: FragmentSample,
}

/// A sample checked against the track so far, not yet taken in.
struct Admitted {
    composition_delay: u64,
    /// The CMAF header, when this is the first sample.
    header: Option<Bytes>,
    /// Duration of the pending sample, from this one's `dts`.
    pending_duration: Option<u32>,
    pending: Pending,
}

impl Segmenter {
    /// A segmenter for `track`. For a track that cannot be written as a CMAF header every
    /// [`push`](Self::push) returns the reason; use [`try_new`](Self::try_new) to learn it up front.
    pub fn new(track: Track, target_duration: Duration, options: SegmenterOptions) -> Self {
        let describable = cmaf::init_segment(&track, 0).is_ok();
        let boundaries = Boundaries::new(target_duration, track.timescale);
        Self {
            track,
            options,
            describable,
            header: None,
            boundaries,
            composition_delay: 0,
            pending: None,
            fragments: Vec::new(),
            next_boundary: 0,
            next_sequence_number: 1,
            next_segment_number: u64::from(FIRST_SEGMENT_NUMBER),
            finished: false,
        }
    }

    /// Like [`new`](Self::new), but fails when the track cannot be written as a CMAF header.
    pub fn try_new(track: Track, target_duration: Duration, options: SegmenterOptions) -> Result<Self, PackagerError> {
        cmaf::init_segment(&track, 0)?;
        Ok(Self::new(track, target_duration, options))
    }

    pub fn track(&self) -> &Track {
        &self.track
    }

    pub fn phase(&self) -> SegmenterPhase {
        if self.finished {
            SegmenterPhase::Finished
        } else if self.pending.is_none() {
            SegmenterPhase::AwaitingFirstSample
        } else {
            SegmenterPhase::Segmenting
        }
    }

    /// The CMAF header (`init.mp4`), known once the first sample is taken in: a track whose first sample is
    /// presented after it is decoded (video with B-frames) gets an edit list for that delay. `None` before
    /// the first sample, and for a track that cannot be described.
    pub fn init_segment(&self) -> Option<Bytes> {
        self.header.clone()
    }

    /// Takes the next sample in decode order. Returns the finished segment when this sample starts a new
    /// one. On error nothing was taken in: the segmenter is as it was before the call.
    pub fn push(&mut self, sample: Sample) -> Result<Option<Segment>, PackagerError> {
        if self.finished {
            return Err(PackagerError::SegmenterFinished { track_id: self.track.track_id });
        }
        self.check_track()?;
        let admitted = self.admit(&sample)?;
        let first = self.pending.is_none();
        let starts_segment =
            !first && self.may_start_segment(&sample) && self.boundaries.reached(sample.pts, self.next_boundary);

        let mut finished_segment = None;
        let completed =
            self.pending.as_ref().zip(admitted.pending_duration).map(|(pending, duration)| {
                (FragmentSample { duration, ..pending.sample.clone() }, pending.decode_time)
            });
        if let Some((sample, decode_time)) = completed {
            let opened = self.append(sample, decode_time)?;
            if starts_segment {
                match self.encode_segment() {
                    Ok(segment) => finished_segment = Some(segment),
                    Err(error) => {
                        self.undo_append(opened);
                        return Err(error);
                    }
                }
                self.start_next_segment();
            }
        }

        if first || starts_segment {
            self.next_boundary = self.boundaries.after(sample.pts);
        }
        self.composition_delay = admitted.composition_delay;
        if let Some(header) = admitted.header {
            self.header = Some(header);
        }
        self.pending = Some(admitted.pending);
        Ok(finished_segment)
    }

    /// Flushes the last segment, its last sample keeping its own duration. Later pushes are refused; a second
    /// call returns `None`. On error the segmenter is as it was before the call.
    pub fn finish(&mut self) -> Result<Option<Segment>, PackagerError> {
        if self.finished {
            return Ok(None);
        }
        self.check_track()?;
        let Some((sample, decode_time)) = self.pending.as_ref().map(|p| (p.sample.clone(), p.decode_time)) else {
            self.finished = true;
            return Ok(None);
        };
        let opened = self.append(sample, decode_time)?;
        let segment = match self.encode_segment() {
            Ok(segment) => segment,
            Err(error) => {
                self.undo_append(opened);
                return Err(error);
            }
        };
        self.start_next_segment();
        self.pending = None;
        self.finished = true;
        Ok(Some(segment))
    }

    fn check_track(&self) -> Result<(), PackagerError> {
        if self.describable {
            Ok(())
        } else {
            cmaf::init_segment(&self.track, 0).map(drop)
        }
    }

    /// Checks `sample` against the samples before it and works out how it will be written.
    fn admit(&self, sample: &Sample) -> Result<Admitted, PackagerError> {
        let track_id = self.track.track_id;
        let (composition_delay, header, pending_duration) = match &self.pending {
            None => {
                if self.track.is_video() && !sample.keyframe {
                    return Err(PackagerError::FirstSampleNotKeyframe { track_id });
                }
                let delay =
                    fit(track_id, "composition delay", (i128::from(sample.pts) - i128::from(sample.dts)).max(0))?;
                (delay, Some(cmaf::init_segment(&self.track, delay)?), None)
            }
            Some(previous) => {
                if sample.dts < previous.dts {
                    return Err(PackagerError::NonMonotonicDecodeTime {
                        track_id,
                        previous: previous.dts,
                        next: sample.dts,
                    });
                }
                let duration = fit(track_id, "sample duration", i128::from(sample.dts) - i128::from(previous.dts))?;
                (self.composition_delay, None, Some(duration))
            }
        };
        let decode_time = fit(track_id, "decode time", i128::from(sample.dts) + i128::from(composition_delay))?;
        let composition_offset = fit(track_id, "composition offset", i128::from(sample.pts) - i128::from(sample.dts))?;
        let _: u32 = fit(track_id, "sample size", sample.data.len() as u64)?;
        Ok(Admitted {
            composition_delay,
            header,
            pending_duration,
            pending: Pending {
                dts: sample.dts,
                decode_time,
                sample: FragmentSample {
                    duration: sample.duration,
                    composition_offset,
                    keyframe: sample.keyframe,
                    data: sample.data.clone(),
                },
            },
        })
    }

    fn may_start_segment(&self, sample: &Sample) -> bool {
        sample.keyframe || !self.track.is_video()
    }

    /// Adds a sample to the segment being built, opening a fragment for it when it is the segment's first or
    /// a video keyframe. Returns whether it opened one; on error nothing changed.
    fn append(&mut self, sample: FragmentSample, decode_time: u64) -> Result<bool, PackagerError> {
        let opens_fragment = sample.keyframe && self.track.is_video();
        match self.fragments.last_mut() {
            Some(fragment) if !opens_fragment => {
                fragment.samples.push(sample);
                Ok(false)
            }
            _ => {
                let sequence_number = fit(self.track.track_id, "fragment sequence number", self.next_sequence_number)?;
                self.fragments.push(Fragment {
                    sequence_number,
                    base_media_decode_time: decode_time,
                    samples: vec![sample],
                });
                self.next_sequence_number += 1;
                Ok(true)
            }
        }
    }

    fn undo_append(&mut self, opened_fragment: bool) {
        if opened_fragment {
            self.fragments.pop();
            self.next_sequence_number -= 1;
        } else if let Some(fragment) = self.fragments.last_mut() {
            fragment.samples.pop();
        }
    }

    fn start_next_segment(&mut self) {
        self.fragments.clear();
        self.next_segment_number += 1;
    }

    /// Encodes the segment being built, without changing any state.
    fn encode_segment(&self) -> Result<Segment, PackagerError> {
        let track_id = self.track.track_id;
        let number = fit(track_id, "segment number", self.next_segment_number)?;
        let media = cmaf::media_segment(
            track_id,
            self.track.timescale,
            &self.fragments,
            self.options.sidx,
            self.composition_delay,
        )?;
        let keyframes = self
            .fragments
            .iter()
            .zip(&media.fragments)
            .map(|(fragment, location)| {
                let first_len = fragment.samples.first().map_or(0, |s| s.data.len() as u64);
                let composition =
                    fragment.composition_times().next().unwrap_or(i128::from(fragment.base_media_decode_time));
                let pts = composition - i128::from(self.composition_delay);
                Ok(KeyframeRange {
                    offset: location.offset,
                    length: location.moof_len + location.mdat_header_len + first_len,
                    pts: fit(track_id, "keyframe presentation time", pts)?,
                    duration: fragment.duration(),
                })
            })
            .collect::<Result<Vec<_>, PackagerError>>()?;
        let entry = SegmentEntry {
            number,
            start: self.fragments.first().map_or(0, |f| f.base_media_decode_time),
            duration: self.fragments.iter().map(Fragment::duration).sum(),
            size: media.data.len() as u64,
            keyframes,
        };
        Ok(Segment { entry, data: media.data })
    }
}

/// Segment boundaries in exact arithmetic: a time of `t` ticks is `t × 10⁹`, a duration of `d` nanoseconds
/// is `d × timescale`, both in units of 1/(10⁹ × timescale) seconds.
#[derive(Debug, Clone, Copy)]
struct Boundaries {
    /// Target duration; 0 makes every sample that may start a segment start one.
    period: i128,
    tolerance: i128,
}

impl Boundaries {
    fn new(target: Duration, timescale: u32) -> Self {
        let scale =
            |d: Duration| i128::try_from(d.as_nanos()).ok().and_then(|ns| ns.checked_mul(i128::from(timescale)));
        Self { period: scale(target).unwrap_or(i128::MAX), tolerance: scale(CUT_TOLERANCE).unwrap_or(0) }
    }

    fn scaled(pts: i64) -> i128 {
        i128::from(pts) * NANOS_PER_SECOND
    }

    /// Whether a sample at `pts` is at or past `boundary`, give or take the tolerance.
    fn reached(&self, pts: i64, boundary: i128) -> bool {
        Self::scaled(pts) >= boundary.saturating_sub(self.tolerance)
    }

    /// The first boundary after `pts` plus the tolerance.
    fn after(&self, pts: i64) -> i128 {
        if self.period == 0 {
            return i128::MIN;
        }
        let index = (Self::scaled(pts) + self.tolerance).div_euclid(self.period) + 1;
        index.checked_mul(self.period).unwrap_or(i128::MAX)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::presentation::{AudioTrack, Rational, TrackMedia, VideoTrack};

    /// 1 kHz timescale: ticks are milliseconds.
    fn video_track() -> Track {
        let avc_config =
            Bytes::from_static(&[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xeb]);
        Track {
            track_id: 1,
            timescale: 1000,
            media: TrackMedia::Video(VideoTrack {
                width: 320,
                height: 240,
                sample_aspect_ratio: Rational::new(1, 1),
                frame_rate: Rational::new(25, 1),
                avc_config,
            }),
        }
    }

    fn audio_track() -> Track {
        Track {
            track_id: 2,
            timescale: 1000,
            media: TrackMedia::Audio(AudioTrack {
                sample_rate: 48_000,
                channels: 2,
                audio_specific_config: Bytes::from_static(&[0x11, 0x90]),
                language: "und".into(),
            }),
        }
    }

    fn sample(pts: i64, dts: i64, keyframe: bool) -> Sample {
        Sample { pts, dts, duration: 40, keyframe, data: Bytes::from(format!("{pts}/{dts}").into_bytes()) }
    }

    fn segmenter(track: Track, target_ms: u64) -> Segmenter {
        Segmenter::try_new(track, Duration::from_millis(target_ms), SegmenterOptions::default()).unwrap()
    }

    /// Pushes every sample, then finishes; returns the segments.
    fn run(segmenter: &mut Segmenter, samples: impl IntoIterator<Item = Sample>) -> Vec<Segment> {
        let mut segments = Vec::new();
        for sample in samples {
            segments.extend(segmenter.push(sample).unwrap());
        }
        segments.extend(segmenter.finish().unwrap());
        segments
    }

    /// 25 fps, no B-frames, a keyframe at each of `keyframes` (ms), frames until `end` ms.
    fn frames(keyframes: &[i64], end: i64) -> Vec<Sample> {
        (0..end).step_by(40).map(|t| sample(t, t, keyframes.contains(&t))).collect()
    }

    fn starts(segments: &[Segment]) -> Vec<(u32, u64, u64)> {
        segments.iter().map(|s| (s.entry.number, s.entry.start, s.entry.duration)).collect()
    }

    #[test]
    fn cuts_on_keyframes_at_each_boundary() {
        let mut segmenter = segmenter(video_track(), 2000);
        let segments = run(&mut segmenter, frames(&[0, 1000, 2000, 3000, 4000, 5000], 6000));
        assert_eq!(starts(&segments), [(1, 0, 2000), (2, 2000, 2000), (3, 4000, 2000)]);
        // A fragment per keyframe: two per segment.
        for segment in &segments {
            let pts: Vec<u64> = segment.entry.keyframes.iter().map(|k| k.pts).collect();
            assert_eq!(pts, [segment.entry.start, segment.entry.start + 1000]);
            assert!(segment.entry.keyframes.iter().all(|k| k.duration == 1000));
        }
    }

    #[test]
    fn a_long_gop_skips_boundaries_instead_of_leaving_empty_segments() {
        let mut segmenter = segmenter(video_track(), 2000);
        let segments = run(&mut segmenter, frames(&[0, 3000, 4480, 7000], 8000));
        // 3000 passes boundary 2000 (next: 4000); 4480 passes 4000 (next: 6000); 7000 passes 6000.
        assert_eq!(starts(&segments), [(1, 0, 3000), (2, 3000, 1480), (3, 4480, 2520), (4, 7000, 1000)]);
    }

    #[test]
    fn a_keyframe_within_the_tolerance_cuts_and_consumes_its_boundary() {
        let mut segmenter = segmenter(video_track(), 2000);
        // 1990 is 10 ms early for 2000: it cuts, and the next boundary is 4000, not 2000 again, so the
        // keyframe at 2990 does not cut a 1-second segment.
        let mut samples = frames(&[0], 1990);
        samples.extend((1990..6000).step_by(40).map(|t| sample(t, t, (t - 1990) % 1000 == 0)));
        let segments = run(&mut segmenter, samples);
        assert_eq!(starts(&segments), [(1, 0, 1990), (2, 1990, 2000), (3, 3990, 2000), (4, 5990, 40)]);
    }

    #[test]
    fn a_keyframe_just_outside_the_tolerance_waits_for_the_next() {
        let mut segmenter = segmenter(video_track(), 2000);
        let mut samples = frames(&[0], 1989);
        samples.extend((1989..4000).step_by(40).map(|t| sample(t, t, t == 1989 || t == 2989)));
        let segments = run(&mut segmenter, samples);
        assert_eq!(starts(&segments).iter().map(|s| s.1).collect::<Vec<_>>(), [0, 2989]);
    }

    #[test]
    fn rungs_with_different_timescales_cut_at_the_same_instants() {
        // 30000/1001 fps: frame n at n × 3003 ticks of 90 kHz, or n × 1001 ticks of 30 kHz.
        let cut_times = |timescale: u32, frame_ticks: i64| {
            let mut track = video_track();
            track.timescale = timescale;
            let mut segmenter = segmenter(track, 2000);
            let samples = (0..300).map(|n| sample(n * frame_ticks, n * frame_ticks, n % 15 == 0));
            run(&mut segmenter, samples).iter().map(|s| s.entry.start as f64 / f64::from(timescale)).collect::<Vec<_>>()
        };
        let at_90k = cut_times(90_000, 3003);
        assert_eq!(at_90k, cut_times(30_000, 1001));
        assert_eq!(at_90k.len(), 5);
    }

    #[test]
    fn audio_cuts_on_any_sample_and_keeps_one_fragment_per_segment() {
        let mut segmenter = segmenter(audio_track(), 1000);
        // AAC at 48 kHz in ms ticks: 21 or 22 ms frames.
        let pts: Vec<i64> = (0..150).map(|n| n * 1024 * 1000 / 48_000).collect();
        let samples = pts.iter().map(|&t| sample(t, t, true));
        let segments = run(&mut segmenter, samples);
        let expected_starts: Vec<u64> =
            [0, 1000, 2000, 3000].iter().map(|&b| *pts.iter().find(|&&t| t >= b - 10).unwrap() as u64).collect();
        assert_eq!(starts(&segments).iter().map(|s| s.1).collect::<Vec<_>>(), expected_starts);
        assert!(segments.iter().all(|s| s.entry.keyframes.len() == 1));
    }

    #[test]
    fn the_pushed_sample_that_starts_a_segment_is_held_back_for_the_next() {
        let mut segmenter = segmenter(video_track(), 1000);
        assert_eq!(segmenter.phase(), SegmenterPhase::AwaitingFirstSample);
        for t in (0..1000).step_by(40) {
            assert!(segmenter.push(sample(t, t, t == 0)).unwrap().is_none());
        }
        assert_eq!(segmenter.phase(), SegmenterPhase::Segmenting);
        let segment = segmenter.push(sample(1000, 1000, true)).unwrap().expect("the keyframe at 1000 cuts");
        assert_eq!((segment.entry.start, segment.entry.duration), (0, 1000));
        let last = segmenter.finish().unwrap().expect("the keyframe at 1000 is flushed");
        assert_eq!((last.entry.number, last.entry.start, last.entry.duration), (2, 1000, 40));
        assert_eq!(segmenter.phase(), SegmenterPhase::Finished);
        assert_eq!(segmenter.phase().as_str(), "finished");
        assert!(segmenter.finish().unwrap().is_none());
    }

    #[test]
    fn the_last_sample_keeps_its_own_duration_and_others_reach_the_next_dts() {
        let mut segmenter = segmenter(video_track(), 10_000);
        let samples = vec![
            Sample { duration: 999, ..sample(0, 0, true) },
            Sample { duration: 999, ..sample(33, 33, false) },
            Sample { duration: 17, ..sample(100, 100, false) },
        ];
        let segments = run(&mut segmenter, samples);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].entry.duration, 33 + 67 + 17);
        assert_eq!(segments[0].entry.keyframes[0].duration, 117);
    }

    #[test]
    fn b_frames_are_decoded_from_their_presentation_time_and_delayed_by_an_edit_list() {
        // I P B B in decode order, dts from -80, presentation 0 120 40 80.
        let samples = vec![sample(0, -80, true), sample(120, -40, false), sample(40, 0, false), sample(80, 40, false)];
        let mut segmenter = segmenter(video_track(), 10_000);
        assert_eq!(segmenter.init_segment(), None, "the header waits for the first sample");
        let segments = run(&mut segmenter, samples);
        let entry = &segments[0].entry;
        assert_eq!((entry.start, entry.duration), (0, 160));
        assert_eq!(entry.keyframes[0].pts, 0);
        // Decode times written: 0 40 80 120; composition offsets pts - dts: 80 160 40 40, so composition
        // times 80 200 120 160, and the edit list takes the 80 off again.
        let data = &segments[0].data[entry.keyframes[0].offset as usize..];
        let moof_len = mp4::BoxHeader::read(&mut &data[..]).unwrap().size as usize;
        let moof = crate::cmaf::fixtures::read_with_mp4(&data[..moof_len], mp4::MoofBox::default());
        let traf = &moof.trafs[0];
        assert_eq!(traf.tfdt.as_ref().unwrap().base_media_decode_time, 0);
        let trun = traf.trun.as_ref().unwrap();
        assert_eq!(trun.sample_cts, [80, 160, 40, 40]);
        let init = segmenter.init_segment().expect("a header after the first sample");
        let reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(&init[..]), init.len() as u64).unwrap();
        let edit = &reader.moov.traks[0].edts.as_ref().expect("an edit list").elst.as_ref().unwrap().entries[0];
        assert_eq!((edit.segment_duration, edit.media_time), (0, 80));
    }

    #[test]
    fn samples_presented_as_decoded_need_no_edit_list() {
        let mut segmenter = segmenter(video_track(), 10_000);
        run(&mut segmenter, frames(&[0], 200));
        let init = segmenter.init_segment().unwrap();
        let reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(&init[..]), init.len() as u64).unwrap();
        assert!(reader.moov.traks[0].edts.is_none());
    }

    #[test]
    fn a_first_sample_decoded_after_its_presentation_gets_no_negative_edit() {
        // dts after pts is not what encoders make; it is written with a negative offset, not a negative edit.
        let mut segmenter = segmenter(video_track(), 10_000);
        let segments = run(&mut segmenter, [sample(0, 10, true), sample(50, 50, false)]);
        let init = segmenter.init_segment().unwrap();
        let reader = mp4::Mp4Reader::read_header(std::io::Cursor::new(&init[..]), init.len() as u64).unwrap();
        assert!(reader.moov.traks[0].edts.is_none());
        assert_eq!((segments[0].entry.start, segments[0].entry.keyframes[0].pts), (10, 0));
    }

    #[test]
    fn keyframe_ranges_cover_moof_through_the_first_sample() {
        let mut segmenter = Segmenter::new(video_track(), Duration::from_secs(4), SegmenterOptions { sidx: true });
        let segments = run(&mut segmenter, frames(&[0, 1000, 2000], 3000));
        let segment = &segments[0];
        assert_eq!(segment.entry.size, segment.data.len() as u64);
        assert_eq!(segment.entry.keyframes.len(), 3);
        for (range, pts) in segment.entry.keyframes.iter().zip([0, 1000, 2000]) {
            let bytes = &segment.data[range.offset as usize..(range.offset + range.length) as usize];
            assert_eq!(&bytes[4..8], b"moof");
            let keyframe = format!("{pts}/{pts}");
            assert!(bytes.ends_with(keyframe.as_bytes()), "ends with the keyframe's data");
            assert_eq!((range.pts, range.duration), (pts as u64, 1000));
        }
    }

    #[test]
    fn a_zero_target_cuts_at_every_keyframe() {
        let mut segmenter = segmenter(video_track(), 0);
        let segments = run(&mut segmenter, frames(&[0, 400, 440, 2000], 2400));
        assert_eq!(starts(&segments).iter().map(|s| s.1).collect::<Vec<_>>(), [0, 400, 440, 2000]);
    }

    #[test]
    fn refused_samples_leave_the_segmenter_as_it_was() {
        let mut segmenter = segmenter(video_track(), 1000);
        let error = segmenter.push(sample(0, 0, false)).unwrap_err();
        assert!(matches!(error, PackagerError::FirstSampleNotKeyframe { track_id: 1 }), "{error}");
        assert_eq!(segmenter.phase(), SegmenterPhase::AwaitingFirstSample);

        segmenter.push(sample(0, 0, true)).unwrap();
        segmenter.push(sample(40, 40, false)).unwrap();
        let error = segmenter.push(sample(0, 39, false)).unwrap_err();
        assert!(
            matches!(error, PackagerError::NonMonotonicDecodeTime { track_id: 1, previous: 40, next: 39 }),
            "{error}"
        );
        let error = segmenter.push(sample(i64::MAX, 40 + (1 << 32), false)).unwrap_err();
        assert!(matches!(error, PackagerError::FieldOverflow { what: "sample duration", .. }), "{error}");
        let error = segmenter.push(sample(80 + (1 << 31), 80, false)).unwrap_err();
        assert!(matches!(error, PackagerError::FieldOverflow { what: "composition offset", .. }), "{error}");

        let segments = run(&mut segmenter, [sample(80, 80, false)]);
        assert_eq!(starts(&segments), [(1, 0, 120)]);
        let error = segmenter.push(sample(120, 120, true)).unwrap_err();
        assert!(matches!(error, PackagerError::SegmenterFinished { track_id: 1 }), "{error}");
    }

    #[test]
    fn a_decode_time_before_zero_is_refused() {
        let mut segmenter = segmenter(video_track(), 1000);
        let error = segmenter.push(sample(-1, -1, true)).unwrap_err();
        assert!(matches!(error, PackagerError::FieldOverflow { what: "decode time", value: -1, .. }), "{error}");
    }

    #[test]
    fn a_segment_that_cannot_be_written_is_refused_and_kept() {
        // With a sidx, a fragment lasting more than u32::MAX ticks cannot be indexed.
        let mut segmenter = Segmenter::new(video_track(), Duration::from_secs(1), SegmenterOptions { sidx: true });
        let half = 3_000_000_000;
        segmenter.push(sample(0, 0, true)).unwrap();
        segmenter.push(sample(half, half, false)).unwrap();
        segmenter.push(sample(2 * half, 2 * half, false)).unwrap();
        let error = segmenter.push(sample(3 * half, 3 * half, true)).unwrap_err();
        assert!(matches!(error, PackagerError::FieldOverflow { what: "sidx subsegment duration", .. }), "{error}");
        let error = segmenter.finish().unwrap_err();
        assert!(matches!(error, PackagerError::FieldOverflow { what: "sidx subsegment duration", .. }), "{error}");
        assert_eq!(segmenter.phase(), SegmenterPhase::Segmenting);
        assert_eq!(segmenter.fragments.len(), 1);
        assert_eq!(segmenter.fragments[0].samples.len(), 2, "the third sample is still the pending one");
        assert_eq!(segmenter.next_sequence_number, 2);
    }

    #[test]
    fn an_invalid_track_has_no_header_and_refuses_samples() {
        let mut track = audio_track();
        track.timescale = 0;
        assert!(Segmenter::try_new(track.clone(), Duration::from_secs(1), SegmenterOptions::default()).is_err());
        let mut segmenter = Segmenter::new(track, Duration::from_secs(1), SegmenterOptions::default());
        let error = segmenter.push(sample(0, 0, true)).unwrap_err();
        assert!(matches!(error, PackagerError::InvalidTrack { track_id: 2, .. }), "{error}");
        assert!(segmenter.finish().is_err());
        assert!(segmenter.init_segment().is_none());
    }

    #[test]
    fn no_samples_no_segment() {
        let mut segmenter = segmenter(audio_track(), 1000);
        assert!(segmenter.finish().unwrap().is_none());
        assert!(segmenter.init_segment().is_none(), "no sample, no header");
    }

    #[test]
    fn boundary_arithmetic_is_exact_and_saturates() {
        let b = Boundaries::new(Duration::from_millis(2000), 90_000);
        let second = 90_000 * NANOS_PER_SECOND;
        assert_eq!(b.after(0), 2 * second);
        assert_eq!(b.after(179_099), 2 * second, "10 ms + 1 tick before 2 s");
        assert_eq!(b.after(179_100), 4 * second, "exactly 10 ms before 2 s");
        assert_eq!(b.after(-90_000), 0);
        assert!(b.reached(179_100, 2 * second));
        assert!(!b.reached(179_099, 2 * second));
        assert!(b.after(i64::MAX) > Boundaries::scaled(i64::MAX));
        let longest = Boundaries::new(Duration::MAX, u32::MAX);
        assert_eq!(longest.after(i64::MAX), longest.period);
        assert!(!longest.reached(i64::MAX, longest.after(0)));
    }
}
