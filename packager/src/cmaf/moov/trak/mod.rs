//! `trak`: the one track of a CMAF header.

pub mod edts;
pub mod mdia;
pub mod tkhd;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use edts::Edts;
use mdia::Mdia;
use tkhd::Tkhd;

/// Track box. An `edts` only where composition times run ahead of presentation times (video with
/// B-frames, see [`crate::segmenter`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trak {
    pub tkhd: Tkhd,
    pub edts: Option<Edts>,
    pub mdia: Mdia,
}

impl Atom for Trak {
    const FOURCC: FourCc = FourCc::new(b"trak");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.tkhd.encode(buf);
        if let Some(edts) = &self.edts {
            edts.encode(buf);
        }
        self.mdia.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{self, child_types, read_with_mp4};
    use crate::cmaf::init::movie;

    #[test]
    fn holds_tkhd_then_mdia_and_no_edit_list_without_a_delay() {
        let bytes = movie(&fixtures::audio_track(), 0).unwrap().trak.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["tkhd", "mdia"]);
        let trak = read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default());
        assert_eq!((trak.tkhd.track_id, trak.mdia.mdhd.timescale), (2, 48_000));
        assert!(trak.edts.is_none());
    }

    #[test]
    fn a_composition_delay_puts_an_edit_list_between_tkhd_and_mdia() {
        let bytes = movie(&fixtures::video_track(), 6000).unwrap().trak.to_bytes();
        assert_eq!(child_types(&bytes, 0), ["tkhd", "edts", "mdia"]);
        let trak = read_with_mp4(&bytes, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default());
        let elst = trak.edts.unwrap().elst.unwrap();
        assert_eq!(elst.entries.len(), 1);
        assert_eq!((elst.entries[0].segment_duration, elst.entries[0].media_time), (0, 6000));
    }
}
