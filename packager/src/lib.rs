//! Pure-Rust CMAF packager: turns encoded access units into init and media segments and renders the HLS
//! and DASH manifests that describe them.
//!
//! Nothing here does I/O. The transcoder hands [`Sample`]s to a [`Segmenter`](segmenter::Segmenter) per
//! track, writes the [`Segment`](presentation::Segment)s it returns through the storage layer, and, once every
//! track is finished, renders the manifests from a [`Presentation`]:
//!
//! ```text
//! Sample ──► segmenter ──► cmaf (box writer) ──► Segment bytes + SegmentEntry
//!                                                   │
//!                         Presentation { video renditions, audio } ──► hls / dash text
//! ```
//!
//! One set of segment files serves both protocols: HLS media playlists and the DASH MPD point at the same
//! `init.mp4` and `seg_NNNNN.m4s` objects.

pub mod cmaf;
pub mod codec;
pub mod dash;
mod error;
pub mod hls;
pub mod presentation;
pub mod segmenter;

pub use error::PackagerError;
pub use presentation::{
    AudioTrack, KeyframeRange, Presentation, Rational, Rendition, Sample, Segment, SegmentEntry, Track, TrackMedia,
    VideoTrack,
};
