//! `mdat`: the media data box. Only its header is built here: the payload is the samples' bytes, copied
//! once straight into the segment buffer.

use bytes::{BufMut, BytesMut};

use super::{BOX_HEADER_LEN, LARGE_BOX_HEADER_LEN};

/// The header of an `mdat` holding `payload_len` bytes: 8 bytes, or 16 with a 64-bit `largesize` when the
/// box would not fit a 32-bit size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdatHeader {
    pub payload_len: u64,
}

impl MdatHeader {
    pub fn header_len(&self) -> u64 {
        if self.payload_len + BOX_HEADER_LEN <= u64::from(u32::MAX) {
            BOX_HEADER_LEN
        } else {
            LARGE_BOX_HEADER_LEN
        }
    }

    /// Header plus payload.
    pub fn box_len(&self) -> u64 {
        self.header_len() + self.payload_len
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        let box_len = self.box_len();
        if self.header_len() == BOX_HEADER_LEN {
            buf.put_u32(box_len as u32);
            buf.put_slice(b"mdat");
        } else {
            buf.put_u32(1);
            buf.put_slice(b"mdat");
            buf.put_u64(box_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payloads_get_a_32_bit_size() {
        let header = MdatHeader { payload_len: 10 };
        let mut buf = BytesMut::new();
        header.encode(&mut buf);
        assert_eq!(&buf[..], b"\x00\x00\x00\x12mdat");
        assert_eq!((header.header_len(), header.box_len()), (8, 18));
    }

    #[test]
    fn the_largest_32_bit_box_and_the_first_64_bit_one() {
        let largest = MdatHeader { payload_len: u64::from(u32::MAX) - 8 };
        let mut buf = BytesMut::new();
        largest.encode(&mut buf);
        assert_eq!(&buf[..], b"\xff\xff\xff\xffmdat");

        let large = MdatHeader { payload_len: u64::from(u32::MAX) - 7 };
        let mut buf = BytesMut::new();
        large.encode(&mut buf);
        // 16-byte header + 0xFFFF_FFF8 payload bytes.
        assert_eq!((large.header_len(), large.box_len()), (16, 0x1_0000_0008));
        assert_eq!(&buf[..], b"\x00\x00\x00\x01mdat\x00\x00\x00\x01\x00\x00\x00\x08");
        let header = mp4::BoxHeader::read(&mut &buf[..]).unwrap();
        // The mp4 crate reports largesize minus the 8 bytes of the largesize field itself.
        assert_eq!((header.name, header.size), (mp4::BoxType::MdatBox, 0x1_0000_0008 - 8));
    }
}
