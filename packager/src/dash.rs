//! DASH MPD rendering for a finished [`Presentation`](crate::Presentation).
//!
//! One static MPD with one Period: a video Adaptation Set with a Representation per rung and an audio
//! Adaptation Set. Every Representation addresses the shared CMAF files with a `SegmentTemplate` using
//! `$Number$` and a `SegmentTimeline`, so exact segment durations survive and nothing is derived from a
//! nominal duration. The MPD is planned as plain values first (where every check can fail with a
//! [`PackagerError`]) and then written with `quick-xml`, which escapes every attribute value.

use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;

use crate::presentation::{DASH_INIT_TEMPLATE, DASH_SEGMENT_TEMPLATE, FIRST_SEGMENT_NUMBER};
use crate::{PackagerError, Presentation, Rational, Rendition, TrackMedia};

/// `MPD@profiles`: the ISO BMFF live profile (SegmentTemplate addressing), and CMAF media.
pub const PROFILES: &str = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019";
/// The MPD schema namespace of ISO/IEC 23009-1.
pub const MPD_NAMESPACE: &str = "urn:mpeg:dash:schema:mpd:2011";
/// `AudioChannelConfiguration` scheme whose values are ISO/IEC 23091-3 ChannelConfiguration indices, the same
/// numbers as AAC's `channelConfiguration`.
pub const CICP_CHANNEL_CONFIGURATION_SCHEME: &str = "urn:mpeg:mpegB:cicp:ChannelConfiguration";
/// `AudioChannelConfiguration` scheme whose value is a plain channel count, for AAC layouts given by a
/// program config element (`channelConfiguration` 0), which have no CICP index.
pub const CHANNEL_COUNT_SCHEME: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";
/// `Role` scheme of ISO/IEC 23009-1 §5.8.5.5.
pub const ROLE_SCHEME: &str = "urn:mpeg:dash:role:2011";

const MANIFEST: &str = "DASH MPD";
const VIDEO_ADAPTATION_SET_ID: &str = "0";
const AUDIO_ADAPTATION_SET_ID: &str = "1";

type Attributes = Vec<(&'static str, String)>;

/// An element to write: attributes, then children in schema order.
struct Element {
    name: &'static str,
    attributes: Attributes,
    children: Vec<Element>,
}

impl Element {
    fn new(name: &'static str, attributes: Attributes, children: Vec<Element>) -> Self {
        Self { name, attributes, children }
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let element =
            w.create_element(self.name).with_attributes(self.attributes.iter().map(|(k, v)| (*k, v.as_str())));
        if self.children.is_empty() {
            element.write_empty()?;
        } else {
            element.write_inner_content(|w| self.children.iter().try_for_each(|child| child.write(w)))?;
        }
        Ok(())
    }
}

fn render_error(reason: String) -> PackagerError {
    PackagerError::Render { manifest: MANIFEST, reason }
}

/// The static MPD describing every rendition of `p`.
pub fn mpd(p: &Presentation) -> Result<String, PackagerError> {
    if p.video.is_empty() && p.audio.is_none() {
        return Err(render_error("the presentation has neither video nor audio".into()));
    }
    let video_timelines = p.video.iter().map(Timeline::of).collect::<Result<Vec<_>, _>>()?;
    let audio_timeline = p.audio.as_ref().map(Timeline::of).transpose()?;
    let timelines = || video_timelines.iter().chain(&audio_timeline);
    let end = timelines().map(|t| t.end_micros).max().unwrap_or(0);
    let longest_segment = timelines().map(|t| t.longest_segment_micros).max().unwrap_or(0);

    let mut adaptation_sets = Vec::new();
    if !p.video.is_empty() {
        adaptation_sets.push(video_adaptation_set(&p.video, &video_timelines)?);
    }
    if let (Some(audio), Some(timeline)) = (&p.audio, &audio_timeline) {
        adaptation_sets.push(audio_adaptation_set(audio, timeline)?);
    }

    let root = Element::new(
        "MPD",
        vec![
            ("xmlns", MPD_NAMESPACE.into()),
            ("profiles", PROFILES.into()),
            ("type", "static".into()),
            // The end of the latest timeline, so that no Representation's last segment is cut.
            ("mediaPresentationDuration", xs_duration(end)),
            // Representations are described by their peak segment rate, so one longest segment buffered
            // at that rate is always enough (ISO/IEC 23009-1 §5.3.5.2).
            ("minBufferTime", xs_duration(longest_segment)),
        ],
        vec![Element::new("Period", vec![("id", "0".into())], adaptation_sets)],
    );

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| root.write(&mut w))
        .map_err(|e| render_error(e.to_string()))?;
    let mut out = String::from_utf8(w.into_inner()).map_err(|e| render_error(e.to_string()))?;
    out.push('\n');
    Ok(out)
}

