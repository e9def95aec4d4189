//! One transcode from start to finish: probe, plan, run the pipeline with a packaging thread per track, and
//! publish the manifests last. On any failure everything written is removed again, so an output location
//! either holds a finished presentation or nothing that looks like one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use marquee_packager::segmenter::SegmenterOptions;
use marquee_packager::{Presentation, Rendition};
use marquee_storage::ObjectStore;

use crate::encoder::{select_encoder, EncoderFamily, EncoderPreference, GstRegistry};
use crate::ladder::{self, LadderPlan, LadderPreset, SourcePicture};
use crate::packaging::{publish_poster, RunState, TrackPuller, TrackStats, POLL_INTERVAL};
use crate::pipeline;
use crate::probe::{self, SourceInfo};
use crate::progress::ProgressEvent;
use crate::publish::Publisher;
use crate::TranscodeError;

/// How long the pipeline may go without producing any encoded data before it is declared stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
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

    let publisher = Arc::new(Publisher::new(store, runtime));
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

    let run =
        LadderRun { request, source: &source, plan: &plan, encoder, publisher: &publisher, cancel: &cancel, started };
    let result = run.run(on_progress).and_then(|presentation| {
        let segments = presentation.video.iter().chain(&presentation.audio).map(|r| r.segments.len()).sum();
        on_progress(&ProgressEvent::Publishing { segments });
        publisher.publish_manifests(&presentation)?;
        Ok((presentation, segments))
    });
    match result {
        Ok((presentation, segments)) => {
            let summary = TranscodeSummary {
                output: publisher.location(),
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

/// One run of the ladder's pipeline: what it encodes, where the output goes, and when to stop.
struct LadderRun<'a> {
    request: &'a TranscodeRequest,
    source: &'a SourceInfo,
    plan: &'a LadderPlan,
    encoder: EncoderFamily,
    publisher: &'a Arc<Publisher>,
    cancel: &'a AtomicBool,
    /// When the transcode started (probing included).
    started: Instant,
}

impl LadderRun<'_> {
    /// Builds and plays the pipeline, packages every track as it is encoded, and returns the presentation
    /// once every track reached its end.
    fn run(&self, on_progress: &mut dyn FnMut(&ProgressEvent)) -> Result<Presentation, TranscodeError> {
        let request = self.request;
        let built = pipeline::build(self.source, &request.preset, self.plan, self.encoder)?;
        // The stall clock starts now, not at the start of the job: probing and planning are not the pipeline.
        let state = Arc::new(RunState::new(self.started));
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

        let puller =
            |id: &str, stream: &'static str, sink: &gstreamer_app::AppSink, stats: Arc<TrackStats>| TrackPuller {
                id: id.to_owned(),
                stream,
                sink: sink.clone(),
                publisher: self.publisher.clone(),
                zero: built.zero.clone(),
                state: state.clone(),
                stats,
                segment_target,
                options,
            };
        let mut video_stats = Vec::new();
        let mut pullers: Vec<(String, JoinHandle<Result<Rendition, TranscodeError>>)> = Vec::new();
        for (rung, sink) in self.plan.rungs.iter().zip(&built.video_sinks) {
            let stats = Arc::new(TrackStats::default());
            video_stats.push(stats.clone());
            pullers.push((rung.id.clone(), puller(&rung.id, "the video", sink, stats).spawn()?));
        }
        if let Some(sink) = &built.audio_sink {
            let stats = Arc::new(TrackStats::default());
            pullers
                .push((AUDIO_RENDITION_ID.to_owned(), puller(AUDIO_RENDITION_ID, "the audio", sink, stats).spawn()?));
        }

        let outcome = self.drive(&built.pipeline, &state, &video_stats, on_progress);
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
                (TranscodeError::Cancelled, Some(cause)) if !self.cancel.load(Ordering::SeqCst) => cause,
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
        let frames = std::mem::take(&mut *built.poster_frames.lock().expect("poster frames lock"));
        publish_poster(&frames, &built.poster_plan, self.publisher)?;
        Ok(Presentation { video, audio, segment_target_secs: request.preset.segment_duration_s })
    }

    /// Runs the pipeline until end of stream, an error, a stall, or cancellation, reporting progress.
    fn drive(
        &self,
        pipeline: &gst::Pipeline,
        state: &RunState,
        video_stats: &[Arc<TrackStats>],
        on_progress: &mut dyn FnMut(&ProgressEvent),
    ) -> Result<(), TranscodeError> {
        let stall_timeout = self.request.stall_timeout;
        let bus = pipeline.bus().expect("a pipeline has a bus");
        let mut last_progress = Instant::now();
        loop {
            if self.cancel.load(Ordering::SeqCst) {
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
            let idle_ms = (state.started.elapsed().as_millis() as u64)
                .saturating_sub(state.last_activity_ms.load(Ordering::Relaxed));
            let position =
                video_stats.iter().map(|s| s.position_us.load(Ordering::Relaxed)).min().unwrap_or(0) as f64 / 1e6;
            if idle_ms > stall_timeout.as_millis() as u64 {
                return Err(TranscodeError::Stalled { seconds: stall_timeout.as_secs(), position });
            }
            if last_progress.elapsed() >= PROGRESS_INTERVAL {
                last_progress = Instant::now();
                let elapsed = state.started.elapsed().as_secs_f64().max(1e-3);
                let frames = video_stats.first().map(|s| s.samples.load(Ordering::Relaxed)).unwrap_or(0);
                on_progress(&ProgressEvent::Progress {
                    position_s: position,
                    duration_s: self.source.duration_s,
                    fps: frames as f64 / elapsed,
                    speed: position / elapsed,
                });
            }
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
