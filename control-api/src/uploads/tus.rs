//! The tus 1.0 resumable upload protocol as values (core, creation, creation-with-upload, termination,
//! checksum, expiration): parsing and formatting of its headers, and the rules that decide a request's answer.
//! No I/O: the upload service and the HTTP handlers call these, and every parser accepts any bytes without
//! panicking (the headers are untrusted input).

use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use sha1::Digest as _;

use crate::error::ApiError;

/// The one protocol version spoken, sent in `Tus-Resumable` and `Tus-Version`.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions announced in `Tus-Extension`.
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
/// The checksum algorithms announced in `Tus-Checksum-Algorithm`.
pub const TUS_CHECKSUM_ALGORITHMS: &str = "sha1,sha256";
/// The content type of PATCH bodies (and of a creation request that carries data).
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// The status of a checksum mismatch (the checksum extension's own, not an IANA status).
pub const CHECKSUM_MISMATCH_STATUS: u16 = 460;

/// Header names, lowercase as HTTP/2 sends them (`http::HeaderName` compares case-insensitively).
pub mod header {
    pub const TUS_RESUMABLE: &str = "tus-resumable";
    pub const TUS_VERSION: &str = "tus-version";
    pub const TUS_EXTENSION: &str = "tus-extension";
    pub const TUS_MAX_SIZE: &str = "tus-max-size";
    pub const TUS_CHECKSUM_ALGORITHM: &str = "tus-checksum-algorithm";
    pub const UPLOAD_OFFSET: &str = "upload-offset";
    pub const UPLOAD_LENGTH: &str = "upload-length";
    pub const UPLOAD_METADATA: &str = "upload-metadata";
    pub const UPLOAD_CHECKSUM: &str = "upload-checksum";
    pub const UPLOAD_EXPIRES: &str = "upload-expires";
}

/// Why a tus request is refused. [`status`](Self::status) is the protocol's answer for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TusError {
    #[error("this server speaks tus {TUS_VERSION}: send `Tus-Resumable: {TUS_VERSION}`")]
    UnsupportedVersion,
    #[error("the {header} header is missing")]
    MissingHeader { header: &'static str },
    #[error("the {header} header is not valid: {reason}")]
    InvalidHeader { header: &'static str, reason: String },
    #[error("upload data is sent with `Content-Type: {OFFSET_OCTET_STREAM}`")]
    WrongContentType,
    #[error("the upload is at offset {expected}, not {given}: ask with HEAD and resume from there")]
    OffsetMismatch { expected: u64, given: u64 },
    #[error("unsupported checksum algorithm {0:?}: use sha1 or sha256")]
    UnsupportedChecksum(String),
    #[error("the body's {algorithm} checksum is not the one in Upload-Checksum; the chunk was discarded")]
    ChecksumMismatch { algorithm: ChecksumAlgorithm },
    #[error("an upload of {length} bytes is over the limit of {limit} bytes")]
    TooLarge { length: u64, limit: u64 },
    #[error("the data would end at byte {end}, past the upload's length of {length} bytes")]
    PastLength { length: u64, end: u64 },
    #[error("the upload expired and was or will be removed; start a new one")]
    Expired,
    #[error("no such upload")]
    NotFound,
    #[error("another request is writing to this upload; retry once it is done")]
    Locked,
}

impl TusError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            Self::MissingHeader { .. } | Self::InvalidHeader { .. } | Self::UnsupportedChecksum(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::WrongContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::OffsetMismatch { .. } => StatusCode::CONFLICT,
            Self::ChecksumMismatch { .. } => {
                StatusCode::from_u16(CHECKSUM_MISMATCH_STATUS).expect("460 is a valid status code")
            }
            Self::TooLarge { .. } | Self::PastLength { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Expired => StatusCode::GONE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Locked => StatusCode::LOCKED,
        }
    }

    /// The stable code of the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion => "tus_version_unsupported",
            Self::MissingHeader { .. } => "missing_header",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::WrongContentType => "unsupported_media_type",
            Self::OffsetMismatch { .. } => "upload_offset_mismatch",
            Self::UnsupportedChecksum(_) => "checksum_algorithm_unsupported",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
            Self::TooLarge { .. } | Self::PastLength { .. } => "payload_too_large",
            Self::Expired => "upload_expired",
            Self::NotFound => "not_found",
            Self::Locked => "upload_locked",
        }
    }
}