fn video_adaptation_set(video: &[Rendition], timelines: &[Timeline]) -> Result<Element, PackagerError> {
    let mut representations = Vec::with_capacity(video.len());
    let (mut max_width, mut max_height, mut max_frame_rate, mut pars) = (0, 0, None::<Rational>, Vec::new());
    for (r, timeline) in video.iter().zip(timelines) {
        let TrackMedia::Video(track) = &r.track.media else {
            return Err(render_error(format!("video rendition {:?} carries an audio track", r.id)));
        };
        let sar = track.sample_aspect_ratio;
        if sar.num == 0 || sar.den == 0 {
            return Err(render_error(format!("rendition {:?} has sample aspect ratio {}/{}", r.id, sar.num, sar.den)));
        }
        max_width = max_width.max(track.width);
        max_height = max_height.max(track.height);
        let mut attributes = representation_attributes(r)?;
        attributes.extend([("width", track.width.to_string()), ("height", track.height.to_string())]);
        if let Some(rate) = known_frame_rate(track.frame_rate) {
            attributes.push(("frameRate", frame_rate(rate)));
            if max_frame_rate.is_none_or(|max| faster(rate, max)) {
                max_frame_rate = Some(rate);
            }
        }
        attributes.push(("sar", ratio(u64::from(sar.num), u64::from(sar.den))));
        pars.push(ratio(u64::from(track.width) * u64::from(sar.num), u64::from(track.height) * u64::from(sar.den)));
        representations.push(Element::new("Representation", attributes, vec![segment_template(r, timeline)]));
    }

    let mut attributes: Attributes = vec![
        ("id", VIDEO_ADAPTATION_SET_ID.into()),
        ("contentType", "video".into()),
        ("mimeType", "video/mp4".into()),
        ("segmentAlignment", Timeline::aligned(timelines).to_string()),
        // Every segment starts with an IDR picture, which is also the first picture presented.
        ("startWithSAP", "1".into()),
        ("maxWidth", max_width.to_string()),
        ("maxHeight", max_height.to_string()),
    ];
    if let Some(rate) = max_frame_rate {
        attributes.push(("maxFrameRate", frame_rate(rate)));
    }
    // Only when every rung shows the same picture shape: @par describes the whole set.
    if pars.windows(2).all(|w| w[0] == w[1]) {
        attributes.extend(pars.into_iter().next().map(|par| ("par", par)));
    }
    Ok(Element::new("AdaptationSet", attributes, representations))
}

fn audio_adaptation_set(audio: &Rendition, timeline: &Timeline) -> Result<Element, PackagerError> {
    let TrackMedia::Audio(track) = &audio.track.media else {
        return Err(render_error(format!("audio rendition {:?} carries a video track", audio.id)));
    };
    let config = crate::codec::AacConfig::parse(&track.audio_specific_config)?;
    let mut attributes: Attributes =
        vec![("id", AUDIO_ADAPTATION_SET_ID.into()), ("contentType", "audio".into()), ("mimeType", "audio/mp4".into())];
    if !track.language.is_empty() {
        if !is_xs_language(&track.language) {
            return Err(render_error(format!("audio language {:?} is not a language tag", track.language)));
        }
        attributes.push(("lang", track.language.clone()));
    }
    attributes.extend([("segmentAlignment", "true".into()), ("startWithSAP", "1".into())]);

    let channels = match config.channel_configuration {
        0 => vec![("schemeIdUri", CHANNEL_COUNT_SCHEME.into()), ("value", track.channels.to_string())],
        cicp => vec![("schemeIdUri", CICP_CHANNEL_CONFIGURATION_SCHEME.into()), ("value", cicp.to_string())],
    };
    let mut representation = representation_attributes(audio)?;
    representation.push(("audioSamplingRate", track.sample_rate.to_string()));
    Ok(Element::new(
        "AdaptationSet",
        attributes,
        vec![
            Element::new("AudioChannelConfiguration", channels, vec![]),
            Element::new("Role", vec![("schemeIdUri", ROLE_SCHEME.into()), ("value", "main".into())], vec![]),
            Element::new("Representation", representation, vec![segment_template(audio, timeline)]),
        ],
    ))
}

