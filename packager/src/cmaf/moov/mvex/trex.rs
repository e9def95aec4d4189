//! `trex`: the track's fragment defaults. Every `traf` states its own values, so these are only fallbacks.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Track extends box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trex {
    pub track_id: u32,
    pub default_sample_flags: u32,
}

impl Atom for Trex {
    const FOURCC: FourCc = FourCc::new(b"trex");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(self.track_id);
        buf.put_u32(1); // default_sample_description_index: the one entry of stsd
        buf.put_u32(0); // default_sample_duration
        buf.put_u32(0); // default_sample_size
        buf.put_u32(self.default_sample_flags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_and_reads_back() {
        let bytes = Trex { track_id: 7, default_sample_flags: 0x0101_0000 }.to_bytes();
        assert_eq!(
            &bytes[..],
            b"\x00\x00\x00\x20trex\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00"
        );
        let trex = read_with_mp4(&bytes, mp4::MoovBox::default().mvex.unwrap_or_default().trex);
        assert_eq!(trex.track_id, 7);
        assert_eq!(trex.default_sample_description_index, 1);
        assert_eq!(trex.default_sample_flags, 0x0101_0000);
    }
}
