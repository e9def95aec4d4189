//! `stsd`: sample description: how to decode the track's samples.

pub mod avc1;
pub mod mp4a;

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};
use avc1::Avc1;
use mp4a::Mp4a;

/// The one sample entry of a CMAF track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleEntry {
    Avc1(Avc1),
    Mp4a(Mp4a),
}

/// Sample description box with a single entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stsd {
    pub entry: SampleEntry,
}

impl Atom for Stsd {
    const FOURCC: FourCc = FourCc::new(b"stsd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(1); // entry_count
        match &self.entry {
            SampleEntry::Avc1(avc1) => avc1.encode(buf),
            SampleEntry::Mp4a(mp4a) => mp4a.encode(buf),
        }
    }
}

/// The first 8 bytes of every sample entry body: 6 reserved bytes, then `data_reference_index` = 1 (the
/// self-contained `url ` of `dref`).
pub(crate) fn put_sample_entry_header(buf: &mut BytesMut) {
    buf.put_bytes(0, 6);
    buf.put_u16(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures;

    #[test]
    fn wraps_one_entry() {
        let mp4a = fixtures::mp4a();
        let bytes = Stsd { entry: SampleEntry::Mp4a(mp4a.clone()) }.to_bytes();
        assert_eq!(&bytes[4..16], b"stsd\x00\x00\x00\x00\x00\x00\x00\x01");
        assert_eq!(&bytes[16..], &mp4a.to_bytes()[..]);
        assert_eq!(bytes.len(), 16 + mp4a.to_bytes().len());
    }
}