impl From<TusError> for ApiError {
    fn from(error: TusError) -> Self {
        ApiError::new(error.status(), error.code(), error.to_string())
    }
}

/// Checks `Tus-Resumable` (required on every request but OPTIONS): anything but `1.0.0` is 412.
pub fn check_resumable(value: Option<&[u8]>) -> Result<(), TusError> {
    match value.map(<[u8]>::trim_ascii) {
        Some(v) if v == TUS_VERSION.as_bytes() => Ok(()),
        _ => Err(TusError::UnsupportedVersion),
    }
}

/// A non-negative integer header (`Upload-Offset`, `Upload-Length`): ASCII digits only, no sign.
pub fn parse_count(header: &'static str, value: Option<&[u8]>) -> Result<u64, TusError> {
    let value = value.ok_or(TusError::MissingHeader { header })?.trim_ascii();
    let invalid = |reason: &str| TusError::InvalidHeader { header, reason: reason.to_owned() };
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(invalid("it must be a non-negative whole number of bytes"));
    }
    // Digits only, so it is UTF-8; overflow is the one way left to fail.
    std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).ok_or_else(|| invalid("it is too large"))
}

/// `Upload-Offset`, required on PATCH.
pub fn parse_offset(value: Option<&[u8]>) -> Result<u64, TusError> {
    parse_count(header::UPLOAD_OFFSET, value)
}

/// `Upload-Length`, required on creation (deferred lengths are not offered).
pub fn parse_length(value: Option<&[u8]>) -> Result<u64, TusError> {
    parse_count(header::UPLOAD_LENGTH, value)
}

/// Standard base64 that accepts values with or without `=` padding (clients differ), and writes padding.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `Upload-Metadata`: `key base64value` pairs separated by commas, keys unique and non-empty, values any bytes
/// (possibly empty, then the space may be left out). Kept in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(Vec<(String, Vec<u8>)>);

impl Metadata {
    /// Metadata from pairs; `None` if a key is not a valid tus key or is repeated.
    pub fn from_pairs(pairs: Vec<(String, Vec<u8>)>) -> Option<Self> {
        let mut seen = std::collections::HashSet::new();
        pairs.iter().all(|(key, _)| is_metadata_key(key) && seen.insert(key.as_str())).then_some(Self(pairs))
    }

    /// Parses the header's value; an absent header is empty metadata.
    pub fn parse(value: Option<&[u8]>) -> Result<Self, TusError> {
        let invalid = |reason: String| TusError::InvalidHeader { header: header::UPLOAD_METADATA, reason };
        let Some(value) = value else { return Ok(Self::default()) };
        let text = std::str::from_utf8(value).map_err(|_| invalid("it is not ASCII text".to_owned()))?;
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        for pair in text.split(',') {
            let pair = pair.trim();
            let (key, encoded) = pair.split_once(' ').unwrap_or((pair, ""));
            if !is_metadata_key(key) {
                return Err(invalid(format!("{key:?} is not a key (non-empty ASCII, no spaces or commas)")));
            }
            let value = BASE64_LENIENT
                .decode(encoded.trim())
                .map_err(|_| invalid(format!("the value of {key:?} is not base64")))?;
            if pairs.iter().any(|(seen, _)| seen == key) {
                return Err(invalid(format!("the key {key:?} appears twice")));
            }
            pairs.push((key.to_owned(), value));
        }
        Ok(Self(pairs))
    }

    pub fn pairs(&self) -> &[(String, Vec<u8>)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `key` as bytes.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
    }

    /// The value of `key` if it is UTF-8 text (`filename`, `filetype`).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// As stored in the database: a JSON object of keys to their base64 values, as the header carries them,
    /// so any bytes survive.
    pub fn to_json(&self) -> String {
        let object: serde_json::Map<String, serde_json::Value> =
            self.0.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(STANDARD.encode(v)))).collect();
        serde_json::Value::Object(object).to_string()
    }

    /// Back from [`to_json`](Self::to_json).
    pub fn from_json(json: &str) -> Option<Self> {
        let serde_json::Value::Object(object) = serde_json::from_str(json).ok()? else { return None };
        let pairs = object
            .into_iter()
            .map(|(k, v)| Some((k, BASE64_LENIENT.decode(v.as_str()?).ok()?)))
            .collect::<Option<Vec<_>>>()?;
        Self::from_pairs(pairs)
    }
}

