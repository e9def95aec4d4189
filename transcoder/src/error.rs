//! The transcoder's one error type. Every variant says what failed and, where it helps, what to do.

use marquee_packager::PackagerError;
use marquee_storage::StorageError;

/// Why a transcode did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The input cannot be transcoded as it is (empty, not media, no video, …).
    #[error("{reason}")]
    UnsupportedInput { reason: String },
    /// The input file cannot be read at all.
    #[error("cannot read {path}: {reason}")]
    InputUnreadable { path: String, reason: String },
    /// A ladder preset is invalid; every problem is listed.
    #[error("ladder preset {preset} is invalid:\n  - {}", problems.join("\n  - "))]
    Preset { preset: String, problems: Vec<String> },
    /// The requested encoder is not registered in GStreamer on this machine.
    #[error("encoder {requested:?} is not available: GStreamer has none of [{tried}]; {hint}")]
    EncoderUnavailable { requested: &'static str, tried: String, hint: &'static str },
    /// A GStreamer element needed for the pipeline is missing.
    #[error("GStreamer element {element:?} is missing; install {package}")]
    MissingElement { element: &'static str, package: &'static str },
    /// The pipeline reported an error while running.
    #[error("the pipeline failed in {element}: {message}")]
    Pipeline { element: String, message: String },
    /// No encoded data arrived for too long.
    #[error("the pipeline stalled: no encoded data for {seconds} s (at {position:.1} s of the input)")]
    Stalled { seconds: u64, position: f64 },
    /// The pipeline finished but a stream produced nothing.
    #[error("{stream} produced no data; the input may be truncated or {stream} track unreadable")]
    EmptyOutput { stream: String },
    /// The output location already holds a published presentation.
    #[error("{location} already holds a published presentation ({marker}); pass --force to replace it")]
    AlreadyPublished { location: String, marker: String },
    /// Packaging the encoded stream failed.
    #[error("packaging {rendition} failed: {source}")]
    Packaging { rendition: String, source: PackagerError },
    /// Writing the output failed.
    #[error("writing the output failed: {0}")]
    Storage(#[from] StorageError),
    /// The run was cancelled (Ctrl-C or the caller).
    #[error("cancelled")]
    Cancelled,
}
