//! `minf`: media information: the media header, data references and sample table.

pub mod dinf;
pub mod smhd;
pub mod stbl;
pub mod vmhd;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use dinf::Dinf;
use smhd::Smhd;
use stbl::Stbl;
use vmhd::Vmhd;

/// The media-type specific header that opens `minf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaHeader {
    Video(Vmhd),
    Sound(Smhd),
}

/// Media information box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minf {
    pub header: MediaHeader,
    pub dinf: Dinf,
    pub stbl: Stbl,
}

impl Atom for Minf {
    const FOURCC: FourCc = FourCc::new(b"minf");

    fn encode_body(&self, buf: &mut BytesMut) {
        match &self.header {
            MediaHeader::Video(vmhd) => vmhd.encode(buf),
            MediaHeader::Sound(smhd) => smhd.encode(buf),
        }
        self.dinf.encode(buf);
        self.stbl.encode(buf);
    }
}
