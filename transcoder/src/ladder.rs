//! Ladder presets (TOML files in `pipelines/`) and ladder planning: which rungs a given source gets, at
//! which sizes and frame rate. Pure: values in, values out.

use serde::Deserialize;

use crate::TranscodeError;

/// The preset compiled into the binary, `pipelines/default.toml`.
pub const DEFAULT_PRESET_TOML: &str = include_str!("../../pipelines/default.toml");
/// Name under which [`DEFAULT_PRESET_TOML`] is found by [`LadderPreset::builtin`].
pub const DEFAULT_PRESET_NAME: &str = "default";
/// Every preset shipped in `pipelines/`, by name.
pub const BUILTIN_PRESETS: &[(&str, &str)] =
    &[(DEFAULT_PRESET_NAME, DEFAULT_PRESET_TOML), ("bench-3rung", include_str!("../../pipelines/bench-3rung.toml"))];

const DEFAULT_SEGMENT_DURATION_S: f64 = 4.0;
const DEFAULT_KEYFRAME_INTERVAL_S: f64 = 2.0;
const DEFAULT_MAX_FRAME_RATE: f64 = 60.0;
const DEFAULT_SPEED_PRESET: &str = "veryfast";
const DEFAULT_B_FRAMES: u32 = 3;
const DEFAULT_VBV_BUFFER_MS: u32 = 600;
const DEFAULT_AUDIO_BITRATE_KBPS: u32 = 128;
const DEFAULT_AUDIO_SAMPLE_RATE: u32 = 48_000;
const DEFAULT_AUDIO_CHANNELS: u32 = 2;
/// x264's speed presets, fastest first.
pub const SPEED_PRESETS: &[&str] =
    &["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"];
/// H.264 profiles a rung may ask for.
pub const PROFILES: &[&str] = &["baseline", "main", "high"];
/// H.264 levels a rung may pin (ITU-T H.264 Table A-1).
pub const LEVELS: &[&str] = &["3.0", "3.1", "3.2", "4.0", "4.1", "4.2", "5.0", "5.1", "5.2"];

/// A ladder preset as written in a `pipelines/*.toml` file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LadderPreset {
    /// Short name, used in logs.
    pub name: String,
    /// One line for `--help` listings.
    #[serde(default)]
    pub description: String,
    /// Target media segment duration, seconds.
    #[serde(default = "default_segment_duration")]
    pub segment_duration_s: f64,
    /// Forced keyframe cadence in presentation time, seconds; divides `segment_duration_s`.
    #[serde(default = "default_keyframe_interval")]
    pub keyframe_interval_s: f64,
    /// Highest output frame rate; faster sources are divided down.
    #[serde(default = "default_max_frame_rate")]
    pub max_frame_rate: f64,
    #[serde(default)]
    pub encoder: EncoderSettings,
    #[serde(default)]
    pub audio: AudioSettings,
    /// Video rungs, any order (planning sorts them, largest first).
    pub video: Vec<RungPreset>,
}

/// Settings shared by every video rung's encoder.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EncoderSettings {
    /// x264 speed preset name (see [`SPEED_PRESETS`]).
    #[serde(default = "default_speed_preset")]
    pub speed_preset: String,
    /// Maximum consecutive B-frames.
    #[serde(default = "default_b_frames")]
    pub b_frames: u32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self { speed_preset: default_speed_preset(), b_frames: DEFAULT_B_FRAMES }
    }
}

/// The audio rendition: AAC-LC.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AudioSettings {
    #[serde(default = "default_audio_bitrate")]
    pub bitrate_kbps: u32,
    #[serde(default = "default_audio_sample_rate")]
    pub sample_rate: u32,
    #[serde(default = "default_audio_channels")]
    pub channels: u32,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            bitrate_kbps: DEFAULT_AUDIO_BITRATE_KBPS,
            sample_rate: DEFAULT_AUDIO_SAMPLE_RATE,
            channels: DEFAULT_AUDIO_CHANNELS,
        }
    }
}

/// One video rung of a preset.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RungPreset {
    /// Name used in the rendition folder (`video_<name>`): letters, digits, `_` and `-`.
    pub name: String,
    /// Length of the picture's short side in pixels (1080 for 1920x1080 and for 1080x1920).
    pub short_side: u32,
    pub bitrate_kbps: u32,
    /// VBV buffer as milliseconds of `bitrate_kbps`.
    #[serde(default = "default_vbv_buffer_ms")]
    pub vbv_buffer_ms: u32,
    /// H.264 profile (see [`PROFILES`]).
    pub profile: String,
    /// H.264 level (see [`LEVELS`]). Unset (the default) lets the encoder pick the lowest level that fits
    /// the rung's size, frame rate and bitrate, which stays right for 60 fps sources where a fixed "4.0"
    /// would not. x264 only; hardware encoders choose their own.
    #[serde(default)]
    pub level: Option<String>,
}

