//! Cache keys: which stored copy a request maps to, with the token removed so every viewer shares one copy.
//!
//! A player asks for `/t/{token}/film/video_720p/seg_00003.m4s`; the edge stores and looks up
//! `film/video_720p/seg_00003.m4s`. The token only says who may read the object, never what the object is,
//! so it is never part of a key (neither the `/t/{token}/` path part nor a `?token=` parameter). Other query
//! parameters are dropped unless an operator lists them in a [`QueryAllowList`]; kept ones are sorted by name,
//! so `?b=1&a=2` and `?a=2&b=1` share a key.
//!
//! The key text is `path` or `path?query`. A decoded path containing `?` (a request for `a%3Fb`) is refused
//! rather than stored, so no key text can be read two ways.
//!
//! Also here: [`PurgeTarget`] (what the purge API may name) and [`CacheKey::next_segments`] (what to prefetch
//! after a media segment).

use std::fmt;

use marquee_signing::path::TOKEN_QUERY_PARAM;

/// Longest object path (bytes of UTF-8) a key may hold: storage's key limit, so the origin could serve it.
pub const MAX_PATH_LEN: usize = 1024;
/// Longest canonical query (the kept parameters, joined) a key may hold.
pub const MAX_QUERY_LEN: usize = 1024;
/// Most keys [`CacheKey::next_segments`] returns, whatever it is asked for.
pub const MAX_NEXT_SEGMENTS: usize = 32;
/// File extensions (lowercase) of media segments that [`CacheKey::next_segments`] numbers forward: CMAF
/// fragments, MPEG-TS, fragmented MP4 and WebVTT segments. Manifests (`.m3u8`, `.mpd`) are not among them.
pub const SEGMENT_EXTENSIONS: &[&str] = &["m4s", "cmfv", "cmfa", "cmft", "m4v", "m4a", "mp4", "ts", "aac", "vtt"];
/// File stems starting with this (any case) are initialisation segments (`init.mp4`, `init_1.mp4`), never
/// numbered media: [`CacheKey::next_segments`] returns nothing for them.
pub const INIT_SEGMENT_STEM: &str = "init";

/// Why a path, query, allow-list entry or purge target was refused. `as_str()` gives a stable label for
/// logs and metrics; variants that come from requests never repeat the request's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The path is empty (or is only `/`, or only a token part).
    #[error("object path is empty")]
    Empty,
    /// A request path that does not start with `/`.
    #[error("request path does not start with /")]
    NotAbsolute,
    /// The path is longer than [`MAX_PATH_LEN`] or the kept query longer than [`MAX_QUERY_LEN`].
    #[error("object path or query is too long")]
    TooLong,
    /// An empty, `.` or `..` segment (a trailing `/` included).
    #[error("object path has an empty, . or .. segment")]
    DotOrEmptySegment,
    /// A control character, a backslash or a `?` in the decoded path.
    #[error("object path has a control character, backslash or ?")]
    ForbiddenCharacter,
    /// A kept query parameter holds something other than visible ASCII.
    #[error("a kept query parameter is not visible ASCII")]
    BadQuery,
    /// A query allow-list entry is unusable (an operator's configuration mistake).
    #[error("query allow-list entry {name:?} is unusable: {reason}")]
    BadAllowListEntry {
        /// The entry as configured.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A purge target that names nothing purgeable, or uses `*` anywhere but as a trailing `/*`.
    #[error("purge target is not an object path or a directory prefix: {reason}")]
    BadPurgeTarget {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl KeyError {
    /// Every variant's label, in declaration order (for pre-registering metric series).
    pub const LABELS: [&'static str; 8] = [
        "empty",
        "not_absolute",
        "too_long",
        "dot_or_empty_segment",
        "forbidden_character",
        "bad_query",
        "bad_allow_list_entry",
        "bad_purge_target",
    ];

    /// Short, stable snake_case label for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyError::Empty => "empty",
            KeyError::NotAbsolute => "not_absolute",
            KeyError::TooLong => "too_long",
            KeyError::DotOrEmptySegment => "dot_or_empty_segment",
            KeyError::ForbiddenCharacter => "forbidden_character",
            KeyError::BadQuery => "bad_query",
            KeyError::BadAllowListEntry { .. } => "bad_allow_list_entry",
            KeyError::BadPurgeTarget { .. } => "bad_purge_target",
        }
    }
}

