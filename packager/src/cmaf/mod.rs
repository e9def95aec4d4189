//! CMAF box writer: init segments (`ftyp` + `moov`) and media segments (`styp`, optional `sidx`, then
//! `moof` + `mdat` fragments), following ISO/IEC 14496-12 (ISO BMFF) and ISO/IEC 23000-19 (CMAF).
//!
//! The module tree mirrors the box tree (`moof/traf/trun.rs` writes `trun`). Every box implements [`Atom`]:
//! it writes its body and [`Atom::encode`] writes the header with the size, so no length is computed by
//! hand. Box values are checked when they are built from a [`Track`](crate::Track) or from samples
//! ([`init::init_segment`], [`fragment::media_segment`]); encoding itself cannot fail.

mod atom;
pub mod fragment;
pub mod ftyp;
pub mod init;
pub mod mdat;
pub mod moof;
pub mod moov;
pub mod sidx;
pub mod styp;

pub use atom::{put_full_box_header, Atom, FourCc, BOX_HEADER_LEN, LARGE_BOX_HEADER_LEN};
pub use fragment::{media_segment, Fragment, FragmentLocation, FragmentSample, MediaSegment};
pub use init::init_segment;
pub use mdat::MdatHeader;

use crate::PackagerError;

/// Converts `value` to the type of the box field that carries it, or says which field it overflows.
pub(crate) fn fit<T: TryFrom<i128>>(
    track_id: u32,
    what: &'static str,
    value: impl Into<i128>,
) -> Result<T, PackagerError> {
    let value = value.into();
    T::try_from(value).map_err(|_| PackagerError::FieldOverflow { track_id, what, value })
}

/// Tracks and codec configurations shared by the box tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::io::Cursor;

    use bytes::Bytes;

    use super::moov::trak::mdia::minf::stbl::stsd::mp4a::{esds::Esds, Mp4a};
    use crate::presentation::{AudioTrack, Rational, Track, TrackMedia, VideoTrack};

    /// SPS of a 640x360 High profile level 3.0 stream.
    pub const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00,
        0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2d, 0x96,
    ];
    pub const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    /// AVCDecoderConfigurationRecord with [`SPS`] and [`PPS`] and 4-byte NAL lengths.
    pub fn avc_config() -> Bytes {
        let mut record = vec![0x01, SPS[1], SPS[2], SPS[3], 0xff, 0xe1];
        record.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
        record.extend_from_slice(SPS);
        record.push(0x01);
        record.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
        record.extend_from_slice(PPS);
        Bytes::from(record)
    }

    /// AAC LC, 48 kHz, stereo.
    pub const AAC_LC_48K_STEREO: &[u8] = &[0x11, 0x90];

    pub fn video_track() -> Track {
        Track {
            track_id: 1,
            timescale: 90_000,
            media: TrackMedia::Video(VideoTrack {
                width: 640,
                height: 360,
                sample_aspect_ratio: Rational::new(1, 1),
                frame_rate: Rational::new(30, 1),
                avc_config: avc_config(),
            }),
        }
    }

    pub fn audio_track() -> Track {
        Track {
            track_id: 2,
            timescale: 48_000,
            media: TrackMedia::Audio(AudioTrack {
                sample_rate: 48_000,
                channels: 2,
                audio_specific_config: Bytes::from_static(AAC_LC_48K_STEREO),
                language: "eng".into(),
            }),
        }
    }

    /// Reads `bytes`, exactly one box, with the independent mp4 crate, checking that its reader consumed the
    /// whole box. The crate exports only its top-level box types, so callers name the others by a default
    /// value of the field they live in: `read_with_mp4(&bytes, mp4::MoovBox::default().mvhd)`.
    pub fn read_with_mp4<T>(bytes: &[u8], _type_of: T) -> T
    where
        T: for<'c> mp4::ReadBox<&'c mut Cursor<Vec<u8>>>,
    {
        let mut cursor = Cursor::new(bytes.to_vec());
        let header = mp4::BoxHeader::read(&mut cursor).unwrap();
        assert_eq!(header.size, bytes.len() as u64, "box size");
        let read = T::read_box(&mut cursor, header.size).unwrap();
        assert_eq!(cursor.position(), bytes.len() as u64, "the reader consumed exactly the box");
        read
    }

    /// The types of the boxes directly inside the box `bytes`, whose body starts after `skip` bytes of its own
    /// fields (4 for a full box).
    pub fn child_types(bytes: &[u8], skip: usize) -> Vec<String> {
        let mut children = Vec::new();
        let mut at = 8 + skip;
        while at < bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            children.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
            at += size;
        }
        assert_eq!(at, bytes.len(), "children fill the box exactly");
        children
    }

    pub fn mp4a() -> Mp4a {
        Mp4a {
            channel_count: 2,
            sample_rate: 48_000 << 16,
            esds: Esds::new(Bytes::from_static(AAC_LC_48K_STEREO)).unwrap(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_converts_or_names_the_field() {
        assert_eq!(fit::<u32>(1, "x", 7u64).unwrap(), 7);
        assert_eq!(fit::<i32>(1, "x", -7i64).unwrap(), -7);
        let error = fit::<u32>(4, "sample size", 1u64 << 32).unwrap_err();
        assert_eq!(error.to_string(), "track 4: sample size (4294967296) does not fit its box field");
        assert!(fit::<u64>(4, "decode time", -1i64).is_err());
    }
}
