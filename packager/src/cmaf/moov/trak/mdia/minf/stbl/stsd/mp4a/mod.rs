//! `mp4a`: the MPEG-4 audio (AAC) sample entry.

pub mod esds;

use bytes::{BufMut, BytesMut};

use super::put_sample_entry_header;
use crate::cmaf::{Atom, FourCc};
use esds::Esds;

/// Audio sample entry, version 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4a {
    pub channel_count: u16,
    /// 16.16 fixed point. Rates above 65535 Hz do not fit and are written as 0: decoders take the rate from
    /// the AudioSpecificConfig.
    pub sample_rate: u32,
    pub esds: Esds,
}

impl Mp4a {
    /// The `samplerate` field for a rate in Hz.
    pub fn sample_rate_field(hz: u32) -> u32 {
        u16::try_from(hz).map_or(0, |hz| u32::from(hz) << 16)
    }
}

impl Atom for Mp4a {
    const FOURCC: FourCc = FourCc::new(b"mp4a");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_sample_entry_header(buf);
        buf.put_bytes(0, 8); // reserved
        buf.put_u16(self.channel_count);
        buf.put_u16(16); // samplesize
        buf.put_u16(0); // pre_defined
        buf.put_u16(0); // reserved
        buf.put_u32(self.sample_rate);
        self.esds.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_fixed_fields_then_esds_and_reads_back() {
        let mp4a = fixtures::mp4a();
        let bytes = mp4a.to_bytes();
        let esds = mp4a.esds.to_bytes();
        assert_eq!(bytes.len(), 36 + esds.len());
        assert_eq!(&bytes[4..8], b"mp4a");
        assert_eq!(&bytes[24..36], &[0, 2, 0, 16, 0, 0, 0, 0, 0xbb, 0x80, 0, 0]);
        assert_eq!(&bytes[36..], &esds[..]);

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
                .mp4a
                .unwrap_or_default(),
        );
        assert_eq!((read.data_reference_index, read.channelcount, read.samplesize), (1, 2, 16));
        assert_eq!(read.samplerate.value(), 48_000);
        assert!(read.esds.is_some());
    }

    #[test]
    fn sample_rates_above_16_bits_are_written_as_zero() {
        assert_eq!(Mp4a::sample_rate_field(44_100), 44_100 << 16);
        assert_eq!(Mp4a::sample_rate_field(65_535), 65_535 << 16);
        assert_eq!(Mp4a::sample_rate_field(96_000), 0);
    }
}
