//! Codec configuration records: RFC 6381 codec strings and stream facts read from avcC and AudioSpecificConfig.
//!
//! Both records come from the encoder's caps, so they are checked here before anything is written from them:
//! a record that does not parse is an [`PackagerError::InvalidCodecConfig`], never a panic.

use crate::PackagerError;

const AVCC: &str = "avcC";
const ASC: &str = "AudioSpecificConfig";

/// The parts of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) that manifests and sample
/// entries need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvcConfig {
    /// `AVCProfileIndication`: the SPS `profile_idc` (66 Baseline, 77 Main, 100 High, ...).
    pub profile_idc: u8,
    /// `profile_compatibility`: the SPS byte holding `constraint_set0_flag`..`constraint_set5_flag`.
    pub constraint_flags: u8,
    /// `AVCLevelIndication`: the SPS `level_idc` (40 for level 4.0).
    pub level_idc: u8,
    /// Bytes in each NAL unit length prefix of the samples (1, 2 or 4).
    pub nal_length_size: u8,
}

impl AvcConfig {
    /// Reads and checks an AVCDecoderConfigurationRecord: version 1, at least one SPS and one PPS, and every
    /// parameter set inside the record. Trailing bytes (the High-profile chroma/bit-depth extension) are
    /// allowed and not read.
    pub fn parse(record: &[u8]) -> Result<Self, PackagerError> {
        let invalid = |reason: String| PackagerError::InvalidCodecConfig { codec: AVCC, reason };
        let [version, profile_idc, constraint_flags, level_idc, length_size, sps_count, rest @ ..] = record else {
            return Err(invalid(format!("{} bytes, shorter than the 6-byte header", record.len())));
        };
        if *version != 1 {
            return Err(invalid(format!("configurationVersion is {version}, expected 1")));
        }
        let nal_length_size = (length_size & 0b11) + 1;
        if nal_length_size == 3 {
            return Err(invalid("lengthSizeMinusOne is 2, which ISO/IEC 14496-15 does not allow".into()));
        }
        let sps_count = sps_count & 0b1_1111;
        if sps_count == 0 {
            return Err(invalid("no sequence parameter set".into()));
        }
        let rest = parameter_sets(rest, sps_count, 7, "SPS").map_err(invalid)?;
        let Some((&pps_count, rest)) = rest.split_first() else {
            return Err(invalid("ends before numOfPictureParameterSets".into()));
        };
        if pps_count == 0 {
            return Err(invalid("no picture parameter set".into()));
        }
        parameter_sets(rest, pps_count, 8, "PPS").map_err(invalid)?;
        Ok(Self {
            profile_idc: *profile_idc,
            constraint_flags: *constraint_flags,
            level_idc: *level_idc,
            nal_length_size,
        })
    }

    /// RFC 6381 §3.3 codec string, `avc1.PPCCLL` in lowercase hex.
    pub fn codec_string(&self) -> String {
        format!("avc1.{:02x}{:02x}{:02x}", self.profile_idc, self.constraint_flags, self.level_idc)
    }
}

/// Walks `count` length-prefixed parameter sets of NAL type `nal_type` and returns what follows them.
fn parameter_sets<'a>(mut data: &'a [u8], count: u8, nal_type: u8, what: &str) -> Result<&'a [u8], String> {
    for index in 0..count {
        let Some((len, rest)) = data.split_first_chunk::<2>() else {
            return Err(format!("{what} {index} of {count}: record ends before its length"));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if len > rest.len() {
            return Err(format!("{what} {index} of {count}: {len} bytes but {} left", rest.len()));
        }
        let (nal, rest) = rest.split_at(len);
        match nal.first() {
            Some(header) if header & 0b1_1111 == nal_type => {}
            Some(header) => return Err(format!("{what} {index} of {count}: NAL unit type {}", header & 0b1_1111)),
            None => return Err(format!("{what} {index} of {count}: empty")),
        }
        data = rest;
    }
    Ok(data)
}

/// `avc1.PPCCLL` from an AVCDecoderConfigurationRecord.
pub fn avc_codec_string(avc_config: &[u8]) -> Result<String, PackagerError> {
    AvcConfig::parse(avc_config).map(|c| c.codec_string())
}

