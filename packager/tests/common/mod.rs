//! Helpers shared by the packager's integration tests: an independent reader for the segments we write
//! (box parsing by the `mp4` crate, sample addressing by hand) and real H.264/AAC streams from ffmpeg.

#![allow(dead_code)] // each test binary uses a different part

pub mod media;
pub mod reader;

use std::time::Duration;

use bytes::Bytes;
use marquee_packager::segmenter::{Segmenter, SegmenterOptions};
use marquee_packager::{Sample, Segment, Track};

/// Pushes every sample through a new segmenter and finishes it: the init segment and every media segment.
/// Needs at least one sample: the header is made from the first.
pub fn package(
    track: &Track,
    samples: &[Sample],
    target: Duration,
    options: SegmenterOptions,
) -> (Bytes, Vec<Segment>) {
    let mut segmenter = Segmenter::try_new(track.clone(), target, options).expect("valid track");
    let mut segments = Vec::new();
    for sample in samples {
        segments.extend(segmenter.push(sample.clone()).expect("valid sample"));
    }
    segments.extend(segmenter.finish().expect("segment fits"));
    (segmenter.init_segment().expect("a header once a sample is in"), segments)
}
