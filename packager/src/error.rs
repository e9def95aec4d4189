//! The packager's one error type.

/// What went wrong while packaging, and on which input.
#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    /// The codec configuration record (avcC or AudioSpecificConfig) could not be read.
    #[error("invalid {codec} configuration: {reason}")]
    InvalidCodecConfig { codec: &'static str, reason: String },
    /// Samples must arrive in decode order.
    #[error("track {track_id}: decode time went backwards ({previous} then {next})")]
    NonMonotonicDecodeTime { track_id: u32, previous: i64, next: i64 },
    /// A video track must start with a keyframe so that its first segment is decodable on its own.
    #[error("track {track_id}: the first sample is not a keyframe")]
    FirstSampleNotKeyframe { track_id: u32 },
    /// A value does not fit the box field that must carry it.
    #[error("track {track_id}: {what} ({value}) does not fit its box field")]
    FieldOverflow { track_id: u32, what: &'static str, value: i128 },
    /// Writing a manifest failed (the renderers write into memory, so this is a bug or a bad value).
    #[error("could not render {manifest}: {reason}")]
    Render { manifest: &'static str, reason: String },
    /// The track description cannot be written as a CMAF header (zero id or timescale, bad language code).
    #[error("track {track_id}: invalid track: {reason}")]
    InvalidTrack { track_id: u32, reason: String },
    /// A sample arrived after the track's segmenter was finished.
    #[error("track {track_id}: sample pushed after the segmenter was finished")]
    SegmenterFinished { track_id: u32 },
}
