//! `trak`: the one track of a CMAF header.

pub mod mdia;
pub mod tkhd;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use mdia::Mdia;
use tkhd::Tkhd;

/// Track box. No `edts`: the CMAF timing convention (see [`crate::segmenter`]) needs no edit list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trak {
    pub tkhd: Tkhd,
    pub mdia: Mdia,
}

impl Atom for Trak {
    const FOURCC: FourCc = FourCc::new(b"trak");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.tkhd.encode(buf);
        self.mdia.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{self, child_types, read_with_mp4};
    use crate::cmaf::init::movie;

    #[test]
    fn holds_tkhd_then_mdia_and_no_edit_list() {
        let bytes = movie(&fixtures::audio_track()).unwrap().trak.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["tkhd", "mdia"]);
        let trak = read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default());
        assert_eq!((trak.tkhd.track_id, trak.mdia.mdhd.timescale), (2, 48_000));
        assert!(trak.edts.is_none());
    }
}
