//! H.264 encoder choice: which GStreamer element encodes the ladder, and how each is configured.
//!
//! Hardware encoders register in GStreamer only when their hardware is found at run time, so `auto` asks
//! the registry (through [`ElementRegistry`], a trait so the choice is testable without the hardware) and
//! falls back to x264. The property mapping is pure data; the pipeline applies it.

use std::fmt;
use std::str::FromStr;

use crate::ladder::{EncoderSettings, PlannedRung};
use crate::TranscodeError;

/// What the user asked for with `--encoder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncoderPreference {
    /// The first hardware encoder the registry has, else x264.
    #[default]
    Auto,
    X264,
    Nvenc,
    Vaapi,
    Qsv,
}

impl EncoderPreference {
    pub const ALL: [EncoderPreference; 5] = [Self::Auto, Self::X264, Self::Nvenc, Self::Vaapi, Self::Qsv];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::X264 => "x264",
            Self::Nvenc => "nvenc",
            Self::Vaapi => "vaapi",
            Self::Qsv => "qsv",
        }
    }

    /// Element factories to try, in order.
    fn candidates(self) -> &'static [EncoderFamily] {
        use EncoderFamily::*;
        match self {
            Self::Auto => &[Nvenc, NvencAutoGpu, Va, Vaapi, Qsv, X264],
            Self::X264 => &[X264],
            Self::Nvenc => &[Nvenc, NvencAutoGpu],
            Self::Vaapi => &[Va, Vaapi],
            Self::Qsv => &[Qsv],
        }
    }

    /// What to install when none of this preference's elements is registered.
    fn install_hint(self) -> &'static str {
        match self {
            Self::Auto | Self::X264 => "install gstreamer1.0-plugins-ugly (x264enc)",
            Self::Nvenc => {
                "install gstreamer1.0-plugins-bad and an NVIDIA driver; GStreamer registers nvh264enc only on a GPU \
                 with NVENC (data-centre GPUs such as the H100 have none)"
            }
            Self::Vaapi => {
                "install gstreamer1.0-plugins-bad (vah264enc) or gstreamer1.0-vaapi (vaapih264enc) and a VA-API \
                 driver for your GPU (e.g. intel-media-va-driver or mesa-va-drivers)"
            }
            Self::Qsv => "install gstreamer1.0-plugins-bad built with oneVPL and the Intel media driver",
        }
    }
}

impl fmt::Display for EncoderPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EncoderPreference {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown encoder {s:?}; expected one of {}", Self::ALL.map(Self::as_str).join(", ")))
    }
}

/// A concrete encoder element family, each configured its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderFamily {
    X264,
    /// `nvh264enc` (nvcodec, GStreamer ≤ 1.22 naming).
    Nvenc,
    /// `nvautogpuh264enc` (nvcodec, GStreamer ≥ 1.24).
    NvencAutoGpu,
    /// `vah264enc` (the `va` plugin in plugins-bad).
    Va,
    /// `vaapih264enc` (gstreamer-vaapi, deprecated upstream but still packaged).
    Vaapi,
    /// `qsvh264enc`.
    Qsv,
}

