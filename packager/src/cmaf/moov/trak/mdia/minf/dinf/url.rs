//! `url `: a data entry saying the media data is in the same file.

use bytes::BytesMut;

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// The `self-contained` flag: no location string follows.
pub const SELF_CONTAINED: u32 = 0x00_0001;

/// Data entry URL box, self-contained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url;

impl Atom for Url {
    const FOURCC: FourCc = FourCc::new(b"url ");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, SELF_CONTAINED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_only_the_self_contained_flag() {
        let bytes = Url.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x0curl \x00\x00\x00\x01");
        // The mp4 crate cannot read a lone `url `; the `dinf` test reads it in place.
    }
}
