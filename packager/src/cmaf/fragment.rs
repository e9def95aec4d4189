//! CMAF media segments: `styp`, an optional `sidx`, then one `moof` + `mdat` per fragment, built into a
//! single buffer with each sample's bytes copied exactly once.

use bytes::{Bytes, BytesMut};

use super::mdat::MdatHeader;
use super::moof::mfhd::Mfhd;
use super::moof::traf::tfdt::Tfdt;
use super::moof::traf::tfhd::Tfhd;
use super::moof::traf::trun::{Trun, TrunFields, TrunSample};
use super::moof::traf::Traf;
use super::moof::Moof;
use super::sidx::{Sidx, SidxReference, MAX_REFERENCED_SIZE};
use super::styp::Styp;
use super::{fit, Atom};
use crate::PackagerError;

/// Sample flags of a sync sample: `sample_depends_on` = 2 (depends on no other sample).
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// Sample flags of any other sample: `sample_depends_on` = 1 and `sample_is_non_sync_sample`.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// The `trun` sample flags for a sample.
pub fn sample_flags(keyframe: bool) -> u32 {
    if keyframe {
        SYNC_SAMPLE_FLAGS
    } else {
        NON_SYNC_SAMPLE_FLAGS
    }
}

/// One sample as a fragment stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentSample {
    pub duration: u32,
    /// Composition time minus the decode time written for the sample.
    pub composition_offset: i32,
    pub keyframe: bool,
    pub data: Bytes,
}

/// A CMAF fragment: samples contiguous in decode order, written as one `moof` + `mdat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// `mfhd` sequence number.
    pub sequence_number: u32,
    /// `tfdt`: decode time of the first sample.
    pub base_media_decode_time: u64,
    pub samples: Vec<FragmentSample>,
}

impl Fragment {
    /// Sum of the sample durations.
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }

    /// Bytes of sample data, the `mdat` payload.
    pub fn data_len(&self) -> u64 {
        self.samples.iter().map(|s| s.data.len() as u64).sum()
    }

    /// Composition times of the samples in decode order: decode time plus composition offset, before the
    /// track's edit list (if any) maps them to presentation times.
    pub fn composition_times(&self) -> impl Iterator<Item = i128> + '_ {
        self.samples.iter().scan(i128::from(self.base_media_decode_time), |decode_time, sample| {
            let composition = *decode_time + i128::from(sample.composition_offset);
            *decode_time += i128::from(sample.duration);
            Some(composition)
        })
    }

    /// The smallest composition time; the decode time for an empty fragment.
    pub fn earliest_composition_time(&self) -> i128 {
        self.composition_times().min().unwrap_or(i128::from(self.base_media_decode_time))
    }
}

/// Where a fragment landed in the segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentLocation {
    /// Offset of the `moof` from the start of the segment.
    pub offset: u64,
    pub moof_len: u64,
    pub mdat_header_len: u64,
}

/// An encoded media segment and the location of each of its fragments.
#[derive(Debug, Clone)]
pub struct MediaSegment {
    pub data: Bytes,
    pub fragments: Vec<FragmentLocation>,
}

/// Encodes `fragments` as one media segment of track `track_id`, with a `sidx` first when `index` is set.
/// `composition_delay` is the media time of the track's edit list (0 without one): the `sidx` gives the
/// earliest presentation time, which is the earliest composition time less that delay.
pub fn media_segment(
    track_id: u32,
    timescale: u32,
    fragments: &[Fragment],
    index: bool,
    composition_delay: u64,
) -> Result<MediaSegment, PackagerError> {
    let mut encoded = Vec::with_capacity(fragments.len());
    for fragment in fragments {
        let mdat = MdatHeader { payload_len: fragment.data_len() };
        let mut moof = moof(track_id, fragment)?;
        // Every field of a moof has a fixed size, so the data offset does not change the moof's length.
        let moof_len = moof.to_bytes().len() as u64;
        moof.traf.trun.data_offset = fit(track_id, "trun data offset", moof_len + mdat.header_len())?;
        encoded.push((moof.to_bytes(), mdat));
    }

    let styp = Styp::cmaf_segment(fragments.len(), index).to_bytes();
    let sidx = if index {
        segment_index(track_id, timescale, fragments, &encoded, composition_delay)?.to_bytes()
    } else {
        Bytes::new()
    };
    let total = styp.len() as u64
        + sidx.len() as u64
        + encoded.iter().map(|(moof, mdat)| moof.len() as u64 + mdat.box_len()).sum::<u64>();
    let mut buf = BytesMut::with_capacity(fit(track_id, "media segment size", total)?);
    buf.extend_from_slice(&styp);
    buf.extend_from_slice(&sidx);
    let mut locations = Vec::with_capacity(fragments.len());
    for (fragment, (moof, mdat)) in fragments.iter().zip(&encoded) {
        locations.push(FragmentLocation {
            offset: buf.len() as u64,
            moof_len: moof.len() as u64,
            mdat_header_len: mdat.header_len(),
        });
        buf.extend_from_slice(moof);
        mdat.encode(&mut buf);
        for sample in &fragment.samples {
            buf.extend_from_slice(&sample.data);
        }
    }
    Ok(MediaSegment { data: buf.freeze(), fragments: locations })
}

