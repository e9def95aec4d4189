//! Packaging as the ladder encodes: one thread per appsink pulls encoded samples, places them on the
//! presentation timeline, pushes them into a `Segmenter` and writes each finished segment right away. Also
//! what those threads share with the run that drives the pipeline: when to give up, and how far they got.
//! One more thread takes the poster candidates and writes the chosen one as a JPEG.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use marquee_packager::presentation::{self, video_timescale};
use marquee_packager::segmenter::{Segmenter, SegmenterOptions};
use marquee_packager::{AudioTrack, Rational, Rendition, Sample, Track, TrackMedia, VideoTrack};

use crate::pipeline::{signed_ns, PresentationZero};
use crate::poster::{choose, mean_luma, POSTER_PATH};
use crate::publish::Publisher;
use crate::timeline::{RunningTimes, Timeline};
use crate::TranscodeError;

/// How long a packaging thread waits for a sample, or the run for a bus message, before checking whether
/// to give up.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Shared by the run and its packaging threads to know when to give up.
pub(crate) struct RunState {
    pub(crate) abort: AtomicBool,
    /// Milliseconds since the start at which encoded data last arrived.
    pub(crate) last_activity_ms: AtomicU64,
    pub(crate) started: Instant,
}

impl RunState {
    /// A run that started at `started`, with encoded data counted as arriving now.
    pub(crate) fn new(started: Instant) -> Self {
        Self {
            abort: AtomicBool::new(false),
            last_activity_ms: AtomicU64::new(started.elapsed().as_millis() as u64),
            started,
        }
    }

    fn touch(&self) {
        self.last_activity_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Per-track counters the progress reporting reads.
#[derive(Default)]
pub(crate) struct TrackStats {
    /// Presentation time reached, microseconds.
    pub(crate) position_us: AtomicU64,
    pub(crate) samples: AtomicU64,
}

/// Pulls one appsink's encoded samples into a segmenter and writes the segments.
pub(crate) struct TrackPuller {
    pub(crate) id: String,
    /// "the video" or "the audio", for the error when the stream produced nothing.
    pub(crate) stream: &'static str,
    pub(crate) sink: gst_app::AppSink,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) zero: Arc<PresentationZero>,
    pub(crate) state: Arc<RunState>,
    pub(crate) stats: Arc<TrackStats>,
    pub(crate) segment_target: Duration,
    pub(crate) options: SegmenterOptions,
}

/// A track's segmenter, its description, and where its samples go on the timeline.
struct Packaging {
    segmenter: Segmenter,
    track: Track,
    timeline: Timeline,
}

impl TrackPuller {
    /// Runs the puller on a thread of its own; the thread's result is the packaged rendition.
    pub(crate) fn spawn(self) -> Result<JoinHandle<Result<Rendition, TranscodeError>>, TranscodeError> {
        std::thread::Builder::new().name(format!("pkg-{}", self.id)).spawn(move || self.run()).map_err(|e| {
            TranscodeError::Pipeline { element: "packager".into(), message: format!("could not start a thread: {e}") }
        })
    }

    fn run(self) -> Result<Rendition, TranscodeError> {
        let result = self.pull_all();
        if result.is_err() {
            self.state.abort.store(true, Ordering::SeqCst);
        }
        result
    }

    fn packaging_error(&self) -> impl Fn(marquee_packager::PackagerError) -> TranscodeError + '_ {
        |source| TranscodeError::Packaging { rendition: self.id.clone(), source }
    }

