//! HLS playlist rendering (multivariant, media and I-frame playlists) for a finished [`Presentation`](crate::Presentation).
//!
//! Playlists are built as `m3u8-rs` values and written by it, with one extension: `m3u8-rs` keeps `EXTINF`
//! as an `f32`, which holds every microsecond only below 16 s (a 16.049367 s segment comes out as
//! 16.049368), and its only precision switch is a process-wide static. [`write_media_playlist`] therefore
//! replaces the value of each `#EXTINF:` line it wrote with the exact microsecond decimal.
//!
//! Media and I-frame playlists sit in the rendition folder, so their URIs are bare file names; the
//! multivariant playlist sits at the output root. Media sequence numbers are independent of the segment
//! file numbers: they start at 0, which RFC 8216 §4.3.3.2 implies when `EXT-X-MEDIA-SEQUENCE` is absent,
//! and `m3u8-rs` leaves the tag out for 0.

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ByteRange, Map, MasterPlaylist, MediaPlaylist, MediaPlaylistType,
    MediaSegment, Resolution, VariantStream,
};

use crate::presentation::{segment_name, INIT_SEGMENT_NAME};
use crate::{PackagerError, Presentation, Rendition, TrackMedia};

/// `EXT-X-VERSION` of every playlist: fMP4 segments need 6 (RFC 8216 §7); 7 is what we test players with.
pub const PLAYLIST_VERSION: usize = 7;
/// `GROUP-ID` of the audio rendition group that every variant refers to.
pub const AUDIO_GROUP_ID: &str = "audio";
/// `NAME` of the audio rendition (the only one in its group; players show `LANGUAGE` beside it).
pub const AUDIO_RENDITION_NAME: &str = "Main";

const MULTIVARIANT: &str = "HLS multivariant playlist";
const MEDIA: &str = "HLS media playlist";
const IFRAME: &str = "HLS I-frame playlist";

/// The multivariant (master) playlist: the audio rendition group, one variant per video rendition (highest
/// bandwidth first) and one I-frame variant per video rendition. Audio-only presentations get a single
/// audio variant.
pub fn multivariant_playlist(p: &Presentation) -> Result<String, PackagerError> {
    let err = |reason: String| PackagerError::Render { manifest: MULTIVARIANT, reason };
    let mut playlist =
        MasterPlaylist { version: Some(PLAYLIST_VERSION), independent_segments: true, ..Default::default() };
    let audio_codec = p.audio.as_ref().map(|a| a.track.codec_string()).transpose()?;

    if p.video.is_empty() {
        let Some(audio) = &p.audio else {
            return Err(err("the presentation has neither video nor audio".into()));
        };
        if audio.track.is_video() {
            return Err(err(format!("audio rendition {:?} carries a video track", audio.id)));
        }
        check_quotable(&audio.id).map_err(err)?;
        playlist.variants.push(VariantStream {
            uri: audio.media_playlist_path(),
            bandwidth: audio.peak_bandwidth(),
            average_bandwidth: Some(audio.average_bandwidth()),
            codecs: audio_codec,
            ..Default::default()
        });
        return write(&playlist, MULTIVARIANT);
    }

    if let Some(audio) = &p.audio {
        playlist.alternatives.push(audio_rendition(audio).map_err(err)?);
    }
    let mut video: Vec<&Rendition> = p.video.iter().collect();
    video.sort_by_key(|r| std::cmp::Reverse(r.peak_bandwidth()));
    let mut iframe_variants = Vec::with_capacity(video.len());
    for rendition in video {
        let TrackMedia::Video(track) = &rendition.track.media else {
            return Err(err(format!("video rendition {:?} carries an audio track", rendition.id)));
        };
        check_quotable(&rendition.id).map_err(err)?;
        let video_codec = rendition.track.codec_string()?;
        let resolution = Some(Resolution { width: track.width.into(), height: track.height.into() });
        playlist.variants.push(VariantStream {
            uri: rendition.media_playlist_path(),
            // RFC 8216 §4.3.4.2: the peak rate of the whole variant, audio rendition included.
            bandwidth: rendition.peak_bandwidth() + p.audio.as_ref().map_or(0, Rendition::peak_bandwidth),
            average_bandwidth: Some(
                rendition.average_bandwidth() + p.audio.as_ref().map_or(0, Rendition::average_bandwidth),
            ),
            codecs: Some(match &audio_codec {
                Some(audio_codec) => format!("{video_codec},{audio_codec}"),
                None => video_codec.clone(),
            }),
            resolution,
            // RFC 8216 §4.3.4.2: rounded to three decimal places. The rounded f64 prints as that decimal.
            frame_rate: (track.frame_rate.num > 0 && track.frame_rate.den > 0)
                .then(|| (track.frame_rate.as_f64() * 1000.0).round() / 1000.0),
            audio: p.audio.is_some().then(|| AUDIO_GROUP_ID.to_string()),
            ..Default::default()
        });
        // RFC 8216 §4.3.4.3: no FRAME-RATE or AUDIO here, and CODECS names the video codec only.
        iframe_variants.push(VariantStream {
            is_i_frame: true,
            uri: rendition.iframe_playlist_path(),
            bandwidth: iframe_peak_bandwidth(rendition).map_err(err)?,
            codecs: Some(video_codec),
            resolution,
            ..Default::default()
        });
    }
    playlist.variants.extend(iframe_variants);
    write(&playlist, MULTIVARIANT)
}

