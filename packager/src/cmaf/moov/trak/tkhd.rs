//! `tkhd`: track header: id, presentation size, volume.

use bytes::{BufMut, BytesMut};

use crate::cmaf::moov::UNITY_MATRIX;
use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// `track_enabled | track_in_movie`.
pub const TKHD_FLAGS: u32 = 0x00_0003;

/// Track header box, version 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tkhd {
    pub track_id: u32,
    /// 8.8 fixed point: 0x0100 for audio, 0 for video.
    pub volume: u16,
    /// Presentation width, 16.16 fixed point (the coded width scaled by the sample aspect ratio); 0 for audio.
    pub width: u32,
    /// Presentation height, 16.16 fixed point; 0 for audio.
    pub height: u32,
}

impl Atom for Tkhd {
    const FOURCC: FourCc = FourCc::new(b"tkhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, TKHD_FLAGS);
        buf.put_u32(0); // creation_time
        buf.put_u32(0); // modification_time
        buf.put_u32(self.track_id);
        buf.put_u32(0); // reserved
        buf.put_u32(0); // duration: carried by the fragments
        buf.put_bytes(0, 8); // reserved
        buf.put_u16(0); // layer
        buf.put_u16(0); // alternate_group
        buf.put_u16(self.volume);
        buf.put_u16(0); // reserved
        for value in UNITY_MATRIX {
            buf.put_u32(value);
        }
        buf.put_u32(self.width);
        buf.put_u32(self.height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_92_bytes_and_reads_back() {
        let tkhd = Tkhd { track_id: 3, volume: 0, width: 1280 << 16 | 0x8000, height: 720 << 16 };
        let bytes = tkhd.to_bytes();
        assert_eq!(bytes.len(), 92);
        assert_eq!(&bytes[..20], b"\x00\x00\x00\x5ctkhd\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(&bytes[84..], &[0x05, 0x00, 0x80, 0x00, 0x02, 0xd0, 0x00, 0x00]);

        let read = read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().tkhd);
        assert_eq!((read.version, read.flags, read.track_id, read.duration), (0, 3, 3, 0));
        assert_eq!(read.width.raw_value(), 1280 << 16 | 0x8000);
        assert_eq!(read.height.raw_value(), 720 << 16);
        assert_eq!(read.volume.raw_value(), 0);
        assert_eq!((read.matrix.a, read.matrix.d, read.matrix.w), (0x0001_0000, 0x0001_0000, 0x4000_0000));
    }

    #[test]
    fn audio_track_has_full_volume() {
        let bytes = Tkhd { track_id: 1, volume: 0x0100, width: 0, height: 0 }.to_bytes();
        assert_eq!(&bytes[44..46], &[0x01, 0x00]);
    }
}
