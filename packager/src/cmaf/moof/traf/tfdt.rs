//! `tfdt`: track fragment decode time: the decode time of the fragment's first sample.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Track fragment base media decode time box, always version 1 (64-bit) so long tracks never wrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tfdt {
    pub base_media_decode_time: u64,
}

impl Atom for Tfdt {
    const FOURCC: FourCc = FourCc::new(b"tfdt");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 1, 0);
        buf.put_u64(self.base_media_decode_time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_version_1_and_reads_back() {
        let bytes = Tfdt { base_media_decode_time: 0x0000_0001_0000_0002 }.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x14tfdt\x01\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02");
        let read = read_with_mp4(
            &bytes,
            mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().tfdt.unwrap_or_default(),
        );
        assert_eq!((read.version, read.base_media_decode_time), (1, 0x0000_0001_0000_0002));
    }
}