/// The query parameters that take part in cache keys; every other parameter is dropped from the key (and
/// so from the upstream request, which should be built from the key). Empty by default: the packager's
/// objects never depend on a query.
///
/// Names are compared exactly as they appear in the raw query (case-sensitive, not decoded).
/// [`TOKEN_QUERY_PARAM`] can never be listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryAllowList {
    names: Vec<String>,
}

impl QueryAllowList {
    /// The empty list: no query parameter is kept.
    pub fn none() -> Self {
        Self::default()
    }

    /// A list of parameter names. Every entry must be non-empty visible ASCII without `=`, `&` or `#`, and
    /// none may be `token`; the first bad entry is returned. Duplicates are merged.
    pub fn new<I, S>(names: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut list = Vec::new();
        for name in names {
            let name = name.into();
            let reason = if name.is_empty() {
                Some("is empty")
            } else if name == TOKEN_QUERY_PARAM {
                Some("the token is never part of a cache key")
            } else if !name.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b'&' | b'#')) {
                Some("must be visible ASCII without = & #")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(KeyError::BadAllowListEntry { name, reason });
            }
            list.push(name);
        }
        list.sort();
        list.dedup();
        Ok(Self { names: list })
    }

    /// Whether parameter `name` is kept.
    pub fn contains(&self, name: &str) -> bool {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).is_ok()
    }

    /// Whether no parameter is kept.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The kept names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.names.iter().map(String::as_str)
    }
}

