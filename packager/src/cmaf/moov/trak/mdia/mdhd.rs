//! `mdhd`: media header: the track's timescale and language.

use bytes::{BufMut, BytesMut};

use crate::cmaf::{put_full_box_header, Atom, FourCc};

/// Media header box, version 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdhd {
    pub timescale: u32,
    pub language: PackedLanguage,
}

impl Atom for Mdhd {
    const FOURCC: FourCc = FourCc::new(b"mdhd");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_full_box_header(buf, 0, 0);
        buf.put_u32(0); // creation_time
        buf.put_u32(0); // modification_time
        buf.put_u32(self.timescale);
        buf.put_u32(0); // duration: carried by the fragments
        buf.put_u16(self.language.0); // pad bit 0, then three 5-bit letters
        buf.put_u16(0); // pre_defined
    }
}

/// An ISO 639-2/T code packed as `mdhd` stores it: three letters of 5 bits each, `letter - 0x60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedLanguage(u16);

impl PackedLanguage {
    /// "und": undetermined.
    pub const UNDETERMINED: Self =
        Self(((b'u' as u16 - 0x60) << 10) | ((b'n' as u16 - 0x60) << 5) | (b'd' as u16 - 0x60));

    /// Packs a three-letter code (case-insensitive); `None` for anything else.
    pub fn parse(code: &str) -> Option<Self> {
        let letters: [u8; 3] = code.as_bytes().try_into().ok()?;
        let mut packed = 0u16;
        for letter in letters {
            if !letter.is_ascii_alphabetic() {
                return None;
            }
            packed = (packed << 5) | u16::from(letter.to_ascii_lowercase() - 0x60);
        }
        Some(Self(packed))
    }

    pub fn value(self) -> u16 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn packs_letters_in_five_bits_each() {
        // 'e' = 5, 'n' = 14, 'g' = 7 → 00101 01110 00111
        assert_eq!(PackedLanguage::parse("eng").unwrap().value(), 0b0_00101_01110_00111);
        assert_eq!(PackedLanguage::parse("ENG"), PackedLanguage::parse("eng"));
        assert_eq!(PackedLanguage::parse("und"), Some(PackedLanguage::UNDETERMINED));
        for bad in ["", "en", "engl", "e1g", "é", "en "] {
            assert_eq!(PackedLanguage::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encodes_and_reads_back() {
        let mdhd = Mdhd { timescale: 48_000, language: PackedLanguage::parse("fra").unwrap() };
        let bytes = mdhd.to_bytes();
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[..8], b"\x00\x00\x00\x20mdhd");
        let read =
            read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.mdhd);
        assert_eq!((read.version, read.timescale, read.duration), (0, 48_000, 0));
        assert_eq!(read.language, "fra");
    }
}