/// The fragment's `moof` with a zero data offset. A per-sample field shared by every sample moves to the
/// `tfhd` default (audio: every duration and flag); composition offsets are left out when all are zero.
fn moof(track_id: u32, fragment: &Fragment) -> Result<Moof, PackagerError> {
    let samples = &fragment.samples;
    let default_sample_duration = uniform(samples.iter().map(|s| s.duration));
    let default_sample_flags = uniform(samples.iter().map(|s| sample_flags(s.keyframe)));
    let fields = TrunFields {
        duration: default_sample_duration.is_none(),
        flags: default_sample_flags.is_none(),
        composition_offset: samples.iter().any(|s| s.composition_offset != 0),
    };
    let samples = samples
        .iter()
        .map(|sample| {
            Ok(TrunSample {
                duration: sample.duration,
                size: fit(track_id, "sample size", sample.data.len() as u64)?,
                flags: sample_flags(sample.keyframe),
                composition_offset: sample.composition_offset,
            })
        })
        .collect::<Result<_, PackagerError>>()?;
    Ok(Moof {
        mfhd: Mfhd { sequence_number: fragment.sequence_number },
        traf: Traf {
            tfhd: Tfhd { track_id, default_sample_duration, default_sample_flags },
            tfdt: Tfdt { base_media_decode_time: fragment.base_media_decode_time },
            trun: Trun { data_offset: 0, fields, samples },
        },
    })
}

/// The value every item shares; `None` when they differ or there are none.
fn uniform(mut values: impl Iterator<Item = u32>) -> Option<u32> {
    let first = values.next()?;
    values.all(|v| v == first).then_some(first)
}

/// One reference per fragment, each `moof` + `mdat`, starting right after the `sidx`. The earliest
/// presentation time is on the presentation timeline (after the edit list), like the DASH `SegmentTimeline`
/// times that point at the same segments.
fn segment_index(
    track_id: u32,
    timescale: u32,
    fragments: &[Fragment],
    encoded: &[(Bytes, MdatHeader)],
    composition_delay: u64,
) -> Result<Sidx, PackagerError> {
    let mut references = Vec::with_capacity(fragments.len());
    for (fragment, (moof, mdat)) in fragments.iter().zip(encoded) {
        let referenced_size = moof.len() as u64 + mdat.box_len();
        if referenced_size > MAX_REFERENCED_SIZE {
            return Err(overflow(track_id, "sidx referenced size", referenced_size));
        }
        let first = fragment.samples.first();
        let starts_with_sap = first.is_some_and(|s| s.keyframe);
        let sap_type = match fragment.composition_times().next() {
            Some(_) if !starts_with_sap => 0,
            Some(first_presented) if first_presented == fragment.earliest_composition_time() => 1,
            Some(_) => 3,
            None => 0,
        };
        references.push(SidxReference {
            referenced_size: referenced_size as u32,
            subsegment_duration: fit(track_id, "sidx subsegment duration", fragment.duration())?,
            starts_with_sap,
            sap_type,
            sap_delta_time: 0,
        });
    }
    let _: u16 = fit(track_id, "sidx reference count", references.len() as u64)?;
    let earliest =
        fragments.first().map_or(0, |fragment| fragment.earliest_composition_time() - i128::from(composition_delay));
    Ok(Sidx {
        reference_id: track_id,
        timescale,
        earliest_presentation_time: fit(track_id, "sidx earliest presentation time", earliest)?,
        first_offset: 0,
        references,
    })
}

