//! GStreamer transcoder: decodes a source once and feeds a ladder of parallel H.264 encodes plus one AAC
//! encode into the packager, which writes CMAF segments and HLS/DASH manifests through the storage layer.
//!
//! - [`ladder`]: presets (`pipelines/*.toml`) and planning a ladder for a source (pure).
//! - [`encoder`]: choosing the H.264 encoder by probing the GStreamer registry (pure choice, testable).
//! - [`probe`]: reading a source's facts, turning bad inputs into one clear sentence.
//! - [`pipeline`]: the GStreamer graph.
//! - [`transcode`] (`run.rs`): one run from probe to published manifests, with cleanup on failure; its
//!   packaging threads (`packaging.rs`) place each encoded sample on the presentation timeline
//!   (`timeline.rs`, pure) and segment it, and `publish.rs` writes, publishes and cleans up the output.
//! - [`poster`]: which decoded frame becomes the presentation's poster (`images/poster.jpg`), its size (pure).
//! - [`progress`]: events for progress bars and workers.
//! - [`sample`]: a generated short film (test sources), what `marquee up` publishes on first start.

pub mod encoder;
mod error;
pub mod ladder;
mod packaging;
pub mod pipeline;
pub mod poster;
pub mod probe;
pub mod progress;
mod publish;
mod run;
pub mod sample;
mod timeline;

pub use error::TranscodeError;
pub use poster::POSTER_PATH;
pub use run::{transcode, TranscodeRequest, TranscodeSummary, AUDIO_RENDITION_ID, DEFAULT_STALL_TIMEOUT};

/// Initialises GStreamer once for this process; every entry point calls it, callers may too.
pub fn init() -> Result<(), TranscodeError> {
    gstreamer::init().map_err(|e| TranscodeError::Pipeline {
        element: "gstreamer".into(),
        message: format!("GStreamer could not start: {e}; install the GStreamer packages (scripts/install-deps.sh)"),
    })
}
