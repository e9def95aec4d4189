//! The CMAF header (init segment) of a track: `ftyp` + `moov`, checked against the box fields.

use bytes::{Bytes, BytesMut};

use super::fragment::{NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS};
use super::ftyp::Ftyp;
use super::moov::mvex::{trex::Trex, Mvex};
use super::moov::mvhd::Mvhd;
use super::moov::trak::edts::{elst::Elst, Edts};
use super::moov::trak::mdia::hdlr::Hdlr;
use super::moov::trak::mdia::mdhd::{Mdhd, PackedLanguage};
use super::moov::trak::mdia::minf::dinf::Dinf;
use super::moov::trak::mdia::minf::smhd::Smhd;
use super::moov::trak::mdia::minf::stbl::stsd::avc1::{avcc::AvcC, pasp::Pasp, Avc1};
use super::moov::trak::mdia::minf::stbl::stsd::mp4a::{esds::Esds, Mp4a};
use super::moov::trak::mdia::minf::stbl::stsd::{SampleEntry, Stsd};
use super::moov::trak::mdia::minf::stbl::Stbl;
use super::moov::trak::mdia::minf::vmhd::Vmhd;
use super::moov::trak::mdia::minf::{MediaHeader, Minf};
use super::moov::trak::mdia::Mdia;
use super::moov::trak::tkhd::Tkhd;
use super::moov::trak::Trak;
use super::moov::Moov;
use super::{fit, Atom};
use crate::presentation::{AudioTrack, Rational, Track, TrackMedia, VideoTrack};
use crate::PackagerError;

/// Smallest AVCDecoderConfigurationRecord: 6 header bytes and the PPS count.
const MIN_AVC_CONFIG_LEN: usize = 7;
/// Sample data carries 4-byte NAL unit lengths, so the record must say `lengthSizeMinusOne` = 3.
const NAL_LENGTH_SIZE_MINUS_ONE: u8 = 3;

/// Encodes the CMAF header of `track`. `composition_delay` is how many ticks the composition times written
/// in the track's fragments run ahead of its presentation times (the reorder delay of video with B-frames,
/// see [`crate::segmenter`]); when it is not 0 the header carries an edit list that takes it off again.
pub fn init_segment(track: &Track, composition_delay: u64) -> Result<Bytes, PackagerError> {
    let moov = movie(track, composition_delay)?;
    let mut buf = BytesMut::new();
    Ftyp::cmaf_header().encode(&mut buf);
    moov.encode(&mut buf);
    Ok(buf.freeze())
}

/// The `moov` of `track`, every field checked; see [`init_segment`] for `composition_delay`.
pub fn movie(track: &Track, composition_delay: u64) -> Result<Moov, PackagerError> {
    let track_id = track.track_id;
    if track_id == 0 {
        return Err(invalid(track, "track id 0 is reserved"));
    }
    if track.timescale == 0 {
        return Err(invalid(track, "timescale is 0"));
    }
    let (tkhd, hdlr, header, language, entry, default_sample_flags) = match &track.media {
        TrackMedia::Video(video) => {
            let entry = SampleEntry::Avc1(avc1(track_id, video)?);
            let (width, height) = display_size(track_id, video)?;
            let tkhd = Tkhd { track_id, volume: 0, width, height };
            (tkhd, Hdlr::VIDEO, MediaHeader::Video(Vmhd), PackedLanguage::UNDETERMINED, entry, NON_SYNC_SAMPLE_FLAGS)
        }
        TrackMedia::Audio(audio) => {
            let language = PackedLanguage::parse(&audio.language).ok_or_else(|| {
                invalid(track, format!("language {:?} is not a three-letter ISO 639-2 code", audio.language))
            })?;
            let tkhd = Tkhd { track_id, volume: 0x0100, width: 0, height: 0 };
            let entry = SampleEntry::Mp4a(mp4a(audio)?);
            (tkhd, Hdlr::SOUND, MediaHeader::Sound(Smhd), language, entry, SYNC_SAMPLE_FLAGS)
        }
    };
    let edts = match composition_delay {
        0 => None,
        delay => Some(Edts { elst: Elst { media_time: fit(track_id, "edit list media time", delay)? } }),
    };
    let minf = Minf { header, dinf: Dinf::default(), stbl: Stbl { stsd: Stsd { entry } } };
    let mdia = Mdia { mdhd: Mdhd { timescale: track.timescale, language }, hdlr, minf };
    Ok(Moov {
        mvhd: Mvhd { timescale: track.timescale, next_track_id: track_id.saturating_add(1) },
        trak: Trak { tkhd, edts, mdia },
        mvex: Mvex { trex: Trex { track_id, default_sample_flags } },
    })
}

fn invalid(track: &Track, reason: impl Into<String>) -> PackagerError {
    PackagerError::InvalidTrack { track_id: track.track_id, reason: reason.into() }
}

