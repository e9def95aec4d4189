//! The box writer every CMAF box is built on: a four-character code and a body, with the size written for
//! you so that nobody computes a box length by hand.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// Size of a box header with a 32-bit size: `size` + `type`.
pub const BOX_HEADER_LEN: u64 = 8;
/// Size of a box header with a 64-bit `largesize`: `size` (= 1) + `type` + `largesize`.
pub const LARGE_BOX_HEADER_LEN: u64 = 16;

/// A box type, e.g. `moov`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    pub const fn new(code: &[u8; 4]) -> Self {
        Self(*code)
    }

    pub const fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }
}

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc({self})")
    }
}

/// An ISO BMFF box that can write itself.
///
/// Implementors write only their body; [`Atom::encode`] writes the header around it. Box values are checked
/// when they are built (see the constructors), so encoding cannot fail.
pub trait Atom {
    const FOURCC: FourCc;

    /// Writes everything after the box header (for a full box, starting with [`put_full_box_header`]).
    fn encode_body(&self, buf: &mut BytesMut);

    /// Writes the whole box: header, then body.
    fn encode(&self, buf: &mut BytesMut) {
        let start = buf.len();
        buf.put_u32(0);
        buf.put_slice(Self::FOURCC.as_bytes());
        self.encode_body(buf);
        close_box(buf, start, u64::from(u32::MAX));
    }

    /// The encoded box in its own buffer.
    fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(&mut buf);
        buf.freeze()
    }
}

/// Writes the `version` and 24-bit `flags` that open the body of every full box.
pub fn put_full_box_header(buf: &mut BytesMut, version: u8, flags: u32) {
    buf.put_u8(version);
    buf.put_uint(u64::from(flags & 0x00FF_FFFF), 3);
}

/// Patches the size of the box that starts at `start` and ends at the end of `buf`. A box larger than
/// `max_compact` bytes gets the 64-bit `largesize` form, which moves its body 8 bytes up; only `mdat` can
/// realistically get there, and that one is written by [`super::MdatHeader`] without the move.
fn close_box(buf: &mut BytesMut, start: usize, max_compact: u64) {
    let size = (buf.len() - start) as u64;
    if size <= max_compact {
        // `size` fits u32: `max_compact` is at most u32::MAX.
        buf[start..start + 4].copy_from_slice(&(size as u32).to_be_bytes());
        return;
    }
    let body = buf.split_off(start + BOX_HEADER_LEN as usize);
    buf[start..start + 4].copy_from_slice(&1u32.to_be_bytes());
    buf.put_u64(size + (LARGE_BOX_HEADER_LEN - BOX_HEADER_LEN));
    buf.extend_from_slice(&body);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Free(Vec<u8>);

    impl Atom for Free {
        const FOURCC: FourCc = FourCc::new(b"free");

        fn encode_body(&self, buf: &mut BytesMut) {
            buf.put_slice(&self.0);
        }
    }

    #[test]
    fn encode_writes_size_and_type_before_the_body() {
        assert_eq!(&Free(vec![1, 2, 3]).to_bytes()[..], &[0, 0, 0, 11, b'f', b'r', b'e', b'e', 1, 2, 3]);
        assert_eq!(&Free(vec![]).to_bytes()[..], &[0, 0, 0, 8, b'f', b'r', b'e', b'e']);
    }

    #[test]
    fn encode_appends_after_existing_bytes() {
        let mut buf = BytesMut::from(&b"xy"[..]);
        Free(vec![9]).encode(&mut buf);
        assert_eq!(&buf[..], &[b'x', b'y', 0, 0, 0, 9, b'f', b'r', b'e', b'e', 9]);
    }

    #[test]
    fn oversized_boxes_switch_to_largesize_and_an_independent_parser_reads_them() {
        let mut buf = BytesMut::from(&b"zz"[..]);
        buf.put_u32(0);
        buf.put_slice(b"free");
        buf.put_slice(&[7; 20]);
        close_box(&mut buf, 2, 16);

        assert_eq!(&buf[..2], b"zz");
        assert_eq!(&buf[2..18], &[0, 0, 0, 1, b'f', b'r', b'e', b'e', 0, 0, 0, 0, 0, 0, 0, 36]);
        assert_eq!(&buf[18..], &[7; 20]);
        let header = mp4::BoxHeader::read(&mut &buf[2..]).unwrap();
        assert_eq!(header.name, mp4::BoxType::FreeBox);
        // The mp4 crate reports largesize minus the 8 bytes of the largesize field itself.
        assert_eq!(header.size, 36 - 8);
    }

    #[test]
    fn full_box_header_is_version_then_24_bit_flags() {
        let mut buf = BytesMut::new();
        put_full_box_header(&mut buf, 1, 0x0002_0301);
        put_full_box_header(&mut buf, 0, 0xFF00_0001);
        assert_eq!(&buf[..], &[1, 0x02, 0x03, 0x01, 0, 0, 0, 1]);
    }

    #[test]
    fn fourcc_displays_printable_and_escapes_the_rest() {
        assert_eq!(FourCc::new(b"url ").to_string(), "url ");
        assert_eq!(FourCc([0xa9, b'n', b'a', b'm']).to_string(), "\\xa9nam");
        assert_eq!(format!("{:?}", FourCc::new(b"moov")), "FourCc(moov)");
    }
}
