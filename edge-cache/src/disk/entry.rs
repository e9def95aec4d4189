//! The disk tier's entry file format, as a pure codec: bytes in, bytes out, no I/O.
//!
//! # Format (version 1, integers little-endian)
//!
//! ```text
//! offset  size      field
//!      0     8      magic "MQDISK\r\n"
//!      8     2      format version (1)
//!     10     2      flags (0, reserved)
//!     12     4      key length K (at most MAX_KEY_BYTES)
//!     16     4      meta length M
//!     20     8      body length B
//!     28     K      key (UTF-8), compared with the requested key on every read
//!   28+K     M      meta: opaque bytes from the caller (serialised response headers, freshness)
//! 28+K+M     B      body
//! end-8      8      xxh3-64 of every byte before it
//! ```
//!
//! Entry files are read back after crashes, bit rot and whatever else wrote into the cache directory, so
//! [`decode`] treats its input as untrusted: every length is checked against the input before it is used, and
//! it is fuzzed (`fuzz/fuzz_targets/disk_entry.rs`) as well as property-tested below.

use xxhash_rust::xxh3::{xxh3_64, Xxh3Default};

/// Longest key an entry holds, in bytes.
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// Bytes an entry file holds besides its key, meta and body: the fixed header and the trailing checksum.
pub const ENTRY_FRAMING_BYTES: u64 = (HEADER_BYTES + CHECKSUM_BYTES) as u64;
/// Length of the fixed header that starts every entry.
pub const HEADER_BYTES: usize = 28;

const MAGIC: [u8; 8] = *b"MQDISK\r\n";
const FORMAT_VERSION: u16 = 1;
const CHECKSUM_BYTES: usize = 8;

/// Why bytes are not an entry. The `as_str` names are log fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the entry does not start with the disk cache's magic bytes")]
    BadMagic,
    #[error("the entry has a format version this build does not read")]
    UnsupportedVersion,
    #[error("the entry's header gives impossible lengths")]
    BadLengths,
    #[error("the entry is shorter than its header says")]
    Truncated,
    #[error("the entry is longer than its header says")]
    TrailingBytes,
    #[error("the entry's checksum does not match its contents")]
    ChecksumMismatch,
    #[error("the entry's key is not UTF-8")]
    KeyNotUtf8,
}

impl EntryError {
    /// A stable name, for log fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadMagic => "bad_magic",
            Self::UnsupportedVersion => "unsupported_version",
            Self::BadLengths => "bad_lengths",
            Self::Truncated => "truncated",
            Self::TrailingBytes => "trailing_bytes",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::KeyNotUtf8 => "key_not_utf8",
        }
    }
}

/// A decoded entry, borrowing from the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub key: &'a str,
    pub meta: &'a [u8],
    pub body: &'a [u8],
}

/// The lengths in an entry's fixed header, checked against the file's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub key_len: usize,
    pub meta_len: usize,
    pub body_len: usize,
}