impl fmt::Display for Metadata {
    /// The header's value: `key value` with the value in padded base64, just `key` for an empty value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(key)?;
            if !value.is_empty() {
                write!(f, " {}", STANDARD.encode(value))?;
            }
        }
        Ok(())
    }
}

/// A tus metadata key: non-empty printable ASCII without spaces or commas.
fn is_metadata_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

/// A checksum algorithm of the checksum extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Upload-Checksum`: the algorithm and the digest the body must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub digest: Vec<u8>,
}

impl Checksum {
    /// Parses `sha1 <base64 digest>`; an unknown algorithm is [`TusError::UnsupportedChecksum`] (400).
    pub fn parse(value: &[u8]) -> Result<Self, TusError> {
        let invalid =
            |reason: &str| TusError::InvalidHeader { header: header::UPLOAD_CHECKSUM, reason: reason.to_owned() };
        let text = std::str::from_utf8(value).map_err(|_| invalid("it is not ASCII text"))?.trim();
        let (name, encoded) = text.split_once(' ').ok_or_else(|| invalid("write `<algorithm> <base64 digest>`"))?;
        let algorithm = match name.to_ascii_lowercase().as_str() {
            "sha1" => ChecksumAlgorithm::Sha1,
            "sha256" => ChecksumAlgorithm::Sha256,
            _ => return Err(TusError::UnsupportedChecksum(name.chars().take(32).collect())),
        };
        let digest = BASE64_LENIENT.decode(encoded.trim()).map_err(|_| invalid("the digest is not base64"))?;
        if digest.len() != algorithm.digest_len() {
            return Err(invalid("the digest's length is not the algorithm's"));
        }
        Ok(Self { algorithm, digest })
    }

    /// The header's value.
    pub fn header_value(&self) -> String {
        format!("{} {}", self.algorithm, STANDARD.encode(&self.digest))
    }

    /// The checksum of `body`, for clients and tests.
    pub fn of(algorithm: ChecksumAlgorithm, body: &[u8]) -> Self {
        let mut hasher = BodyHasher::new(algorithm);
        hasher.update(body);
        Self { algorithm, digest: hasher.finish() }
    }

    /// Whether the body `hasher` saw has this checksum.
    pub fn verify(&self, hasher: BodyHasher) -> Result<(), TusError> {
        if hasher.finish() == self.digest {
            Ok(())
        } else {
            Err(TusError::ChecksumMismatch { algorithm: self.algorithm })
        }
    }
}

/// A running digest of a body as its chunks arrive.
#[derive(Debug, Clone)]
pub enum BodyHasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl BodyHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(chunk),
            Self::Sha256(h) => h.update(chunk),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// `Upload-Expires`: an RFC 9110 HTTP-date (`Sun, 06 Dec 2026 08:00:00 GMT`) of a time in Unix milliseconds.
