//! Properties of this crate's parsers of untrusted request input, shared by the cargo-fuzz targets (`fuzz/`),
//! the bounded proptests and the replay of committed crash inputs (`fuzz/regressions/<target>/`). Each takes
//! raw bytes and panics when a property fails. Not part of the API.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::conditional::{self, Outcome, Preconditions, Validators};
use crate::path::decode_request_path;
use crate::range::{self, RangeDecision};
use crate::selection::{self, Selection};

/// `decode_request_path`: never panics; an accepted path is absolute, has no empty, `.` or `..` segment (so no
/// `//` and no way up), no backslash and no control character, is no longer than its raw form, and is what
/// decoding it again with every byte of its segments percent-encoded gives back.
pub fn request_path(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(path) = decode_request_path(raw) else { return };
    assert!(path.starts_with('/'), "{raw:?} -> {path:?}");
    assert!(!path.contains("//"), "{raw:?} -> {path:?}");
    assert!(!path.contains('\\'), "{raw:?} -> {path:?}");
    assert!(!path.chars().any(char::is_control), "{raw:?} -> {path:?}");
    assert!(path[1..].split('/').all(|segment| !matches!(segment, "" | "." | "..")), "{raw:?} -> {path:?}");
    assert!(path.len() <= raw.len(), "{raw:?} -> {path:?}");
    let mut encoded = String::with_capacity(path.len() * 3);
    for segment in path[1..].split('/') {
        encoded.push('/');
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() {
                encoded.push(char::from(byte));
            } else {
                let _ = write!(encoded, "%{byte:02X}");
            }
        }
    }
    if encoded.len() <= crate::path::MAX_RAW_PATH_LEN {
        assert_eq!(decode_request_path(&encoded).as_ref(), Ok(&path), "{raw:?} re-encoded as {encoded:?}");
    }
}

/// `Range`: `decide` and `storage_range` never panic, a partial range lies inside the object, and the two
/// agree: what storage is asked for is what is then sent.
///
/// Input: eight bytes of object length (little-endian; the top bits are dropped half the time so that small
/// lengths come up), then the header value.
pub fn range(data: &[u8]) {
    let Some((len, header)) = data.split_first_chunk::<8>() else { return };
    let mut len = u64::from_le_bytes(*len);
    if len & 1 == 0 {
        len >>= 40;
    }
    let Ok(header) = std::str::from_utf8(header) else { return };
    let decision = range::decide(Some(header), len);
    if let RangeDecision::Partial(range) = decision {
        assert!(range.first <= range.last && range.last < len, "{header:?} {len} {range:?}");
        assert!(!range.is_empty() && range.len() <= len);
    }
    match range::storage_range(Some(header)) {
        Some(None) => assert_eq!(decision, RangeDecision::Full, "{header:?} {len}"),
        Some(Some(asked)) => match decision {
            RangeDecision::Partial(range) => {
                assert_eq!(range.first, asked.start, "{header:?} {len}");
                assert_eq!(range.last + 1, asked.end.min(len), "{header:?} {len}");
            }
            RangeDecision::Unsatisfiable => assert!(asked.start >= len, "{header:?} {len}"),
            RangeDecision::Full => panic!("{header:?} {len}: storage asked for {asked:?}, a whole object sent"),
        },
        None => assert_ne!(decision, RangeDecision::Full, "{header:?} {len}: a suffix range answered whole"),
    }
    assert_eq!(range::decide(None, len), RangeDecision::Full);
}

/// Header names a `conditional` fuzz input's lines can pick (by their first byte).
const CONDITIONAL_HEADERS: [HeaderName; 6] = [
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    header::RANGE,
];

/// Conditional requests: `selection::select` (and through it `conditional::evaluate`, `range_allowed` and
/// `range::decide`) never panics over any header values; its answer agrees with `evaluate` on 304 and 412, a
/// HEAD never gets a range, a body lies inside the object, and a request without preconditions is never
/// answered 304 or 412.
///
/// Input: a flags byte (bit 0: GET, else HEAD; bit 1: the ETag or date of the object is appended to the first
/// header line, so matches come up), four bytes of object size, four of modification time (seconds), then
/// lines (`\n`): a byte choosing the header name, then the value.
pub fn conditional(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((size, rest)) = rest.split_first_chunk::<4>() else { return };
    let Some((mtime, rest)) = rest.split_first_chunk::<4>() else { return };
    let size = u64::from(u32::from_le_bytes(*size));
    let modified = UNIX_EPOCH + Duration::new(u64::from(u32::from_le_bytes(*mtime)), 123_456_789);
    let validators = Validators::new(size, modified);
    let is_get = flags & 1 == 1;

    let mut headers = HeaderMap::new();
    for (n, line) in rest.split(|&b| b == b'\n').enumerate() {
        let Some((&which, value)) = line.split_first() else { continue };
        let name = &CONDITIONAL_HEADERS[usize::from(which) % CONDITIONAL_HEADERS.len()];
        let mut value = value.to_vec();
        if n == 0 && flags & 2 == 2 {
            let known = if which & 0x80 == 0 { validators.etag.clone() } else { validators.last_modified_header() };
            value.extend_from_slice(known.as_bytes());
        }
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.append(name, value);
        }
    }

    let selected = selection::select(&headers, is_get, &validators, size);
    let (if_match, if_none_match) =
        (selection::header_list(&headers, &header::IF_MATCH), selection::header_list(&headers, &header::IF_NONE_MATCH));
    let preconditions = Preconditions {
        if_match: if_match.as_deref(),
        if_none_match: if_none_match.as_deref(),
        if_modified_since: selection::header_str(&headers, &header::IF_MODIFIED_SINCE),
        if_unmodified_since: selection::header_str(&headers, &header::IF_UNMODIFIED_SINCE),
    };
    match conditional::evaluate(&preconditions, &validators) {
        Outcome::NotModified => assert_eq!(selected, Selection::NotModified),
        Outcome::PreconditionFailed => assert_eq!(selected, Selection::PreconditionFailed),
        Outcome::Serve => {
            assert!(!matches!(selected, Selection::NotModified | Selection::PreconditionFailed));
        }
    }
    if !selection::has_preconditions(&headers) {
        assert!(!matches!(selected, Selection::NotModified | Selection::PreconditionFailed), "{selected:?}");
    }
    if !is_get {
        assert!(!matches!(selected, Selection::Partial { .. } | Selection::Unsatisfiable { .. }), "{selected:?}");
    }
    if let Some(body) = selected.body_range() {
        assert!(body.start <= body.end && body.end <= size, "{selected:?}");
    }
    let _ = (selected.status(), selected.content_range());
    let _ = conditional::range_allowed(selection::header_str(&headers, &header::IF_RANGE), &validators);
}
