//! `traf`: a track fragment: header, decode time and the run of samples.

pub mod tfdt;
pub mod tfhd;
pub mod trun;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use tfdt::Tfdt;
use tfhd::Tfhd;
use trun::Trun;

/// Track fragment box. CMAF allows exactly one `trun` per `traf` and requires the `tfdt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traf {
    pub tfhd: Tfhd,
    pub tfdt: Tfdt,
    pub trun: Trun,
}

impl Atom for Traf {
    const FOURCC: FourCc = FourCc::new(b"traf");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.tfhd.encode(buf);
        self.tfdt.encode(buf);
        self.trun.encode(buf);
    }
}
