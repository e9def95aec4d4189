//! `stbl`: the sample table. In a CMAF header it holds only the sample description; the tables that would
//! index samples are present and empty, because the samples live in movie fragments.

pub mod stco;
pub mod stsc;
pub mod stsd;
pub mod stsz;
pub mod stts;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use stco::Stco;
use stsc::Stsc;
use stsd::Stsd;
use stsz::Stsz;
use stts::Stts;

/// Sample table box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stbl {
    pub stsd: Stsd,
}

impl Atom for Stbl {
    const FOURCC: FourCc = FourCc::new(b"stbl");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.stsd.encode(buf);
        Stts.encode(buf);
        Stsc.encode(buf);
        Stsz.encode(buf);
        Stco.encode(buf);
    }
}