/// A normalised cache key: the object path without any token part and without a leading `/`
/// (`film/video_720p/seg_00003.m4s`), then `?` and the kept query parameters when there are any.
///
/// The path is the decoded one (a request for `/my%20film/x` has the key `my film/x`); use
/// [`CacheKey::upstream_path`] to put it back on the wire.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key for a decoded, traversal-checked request path (the output of the origin's
    /// `decode_request_path`: starts with `/`, may start with `/t/{token}/`) and its raw query string
    /// (without `?`).
    ///
    /// ```
    /// use marquee_edge_cache::key::{CacheKey, QueryAllowList};
    ///
    /// let key = CacheKey::from_request_path("/t/v1.k1.abc/film/seg_00003.m4s", Some("token=x&utm=1"), &QueryAllowList::none())?;
    /// assert_eq!(key.as_str(), "film/seg_00003.m4s");
    /// # Ok::<(), marquee_edge_cache::key::KeyError>(())
    /// ```
    pub fn from_request_path(path: &str, query: Option<&str>, allow: &QueryAllowList) -> Result<Self, KeyError> {
        if !path.starts_with('/') {
            return Err(KeyError::NotAbsolute);
        }
        let object_path = match marquee_signing::split_token_path(path) {
            Some((_token, rest)) => rest,
            None => path,
        };
        Self::from_object_path(object_path, query, allow)
    }

    /// The key for an object path that has no token part any more (an origin `AuthorizedPath`, with or
    /// without its leading `/`) and a raw query string (without `?`).
    pub fn from_object_path(object_path: &str, query: Option<&str>, allow: &QueryAllowList) -> Result<Self, KeyError> {
        let path = object_path.strip_prefix('/').unwrap_or(object_path);
        check_object_path(path)?;
        let query = canonical_query(query.unwrap_or(""), allow)?;
        let mut key = String::with_capacity(path.len() + query.len() + 1);
        key.push_str(path);
        if !query.is_empty() {
            key.push('?');
            key.push_str(&query);
        }
        Ok(Self(key))
    }

    /// The whole key text: `path` or `path?query`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object path, without a leading `/` and without the query.
    pub fn path(&self) -> &str {
        self.0.split_once('?').map_or(self.0.as_str(), |(path, _)| path)
    }

    /// The canonical kept query (sorted by name), if any parameter was kept.
    pub fn query(&self) -> Option<&str> {
        self.0.split_once('?').map(|(_, query)| query)
    }

    /// The asset: the first path segment (`film` for `film/video_720p/seg_00003.m4s`), which purges by prefix
    /// and upstream re-signing (`Grant::new("/film/", …)`) work on. `None` for a top-level object such as
    /// `favicon.ico`, which belongs to no asset directory.
    pub fn asset(&self) -> Option<&str> {
        self.path().split_once('/').map(|(asset, _)| asset)
    }

    /// The path as it goes on the wire upstream: `/` plus the path with every byte other than unreserved
    /// characters (RFC 3986 §2.3) and `/` percent-encoded in uppercase hex. Decoding it gives back exactly
    /// `/` + [`CacheKey::path`]. Prefix it with `marquee_signing::token_path` when the upstream wants a token.
    pub fn upstream_path(&self) -> String {
        let path = self.path();
        let mut out = String::with_capacity(path.len() + 1);
        out.push('/');
        for &b in path.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
                out.push(char::from(b));
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
        out
    }

    /// The keys of the next `n` media segments after this one, for prefetching (at most
    /// [`MAX_NEXT_SEGMENTS`]): `video_720p/seg_00003.m4s` gives `video_720p/seg_00004.m4s`,
    /// `video_720p/seg_00005.m4s`, ….
    ///
    /// The number is the run of digits that ends the file stem; it keeps its width (`00009` → `00010`) and
    /// grows by a digit when it has to (`99` → `100`, as a `%02d` counter would). The query is kept. Empty
    /// for anything that is not a numbered media segment: init segments, manifests, names without a number,
    /// and extensions outside [`SEGMENT_EXTENSIONS`].
    pub fn next_segments(&self, n: usize) -> Vec<CacheKey> {
        let path = self.path();
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (Some(dir), name),
            None => (None, path),
        };
        let Some((stem, extension)) = name.rsplit_once('.') else {
            return Vec::new();
        };
        let is_segment = SEGMENT_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(extension));
        let is_init = stem.get(..INIT_SEGMENT_STEM.len()).is_some_and(|s| s.eq_ignore_ascii_case(INIT_SEGMENT_STEM));
        let digits = stem.bytes().rev().take_while(u8::is_ascii_digit).count();
        if !is_segment || is_init || digits == 0 {
            return Vec::new();
        }
        let (prefix, number) = stem.split_at(stem.len() - digits);
        let mut number = number.as_bytes().to_vec();
        let mut keys = Vec::new();
        for _ in 0..n.min(MAX_NEXT_SEGMENTS) {
            increment_decimal(&mut number);
            let mut key = String::with_capacity(self.0.len() + 1);
            if let Some(dir) = dir {
                key.push_str(dir);
                key.push('/');
            }
            key.push_str(prefix);
            key.extend(number.iter().map(|&d| char::from(d)));
            key.push('.');
            key.push_str(extension);
            if key.len() > MAX_PATH_LEN {
                break;
            }
            if let Some(query) = self.query() {
                key.push('?');
                key.push_str(query);
            }
            keys.push(CacheKey(key));
        }
        keys
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CacheKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Adds one to a run of ASCII digits in place, growing it by a leading `1` when every digit was `9`.
fn increment_decimal(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

/// Checks a relative object path: non-empty, not too long, no empty/`.`/`..` segment, no control character,
/// backslash or `?`. Decoded request paths have passed stricter checks already; this keeps a key safe to map
/// onto a disk tier whoever built it.
fn check_object_path(path: &str) -> Result<(), KeyError> {
    if path.is_empty() {
        return Err(KeyError::Empty);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(KeyError::TooLong);
    }
    if path.chars().any(|c| c.is_control() || c == '\\' || c == '?') {
        return Err(KeyError::ForbiddenCharacter);
    }
    if path.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
        return Err(KeyError::DotOrEmptySegment);
    }
    Ok(())
}

/// The kept parameters of a raw query, sorted by name (a stable sort: repeated names keep their order, which
/// may matter to the upstream), joined with `&`. Parameters not on the allow-list, `token` and empty pairs
/// are dropped without being looked at.
fn canonical_query(query: &str, allow: &QueryAllowList) -> Result<String, KeyError> {
    if allow.is_empty() {
        return Ok(String::new());
    }
    let mut kept: Vec<(&str, &str)> = Vec::new();
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if pair.is_empty() || name == TOKEN_QUERY_PARAM || !allow.contains(name) {
            continue;
        }
        if !pair.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
            return Err(KeyError::BadQuery);
        }
        kept.push((name, pair));
    }
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let canonical = kept.iter().map(|(_, pair)| *pair).collect::<Vec<_>>().join("&");
    if canonical.len() > MAX_QUERY_LEN {
        return Err(KeyError::TooLong);
    }
    Ok(canonical)
}