/// `tkhd` width and height in 16.16: the coded size with the width scaled by the sample aspect ratio, as
/// players size their window from it. An unset ratio (a zero term) counts as square pixels.
fn display_size(track_id: u32, video: &VideoTrack) -> Result<(u32, u32), PackagerError> {
    let sar = square_if_unset(video.sample_aspect_ratio);
    let width = i128::from(video.width) * i128::from(sar.num) * 65_536 / i128::from(sar.den);
    let height = i128::from(video.height) * 65_536;
    Ok((fit(track_id, "display width (16.16)", width)?, fit(track_id, "display height (16.16)", height)?))
}

fn square_if_unset(ratio: Rational) -> Rational {
    if ratio.num == 0 || ratio.den == 0 {
        Rational::new(1, 1)
    } else {
        ratio
    }
}

fn avc1(track_id: u32, video: &VideoTrack) -> Result<Avc1, PackagerError> {
    let record = &video.avc_config;
    let bad = |reason: String| PackagerError::InvalidCodecConfig { codec: "avcC", reason };
    if record.len() < MIN_AVC_CONFIG_LEN {
        return Err(bad(format!("{} bytes, a record has at least {MIN_AVC_CONFIG_LEN}", record.len())));
    }
    if record[0] != 1 {
        return Err(bad(format!("configurationVersion is {}, not 1", record[0])));
    }
    if record[4] & 0x3 != NAL_LENGTH_SIZE_MINUS_ONE {
        return Err(bad(format!("NAL unit lengths are {} bytes, samples carry 4-byte lengths", (record[4] & 0x3) + 1)));
    }
    let sar = square_if_unset(video.sample_aspect_ratio);
    Ok(Avc1 {
        width: fit(track_id, "coded width", video.width)?,
        height: fit(track_id, "coded height", video.height)?,
        avcc: AvcC { record: record.clone() },
        pasp: Pasp { h_spacing: sar.num, v_spacing: sar.den },
    })
}