/// Sampling frequencies by `samplingFrequencyIndex` (ISO/IEC 14496-3 Table 1.18); 13 and 14 are reserved,
/// 15 means the frequency follows as 24 bits.
const AAC_SAMPLING_FREQUENCIES: [u32; 13] =
    [96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000, 7_350];

/// The leading fields of an MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacConfig {
    /// `audioObjectType` after the escape (2 AAC-LC, 5 SBR, 29 PS, 42 USAC, ...).
    pub audio_object_type: u8,
    /// Sampling frequency of the core coder, Hz (half the output rate with implicit SBR).
    pub sampling_frequency: u32,
    /// `channelConfiguration`: 1..=7 (and 11, 12, 14) are the same layouts as the CICP ChannelConfiguration
    /// of ISO/IEC 23091-3; 0 means the layout is in a program config element.
    pub channel_configuration: u8,
}

impl AacConfig {
    /// Reads and checks the object type, sampling frequency and channel configuration.
    pub fn parse(asc: &[u8]) -> Result<Self, PackagerError> {
        let invalid = |reason: &str| PackagerError::InvalidCodecConfig { codec: ASC, reason: reason.into() };
        let truncated = || invalid("ends inside its first fields");
        let mut bits = BitReader::new(asc);
        let audio_object_type = match bits.read(5).ok_or_else(truncated)? {
            0 => return Err(invalid("audioObjectType 0 (null object)")),
            31 => 32 + bits.read(6).ok_or_else(truncated)?,
            aot => aot,
        };
        let sampling_frequency = match bits.read(4).ok_or_else(truncated)? {
            15 => bits.read(24).ok_or_else(truncated)?,
            13 | 14 => return Err(invalid("reserved samplingFrequencyIndex")),
            index => AAC_SAMPLING_FREQUENCIES[index as usize],
        };
        if sampling_frequency == 0 {
            return Err(invalid("explicit sampling frequency of 0 Hz"));
        }
        let channel_configuration = bits.read(4).ok_or_else(truncated)?;
        Ok(Self {
            audio_object_type: u8::try_from(audio_object_type).expect("5 bits, or 32 plus 6 bits"),
            sampling_frequency,
            channel_configuration: u8::try_from(channel_configuration).expect("4 bits"),
        })
    }

    /// RFC 6381 §3.3 codec string, `mp4a.40.<audioObjectType>` in decimal.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.audio_object_type)
    }
}

/// `mp4a.40.N` from an AudioSpecificConfig.
pub fn aac_codec_string(asc: &[u8]) -> Result<String, PackagerError> {
    AacConfig::parse(asc).map(|c| c.codec_string())
}