fn default_segment_duration() -> f64 {
    DEFAULT_SEGMENT_DURATION_S
}
fn default_keyframe_interval() -> f64 {
    DEFAULT_KEYFRAME_INTERVAL_S
}
fn default_max_frame_rate() -> f64 {
    DEFAULT_MAX_FRAME_RATE
}
fn default_speed_preset() -> String {
    DEFAULT_SPEED_PRESET.to_owned()
}
fn default_b_frames() -> u32 {
    DEFAULT_B_FRAMES
}
fn default_vbv_buffer_ms() -> u32 {
    DEFAULT_VBV_BUFFER_MS
}
fn default_audio_bitrate() -> u32 {
    DEFAULT_AUDIO_BITRATE_KBPS
}
fn default_audio_sample_rate() -> u32 {
    DEFAULT_AUDIO_SAMPLE_RATE
}
fn default_audio_channels() -> u32 {
    DEFAULT_AUDIO_CHANNELS
}

impl LadderPreset {
    /// Parses and validates a preset, reporting every problem at once.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Self, TranscodeError> {
        let preset: LadderPreset = toml::from_str(text)
            .map_err(|e| TranscodeError::Preset { preset: source_name.to_owned(), problems: vec![e.to_string()] })?;
        let problems = preset.problems();
        if problems.is_empty() {
            Ok(preset)
        } else {
            Err(TranscodeError::Preset { preset: source_name.to_owned(), problems })
        }
    }

    /// A preset shipped with Marquee, by name.
    pub fn builtin(name: &str) -> Result<Self, TranscodeError> {
        let (_, text) = BUILTIN_PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| TranscodeError::Preset {
            preset: name.to_owned(),
            problems: vec![format!(
                "no built-in preset has this name (built-in: {}); pass a path to a .toml file for your own",
                BUILTIN_PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )],
        })?;
        Self::from_toml(name, text)
    }

    /// Every way this preset is unusable; empty when it is fine.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(0.5..=30.0).contains(&self.segment_duration_s) {
            p.push(format!("segment_duration_s = {} must be between 0.5 and 30", self.segment_duration_s));
        }
        if !(0.1..=30.0).contains(&self.keyframe_interval_s) {
            p.push(format!("keyframe_interval_s = {} must be between 0.1 and 30", self.keyframe_interval_s));
        } else {
            let ratio = self.segment_duration_s / self.keyframe_interval_s;
            if (ratio - ratio.round()).abs() > 1e-6 || ratio.round() < 1.0 {
                p.push(format!(
                    "keyframe_interval_s = {} must divide segment_duration_s = {} so every segment starts on a keyframe",
                    self.keyframe_interval_s, self.segment_duration_s
                ));
            }
        }
        if !(1.0..=240.0).contains(&self.max_frame_rate) {
            p.push(format!("max_frame_rate = {} must be between 1 and 240", self.max_frame_rate));
        }
        if !SPEED_PRESETS.contains(&self.encoder.speed_preset.as_str()) {
            p.push(format!(
                "encoder.speed_preset = {:?} is not one of {}",
                self.encoder.speed_preset,
                SPEED_PRESETS.join(", ")
            ));
        }
        if self.encoder.b_frames > 16 {
            p.push(format!("encoder.b_frames = {} must be at most 16", self.encoder.b_frames));
        }
        if !(16..=512).contains(&self.audio.bitrate_kbps) {
            p.push(format!("audio.bitrate_kbps = {} must be between 16 and 512", self.audio.bitrate_kbps));
        }
        if ![44_100, 48_000].contains(&self.audio.sample_rate) {
            p.push(format!("audio.sample_rate = {} must be 44100 or 48000", self.audio.sample_rate));
        }
        if !(1..=2).contains(&self.audio.channels) {
            p.push(format!("audio.channels = {} must be 1 or 2", self.audio.channels));
        }
        if self.video.is_empty() {
            p.push("at least one [[video]] rung is needed".to_owned());
        }
        for (i, rung) in self.video.iter().enumerate() {
            let at = format!("video[{i}] ({:?})", rung.name);
            if rung.name.is_empty() || !rung.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                p.push(format!("{at}: name must be non-empty letters, digits, '_' or '-'"));
            }
            if self.video[..i].iter().any(|r| r.name == rung.name) {
                p.push(format!("{at}: name is used by another rung"));
            }
            if !(64..=4320).contains(&rung.short_side) {
                p.push(format!("{at}: short_side = {} must be between 64 and 4320", rung.short_side));
            }
            if !(50..=200_000).contains(&rung.bitrate_kbps) {
                p.push(format!("{at}: bitrate_kbps = {} must be between 50 and 200000", rung.bitrate_kbps));
            }
            if !(100..=10_000).contains(&rung.vbv_buffer_ms) {
                p.push(format!("{at}: vbv_buffer_ms = {} must be between 100 and 10000", rung.vbv_buffer_ms));
            }
            if !PROFILES.contains(&rung.profile.as_str()) {
                p.push(format!("{at}: profile = {:?} is not one of {}", rung.profile, PROFILES.join(", ")));
            }
            if let Some(level) = &rung.level {
                if !LEVELS.contains(&level.as_str()) {
                    p.push(format!("{at}: level = {level:?} is not one of {}", LEVELS.join(", ")));
                }
            }
        }
        p
    }
}

