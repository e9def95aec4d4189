//! `edts`: the edit box, holding the track's edit list.

pub mod elst;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use elst::Elst;

/// Edit box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edts {
    pub elst: Elst,
}

impl Atom for Edts {
    const FOURCC: FourCc = FourCc::new(b"edts");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.elst.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{child_types, read_with_mp4};

    #[test]
    fn holds_one_elst_and_reads_back() {
        let bytes = Edts { elst: Elst { media_time: 6006 } }.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["elst"]);
        let trak = mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default();
        let read = read_with_mp4(&bytes, trak.edts.unwrap_or_default());
        assert_eq!(read.elst.unwrap().entries[0].media_time, 6006);
    }
}
