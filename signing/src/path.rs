//! Plain-path checks, whole-segment prefix matching, and where a token sits in a URL.
//!
//! A request path is only ever compared as it arrived (raw, not percent-decoded). Anything that a later
//! layer (a decoder, a filesystem, an object store, a proxy) could read as a different path is rejected
//! instead of normalised: a path that is not plainly inside a prefix is never "normalised into" it.

/// The path segment that introduces a token: `/t/{token}/{asset}/…`.
pub const TOKEN_PATH_MARKER: &str = "/t/";
/// The query parameter that carries a token when it cannot sit in the path.
pub const TOKEN_QUERY_PARAM: &str = "token";
/// Longest request path (bytes) this crate looks at; longer ones are refused.
pub const MAX_PATH_LEN: usize = 2048;

/// Why a path is not plain. `as_str()` gives a stable label for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Empty or does not start with `/`.
    NotAbsolute,
    /// Longer than [`MAX_PATH_LEN`].
    TooLong,
    /// `//` somewhere (an empty segment).
    EmptySegment,
    /// A segment made only of dots (`.`, `..`, `...`).
    DotSegment,
    /// A backslash, which some servers and filesystems read as a separator.
    Backslash,
    /// A control character, space, DEL or any non-ASCII byte.
    ControlOrNonAscii,
    /// `;` (path parameters: `..;/` tricks), `?` or `#` (query or fragment left in the path).
    Delimiter,
    /// `%` not followed by two uppercase hex digits.
    BadPercent,
    /// A percent-encoded dot, separator, percent, control character or other unreserved character: a
    /// decoding layer would see a different path than the one checked.
    EncodedSpecial,
}

impl PathProblem {
    /// Short, stable snake_case label.
    pub fn as_str(&self) -> &'static str {
        match self {
            PathProblem::NotAbsolute => "not_absolute",
            PathProblem::TooLong => "too_long",
            PathProblem::EmptySegment => "empty_segment",
            PathProblem::DotSegment => "dot_segment",
            PathProblem::Backslash => "backslash",
            PathProblem::ControlOrNonAscii => "control_or_non_ascii",
            PathProblem::Delimiter => "delimiter",
            PathProblem::BadPercent => "bad_percent",
            PathProblem::EncodedSpecial => "encoded_special",
        }
    }
}

/// Checks that `path` is a plain absolute path: `/`-separated non-empty segments of visible ASCII, no dot
/// segments, no backslash, no `;?#`, and percent-escapes only for characters that cannot change how the
/// path splits or resolves (uppercase hex, and never for unreserved characters, `/`, `\`, `%` or controls).
///
/// A trailing `/` is allowed (a directory). This does not decode anything.
pub fn check_plain_path(path: &str) -> Result<(), PathProblem> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathProblem::NotAbsolute);
    }
    if bytes.len() > MAX_PATH_LEN {
        return Err(PathProblem::TooLong);
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => return Err(PathProblem::Backslash),
            b';' | b'?' | b'#' => return Err(PathProblem::Delimiter),
            b'%' => {
                let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                    return Err(PathProblem::BadPercent);
                };
                let (Some(h), Some(l)) = (upper_hex_value(h), upper_hex_value(l)) else {
                    return Err(PathProblem::BadPercent);
                };
                if !may_be_percent_encoded(h << 4 | l) {
                    return Err(PathProblem::EncodedSpecial);
                }
                i += 3;
                continue;
            }
            b if !b.is_ascii_graphic() => return Err(PathProblem::ControlOrNonAscii),
            _ => {}
        }
        i += 1;
    }
    // Every segment between slashes; the one after a trailing slash is the only empty one allowed.
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    for (n, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            if n == last {
                continue;
            }
            return Err(PathProblem::EmptySegment);
        }
        if segment.bytes().all(|b| b == b'.') {
            return Err(PathProblem::DotSegment);
        }
    }
    Ok(())
}

fn upper_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether a byte may appear percent-encoded in a plain path. Unreserved characters must appear as
/// themselves (RFC 3986 §6.2.2.2), so `%2E` is never a disguised dot; separators, `%` (double encoding),
/// and controls may not appear at all.
fn may_be_percent_encoded(byte: u8) -> bool {
    !(byte.is_ascii_alphanumeric()
        || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/' | b'\\' | b'%' | b';' | b'?' | b'#')
        || byte < 0x20
        || byte == 0x7f)
}

/// Whether `prefix` is usable as an authorised prefix: a plain path with at least one segment, ending in
/// `/`. Returns what is wrong otherwise.
pub fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    check_plain_path(prefix).map_err(|p| p.as_str())?;
    if !prefix.ends_with('/') {
        return Err("must end with /");
    }
    if prefix == "/" {
        return Err("must name at least one directory; / would authorise everything");
    }
    Ok(())
}

/// Whether the plain `path` lies inside the plain directory `prefix` (which ends with `/`), by whole
/// segments: `/film4/` does not cover `/film42/x`. The prefix itself (`/film42/`) is covered.
///
/// Both must already have passed [`check_plain_path`]; this only compares.
pub fn prefix_covers(prefix: &str, path: &str) -> bool {
    prefix.ends_with('/') && path.starts_with(prefix)
}

/// Splits `/t/{token}/{rest}` into the token and the request path `/{rest}` (with its leading slash, ready
/// for [`crate::Verifier::verify`]). `None` when the path does not start with [`TOKEN_PATH_MARKER`], the
/// token is empty, or nothing follows it.
///
/// ```
/// assert_eq!(
///     marquee_signing::split_token_path("/t/TOKEN/film42/master.m3u8"),
///     Some(("TOKEN", "/film42/master.m3u8"))
/// );
/// ```
pub fn split_token_path(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix(TOKEN_PATH_MARKER)?;
    let slash = after.find('/')?;
    let (token, rest) = after.split_at(slash);
    if token.is_empty() || rest.len() < 2 {
        return None;
    }
    Some((token, rest))
}