    fn pull_all(&self) -> Result<Rendition, TranscodeError> {
        let pull_timeout = gst::ClockTime::from_nseconds(POLL_INTERVAL.as_nanos() as u64);
        let mut packaging: Option<Packaging> = None;
        let mut entries = Vec::new();
        loop {
            if self.state.abort.load(Ordering::SeqCst) {
                return Err(TranscodeError::Cancelled);
            }
            let Some(sample) = self.sink.try_pull_sample(pull_timeout) else {
                if self.sink.is_eos() {
                    break;
                }
                continue;
            };
            self.state.touch();
            if packaging.is_none() {
                tracing::debug!(rendition = %self.id, "First encoded sample.");
            }
            let Some(zero) = self.wait_for_zero() else { return Err(TranscodeError::Cancelled) };
            if packaging.is_none() {
                let track = track_from_caps(&self.id, sample.caps())?;
                let segmenter = Segmenter::try_new(track.clone(), self.segment_target, self.options)
                    .map_err(self.packaging_error())?;
                let timeline = Timeline::new(&track, zero);
                packaging = Some(Packaging { segmenter, track, timeline });
            }
            let Packaging { segmenter, track, timeline } = packaging.as_mut().expect("set above");
            let Some(s) = packager_sample(&sample, timeline)? else { continue };
            self.stats.samples.fetch_add(1, Ordering::Relaxed);
            let position_us = (s.pts.max(0) as u128 * 1_000_000 / u128::from(track.timescale)) as u64;
            self.stats.position_us.fetch_max(position_us, Ordering::Relaxed);
            let first = segmenter.init_segment().is_none();
            let pushed = segmenter.push(s).map_err(self.packaging_error())?;
            // The header's edit list depends on the first sample, so it is written once that is in.
            if first {
                let header = segmenter.init_segment().expect("a segmenter that took a sample has a header");
                self.publisher.put(&format!("{}/{}", self.id, presentation::INIT_SEGMENT_NAME), header)?;
            }
            if let Some(segment) = pushed {
                self.publisher
                    .put(&format!("{}/{}", self.id, presentation::segment_name(segment.entry.number)), segment.data)?;
                entries.push(segment.entry);
            }
        }
        let Some(Packaging { mut segmenter, track, .. }) = packaging else {
            return Err(TranscodeError::EmptyOutput { stream: self.stream.to_owned() });
        };
        if let Some(segment) = segmenter.finish().map_err(self.packaging_error())? {
            self.publisher
                .put(&format!("{}/{}", self.id, presentation::segment_name(segment.entry.number)), segment.data)?;
            entries.push(segment.entry);
        }
        if entries.is_empty() {
            return Err(TranscodeError::EmptyOutput { stream: self.id.clone() });
        }
        tracing::debug!(rendition = %self.id, segments = entries.len(), "Rendition packaged.");
        Ok(Rendition { id: self.id.clone(), track, segments: entries })
    }

    fn wait_for_zero(&self) -> Option<i64> {
        loop {
            if let Some(z) = self.zero.wait(POLL_INTERVAL) {
                return Some(z);
            }
            if self.state.abort.load(Ordering::SeqCst) {
                return None;
            }
        }
    }
}

fn caps_error(id: &str, what: &str) -> TranscodeError {
    TranscodeError::Pipeline { element: format!("sink-{id}"), message: format!("encoder output caps lack {what}") }
}

/// The packager's track description from an encoder's output caps.
fn track_from_caps(id: &str, caps: Option<&gst::CapsRef>) -> Result<Track, TranscodeError> {
    let s = caps.and_then(|c| c.structure(0)).ok_or_else(|| caps_error(id, "a structure"))?;
    let codec_data = s
        .get::<gst::Buffer>("codec_data")
        .map_err(|_| caps_error(id, "codec_data"))?
        .map_readable()
        .map_err(|_| caps_error(id, "readable codec_data"))?
        .to_vec();
    let fraction = |field: &str, default: (i32, i32)| {
        s.get::<gst::Fraction>(field).map(|f| (f.numer(), f.denom())).unwrap_or(default)
    };
    if s.name().starts_with("video/") {
        let width = s.get::<i32>("width").map_err(|_| caps_error(id, "width"))?;
        let height = s.get::<i32>("height").map_err(|_| caps_error(id, "height"))?;
        let (fn_, fd) = fraction("framerate", (0, 1));
        let (pn, pd) = fraction("pixel-aspect-ratio", (1, 1));
        let frame_rate = Rational::new(fn_.max(0) as u32, fd.max(1) as u32);
        Ok(Track {
            track_id: 1,
            timescale: video_timescale(frame_rate),
            media: TrackMedia::Video(VideoTrack {
                width: width as u32,
                height: height as u32,
                sample_aspect_ratio: Rational::new(pn.max(1) as u32, pd.max(1) as u32),
                frame_rate,
                avc_config: Bytes::from(codec_data),
            }),
        })
    } else {
        let rate = s.get::<i32>("rate").map_err(|_| caps_error(id, "rate"))?;
        let channels = s.get::<i32>("channels").map_err(|_| caps_error(id, "channels"))?;
        Ok(Track {
            track_id: 1,
            timescale: rate as u32,
            media: TrackMedia::Audio(AudioTrack {
                sample_rate: rate as u32,
                channels: channels as u16,
                audio_specific_config: Bytes::from(codec_data),
                language: "und".to_owned(),
            }),
        })
    }
}