/// What a purge request names: one object (every kept-query variant of it), or every object under a
/// directory prefix (an asset, `film/`, or a rendition, `film/video_720p/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PurgeTarget {
    /// One object path, without a leading `/`: `film/master.m3u8`.
    Object(String),
    /// A directory prefix ending in `/`, matched by whole segments: `film/` covers `film/x` but not `film2/x`.
    Prefix(String),
}

impl PurgeTarget {
    /// Parses a decoded purge target. A leading `/` is optional; `film/` and `film/*` (a trailing `/*`)
    /// name the prefix `film/`; anything else names one object. Refused: an empty target, `/` or `*`
    /// (purging everything is not a path), `*` anywhere else, a `?`, and every path [`CacheKey`] refuses.
    ///
    /// ```
    /// use marquee_edge_cache::key::PurgeTarget;
    ///
    /// assert_eq!(PurgeTarget::parse("/film/*")?, PurgeTarget::Prefix("film/".into()));
    /// assert_eq!(PurgeTarget::parse("film/master.m3u8")?, PurgeTarget::Object("film/master.m3u8".into()));
    /// # Ok::<(), marquee_edge_cache::key::KeyError>(())
    /// ```
    pub fn parse(target: &str) -> Result<Self, KeyError> {
        let target = target.strip_prefix('/').unwrap_or(target);
        let (path, is_prefix) = if let Some(dir) = target.strip_suffix("/*") {
            (dir, true)
        } else if let Some(dir) = target.strip_suffix('/') {
            (dir, true)
        } else {
            (target, false)
        };
        if path.is_empty() || path == "*" {
            return Err(KeyError::BadPurgeTarget { reason: "names nothing (purging everything is not a path)" });
        }
        if path.contains('*') {
            return Err(KeyError::BadPurgeTarget { reason: "only a trailing /* is a wildcard" });
        }
        check_object_path(path)?;
        Ok(if is_prefix { PurgeTarget::Prefix(format!("{path}/")) } else { PurgeTarget::Object(path.to_owned()) })
    }

    /// Whether the purge covers `key`. An object target covers the key with that path whatever its query.
    pub fn matches(&self, key: &CacheKey) -> bool {
        self.matches_path(key.path())
    }

    /// Whether the purge covers a key whose path part (the key text before any `?`) is `path`.
    pub fn matches_path(&self, path: &str) -> bool {
        match self {
            PurgeTarget::Object(object) => path == object,
            PurgeTarget::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }

    /// The path or prefix, without a leading `/` (a prefix ends with `/`).
    pub fn as_path(&self) -> &str {
        match self {
            PurgeTarget::Object(path) | PurgeTarget::Prefix(path) => path,
        }
    }

    /// The asset the target lies in (its first segment), so a tier can look only at that asset's keys;
    /// `None` for a top-level object.
    pub fn asset(&self) -> Option<&str> {
        self.as_path().split_once('/').map(|(asset, _)| asset)
    }

    /// `object` or `prefix`: a label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PurgeTarget::Object(_) => "object",
            PurgeTarget::Prefix(_) => "prefix",
        }
    }
}

impl fmt::Display for PurgeTarget {
    /// The target in the form [`PurgeTarget::parse`] reads back: `film/master.m3u8` or `film/*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PurgeTarget::Object(path) => f.write_str(path),
            PurgeTarget::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(path: &str) -> CacheKey {
        CacheKey::from_request_path(path, None, &QueryAllowList::none()).unwrap()
    }

    fn names(keys: &[CacheKey]) -> Vec<&str> {
        keys.iter().map(CacheKey::as_str).collect()
    }

    #[test]
    fn token_part_and_token_parameter_are_dropped() {
        let none = QueryAllowList::none();
        let signed = CacheKey::from_request_path("/t/v1.k1.abc/film/video_720p/seg_00003.m4s", Some("token=x"), &none);
        let plain = CacheKey::from_request_path("/film/video_720p/seg_00003.m4s", None, &none);
        assert_eq!(signed.unwrap().as_str(), "film/video_720p/seg_00003.m4s");
        assert_eq!(plain.unwrap().as_str(), "film/video_720p/seg_00003.m4s");
        let other_viewer = CacheKey::from_request_path("/t/v1.k2.zzz/film/video_720p/seg_00003.m4s", None, &none);
        assert_eq!(other_viewer.unwrap(), key("/film/video_720p/seg_00003.m4s"));
        let from_object = CacheKey::from_object_path("film/video_720p/seg_00003.m4s", Some("a=1"), &none).unwrap();
        assert_eq!(from_object, key("/film/video_720p/seg_00003.m4s"));
        // `t` alone is an ordinary asset name, as at the origin.
        assert_eq!(key("/t/abc").as_str(), "t/abc");
    }