/// Finds the `token` parameter in a raw query string (without the `?`). `None` when it is missing, empty,
/// or present more than once (two layers could pick different ones, so neither is trusted). The value is
/// returned raw; tokens never need percent-encoding, so an encoded one simply fails verification.
///
/// ```
/// assert_eq!(marquee_signing::query_token("a=1&token=T0K"), Some("T0K"));
/// assert_eq!(marquee_signing::query_token("token=A&token=B"), None);
/// ```
pub fn query_token(query: &str) -> Option<&str> {
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == TOKEN_QUERY_PARAM {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    found.filter(|v| !v.is_empty())
}

/// Builds the path a player fetches: `/t/{token}{rest}`, where `rest` is an absolute path such as
/// `/film42/master.m3u8`.
pub fn token_path(token: &str, rest: &str) -> String {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    format!("{TOKEN_PATH_MARKER}{token}/{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass() {
        for p in ["/film42/master.m3u8", "/film42/", "/a/b_c-d~e.f/seg_00001.m4s", "/caf%C3%A9/x", "/a%20b/", "/a:b@c/"]
        {
            assert_eq!(check_plain_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn tricks_are_refused() {
        let cases = [
            ("", PathProblem::NotAbsolute),
            ("film42/x", PathProblem::NotAbsolute),
            ("//film42/x", PathProblem::EmptySegment),
            ("/film42//x", PathProblem::EmptySegment),
            ("/film42/../x", PathProblem::DotSegment),
            ("/film42/./x", PathProblem::DotSegment),
            ("/film42/..", PathProblem::DotSegment),
            ("/film42/...", PathProblem::DotSegment),
            ("/film42/..\\x", PathProblem::Backslash),
            ("/film42/..;/x", PathProblem::Delimiter),
            ("/film42/x?y", PathProblem::Delimiter),
            ("/film42/x#y", PathProblem::Delimiter),
            ("/film42/%2e%2e/x", PathProblem::BadPercent),
            ("/film42/%2E%2E/x", PathProblem::EncodedSpecial),
            ("/film42%2Fx", PathProblem::EncodedSpecial),
            ("/film42%2fx", PathProblem::BadPercent),
            ("/film42/%5C", PathProblem::EncodedSpecial),
            ("/film42/%5c", PathProblem::BadPercent),
            ("/film42/%252E%252E/", PathProblem::EncodedSpecial),
            ("/film42/%00", PathProblem::EncodedSpecial),
            ("/film42/%41", PathProblem::EncodedSpecial),
            ("/film42/%4", PathProblem::BadPercent),
            ("/film42/%", PathProblem::BadPercent),
            ("/film42/x\0", PathProblem::ControlOrNonAscii),
            ("/film42/a b", PathProblem::ControlOrNonAscii),
            ("/film42/\n", PathProblem::ControlOrNonAscii),
            ("/film42/\u{ff0e}\u{ff0e}/", PathProblem::ControlOrNonAscii),
        ];
        for (p, want) in cases {
            assert_eq!(check_plain_path(p), Err(want), "{p:?}");
        }
        assert_eq!(check_plain_path(&format!("/{}", "a".repeat(MAX_PATH_LEN))), Err(PathProblem::TooLong));
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(prefix_covers("/film42/", "/film42/master.m3u8"));
        assert!(prefix_covers("/film42/", "/film42/"));
        assert!(prefix_covers("/a/b/", "/a/b/c/d.m4s"));
        assert!(!prefix_covers("/film4/", "/film42/master.m3u8"));
        assert!(!prefix_covers("/film42/", "/film42"));
        assert!(!prefix_covers("/film42/", "/film421/x"));
        assert!(!prefix_covers("/a/b/", "/a/x"));
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(check_prefix("/film42/"), Ok(()));
        assert!(check_prefix("/").is_err());
        assert!(check_prefix("/film42").is_err());
        assert!(check_prefix("film42/").is_err());
        assert!(check_prefix("/film42/../").is_err());
    }

    #[test]
    fn token_path_splits() {
        assert_eq!(split_token_path("/t/ABC/film42/master.m3u8"), Some(("ABC", "/film42/master.m3u8")));
        assert_eq!(split_token_path("/t/ABC/x"), Some(("ABC", "/x")));
        assert_eq!(split_token_path("/t/ABC/"), None);
        assert_eq!(split_token_path("/t/ABC"), None);
        assert_eq!(split_token_path("/t//film42/x"), None);
        assert_eq!(split_token_path("/x/ABC/film42/x"), None);
        assert_eq!(split_token_path("t/ABC/film42/x"), None);
        assert_eq!(token_path("ABC", "/film42/master.m3u8"), "/t/ABC/film42/master.m3u8");
        let built = token_path("ABC", "/film42/x");
        assert_eq!(split_token_path(&built), Some(("ABC", "/film42/x")));
    }

    #[test]
    fn query_tokens() {
        assert_eq!(query_token("token=ABC"), Some("ABC"));
        assert_eq!(query_token("x=1&token=ABC&y"), Some("ABC"));
        assert_eq!(query_token("tokens=ABC"), None);
        assert_eq!(query_token("token="), None);
        assert_eq!(query_token("token"), None);
        assert_eq!(query_token("token=A&token=B"), None);
        assert_eq!(query_token(""), None);
    }
}