/// The `EXT-X-MEDIA` entry of the audio rendition that every video variant refers to.
fn audio_rendition(audio: &Rendition) -> Result<AlternativeMedia, String> {
    let TrackMedia::Audio(track) = &audio.track.media else {
        return Err(format!("audio rendition {:?} carries a video track", audio.id));
    };
    check_quotable(&audio.id)?;
    let language = (!track.language.is_empty()).then(|| track.language.clone());
    if let Some(language) = &language {
        check_quotable(language)?;
    }
    Ok(AlternativeMedia {
        media_type: AlternativeMediaType::Audio,
        uri: Some(audio.media_playlist_path()),
        group_id: AUDIO_GROUP_ID.into(),
        language,
        name: AUDIO_RENDITION_NAME.into(),
        default: true,
        autoselect: true,
        channels: Some(track.channels.to_string()),
        ..Default::default()
    })
}

/// The VOD media playlist of one rendition: every segment, with the init segment as `EXT-X-MAP`.
pub fn media_playlist(r: &Rendition) -> Result<String, PackagerError> {
    let err = |reason: String| PackagerError::Render { manifest: MEDIA, reason };
    if r.segments.is_empty() {
        return Err(err(format!("rendition {:?} has no segments", r.id)));
    }
    let durations = extinf_micros(r.segments.iter().map(|s| s.duration), r.track.timescale).map_err(err)?;
    let segments = r
        .segments
        .iter()
        .zip(&durations)
        .enumerate()
        .map(|(i, (segment, &micros))| MediaSegment {
            uri: segment_name(segment.number),
            duration: micros as f32 / 1e6,
            map: (i == 0).then(init_map),
            ..Default::default()
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(PLAYLIST_VERSION),
        target_duration: target_duration(&durations),
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        independent_segments: true,
        ..Default::default()
    };
    write_media_playlist(&playlist, &durations, MEDIA)
}

/// The I-frame playlist of one video rendition: one entry per keyframe, as a byte range of its segment
/// that runs from the fragment's `moof` to the end of the keyframe.
pub fn iframe_playlist(r: &Rendition) -> Result<String, PackagerError> {
    let err = |reason: String| PackagerError::Render { manifest: IFRAME, reason };
    if !r.track.is_video() {
        return Err(err(format!("rendition {:?} is not video", r.id)));
    }
    check_keyframes(r).map_err(err)?;
    let keyframes = || r.segments.iter().flat_map(|s| s.keyframes.iter().map(move |k| (s, k)));
    let durations = extinf_micros(keyframes().map(|(_, k)| k.duration), r.track.timescale).map_err(err)?;
    let segments = keyframes()
        .zip(&durations)
        .enumerate()
        .map(|(i, ((segment, keyframe), &micros))| MediaSegment {
            uri: segment_name(segment.number),
            duration: micros as f32 / 1e6,
            // Always with the offset: without one it would continue the previous range, which may be in
            // another file.
            byte_range: Some(ByteRange { length: keyframe.length, offset: Some(keyframe.offset) }),
            map: (i == 0).then(init_map),
            ..Default::default()
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(PLAYLIST_VERSION),
        target_duration: target_duration(&durations),
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        i_frames_only: true,
        ..Default::default()
    };
    write_media_playlist(&playlist, &durations, IFRAME)
}

fn init_map() -> Map {
    Map { uri: INIT_SEGMENT_NAME.into(), ..Default::default() }
}

/// Every keyframe range must lie inside its segment file, and video needs at least one.
fn check_keyframes(r: &Rendition) -> Result<(), String> {
    let mut count = 0;
    for segment in &r.segments {
        for k in &segment.keyframes {
            if k.length == 0 || k.offset.checked_add(k.length).is_none_or(|end| end > segment.size) {
                return Err(format!(
                    "rendition {:?} segment {}: keyframe range {}@{} is outside its {} bytes",
                    r.id, segment.number, k.length, k.offset, segment.size
                ));
            }
            count += 1;
        }
    }
    if count == 0 {
        return Err(format!("rendition {:?} has no keyframes", r.id));
    }
    Ok(())
}

/// RFC 8216 §4.3.4.3: the I-frame variant's BANDWIDTH is the peak rate of its entries, each keyframe's
/// bytes over the time until the next keyframe.
fn iframe_peak_bandwidth(r: &Rendition) -> Result<u64, String> {
    check_keyframes(r)?;
    let ts = f64::from(r.track.timescale);
    Ok(r.segments
        .iter()
        .flat_map(|s| &s.keyframes)
        .filter(|k| k.duration > 0)
        .map(|k| (k.length as f64 * 8.0 * ts / k.duration as f64).ceil() as u64)
        .max()
        .unwrap_or(0))
}

/// Durations in whole microseconds, each the difference of the rounded running totals, so that they add
/// up to the rounded real total (within 0.5 µs) however many there are.
fn extinf_micros(durations: impl Iterator<Item = u64>, timescale: u32) -> Result<Vec<u64>, String> {
    if timescale == 0 {
        return Err("track timescale is 0".into());
    }
    let ts = u128::from(timescale);
    let to_micros = |ticks: u128| (ticks * 1_000_000 + ts / 2) / ts;
    let mut ticks = 0u128;
    let mut previous = 0u128;
    Ok(durations
        .map(|d| {
            ticks += u128::from(d);
            let end = to_micros(ticks);
            let micros = end - previous;
            previous = end;
            u64::try_from(micros).unwrap_or(u64::MAX)
        })
        .collect())
}

/// RFC 8216 §4.3.3.1: the largest EXTINF rounded to the nearest integer (at least 1).
fn target_duration(micros: &[u64]) -> u64 {
    micros.iter().map(|&us| us.saturating_add(500_000) / 1_000_000).max().unwrap_or(0).max(1)
}

/// RFC 8216 §4.2: a quoted-string cannot hold a double quote, CR or LF; URI lines cannot hold line breaks.
fn check_quotable(value: &str) -> Result<(), String> {
    if value.is_empty() || value.contains(['"', '\r', '\n']) {
        return Err(format!("{value:?} cannot be written in a playlist"));
    }
    Ok(())
}

fn write(playlist: &MasterPlaylist, manifest: &'static str) -> Result<String, PackagerError> {
    let mut out = Vec::new();
    playlist.write_to(&mut out).map_err(|e| PackagerError::Render { manifest, reason: e.to_string() })?;
    String::from_utf8(out).map_err(|e| PackagerError::Render { manifest, reason: e.to_string() })
}

/// Writes with `m3u8-rs`, then gives each `#EXTINF:` line, in order, its exact value from `micros`.
fn write_media_playlist(
    playlist: &MediaPlaylist,
    micros: &[u64],
    manifest: &'static str,
) -> Result<String, PackagerError> {
    let err = |reason: String| PackagerError::Render { manifest, reason };
    let mut written = Vec::new();
    playlist.write_to(&mut written).map_err(|e| err(e.to_string()))?;
    let written = String::from_utf8(written).map_err(|e| err(e.to_string()))?;
    let mut exact = micros.iter();
    let mut out = String::with_capacity(written.len() + 4 * micros.len());
    for line in written.split_inclusive('\n') {
        if line.starts_with("#EXTINF:") {
            let us = exact.next().ok_or_else(|| err("more EXTINF lines than segments".into()))?;
            // No title, so the line is `#EXTINF:<duration>,` as m3u8-rs writes it.
            out.push_str(&format!("#EXTINF:{}.{:06},\n", us / 1_000_000, us % 1_000_000));
        } else {
            out.push_str(line);
        }
    }
    if exact.next().is_some() {
        return Err(err("fewer EXTINF lines than segments".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extinf_micros_add_up_to_the_rounded_total() {
        // 1024-sample AAC frames at 48 kHz are 21333.33 µs each: rounding each one alone would drift by
        // 1/3 µs per frame.
        let micros = extinf_micros(std::iter::repeat_n(1024, 3000), 48_000).unwrap();
        assert_eq!(micros.iter().sum::<u64>(), 64_000_000);
        assert!(micros.iter().all(|&us| us == 21_333 || us == 21_334), "{:?}", &micros[..4]);
        // 29.97 fps, 60-frame segments: 2.002 s exactly.
        assert_eq!(
            extinf_micros([180_180, 180_180, 90_090].into_iter(), 90_000).unwrap(),
            [2_002_000, 2_002_000, 1_001_000]
        );
        assert!(extinf_micros([1].into_iter(), 0).is_err());
    }

    #[test]
    fn long_segments_keep_every_microsecond() {
        use crate::{AudioTrack, SegmentEntry, Track};
        let segment = |number, start, duration| SegmentEntry { number, start, duration, size: 1, keyframes: vec![] };
        let r = Rendition {
            id: "audio".into(),
            track: Track {
                track_id: 1,
                timescale: 1_000_000,
                media: TrackMedia::Audio(AudioTrack {
                    sample_rate: 48_000,
                    channels: 2,
                    audio_specific_config: bytes::Bytes::from_static(&[0x11, 0x90]),
                    language: "und".into(),
                }),
            },
            segments: vec![segment(1, 0, 16_049_367), segment(2, 16_049_367, 20_000_001)],
        };
        let text = media_playlist(&r).unwrap();
        // As an f32 the first is 16.049368 and the second 20.0.
        assert!(text.contains("#EXTINF:16.049367,\nseg_00001.m4s\n#EXTINF:20.000001,\nseg_00002.m4s\n"), "{text}");
        assert!(text.contains("#EXT-X-TARGETDURATION:20\n"), "{text}");
    }

    #[test]
    fn target_duration_rounds_to_nearest() {
        assert_eq!(target_duration(&[6_006_000, 2_000_000]), 6);
        assert_eq!(target_duration(&[6_500_000]), 7);
        assert_eq!(target_duration(&[6_499_999]), 6);
        assert_eq!(target_duration(&[300_000]), 1);
    }

    #[test]
    fn quoted_values_reject_what_breaks_a_playlist() {
        assert!(check_quotable("video_720p").is_ok());
        for bad in ["", "a\"b", "a\nb", "a\rb"] {
            assert!(check_quotable(bad).is_err(), "{bad:?}");
        }
    }
}
