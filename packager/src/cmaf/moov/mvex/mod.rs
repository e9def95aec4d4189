//! `mvex`: announces that the track continues in movie fragments.

pub mod trex;

use bytes::BytesMut;

use crate::cmaf::{Atom, FourCc};
use trex::Trex;

/// Movie extends box. No `mehd`: the duration is not known when the header is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mvex {
    pub trex: Trex,
}

impl Atom for Mvex {
    const FOURCC: FourCc = FourCc::new(b"mvex");

    fn encode_body(&self, buf: &mut BytesMut) {
        self.trex.encode(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_trex() {
        let trex = Trex { track_id: 1, default_sample_flags: 0 };
        let bytes = Mvex { trex: trex.clone() }.to_bytes();
        assert_eq!(&bytes[..8], b"\x00\x00\x00\x28mvex");
        assert_eq!(&bytes[8..], &trex.to_bytes()[..]);
    }
}
