//! `avcC`: the AVCDecoderConfigurationRecord, written exactly as the encoder produced it.

use bytes::{Bytes, BytesMut};

use crate::cmaf::{Atom, FourCc};

/// AVC configuration box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcC {
    /// The record, verbatim (ISO/IEC 14496-15 5.3.3.1).
    pub record: Bytes,
}

impl Atom for AvcC {
    const FOURCC: FourCc = FourCc::new(b"avcC");

    fn encode_body(&self, buf: &mut BytesMut) {
        buf.extend_from_slice(&self.record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn carries_the_record_verbatim_and_reads_back() {
        let record = fixtures::avc_config();
        let bytes = AvcC { record: record.clone() }.to_bytes();
        assert_eq!(&bytes[..4], &(8 + record.len() as u32).to_be_bytes());
        assert_eq!(&bytes[4..8], b"avcC");
        assert_eq!(&bytes[8..], &record[..]);

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
                .unwrap_or_default()
                .avcc,
        );
        assert_eq!(read.length_size_minus_one, 3);
        assert_eq!(read.sequence_parameter_sets[0].bytes, fixtures::SPS);
        assert_eq!(read.picture_parameter_sets[0].bytes, fixtures::PPS);
    }
}
