//! One transcode from start to finish: probe, plan, run the pipeline, package every track as it is
//! encoded, and publish the manifests last. On any failure everything written is removed again, so an
//! output location either holds a finished presentation or nothing that looks like one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use marquee_packager::presentation::{self, video_timescale};
use marquee_packager::segmenter::{Segmenter, SegmenterOptions};
use marquee_packager::{AudioTrack, Presentation, Rational, Rendition, Sample, Track, TrackMedia, VideoTrack};
use marquee_storage::{ObjectKey, ObjectStore};

use crate::encoder::{select_encoder, EncoderPreference, GstRegistry};
use crate::ladder::{self, LadderPreset, SourcePicture};
use crate::pipeline::{self, signed_ns, PresentationZero};
use crate::probe;
use crate::progress::ProgressEvent;
use crate::TranscodeError;

/// How long the pipeline may go without producing any encoded data before it is declared stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Rendition id of the audio track.
pub const AUDIO_RENDITION_ID: &str = "audio_aac";

/// What to transcode and how.
#[derive(Debug, Clone)]
pub struct TranscodeRequest {
    pub input: PathBuf,
    pub preset: LadderPreset,
    pub encoder: EncoderPreference,
    /// Write a `sidx` at the start of each media segment.
    pub sidx: bool,
    /// Replace a presentation already published at the output.
    pub force: bool,
    pub stall_timeout: Duration,
}

/// What a finished transcode produced.
#[derive(Debug, Clone)]
pub struct TranscodeSummary {
    pub output: String,
    pub encoder: &'static str,
    pub renditions: Vec<String>,
    pub duration_s: f64,
    pub segments: usize,
    pub wall_s: f64,
}

/// Runs one transcode to completion. Blocking: call it from a plain thread; `runtime` runs the storage
/// calls. `cancel` stops the run (and cleans up) when set.
pub fn transcode(
    request: &TranscodeRequest,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Handle,
    on_progress: &mut dyn FnMut(&ProgressEvent),
    cancel: Arc<AtomicBool>,
) -> Result<TranscodeSummary, TranscodeError> {
    let started = Instant::now();
    crate::init()?;

    let source = probe::probe(&request.input)?;
    let (width, height) = source.video.display_size();
    let plan = ladder::plan(&request.preset, SourcePicture { width, height, frame_rate: source.video.frame_rate })?;
    let encoder = select_encoder(request.encoder, &GstRegistry)?;
    tracing::info!(
        input = %request.input.display(),
        width, height,
        rotation = source.video.rotation,
        audio = source.audio.is_some(),
        encoder = encoder.factory(),
        rungs = plan.rungs.len(),
        "Planned ladder."
    );

    let publisher = Arc::new(Publisher { store, runtime, written: Mutex::new(Vec::new()) });
    publisher.prepare(request.force)?;

    let mut renditions: Vec<String> = plan.rungs.iter().map(|r| r.id.clone()).collect();
    if source.audio.is_some() {
        renditions.push(AUDIO_RENDITION_ID.to_owned());
    }
    on_progress(&ProgressEvent::Started {
        input: request.input.display().to_string(),
        duration_s: source.duration_s,
        encoder: encoder.factory(),
        renditions: renditions.clone(),
    });

    let result = run_pipeline(request, &source, &plan, encoder, &publisher, on_progress, &cancel, started).and_then(
        |presentation| {
            let segments = presentation.video.iter().chain(&presentation.audio).map(|r| r.segments.len()).sum();
            on_progress(&ProgressEvent::Publishing { segments });
            publisher.publish_manifests(&presentation)?;
            Ok((presentation, segments))
        },
    );
    match result {
        Ok((presentation, segments)) => {
            let summary = TranscodeSummary {
                output: publisher.store.location(),
                encoder: encoder.factory(),
                renditions,
                duration_s: presentation.duration_secs(),
                segments,
                wall_s: started.elapsed().as_secs_f64(),
            };
            on_progress(&ProgressEvent::Finished {
                output: summary.output.clone(),
                duration_s: summary.duration_s,
                wall_s: summary.wall_s,
                segments,
            });
            Ok(summary)
        }
        Err(e) => {
            publisher.remove_written();
            Err(e)
        }
    }
}

