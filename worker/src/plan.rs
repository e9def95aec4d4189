//! The worker's decisions as values: which encoders it advertises, which one a job gets, how transcoder
//! progress reads on the asset, what a failure is called and whether another attempt may succeed, and the
//! renditions a published master playlist lists. No I/O.

use marquee_farm_protocol::{codes, JobProgress, Rendition};
use marquee_transcoder::encoder::{select_encoder, ElementRegistry, EncoderPreference};
use marquee_transcoder::probe::SourceInfo;
use marquee_transcoder::progress::ProgressEvent;
use marquee_transcoder::TranscodeError;

/// The encoder families the farm routes by, with the preference that selects each.
const FAMILIES: [(&str, EncoderPreference); 4] = [
    ("x264", EncoderPreference::X264),
    ("nvenc", EncoderPreference::Nvenc),
    ("vaapi", EncoderPreference::Vaapi),
    ("qsv", EncoderPreference::Qsv),
];

/// The families this machine's GStreamer registry has (the `marquee encoders` logic).
pub fn available_encoders(registry: &dyn ElementRegistry) -> Vec<&'static str> {
    FAMILIES.iter().filter(|(_, pref)| select_encoder(*pref, registry).is_ok()).map(|(name, _)| *name).collect()
}

/// The encoder to run a job with: the one it asks for if this worker has it, x264 when the job allows that
/// fallback, any (hardware first) when it asks for none.
pub fn encoder_for(asked: Option<&str>, x264_fallback: bool, available: &[&str]) -> Result<EncoderPreference, String> {
    let Some(asked) = asked else { return Ok(EncoderPreference::Auto) };
    let preference = |name: &str| FAMILIES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p);
    if available.contains(&asked) {
        return preference(asked).ok_or_else(|| format!("the job asks for an unknown encoder {asked:?}"));
    }
    if x264_fallback && available.contains(&"x264") {
        return Ok(EncoderPreference::X264);
    }
    Err(format!("the job needs the {asked} encoder, which this worker does not have"))
}

