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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{self, child_types, read_with_mp4};
    use crate::cmaf::init::movie;

    #[test]
    fn holds_the_header_the_track_and_mvex_and_reads_back() {
        let bytes = movie(&fixtures::video_track(), 0).unwrap().to_bytes();
        assert_eq!(child_types(&bytes, 0), ["mvhd", "trak", "mvex"]);
        let moov = read_with_mp4(&bytes, mp4::MoovBox::default());
        assert_eq!((moov.mvhd.timescale, moov.traks.len()), (90_000, 1));
        assert_eq!(moov.mvex.unwrap().trex.track_id, 1);
    }
}
