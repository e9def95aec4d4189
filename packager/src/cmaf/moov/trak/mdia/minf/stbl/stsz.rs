//! `stsz`: sample size box, empty in a fragmented track.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Sample size box with no samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stsz;

impl Atom for Stsz {
    const FOURCC: FourCc = FourCc::new(b"stsz");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(0); // sample_size: sizes would follow per sample
        buf.put_u32(0); // sample_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_an_empty_table_and_reads_back() {
        let bytes = Stsz.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x14stsz\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        let read = read_with_mp4(
            &bytes,
            mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf.stbl.stsz,
        );
        assert_eq!((read.sample_size, read.sample_count), (0, 0));
    }
}
