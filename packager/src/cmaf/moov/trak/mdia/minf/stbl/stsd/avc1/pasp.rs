//! `pasp`: pixel (sample) aspect ratio.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{Atom, FourCc};

/// Pixel aspect ratio box: a pixel is `h_spacing / v_spacing` as wide as it is tall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pasp {
    pub h_spacing: u32,
    pub v_spacing: u32,
}

impl Atom for Pasp {
    const FOURCC: FourCc = FourCc::new(b"pasp");

    fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u32(self.h_spacing);
        buf.put_u32(self.v_spacing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_both_spacings() {
        // The mp4 crate has no `pasp` reader; the layout is two u32 (ISO/IEC 14496-12 12.1.4.2).
        let bytes = Pasp { h_spacing: 64, v_spacing: 45 }.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x10pasp\x00\x00\x00\x40\x00\x00\x00\x2d");
    }
}
