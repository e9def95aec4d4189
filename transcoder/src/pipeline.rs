//! Builds the GStreamer graph for one ladder:
//!
//! ```text
//! uridecodebin ─video─► videoflip(auto) ─[videorate]─► tee₀ ─► queue ► scale ► I420 WxH ─► tee₁ ─► queue ► enc ► parse ► appsink
//!               │                                               (rung 1 scales from rung 0's picture,  └─► queue ► scale ► … (rung 2)
//!               │                                                rung 2 from rung 1's: cascaded; a probe on tee₁ copies the poster candidates)
//!               └─audio─► queue ► audioconvert ► audioresample ► 48k stereo ► AAC ► aacparse ► appsink
//! ```
//!
//! The source is decoded once. Keyframes are forced by one probe in front of `tee₀` that sends a
//! force-key-unit event at every keyframe boundary of presentation time; the events travel through every
//! branch in order with the frames, so every rung makes the same frames keyframes. The poster costs a copy
//! of a few of the top rung's frames ([`crate::poster`] says which), not a second decode.

use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use crate::encoder::EncoderFamily;
use crate::ladder::{LadderPlan, LadderPreset};
use crate::poster::{CandidateGate, PosterPlan};
use crate::probe::SourceInfo;
use crate::TranscodeError;

/// Raw frames a rung's queue may hold: enough that no encoder starves while another is busy (x264 keeps
/// its own lookahead), few enough that five 1080p branches stay within a few hundred MB.
const DEFAULT_QUEUE_FRAMES: u32 = 4;
/// Encoded buffers an appsink may hold before it pushes back on its encoder.
const DEFAULT_APPSINK_BUFFERS: u32 = 64;
/// Scaling kernel: Catmull-Rom (bicubic) keeps detail that bilinear loses at 1080p → 720p and is the
/// kernel the ffmpeg comparison uses; it costs about 0.1 CPU-s per second of 1080p source more.
const DEFAULT_SCALER_METHOD: &str = "catrom";
/// The decoder bin. `uridecodebin3` is the newer design, but in GStreamer 1.22.0 (Debian 12) it sometimes
/// never exposed a stream when started right after the Discoverer in the same process: 1 run in 8 to 30
/// hung before `pad-added` on a loaded 2-core machine, while `uridecodebin` hung 0 times in 60 under the
/// same load. Both decode the source once.
const DECODER: &str = "uridecodebin";
/// Raw audio the audio branch may queue, so the audio decoder never waits on slow video encoders.
const DEFAULT_AUDIO_QUEUE_NS: u64 = 5_000_000_000;

/// The built pipeline and the sinks to pull encoded samples from.
pub struct LadderPipeline {
    pub pipeline: gst::Pipeline,
    /// One per planned rung, in plan order.
    pub video_sinks: Vec<gst_app::AppSink>,
    pub audio_sink: Option<gst_app::AppSink>,
    /// Running time (ns) of the first video frame: the presentation's zero. Set by the keyframe probe.
    pub zero: Arc<PresentationZero>,
    /// Copies of the poster candidates (raw I420 at the top rung's size, the first frame first), filled while
    /// the pipeline runs.
    pub poster_frames: PosterFrames,
    pub poster_plan: PosterPlan,
}

/// The running time every track counts its timestamps from, known once the first frame passes.
#[derive(Debug, Default)]
pub struct PresentationZero {
    value: Mutex<Option<i64>>,
    ready: std::sync::Condvar,
}

impl PresentationZero {
    fn set_once(&self, running_time_ns: i64) {
        let mut v = self.value.lock().expect("zero lock");
        if v.is_none() {
            *v = Some(running_time_ns);
            self.ready.notify_all();
        }
    }

    /// Waits up to `timeout` for the zero to be known.
    pub fn wait(&self, timeout: std::time::Duration) -> Option<i64> {
        let guard = self.value.lock().expect("zero lock");
        let (guard, _) = self.ready.wait_timeout_while(guard, timeout, |v| v.is_none()).expect("zero lock");
        *guard
    }

    pub fn get(&self) -> Option<i64> {
        *self.value.lock().expect("zero lock")
    }
}

fn make(factory: &'static str, package: &'static str) -> Result<gst::Element, TranscodeError> {
    gst::ElementFactory::make(factory).build().map_err(|_| TranscodeError::MissingElement { element: factory, package })
}

fn make_base(factory: &'static str) -> Result<gst::Element, TranscodeError> {
    make(factory, "gstreamer1.0-plugins-base")
}

