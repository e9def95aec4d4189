//! `moov`: the movie box of a CMAF header, one track and the `mvex` that announces fragments.

pub mod mvex;
pub mod mvhd;
pub mod trak;

use bytes::BytesMut;

use super::{Atom, FourCc};
use mvex::Mvex;
use mvhd::Mvhd;
use trak::Trak;

/// Movie box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moov {
    pub mvhd: Mvhd,
    pub trak: Trak,
    pub mvex: Mvex,
}

impl Atom for Moov {
    const FOURCC: FourCc = FourCc::new(b"moov");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.mvhd.encode(buf);
        self.trak.encode(buf);
        self.mvex.encode(buf);
    }
}

/// The identity transformation matrix of `mvhd` and `tkhd` (16.16 and 2.30 fixed point).
pub(crate) const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