/// Shared by the pullers to know when to give up.
struct RunState {
    abort: AtomicBool,
    /// Milliseconds since the start at which encoded data last arrived.
    last_activity_ms: AtomicU64,
    started: Instant,
}

impl RunState {
    fn touch(&self) {
        self.last_activity_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Per-track counters the progress reporting reads.
#[derive(Default)]
struct TrackStats {
    /// Presentation time reached, microseconds.
    position_us: AtomicU64,
    samples: AtomicU64,
}

#[allow(clippy::too_many_arguments)]
fn run_pipeline(
    request: &TranscodeRequest,
    source: &probe::SourceInfo,
    plan: &ladder::LadderPlan,
    encoder: crate::encoder::EncoderFamily,
    publisher: &Arc<Publisher>,
    on_progress: &mut dyn FnMut(&ProgressEvent),
    cancel: &AtomicBool,
    started: Instant,
) -> Result<Presentation, TranscodeError> {
    let built = pipeline::build(source, &request.preset, plan, encoder)?;
    // The stall clock starts now, not at the start of the job: probing and planning are not the pipeline.
    let state = Arc::new(RunState {
        abort: AtomicBool::new(false),
        last_activity_ms: AtomicU64::new(started.elapsed().as_millis() as u64),
        started,
    });
    let segment_target = Duration::from_secs_f64(request.preset.segment_duration_s);
    let options = SegmenterOptions { sidx: request.sidx };

    // Decoders conceal corrupt frames instead of failing the whole job after a few bad ones.
    built.pipeline.connect_deep_element_added(|_, _, element| {
        if element.find_property("max-errors").is_some() {
            element.set_property("max-errors", -1i32);
        }
    });

    // Start before the pullers: a stopped appsink reports end-of-stream, which would end them at once.
    let bus = built.pipeline.bus().expect("a pipeline has a bus");
    if built.pipeline.set_state(gst::State::Playing).is_err() {
        let _ = built.pipeline.set_state(gst::State::Null);
        return Err(first_bus_error(&bus));
    }

    let mut video_stats = Vec::new();
    let mut pullers: Vec<(String, JoinHandle<Result<Rendition, TranscodeError>>)> = Vec::new();
    for (rung, sink) in plan.rungs.iter().zip(&built.video_sinks) {
        let stats = Arc::new(TrackStats::default());
        video_stats.push(stats.clone());
        let puller = TrackPuller {
            id: rung.id.clone(),
            sink: sink.clone(),
            publisher: publisher.clone(),
            zero: built.zero.clone(),
            state: state.clone(),
            stats,
            segment_target,
            options,
        };
        pullers.push((rung.id.clone(), spawn_puller(puller)?));
    }
    if let Some(sink) = &built.audio_sink {
        let puller = TrackPuller {
            id: AUDIO_RENDITION_ID.to_owned(),
            sink: sink.clone(),
            publisher: publisher.clone(),
            zero: built.zero.clone(),
            state: state.clone(),
            stats: Arc::new(TrackStats::default()),
            segment_target,
            options,
        };
        pullers.push((AUDIO_RENDITION_ID.to_owned(), spawn_puller(puller)?));
    }

    let outcome = drive(&built.pipeline, request, source, &state, &video_stats, on_progress, cancel);
    if outcome.is_err() {
        state.abort.store(true, Ordering::SeqCst);
    }
    let _ = built.pipeline.set_state(gst::State::Null);

    let mut results = Vec::new();
    for (id, handle) in pullers {
        let r = handle.join().unwrap_or_else(|_| {
            Err(TranscodeError::Pipeline { element: id.clone(), message: "packaging thread panicked".into() })
        });
        results.push(r);
    }
    if let Err(e) = outcome {
        // Prefer what a packaging thread reported over the "cancelled" that stopped the others.
        let cause = results.into_iter().filter_map(Result::err).find(|e| !matches!(e, TranscodeError::Cancelled));
        return Err(match (e, cause) {
            (TranscodeError::Cancelled, Some(cause)) if !cancel.load(Ordering::SeqCst) => cause,
            (e, _) => e,
        });
    }
    let mut video = Vec::new();
    let mut audio = None;
    for r in results {
        let rendition = r?;
        if rendition.track.is_video() {
            video.push(rendition);
        } else {
            audio = Some(rendition);
        }
    }
    Ok(Presentation { video, audio, segment_target_secs: request.preset.segment_duration_s })
}

/// Runs the pipeline until end of stream, an error, a stall, or cancellation, reporting progress.
#[allow(clippy::too_many_arguments)]
fn drive(
    pipeline: &gst::Pipeline,
    request: &TranscodeRequest,
    source: &probe::SourceInfo,
    state: &RunState,
    video_stats: &[Arc<TrackStats>],
    on_progress: &mut dyn FnMut(&ProgressEvent),
    cancel: &AtomicBool,
) -> Result<(), TranscodeError> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut last_progress = Instant::now();
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(TranscodeError::Cancelled);
        }
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(POLL_INTERVAL.as_nanos() as u64)) {
            match msg.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(err) => return Err(pipeline_error(&msg, err)),
                gst::MessageView::StateChanged(sc)
                    if sc.current() == gst::State::Playing
                        && msg.src().is_some_and(|s| s == pipeline.upcast_ref::<gst::Object>()) =>
                {
                    tracing::debug!("Pipeline playing.");
                }
                gst::MessageView::Warning(w) => {
                    tracing::warn!(
                        element = %msg.src().map(|s| s.path_string().to_string()).unwrap_or_default(),
                        warning = %w.error(),
                        "Pipeline warning."
                    );
                }
                _ => {}
            }
        }
        // A packaging thread failed; its own error is reported once it is joined.
        if state.abort.load(Ordering::SeqCst) {
            return Err(TranscodeError::Cancelled);
        }
        // A puller may touch the clock between these two reads: saturate rather than underflow.
        let idle_ms =
            (state.started.elapsed().as_millis() as u64).saturating_sub(state.last_activity_ms.load(Ordering::Relaxed));
        let position =
            video_stats.iter().map(|s| s.position_us.load(Ordering::Relaxed)).min().unwrap_or(0) as f64 / 1e6;
        if idle_ms > request.stall_timeout.as_millis() as u64 {
            return Err(TranscodeError::Stalled { seconds: request.stall_timeout.as_secs(), position });
        }
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            last_progress = Instant::now();
            let elapsed = state.started.elapsed().as_secs_f64().max(1e-3);
            let frames = video_stats.first().map(|s| s.samples.load(Ordering::Relaxed)).unwrap_or(0);
            on_progress(&ProgressEvent::Progress {
                position_s: position,
                duration_s: source.duration_s,
                fps: frames as f64 / elapsed,
                speed: position / elapsed,
            });
        }
    }
}

