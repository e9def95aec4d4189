//! `hdlr`: handler reference: whether the track is video or sound.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Handler reference box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hdlr {
    pub handler_type: FourCc,
    /// Human-readable name, written NUL-terminated.
    pub name: &'static str,
}

impl Hdlr {
    pub const VIDEO: Self = Self { handler_type: FourCc::new(b"vide"), name: "VideoHandler" };
    pub const SOUND: Self = Self { handler_type: FourCc::new(b"soun"), name: "SoundHandler" };
}

impl Atom for Hdlr {
    const FOURCC: FourCc = FourCc::new(b"hdlr");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(0); // pre_defined
        buf.put_slice(self.handler_type.as_bytes());
        buf.put_bytes(0, 12); // reserved
        buf.put_slice(self.name.as_bytes());
        buf.put_u8(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn encodes_and_reads_back() {
        let bytes = Hdlr::SOUND.to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x2dhdlr\x00\x00\x00\x00\x00\x00\x00\x00soun\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00SoundHandler\x00");
        let read =
            read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.hdlr);
        assert_eq!(read.handler_type.to_string(), "soun");
        assert_eq!(read.name, "SoundHandler");
        assert_eq!(&Hdlr::VIDEO.to_bytes()[16..20], b"vide");
    }
}
