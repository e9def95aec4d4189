//! A generated short film: GStreamer's test sources (a scrolling colour-bar picture and a tone) encoded as
//! H.264 + AAC in MP4. `marquee up` publishes one on first start so there is something to watch at once; no
//! media is kept in the repository.

use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::TranscodeError;

/// The sample's picture size and rate.
pub const SAMPLE_WIDTH: u32 = 1280;
pub const SAMPLE_HEIGHT: u32 = 720;
const SAMPLE_FPS: u32 = 30;
const AUDIO_RATE: u32 = 48_000;
const AUDIO_SAMPLES_PER_BUFFER: u32 = 1024;

/// The `gst-launch` description of a `seconds`-long sample written to `out`.
pub fn sample_pipeline(out: &Path, seconds: u32) -> String {
    let frames = seconds * SAMPLE_FPS;
    let audio_buffers = (seconds * AUDIO_RATE).div_ceil(AUDIO_SAMPLES_PER_BUFFER);
    // The location is quoted for the parser; a path holding a double quote is refused by `generate_sample`.
    format!(
        "videotestsrc pattern=smpte horizontal-speed=4 num-buffers={frames} \
           ! video/x-raw,format=I420,width={SAMPLE_WIDTH},height={SAMPLE_HEIGHT},framerate={SAMPLE_FPS}/1 \
           ! x264enc speed-preset=veryfast key-int-max={gop} ! h264parse ! queue ! mp4mux name=mux faststart=true \
           ! filesink location=\"{location}\" \
         audiotestsrc wave=sine freq=440 volume=0.2 num-buffers={audio_buffers} samplesperbuffer={AUDIO_SAMPLES_PER_BUFFER} \
           ! audio/x-raw,rate={AUDIO_RATE},channels=2 ! audioconvert ! avenc_aac ! aacparse ! queue ! mux.",
        gop = SAMPLE_FPS * 2,
        location = out.display(),
    )
}

/// Writes a `seconds`-long sample film to `out` (blocking: run it off the async runtime).
pub fn generate_sample(out: &Path, seconds: u32) -> Result<(), TranscodeError> {
    crate::init()?;
    if out.to_string_lossy().contains('"') {
        return Err(TranscodeError::Pipeline {
            element: "filesink".into(),
            message: format!("cannot write a sample to {} (a double quote in the path)", out.display()),
        });
    }
    let failed = |element: &str, message: String| TranscodeError::Pipeline { element: element.into(), message };
    let pipeline = gst::parse::launch(&sample_pipeline(out, seconds))
        .map_err(|e| failed("sample", format!("{e}; install the GStreamer packages (scripts/install-deps.sh)")))?;
    pipeline.set_state(gst::State::Playing).map_err(|e| failed("sample", e.to_string()))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let outcome = loop {
        let Some(message) = bus.timed_pop(gst::ClockTime::NONE) else { continue };
        match message.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(error) => {
                let element = error.src().map(|s| s.name().to_string()).unwrap_or_else(|| "sample".into());
                break Err(failed(&element, error.error().to_string()));
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_has_both_streams_of_the_asked_length() {
        let text = sample_pipeline(Path::new("/tmp/s.mp4"), 10);
        assert!(text.contains("num-buffers=300 "), "{text}");
        // 10 s of 48 kHz audio in 1024-sample buffers, rounded up so the tone is not shorter than the picture.
        assert!(text.contains("num-buffers=469 "), "{text}");
        assert!(text.contains("location=\"/tmp/s.mp4\""), "{text}");
    }

    #[test]
    fn writes_a_playable_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sample.mp4");
        generate_sample(&out, 2).unwrap();
        let facts = crate::probe::probe(&out).unwrap();
        assert_eq!((facts.video.width, facts.video.height), (SAMPLE_WIDTH, SAMPLE_HEIGHT), "{facts:?}");
        assert!(facts.audio.is_some(), "{facts:?}");
        assert!(facts.duration_s.is_some_and(|d| (1.9..2.2).contains(&d)), "{facts:?}");
    }
}