impl Layout {
    /// The fixed header for an entry of these lengths. The key length must be at most [`MAX_KEY_BYTES`] and the
    /// meta length fit in 32 bits (the tier refuses longer ones before encoding).
    pub fn encode(self) -> [u8; HEADER_BYTES] {
        let mut header = [0u8; HEADER_BYTES];
        header[0..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // 10..12: flags, zero.
        header[12..16].copy_from_slice(&(self.key_len as u32).to_le_bytes());
        header[16..20].copy_from_slice(&(self.meta_len as u32).to_le_bytes());
        header[20..28].copy_from_slice(&(self.body_len as u64).to_le_bytes());
        header
    }

    /// Reads a fixed header and checks its lengths against `file_len`, the length of the whole entry. What the
    /// recovery scan checks without reading the rest of the file.
    pub fn decode(header: &[u8; HEADER_BYTES], file_len: u64) -> Result<Self, EntryError> {
        if header[0..8] != MAGIC {
            return Err(EntryError::BadMagic);
        }
        if u16::from_le_bytes([header[8], header[9]]) != FORMAT_VERSION {
            return Err(EntryError::UnsupportedVersion);
        }
        let key_len = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
        let meta_len = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
        let body_len = u64::from_le_bytes(header[20..28].try_into().expect("8 bytes"));
        if key_len as usize > MAX_KEY_BYTES {
            return Err(EntryError::BadLengths);
        }
        let expected = ENTRY_FRAMING_BYTES
            .checked_add(u64::from(key_len) + u64::from(meta_len))
            .and_then(|n| n.checked_add(body_len))
            .ok_or(EntryError::BadLengths)?;
        if expected > file_len {
            return Err(EntryError::Truncated);
        }
        if expected < file_len {
            return Err(EntryError::TrailingBytes);
        }
        let body_len = usize::try_from(body_len).map_err(|_| EntryError::BadLengths)?;
        Ok(Self { key_len: key_len as usize, meta_len: meta_len as usize, body_len })
    }

    pub fn key_start(self) -> usize {
        HEADER_BYTES
    }

    pub fn meta_start(self) -> usize {
        self.key_start() + self.key_len
    }

    pub fn body_start(self) -> usize {
        self.meta_start() + self.meta_len
    }

    pub fn body_end(self) -> usize {
        self.body_start() + self.body_len
    }
}

/// The bytes around the body of an entry: the header, key and meta before it, and the checksum after it. The
/// tier writes `head`, the body and `trailer` without copying the body.
pub fn encode_framing(key: &str, meta: &[u8], body: &[u8]) -> (Vec<u8>, [u8; CHECKSUM_BYTES]) {
    let layout = Layout { key_len: key.len(), meta_len: meta.len(), body_len: body.len() };
    let mut head = Vec::with_capacity(HEADER_BYTES + key.len() + meta.len());
    head.extend_from_slice(&layout.encode());
    head.extend_from_slice(key.as_bytes());
    head.extend_from_slice(meta);
    let mut checksum = Xxh3Default::new();
    checksum.update(&head);
    checksum.update(body);
    (head, checksum.digest().to_le_bytes())
}

/// A whole entry. `key` must be at most [`MAX_KEY_BYTES`] long and `meta` shorter than 4 GiB.
pub fn encode(key: &str, meta: &[u8], body: &[u8]) -> Vec<u8> {
    let (mut bytes, trailer) = encode_framing(key, meta, body);
    bytes.reserve(body.len() + CHECKSUM_BYTES);
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(&trailer);
    bytes
}

/// Checks a whole entry's framing, checksum and key, and returns its parts.
pub fn decode(bytes: &[u8]) -> Result<Entry<'_>, EntryError> {
    let header = bytes.first_chunk::<HEADER_BYTES>().ok_or(EntryError::Truncated)?;
    let layout = Layout::decode(header, bytes.len() as u64)?;
    let (covered, checksum) = bytes.split_at(layout.body_end());
    if xxh3_64(covered).to_le_bytes() != checksum {
        return Err(EntryError::ChecksumMismatch);
    }
    let key =
        std::str::from_utf8(&bytes[layout.key_start()..layout.meta_start()]).map_err(|_| EntryError::KeyNotUtf8)?;
    Ok(Entry {
        key,
        meta: &bytes[layout.meta_start()..layout.body_start()],
        body: &bytes[layout.body_start()..layout.body_end()],
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_entry_round_trips() {
        let bytes = encode("film/seg_1.m4s", b"headers", b"segment bytes");
        assert_eq!(bytes.len() as u64, ENTRY_FRAMING_BYTES + 14 + 7 + 13);
        assert_eq!(&bytes[..8], b"MQDISK\r\n");
        let entry = decode(&bytes).unwrap();
        assert_eq!(entry, Entry { key: "film/seg_1.m4s", meta: b"headers", body: b"segment bytes" });
    }

    #[test]
    fn an_empty_entry_round_trips() {
        let bytes = encode("", b"", b"");
        assert_eq!(bytes.len() as u64, ENTRY_FRAMING_BYTES);
        assert_eq!(decode(&bytes), Ok(Entry { key: "", meta: b"", body: b"" }));
    }

    #[test]
    fn damage_is_named() {
        let bytes = encode("k", b"meta", b"body");
        assert_eq!(decode(&bytes[..10]), Err(EntryError::Truncated));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), Err(EntryError::Truncated));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(EntryError::TrailingBytes));
        let mut flipped = bytes.clone();
        flipped[bytes.len() - 12] ^= 1;
        assert_eq!(decode(&flipped), Err(EntryError::ChecksumMismatch));
        let mut magic = bytes.clone();
        magic[0] ^= 1;
        assert_eq!(decode(&magic), Err(EntryError::BadMagic));
        let mut version = bytes.clone();
        version[8] = 2;
        assert_eq!(decode(&version), Err(EntryError::UnsupportedVersion));
        let (mut head, _) = encode_framing("\u{e9}", b"", b"");
        head[HEADER_BYTES] = 0xff;
        head.extend_from_slice(&xxh3_64(&head).to_le_bytes());
        assert_eq!(decode(&head), Err(EntryError::KeyNotUtf8));
        assert_eq!(EntryError::KeyNotUtf8.as_str(), "key_not_utf8");
    }

    #[test]
    fn layout_round_trips_and_rejects_bad_lengths() {
        let layout = Layout { key_len: 3, meta_len: 5, body_len: 1000 };
        let header = layout.encode();
        assert_eq!(Layout::decode(&header, 36 + 1008), Ok(layout));
        assert_eq!(Layout::decode(&header, 36 + 1007), Err(EntryError::Truncated));
        assert_eq!(Layout::decode(&header, 36 + 1009), Err(EntryError::TrailingBytes));
        let mut huge = header;
        huge[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Layout::decode(&huge, 100), Err(EntryError::BadLengths));
        let mut long_key = header;
        long_key[12..16].copy_from_slice(&(MAX_KEY_BYTES as u32 + 1).to_le_bytes());
        assert_eq!(Layout::decode(&long_key, u64::MAX / 2), Err(EntryError::BadLengths));
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(
            key in ".{0,40}",
            meta in proptest::collection::vec(any::<u8>(), 0..64),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let bytes = encode(&key, &meta, &body);
            prop_assert_eq!(decode(&bytes), Ok(Entry { key: &key, meta: &meta, body: &body }));
            crate::fuzzing::disk_entry(&bytes);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            crate::fuzzing::disk_entry(&bytes);
        }

        /// Past the checksum: any one byte of a valid entry changed, with the checksum made right again.
        #[test]
        fn a_changed_byte_under_a_good_checksum_never_panics(
            body in proptest::collection::vec(any::<u8>(), 0..64),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let mut bytes = encode("film/seg.m4s", b"meta", &body);
            let at = at.index(bytes.len() - 8);
            bytes[at] = value;
            crate::fuzzing::disk_entry(&bytes);
        }
    }
}