fn pipeline_error(msg: &gst::Message, err: &gst::message::Error) -> TranscodeError {
    let element = msg.src().map(|s| s.name().to_string()).unwrap_or_else(|| "pipeline".into());
    let mut message = err.error().to_string();
    if let Some(details) = err.debug() {
        tracing::debug!(element = %element, details = %details, "Pipeline error details.");
        // The first line of the debug string usually names the real cause (e.g. "not-negotiated").
        if message.contains("Internal data stream error") {
            if let Some(reason) = details.split("reason ").nth(1) {
                message = format!("{message} ({})", reason.trim_end_matches(')'));
            }
        }
    }
    TranscodeError::Pipeline { element, message }
}

fn first_bus_error(bus: &gst::Bus) -> TranscodeError {
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Error(err) = msg.view() {
            return pipeline_error(&msg, err);
        }
    }
    TranscodeError::Pipeline { element: "pipeline".into(), message: "could not start".into() }
}

/// Pulls one appsink's encoded samples into a segmenter and writes the segments.
struct TrackPuller {
    id: String,
    sink: gst_app::AppSink,
    publisher: Arc<Publisher>,
    zero: Arc<PresentationZero>,
    state: Arc<RunState>,
    stats: Arc<TrackStats>,
    segment_target: Duration,
    options: SegmenterOptions,
}

