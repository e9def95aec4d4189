//! `mdia`: the track's media: timescale, handler and media information.

pub mod hdlr;
pub mod mdhd;
pub mod minf;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use hdlr::Hdlr;
use mdhd::Mdhd;
use minf::Minf;

/// Media box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdia {
    pub mdhd: Mdhd,
    pub hdlr: Hdlr,
    pub minf: Minf,
}

impl Atom for Mdia {
    const FOURCC: FourCc = FourCc::new(b"mdia");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.mdhd.encode(buf);
        self.hdlr.encode(buf);
        self.minf.encode(buf);
    }
}
