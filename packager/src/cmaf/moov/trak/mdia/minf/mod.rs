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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::{self, child_types, read_with_mp4};
    use crate::cmaf::init::movie;

    #[test]
    fn opens_with_the_media_header_of_the_track_type() {
        let video = movie(&fixtures::video_track(), 0).unwrap().trak.mdia.minf.to_bytes();
        assert_eq!(child_types(&video, 0), ["vmhd", "dinf", "stbl"]);
        let minf =
            read_with_mp4(&video, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf);
        assert!(minf.vmhd.is_some() && minf.smhd.is_none());

        let audio = movie(&fixtures::audio_track(), 0).unwrap().trak.mdia.minf.to_bytes();
        assert_eq!(child_types(&audio, 0), ["smhd", "dinf", "stbl"]);
        let minf =
            read_with_mp4(&audio, mp4::MoovBox::default().traks.into_iter().next().unwrap_or_default().mdia.minf);
        assert!(minf.smhd.is_some() && minf.vmhd.is_none());
    }
}