fn spawn_puller(puller: TrackPuller) -> Result<JoinHandle<Result<Rendition, TranscodeError>>, TranscodeError> {
    std::thread::Builder::new().name(format!("pkg-{}", puller.id)).spawn(move || puller.run()).map_err(|e| {
        TranscodeError::Pipeline { element: "packager".into(), message: format!("could not start a thread: {e}") }
    })
}

impl TrackPuller {
    fn run(self) -> Result<Rendition, TranscodeError> {
        let result = self.pull_all();
        if result.is_err() {
            self.state.abort.store(true, Ordering::SeqCst);
        }
        result
    }

    fn pull_all(&self) -> Result<Rendition, TranscodeError> {
        let pull_timeout = gst::ClockTime::from_nseconds(POLL_INTERVAL.as_nanos() as u64);
        let mut packaging: Option<(Segmenter, Track)> = None;
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
                    .map_err(|source| TranscodeError::Packaging { rendition: self.id.clone(), source })?;
                packaging = Some((segmenter, track));
            }
            let (segmenter, track) = packaging.as_mut().expect("set above");
            let Some(s) = to_packager_sample(&sample, zero, track)? else { continue };
            self.stats.samples.fetch_add(1, Ordering::Relaxed);
            let position_us = (s.pts.max(0) as u128 * 1_000_000 / u128::from(track.timescale)) as u64;
            self.stats.position_us.fetch_max(position_us, Ordering::Relaxed);
            let first = segmenter.init_segment().is_none();
            let pushed =
                segmenter.push(s).map_err(|source| TranscodeError::Packaging { rendition: self.id.clone(), source })?;
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
        let Some((mut segmenter, track)) = packaging else {
            let stream = if self.id == AUDIO_RENDITION_ID { "the audio" } else { "the video" };
            return Err(TranscodeError::EmptyOutput { stream: stream.to_owned() });
        };
        if let Some(segment) =
            segmenter.finish().map_err(|source| TranscodeError::Packaging { rendition: self.id.clone(), source })?
        {
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

fn ns_to_ticks(ns: i64, timescale: u32) -> i64 {
    let t = i128::from(ns) * i128::from(timescale);
    // Round to nearest, symmetric for negative times.
    let q = (t.abs() + 500_000_000) / 1_000_000_000;
    (if t < 0 { -q } else { q }) as i64
}

/// Converts an encoded GStreamer sample into a packager sample on the presentation's timeline. Samples
/// before the presentation's zero (audio that starts before the first video frame) are dropped.
fn to_packager_sample(sample: &gst::Sample, zero_ns: i64, track: &Track) -> Result<Option<Sample>, TranscodeError> {
    let buffer = sample.buffer_owned().ok_or_else(|| TranscodeError::Pipeline {
        element: "appsink".into(),
        message: "a sample without a buffer".into(),
    })?;
    let segment = sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned()).ok_or_else(|| {
        TranscodeError::Pipeline { element: "appsink".into(), message: "a sample without a time segment".into() }
    })?;
    let running = |t: Option<gst::ClockTime>| t.and_then(|t| segment.to_running_time_full(t)).and_then(signed_ns);
    let Some(pts_ns) = running(buffer.pts()) else {
        return Err(TranscodeError::Pipeline {
            element: "appsink".into(),
            message: "a buffer without a timestamp".into(),
        });
    };
    let dts_ns = running(buffer.dts()).unwrap_or(pts_ns);
    let ts = track.timescale;
    let pts = ns_to_ticks(pts_ns - zero_ns, ts);
    let dts = ns_to_ticks(dts_ns - zero_ns, ts).min(pts);
    let default_duration = match &track.media {
        TrackMedia::Video(v) if v.frame_rate.num > 0 => {
            (u64::from(ts) * u64::from(v.frame_rate.den) / u64::from(v.frame_rate.num)) as i64
        }
        TrackMedia::Video(_) => i64::from(ts) / 30,
        TrackMedia::Audio(_) => 1024,
    };
    let duration =
        buffer.duration().map(|d| ns_to_ticks(d.nseconds() as i64, ts)).filter(|d| *d > 0).unwrap_or(default_duration);
    if !track.is_video() && pts < 0 {
        return Ok(None);
    }
    let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
    let data =
        Bytes::from_owner(buffer.into_mapped_buffer_readable().map_err(|_| TranscodeError::Pipeline {
            element: "appsink".into(),
            message: "an unreadable buffer".into(),
        })?);
    Ok(Some(Sample { pts, dts, duration: u32::try_from(duration).unwrap_or(u32::MAX), keyframe, data }))
}

/// Writes through the storage layer and remembers what it wrote, so a failed run can be removed.
struct Publisher {
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Handle,
    written: Mutex<Vec<ObjectKey>>,
}

impl Publisher {
    fn key(name: &str) -> Result<ObjectKey, TranscodeError> {
        Ok(ObjectKey::parse(name)?)
    }

