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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{child_types, read_with_mp4};
    use trun::{TrunFields, TrunSample};

    #[test]
    fn holds_tfhd_tfdt_trun_in_order_and_reads_back() {
        let fields = TrunFields { duration: true, flags: true, composition_offset: false };
        let sample = TrunSample { duration: 1024, size: 9, flags: 0x0200_0000, composition_offset: 0 };
        let traf = Traf {
            tfhd: Tfhd { track_id: 4, default_sample_duration: None, default_sample_flags: None },
            tfdt: Tfdt { base_media_decode_time: 2048 },
            trun: Trun { data_offset: 100, fields, samples: vec![sample] },
        };
        let bytes = traf.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["tfhd", "tfdt", "trun"]);
        let read = read_with_mp4(&bytes, mp4::MoofBox::default().trafs.into_iter().next().unwrap_or_default());
        assert_eq!(read.tfhd.track_id, 4);
        assert_eq!(read.tfdt.unwrap().base_media_decode_time, 2048);
        assert_eq!(read.trun.unwrap().sample_sizes, [9]);
    }
}
