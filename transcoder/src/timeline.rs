//! The presentation timeline: where an encoded buffer's running times land on a track's timeline, in ticks of
//! the track's timescale counted from the presentation's zero (the first video frame's running time).
//!
//! Every track counts from the same zero, so whatever offset the source had between its audio and its video
//! survives into the packaged tracks. Pure: `packaging.rs` reads the running times off GStreamer's buffers.

use marquee_packager::{Track, TrackMedia};

/// Ticks of an AAC frame, the default duration of an audio buffer that carries none.
const AAC_FRAME_TICKS: i64 = 1024;
/// Frame rate assumed for a video buffer without a duration in a track without a nominal rate.
const FALLBACK_FRAME_RATE: i64 = 30;
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// An encoded buffer's timestamps as running times in nanoseconds, the clock every branch of the pipeline
/// shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunningTimes {
    pub(crate) pts_ns: i64,
    /// `None` when the encoder gave none: decoded when presented.
    pub(crate) dts_ns: Option<i64>,
    /// `None` when the buffer has no duration.
    pub(crate) duration_ns: Option<u64>,
}

/// A buffer's place on its track's timeline, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrackTime {
    pub(crate) pts: i64,
    /// Never after `pts`.
    pub(crate) dts: i64,
    pub(crate) duration: u32,
}

/// Converts one track's running times to its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeline {
    /// Running time of the presentation's zero.
    zero_ns: i64,
    timescale: u32,
    /// Ticks given to a buffer without a (positive) duration.
    default_duration: i64,
    /// Audio that starts before the first video frame is cut; video never does (zero is its first frame).
    drops_before_zero: bool,
}

impl Timeline {
    pub(crate) fn new(track: &Track, zero_ns: i64) -> Self {
        let timescale = track.timescale;
        let default_duration = match &track.media {
            TrackMedia::Video(v) if v.frame_rate.num > 0 => {
                (u64::from(timescale) * u64::from(v.frame_rate.den) / u64::from(v.frame_rate.num)) as i64
            }
            TrackMedia::Video(_) => i64::from(timescale) / FALLBACK_FRAME_RATE,
            TrackMedia::Audio(_) => AAC_FRAME_TICKS,
        };
        Self { zero_ns, timescale, default_duration, drops_before_zero: !track.is_video() }
    }

    /// Where a buffer goes, or `None` for audio presented before the presentation's zero.
    pub(crate) fn place(&self, times: RunningTimes) -> Option<TrackTime> {
        let pts = ns_to_ticks(times.pts_ns - self.zero_ns, self.timescale);
        if self.drops_before_zero && pts < 0 {
            return None;
        }
        let dts = ns_to_ticks(times.dts_ns.unwrap_or(times.pts_ns) - self.zero_ns, self.timescale).min(pts);
        let duration = times
            .duration_ns
            .map(|d| ns_to_ticks(d as i64, self.timescale))
            .filter(|d| *d > 0)
            .unwrap_or(self.default_duration);
        Some(TrackTime { pts, dts, duration: u32::try_from(duration).unwrap_or(u32::MAX) })
    }
}

