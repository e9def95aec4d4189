//! Decoding a request path into a canonical, `/`-separated path that cannot leave the asset namespace.

/// The longest object path the servers look up: storage keys are at most this long
/// (`marquee_storage::MAX_KEY_LEN`; the origin's tests check that the two agree).
pub const MAX_OBJECT_PATH_LEN: usize = 1024;

/// The longest raw request path considered: a maximal object path fully percent-encoded, plus a token part.
pub const MAX_RAW_PATH_LEN: usize = MAX_OBJECT_PATH_LEN * 3 + 1024;

/// Why a request path was refused (always a 400, with no object read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRejection {
    NotAbsolute,
    TooLong,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// `%2f` or `%5c`: a separator smuggled inside a segment.
    EncodedSeparator,
    Backslash,
    ControlCharacter,
    /// An empty, `.` or `..` segment, raw or encoded (`%2e%2e`).
    DotOrEmptySegment,
    NotUtf8,
}

impl PathRejection {
    pub fn as_str(self) -> &'static str {
        match self {
            PathRejection::NotAbsolute => "not_absolute",
            PathRejection::TooLong => "too_long",
            PathRejection::BadEscape => "bad_escape",
            PathRejection::EncodedSeparator => "encoded_separator",
            PathRejection::Backslash => "backslash",
            PathRejection::ControlCharacter => "control_character",
            PathRejection::DotOrEmptySegment => "dot_or_empty_segment",
            PathRejection::NotUtf8 => "not_utf8",
        }
    }
}

/// Percent-decodes `raw` (a URI path, without the query) segment by segment and returns it as `/a/b/c`.
///
/// Nothing is normalised away: a path with an empty, `.` or `..` segment (before or after decoding), an encoded
/// `/` or `\`, any backslash, a control character (NUL included) or invalid UTF-8 is rejected, so every accepted
/// path names exactly one storage key and none outside the namespace.
pub fn decode_request_path(raw: &str) -> Result<String, PathRejection> {
    if raw.len() > MAX_RAW_PATH_LEN {
        return Err(PathRejection::TooLong);
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(PathRejection::NotAbsolute);
    };
    let mut decoded = String::with_capacity(raw.len());
    for segment in rest.split('/') {
        let bytes = decode_segment(segment)?;
        let text = String::from_utf8(bytes).map_err(|_| PathRejection::NotUtf8)?;
        if text.chars().any(char::is_control) {
            return Err(PathRejection::ControlCharacter);
        }
        if matches!(text.as_str(), "" | "." | "..") {
            return Err(PathRejection::DotOrEmptySegment);
        }
        decoded.push('/');
        decoded.push_str(&text);
    }
    Ok(decoded)
}

fn decode_segment(segment: &str) -> Result<Vec<u8>, PathRejection> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(PathRejection::BadEscape)?;
                let value = (hex_value(hex[0]).ok_or(PathRejection::BadEscape)? << 4)
                    | hex_value(hex[1]).ok_or(PathRejection::BadEscape)?;
                if value == b'/' || value == b'\\' {
                    return Err(PathRejection::EncodedSeparator);
                }
                i += 3;
                value
            }
            b'\\' => return Err(PathRejection::Backslash),
            other => {
                i += 1;
                other
            }
        };
        out.push(byte);
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|v| u8::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ordinary_paths_decode() {
        assert_eq!(decode_request_path("/film/video_720p/seg_00001.m4s").unwrap(), "/film/video_720p/seg_00001.m4s");
        assert_eq!(decode_request_path("/my%20film/m%C3%BCnchen.m3u8").unwrap(), "/my film/münchen.m3u8");
        assert_eq!(decode_request_path("/a/..b/c..").unwrap(), "/a/..b/c..");
    }

    #[test]
    fn traversal_in_every_spelling_is_rejected() {
        use PathRejection::*;
        let cases = [
            ("/../etc/passwd", DotOrEmptySegment),
            ("/film/../../etc/passwd", DotOrEmptySegment),
            ("/%2e%2e/etc/passwd", DotOrEmptySegment),
            ("/%2E%2E/etc/passwd", DotOrEmptySegment),
            ("/.%2e/x", DotOrEmptySegment),
            ("/film/./x", DotOrEmptySegment),
            ("/film//x", DotOrEmptySegment),
            ("/film/", DotOrEmptySegment),
            ("/", DotOrEmptySegment),
            ("/..%2fetc%2fpasswd", EncodedSeparator),
            ("/%2e%2e%2Fetc", EncodedSeparator),
            ("/..%5c..%5cwindows", EncodedSeparator),
            ("/..\\..\\windows", Backslash),
            ("/film/a%00.m4s", ControlCharacter),
            ("/film/a%0a.m4s", ControlCharacter),
            ("/film/%zz", BadEscape),
            ("/film/%2", BadEscape),
            ("/film/%ff", NotUtf8),
            ("etc/passwd", NotAbsolute),
            ("*", NotAbsolute),
        ];
        for (raw, expected) in cases {
            assert_eq!(decode_request_path(raw), Err(expected), "{raw}");
        }
        assert_eq!(decode_request_path(&format!("/{}", "a".repeat(MAX_RAW_PATH_LEN))), Err(TooLong));
    }

    proptest! {
        #[test]
        fn accepted_paths_are_valid_object_keys(raw in "(/([a-z.]{0,3}|%2[eEfF]|%5[cC]|%00|\\\\|%[0-9a-fA-F]{2}|[^/]{0,4})){1,6}") {
            if let Ok(path) = decode_request_path(&raw) {
                let key = marquee_storage::ObjectKey::parse(&path[1..]);
                prop_assert!(key.is_ok(), "{raw:?} -> {path:?}: {key:?}");
            }
        }

        #[test]
        fn never_panics(raw in any::<String>()) {
            let _ = decode_request_path(&raw);
        }
    }
}
