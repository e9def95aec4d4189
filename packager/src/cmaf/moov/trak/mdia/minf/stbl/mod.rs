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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{self, child_types, read_with_mp4};
    use crate::cmaf::init::movie;

    #[test]
    fn holds_the_description_and_empty_tables() {
        let bytes = movie(&fixtures::video_track(), 0).unwrap().trak.mdia.minf.stbl.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["stsd", "stts", "stsc", "stsz", "stco"]);
        let stbl =
            read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf.stbl);
        assert_eq!(stbl.stsd.avc1.unwrap().width, 640);
        assert!(stbl.stts.entries.is_empty() && stbl.stss.is_none() && stbl.ctts.is_none());
    }
}