/// Nanoseconds to ticks of `timescale`, rounded to the nearest tick, symmetrically for negative times.
pub(crate) fn ns_to_ticks(ns: i64, timescale: u32) -> i64 {
    let t = i128::from(ns) * i128::from(timescale);
    let q = (t.abs() + NANOS_PER_SECOND / 2) / NANOS_PER_SECOND;
    (if t < 0 { -q } else { q }) as i64
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use marquee_packager::presentation::video_timescale;
    use marquee_packager::{AudioTrack, Rational, VideoTrack};
    use proptest::prelude::*;

    use super::*;

    fn video(frame_rate: Rational) -> Track {
        Track {
            track_id: 1,
            timescale: video_timescale(frame_rate),
            media: TrackMedia::Video(VideoTrack {
                width: 640,
                height: 360,
                sample_aspect_ratio: Rational::new(1, 1),
                frame_rate,
                avc_config: Bytes::new(),
            }),
        }
    }

    fn audio() -> Track {
        Track {
            track_id: 1,
            timescale: 48_000,
            media: TrackMedia::Audio(AudioTrack {
                sample_rate: 48_000,
                channels: 2,
                audio_specific_config: Bytes::new(),
                language: "und".into(),
            }),
        }
    }

    fn times(pts_ns: i64, dts_ns: Option<i64>, duration_ns: Option<u64>) -> RunningTimes {
        RunningTimes { pts_ns, dts_ns, duration_ns }
    }

    #[test]
    fn ticks_round_to_nearest_both_ways() {
        assert_eq!(ns_to_ticks(33_366_666, 90_000), 3003);
        assert_eq!(ns_to_ticks(-33_366_666, 90_000), -3003);
        assert_eq!(ns_to_ticks(21_333_333, 48_000), 1024);
        assert_eq!(ns_to_ticks(0, 48_000), 0);
    }

    #[test]
    fn times_count_from_the_presentations_zero() {
        let zero = 3_600_000_000_000; // GStreamer running times need not start at 0.
        let ntsc = Timeline::new(&video(Rational::new(30_000, 1001)), zero);
        // A B-frame stream's first frame: decoded two frames before it is shown.
        let first = ntsc.place(times(zero, Some(zero - 66_733_333), Some(33_366_666))).unwrap();
        assert_eq!(first, TrackTime { pts: 0, dts: -6006, duration: 3003 });
        let later = ntsc.place(times(zero + 1_000_000_000, None, None)).unwrap();
        assert_eq!(later, TrackTime { pts: 90_000, dts: 90_000, duration: 3003 }, "no dts or duration: defaults");
    }

    #[test]
    fn audio_before_the_first_video_frame_is_cut_and_audio_after_it_keeps_its_offset() {
        let zero = 1_000_000_000;
        let aac = Timeline::new(&audio(), zero);
        assert_eq!(aac.place(times(zero - 1_000_000, None, Some(21_333_333))), None);
        // Less than half a tick early rounds to zero and stays.
        assert_eq!(aac.place(times(zero - 1, None, None)).map(|t| t.pts), Some(0));
        // Audio that starts half a second after the video starts half a second into the presentation.
        let late = aac.place(times(zero + 500_000_000, None, Some(21_333_333))).unwrap();
        assert_eq!(late, TrackTime { pts: 24_000, dts: 24_000, duration: 1024 });
        assert_eq!(aac.place(times(zero, None, Some(0))).unwrap().duration, 1024, "no duration: one AAC frame");
    }

    #[test]
    fn video_without_a_nominal_rate_defaults_to_30_fps_durations_and_is_never_cut() {
        let vfr = Timeline::new(&video(Rational::new(0, 1)), 0);
        assert_eq!(
            vfr.place(times(-40_000_000, None, None)).unwrap(),
            TrackTime { pts: -3600, dts: -3600, duration: 3000 }
        );
    }

    #[test]
    fn a_decode_time_after_the_presentation_time_is_clamped_to_it() {
        let timeline = Timeline::new(&video(Rational::new(25, 1)), 0);
        let placed = timeline.place(times(40_000_000, Some(80_000_000), Some(40_000_000))).unwrap();
        assert_eq!((placed.pts, placed.dts), (3600, 3600));
    }

    fn frame_rate() -> impl Strategy<Value = Rational> {
        prop_oneof![
            Just(Rational::new(30_000, 1001)),
            Just(Rational::new(24_000, 1001)),
            Just(Rational::new(25, 1)),
            Just(Rational::new(60, 1)),
            Just(Rational::new(0, 1)),
        ]
    }

    proptest! {
        #[test]
        fn ticks_are_the_nearest_and_keep_order(a in -(1i64 << 50)..(1i64 << 50), b in -(1i64 << 50)..(1i64 << 50), timescale in 1u32..200_000) {
            let ticks = ns_to_ticks(a, timescale);
            let error = i128::from(ticks) * NANOS_PER_SECOND - i128::from(a) * i128::from(timescale);
            prop_assert!(error.abs() <= NANOS_PER_SECOND / 2, "{a} ns → {ticks} ticks");
            prop_assert_eq!(ns_to_ticks(-a, timescale), -ticks);
            if a <= b {
                prop_assert!(ticks <= ns_to_ticks(b, timescale));
            }
        }

        /// Lip sync: a video and an audio buffer land as far apart in seconds as they were in running time,
        /// give or take half a tick of each track, wherever the zero is.
        #[test]
        fn tracks_keep_the_offsets_between_them(
            rate in frame_rate(),
            zero in 0i64..(1 << 52),
            video_after_zero in 0i64..(1 << 40),
            audio_after_zero in 0i64..(1 << 40),
            decode_lead in 0i64..200_000_000,
        ) {
            let video_track = video(rate);
            let (v, a) = (Timeline::new(&video_track, zero), Timeline::new(&audio(), zero));
            let shown = zero + video_after_zero;
            let frame = v.place(times(shown, Some(shown - decode_lead), None)).unwrap();
            let sound = a.place(times(zero + audio_after_zero, None, None)).unwrap();
            prop_assert!(frame.dts <= frame.pts);
            let (vs, as_) = (f64::from(video_track.timescale), 48_000.0);
            let placed = frame.pts as f64 / vs - sound.pts as f64 / as_;
            let running = (video_after_zero - audio_after_zero) as f64 / 1e9;
            prop_assert!((placed - running).abs() <= 0.5 / vs + 0.5 / as_ + 1e-9, "{placed} s apart, {running} s in running time");
        }
    }
}
