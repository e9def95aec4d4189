//! The values the packager works on: samples in, segments out, and the description of a finished
//! presentation that the manifest renderers read.

use bytes::Bytes;

/// File name of a rendition's CMAF header (init segment), relative to the rendition folder.
pub const INIT_SEGMENT_NAME: &str = "init.mp4";
/// HLS media playlist name, relative to the rendition folder.
pub const MEDIA_PLAYLIST_NAME: &str = "index.m3u8";
/// HLS I-frame playlist name, relative to the rendition folder.
pub const IFRAME_PLAYLIST_NAME: &str = "iframes.m3u8";
/// Multivariant (master) playlist name, relative to the output root.
pub const MULTIVARIANT_PLAYLIST_NAME: &str = "master.m3u8";
/// DASH manifest name, relative to the output root.
pub const MPD_NAME: &str = "manifest.mpd";
/// Segments are numbered from 1 in both protocols (`$Number$` starts at `startNumber="1"`).
pub const FIRST_SEGMENT_NUMBER: u32 = 1;

/// File name of media segment `number`, relative to the rendition folder.
pub fn segment_name(number: u32) -> String {
    format!("seg_{number:05}.m4s")
}

/// The DASH `SegmentTemplate@media` pattern that expands to [`segment_name`].
pub const DASH_SEGMENT_TEMPLATE: &str = "$RepresentationID$/seg_$Number%05d$.m4s";
/// The DASH `SegmentTemplate@initialization` pattern that expands to the init segment path.
pub const DASH_INIT_TEMPLATE: &str = "$RepresentationID$/init.mp4";

/// An exact ratio, used for frame rates (30000/1001) and sample aspect ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    pub num: u32,
    pub den: u32,
}

impl Rational {
    pub const fn new(num: u32, den: u32) -> Self {
        Self { num, den }
    }

    pub fn as_f64(self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            f64::from(self.num) / f64::from(self.den)
        }
    }
}

/// One coded access unit handed over by an encoder, timestamps in ticks of the track's timescale counted
/// from the presentation's zero.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Presentation time.
    pub pts: i64,
    /// Decode time, never after `pts`. With B-frames the first samples' decode times are before zero.
    pub dts: i64,
    /// Duration. Only the last sample's is used as given; the others are the distance to the next
    /// sample's decode time.
    pub duration: u32,
    /// A sync sample (IDR for AVC; every AAC frame).
    pub keyframe: bool,
    /// AVC: NAL units with 4-byte length prefixes (the avcC form). AAC: one raw frame.
    pub data: Bytes,
}

/// An H.264 video track.
#[derive(Debug, Clone)]
pub struct VideoTrack {
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio; 1/1 for square pixels.
    pub sample_aspect_ratio: Rational,
    /// Nominal frame rate; 0/1 when the source has a variable frame rate and no nominal one.
    pub frame_rate: Rational,
    /// The AVCDecoderConfigurationRecord (`avcC` body) as the encoder's caps carry it.
    pub avc_config: Bytes,
}

/// An AAC audio track.
#[derive(Debug, Clone)]
pub struct AudioTrack {
    pub sample_rate: u32,
    pub channels: u16,
    /// The AudioSpecificConfig as the encoder's caps carry it.
    pub audio_specific_config: Bytes,
    /// ISO 639-2 language code; "und" when unknown.
    pub language: String,
}

/// What a track carries.
#[derive(Debug, Clone)]
pub enum TrackMedia {
    Video(VideoTrack),
    Audio(AudioTrack),
}

/// One CMAF track: each rendition is a single-track file set.
#[derive(Debug, Clone)]
pub struct Track {
    /// Track id in `tkhd`/`tfhd`; 1 for single-track CMAF files.
    pub track_id: u32,
    /// Ticks per second for every timestamp of this track.
    pub timescale: u32,
    pub media: TrackMedia,
}

impl Track {
    pub fn is_video(&self) -> bool {
        matches!(self.media, TrackMedia::Video(_))
    }

    /// RFC 6381 codec string, e.g. `avc1.640028` or `mp4a.40.2`.
    pub fn codec_string(&self) -> Result<String, crate::PackagerError> {
        match &self.media {
            TrackMedia::Video(v) => crate::codec::avc_codec_string(&v.avc_config),
            TrackMedia::Audio(a) => crate::codec::aac_codec_string(&a.audio_specific_config),
        }
    }
}

/// Ticks per second for a video track of the given nominal frame rate: a multiple of the frame rate's
/// numerator near 90 kHz, so that every frame duration is a whole number of ticks (3003 at 30000/1001,
/// 4004 at 24000/1001). Variable or unknown rates get 90 kHz.
pub fn video_timescale(frame_rate: Rational) -> u32 {
    const NOMINAL: u32 = 90_000;
    if frame_rate.num == 0 || frame_rate.den == 0 {
        return NOMINAL;
    }
    let n = frame_rate.num;
    if n >= NOMINAL {
        return n;
    }
    n * NOMINAL.div_ceil(n)
}