fn mp4a(audio: &AudioTrack) -> Result<Mp4a, PackagerError> {
    let asc = &audio.audio_specific_config;
    if asc.len() < 2 {
        return Err(PackagerError::InvalidCodecConfig {
            codec: "AudioSpecificConfig",
            reason: format!("{} bytes, a config has at least 2", asc.len()),
        });
    }
    let esds = Esds::new(asc.clone()).ok_or_else(|| PackagerError::InvalidCodecConfig {
        codec: "AudioSpecificConfig",
        reason: format!("{} bytes do not fit an MPEG-4 descriptor", asc.len()),
    })?;
    Ok(Mp4a { channel_count: audio.channels, sample_rate: Mp4a::sample_rate_field(audio.sample_rate), esds })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use bytes::Bytes;

    use super::*;
    use crate::cmaf::fixtures;

    fn read(init: &[u8]) -> mp4::Mp4Reader<Cursor<&[u8]>> {
        mp4::Mp4Reader::read_header(Cursor::new(init), init.len() as u64).unwrap()
    }

    #[test]
    fn video_header_reads_back_with_an_independent_parser() {
        let track = fixtures::video_track();
        let init = init_segment(&track, 0).unwrap();
        let reader = read(&init);
        assert_eq!(reader.major_brand().to_string(), "cmfc");
        let mp4_track = &reader.tracks()[&1];
        assert_eq!(mp4_track.track_type().unwrap(), mp4::TrackType::Video);
        assert_eq!((mp4_track.timescale(), mp4_track.width(), mp4_track.height()), (90_000, 640, 360));
        assert_eq!(mp4_track.sequence_parameter_set().unwrap(), fixtures::SPS);
        assert_eq!(mp4_track.picture_parameter_set().unwrap(), fixtures::PPS);
        let trak = &reader.moov.traks[0];
        assert_eq!(trak.tkhd.width.raw_value(), 640 << 16);
        assert_eq!(trak.mdia.mdhd.language, "und");
        assert!(trak.edts.is_none(), "no composition delay, no edit list");
        let mvex = reader.moov.mvex.as_ref().unwrap();
        assert_eq!((mvex.trex.track_id, mvex.trex.default_sample_flags), (1, NON_SYNC_SAMPLE_FLAGS));
    }

    #[test]
    fn a_composition_delay_is_taken_off_by_an_edit_list() {
        let init = init_segment(&fixtures::video_track(), 6006).unwrap();
        let edts = read(&init).moov.traks[0].edts.clone().expect("an edit list");
        let edit = &edts.elst.unwrap().entries[0];
        assert_eq!((edit.segment_duration, edit.media_time, edit.media_rate), (0, 6006, 1));

        let error = init_segment(&fixtures::video_track(), 1 << 63).unwrap_err();
        assert!(matches!(error, PackagerError::FieldOverflow { what: "edit list media time", .. }), "{error}");
    }

    #[test]
    fn avcc_is_written_verbatim() {
        let init = init_segment(&fixtures::video_track(), 0).unwrap();
        let record = fixtures::avc_config();
        let mut needle = (8 + record.len() as u32).to_be_bytes().to_vec();
        needle.extend_from_slice(b"avcC");
        needle.extend_from_slice(&record);
        assert!(init.windows(needle.len()).any(|w| w == needle), "avcC box with the record verbatim");
    }

    #[test]
    fn anamorphic_video_is_widened_in_tkhd_and_described_in_pasp() {
        let mut track = fixtures::video_track();
        let TrackMedia::Video(video) = &mut track.media else { unreachable!() };
        // 720x576 with 64:45 pixels displays as 1024x576.
        (video.width, video.height, video.sample_aspect_ratio) = (720, 576, Rational::new(64, 45));
        let moov = movie(&track, 0).unwrap();
        assert_eq!((moov.trak.tkhd.width, moov.trak.tkhd.height), (1024 << 16, 576 << 16));
        let SampleEntry::Avc1(avc1) = &moov.trak.mdia.minf.stbl.stsd.entry else { panic!("avc1") };
        assert_eq!((avc1.width, avc1.height), (720, 576));
        assert_eq!(avc1.pasp, Pasp { h_spacing: 64, v_spacing: 45 });

        // A fractional display width keeps its fraction: 2 * 1/3 = 0.666… → 0xAAAA.
        let TrackMedia::Video(video) = &mut track.media else { unreachable!() };
        (video.width, video.sample_aspect_ratio) = (2, Rational::new(1, 3));
        assert_eq!(movie(&track, 0).unwrap().trak.tkhd.width, 0xAAAA);

        let TrackMedia::Video(video) = &mut track.media else { unreachable!() };
        video.sample_aspect_ratio = Rational::new(0, 0);
        let moov = movie(&track, 0).unwrap();
        let SampleEntry::Avc1(avc1) = &moov.trak.mdia.minf.stbl.stsd.entry else { panic!("avc1") };
        assert_eq!(avc1.pasp, Pasp { h_spacing: 1, v_spacing: 1 });
    }

    #[test]
    fn audio_header_reads_back_with_an_independent_parser() {
        let init = init_segment(&fixtures::audio_track(), 0).unwrap();
        let reader = read(&init);
        let mp4_track = &reader.tracks()[&2];
        assert_eq!(mp4_track.track_type().unwrap(), mp4::TrackType::Audio);
        assert_eq!(mp4_track.timescale(), 48_000);
        assert_eq!(mp4_track.language(), "eng");
        assert_eq!(mp4_track.audio_profile().unwrap(), mp4::AudioObjectType::AacLowComplexity);
        assert_eq!(mp4_track.sample_freq_index().unwrap(), mp4::SampleFreqIndex::Freq48000);
        assert_eq!(mp4_track.channel_config().unwrap(), mp4::ChannelConfig::Stereo);
        let trak = &reader.moov.traks[0];
        assert_eq!(trak.tkhd.volume.raw_value(), 0x0100);
        assert_eq!(trak.mdia.hdlr.handler_type.to_string(), "soun");
        assert!(trak.mdia.minf.smhd.is_some());
    }

    #[test]
    fn every_invalid_field_is_an_error_naming_it() {
        let video = fixtures::video_track();
        let with_video = |edit: fn(&mut VideoTrack)| {
            let mut track = video.clone();
            let TrackMedia::Video(v) = &mut track.media else { unreachable!() };
            edit(v);
            init_segment(&track, 0).unwrap_err().to_string()
        };
        assert_eq!(with_video(|v| v.width = 65_536), "track 1: coded width (65536) does not fit its box field");
        assert_eq!(
            with_video(|v| (v.width, v.sample_aspect_ratio) = (40_000, Rational::new(2, 1))),
            "track 1: display width (16.16) (5242880000) does not fit its box field"
        );
        assert!(with_video(|v| v.avc_config = Bytes::from_static(&[1, 2, 3])).contains("at least 7"));
        assert!(with_video(|v| v.avc_config = Bytes::from_static(&[0, 0x64, 0, 0x1f, 0xff, 0xe0, 0]))
            .contains("configurationVersion"));
        assert!(
            with_video(|v| v.avc_config = Bytes::from_static(&[1, 0x64, 0, 0x1f, 0xfd, 0xe0, 0])).contains("2 bytes")
        );

        let mut track = video.clone();
        track.track_id = 0;
        assert_eq!(init_segment(&track, 0).unwrap_err().to_string(), "track 0: invalid track: track id 0 is reserved");
        let mut track = video;
        track.timescale = 0;
        assert!(init_segment(&track, 0).unwrap_err().to_string().contains("timescale is 0"));

        let mut track = fixtures::audio_track();
        let TrackMedia::Audio(audio) = &mut track.media else { unreachable!() };
        audio.language = "english".into();
        assert!(init_segment(&track, 0).unwrap_err().to_string().contains("\"english\""));
        let TrackMedia::Audio(audio) = &mut track.media else { unreachable!() };
        (audio.language, audio.audio_specific_config) = ("eng".into(), Bytes::from_static(&[0x11]));
        assert!(matches!(
            init_segment(&track, 0),
            Err(PackagerError::InvalidCodecConfig { codec: "AudioSpecificConfig", .. })
        ));
    }
}