/// `@id`, `@bandwidth` and `@codecs`, the attributes every Representation has.
fn representation_attributes(r: &Rendition) -> Result<Attributes, PackagerError> {
    // StringNoWhitespaceType; the id is also substituted into URLs for $RepresentationID$.
    if r.id.is_empty() || r.id.contains(char::is_whitespace) {
        return Err(render_error(format!("rendition id {:?} is empty or has white space", r.id)));
    }
    let bandwidth = u32::try_from(r.peak_bandwidth()).map_err(|_| {
        render_error(format!("rendition {:?}: bandwidth {} exceeds xs:unsignedInt", r.id, r.peak_bandwidth()))
    })?;
    Ok(vec![("id", r.id.clone()), ("bandwidth", bandwidth.to_string()), ("codecs", r.track.codec_string()?)])
}

fn segment_template(r: &Rendition, timeline: &Timeline) -> Element {
    let entries = timeline
        .entries
        .iter()
        .map(|s| {
            let mut attributes: Attributes = Vec::with_capacity(3);
            attributes.extend(s.t.map(|t| ("t", t.to_string())));
            attributes.push(("d", s.d.to_string()));
            if s.r > 0 {
                attributes.push(("r", s.r.to_string()));
            }
            Element::new("S", attributes, vec![])
        })
        .collect();
    Element::new(
        "SegmentTemplate",
        vec![
            ("timescale", r.track.timescale.to_string()),
            ("initialization", DASH_INIT_TEMPLATE.into()),
            ("media", DASH_SEGMENT_TEMPLATE.into()),
            ("startNumber", FIRST_SEGMENT_NUMBER.to_string()),
        ],
        vec![Element::new("SegmentTimeline", vec![], entries)],
    )
}

/// One `S` element: `r` more segments of duration `d` follow the first, which starts at `t` (or where the
/// previous `S` ended when `t` is absent).
struct TimelineEntry {
    t: Option<u64>,
    d: u64,
    r: u64,
}

/// A Representation's segment timeline, checked against the `$Number$` addressing it is used with.
struct Timeline {
    timescale: u32,
    /// (start, duration) of each segment in track ticks.
    segments: Vec<(u64, u64)>,
    entries: Vec<TimelineEntry>,
    end_micros: u64,
    longest_segment_micros: u64,
}

impl Timeline {
    fn of(r: &Rendition) -> Result<Self, PackagerError> {
        let err = |reason: String| render_error(format!("rendition {:?}: {reason}", r.id));
        let timescale = r.track.timescale;
        if timescale == 0 {
            return Err(err("timescale is 0".into()));
        }
        if r.segments.is_empty() {
            return Err(err("no segments".into()));
        }
        let mut entries: Vec<TimelineEntry> = Vec::new();
        let mut expected_start = None;
        for (i, s) in r.segments.iter().enumerate() {
            // $Number$ counts from startNumber without gaps, so the files must too.
            if u64::from(s.number) != u64::from(FIRST_SEGMENT_NUMBER) + i as u64 {
                return Err(err(format!("segment {} of the timeline is numbered {}", i + 1, s.number)));
            }
            if s.duration == 0 {
                return Err(err(format!("segment {} has no duration", s.number)));
            }
            match expected_start {
                Some(expected) if s.start < expected => {
                    return Err(err(format!("segment {} starts at {} inside the previous one", s.number, s.start)));
                }
                Some(expected) if s.start == expected => match entries.last_mut() {
                    Some(last) if last.d == s.duration => last.r += 1,
                    _ => entries.push(TimelineEntry { t: None, d: s.duration, r: 0 }),
                },
                // The first segment, or one after a gap: say where it starts.
                _ => entries.push(TimelineEntry { t: Some(s.start), d: s.duration, r: 0 }),
            }
            expected_start = Some(s.start.checked_add(s.duration).ok_or_else(|| err("timeline overflows".into()))?);
        }
        let micros = |ticks: u64| {
            u64::try_from((u128::from(ticks) * 1_000_000).div_ceil(u128::from(timescale))).unwrap_or(u64::MAX)
        };
        Ok(Self {
            timescale,
            segments: r.segments.iter().map(|s| (s.start, s.duration)).collect(),
            entries,
            end_micros: micros(expected_start.unwrap_or(0)),
            longest_segment_micros: micros(r.segments.iter().map(|s| s.duration).max().unwrap_or(0)),
        })
    }

