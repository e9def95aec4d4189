//! `elst`: edit list: one edit that maps the track's composition timeline onto the presentation
//! timeline, so that video with B-frames is presented from its first frame at that frame's own time.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// `media_rate_integer` of an edit played at normal speed.
const NORMAL_RATE: i16 = 1;

/// Edit list box with a single edit: the whole media from `media_time` on, at normal rate.
///
/// `segment_duration` is 0: in a fragmented file whose initial movie has no samples, ISO/IEC 14496-12
/// (8.6.6) lets a zero-duration edit give "the offset from media composition time to movie presentation
/// time, for the movie and subsequent movie fragments", and recommends exactly this use to present the first
/// sample at 0 when composition offsets are used. ffmpeg, GStreamer's qtdemux and Chromium's MSE parser all
/// apply a single edit's `media_time` this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elst {
    /// Composition time (track ticks) that is presented at presentation time 0.
    pub media_time: i64,
}

impl Elst {
    /// Version 0 (32-bit fields) when the media time fits, else version 1.
    pub fn version(&self) -> u8 {
        u8::from(i32::try_from(self.media_time).is_err())
    }
}

impl Atom for Elst {
    const FOURCC: FourCc = FourCc::new(b"elst");

    fn encode_body(&self, buf: &mut BytesMut) {
        let version = self.version();
        put_full_box_header(buf, version, 0);
        buf.put_u32(1); // entry_count
        if version == 0 {
            buf.put_u32(0); // segment_duration
            buf.put_i32(self.media_time as i32); // fits: checked by version()
        } else {
            buf.put_u64(0);
            buf.put_i64(self.media_time);
        }
        buf.put_i16(NORMAL_RATE);
        buf.put_i16(0); // media_rate_fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    /// The mp4 crate exports only top-level box types: name the elst by the field it lives in.
    macro_rules! read {
        ($bytes:expr) => {{
            let trak = mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default();
            read_with_mp4($bytes, trak.edts.unwrap_or_default().elst.unwrap_or_default())
        }};
    }

    #[test]
    fn encodes_one_zero_duration_edit_and_reads_back() {
        let bytes = Elst { media_time: 6006 }.to_bytes();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 0x1c, b'e', b'l', b's', b't', 0, 0, 0, 0,
            0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0x17, 0x76, 0, 1, 0, 0,
        ];
        assert_eq!(&bytes[..], expected);
        let read = read!(&bytes);
        assert_eq!((read.version, read.flags, read.entries.len()), (0, 0, 1));
        let edit = &read.entries[0];
        assert_eq!(
            (edit.segment_duration, edit.media_time, edit.media_rate, edit.media_rate_fraction),
            (0, 6006, 1, 0)
        );
    }

    #[test]
    fn a_media_time_past_32_bits_takes_version_1() {
        let media_time = i64::from(i32::MAX) + 1;
        let elst = Elst { media_time };
        assert_eq!((Elst { media_time: i64::from(i32::MAX) }.version(), elst.version()), (0, 1));
        let bytes = elst.to_bytes();
        assert_eq!(bytes.len(), 36);
        let read = read!(&bytes);
        assert_eq!((read.version, read.entries[0].segment_duration, read.entries[0].media_time), (1, 0, 1 << 31));
    }
}