    #[test]
    fn kept_parameters_are_sorted_and_token_never_kept() {
        let allow = QueryAllowList::new(["b", "a"]).unwrap();
        let one = CacheKey::from_request_path("/film/x.m4s", Some("b=1&a=2&token=T&utm=9"), &allow).unwrap();
        let two = CacheKey::from_request_path("/film/x.m4s", Some("a=2&&b=1"), &allow).unwrap();
        assert_eq!(one.as_str(), "film/x.m4s?a=2&b=1");
        assert_eq!(one, two);
        assert_eq!(one.path(), "film/x.m4s");
        assert_eq!(one.query(), Some("a=2&b=1"));
        // Repeated names keep their order.
        let repeated = CacheKey::from_request_path("/film/x.m4s", Some("b=2&a=1&b=1"), &allow).unwrap();
        assert_eq!(repeated.query(), Some("a=1&b=2&b=1"));
        let nothing_kept = CacheKey::from_request_path("/film/x.m4s", Some("c=1"), &allow).unwrap();
        assert_eq!((nothing_kept.as_str(), nothing_kept.query()), ("film/x.m4s", None));
        assert_eq!(CacheKey::from_request_path("/film/x.m4s", Some("a=\u{7f}"), &allow), Err(KeyError::BadQuery));
        let long = format!("a={}", "x".repeat(MAX_QUERY_LEN));
        assert_eq!(CacheKey::from_request_path("/film/x.m4s", Some(&long), &allow), Err(KeyError::TooLong));
    }

    #[test]
    fn allow_list_entries_are_checked() {
        assert!(QueryAllowList::new(["token"]).is_err());
        assert!(QueryAllowList::new([""]).is_err());
        assert!(QueryAllowList::new(["a=b"]).is_err());
        assert!(QueryAllowList::new(["a b"]).is_err());
        let list = QueryAllowList::new(["v", "lang", "v"]).unwrap();
        assert_eq!(list.names().collect::<Vec<_>>(), ["lang", "v"]);
        assert!(list.contains("v") && !list.contains("V"));
        let Err(KeyError::BadAllowListEntry { name, .. }) = QueryAllowList::new(["ok", "token"]) else {
            panic!("token accepted");
        };
        assert_eq!(name, "token");
    }