fn overflow(track_id: u32, what: &'static str, value: u64) -> PackagerError {
    PackagerError::FieldOverflow { track_id, what, value: i128::from(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::fixtures::read_with_mp4;

    fn sample(duration: u32, composition_offset: i32, keyframe: bool, data: &'static [u8]) -> FragmentSample {
        FragmentSample { duration, composition_offset, keyframe, data: Bytes::from_static(data) }
    }

    /// I P B: decode times t, t+10, t+20; presentation times t+10, t+40, t+20.
    fn gop(sequence_number: u32, base_media_decode_time: u64) -> Fragment {
        Fragment {
            sequence_number,
            base_media_decode_time,
            samples: vec![sample(10, 10, true, b"IIII"), sample(10, 30, false, b"PP"), sample(10, 0, false, b"B")],
        }
    }

    /// Top-level boxes as (type, offset, size).
    fn boxes(data: &[u8]) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < data.len() {
            let header = mp4::BoxHeader::read(&mut &data[offset..]).unwrap();
            let size = header.size as usize;
            out.push((header.name.to_string(), offset, size));
            offset += size;
        }
        assert_eq!(offset, data.len(), "boxes cover the segment exactly");
        out
    }

    fn kinds(data: &[u8]) -> Vec<String> {
        boxes(data).into_iter().map(|(kind, ..)| kind).collect()
    }

    fn read_moof(data: &[u8]) -> mp4::MoofBox {
        let len = mp4::BoxHeader::read(&mut &data[..]).unwrap().size as usize;
        read_with_mp4(&data[..len], mp4::MoofBox::default())
    }

    fn be32(data: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(data[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn fragments_become_moof_mdat_pairs_whose_data_offsets_point_at_the_samples() {
        let segment = media_segment(1, 1000, &[gop(5, 100), gop(6, 130)], false, 0).unwrap();
        let data = &segment.data[..];
        assert_eq!(kinds(data), ["styp", "moof", "mdat", "moof", "mdat"]);
        assert_eq!(&data[8..12], b"cmfs");

        for (location, (sequence_number, tfdt)) in segment.fragments.iter().zip([(5, 100), (6, 130)]) {
            let offset = location.offset as usize;
            let moof = read_moof(&data[offset..]);
            assert_eq!(moof.mfhd.sequence_number, sequence_number);
            let traf = &moof.trafs[0];
            assert_eq!(traf.tfhd.track_id, 1);
            assert_eq!(traf.tfhd.flags, 0x02_0008, "default-base-is-moof and a default duration");
            assert_eq!((traf.tfhd.default_sample_duration, traf.tfhd.default_sample_flags), (Some(10), None));
            let tfdt_box = traf.tfdt.as_ref().unwrap();
            assert_eq!((tfdt_box.version, tfdt_box.base_media_decode_time), (1, tfdt));
            let trun = traf.trun.as_ref().unwrap();
            assert_eq!((trun.version, trun.sample_count), (1, 3));
            assert!(trun.sample_durations.is_empty());
            assert_eq!(trun.sample_sizes, [4, 2, 1]);
            assert_eq!(trun.sample_flags, [SYNC_SAMPLE_FLAGS, NON_SYNC_SAMPLE_FLAGS, NON_SYNC_SAMPLE_FLAGS]);
            assert_eq!(trun.sample_cts, [10, 30, 0]);
            let data_offset = trun.data_offset.unwrap() as u64;
            assert_eq!(location.moof_len + location.mdat_header_len, data_offset);
            let data_start = offset + data_offset as usize;
            assert_eq!(&data[data_start - 8..data_start], b"\x00\x00\x00\x0fmdat");
            assert_eq!(&data[data_start..data_start + 7], b"IIIIPPB");
        }
    }

    #[test]
    fn shared_durations_and_flags_move_to_tfhd_and_zero_offsets_are_left_out() {
        let fragment = Fragment {
            sequence_number: 1,
            base_media_decode_time: 0,
            samples: vec![sample(1024, 0, true, b"aaa"), sample(1024, 0, true, b"bb")],
        };
        let segment = media_segment(2, 48_000, &[fragment], false, 0).unwrap();
        assert_eq!(kinds(&segment.data), ["styp", "moof", "mdat"]);
        assert_eq!(&segment.data[16..24], b"cmfscmff", "a single fragment is a CMAF fragment");
        let moof = read_moof(&segment.data[segment.fragments[0].offset as usize..]);
        let traf = &moof.trafs[0];
        assert_eq!(traf.tfhd.flags, 0x02_0028);
        assert_eq!(
            (traf.tfhd.default_sample_duration, traf.tfhd.default_sample_flags),
            (Some(1024), Some(SYNC_SAMPLE_FLAGS))
        );
        let trun = traf.trun.as_ref().unwrap();
        assert_eq!((trun.version, trun.flags), (0, 0x0201));
        assert_eq!(trun.sample_sizes, [3, 2]);
        assert!(segment.data.ends_with(b"\x00\x00\x00\x0dmdataaabb"));
    }

    #[test]
    fn the_segment_index_references_each_fragment() {
        let fragments = [gop(1, 100), gop(2, 130)];
        let segment = media_segment(3, 1000, &fragments, true, 0).unwrap();
        let data = &segment.data[..];
        let layout = boxes(data);
        let kinds: Vec<&str> = layout.iter().map(|(kind, ..)| kind.as_str()).collect();
        assert_eq!(kinds, ["styp", "sidx", "moof", "mdat", "moof", "mdat"]);
        assert_eq!(&data[16..28], b"cmfsmsdhmsix");

        // sidx v1 body: version/flags, reference_ID, timescale, EPT (64), first_offset (64), reserved,
        // reference_count, then 12 bytes per reference (ISO/IEC 14496-12 8.16.3).
        let (_, sidx_at, sidx_len) = layout[1];
        let sidx = &data[sidx_at..sidx_at + sidx_len];
        assert_eq!(sidx[8], 1);
        assert_eq!((be32(sidx, 12), be32(sidx, 16)), (3, 1000));
        assert_eq!(u64::from_be_bytes(sidx[20..28].try_into().unwrap()), 110, "I-frame of the first GOP at 100 + 10");
        assert_eq!(u64::from_be_bytes(sidx[28..36].try_into().unwrap()), 0, "fragments follow the sidx");
        assert_eq!(u16::from_be_bytes([sidx[38], sidx[39]]), 2);
        for (i, location) in segment.fragments.iter().enumerate() {
            let reference = &sidx[40 + 12 * i..52 + 12 * i];
            let (_, _, mdat_len) = layout[3 + 2 * i];
            assert_eq!(u64::from(be32(reference, 0)), location.moof_len + mdat_len as u64, "type 0, moof + mdat");
            assert_eq!(be32(reference, 4), 30);
            assert_eq!(be32(reference, 8), 0x9000_0000, "starts with a type 1 SAP");
        }
        assert_eq!(segment.fragments[0].offset as usize, sidx_at + sidx_len);
    }

    #[test]
    fn a_keyframe_presented_after_leading_samples_is_an_open_gop_sap() {
        // Keyframe presented at 20, the B-frame decoded after it at 10.
        let fragment = Fragment {
            sequence_number: 1,
            base_media_decode_time: 0,
            samples: vec![sample(10, 20, true, b"I"), sample(10, 0, false, b"B")],
        };
        assert_eq!(fragment.composition_times().collect::<Vec<_>>(), [20, 10]);
        assert_eq!(fragment.earliest_composition_time(), 10);
        let segment = media_segment(1, 1000, &[fragment], true, 0).unwrap();
        let (_, sidx_at, sidx_len) = boxes(&segment.data)[1];
        let sidx = &segment.data[sidx_at..sidx_at + sidx_len];
        assert_eq!(u64::from_be_bytes(sidx[20..28].try_into().unwrap()), 10);
        assert_eq!(be32(sidx, 48), 0xb000_0000);
    }

    #[test]
    fn the_index_gives_presentation_times_after_the_edit_list() {
        // The I P B GOP with composition times 110 140 120 and an edit list taking 10 off: presented at 100.
        let segment = media_segment(3, 1000, &[gop(1, 100)], true, 10).unwrap();
        let (_, sidx_at, sidx_len) = boxes(&segment.data)[1];
        let sidx = &segment.data[sidx_at..sidx_at + sidx_len];
        assert_eq!(u64::from_be_bytes(sidx[20..28].try_into().unwrap()), 100);
        assert_eq!(be32(sidx, 48), 0x9000_0000, "still a type 1 SAP");
        let moof = read_moof(&segment.data[segment.fragments[0].offset as usize..]);
        assert_eq!(moof.trafs[0].trun.as_ref().unwrap().sample_cts, [10, 30, 0], "offsets as given");
    }

    #[test]
    fn values_the_index_cannot_carry_are_errors() {
        let long = Fragment {
            sequence_number: 1,
            base_media_decode_time: 0,
            samples: vec![sample(u32::MAX, 0, true, b"I"), sample(1, 0, false, b"P")],
        };
        assert!(media_segment(1, 1000, std::slice::from_ref(&long), false, 0).is_ok(), "only the sidx sums durations");
        let error = media_segment(1, 1000, &[long], true, 0).unwrap_err();
        assert!(
            matches!(error, PackagerError::FieldOverflow { what: "sidx subsegment duration", value, .. } if value == 1 << 32),
            "{error}"
        );

        let before_zero =
            Fragment { sequence_number: 1, base_media_decode_time: 5, samples: vec![sample(10, -6, true, b"I")] };
        let error = media_segment(1, 1000, &[before_zero], true, 0).unwrap_err();
        assert!(
            matches!(error, PackagerError::FieldOverflow { what: "sidx earliest presentation time", value: -1, .. }),
            "{error}"
        );
    }

    #[test]
    fn no_fragments_is_a_bare_styp() {
        let segment = media_segment(1, 1000, &[], true, 0).unwrap();
        assert_eq!(kinds(&segment.data), ["styp", "sidx"]);
        assert!(segment.fragments.is_empty());
    }
}
