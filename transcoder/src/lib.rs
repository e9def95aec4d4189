//! GStreamer transcoder: decodes a source once and feeds a ladder of parallel H.264 encodes plus one AAC
//! encode into the packager, which writes CMAF segments and HLS/DASH manifests through the storage layer.
//!
//! - [`ladder`]: presets (`pipelines/*.toml`) and planning a ladder for a source (pure).
//! - [`encoder`]: choosing the H.264 encoder by probing the GStreamer registry (pure choice, testable).
//! - [`probe`]: reading a source's facts, turning bad inputs into one clear sentence.
//! - [`pipeline`]: the GStreamer graph.
//! - [`job`]: one run from probe to published manifests, with cleanup on failure.
//! - [`progress`]: events for progress bars and workers.

pub mod encoder;
mod error;
pub mod job;
pub mod ladder;
pub mod pipeline;
pub mod probe;
pub mod progress;

pub use error::TranscodeError;
pub use job::{transcode, TranscodeRequest, TranscodeSummary};

/// Initialises GStreamer once for this process; every entry point calls it, callers may too.
pub fn init() -> Result<(), TranscodeError> {
    gstreamer::init().map_err(|e| TranscodeError::Pipeline {
        element: "gstreamer".into(),
        message: format!("GStreamer could not start: {e}; install the GStreamer packages (scripts/install-deps.sh)"),
    })
}
