//! `esds`: the MPEG-4 elementary stream descriptor that carries the AudioSpecificConfig
//! (ISO/IEC 14496-1 7.2.6.5, ISO/IEC 14496-14 5.6).

use bytes::{BufMut, Bytes, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

const ES_DESCRIPTOR_TAG: u8 = 0x03;
const DECODER_CONFIG_DESCRIPTOR_TAG: u8 = 0x04;
const DECODER_SPECIFIC_INFO_TAG: u8 = 0x05;
const SL_CONFIG_DESCRIPTOR_TAG: u8 = 0x06;
/// objectTypeIndication for ISO/IEC 14496-3 audio (AAC).
pub const OBJECT_TYPE_AUDIO_ISO_14496_3: u8 = 0x40;
/// streamType of an audio stream.
pub const STREAM_TYPE_AUDIO: u8 = 0x05;
/// SLConfigDescriptor `predefined` value reserved for MP4 files.
const SL_PREDEFINED_MP4: u8 = 0x02;
/// Descriptor sizes are at most four 7-bit groups.
const MAX_DESCRIPTOR_LEN: usize = (1 << 28) - 1;

/// Elementary stream descriptor box for one AAC stream. Bit rates and buffer size are written as 0
/// (unknown): the header is written before any sample is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Esds {
    audio_specific_config: Bytes,
}

impl Esds {
    /// `None` when the config is too long for a descriptor size.
    pub fn new(audio_specific_config: Bytes) -> Option<Self> {
        (es_descriptor_len(audio_specific_config.len()) <= MAX_DESCRIPTOR_LEN).then_some(Self { audio_specific_config })
    }

    pub fn audio_specific_config(&self) -> &Bytes {
        &self.audio_specific_config
    }
}

/// Size of the DecoderConfigDescriptor body: 13 fixed bytes, then the DecoderSpecificInfo.
fn decoder_config_len(asc_len: usize) -> usize {
    13 + 1 + size_field_len(asc_len) + asc_len
}

/// Size of the ES_Descriptor body: 3 fixed bytes, the DecoderConfigDescriptor, the 3-byte SLConfigDescriptor.
fn es_descriptor_len(asc_len: usize) -> usize {
    let dcd = decoder_config_len(asc_len);
    3 + 1 + size_field_len(dcd) + dcd + 3
}

impl Atom for Esds {
    const FOURCC: FourCc = FourCc::new(b"esds");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        let asc_len = self.audio_specific_config.len();
        put_descriptor_header(buf, ES_DESCRIPTOR_TAG, es_descriptor_len(asc_len));
        buf.put_u16(0); // ES_ID: 0 in files
        buf.put_u8(0); // no stream dependence, URL or OCR stream

        put_descriptor_header(buf, DECODER_CONFIG_DESCRIPTOR_TAG, decoder_config_len(asc_len));
        buf.put_u8(OBJECT_TYPE_AUDIO_ISO_14496_3);
        buf.put_u8(STREAM_TYPE_AUDIO << 2 | 0b01); // upStream 0, reserved 1
        buf.put_uint(0, 3); // bufferSizeDB
        buf.put_u32(0); // maxBitrate
        buf.put_u32(0); // avgBitrate: 0 = variable or unknown
        put_descriptor_header(buf, DECODER_SPECIFIC_INFO_TAG, asc_len);
        buf.extend_from_slice(&self.audio_specific_config);

        put_descriptor_header(buf, SL_CONFIG_DESCRIPTOR_TAG, 1);
        buf.put_u8(SL_PREDEFINED_MP4);
    }
}

/// Bytes needed for a descriptor size in the expandable 7-bits-per-byte form.
fn size_field_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0x3FFF => 2,
        0x4000..=0x1F_FFFF => 3,
        _ => 4,
    }
}

