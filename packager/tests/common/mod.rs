//! Helpers shared by the packager's integration tests: an independent reader for the segments we write
//! (box parsing by the `mp4` crate, sample addressing by hand) and real H.264/AAC streams from ffmpeg.

#![allow(dead_code)] // each test binary uses a different part

pub mod media;
pub mod reader;
