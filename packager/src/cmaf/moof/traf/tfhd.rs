//! `tfhd`: track fragment header: track id, data addressing, per-fragment sample defaults.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Sample data offsets are relative to the start of the enclosing `moof`.
pub const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
pub const DEFAULT_SAMPLE_DURATION_PRESENT: u32 = 0x00_0008;
pub const DEFAULT_SAMPLE_FLAGS_PRESENT: u32 = 0x00_0020;

/// Track fragment header box. A default is written when every sample of the fragment shares the value, so
/// that `trun` can leave the per-sample field out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tfhd {
    pub track_id: u32,
    pub default_sample_duration: Option<u32>,
    pub default_sample_flags: Option<u32>,
}

impl Tfhd {
    pub fn flags(&self) -> u32 {
        let mut flags = DEFAULT_BASE_IS_MOOF;
        if self.default_sample_duration.is_some() {
            flags |= DEFAULT_SAMPLE_DURATION_PRESENT;
        }
        if self.default_sample_flags.is_some() {
            flags |= DEFAULT_SAMPLE_FLAGS_PRESENT;
        }
        flags
    }
}

impl Atom for Tfhd {
    const FOURCC: FourCc = FourCc::new(b"tfhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, self.flags());
        buf.put_u32(self.track_id);
        // Optional fields in flag order; base_data_offset, sample_description_index and default_sample_size
        // are never written.
        if let Some(duration) = self.default_sample_duration {
            buf.put_u32(duration);
        }
        if let Some(flags) = self.default_sample_flags {
            buf.put_u32(flags);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn without_defaults_only_the_track_id_follows() {
        let bytes = Tfhd { track_id: 1, default_sample_duration: None, default_sample_flags: None }.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x10tfhd\x00\x02\x00\x00\x00\x00\x00\x01");
        let tfhd = read_with_mp4(&bytes, mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().tfhd);
        assert_eq!((tfhd.flags, tfhd.track_id), (DEFAULT_BASE_IS_MOOF, 1));
        assert_eq!(
            (tfhd.base_data_offset, tfhd.default_sample_duration, tfhd.default_sample_flags),
            (None, None, None)
        );
    }

    #[test]
    fn defaults_follow_in_flag_order() {
        let tfhd = Tfhd { track_id: 2, default_sample_duration: Some(1024), default_sample_flags: Some(0x0200_0000) };
        let bytes = tfhd.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x18tfhd\x00\x02\x00\x28\x00\x00\x00\x02\x00\x00\x04\x00\x02\x00\x00\x00");
        let read = read_with_mp4(&bytes, mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().tfhd);
        assert_eq!((read.default_sample_duration, read.default_sample_flags), (Some(1024), Some(0x0200_0000)));

        let only_flags = Tfhd { default_sample_duration: None, ..tfhd };
        assert_eq!(read_flags(&only_flags.to_bytes()), (None, Some(0x0200_0000)));
    }

    fn read_flags(bytes: &[u8]) -> (Option<u32>, Option<u32>) {
        let tfhd = read_with_mp4(bytes, mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default().tfhd);
        (tfhd.default_sample_duration, tfhd.default_sample_flags)
    }
}