/// Tag, then the size in as few 7-bit groups as it needs, high groups first with the continuation bit set.
/// Sizes are bounded by [`Esds::new`].
fn put_descriptor_header(buf: &mut BytesMut, tag: u8, len: usize) {
    buf.put_u8(tag);
    let groups = size_field_len(len);
    for i in (0..groups).rev() {
        let group = ((len >> (7 * i)) & 0x7F) as u8;
        buf.put_u8(if i > 0 { group | 0x80 } else { group });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn aac_lc_stereo_48k_encodes_byte_for_byte() {
        let esds = Esds::new(Bytes::from_static(&[0x11, 0x90])).unwrap();
        let expected: &[u8] = &[
            0, 0, 0, 0x27, b'e', b's', b'd', b's', 0, 0, 0, 0, // header, version 0, flags 0
            0x03, 0x19, 0x00, 0x00, 0x00, // ES_Descriptor, 25 bytes, ES_ID 0, flags 0
            0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // DecoderConfigDescriptor, 17 bytes
            0x05, 0x02, 0x11, 0x90, // DecoderSpecificInfo: the AudioSpecificConfig
            0x06, 0x01, 0x02, // SLConfigDescriptor, predefined = 2
        ];
        assert_eq!(&esds.to_bytes()[..], expected);
    }

    #[test]
    fn an_independent_parser_reads_the_descriptors() {
        let bytes = Esds::new(Bytes::from_static(&[0x12, 0x10])).unwrap().to_bytes();
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
                .unwrap_or_default()
                .esds
                .unwrap_or_default(),
        );
        let dcd = &read.es_desc.dec_config;
        assert_eq!((dcd.object_type_indication, dcd.stream_type, dcd.up_stream), (0x40, 5, 0));
        // 0x12 0x10: AAC LC (2), frequency index 4 (44.1 kHz), 2 channels.
        let dsi = &dcd.dec_specific;
        assert_eq!((dsi.profile, dsi.freq_index, dsi.chan_conf), (2, 4, 2));
    }

    #[test]
    fn long_configs_use_multi_byte_sizes() {
        let asc = Bytes::from(vec![0xAB; 200]);
        let bytes = Esds::new(asc).unwrap().to_bytes();
        // ES_Descriptor body: 3 + (1 + 2 + 216) + 3 = 225 → 0x81 0x61.
        assert_eq!(&bytes[12..15], &[0x03, 0x81, 0x61]);
        // DecoderConfigDescriptor body: 13 + 1 + 2 + 200 = 216 → 0x81 0x58.
        assert_eq!(&bytes[18..21], &[0x04, 0x81, 0x58]);
        // DecoderSpecificInfo: 200 → 0x81 0x48.
        assert_eq!(&bytes[34..37], &[0x05, 0x81, 0x48]);
        assert_eq!(&bytes[bytes.len() - 3..], &[0x06, 0x01, 0x02]);
        assert_eq!(bytes.len(), 12 + 3 + 225);
    }

    #[test]
    fn size_fields_use_7_bit_groups() {
        for (len, expected) in [
            (0usize, vec![0x00]),
            (0x7F, vec![0x7F]),
            (0x80, vec![0x81, 0x00]),
            (0x3FFF, vec![0xFF, 0x7F]),
            (0x4000, vec![0x81, 0x80, 0x00]),
            (MAX_DESCRIPTOR_LEN, vec![0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut buf = BytesMut::new();
            put_descriptor_header(&mut buf, 9, len);
            assert_eq!(buf[0], 9);
            assert_eq!(&buf[1..], &expected[..], "{len:#x}");
        }
    }

    #[test]
    fn the_outer_descriptor_bounds_the_config_length() {
        // Building a 256 MiB config to hit the limit is wasteful; check the bound `Esds::new` applies instead.
        // Overhead: ES 3 + DCD header 1 + 4 + DCD fixed 13 + DSI header 1 + 4 + SL 3 = 29 bytes.
        let largest = MAX_DESCRIPTOR_LEN - 29;
        assert_eq!(es_descriptor_len(largest), MAX_DESCRIPTOR_LEN);
        assert!(es_descriptor_len(largest + 1) > MAX_DESCRIPTOR_LEN);
        assert_eq!(es_descriptor_len(0), 3 + 1 + 1 + 15 + 3);
        assert!(Esds::new(Bytes::new()).is_some());
    }
}