/// What planning needs to know about the source's picture, after rotation is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourcePicture {
    /// Display width in pixels (sample aspect ratio applied, rotation applied).
    pub width: u32,
    pub height: u32,
    /// Nominal frame rate as num/den; 0/1 when unknown or variable.
    pub frame_rate: (u32, u32),
}

/// One rung the transcoder will actually encode.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRung {
    /// Rendition id and folder name, e.g. `video_720p`.
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub vbv_buffer_ms: u32,
    pub profile: String,
    pub level: Option<String>,
}

/// The ladder for one source.
#[derive(Debug, Clone, PartialEq)]
pub struct LadderPlan {
    /// Largest first.
    pub rungs: Vec<PlannedRung>,
    /// Output frame rate as num/den, or `None` to keep the source's timing untouched (it is at or under
    /// the cap, or variable).
    pub frame_rate_cap: Option<(u32, u32)>,
}

/// Plans the ladder for a source: rungs larger than the source are dropped (never upscale), sizes keep
/// the display aspect ratio with even dimensions, portrait sources are handled by the short side, and a
/// source smaller than every rung gets one rung at its own (even) size.
pub fn plan(preset: &LadderPreset, source: SourcePicture) -> Result<LadderPlan, TranscodeError> {
    if source.width < 2 || source.height < 2 {
        return Err(TranscodeError::UnsupportedInput {
            reason: format!("the picture is {}x{}, too small to encode", source.width, source.height),
        });
    }
    let short = source.width.min(source.height);
    let long = source.width.max(source.height);
    let portrait = source.height > source.width;

    let mut rungs: Vec<&RungPreset> = preset.video.iter().collect();
    rungs.sort_by_key(|r| std::cmp::Reverse(r.short_side));

    let size_for = |target_short: u32| -> (u32, u32) {
        let target_short = even_floor(target_short.min(short));
        let target_long = even_round(f64::from(long) * f64::from(target_short) / f64::from(short));
        if portrait {
            (target_short, target_long)
        } else {
            (target_long, target_short)
        }
    };

    let mut planned: Vec<PlannedRung> = rungs
        .iter()
        .filter(|r| r.short_side <= short)
        .map(|r| {
            let (width, height) = size_for(r.short_side);
            PlannedRung {
                id: format!("video_{}", r.name),
                width,
                height,
                bitrate_kbps: r.bitrate_kbps,
                vbv_buffer_ms: r.vbv_buffer_ms,
                profile: r.profile.clone(),
                level: r.level.clone(),
            }
        })
        .collect();
    if planned.is_empty() {
        let smallest = rungs.last().expect("validated presets have a rung");
        let (width, height) = size_for(short);
        planned.push(PlannedRung {
            id: format!("video_{}p", even_floor(short)),
            width,
            height,
            bitrate_kbps: smallest.bitrate_kbps,
            vbv_buffer_ms: smallest.vbv_buffer_ms,
            profile: smallest.profile.clone(),
            level: smallest.level.clone(),
        });
    }
    // Two rungs can collapse onto one size when the source is just above a rung's size; keep the first.
    planned.dedup_by(|b, a| a.width == b.width && a.height == b.height);

    Ok(LadderPlan { rungs: planned, frame_rate_cap: frame_rate_cap(source.frame_rate, preset.max_frame_rate) })
}

/// The frame rate to convert to when the source is faster than `max`: the source rate divided by the
/// smallest whole number that brings it under the cap, so frames are dropped evenly (120 → 60, 100 → 50).
pub fn frame_rate_cap(source: (u32, u32), max: f64) -> Option<(u32, u32)> {
    let (num, den) = source;
    if num == 0 || den == 0 {
        return None;
    }
    let fps = f64::from(num) / f64::from(den);
    if fps <= max + 1e-9 {
        return None;
    }
    let divisor = (fps / max).ceil() as u32;
    Some((num, den * divisor))
}

