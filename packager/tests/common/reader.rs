//! Reads init and media segments back. Box contents are parsed by the `mp4` crate (`Mp4Reader`, `MoofBox`,
//! `FtypBox`); it has no `sidx` reader and does not resolve `default-base-is-moof` data offsets, so those
//! two are done here by hand from ISO/IEC 14496-12.

use std::io::Cursor;

use mp4::ReadBox;

const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
const NON_SYNC: u32 = 0x0001_0000;

/// One sample as read from a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSample {
    pub decode_time: u64,
    pub duration: u32,
    pub composition_offset: i32,
    pub flags: u32,
    pub data: Vec<u8>,
}

impl ReadSample {
    pub fn keyframe(&self) -> bool {
        self.flags & NON_SYNC == 0
    }

    /// Decode time plus composition offset.
    pub fn composition_time(&self) -> i128 {
        i128::from(self.decode_time) + i128::from(self.composition_offset)
    }

    /// The composition time mapped by the header's edit list, whose media time [`edit_media_time`] reads.
    pub fn presentation_time(&self, edit_media_time: i128) -> i128 {
        self.composition_time() - edit_media_time
    }
}

#[derive(Debug, Clone)]
pub struct ReadFragment {
    /// Offset of the `moof` in the segment.
    pub offset: u64,
    /// `moof` + `mdat`.
    pub len: u64,
    pub sequence_number: u32,
    pub track_id: u32,
    pub base_media_decode_time: u64,
    pub trun_version: u8,
    pub samples: Vec<ReadSample>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidxReference {
    pub reference_type: u8,
    pub referenced_size: u32,
    pub subsegment_duration: u32,
    pub starts_with_sap: bool,
    pub sap_type: u8,
    pub sap_delta_time: u32,
}

#[derive(Debug, Clone)]
pub struct ReadSidx {
    pub version: u8,
    pub reference_id: u32,
    pub timescale: u32,
    pub earliest_presentation_time: u64,
    pub first_offset: u64,
    pub references: Vec<SidxReference>,
    /// Offset just after the `sidx`: where `first_offset` counts from.
    pub end: u64,
}

#[derive(Debug, Clone)]
pub struct ReadSegment {
    /// Top-level box types in order.
    pub boxes: Vec<String>,
    pub major_brand: String,
    pub compatible_brands: Vec<String>,
    pub sidx: Option<ReadSidx>,
    pub fragments: Vec<ReadFragment>,
}

impl ReadSegment {
    pub fn samples(&self) -> impl Iterator<Item = &ReadSample> {
        self.fragments.iter().flat_map(|f| &f.samples)
    }
}

/// Parses an init segment with `Mp4Reader`.
pub fn read_init(init: &[u8]) -> mp4::Mp4Reader<Cursor<&[u8]>> {
    mp4::Mp4Reader::read_header(Cursor::new(init), init.len() as u64).expect("init segment parses")
}

/// Parses a media segment: `styp`, optional `sidx`, then `moof` + `mdat` pairs, and nothing else.
pub fn read_segment(data: &[u8], trex: &TrexDefaults) -> ReadSegment {
    let mut cursor = Cursor::new(data);
    let mut boxes = Vec::new();
    let mut brands = None;
    let mut sidx = None;
    let mut fragments = Vec::new();
    let mut pending_moof: Option<(u64, mp4::MoofBox)> = None;
    while (cursor.position() as usize) < data.len() {
        let start = cursor.position();
        let header = mp4::BoxHeader::read(&mut cursor).expect("box header");
        let kind = header.name.to_string();
        let header_len = cursor.position() - start;
        let end = start + box_len(&header, header_len);
        assert!(end as usize <= data.len(), "{kind} at {start} overruns the segment");
        match kind.as_str() {
            "styp" => {
                // Same layout as ftyp.
                let styp = mp4::FtypBox::read_box(&mut cursor, header.size).expect("styp");
                brands = Some((
                    styp.major_brand.to_string(),
                    styp.compatible_brands.iter().map(|b| b.to_string()).collect(),
                ));
            }
            "sidx" => sidx = Some(read_sidx(&data[(start + header_len) as usize..end as usize], end)),
            "moof" => {
                assert!(pending_moof.is_none(), "moof without mdat");
                let moof = mp4::MoofBox::read_box(&mut cursor, header.size).expect("moof");
                pending_moof = Some((start, moof));
            }
            "mdat" => {
                let (moof_start, moof) = pending_moof.take().expect("mdat after a moof");
                let payload = (start + header_len)..end;
                fragments.push(read_fragment(data, moof_start, &moof, payload, trex));
            }
            other => panic!("unexpected top-level box {other}"),
        }
        cursor.set_position(end);
        boxes.push(kind);
    }
    assert!(pending_moof.is_none(), "moof without mdat");
    let (major_brand, compatible_brands) = brands.expect("styp");
    ReadSegment { boxes, major_brand, compatible_brands, sidx, fragments }
}

fn box_len(header: &mp4::BoxHeader, header_len: u64) -> u64 {
    // The mp4 crate reports a largesize box as largesize - 8.
    if header_len == 16 {
        header.size + 8
    } else {
        header.size
    }
}

fn read_fragment(
    data: &[u8],
    moof_start: u64,
    moof: &mp4::MoofBox,
    payload: std::ops::Range<u64>,
    trex: &TrexDefaults,
) -> ReadFragment {
    assert_eq!(moof.trafs.len(), 1, "CMAF: one traf per moof");
    let traf = &moof.trafs[0];
    let tfhd = &traf.tfhd;
    assert_ne!(tfhd.flags & DEFAULT_BASE_IS_MOOF, 0, "default-base-is-moof");
    assert_eq!(tfhd.base_data_offset, None);
    let tfdt = traf.tfdt.as_ref().expect("CMAF: tfdt in every traf");
    assert_eq!(tfdt.version, 1);
    let trun = traf.trun.as_ref().expect("trun");
    let count = trun.sample_count as usize;
    let data_offset = trun.data_offset.expect("trun data offset");
    let mut position = moof_start.checked_add_signed(i64::from(data_offset)).expect("data offset");
    assert_eq!(position, payload.start, "the first sample starts the mdat payload");

    let per_sample = |values: &Vec<u32>, default: Option<u32>, fallback: u32| -> Vec<u32> {
        if values.is_empty() {
            vec![default.unwrap_or(fallback); count]
        } else {
            assert_eq!(values.len(), count);
            values.clone()
        }
    };
    let durations = per_sample(&trun.sample_durations, tfhd.default_sample_duration, trex.duration);
    let sizes = per_sample(&trun.sample_sizes, tfhd.default_sample_size, trex.size);
    let flags = per_sample(&trun.sample_flags, tfhd.default_sample_flags, trex.flags);
    // The mp4 crate reads composition offsets as u32 whatever the trun version; in version 1 they are signed.
    let offsets: Vec<i32> = if trun.sample_cts.is_empty() {
        vec![0; count]
    } else {
        assert_eq!(trun.version, 1, "only version 1 has signed offsets");
        trun.sample_cts.iter().map(|&c| c as i32).collect()
    };

    let mut decode_time = tfdt.base_media_decode_time;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let end = position + u64::from(sizes[i]);
        assert!(end <= payload.end, "sample {i} overruns the mdat");
        samples.push(ReadSample {
            decode_time,
            duration: durations[i],
            composition_offset: offsets[i],
            flags: flags[i],
            data: data[position as usize..end as usize].to_vec(),
        });
        decode_time += u64::from(durations[i]);
        position = end;
    }
    assert_eq!(position, payload.end, "the samples fill the mdat exactly");
    ReadFragment {
        offset: moof_start,
        len: payload.end - moof_start,
        sequence_number: moof.mfhd.sequence_number,
        track_id: tfhd.track_id,
        base_media_decode_time: tfdt.base_media_decode_time,
        trun_version: trun.version,
        samples,
    }
}