/// A transcoder event as the asset's progress (`None` for events that change nothing).
pub fn progress_of(event: &ProgressEvent) -> Option<JobProgress> {
    match event {
        ProgressEvent::Started { .. } => {
            Some(JobProgress { stage: "encoding".into(), percent: Some(0.0), ..JobProgress::default() })
        }
        ProgressEvent::Progress { position_s, duration_s, fps, speed } => {
            let percent = duration_s.filter(|d| *d > 0.0).map(|d| (position_s / d * 100.0).clamp(0.0, 100.0));
            let eta_seconds = match duration_s {
                Some(d) if *speed > 0.0 => Some(((d - position_s) / speed).max(0.0)),
                _ => None,
            };
            Some(JobProgress {
                stage: "encoding".into(),
                percent: percent.map(round1),
                fps: Some(round1(*fps)),
                eta_seconds: eta_seconds.map(round1),
            })
        }
        ProgressEvent::Publishing { .. } => {
            Some(JobProgress { stage: "publishing".into(), percent: Some(100.0), ..JobProgress::default() })
        }
        ProgressEvent::Finished { .. } => None,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A failure's stable code and whether another attempt (on this or another worker) may succeed.
pub fn classify(error: &TranscodeError) -> (&'static str, bool) {
    match error {
        TranscodeError::UnsupportedInput { .. }
        | TranscodeError::InputUnreadable { .. }
        | TranscodeError::EmptyOutput { .. } => (codes::INVALID_MEDIA, false),
        TranscodeError::Preset { .. } => ("invalid_preset", false),
        TranscodeError::EncoderUnavailable { .. } | TranscodeError::MissingElement { .. } => {
            ("encoder_unavailable", true)
        }
        TranscodeError::Pipeline { .. }
        | TranscodeError::Stalled { .. }
        | TranscodeError::AlreadyPublished { .. }
        | TranscodeError::Packaging { .. }
        | TranscodeError::Storage(_)
        | TranscodeError::Cancelled => (codes::TRANSCODE_FAILED, true),
    }
}

/// The video renditions a master playlist lists (its variants: name from the URI's folder, picture size,
/// bandwidths, codecs).
pub fn renditions_of(master: &[u8]) -> Result<Vec<Rendition>, String> {
    let playlist =
        m3u8_rs::parse_master_playlist_res(master).map_err(|e| format!("the master playlist does not parse: {e}"))?;
    let renditions: Vec<Rendition> = playlist
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| Rendition {
            name: v.uri.split('/').next().unwrap_or(&v.uri).to_string(),
            width: v.resolution.map(|r| r.width),
            height: v.resolution.map(|r| r.height),
            bandwidth: v.bandwidth,
            average_bandwidth: v.average_bandwidth,
            codecs: v.codecs.clone().unwrap_or_default(),
        })
        .collect();
    if renditions.is_empty() {
        return Err("the master playlist lists no variant".into());
    }
    Ok(renditions)
}

/// What the probe found, as the asset's `source`.
pub fn source_facts(source: &SourceInfo) -> serde_json::Value {
    let video = &source.video;
    let (width, height) = video.display_size();
    serde_json::json!({
        "duration_seconds": source.duration_s,
        "video": {
            "width": video.width,
            "height": video.height,
            "display_width": width,
            "display_height": height,
            "frame_rate": if video.frame_rate.1 == 0 { 0.0 } else { f64::from(video.frame_rate.0) / f64::from(video.frame_rate.1) },
            "rotation": video.rotation,
        },
        "audio": source.audio.as_ref().map(|a| serde_json::json!({"channels": a.channels, "sample_rate": a.sample_rate})),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    struct Registry(HashSet<&'static str>);

    impl ElementRegistry for Registry {
        fn has_element(&self, factory: &str) -> bool {
            self.0.contains(factory)
        }
    }

    #[test]
    fn a_worker_advertises_what_its_registry_has() {
        let cpu = Registry(["x264enc"].into_iter().collect());
        assert_eq!(available_encoders(&cpu), vec!["x264"]);
        // NVDEC without NVENC (the H100/H200 this project is lent) advertises no nvenc.
        let h100 = Registry(["x264enc", "nvh264dec"].into_iter().collect());
        assert_eq!(available_encoders(&h100), vec!["x264"]);
        let gpu = Registry(["x264enc", "nvh264enc", "vah264enc"].into_iter().collect());
        assert_eq!(available_encoders(&gpu), vec!["x264", "nvenc", "vaapi"]);
    }

    #[test]
    fn jobs_get_their_encoder_or_the_allowed_fallback() {
        assert_eq!(encoder_for(None, false, &["x264"]), Ok(EncoderPreference::Auto));
        assert_eq!(encoder_for(Some("nvenc"), false, &["x264", "nvenc"]), Ok(EncoderPreference::Nvenc));
        assert_eq!(encoder_for(Some("nvenc"), true, &["x264"]), Ok(EncoderPreference::X264));
        let refused = encoder_for(Some("nvenc"), false, &["x264"]).unwrap_err();
        assert!(refused.contains("nvenc"), "{refused}");
    }

    #[test]
    fn not_media_is_not_retried_and_a_stall_is() {
        let (code, retry) = classify(&TranscodeError::UnsupportedInput { reason: "not media".into() });
        assert_eq!((code, retry), (codes::INVALID_MEDIA, false));
        let (code, retry) = classify(&TranscodeError::Stalled { seconds: 30, position: 1.0 });
        assert_eq!((code, retry), (codes::TRANSCODE_FAILED, true));
    }

    #[test]
    fn renditions_come_from_the_variants() {
        let master = b"#EXTM3U\n#EXT-X-VERSION:7\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=900000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n\
            video_360p/playlist.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\"\n\
            video_720p/playlist.m3u8\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI=\"video_360p/iframes.m3u8\"\n";
        let renditions = renditions_of(master).unwrap();
        assert_eq!(renditions.len(), 2);
        assert_eq!(renditions[0].name, "video_360p");
        assert_eq!((renditions[0].width, renditions[0].height), (Some(640), Some(360)));
        assert_eq!((renditions[0].bandwidth, renditions[0].average_bandwidth), (1_200_000, Some(900_000)));
        assert_eq!(renditions[1].codecs, "avc1.64001f,mp4a.40.2");
        assert!(renditions_of(b"#EXTM3U\n").is_err());
    }

    proptest! {
        /// Progress is a percentage in 0..=100 and the ETA is never negative, whatever the transcoder says.
        #[test]
        fn progress_stays_in_range(position in 0.0f64..1000.0, duration in 0.0f64..1000.0, speed in 0.0f64..10.0) {
            let event = ProgressEvent::Progress { position_s: position, duration_s: Some(duration), fps: 30.0, speed };
            let progress = progress_of(&event).unwrap();
            if let Some(p) = progress.percent {
                prop_assert!((0.0..=100.0).contains(&p));
            }
            if let Some(eta) = progress.eta_seconds {
                prop_assert!(eta >= 0.0);
            }
        }
    }
}
