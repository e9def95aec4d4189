//! `dref`: data reference table with its single entry.

use bytes::{BufMut, BytesMut};

use super::url::Url;
use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Data reference box with one `url ` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dref {
    pub url: Url,
}

impl Atom for Dref {
    const FOURCC: FourCc = FourCc::new(b"dref");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(1); // entry_count
        self.url.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_one_self_contained_entry() {
        let bytes = Dref::default().to_bytes();
        assert_eq!(&bytes[..16], b"\x00\x00\x00\x1cdref\x00\x00\x00\x00\x00\x00\x00\x01");
        assert_eq!(&bytes[16..], &Url.to_bytes()[..]);
        // The mp4 crate cannot read a lone `dref`; the `dinf` test reads it in place.
    }
}
