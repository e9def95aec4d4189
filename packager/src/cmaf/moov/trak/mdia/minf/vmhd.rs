//! `vmhd`: video media header.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Video media header box: copy graphics mode, flags = 1 as ISO/IEC 14496-12 requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vmhd;

impl Atom for Vmhd {
    const FOURCC: FourCc = FourCc::new(b"vmhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 1);
        buf.put_u16(0); // graphicsmode: copy
        buf.put_bytes(0, 6); // opcolor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_and_reads_back() {
        let bytes = Vmhd.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x14vmhd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00");
        let read = read_with_mp4(
            &bytes,
            mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf.vmhd.unwrap_or_default(),
        );
        assert_eq!((read.flags, read.graphics_mode), (1, 0));
    }
}