/// `sidx` body (ISO/IEC 14496-12 8.16.3), both versions.
fn read_sidx(body: &[u8], end: u64) -> ReadSidx {
    let mut r = body;
    let mut take = |n: usize| {
        let (head, tail) = r.split_at(n);
        r = tail;
        head.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
    };
    let version = take(1) as u8;
    let _flags = take(3);
    let reference_id = take(4) as u32;
    let timescale = take(4) as u32;
    let time_len = if version == 0 { 4 } else { 8 };
    let earliest_presentation_time = take(time_len);
    let first_offset = take(time_len);
    let _reserved = take(2);
    let count = take(2) as usize;
    let references = (0..count)
        .map(|_| {
            let a = take(4) as u32;
            let subsegment_duration = take(4) as u32;
            let c = take(4) as u32;
            SidxReference {
                reference_type: (a >> 31) as u8,
                referenced_size: a & 0x7FFF_FFFF,
                subsegment_duration,
                starts_with_sap: c >> 31 == 1,
                sap_type: ((c >> 28) & 0x7) as u8,
                sap_delta_time: c & 0x0FFF_FFFF,
            }
        })
        .collect();
    assert!(r.is_empty(), "sidx has {} trailing bytes", r.len());
    ReadSidx { version, reference_id, timescale, earliest_presentation_time, first_offset, references, end }
}

/// The media time of the single edit in an init segment's edit list, 0 without one: the composition time
/// presented at 0. The reader accepts only what the packager writes, one zero-duration edit at normal rate.
pub fn edit_media_time(init: &[u8]) -> i128 {
    let header = read_init(init);
    let Some(edts) = &header.moov.traks[0].edts else { return 0 };
    let elst = edts.elst.as_ref().expect("edts holds an elst");
    assert_eq!(elst.entries.len(), 1, "one edit");
    let edit = &elst.entries[0];
    assert_eq!((edit.segment_duration, edit.media_rate, edit.media_rate_fraction), (0, 1, 0));
    // The mp4 crate reads the signed media time into a u64.
    i128::from(edit.media_time as i64)
}

/// The sample defaults of a track's `trex`, the last resort when neither `trun` nor `tfhd` has a value.
#[derive(Debug, Clone, Copy)]
pub struct TrexDefaults {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
}

/// The `trex` defaults of an init segment.
pub fn trex_defaults(init: &[u8]) -> TrexDefaults {
    let trex = read_init(init).moov.mvex.expect("mvex").trex;
    TrexDefaults {
        duration: trex.default_sample_duration,
        size: trex.default_sample_size,
        flags: trex.default_sample_flags,
    }
}
