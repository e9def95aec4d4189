//! `stts`: time-to-sample box, empty in a fragmented track.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Time-to-sample box with no entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stts;

impl Atom for Stts {
    const FOURCC: FourCc = FourCc::new(b"stts");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(0); // entry_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_an_empty_table_and_reads_back() {
        let bytes = Stts.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x10stts\x00\x00\x00\x00\x00\x00\x00\x00");
        let read = read_with_mp4(
            &bytes,
            mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf.stbl.stts,
        );
        assert!(read.entries.is_empty());
    }
}