impl EncoderFamily {
    /// The GStreamer element factory name.
    pub fn factory(self) -> &'static str {
        match self {
            Self::X264 => "x264enc",
            Self::Nvenc => "nvh264enc",
            Self::NvencAutoGpu => "nvautogpuh264enc",
            Self::Va => "vah264enc",
            Self::Vaapi => "vaapih264enc",
            Self::Qsv => "qsvh264enc",
        }
    }

    /// Whether the encoder runs on a GPU or media engine.
    pub fn is_hardware(self) -> bool {
        self != Self::X264
    }

    /// Element properties for one rung, as (name, value) strings for `set_property_from_str`. The
    /// pipeline sets those the element has and logs the others (hardware encoders' properties differ
    /// between GStreamer versions). Keyframes are forced by events at the ladder's cadence; `max_gop_frames`
    /// only keeps the encoder from adding keyframes of its own in between.
    pub fn properties(
        self,
        rung: &PlannedRung,
        settings: &EncoderSettings,
        max_gop_frames: u32,
    ) -> Vec<(&'static str, String)> {
        let kbps = rung.bitrate_kbps.to_string();
        let gop = max_gop_frames.to_string();
        let bframes = settings.b_frames.to_string();
        let fast = speed_rank(&settings.speed_preset) <= speed_rank("faster");
        match self {
            Self::X264 => vec![
                ("bitrate", kbps),
                ("vbv-buf-capacity", rung.vbv_buffer_ms.to_string()),
                ("speed-preset", settings.speed_preset.clone()),
                ("bframes", bframes),
                ("key-int-max", gop),
                // Scene-cut keyframes inside a segment would break alignment across rungs.
                ("option-string", x264_options(rung)),
                ("aud", "false".to_owned()),
                ("insert-vui", "true".to_owned()),
            ],
            Self::Nvenc => vec![
                ("bitrate", kbps.clone()),
                ("max-bitrate", kbps),
                ("rc-mode", "cbr".to_owned()),
                ("gop-size", gop),
                ("bframes", bframes),
                ("preset", if fast { "hp" } else { "hq" }.to_owned()),
                ("vbv-buffer-size", (rung.bitrate_kbps * rung.vbv_buffer_ms / 1000).to_string()),
            ],
            Self::NvencAutoGpu => vec![
                ("bitrate", kbps.clone()),
                ("max-bitrate", kbps),
                ("rc-mode", "cbr".to_owned()),
                ("gop-size", gop),
                ("b-frames", bframes),
                ("preset", if fast { "p2" } else { "p5" }.to_owned()),
                ("vbv-buffer-size", (rung.bitrate_kbps * rung.vbv_buffer_ms / 1000).to_string()),
            ],
            Self::Va => vec![
                ("bitrate", kbps),
                ("rate-control", "cbr".to_owned()),
                ("key-int-max", gop),
                ("b-frames", bframes),
                ("target-usage", if fast { "6" } else { "4" }.to_owned()),
            ],
            Self::Vaapi => vec![
                ("bitrate", kbps),
                ("rate-control", "cbr".to_owned()),
                ("keyframe-period", gop),
                ("max-bframes", bframes),
                ("quality-level", if fast { "6" } else { "4" }.to_owned()),
            ],
            Self::Qsv => vec![
                ("bitrate", kbps),
                ("rate-control", "cbr".to_owned()),
                ("gop-size", gop),
                ("b-frames", bframes),
                ("target-usage", if fast { "6" } else { "4" }.to_owned()),
            ],
        }
    }
}

/// x264's own option string: no scene-cut keyframes, and the rung's level when the preset pins one.
fn x264_options(rung: &PlannedRung) -> String {
    match &rung.level {
        Some(level) => format!("scenecut=0:level={level}"),
        None => "scenecut=0".to_owned(),
    }
}

fn speed_rank(preset: &str) -> usize {
    crate::ladder::SPEED_PRESETS.iter().position(|p| *p == preset).unwrap_or(usize::MAX)
}

/// A view of the GStreamer element registry; the real one is [`GstRegistry`].
pub trait ElementRegistry {
    /// Whether an element factory of this name is registered (and so usable on this machine).
    fn has_element(&self, factory: &str) -> bool;
}

/// The process's GStreamer registry. `gstreamer::init()` must have run.
#[derive(Debug, Default, Clone, Copy)]
pub struct GstRegistry;

impl ElementRegistry for GstRegistry {
    fn has_element(&self, factory: &str) -> bool {
        gstreamer::ElementFactory::find(factory).is_some()
    }
}