pub fn format_expires(unix_ms: i64) -> String {
    let ms = u64::try_from(unix_ms).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// An HTTP-date back to Unix milliseconds (whole seconds), or `None`.
pub fn parse_http_date(value: &[u8]) -> Option<i64> {
    let time = httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()?;
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// What the rules need to know about an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadState {
    pub offset: u64,
    pub length: u64,
    /// Unix milliseconds after which an unfinished upload is gone.
    pub expires_at: i64,
    pub completed: bool,
}

impl UploadState {
    /// Whether the upload is past its expiry (a completed upload never expires).
    pub fn expired(&self, now: i64) -> bool {
        !self.completed && now >= self.expires_at
    }
}

/// A creation request: `length` bytes against the server's `limit`.
pub fn check_creation(length: u64, limit: u64) -> Result<(), TusError> {
    if length > limit {
        return Err(TusError::TooLarge { length, limit });
    }
    Ok(())
}

/// A PATCH of `body_len` bytes (when known up front) at `offset`: expired → 410, another offset → 409, data
/// past the declared length → 413. A body whose length is not known is checked again as it arrives
/// ([`check_data_end`]).
pub fn check_patch(state: &UploadState, offset: u64, body_len: Option<u64>, now: i64) -> Result<(), TusError> {
    if state.expired(now) {
        return Err(TusError::Expired);
    }
    if offset != state.offset {
        return Err(TusError::OffsetMismatch { expected: state.offset, given: offset });
    }
    match body_len {
        Some(len) => check_data_end(state.length, offset, len),
        None => Ok(()),
    }
}

/// That `len` bytes from `offset` stay within an upload of `length` bytes.
pub fn check_data_end(length: u64, offset: u64, len: u64) -> Result<(), TusError> {
    match offset.checked_add(len) {
        Some(end) if end <= length => Ok(()),
        end => Err(TusError::PastLength { length, end: end.unwrap_or(u64::MAX) }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn version_must_be_one_point_oh() {
        assert_eq!(check_resumable(Some(b"1.0.0")), Ok(()));
        assert_eq!(check_resumable(Some(b" 1.0.0 ")), Ok(()));
        for bad in [&b"0.2.2"[..], b"1.0", b"", b"1.0.0,0.2.2"] {
            assert_eq!(check_resumable(Some(bad)), Err(TusError::UnsupportedVersion), "{bad:?}");
        }
        assert_eq!(check_resumable(None), Err(TusError::UnsupportedVersion));
        assert_eq!(TusError::UnsupportedVersion.status(), StatusCode::PRECONDITION_FAILED);
    }

    #[test]
    fn counts_are_plain_digits() {
        assert_eq!(parse_offset(Some(b"0")), Ok(0));
        assert_eq!(parse_length(Some(b"18446744073709551615")), Ok(u64::MAX));
        assert_eq!(parse_offset(None), Err(TusError::MissingHeader { header: "upload-offset" }));
        for bad in [&b"-1"[..], b"+1", b"1.5", b"0x10", b"", b" ", b"1 2", b"18446744073709551616", b"\xff"] {
            assert!(matches!(parse_offset(Some(bad)), Err(TusError::InvalidHeader { .. })), "{bad:?}");
        }
    }

    #[test]
    fn metadata_as_the_spec_writes_it() {
        let metadata = Metadata::parse(Some(b"filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential")).unwrap();
        assert_eq!(metadata.text("filename"), Some("world_domination_plan.pdf"));
        assert_eq!(metadata.get("is_confidential"), Some(&b""[..]));
        assert_eq!(metadata.get("missing"), None);
        assert_eq!(metadata.to_string(), "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential");
        // Unpadded values (some clients) and spaces after commas are accepted.
        let unpadded = Metadata::parse(Some(b"a YQ, b YmI")).unwrap();
        assert_eq!((unpadded.get("a"), unpadded.get("b")), (Some(&b"a"[..]), Some(&b"bb"[..])));
        assert!(Metadata::parse(None).unwrap().is_empty());
        assert!(Metadata::parse(Some(b"")).unwrap().is_empty());
        for bad in [&b"a YQ==,a Yg=="[..], b"a !!!", b",", b"a YQ==,,b", b"k\x01 YQ==", b"\xff"] {
            assert!(matches!(Metadata::parse(Some(bad)), Err(TusError::InvalidHeader { .. })), "{bad:?}");
        }
    }

    #[test]
    fn checksums_name_a_known_algorithm_and_a_digest_of_its_length() {
        let body = b"hello tus";
        let sha1 = Checksum::of(ChecksumAlgorithm::Sha1, body);
        assert_eq!(sha1.digest.len(), 20);
        let parsed = Checksum::parse(sha1.header_value().as_bytes()).unwrap();
        assert_eq!(parsed, sha1);
        let mut hasher = BodyHasher::new(ChecksumAlgorithm::Sha1);
        hasher.update(b"hello ");
        hasher.update(b"tus");
        assert_eq!(parsed.verify(hasher), Ok(()));
        let mut wrong = BodyHasher::new(ChecksumAlgorithm::Sha1);
        wrong.update(b"hello TUS");
        let mismatch = parsed.verify(wrong).unwrap_err();
        assert_eq!(mismatch.status().as_u16(), 460);
        // The well-known sha256 of no bytes at all.
        let empty = Checksum::parse(b"sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").unwrap();
        assert_eq!(empty.verify(BodyHasher::new(ChecksumAlgorithm::Sha256)), Ok(()));
        assert_eq!(Checksum::parse(b"md5 1B2M2Y8AsgTpgAmY7PhCfg=="), Err(TusError::UnsupportedChecksum("md5".into())));
        assert_eq!(TusError::UnsupportedChecksum("md5".into()).status(), StatusCode::BAD_REQUEST);
        for bad in [&b"sha1"[..], b"sha1 !!", b"sha1 YQ==", b"", b"\xff\xfe"] {
            assert!(matches!(Checksum::parse(bad), Err(TusError::InvalidHeader { .. })), "{bad:?}");
        }
    }

    #[test]
    fn expiry_dates_are_http_dates() {
        assert_eq!(format_expires(1_796_544_000_000), "Sun, 06 Dec 2026 08:00:00 GMT");
        assert_eq!(parse_http_date(b"Sun, 06 Dec 2026 08:00:00 GMT"), Some(1_796_544_000_000));
        assert_eq!(parse_http_date(b"yesterday"), None);
    }

    #[test]
    fn each_rule_has_its_status() {
        let state = UploadState { offset: 100, length: 1000, expires_at: 5_000, completed: false };
        assert_eq!(check_patch(&state, 100, Some(900), 4_999), Ok(()));
        assert_eq!(check_patch(&state, 100, None, 4_999), Ok(()));
        let conflict = check_patch(&state, 50, Some(10), 0).unwrap_err();
        assert_eq!((conflict.status(), conflict.code()), (StatusCode::CONFLICT, "upload_offset_mismatch"));
        assert_eq!(check_patch(&state, 100, Some(901), 0).unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(check_patch(&state, 100, Some(1), 5_000).unwrap_err().status(), StatusCode::GONE);
        let done = UploadState { offset: 1000, completed: true, ..state };
        assert_eq!(check_patch(&done, 1000, Some(0), 1 << 40), Ok(()), "a completed upload does not expire");
        assert_eq!(check_creation(10, 10), Ok(()));
        assert_eq!(check_creation(11, 10).unwrap_err().status(), StatusCode::PAYLOAD_TOO_LARGE);
        let api: ApiError = TusError::Locked.into();
        assert_eq!((api.status, api.code), (StatusCode::LOCKED, "upload_locked"));
    }

    fn metadata_strategy() -> impl Strategy<Value = Metadata> {
        prop::collection::btree_map("[!-+\\--~]{1,12}", prop::collection::vec(any::<u8>(), 0..40), 0..6)
            .prop_map(|map| Metadata::from_pairs(map.into_iter().collect()).unwrap())
    }

    proptest! {
        #[test]
        fn metadata_round_trips_through_the_header_and_json(metadata in metadata_strategy()) {
            let header = metadata.to_string();
            prop_assert_eq!(Metadata::parse(Some(header.as_bytes())).unwrap(), metadata.clone());
            prop_assert_eq!(Metadata::from_json(&metadata.to_json()).unwrap(), metadata);
        }

        #[test]
        fn no_header_bytes_make_a_parser_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = check_resumable(Some(&bytes));
            let _ = parse_offset(Some(&bytes));
            let _ = parse_length(Some(&bytes));
            let _ = Metadata::parse(Some(&bytes));
            let _ = Checksum::parse(&bytes);
            let _ = parse_http_date(&bytes);
        }

        #[test]
        fn headerish_text_makes_no_parser_panic(text in "[a-z0-9 ,=+/\\-]{0,80}") {
            let _ = Metadata::parse(Some(text.as_bytes()));
            let _ = Checksum::parse(text.as_bytes());
            let _ = parse_offset(Some(text.as_bytes()));
        }

        #[test]
        fn counts_round_trip(n in any::<u64>()) {
            prop_assert_eq!(parse_offset(Some(n.to_string().as_bytes())), Ok(n));
        }

        #[test]
        fn expiry_round_trips_to_the_second(secs in 0i64..253_402_300_799) {
            prop_assert_eq!(parse_http_date(format_expires(secs * 1000 + 999).as_bytes()), Some(secs * 1000));
        }

        #[test]
        fn a_patch_is_accepted_exactly_when_every_rule_holds(
            offset in 0u64..2000, given in 0u64..2000, length in 0u64..2000, len in 0u64..2000,
            expires_at in 0i64..100, now in 0i64..100, completed in any::<bool>(),
        ) {
            let state = UploadState { offset, length, expires_at, completed };
            let accepted = check_patch(&state, given, Some(len), now).is_ok();
            let model = (completed || now < expires_at) && given == offset && given + len <= length;
            prop_assert_eq!(accepted, model);
        }
    }
}