/// The byte range of one keyframe inside a media segment, for HLS I-frame playlists: from the start of
/// the fragment (`moof`) that begins with the keyframe to the end of the keyframe's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyframeRange {
    pub offset: u64,
    pub length: u64,
    /// Presentation time of the keyframe, track ticks.
    pub pts: u64,
    /// Time until the next keyframe (or the end of the track), track ticks.
    pub duration: u64,
}

/// What the manifests need to know of one written media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Starts at [`FIRST_SEGMENT_NUMBER`] and increases by one.
    pub number: u32,
    /// Earliest presentation time of the segment, which is also its `tfdt`, track ticks.
    pub start: u64,
    /// Sum of its samples' durations, track ticks.
    pub duration: u64,
    /// Size in bytes of the segment file.
    pub size: u64,
    /// One entry per fragment; for video each fragment starts with a keyframe.
    pub keyframes: Vec<KeyframeRange>,
}

/// A finished media segment: its bytes and its description.
#[derive(Debug, Clone)]
pub struct Segment {
    pub entry: SegmentEntry,
    pub data: Bytes,
}

/// One rendition (rung or audio track) of a finished presentation.
#[derive(Debug, Clone)]
pub struct Rendition {
    /// Folder name relative to the output root, also the DASH Representation id (e.g. `video_720p`).
    pub id: String,
    pub track: Track,
    pub segments: Vec<SegmentEntry>,
}

impl Rendition {
    /// Total duration, track ticks.
    pub fn duration_ticks(&self) -> u64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    pub fn duration_secs(&self) -> f64 {
        self.duration_ticks() as f64 / f64::from(self.track.timescale)
    }

    /// Highest bit rate of any one segment, bits per second (HLS `BANDWIDTH`, DASH `@bandwidth`).
    pub fn peak_bandwidth(&self) -> u64 {
        let ts = f64::from(self.track.timescale);
        self.segments
            .iter()
            .filter(|s| s.duration > 0)
            .map(|s| (s.size as f64 * 8.0 * ts / s.duration as f64).ceil() as u64)
            .max()
            .unwrap_or(0)
    }

    /// Total bits over total duration (HLS `AVERAGE-BANDWIDTH`).
    pub fn average_bandwidth(&self) -> u64 {
        let ticks = self.duration_ticks();
        if ticks == 0 {
            return 0;
        }
        let bytes: u64 = self.segments.iter().map(|s| s.size).sum();
        (bytes as f64 * 8.0 * f64::from(self.track.timescale) / ticks as f64).ceil() as u64
    }

    /// Path of the init segment relative to the output root.
    pub fn init_path(&self) -> String {
        format!("{}/{INIT_SEGMENT_NAME}", self.id)
    }

    /// Path of media segment `number` relative to the output root.
    pub fn segment_path(&self, number: u32) -> String {
        format!("{}/{}", self.id, segment_name(number))
    }

    /// Path of the HLS media playlist relative to the output root.
    pub fn media_playlist_path(&self) -> String {
        format!("{}/{MEDIA_PLAYLIST_NAME}", self.id)
    }

    /// Path of the HLS I-frame playlist relative to the output root.
    pub fn iframe_playlist_path(&self) -> String {
        format!("{}/{IFRAME_PLAYLIST_NAME}", self.id)
    }
}

/// A finished presentation: everything the manifests describe.
#[derive(Debug, Clone)]
pub struct Presentation {
    /// Video renditions, highest first.
    pub video: Vec<Rendition>,
    /// The audio rendition, if the source had audio.
    pub audio: Option<Rendition>,
    /// The target segment duration the segmenter aimed at, seconds.
    pub segment_target_secs: f64,
}

impl Presentation {
    /// Duration of the longest rendition, seconds.
    pub fn duration_secs(&self) -> f64 {
        self.video.iter().chain(self.audio.as_ref()).map(Rendition::duration_secs).fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_timescale_divides_common_frame_durations() {
        for (num, den, ticks) in [(30, 1, 3000), (30000, 1001, 3003), (24000, 1001, 4004), (25, 1, 3600), (60, 1, 1500)]
        {
            let ts = video_timescale(Rational::new(num, den));
            assert_eq!(u64::from(ts) * u64::from(den) % u64::from(num), 0, "{num}/{den} in {ts}");
            assert_eq!(u64::from(ts) * u64::from(den) / u64::from(num), ticks, "{num}/{den} in {ts}");
        }
        assert_eq!(video_timescale(Rational::new(0, 1)), 90_000);
    }

    #[test]
    fn bandwidth_is_peak_and_average_over_segments() {
        let seg = |number, duration, size| SegmentEntry { number, start: 0, duration, size, keyframes: vec![] };
        let r = Rendition {
            id: "a".into(),
            track: Track {
                track_id: 1,
                timescale: 1000,
                media: TrackMedia::Audio(AudioTrack {
                    sample_rate: 48000,
                    channels: 2,
                    audio_specific_config: Bytes::from_static(&[0x11, 0x90]),
                    language: "und".into(),
                }),
            },
            segments: vec![seg(1, 4000, 50_000), seg(2, 2000, 50_000)],
        };
        assert_eq!(r.peak_bandwidth(), 200_000);
        assert_eq!(r.average_bandwidth(), 133_334);
        assert_eq!(r.segment_path(2), "a/seg_00002.m4s");
    }
}