/// Picks the encoder for `preference`: the first candidate the registry has. An explicitly requested
/// encoder that is missing is an error naming what to install; `auto` always ends at x264 if present.
pub fn select_encoder(
    preference: EncoderPreference,
    registry: &dyn ElementRegistry,
) -> Result<EncoderFamily, TranscodeError> {
    preference.candidates().iter().copied().find(|family| registry.has_element(family.factory())).ok_or_else(|| {
        TranscodeError::EncoderUnavailable {
            requested: preference.as_str(),
            tried: preference.candidates().iter().map(|f| f.factory()).collect::<Vec<_>>().join(", "),
            hint: preference.install_hint(),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    struct FakeRegistry(HashSet<&'static str>);

    impl FakeRegistry {
        fn with(elements: &[&'static str]) -> Self {
            Self(elements.iter().copied().collect())
        }
    }

    impl ElementRegistry for FakeRegistry {
        fn has_element(&self, factory: &str) -> bool {
            self.0.contains(factory)
        }
    }

    #[test]
    fn auto_prefers_hardware_in_order_then_x264() {
        let cases: &[(&[&str], EncoderFamily)] = &[
            (&["x264enc"], EncoderFamily::X264),
            (&["x264enc", "qsvh264enc"], EncoderFamily::Qsv),
            (&["x264enc", "vaapih264enc", "qsvh264enc"], EncoderFamily::Vaapi),
            (&["x264enc", "vah264enc", "vaapih264enc"], EncoderFamily::Va),
            (&["x264enc", "nvautogpuh264enc", "vah264enc"], EncoderFamily::NvencAutoGpu),
            (&["x264enc", "nvh264enc", "nvautogpuh264enc", "vah264enc"], EncoderFamily::Nvenc),
            // The GPUs this project is lent (H100/H200) have NVDEC but no NVENC: only decoders register.
            (&["x264enc", "nvh264dec", "nvh265dec"], EncoderFamily::X264),
        ];
        for (elements, expected) in cases {
            let got = select_encoder(EncoderPreference::Auto, &FakeRegistry::with(elements)).unwrap();
            assert_eq!(got, *expected, "registry {elements:?}");
        }
    }

    #[test]
    fn explicit_choice_never_falls_back() {
        let registry = FakeRegistry::with(&["x264enc", "vah264enc"]);
        assert_eq!(select_encoder(EncoderPreference::Vaapi, &registry).unwrap(), EncoderFamily::Va);
        assert_eq!(select_encoder(EncoderPreference::X264, &registry).unwrap(), EncoderFamily::X264);
        let err = select_encoder(EncoderPreference::Nvenc, &registry).unwrap_err().to_string();
        assert!(err.contains("nvh264enc") && err.contains("gstreamer1.0-plugins-bad"), "{err}");
        let err = select_encoder(EncoderPreference::Qsv, &registry).unwrap_err().to_string();
        assert!(err.contains("qsvh264enc"), "{err}");
    }

    #[test]
    fn auto_without_any_encoder_names_the_package() {
        let err = select_encoder(EncoderPreference::Auto, &FakeRegistry::with(&[])).unwrap_err().to_string();
        assert!(err.contains("gstreamer1.0-plugins-ugly"), "{err}");
    }

    #[test]
    fn preference_parses_every_name_and_rejects_others() {
        for p in EncoderPreference::ALL {
            assert_eq!(p.as_str().parse::<EncoderPreference>().unwrap(), p);
        }
        assert!("nvh264enc".parse::<EncoderPreference>().unwrap_err().contains("auto, x264"));
    }

    #[test]
    fn x264_properties_carry_rate_control_and_no_scenecut() {
        let rung = PlannedRung {
            id: "video_720p".into(),
            width: 1280,
            height: 720,
            bitrate_kbps: 3000,
            vbv_buffer_ms: 600,
            profile: "high".into(),
            level: None,
        };
        let props = EncoderFamily::X264.properties(&rung, &EncoderSettings::default(), 120);
        let get = |k: &str| props.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("bitrate"), Some("3000"));
        assert_eq!(get("key-int-max"), Some("120"));
        assert_eq!(get("speed-preset"), Some("veryfast"));
        assert_eq!(get("option-string"), Some("scenecut=0"));
        let pinned = PlannedRung { level: Some("3.1".into()), ..rung.clone() };
        let props_pinned = EncoderFamily::X264.properties(&pinned, &EncoderSettings::default(), 120);
        assert!(props_pinned.contains(&("option-string", "scenecut=0:level=3.1".to_owned())));
        for family in [EncoderFamily::Nvenc, EncoderFamily::Va, EncoderFamily::Qsv] {
            let props = family.properties(&rung, &EncoderSettings::default(), 120);
            assert!(props.iter().any(|(n, v)| *n == "bitrate" && v == "3000"), "{family:?}");
        }
    }
}
