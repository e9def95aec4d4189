//! `mfhd`: movie fragment header: the fragment's sequence number.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Movie fragment header box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mfhd {
    /// Starts at 1 and increases by one per fragment across the whole track.
    pub sequence_number: u32,
}

impl Atom for Mfhd {
    const FOURCC: FourCc = FourCc::new(b"mfhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(self.sequence_number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_and_reads_back() {
        let bytes = Mfhd { sequence_number: 0x0102_0304 }.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x10mfhd\x00\x00\x00\x00\x01\x02\x03\x04");
        let read = read_with_mp4(&bytes, mp4::MoofBox::default().mfhd);
        assert_eq!(read.sequence_number, 0x0102_0304);
    }
}
