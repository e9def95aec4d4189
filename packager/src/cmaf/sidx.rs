//! `sidx`: segment index: one reference per fragment of a media segment, so a DASH client can fetch a
//! single fragment by byte range.

use bytes::{BufMut, BytesMut};

use super::{put_full_box_header, Atom, FourCc};

/// Largest `referenced_size`: the field has 31 bits.
pub const MAX_REFERENCED_SIZE: u64 = (1 << 31) - 1;
/// Largest `SAP_delta_time`: the field has 28 bits.
pub const MAX_SAP_DELTA_TIME: u32 = (1 << 28) - 1;

/// One subsegment (here: one fragment, `moof` + `mdat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidxReference {
    /// Bytes from the start of this fragment's `moof` to the end of its `mdat`; at most
    /// [`MAX_REFERENCED_SIZE`].
    pub referenced_size: u32,
    pub subsegment_duration: u32,
    pub starts_with_sap: bool,
    /// 1: closed random access point, every later sample presented after it; 3: open, some samples that
    /// follow in decode order are presented before it; 0: unknown.
    pub sap_type: u8,
    /// At most [`MAX_SAP_DELTA_TIME`].
    pub sap_delta_time: u32,
}

/// Segment index box, version 1 (64-bit times and offsets). References point at media, never at other
/// `sidx` boxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidx {
    pub reference_id: u32,
    pub timescale: u32,
    pub earliest_presentation_time: u64,
    /// From the end of this box to the first referenced byte.
    pub first_offset: u64,
    /// At most `u16::MAX` references.
    pub references: Vec<SidxReference>,
}

impl Atom for Sidx {
    const FOURCC: FourCc = FourCc::new(b"sidx");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 1, 0);
        buf.put_u32(self.reference_id);
        buf.put_u32(self.timescale);
        buf.put_u64(self.earliest_presentation_time);
        buf.put_u64(self.first_offset);
        buf.put_u16(0); // reserved
        buf.put_u16(u16::try_from(self.references.len()).unwrap_or(u16::MAX));
        for reference in self.references.iter().take(usize::from(u16::MAX)) {
            // reference_type 0 (media) in the top bit.
            buf.put_u32(reference.referenced_size & MAX_REFERENCED_SIZE as u32);
            buf.put_u32(reference.subsegment_duration);
            let sap = u32::from(reference.starts_with_sap) << 31
                | u32::from(reference.sap_type & 0x7) << 28
                | (reference.sap_delta_time & MAX_SAP_DELTA_TIME);
            buf.put_u32(sap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_version_1_with_packed_references() {
        // The mp4 crate has no `sidx` reader; expected bytes follow ISO/IEC 14496-12 8.16.3.2.
        let sidx = Sidx {
            reference_id: 1,
            timescale: 90_000,
            earliest_presentation_time: 0x1_0000_0000,
            first_offset: 0,
            references: vec![
                SidxReference {
                    referenced_size: 0x1234,
                    subsegment_duration: 180_000,
                    starts_with_sap: true,
                    sap_type: 1,
                    sap_delta_time: 0,
                },
                SidxReference {
                    referenced_size: MAX_REFERENCED_SIZE as u32,
                    subsegment_duration: 3,
                    starts_with_sap: false,
                    sap_type: 0,
                    sap_delta_time: 0,
                },
            ],
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 0x40, b's', b'i', b'd', b'x', 1, 0, 0, 0,
            0, 0, 0, 1, 0, 1, 0x5f, 0x90,
            0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 2,
            0, 0, 0x12, 0x34, 0, 0x02, 0xbf, 0x20, 0x90, 0, 0, 0,
            0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 3, 0, 0, 0, 0,
        ];
        assert_eq!(&sidx.to_bytes()[..], expected);
    }

    #[test]
    fn open_gop_sap_type_and_delta_are_packed_below_the_sap_bit() {
        let reference = SidxReference {
            referenced_size: 1,
            subsegment_duration: 1,
            starts_with_sap: true,
            sap_type: 3,
            sap_delta_time: MAX_SAP_DELTA_TIME,
        };
        let sidx = Sidx {
            reference_id: 1,
            timescale: 1,
            earliest_presentation_time: 0,
            first_offset: 0,
            references: vec![reference],
        };
        let bytes = sidx.to_bytes();
        assert_eq!(&bytes[bytes.len() - 4..], &[0xbf, 0xff, 0xff, 0xff]);
    }
}