fn queue(max_buffers: u32, max_time_ns: u64) -> Result<gst::Element, TranscodeError> {
    let q = make("queue", "gstreamer1.0-plugins-base (coreelements ship with libgstreamer1.0-0)")?;
    q.set_property("max-size-buffers", max_buffers);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", max_time_ns);
    Ok(q)
}

fn capsfilter(caps: gst::Caps) -> Result<gst::Element, TranscodeError> {
    let f = make_base("capsfilter")?;
    f.set_property("caps", caps);
    Ok(f)
}

fn link_chain(elements: &[&gst::Element]) -> Result<(), TranscodeError> {
    gst::Element::link_many(elements.iter().copied()).map_err(|e| TranscodeError::Pipeline {
        element: elements.iter().map(|e| e.name().to_string()).collect::<Vec<_>>().join(" ! "),
        message: format!("could not link: {e}"),
    })
}

/// Sets the encoder's properties that it has; logs the ones it lacks (hardware encoders differ between
/// GStreamer versions) instead of failing.
fn configure_encoder(encoder: &gst::Element, properties: &[(&'static str, String)]) -> Result<(), TranscodeError> {
    for (name, value) in properties {
        let Some(pspec) = encoder.find_property(name) else {
            tracing::debug!(element = %encoder.name(), property = name, "Encoder has no such property; skipped.");
            continue;
        };
        let parsed =
            <gst::glib::Value as gst::prelude::GstValueExt>::deserialize_with_pspec(value, &pspec).map_err(|e| {
                TranscodeError::Pipeline {
                    element: encoder.name().to_string(),
                    message: format!("property {name}={value}: {e}"),
                }
            })?;
        encoder.set_property_from_value(name, &parsed);
    }
    Ok(())
}

/// Builds the pipeline for `source` and `plan`; nothing runs until the caller sets it to Playing.
pub fn build(
    source: &SourceInfo,
    preset: &LadderPreset,
    plan: &LadderPlan,
    encoder: EncoderFamily,
) -> Result<LadderPipeline, TranscodeError> {
    let pipeline = gst::Pipeline::with_name("marquee-ladder");
    let decode = make_base(DECODER)?;
    decode.set_property("uri", &source.uri);
    pipeline.add(&decode).map_err(add_error)?;

    // --- video: rotate, cap the frame rate, then the cascade of scalers and encoders.
    let flip = make("videoflip", "gstreamer1.0-plugins-good")?;
    flip.set_property_from_str("video-direction", "auto");
    // The decoder bin's multiqueue already decouples the decoder, so videoflip links straight to it.
    let mut head: Vec<gst::Element> = vec![flip];
    if let Some((num, den)) = plan.frame_rate_cap {
        head.push(make_base("videorate")?);
        head.push(capsfilter(
            gst::Caps::builder("video/x-raw").field("framerate", gst::Fraction::new(num as i32, den as i32)).build(),
        )?);
    }
    let top_tee = make("tee", "libgstreamer1.0-0")?;
    head.push(top_tee.clone());
    pipeline.add_many(&head).map_err(add_error)?;
    link_chain(&head.iter().collect::<Vec<_>>())?;
    let video_entry = head[0].static_pad("sink").expect("videoflip has a sink pad");

    let zero = Arc::new(PresentationZero::default());
    install_keyframe_probe(&head[head.len() - 2], preset.keyframe_interval_s, zero.clone());

    let max_gop_frames = max_gop_frames(preset.keyframe_interval_s, plan, source);
    let mut video_sinks = Vec::with_capacity(plan.rungs.len());
    let mut rung_filters = Vec::with_capacity(plan.rungs.len());
    let mut feed = top_tee;
    let mut top_rung_tee = None;
    for rung in &plan.rungs {
        let scale_queue = queue(DEFAULT_QUEUE_FRAMES, 0)?;
        let scale = make_base("videoconvertscale")?;
        scale.set_property_from_str("method", DEFAULT_SCALER_METHOD);
        let raw_caps = capsfilter(
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("width", rung.width as i32)
                .field("height", rung.height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )?;
        rung_filters.push(raw_caps.clone());
        let rung_tee = make("tee", "libgstreamer1.0-0")?;
        let enc_queue = queue(DEFAULT_QUEUE_FRAMES, 0)?;
        let enc = make(encoder.factory(), "the encoder's plugin package")?;
        enc.set_property("name", format!("enc-{}", rung.id));
        configure_encoder(&enc, &encoder.properties(rung, &preset.encoder, max_gop_frames))?;
        let profile = capsfilter(gst::Caps::builder("video/x-h264").field("profile", rung.profile.as_str()).build())?;
        let parse = make("h264parse", "gstreamer1.0-plugins-bad")?;
        let sink = gst_app::AppSink::builder()
            .name(format!("sink-{}", rung.id))
            .caps(&gst::Caps::builder("video/x-h264").field("stream-format", "avc").field("alignment", "au").build())
            .sync(false)
            .max_buffers(DEFAULT_APPSINK_BUFFERS)
            .build();
        let chain = [&scale_queue, &scale, &raw_caps, &rung_tee, &enc_queue, &enc, &profile, &parse, sink.upcast_ref()];
        pipeline.add_many(chain).map_err(add_error)?;
        link_chain(&[&feed, &scale_queue])?;
        link_chain(&chain)?;
        video_sinks.push(sink);
        top_rung_tee.get_or_insert_with(|| rung_tee.clone());
        feed = rung_tee;
    }

    pin_colorimetry(&head[head.len() - 2], rung_filters);

    // --- poster candidates: copies of a few of the top rung's pictures, taken by a probe on its tee (the
    // picture at the top rung's size). Not a branch with a sink of its own: a sink that holds its first frame
    // while the pipeline prerolls also holds the serialized queries that follow it (a rotated source renegotiates
    // once videoflip reads its orientation tag), which stalled the tee and with it the whole pipeline.
    let (top_width, top_height) = plan.rungs.first().map(|r| (r.width, r.height)).unwrap_or((0, 0));
    let poster_plan = PosterPlan::new(source.duration_s, top_width, top_height);
    gst::ElementFactory::find(POSTER_ENCODER)
        .ok_or(TranscodeError::MissingElement { element: POSTER_ENCODER, package: "gstreamer1.0-plugins-good" })?;
    let poster_frames = PosterFrames::default();
    if let Some(tee) = &top_rung_tee {
        poster_tap(tee, poster_plan, poster_frames.clone());
    }

    // --- audio
    let audio = match &source.audio {
        Some(_) => {
            let settings = &preset.audio;
            let q = queue(0, DEFAULT_AUDIO_QUEUE_NS)?;
            let convert = make_base("audioconvert")?;
            let resample = make_base("audioresample")?;
            let raw = capsfilter(
                gst::Caps::builder("audio/x-raw")
                    .field("rate", settings.sample_rate as i32)
                    .field("channels", settings.channels as i32)
                    .build(),
            )?;
            let enc = make("avenc_aac", "gstreamer1.0-libav")?;
            enc.set_property("bitrate", (settings.bitrate_kbps * 1000) as i32);
            let parse = make("aacparse", "gstreamer1.0-plugins-good")?;
            let sink = gst_app::AppSink::builder()
                .name("sink-audio")
                .caps(
                    &gst::Caps::builder("audio/mpeg").field("mpegversion", 4i32).field("stream-format", "raw").build(),
                )
                .sync(false)
                .max_buffers(DEFAULT_APPSINK_BUFFERS * 4)
                .build();
            let chain = [&q, &convert, &resample, &raw, &enc, &parse, sink.upcast_ref()];
            pipeline.add_many(chain).map_err(add_error)?;
            link_chain(&chain)?;
            Some((q.static_pad("sink").expect("queue has a sink pad"), sink))
        }
        None => None,
    };
    let audio_entry = audio.as_ref().map(|(pad, _)| pad.clone());

    // Decoded streams appear as pads. A pad whose kind is not known yet (no stream or caps set when it
    // is exposed) is routed when its first STREAM_START or CAPS event passes, before any data. Anything we do not package goes to a fakesink so that it is not
    // an error for the decoder to have nowhere to push it.
    let router = Arc::new(StreamRouter { video: video_entry, audio: audio_entry, pipeline: pipeline.downgrade() });
    decode.connect_pad_added(move |_, pad| {
        match stream_kind_of_pad(pad).inspect(|kind| {
            tracing::debug!(pad = %pad.name(), kind = ?kind, "Decoded stream appeared.");
        }) {
            Some(kind) => router.route(pad, kind),
            None => {
                tracing::debug!(pad = %pad.name(), "Decoded stream of unknown kind; waiting for its events.");
                let router = router.clone();
                pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
                match info.event().and_then(stream_kind_of_event) {
                    Some(kind) => {
                        tracing::debug!(pad = %pad.name(), kind = ?kind, "Decoded stream identified by its events.");
                        router.route(pad, kind);
                        gst::PadProbeReturn::Remove
                    }
                    None => gst::PadProbeReturn::Ok,
                }
            });
            }
        }
    });

    Ok(LadderPipeline { pipeline, video_sinks, audio_sink: audio.map(|(_, s)| s), zero, poster_frames, poster_plan })
}

/// Encoder of the chosen poster frame (`gst_video::convert_sample` uses it once the run is over); checked when
/// the pipeline is built so that a missing plugin fails before anything runs.
pub const POSTER_ENCODER: &str = "jpegenc";

/// The poster candidates a run collects: deep copies (so the scaler's buffer pool gets every buffer back) with
/// the caps they came with.
pub type PosterFrames = Arc<Mutex<Vec<gst::Sample>>>;

/// A probe on `tee`'s sink pad that copies the frames [`CandidateGate`] admits into `frames`; every frame goes on
/// unchanged.
fn poster_tap(tee: &gst::Element, plan: PosterPlan, frames: PosterFrames) {
    let gate = Mutex::new(CandidateGate::new(plan));
    let pad = tee.static_pad("sink").expect("tee has a sink pad");
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let mut gate = gate.lock().expect("poster gate lock");
        if gate.is_done() {
            return gst::PadProbeReturn::Remove;
        }
        let admitted = running_time_ns(pad, buffer).is_some_and(|rt| gate.admit(rt));
        if let (true, Some(caps), Ok(copy)) = (admitted, pad.current_caps(), buffer.copy_deep()) {
            frames.lock().expect("poster frames lock").push(gst::Sample::builder().buffer(&copy).caps(&caps).build());
        }
        gst::PadProbeReturn::Ok
    });
}

