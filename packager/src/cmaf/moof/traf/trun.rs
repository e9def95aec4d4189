//! `trun`: track fragment run: per-sample duration, size, flags and composition offset.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

pub const DATA_OFFSET_PRESENT: u32 = 0x00_0001;
pub const SAMPLE_DURATION_PRESENT: u32 = 0x00_0100;
pub const SAMPLE_SIZE_PRESENT: u32 = 0x00_0200;
pub const SAMPLE_FLAGS_PRESENT: u32 = 0x00_0400;
pub const SAMPLE_COMPOSITION_TIME_OFFSETS_PRESENT: u32 = 0x00_0800;

/// One sample of a run. Fields the run does not carry (see [`TrunFields`]) are not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunSample {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    /// Presentation time minus decode time.
    pub composition_offset: i32,
}

/// Which optional per-sample fields a run carries; sizes always are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunFields {
    pub duration: bool,
    pub flags: bool,
    pub composition_offset: bool,
}

/// Track run box. Version 1 (signed composition offsets) whenever offsets are written. The segmenter's
/// offsets are `pts - dts`, never negative for an encoder's output, but a sample presented before it is
/// decoded can still be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trun {
    /// From the start of the enclosing `moof` to the first sample's data.
    pub data_offset: i32,
    pub fields: TrunFields,
    pub samples: Vec<TrunSample>,
}

impl Trun {
    pub fn version(&self) -> u8 {
        u8::from(self.fields.composition_offset)
    }

    pub fn flags(&self) -> u32 {
        let mut flags = DATA_OFFSET_PRESENT | SAMPLE_SIZE_PRESENT;
        if self.fields.duration {
            flags |= SAMPLE_DURATION_PRESENT;
        }
        if self.fields.flags {
            flags |= SAMPLE_FLAGS_PRESENT;
        }
        if self.fields.composition_offset {
            flags |= SAMPLE_COMPOSITION_TIME_OFFSETS_PRESENT;
        }
        flags
    }
}

impl Atom for Trun {
    const FOURCC: FourCc = FourCc::new(b"trun");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, self.version(), self.flags());
        // A run longer than u32::MAX samples would not fit in memory; saturate rather than wrap.
        buf.put_u32(u32::try_from(self.samples.len()).unwrap_or(u32::MAX));
        buf.put_i32(self.data_offset);
        for sample in &self.samples {
            if self.fields.duration {
                buf.put_u32(sample.duration);
            }
            buf.put_u32(sample.size);
            if self.fields.flags {
                buf.put_u32(sample.flags);
            }
            if self.fields.composition_offset {
                buf.put_i32(sample.composition_offset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    const ALL: TrunFields = TrunFields { duration: true, flags: true, composition_offset: true };

    #[test]
    fn version_1_with_every_field_and_a_negative_offset() {
        let trun = Trun {
            data_offset: 0x70,
            fields: ALL,
            samples: vec![
                TrunSample { duration: 3000, size: 5000, flags: 0x0200_0000, composition_offset: 0 },
                TrunSample { duration: 3000, size: 300, flags: 0x0101_0000, composition_offset: -3000 },
            ],
        };
        let bytes = trun.to_bytes();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 0x34, b't', b'r', b'u', b'n', 1, 0, 0x0f, 0x01,
            0, 0, 0, 2, 0, 0, 0, 0x70,
            0, 0, 0x0b, 0xb8, 0, 0, 0x13, 0x88, 0x02, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0x0b, 0xb8, 0, 0, 0x01, 0x2c, 0x01, 0x01, 0, 0, 0xff, 0xff, 0xf4, 0x48,
        ];
        assert_eq!(&bytes[..], expected);

        let read = read_with_mp4(
            &bytes,
            mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().trun.unwrap_or_default(),
        );
        assert_eq!((read.version, read.flags, read.sample_count, read.data_offset), (1, 0x0f01, 2, Some(0x70)));
        assert_eq!(read.sample_durations, [3000, 3000]);
        assert_eq!(read.sample_sizes, [5000, 300]);
        assert_eq!(read.sample_flags, [0x0200_0000, 0x0101_0000]);
        // The mp4 crate reads offsets as u32 whatever the version; reinterpret the bits as signed.
        let offsets: Vec<i32> = read.sample_cts.iter().map(|&cts| cts as i32).collect();
        assert_eq!(offsets, [0, -3000]);
    }

    #[test]
    fn fields_left_to_tfhd_defaults_are_not_written() {
        let fields = TrunFields { duration: false, flags: false, composition_offset: false };
        let sample = TrunSample { duration: 1024, size: 371, flags: 0x0200_0000, composition_offset: 0 };
        let trun = Trun { data_offset: 200, fields, samples: vec![sample, TrunSample { size: 7, ..sample }] };
        let bytes = trun.to_bytes();
        assert_eq!(
            &bytes[..],
            b"\x00\x00\x00\x1ctrun\x00\x00\x02\x01\x00\x00\x00\x02\x00\x00\x00\xc8\x00\x00\x01\x73\x00\x00\x00\x07"
        );
        let read = read_with_mp4(
            &bytes,
            mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().trun.unwrap_or_default(),
        );
        assert_eq!((read.version, read.flags), (0, DATA_OFFSET_PRESENT | SAMPLE_SIZE_PRESENT));
        assert_eq!(read.sample_sizes, [371, 7]);
        assert!(read.sample_durations.is_empty() && read.sample_flags.is_empty() && read.sample_cts.is_empty());
    }

    #[test]
    fn an_empty_run_is_well_formed() {
        let bytes = Trun { data_offset: 0, fields: ALL, samples: vec![] }.to_bytes();
        assert_eq!(bytes.len(), 20);
        assert_eq!(
            read_with_mp4(
                &bytes,
                mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().trun.unwrap_or_default()
            )
            .sample_count,
            0
        );
    }
}