/// Reads big-endian bit fields of up to 32 bits.
struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, bit: 0 }
    }

    /// The next `n` bits, or `None` when fewer are left.
    fn read(&mut self, n: usize) -> Option<u32> {
        debug_assert!(n <= 32);
        if self.bit + n > self.data.len() * 8 {
            return None;
        }
        let mut value = 0u32;
        for _ in 0..n {
            let byte = self.data[self.bit / 8];
            value = (value << 1) | u32::from((byte >> (7 - self.bit % 8)) & 1);
            self.bit += 1;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Shaped like x264's High@4.0 record (SPS and PPS bodies shortened): one SPS, one PPS, then the
    /// High-profile chroma format / bit depth extension.
    const AVCC_HIGH_40: &[u8] = &[
        0x01, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x28, 0x01, 0x00, 0x02, 0x68, 0xeb, 0xfd,
        0xf8, 0xf8, 0x00,
    ];

    fn avcc(profile: u8, flags: u8, level: u8, sps: &[&[u8]], pps: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![1, profile, flags, level, 0xff, 0xe0 | sps.len() as u8];
        for set in sps {
            out.extend_from_slice(&(set.len() as u16).to_be_bytes());
            out.extend_from_slice(set);
        }
        out.push(pps.len() as u8);
        for set in pps {
            out.extend_from_slice(&(set.len() as u16).to_be_bytes());
            out.extend_from_slice(set);
        }
        out
    }

    fn reason(err: PackagerError) -> String {
        match err {
            PackagerError::InvalidCodecConfig { reason, .. } => reason,
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn avc_codec_string_reads_profile_flags_and_level() {
        assert_eq!(avc_codec_string(AVCC_HIGH_40).unwrap(), "avc1.640028");
        let cfg = AvcConfig::parse(AVCC_HIGH_40).unwrap();
        assert_eq!((cfg.profile_idc, cfg.constraint_flags, cfg.level_idc, cfg.nal_length_size), (100, 0, 40, 4));
        // Constrained Baseline 3.0 sets constraint_set0 and constraint_set1: hex stays two digits, lowercase.
        let baseline = avcc(66, 0xc0, 30, &[&[0x67, 0x42, 0xc0, 0x1e]], &[&[0x68, 0xce]]);
        assert_eq!(avc_codec_string(&baseline).unwrap(), "avc1.42c01e");
        let main_31 = avcc(77, 0x40, 31, &[&[0x67, 0x4d, 0x40, 0x1f]], &[&[0x68]]);
        assert_eq!(avc_codec_string(&main_31).unwrap(), "avc1.4d401f");
    }

    #[test]
    fn avc_config_rejects_malformed_records() {
        let sps: &[u8] = &[0x67, 0x64, 0x00, 0x28];
        let pps: &[u8] = &[0x68, 0xeb];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "shorter than the 6-byte header"),
            (AVCC_HIGH_40[..5].to_vec(), "shorter than the 6-byte header"),
            ([&[2u8][..], &AVCC_HIGH_40[1..]].concat(), "configurationVersion is 2"),
            (avcc(100, 0, 40, &[], &[pps]), "no sequence parameter set"),
            (avcc(100, 0, 40, &[sps], &[]), "no picture parameter set"),
            (avcc(100, 0, 40, &[sps], &[pps])[..8].to_vec(), "4 bytes but 0 left"),
            (avcc(100, 0, 40, &[sps], &[pps])[..7].to_vec(), "ends before its length"),
            (avcc(100, 0, 40, &[sps], &[pps])[..12].to_vec(), "ends before numOfPictureParameterSets"),
            (avcc(100, 0, 40, &[pps], &[pps]), "SPS 0 of 1: NAL unit type 8"),
            (avcc(100, 0, 40, &[sps], &[sps]), "PPS 0 of 1: NAL unit type 7"),
            (avcc(100, 0, 40, &[&[]], &[pps]), "SPS 0 of 1: empty"),
        ];
        for (record, expected) in cases {
            let err = reason(AvcConfig::parse(&record).unwrap_err());
            assert!(err.contains(expected), "{record:02x?}: got {err:?}, expected {expected:?}");
        }
        let mut three_byte_lengths = AVCC_HIGH_40.to_vec();
        three_byte_lengths[4] = 0xfe;
        assert!(reason(AvcConfig::parse(&three_byte_lengths).unwrap_err()).contains("lengthSizeMinusOne is 2"));
    }

    #[test]
    fn aac_codec_string_reads_object_type() {
        // AAC-LC, 48 kHz, stereo.
        assert_eq!(aac_codec_string(&[0x11, 0x90]).unwrap(), "mp4a.40.2");
        let lc = AacConfig::parse(&[0x11, 0x90]).unwrap();
        assert_eq!(lc, AacConfig { audio_object_type: 2, sampling_frequency: 48_000, channel_configuration: 2 });
        // AAC-LC, 44.1 kHz, 5.1.
        let surround = AacConfig::parse(&[0x12, 0x30]).unwrap();
        assert_eq!((surround.sampling_frequency, surround.channel_configuration), (44_100, 6));
        // HE-AAC with explicit SBR signalling: 24 kHz core, mono, then the extension rate and AAC-LC.
        assert_eq!(aac_codec_string(&[0x2b, 0x09, 0x88, 0x00]).unwrap(), "mp4a.40.5");
        // Escape value 31: 32 + 10 = 42 (USAC), 48 kHz, stereo.
        let usac = [0b1111_1001, 0b0100_0110, 0b0100_0000];
        assert_eq!(aac_codec_string(&usac).unwrap(), "mp4a.40.42");
        assert_eq!(AacConfig::parse(&usac).unwrap().channel_configuration, 2);
        // Explicit 24-bit frequency (index 15): 0x017700 = 96000 Hz, AAC-LC, mono.
        let explicit = [0b0001_0111, 0b1000_0000, 0b1011_1011, 0b1000_0000, 0b0000_1000];
        let cfg = AacConfig::parse(&explicit).unwrap();
        assert_eq!((cfg.audio_object_type, cfg.sampling_frequency, cfg.channel_configuration), (2, 96_000, 1));
    }

    #[test]
    fn aac_config_rejects_malformed_records() {
        let cases: [(&[u8], &str); 6] = [
            (&[], "ends inside its first fields"),
            (&[0x11], "ends inside its first fields"),
            (&[0x00, 0x10], "audioObjectType 0"),
            (&[0x16, 0x90], "reserved samplingFrequencyIndex"),
            (&[0xf9], "ends inside its first fields"),
            (&[0x17, 0x80, 0x00, 0x00, 0x08], "explicit sampling frequency of 0 Hz"),
        ];
        for (asc, expected) in cases {
            let err = reason(AacConfig::parse(asc).unwrap_err());
            assert!(err.contains(expected), "{asc:02x?}: got {err:?}, expected {expected:?}");
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = AvcConfig::parse(&data);
            let _ = AacConfig::parse(&data);
        }

        #[test]
        fn avc_parser_never_panics_on_damaged_valid_records(
            cut in 0usize..=AVCC_HIGH_40.len(),
            flip in 0usize..AVCC_HIGH_40.len(),
            bit in 0u8..8,
        ) {
            let mut record = AVCC_HIGH_40.to_vec();
            record[flip] ^= 1 << bit;
            let _ = AvcConfig::parse(&record[..cut]);
        }

        #[test]
        fn avc_codec_string_is_the_three_header_bytes(profile: u8, flags: u8, level: u8, sps_tail in proptest::collection::vec(any::<u8>(), 0..32)) {
            let sps = [&[0x67][..], &sps_tail].concat();
            let record = avcc(profile, flags, level, &[&sps], &[&[0x68, 0xce]]);
            let s = avc_codec_string(&record).unwrap();
            prop_assert_eq!(s.len(), 11);
            prop_assert_eq!(u8::from_str_radix(&s[5..7], 16).unwrap(), profile);
            prop_assert_eq!(u8::from_str_radix(&s[7..9], 16).unwrap(), flags);
            prop_assert_eq!(u8::from_str_radix(&s[9..11], 16).unwrap(), level);
            prop_assert_eq!(s.to_lowercase(), s);
        }

        #[test]
        fn aac_object_type_round_trips_through_the_escape(aot in prop_oneof![1u8..=30, 32u8..=95], freq_index in 0u8..=12, channels in 0u8..16) {
            // Pack the fields MSB first, the way ISO/IEC 14496-3 lays them out.
            let mut fields: Vec<(u32, usize)> = Vec::new();
            if aot < 31 { fields.push((u32::from(aot), 5)) } else { fields.extend([(31, 5), (u32::from(aot - 32), 6)]) }
            fields.extend([(u32::from(freq_index), 4), (u32::from(channels), 4)]);
            let mut bits: Vec<bool> = fields.iter().flat_map(|&(v, n)| (0..n).rev().map(move |i| v >> i & 1 == 1)).collect();
            bits.resize(bits.len().div_ceil(8) * 8, false);
            let asc: Vec<u8> = bits.chunks(8).map(|b| b.iter().fold(0u8, |acc, &bit| acc << 1 | u8::from(bit))).collect();
            let cfg = AacConfig::parse(&asc).unwrap();
            prop_assert_eq!(cfg.audio_object_type, aot);
            prop_assert_eq!(cfg.sampling_frequency, AAC_SAMPLING_FREQUENCIES[usize::from(freq_index)]);
            prop_assert_eq!(cfg.channel_configuration, channels);
            prop_assert_eq!(aac_codec_string(&asc).unwrap(), format!("mp4a.40.{aot}"));
        }
    }
}