/// The running time of `buffer` arriving at `pad`, from the pad's time segment.
fn running_time_ns(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<i64> {
    let pts = buffer.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time_full(pts).and_then(signed_ns)
}

/// What a decoded stream carries, as far as packaging cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Video,
    Audio,
    Other,
}

fn kind_of_stream_type(t: gst::StreamType) -> StreamKind {
    if t.contains(gst::StreamType::VIDEO) {
        StreamKind::Video
    } else if t.contains(gst::StreamType::AUDIO) {
        StreamKind::Audio
    } else {
        StreamKind::Other
    }
}

fn kind_of_caps(caps: &gst::CapsRef) -> Option<StreamKind> {
    let name = caps.structure(0)?.name();
    Some(if name.starts_with("video/") {
        StreamKind::Video
    } else if name.starts_with("audio/") {
        StreamKind::Audio
    } else {
        StreamKind::Other
    })
}

fn stream_kind_of_pad(pad: &gst::Pad) -> Option<StreamKind> {
    pad.stream()
        .map(|s| kind_of_stream_type(s.stream_type()))
        .filter(|k| *k != StreamKind::Other)
        .or_else(|| pad.current_caps().and_then(|c| kind_of_caps(&c)))
}

fn stream_kind_of_event(event: &gst::Event) -> Option<StreamKind> {
    match event.view() {
        gst::EventView::StreamStart(e) => e.stream().map(|s| kind_of_stream_type(s.stream_type())),
        gst::EventView::Caps(e) => kind_of_caps(e.caps()),
        _ => None,
    }
}