    fn put(&self, name: &str, body: Bytes) -> Result<(), TranscodeError> {
        let key = Self::key(name)?;
        self.runtime.block_on(self.store.put(&key, body))?;
        self.written.lock().expect("written lock").push(key);
        Ok(())
    }

    /// Refuses to write over a published presentation unless `force`; with `force`, unpublishes it
    /// (manifests first, so it never looks finished while half replaced) and removes its other objects.
    fn prepare(&self, force: bool) -> Result<(), TranscodeError> {
        let existing = self.runtime.block_on(self.store.list(""))?;
        let markers = [presentation::MULTIVARIANT_PLAYLIST_NAME, presentation::MPD_NAME];
        let published: Vec<&ObjectKey> = existing.iter().filter(|k| markers.contains(&k.as_str())).collect();
        if let Some(marker) = published.first() {
            if !force {
                return Err(TranscodeError::AlreadyPublished {
                    location: self.store.location(),
                    marker: marker.as_str().to_owned(),
                });
            }
        }
        if force {
            for key in published.iter().copied().chain(existing.iter().filter(|k| !markers.contains(&k.as_str()))) {
                self.runtime.block_on(self.store.delete(key))?;
            }
        }
        Ok(())
    }

    /// Playlists of each rendition, then the DASH manifest, then the multivariant playlist: the two
    /// top-level manifests are what marks a presentation finished, so they go last.
    fn publish_manifests(&self, p: &Presentation) -> Result<(), TranscodeError> {
        let render = |r: Result<String, marquee_packager::PackagerError>, what: &str| {
            r.map_err(|source| TranscodeError::Packaging { rendition: what.to_owned(), source })
        };
        for r in p.video.iter().chain(&p.audio) {
            let media = render(marquee_packager::hls::media_playlist(r), &r.id)?;
            self.put(&r.media_playlist_path(), Bytes::from(media))?;
            if r.track.is_video() {
                let iframes = render(marquee_packager::hls::iframe_playlist(r), &r.id)?;
                self.put(&r.iframe_playlist_path(), Bytes::from(iframes))?;
            }
        }
        let mpd = render(marquee_packager::dash::mpd(p), presentation::MPD_NAME)?;
        let master = render(marquee_packager::hls::multivariant_playlist(p), presentation::MULTIVARIANT_PLAYLIST_NAME)?;
        self.put(presentation::MPD_NAME, Bytes::from(mpd))?;
        self.put(presentation::MULTIVARIANT_PLAYLIST_NAME, Bytes::from(master))?;
        Ok(())
    }

    /// Removes everything this run wrote, newest first (manifests before segments).
    fn remove_written(&self) {
        let written = std::mem::take(&mut *self.written.lock().expect("written lock"));
        for key in written.iter().rev() {
            if let Err(e) = self.runtime.block_on(self.store.delete(key)) {
                tracing::error!(key = %key.as_str(), error = %e, "Could not remove a partial output object.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_to_nearest_both_ways() {
        assert_eq!(ns_to_ticks(33_366_666, 90_000), 3003);
        assert_eq!(ns_to_ticks(-33_366_666, 90_000), -3003);
        assert_eq!(ns_to_ticks(21_333_333, 48_000), 1024);
        assert_eq!(ns_to_ticks(0, 48_000), 0);
    }
}
