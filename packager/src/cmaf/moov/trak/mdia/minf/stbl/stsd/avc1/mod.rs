//! `avc1`: the H.264 visual sample entry (parameter sets only in `avcC`, never in-band).

pub mod avcc;
pub mod pasp;

use bytes::{BufMut, BytesMut};

use super::put_sample_entry_header;
use crate::cmaf::{Atom, FourCc};
use avcc::AvcC;
use pasp::Pasp;

/// 72 dpi, 16.16 fixed point.
const RESOLUTION_72_DPI: u32 = 0x0048_0000;
/// Colour with no alpha.
const DEPTH_24: u16 = 0x0018;

/// AVC visual sample entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avc1 {
    /// Coded width in pixels.
    pub width: u16,
    /// Coded height in pixels.
    pub height: u16,
    pub avcc: AvcC,
    /// Always written: CMAF requires it in video sample entries.
    pub pasp: Pasp,
}

impl Atom for Avc1 {
    const FOURCC: FourCc = FourCc::new(b"avc1");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_sample_entry_header(buf);
        buf.put_u16(0); // pre_defined
        buf.put_u16(0); // reserved
        buf.put_bytes(0, 12); // pre_defined
        buf.put_u16(self.width);
        buf.put_u16(self.height);
        buf.put_u32(RESOLUTION_72_DPI);
        buf.put_u32(RESOLUTION_72_DPI);
        buf.put_u32(0); // reserved
        buf.put_u16(1); // frame_count
        buf.put_bytes(0, 32); // compressorname: empty Pascal string
        buf.put_u16(DEPTH_24);
        buf.put_i16(-1); // pre_defined
                         // avcC first: some readers (the mp4 crate among them) expect it right after the fixed fields.
        self.avcc.encode(buf);
        self.pasp.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_fixed_fields_then_avcc_and_pasp_and_reads_back() {
        let avc1 = Avc1 {
            width: 1920,
            height: 1080,
            avcc: AvcC { record: fixtures::avc_config() },
            pasp: Pasp { h_spacing: 4, v_spacing: 3 },
        };
        let bytes = avc1.to_bytes();
        let avcc = avc1.avcc.to_bytes();
        let pasp = avc1.pasp.to_bytes();
        assert_eq!(bytes.len(), 86 + avcc.len() + pasp.len());
        assert_eq!(&bytes[4..8], b"avc1");
        assert_eq!(&bytes[8..16], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&bytes[32..36], &[0x07, 0x80, 0x04, 0x38]);
        assert_eq!(&bytes[82..86], &[0x00, 0x18, 0xff, 0xff]);
        assert_eq!(&bytes[86..86 + avcc.len()], &avcc[..]);
        assert_eq!(&bytes[86 + avcc.len()..], &pasp[..]);

        let read = read_with_mp4(
            &bytes,
            mp4::MoovBox::default()
                .traks
                .into_iter()
                .next()
                .unwrap_or_default()
                .mdia
                .minf
                .stbl
                .stsd
                .avc1
                .unwrap_or_default(),
        );
        assert_eq!((read.data_reference_index, read.width, read.height), (1, 1920, 1080));
        assert_eq!((read.horizresolution.value(), read.frame_count, read.depth), (72, 1, 24));
        assert_eq!(read.avcc.avc_profile_indication, fixtures::avc_config()[1]);
    }
}
