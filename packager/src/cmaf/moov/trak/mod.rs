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