/// Links each decoded stream to the branch that packages it.
struct StreamRouter {
    video: gst::Pad,
    audio: Option<gst::Pad>,
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
}

impl StreamRouter {
    fn route(&self, pad: &gst::Pad, kind: StreamKind) {
        let target = match kind {
            StreamKind::Video => Some(&self.video),
            StreamKind::Audio => self.audio.as_ref(),
            StreamKind::Other => None,
        };
        match target {
            Some(sink_pad) if !sink_pad.is_linked() => {
                if let Err(e) = pad.link(sink_pad) {
                    tracing::error!(pad = %pad.name(), error = ?e, "Could not link a decoded stream.");
                }
            }
            _ => {
                let Some(pipeline) = self.pipeline.upgrade() else { return };
                let Ok(fake) = gst::ElementFactory::make("fakesink").property("sync", false).build() else { return };
                if pipeline.add(&fake).is_ok() {
                    let _ = fake.sync_state_with_parent();
                    if let Some(sink_pad) = fake.static_pad("sink") {
                        let _ = pad.link(&sink_pad);
                    }
                }
                tracing::debug!(pad = %pad.name(), kind = ?kind, "Decoded stream not packaged.");
            }
        }
    }
}

fn add_error(e: gst::glib::BoolError) -> TranscodeError {
    TranscodeError::Pipeline { element: "pipeline".to_owned(), message: format!("could not add an element: {e}") }
}

