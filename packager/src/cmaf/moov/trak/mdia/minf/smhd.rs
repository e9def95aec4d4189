//! `smhd`: sound media header.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Sound media header box: centred balance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Smhd;

impl Atom for Smhd {
    const FOURCC: FourCc = FourCc::new(b"smhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u16(0); // balance
        buf.put_u16(0); // reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_and_reads_back() {
        let bytes = Smhd.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x10smhd\x00\x00\x00\x00\x00\x00\x00\x00");
        let read = read_with_mp4(
            &bytes,
            mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf.smhd.unwrap_or_default(),
        );
        assert_eq!(read.balance.value(), 0);
    }
}