fn appsink_error(message: &str) -> TranscodeError {
    TranscodeError::Pipeline { element: "appsink".into(), message: message.to_owned() }
}

/// The running times of an encoded sample's buffer, from the time segment it came with.
fn running_times(sample: &gst::Sample, buffer: &gst::BufferRef) -> Result<RunningTimes, TranscodeError> {
    let segment = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned())
        .ok_or_else(|| appsink_error("a sample without a time segment"))?;
    let running = |t: Option<gst::ClockTime>| t.and_then(|t| segment.to_running_time_full(t)).and_then(signed_ns);
    let pts_ns = running(buffer.pts()).ok_or_else(|| appsink_error("a buffer without a timestamp"))?;
    Ok(RunningTimes { pts_ns, dts_ns: running(buffer.dts()), duration_ns: buffer.duration().map(|d| d.nseconds()) })
}

/// Converts an encoded GStreamer sample into a packager sample on the presentation's timeline; `None` for
/// one the timeline cuts (audio before the first video frame).
fn packager_sample(sample: &gst::Sample, timeline: &Timeline) -> Result<Option<Sample>, TranscodeError> {
    let buffer = sample.buffer_owned().ok_or_else(|| appsink_error("a sample without a buffer"))?;
    let Some(time) = timeline.place(running_times(sample, &buffer)?) else { return Ok(None) };
    let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
    let data =
        Bytes::from_owner(buffer.into_mapped_buffer_readable().map_err(|_| appsink_error("an unreadable buffer"))?);
    Ok(Some(Sample { pts: time.pts, dts: time.dts, duration: time.duration, keyframe, data }))
}

/// Chooses among the candidates a run collected ([`crate::poster::choose`]), encodes the chosen one as a JPEG
/// at the poster's size and writes it to [`POSTER_PATH`]. Runs once the pipeline has finished.
pub(crate) fn publish_poster(
    frames: &[gst::Sample],
    plan: &crate::poster::PosterPlan,
    publisher: &Publisher,
) -> Result<(), TranscodeError> {
    let lumas = frames.iter().map(mean_luma_of).collect::<Result<Vec<f64>, _>>()?;
    let chosen = choose(&lumas).ok_or_else(|| TranscodeError::EmptyOutput { stream: "the poster".into() })?;
    let jpeg_caps = gst::Caps::builder("image/jpeg")
        .field("width", plan.width as i32)
        .field("height", plan.height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let timeout = gst::ClockTime::from_nseconds(POSTER_ENCODE_TIMEOUT.as_nanos() as u64);
    let jpeg = gst_video::convert_sample(&frames[chosen], &jpeg_caps, Some(timeout))
        .map_err(|e| poster_error(&format!("could not encode the poster: {e}")))?;
    let buffer = jpeg.buffer_owned().ok_or_else(|| poster_error("the encoded poster has no buffer"))?;
    let data = Bytes::from_owner(buffer.into_mapped_buffer_readable().map_err(|_| poster_error("unreadable"))?);
    tracing::debug!(candidates = lumas.len(), chosen, luma = lumas[chosen], bytes = data.len(), "Poster chosen.");
    publisher.put(POSTER_PATH, data)
}

/// How long encoding the chosen frame may take.
const POSTER_ENCODE_TIMEOUT: Duration = Duration::from_secs(30);

fn poster_error(message: &str) -> TranscodeError {
    TranscodeError::Pipeline { element: "sink-poster".into(), message: message.to_owned() }
}

/// The mean luma of a raw I420 candidate.
fn mean_luma_of(sample: &gst::Sample) -> Result<f64, TranscodeError> {
    let caps = sample.caps().ok_or_else(|| poster_error("a candidate without caps"))?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| poster_error("a candidate with odd caps"))?;
    let buffer = sample.buffer().ok_or_else(|| poster_error("a candidate without a buffer"))?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|_| poster_error("an unreadable candidate"))?;
    let stride = usize::try_from(frame.plane_stride()[0]).unwrap_or(0);
    let plane = frame.plane_data(0).map_err(|_| poster_error("a candidate without a luma plane"))?;
    Ok(mean_luma(plane, frame.width() as usize, frame.height() as usize, stride).unwrap_or(0.0))
}
