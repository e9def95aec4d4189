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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{self, child_types, read_with_mp4};
    use crate::cmaf::init::movie;

    #[test]
    fn holds_mdhd_hdlr_minf_in_order() {
        let bytes = movie(&fixtures::video_track(), 0).unwrap().trak.mdia.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["mdhd", "hdlr", "minf"]);
        let mdia = read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia);
        assert_eq!(mdia.hdlr.handler_type.to_string(), "vide");
    }
}
