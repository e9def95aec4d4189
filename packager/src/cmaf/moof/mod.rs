//! `moof`: a movie fragment header: one track fragment describing the samples of the `mdat` that follows.

pub mod mfhd;
pub mod traf;

use bytes::BytesMut;

use super::{Atom, FourCc};
use mfhd::Mfhd;
use traf::Traf;

/// Movie fragment box. CMAF allows exactly one `traf` per `moof`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moof {
    pub mfhd: Mfhd,
    pub traf: Traf,
}

impl Atom for Moof {
    const FOURCC: FourCc = FourCc::new(b"moof");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.mfhd.encode(buf);
        self.traf.encode(buf);
    }
}
