//! Looks at a source file before transcoding: duration, picture size after rotation, frame rate, audio.
//! Bad inputs are turned into one clear sentence here, before any output is written.

use std::path::Path;

use gstreamer as gst;
use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;

use crate::TranscodeError;

/// How long the discoverer may take on one file.
const DISCOVER_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(30);

/// What the transcoder needs to know about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// `file://` URI of the source.
    pub uri: String,
    pub duration_s: Option<f64>,
    pub video: VideoInfo,
    /// `None` when the source has no audio track.
    pub audio: Option<AudioInfo>,
}

/// The first video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Coded size, before rotation.
    pub width: u32,
    pub height: u32,
    /// Pixel aspect ratio num/den.
    pub pixel_aspect: (u32, u32),
    /// Nominal frame rate num/den; 0/1 when unknown or variable.
    pub frame_rate: (u32, u32),
    /// Clockwise rotation the player must apply, from the container's orientation tag (0, 90, 180, 270).
    pub rotation: u32,
}

impl VideoInfo {
    /// The size as it is displayed: pixel aspect ratio applied (stretching the width), then rotation.
    pub fn display_size(&self) -> (u32, u32) {
        let (par_n, par_d) = self.pixel_aspect;
        let width = if par_n > 0 && par_d > 0 && par_n != par_d {
            ((u64::from(self.width) * u64::from(par_n) / u64::from(par_d)) as u32).max(1)
        } else {
            self.width
        };
        if self.rotation % 180 == 90 {
            (self.height, width)
        } else {
            (width, self.height)
        }
    }
}

/// The first audio stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    pub channels: u32,
    pub sample_rate: u32,
}

/// Probes `path`. Fails with [`TranscodeError::InputUnreadable`] or [`TranscodeError::UnsupportedInput`]
/// on anything that cannot become a ladder.
pub fn probe(path: &Path) -> Result<SourceInfo, TranscodeError> {
    let unreadable = |reason: String| TranscodeError::InputUnreadable { path: path.display().to_string(), reason };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("not a regular file".to_owned()));
    }
    if meta.len() == 0 {
        return Err(TranscodeError::UnsupportedInput {
            reason: format!("{} is empty (0 bytes); upload the whole file again", path.display()),
        });
    }
    let abs = std::fs::canonicalize(path).map_err(|e| unreadable(e.to_string()))?;
    let uri = gst::glib::filename_to_uri(&abs, None).map_err(|e| unreadable(e.to_string()))?.to_string();

    let discoverer =
        pbutils::Discoverer::new(DISCOVER_TIMEOUT).map_err(|e| unreadable(format!("GStreamer discoverer: {e}")))?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|e| TranscodeError::UnsupportedInput { reason: describe_discover_error(path, &e.to_string()) })?;
    match info.result() {
        pbutils::DiscovererResult::Ok => {}
        pbutils::DiscovererResult::MissingPlugins => {
            let missing = info.missing_elements_installer_details();
            return Err(TranscodeError::UnsupportedInput {
                reason: format!(
                    "{} uses a format this machine cannot decode (missing GStreamer plugins: {}); install \
                     gstreamer1.0-libav and gstreamer1.0-plugins-bad/ugly",
                    path.display(),
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        pbutils::DiscovererResult::Timeout => {
            return Err(TranscodeError::UnsupportedInput {
                reason: format!("{} could not be read within {DISCOVER_TIMEOUT}", path.display()),
            });
        }
        other => {
            return Err(TranscodeError::UnsupportedInput {
                reason: format!("{} could not be read as media ({other:?})", path.display()),
            });
        }
    }

    let duration_s = info.duration().map(|d| d.nseconds() as f64 / 1e9).filter(|d| *d > 0.0);
    let video = info.video_streams().into_iter().find(|v| !v.is_image());
    let audio = info.audio_streams().into_iter().next();
    let Some(video) = video else {
        let what = if audio.is_some() { "only audio" } else { "no video stream" };
        return Err(TranscodeError::UnsupportedInput {
            reason: format!("{} has {what}; Marquee packages video ladders and needs a video track", path.display()),
        });
    };
    if video.width() == 0 || video.height() == 0 {
        return Err(TranscodeError::UnsupportedInput {
            reason: format!("{}: the video stream has no picture size; the file may be truncated", path.display()),
        });
    }
    let fraction = |f: gst::Fraction| {
        let (n, d) = (f.numer(), f.denom());
        if n > 0 && d > 0 {
            (n as u32, d as u32)
        } else {
            (0, 1)
        }
    };
    let rotation = video
        .tags()
        .or_else(|| info.tags())
        .and_then(|tags| tags.get::<gst::tags::ImageOrientation>().map(|v| v.get().to_string()))
        .map(|o| orientation_degrees(&o))
        .unwrap_or(0);
    let par = fraction(video.par());
    Ok(SourceInfo {
        uri,
        duration_s,
        video: VideoInfo {
            width: video.width(),
            height: video.height(),
            pixel_aspect: if par.0 == 0 { (1, 1) } else { par },
            frame_rate: fraction(video.framerate()),
            rotation,
        },
        audio: audio.map(|a| AudioInfo { channels: a.channels(), sample_rate: a.sample_rate() }),
    })
}

/// Degrees of clockwise rotation for a GStreamer `image-orientation` tag value (`rotate-90`, …). Flips
/// are applied by `videoflip` too, but do not change the picture's size.
pub fn orientation_degrees(tag: &str) -> u32 {
    match tag {
        "rotate-90" | "flip-rotate-90" => 90,
        "rotate-180" | "flip-rotate-180" => 180,
        "rotate-270" | "flip-rotate-270" => 270,
        _ => 0,
    }
}

fn describe_discover_error(path: &Path, message: &str) -> String {
    if message.contains("Could not determine type of stream") || message.contains("No valid frames") {
        format!("{} is not a media file GStreamer recognises", path.display())
    } else if message.contains("text file") {
        format!("{} is not a media file (it looks like text)", path.display())
    } else {
        format!("{} could not be read as media: {message}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_size_applies_pixel_aspect_then_rotation() {
        let v = VideoInfo { width: 1440, height: 1080, pixel_aspect: (4, 3), frame_rate: (25, 1), rotation: 0 };
        assert_eq!(v.display_size(), (1920, 1080));
        let v = VideoInfo { rotation: 90, ..v };
        assert_eq!(v.display_size(), (1080, 1920));
        let v = VideoInfo { width: 1920, height: 1080, pixel_aspect: (1, 1), frame_rate: (30, 1), rotation: 180 };
        assert_eq!(v.display_size(), (1920, 1080));
    }

    #[test]
    fn orientation_tags_map_to_degrees() {
        assert_eq!(orientation_degrees("rotate-90"), 90);
        assert_eq!(orientation_degrees("rotate-270"), 270);
        assert_eq!(orientation_degrees("flip-rotate-180"), 180);
        assert_eq!(orientation_degrees("rotate-0"), 0);
        assert_eq!(orientation_degrees("something-else"), 0);
    }
}