    #[test]
    fn bad_paths_are_refused() {
        let none = QueryAllowList::none();
        let cases = [
            ("film/x", KeyError::NotAbsolute),
            ("/", KeyError::Empty),
            ("/film//x", KeyError::DotOrEmptySegment),
            ("/film/../x", KeyError::DotOrEmptySegment),
            ("/film/./x", KeyError::DotOrEmptySegment),
            ("/film/", KeyError::DotOrEmptySegment),
            ("/t/abc/", KeyError::DotOrEmptySegment),
            ("/film/a\\b", KeyError::ForbiddenCharacter),
            ("/film/a\0b", KeyError::ForbiddenCharacter),
            ("/film/a?b", KeyError::ForbiddenCharacter),
        ];
        for (path, want) in cases {
            assert_eq!(CacheKey::from_request_path(path, None, &none), Err(want), "{path:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_LEN + 1));
        assert_eq!(CacheKey::from_request_path(&long, None, &none), Err(KeyError::TooLong));
        assert_eq!(CacheKey::from_object_path("", None, &none), Err(KeyError::Empty));
    }

    #[test]
    fn asset_is_the_first_segment() {
        assert_eq!(key("/t/tok/film/video_720p/seg_00003.m4s").asset(), Some("film"));
        assert_eq!(key("/film/master.m3u8").asset(), Some("film"));
        assert_eq!(key("/favicon.ico").asset(), None);
    }

    #[test]
    fn upstream_path_encodes_what_is_not_plain() {
        assert_eq!(key("/film/video_720p/seg_00003.m4s").upstream_path(), "/film/video_720p/seg_00003.m4s");
        assert_eq!(key("/my film/münchen#1%.m3u8").upstream_path(), "/my%20film/m%C3%BCnchen%231%25.m3u8");
        let allow = QueryAllowList::new(["a"]).unwrap();
        let with_query = CacheKey::from_request_path("/film/x", Some("a=1"), &allow).unwrap();
        assert_eq!(with_query.upstream_path(), "/film/x");
    }

    #[test]
    fn next_segments_count_forward_keeping_the_width() {
        assert_eq!(
            names(&key("/film/video_720p/seg_00003.m4s").next_segments(2)),
            ["film/video_720p/seg_00004.m4s", "film/video_720p/seg_00005.m4s"]
        );
        assert_eq!(
            names(&key("/film/a/seg_00009.m4s").next_segments(2)),
            ["film/a/seg_00010.m4s", "film/a/seg_00011.m4s"]
        );
        assert_eq!(
            names(&key("/film/a/seg_98.m4s").next_segments(3)),
            ["film/a/seg_99.m4s", "film/a/seg_100.m4s", "film/a/seg_101.m4s"]
        );
        assert_eq!(names(&key("/film/a/seg_99999.m4s").next_segments(1)), ["film/a/seg_100000.m4s"]);
        assert_eq!(names(&key("/film/a/1.ts").next_segments(1)), ["film/a/2.ts"]);
        assert_eq!(names(&key("/chunk-7.M4S").next_segments(1)), ["chunk-8.M4S"]);
        let huge = format!("/film/seg_{}.m4s", "9".repeat(40));
        assert_eq!(key(&huge).next_segments(1)[0].as_str(), format!("film/seg_1{}.m4s", "0".repeat(40)));
        let allow = QueryAllowList::new(["v"]).unwrap();
        let with_query = CacheKey::from_request_path("/film/seg_00001.m4s", Some("v=2"), &allow).unwrap();
        assert_eq!(names(&with_query.next_segments(1)), ["film/seg_00002.m4s?v=2"]);
        assert_eq!(key("/film/seg_00001.m4s").next_segments(1000).len(), MAX_NEXT_SEGMENTS);
        assert!(key("/film/seg_00001.m4s").next_segments(0).is_empty());
    }

    #[test]
    fn next_segments_skip_what_is_not_a_numbered_segment() {
        for path in [
            "/film/video_720p/init.mp4",
            "/film/video_720p/init_1.mp4",
            "/film/video_720p/INIT2.mp4",
            "/film/master.m3u8",
            "/film/video_720p/index_3.m3u8",
            "/film/manifest1.mpd",
            "/film/video_720p/seg.m4s",
            "/film/video_720p/seg_00001",
            "/film/thumb_00001.jpg",
            "/film/00001",
            "/film/seg_00001.m4s.tmp",
        ] {
            assert!(key(path).next_segments(3).is_empty(), "{path}");
        }
    }

    #[test]
    fn next_segments_stop_at_the_length_limit() {
        let stem = "a".repeat(MAX_PATH_LEN - "f/9.m4s".len());
        let at_limit = key(&format!("/f/{stem}9.m4s"));
        assert_eq!(at_limit.path().len(), MAX_PATH_LEN);
        assert!(at_limit.next_segments(1).is_empty());
    }

    #[test]
    fn purge_targets() {
        use PurgeTarget::*;
        assert_eq!(PurgeTarget::parse("film/").unwrap(), Prefix("film/".into()));
        assert_eq!(PurgeTarget::parse("/film/*").unwrap(), Prefix("film/".into()));
        assert_eq!(PurgeTarget::parse("film/video_720p/").unwrap(), Prefix("film/video_720p/".into()));
        assert_eq!(PurgeTarget::parse("/film/master.m3u8").unwrap(), Object("film/master.m3u8".into()));
        assert_eq!(PurgeTarget::parse("film").unwrap(), Object("film".into()));
        for bad in ["", "/", "*", "/*", "//", "film*", "film/*.m4s", "film/**", "../x", "film/../x", "film//x/", "a?b"]
        {
            assert!(PurgeTarget::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(PurgeTarget::parse("*").unwrap_err().as_str(), "bad_purge_target");
        assert_eq!(PurgeTarget::parse("film/../x").unwrap_err(), KeyError::DotOrEmptySegment);
    }

    #[test]
    fn purge_matching_is_by_whole_segments() {
        let film = PurgeTarget::parse("film/*").unwrap();
        assert!(film.matches(&key("/film/video_720p/seg_00001.m4s")));
        assert!(!film.matches(&key("/film2/master.m3u8")));
        assert!(!film.matches(&key("/film")));
        let object = PurgeTarget::parse("film/master.m3u8").unwrap();
        let allow = QueryAllowList::new(["v"]).unwrap();
        assert!(object.matches(&CacheKey::from_request_path("/film/master.m3u8", Some("v=1"), &allow).unwrap()));
        assert!(!object.matches(&key("/film/master.m3u8x")));
        assert_eq!((film.asset(), film.kind()), (Some("film"), "prefix"));
        assert_eq!((object.asset(), object.kind()), (Some("film"), "object"));
        assert_eq!(PurgeTarget::parse("top.txt").unwrap().asset(), None);
    }

    #[test]
    fn labels_match_as_str() {
        let all = [
            KeyError::Empty,
            KeyError::NotAbsolute,
            KeyError::TooLong,
            KeyError::DotOrEmptySegment,
            KeyError::ForbiddenCharacter,
            KeyError::BadQuery,
            KeyError::BadAllowListEntry { name: String::new(), reason: "" },
            KeyError::BadPurgeTarget { reason: "" },
        ];
        assert_eq!(all.iter().map(KeyError::as_str).collect::<Vec<_>>(), KeyError::LABELS);
    }

    /// Decodes `%XX` escapes, as the origin's path decoder does for an accepted path.
    fn percent_decode(text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    proptest! {
        #[test]
        fn parsers_never_panic(path in any::<String>(), query in any::<String>(), n in 0usize..100) {
            let allow = QueryAllowList::new(["a", "b"]).unwrap();
            if let Ok(key) = CacheKey::from_request_path(&path, Some(&query), &allow) {
                let _ = (key.asset(), key.upstream_path(), key.next_segments(n));
            }
            let _ = PurgeTarget::parse(&path);
        }

        #[test]
        fn query_order_does_not_matter(
            values in proptest::collection::btree_map("[abc]", "[0-9a-z%]{0,3}", 0..4),
            rotate in any::<usize>(),
        ) {
            // Distinct names in two different orders (repeated names keep their order, tested above).
            let allow = QueryAllowList::new(["a", "b"]).unwrap();
            let pairs: Vec<String> = values.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let mut other = pairs.clone();
            other.reverse();
            if !other.is_empty() {
                let len = other.len();
                other.rotate_left(rotate % len);
            }
            let one = CacheKey::from_request_path("/f/x", Some(&pairs.join("&")), &allow).unwrap();
            let two = CacheKey::from_request_path("/f/x", Some(&other.join("&")), &allow).unwrap();
            prop_assert_eq!(&one, &two);
            // Canonical keys are fixed points.
            let again = CacheKey::from_object_path(one.path(), one.query(), &allow).unwrap();
            prop_assert_eq!(one, again);
        }

        #[test]
        fn upstream_path_decodes_back(path in "(/[^/?\\\\\\p{Cc}]{1,8}){1,4}") {
            if let Ok(key) = CacheKey::from_request_path(&path, None, &QueryAllowList::none()) {
                let wire = key.upstream_path();
                prop_assert!(wire.bytes().all(|b| b.is_ascii_graphic()), "{}", wire);
                prop_assert_eq!(percent_decode(&wire), Some(format!("/{}", key.path())));
            }
        }

        #[test]
        fn next_segments_add_one_each(prefix in "[a-z_]{0,5}", number in 0u64..1_000_000, width in 1usize..8, n in 0usize..5) {
            let name = format!("/film/v/{prefix}{number:0width$}.m4s");
            let first = key(&name);
            let next = first.next_segments(n);
            prop_assert_eq!(next.len(), n);
            for (i, k) in next.iter().enumerate() {
                let want = number + i as u64 + 1;
                prop_assert_eq!(k.as_str(), format!("film/v/{prefix}{want:0width$}.m4s"));
            }
        }

        #[test]
        fn purge_targets_round_trip(path in "[a-z0-9_.]{1,6}(/[a-z0-9_.]{1,6}){0,3}", prefix in any::<bool>()) {
            let text = if prefix { format!("{path}/*") } else { path.clone() };
            if let Ok(target) = PurgeTarget::parse(&text) {
                prop_assert_eq!(PurgeTarget::parse(&target.to_string()), Ok(target.clone()));
                // An object path, not a request path: `t/0/x` is an asset `t`, not a token `0`.
                let k = CacheKey::from_object_path(&format!("{path}/x"), None, &QueryAllowList::none()).unwrap();
                prop_assert_eq!(target.matches(&k), prefix);
            }
        }
    }
}
