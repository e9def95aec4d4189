//! `mvhd`: movie header. Fragmented, so the duration is 0 and the times are unknown (0).

use bytes::{BufMut, BytesMut};

use super::UNITY_MATRIX;
use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Movie header box, version 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mvhd {
    pub timescale: u32,
    /// The id a new track would get: one more than the highest in use.
    pub next_track_id: u32,
}

impl Atom for Mvhd {
    const FOURCC: FourCc = FourCc::new(b"mvhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(0); // creation_time
        buf.put_u32(0); // modification_time
        buf.put_u32(self.timescale);
        buf.put_u32(0); // duration: carried by the fragments
        buf.put_u32(0x0001_0000); // rate 1.0
        buf.put_u16(0x0100); // volume 1.0
        buf.put_u16(0); // reserved
        buf.put_bytes(0, 8); // reserved
        for value in UNITY_MATRIX {
            buf.put_u32(value);
        }
        buf.put_bytes(0, 24); // pre_defined
        buf.put_u32(self.next_track_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_108_bytes_and_reads_back() {
        let bytes = Mvhd { timescale: 90_000, next_track_id: 2 }.to_bytes();
        assert_eq!(bytes.len(), 108);
        assert_eq!(&bytes[..12], b"\x00\x00\x00\x6cmvhd\x00\x00\x00\x00");
        assert_eq!(&bytes[104..], &[0, 0, 0, 2]);

        let mvhd = read_with_mp4(&bytes, mp4::MoovBox::default().mvhd);
        assert_eq!((mvhd.version, mvhd.timescale, mvhd.duration), (0, 90_000, 0));
        assert_eq!(mvhd.rate.value(), 1);
        assert_eq!(mvhd.volume.value(), 1);
        assert_eq!(mvhd.next_track_id, 2);
    }
}