/// The encoder's own keyframe limit: well past the forced cadence, so only forced keyframes happen.
fn max_gop_frames(interval_s: f64, plan: &LadderPlan, source: &SourceInfo) -> u32 {
    let (num, den) = plan.frame_rate_cap.unwrap_or(source.video.frame_rate);
    let fps = if num > 0 && den > 0 { f64::from(num) / f64::from(den) } else { 60.0 };
    ((interval_s * fps * 2.0).ceil() as u32).clamp(2, 1000)
}

/// Sends a force-key-unit event downstream of `element` at the first frame at or after each multiple
/// of `interval_s` of running time from the first frame; records the first frame's running time as the
/// presentation's zero.
fn install_keyframe_probe(element: &gst::Element, interval_s: f64, zero: Arc<PresentationZero>) {
    let pad = element.static_pad("src").expect("pre-tee element has a src pad");
    let interval_ns = (interval_s * 1e9).round() as i64;
    // A frame up to 1 ms early still counts as on the boundary (timestamps rounded by demuxers).
    const TOLERANCE_NS: i64 = 1_000_000;
    let next_boundary: Mutex<Option<i64>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
        let Some(segment) = pad.sticky_event::<gst::event::Segment>(0) else { return gst::PadProbeReturn::Ok };
        let Some(segment) = segment.segment().downcast_ref::<gst::ClockTime>() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(rt) = segment.to_running_time_full(pts).and_then(signed_ns) else { return gst::PadProbeReturn::Ok };
        let mut next_boundary = next_boundary.lock().expect("keyframe probe lock");
        match *next_boundary {
            None => {
                zero.set_once(rt);
                *next_boundary = Some(rt + interval_ns);
            }
            Some(boundary) if rt + TOLERANCE_NS >= boundary => {
                let start = zero.get().unwrap_or(0);
                let passed = (rt + TOLERANCE_NS - start) / interval_ns;
                *next_boundary = Some(start + (passed + 1) * interval_ns);
                let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                    .running_time(gst::ClockTime::from_nseconds(rt.max(0) as u64))
                    .all_headers(true)
                    .build();
                pad.push_event(event);
            }
            Some(_) => {}
        }
        gst::PadProbeReturn::Ok
    });
}

/// Makes every rung keep the decoded source's colorimetry. Left to itself, `videoconvertscale` picks a
/// default by picture size (BT.601 for SD, BT.709 for HD) and converts the colour matrix when a 1080p
/// source is scaled to 360p: wasted work, and rungs whose colours shift when a player switches between
/// them. The rung capsfilters are updated when the first caps pass, before those caps reach any scaler
/// (they travel through a queue first).
fn pin_colorimetry(element: &gst::Element, rung_filters: Vec<gst::Element>) {
    let pad = element.static_pad("src").expect("pre-tee element has a src pad");
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let Some(gst::EventView::Caps(caps)) = info.event().map(|e| e.view()) else {
            return gst::PadProbeReturn::Ok;
        };
        // Sources that do not say (no VUI colour description) get what GStreamer infers for the source's
        // size, which is also what the top rung is encoded and tagged with.
        let Ok(info) = gst_video::VideoInfo::from_caps(caps.caps()) else { return gst::PadProbeReturn::Ok };
        let colorimetry = info.colorimetry().to_string();
        for filter in &rung_filters {
            let mut pinned = filter.property::<gst::Caps>("caps");
            if let Some(s) = pinned.make_mut().structure_mut(0) {
                s.set("colorimetry", colorimetry.as_str());
            }
            filter.set_property("caps", pinned);
        }
        tracing::debug!(colorimetry = %colorimetry, "Rungs keep the source colorimetry.");
        gst::PadProbeReturn::Ok
    });
}

/// A signed running time in nanoseconds.
pub fn signed_ns(t: gst::Signed<gst::ClockTime>) -> Option<i64> {
    match t {
        gst::Signed::Positive(t) => i64::try_from(t.nseconds()).ok(),
        gst::Signed::Negative(t) => i64::try_from(t.nseconds()).ok().map(|v| -v),
    }
}
