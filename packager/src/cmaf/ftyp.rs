//! `ftyp`: the brands that open a CMAF header (init segment).

use bytes::{BufMut, BytesMut};

use super::{Atom, FourCc};

/// The CMAF structural brand (ISO/IEC 23000-19 7.2).
pub const BRAND_CMFC: FourCc = FourCc::new(b"cmfc");
/// The stricter CMAF structural brand: no edit lists, negative composition offsets in `trun` version 1,
/// sample defaults repeated in every track fragment. Our timing convention satisfies it.
pub const BRAND_CMF2: FourCc = FourCc::new(b"cmf2");
/// ISO BMFF 6th-generation brand: `tfdt`/`trun` version 1 and `sidx` version 1 are in it.
pub const BRAND_ISO6: FourCc = FourCc::new(b"iso6");
/// MPEG-DASH file brand (ISO/IEC 23009-1).
pub const BRAND_DASH: FourCc = FourCc::new(b"dash");

/// File type box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ftyp {
    pub major_brand: FourCc,
    pub minor_version: u32,
    pub compatible_brands: Vec<FourCc>,
}

impl Ftyp {
    /// The file type of a CMAF header: major brand `cmfc`, compatible with both CMAF structural brands.
    ///
    /// No media profile brand (`cfhd`, `caac`, …) is claimed: those constrain the codec level, resolution and
    /// colour signalling, which the packager does not check. `mp41` is left out too: it is the MP4 version 1
    /// brand, which predates movie fragments.
    pub fn cmaf_header() -> Self {
        Self {
            major_brand: BRAND_CMFC,
            minor_version: 0,
            compatible_brands: vec![BRAND_ISO6, BRAND_CMFC, BRAND_CMF2, BRAND_DASH],
        }
    }
}

impl Atom for Ftyp {
    const FOURCC: FourCc = FourCc::new(b"ftyp");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_brands(buf, self.major_brand, self.minor_version, &self.compatible_brands);
    }
}

/// The body shared by `ftyp` and `styp`.
pub(super) fn put_brands(buf: &mut BytesMut, major: FourCc, minor: u32, compatible: &[FourCc]) {
    buf.put_slice(major.as_bytes());
    buf.put_u32(minor);
    for brand in compatible {
        buf.put_slice(brand.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    #[test]
    fn cmaf_header_brands_encode_and_read_back() {
        let bytes = Ftyp::cmaf_header().to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x20ftypcmfc\x00\x00\x00\x00iso6cmfccmf2dash");

        let ftyp = read_with_mp4(&bytes, mp4::FtypBox::default());
        assert_eq!(ftyp.major_brand.to_string(), "cmfc");
        assert_eq!(ftyp.minor_version, 0);
        let compatible: Vec<String> = ftyp.compatible_brands.iter().map(ToString::to_string).collect();
        assert_eq!(compatible, ["iso6", "cmfc", "cmf2", "dash"]);
    }
}