fn even_floor(v: u32) -> u32 {
    (v & !1).max(2)
}

fn even_round(v: f64) -> u32 {
    let r = (v / 2.0).round() as u32 * 2;
    r.max(2)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn default_preset() -> LadderPreset {
        LadderPreset::builtin(DEFAULT_PRESET_NAME).expect("default preset is valid")
    }

    fn pic(width: u32, height: u32) -> SourcePicture {
        SourcePicture { width, height, frame_rate: (30, 1) }
    }

    #[test]
    fn builtin_presets_are_valid() {
        for (name, _) in BUILTIN_PRESETS {
            LadderPreset::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(default_preset().video.len(), 5);
    }

    #[test]
    fn full_hd_gets_every_rung() {
        let plan = plan(&default_preset(), pic(1920, 1080)).unwrap();
        let sizes: Vec<_> = plan.rungs.iter().map(|r| (r.id.as_str(), r.width, r.height)).collect();
        assert_eq!(
            sizes,
            vec![
                ("video_1080p", 1920, 1080),
                ("video_720p", 1280, 720),
                ("video_480p", 854, 480),
                ("video_360p", 640, 360),
                ("video_240p", 426, 240),
            ]
        );
        assert_eq!(plan.frame_rate_cap, None);
    }

    #[test]
    fn never_upscales_and_handles_portrait() {
        let plan = plan(&default_preset(), pic(720, 1280)).unwrap();
        let sizes: Vec<_> = plan.rungs.iter().map(|r| (r.width, r.height)).collect();
        assert_eq!(sizes, vec![(720, 1280), (480, 854), (360, 640), (240, 426)]);
    }

    #[test]
    fn tiny_source_gets_one_rung_at_its_own_even_size() {
        let plan = plan(&default_preset(), pic(65, 63)).unwrap();
        assert_eq!(plan.rungs.len(), 1);
        assert_eq!((plan.rungs[0].width, plan.rungs[0].height), (64, 62));
        assert_eq!(plan.rungs[0].bitrate_kbps, 400);
    }

    #[test]
    fn high_frame_rates_are_divided_evenly() {
        assert_eq!(frame_rate_cap((120, 1), 60.0), Some((120, 2)));
        assert_eq!(frame_rate_cap((100, 1), 60.0), Some((100, 2)));
        assert_eq!(frame_rate_cap((240, 1), 60.0), Some((240, 4)));
        assert_eq!(frame_rate_cap((60000, 1001), 60.0), None);
        assert_eq!(frame_rate_cap((0, 1), 60.0), None);
    }

    #[test]
    fn preset_errors_are_all_reported() {
        let text = r#"
            name = "bad"
            segment_duration_s = 5.0
            keyframe_interval_s = 2.0
            [encoder]
            speed_preset = "warp"
            [[video]]
            name = "a b"
            short_side = 10
            bitrate_kbps = 100
            profile = "extended"
            level = "9.9"
        "#;
        let TranscodeError::Preset { problems, .. } = LadderPreset::from_toml("bad.toml", text).unwrap_err() else {
            panic!("expected a preset error")
        };
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = LadderPreset::from_toml(
            "x",
            "name = 'x'\nbitrate = 3\n[[video]]\nname='a'\nshort_side=240\nbitrate_kbps=300\nprofile='main'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    proptest! {
        #[test]
        fn planned_rungs_are_even_bounded_and_keep_aspect(w in 2u32..5000, h in 2u32..5000) {
            let plan = plan(&default_preset(), pic(w, h)).unwrap();
            prop_assert!(!plan.rungs.is_empty());
            let src_aspect = f64::from(w) / f64::from(h);
            for r in &plan.rungs {
                prop_assert_eq!(r.width % 2, 0);
                prop_assert_eq!(r.height % 2, 0);
                // Never larger than the source beyond rounding up to even.
                prop_assert!(r.width <= w + 1 && r.height <= h + 1, "{}x{} from {}x{}", r.width, r.height, w, h);
                // Aspect ratio kept within what even rounding of a small side allows.
                let aspect = f64::from(r.width) / f64::from(r.height);
                let tolerance = 2.0 / f64::from(r.width.min(r.height)) * aspect.max(1.0) + 0.01;
                prop_assert!((aspect / src_aspect - 1.0).abs() <= tolerance, "{} vs {}", aspect, src_aspect);
            }
            for pair in plan.rungs.windows(2) {
                prop_assert!(pair[0].width * pair[0].height > pair[1].width * pair[1].height);
            }
        }
    }
}