    /// Whether every timeline has the same segment boundaries in seconds (compared exactly, across
    /// timescales): what `@segmentAlignment` promises.
    fn aligned(timelines: &[Timeline]) -> bool {
        let same_time =
            |a: u64, ts_a: u32, b: u64, ts_b: u32| u128::from(a) * u128::from(ts_b) == u128::from(b) * u128::from(ts_a);
        timelines.windows(2).all(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            a.segments.len() == b.segments.len()
                && a.segments.iter().zip(&b.segments).all(|(&(sa, da), &(sb, db))| {
                    same_time(sa, a.timescale, sb, b.timescale) && same_time(sa + da, a.timescale, sb + db, b.timescale)
                })
        })
    }
}

fn known_frame_rate(rate: Rational) -> Option<Rational> {
    (rate.num > 0 && rate.den > 0).then_some(rate)
}

/// Whether frame rate `a` is above `b`, compared exactly.
fn faster(a: Rational, b: Rational) -> bool {
    u64::from(a.num) * u64::from(b.den) > u64::from(b.num) * u64::from(a.den)
}

/// FrameRateType: `30` or `30000/1001`, reduced.
fn frame_rate(rate: Rational) -> String {
    let g = gcd(u64::from(rate.num), u64::from(rate.den));
    let (num, den) = (u64::from(rate.num) / g, u64::from(rate.den) / g);
    if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    }
}

/// RatioType: `16:9`, reduced.
fn ratio(a: u64, b: u64) -> String {
    let g = gcd(a, b).max(1);
    format!("{}:{}", a / g, b / g)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `xs:duration` of a whole number of microseconds: `PT1H2M3.5S`, `PT20.02S`, `PT0S`.
fn xs_duration(micros: u64) -> String {
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if frac > 0 {
        let frac = format!("{frac:06}");
        out.push_str(&format!("{s}.{}S", frac.trim_end_matches('0')));
    } else if s > 0 || (h == 0 && m == 0) {
        out.push_str(&format!("{s}S"));
    }
    out
}

/// `xs:language`: `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
fn is_xs_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_duration_spells_hours_minutes_and_trimmed_seconds() {
        assert_eq!(xs_duration(0), "PT0S");
        assert_eq!(xs_duration(20_020_000), "PT20.02S");
        assert_eq!(xs_duration(3_723_500_000), "PT1H2M3.5S");
        assert_eq!(xs_duration(7_200_000_000), "PT2H");
        assert_eq!(xs_duration(60_000_001), "PT1M0.000001S");
    }

    #[test]
    fn frame_rates_and_ratios_are_reduced() {
        assert_eq!(frame_rate(Rational::new(30000, 1001)), "30000/1001");
        assert_eq!(frame_rate(Rational::new(30, 1)), "30");
        assert_eq!(frame_rate(Rational::new(60, 2)), "30");
        assert_eq!(ratio(1920, 1080), "16:9");
        assert_eq!(ratio(720 * 64, 576 * 45), "16:9"); // PAL widescreen, SAR 64:45
        assert!(faster(Rational::new(30, 1), Rational::new(30000, 1001)));
        assert!(!faster(Rational::new(30000, 1001), Rational::new(30, 1)));
    }

    #[test]
    fn language_tags_follow_xs_language() {
        for good in ["en", "eng", "und", "pt-BR", "zh-Hant-TW"] {
            assert!(is_xs_language(good), "{good}");
        }
        for bad in ["", "e n", "en-", "-en", "toolonglang", "1en", "en_US"] {
            assert!(!is_xs_language(bad), "{bad}");
        }
    }
}
