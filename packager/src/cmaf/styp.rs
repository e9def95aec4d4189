//! `styp`: the brands that open a CMAF media segment.

use bytes::BytesMut;

use super::ftyp::put_brands;
use super::{Atom, FourCc};

/// CMAF segment brand (ISO/IEC 23000-19 7.3.3).
pub const BRAND_CMFS: FourCc = FourCc::new(b"cmfs");
/// CMAF fragment brand: the file is exactly one CMAF fragment.
pub const BRAND_CMFF: FourCc = FourCc::new(b"cmff");
/// DASH media segment brand (ISO/IEC 23009-1 6.3.4.2).
pub const BRAND_MSDH: FourCc = FourCc::new(b"msdh");
/// DASH indexed media segment brand: a `sidx` precedes the first `moof` (ISO/IEC 23009-1 6.3.4.3).
pub const BRAND_MSIX: FourCc = FourCc::new(b"msix");

/// Segment type box; same layout as `ftyp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Styp {
    pub major_brand: FourCc,
    pub minor_version: u32,
    pub compatible_brands: Vec<FourCc>,
}

impl Styp {
    /// The segment type of a CMAF segment. `cmff` is claimed only when the segment holds a single fragment
    /// (audio, or a video segment with one GOP), `msix` only when it carries a `sidx`.
    pub fn cmaf_segment(fragment_count: usize, indexed: bool) -> Self {
        let mut compatible_brands = vec![BRAND_CMFS];
        if fragment_count == 1 {
            compatible_brands.push(BRAND_CMFF);
        }
        compatible_brands.push(BRAND_MSDH);
        if indexed {
            compatible_brands.push(BRAND_MSIX);
        }
        Self { major_brand: BRAND_CMFS, minor_version: 0, compatible_brands }
    }
}

impl Atom for Styp {
    const FOURCC: FourCc = FourCc::new(b"styp");

    fn encode_body(&self, buf: &mut BytesMut) {
        put_brands(buf, self.major_brand, self.minor_version, &self.compatible_brands);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_fragment_indexed_segment_claims_every_brand() {
        let bytes = Styp::cmaf_segment(1, true).to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x20stypcmfs\x00\x00\x00\x00cmfscmffmsdhmsix");
    }

    #[test]
    fn multi_fragment_segment_without_index_is_not_a_fragment_nor_indexed() {
        let bytes = Styp::cmaf_segment(3, false).to_bytes();
        assert_eq!(&bytes[..], b"\x00\x00\x00\x18stypcmfs\x00\x00\x00\x00cmfsmsdh");
    }
}
