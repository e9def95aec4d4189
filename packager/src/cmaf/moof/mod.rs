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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{child_types, read_with_mp4};
    use crate::cmaf::moof::traf::tfdt::Tfdt;
    use crate::cmaf::moof::traf::tfhd::Tfhd;
    use crate::cmaf::moof::traf::trun::{Trun, TrunFields, TrunSample};

    fn traf() -> Traf {
        let fields = TrunFields { duration: true, flags: true, composition_offset: false };
        let sample = TrunSample { duration: 1024, size: 9, flags: 0x0200_0000, composition_offset: 0 };
        Traf {
            tfhd: Tfhd { track_id: 4, default_sample_duration: None, default_sample_flags: None },
            tfdt: Tfdt { base_media_decode_time: 2048 },
            trun: Trun { data_offset: 100, fields, samples: vec![sample] },
        }
    }

    #[test]
    fn holds_mfhd_then_one_traf_and_reads_back() {
        let bytes = Moof { mfhd: Mfhd { sequence_number: 9 }, traf: traf() }.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["mfhd", "traf"]);
        let moof = read_with_mp4(&bytes, mp4::MoofBox::default());
        assert_eq!((moof.mfhd.sequence_number, moof.trafs.len()), (9, 1));
        assert_eq!(moof.trafs[0].tfhd.track_id, 4);
    }
}
