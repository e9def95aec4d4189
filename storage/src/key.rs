//! Validated object keys: the relative, `/`-separated names every backend stores objects under.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::StorageError;

/// The longest accepted key, in bytes of UTF-8. It is S3's limit, so a key valid here is valid on every backend.
pub const MAX_KEY_LEN: usize = 1024;

/// Segments starting with this are reserved for in-progress writes ([`LocalDir`](crate::LocalDir) temp files).
///
/// Keys may not use it, so every object that `put` stores is one that `list` returns.
pub const RESERVED_SEGMENT_PREFIX: &str = ".tmp-";

/// How much of a rejected key an error message repeats; enough to recognise it, short enough for a log line.
const ERROR_KEY_EXCERPT_LEN: usize = 128;

/// A relative object key such as `video_720p/seg_00001.m4s`.
///
/// Accepted keys are non-empty, at most [`MAX_KEY_LEN`] bytes, `/`-separated, have no empty, `.` or `..`
/// segment, no segment starting with [`RESERVED_SEGMENT_PREFIX`], no leading `/`, no backslash and no control
/// character (NUL included). Keys are never normalised: anything outside the rules is rejected, so one object
/// has exactly one key and no key can name a path outside a backend's root.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    pub fn parse(key: &str) -> Result<Self, StorageError> {
        validate_key(key).map_err(|reason| invalid_key(key, reason))?;
        Ok(Self(key.to_owned()))
    }

    /// Appends `rest` (one or more segments, e.g. `seg_00001.m4s` or `720p/init.mp4`) and validates the result.
    pub fn join(&self, rest: &str) -> Result<Self, StorageError> {
        Self::parse(&format!("{}/{rest}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments, first to last; each is non-empty and contains no `/`.
    pub fn segments(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split('/')
    }

    /// The key as a relative path of normal components only, for backends that map keys onto a filesystem.
    pub fn to_relative_path(&self) -> PathBuf {
        self.segments().collect()
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ObjectKey {
    type Err = StorageError;

    fn from_str(key: &str) -> Result<Self, StorageError> {
        Self::parse(key)
    }
}

/// Splits a `list` prefix into the key of the directory it lies in (everything before its last `/`) and the
/// start of the names inside that directory: `video_720p/seg_` → (`video_720p`, `seg_`), `vid` → (none, `vid`).
///
/// Every prefix of a valid key is accepted; a prefix that no valid key can start with (`../`, `/abs`, `a//`) is
/// an [`StorageError::InvalidKey`], so a caller's mistake is not mistaken for an empty listing.
pub(crate) fn split_list_prefix(prefix: &str) -> Result<(Option<ObjectKey>, &str), StorageError> {
    let (dir, name_start) = match prefix.rsplit_once('/') {
        None => (None, prefix),
        Some((dir, name_start)) => {
            validate_key(dir).map_err(|reason| invalid_key(prefix, reason))?;
            (Some(ObjectKey(dir.to_owned())), name_start)
        }
    };
    if prefix.len() > MAX_KEY_LEN {
        return Err(invalid_key(prefix, "is longer than the 1024-byte key limit"));
    }
    if let Err(reason) = validate_chars(name_start) {
        return Err(invalid_key(prefix, reason));
    }
    Ok((dir, name_start))
}

fn invalid_key(key: &str, reason: &'static str) -> StorageError {
    StorageError::InvalidKey { key: excerpt(key), reason }
}

fn validate_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return Err("is longer than the 1024-byte key limit");
    }
    if key.starts_with('/') {
        return Err("starts with `/` (keys are relative)");
    }
    validate_chars(key)?;
    for segment in key.split('/') {
        match segment {
            "" => return Err("has an empty segment (`//` or a trailing `/`)"),
            "." => return Err("has a `.` segment"),
            ".." => return Err("has a `..` segment"),
            _ if segment.starts_with(RESERVED_SEGMENT_PREFIX) => {
                return Err("has a segment starting with `.tmp-`, which is reserved for in-progress writes");
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_chars(text: &str) -> Result<(), &'static str> {
    for c in text.chars() {
        if c == '\\' {
            return Err("contains a backslash (the separator is `/`)");
        }
        if c.is_control() {
            return Err("contains a control character");
        }
    }
    Ok(())
}

/// The start of `key`, cut on a character boundary, so that a hostile multi-kilobyte key cannot flood logs.
fn excerpt(key: &str) -> String {
    if key.len() <= ERROR_KEY_EXCERPT_LEN {
        return key.to_owned();
    }
    let mut end = ERROR_KEY_EXCERPT_LEN;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &key[..end])
}

#[cfg(test)]
mod tests {
    use std::path::{Component, Path};

    use proptest::prelude::*;

    use super::*;

    fn reason(key: &str) -> &'static str {
        match ObjectKey::parse(key) {
            Err(StorageError::InvalidKey { reason, .. }) => reason,
            other => panic!("{key:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_media_keys() {
        let keys = ["init.mp4", "video_720p/seg_00001.m4s", "a/b/c/d", "..a", "a/.hidden", "a/b..c", "ünï/cødé ok"];
        for key in keys {
            assert_eq!(ObjectKey::parse(key).unwrap().as_str(), key);
        }
        let longest = "a".repeat(MAX_KEY_LEN);
        assert_eq!(ObjectKey::parse(&longest).unwrap().as_str().len(), MAX_KEY_LEN);
    }

    #[test]
    fn rejects_each_rule_with_its_own_reason() {
        assert_eq!(reason(""), "is empty");
        assert_eq!(reason(&"a".repeat(MAX_KEY_LEN + 1)), "is longer than the 1024-byte key limit");
        assert_eq!(reason("/etc/passwd"), "starts with `/` (keys are relative)");
        assert_eq!(reason("a\\b"), "contains a backslash (the separator is `/`)");
        assert_eq!(reason("..\\..\\x"), "contains a backslash (the separator is `/`)");
        for key in ["a\0b", "a\nb", "a\u{7f}", "a\u{85}b", "\r"] {
            assert_eq!(reason(key), "contains a control character", "{key:?}");
        }
        for key in ["a//b", "a/", "a/b/"] {
            assert_eq!(reason(key), "has an empty segment (`//` or a trailing `/`)", "{key:?}");
        }
        for key in [".", "./a", "a/./b", "a/."] {
            assert_eq!(reason(key), "has a `.` segment", "{key:?}");
        }
        for key in ["..", "../a", "a/../../b", "a/.."] {
            assert_eq!(reason(key), "has a `..` segment", "{key:?}");
        }
        assert!(reason("v/.tmp-123-4").contains("reserved for in-progress writes"));
    }

    #[test]
    fn error_repeats_only_an_excerpt_of_a_huge_key() {
        let huge = "é".repeat(10_000);
        let Err(StorageError::InvalidKey { key, .. }) = ObjectKey::parse(&huge) else { panic!("accepted") };
        assert!(key.len() <= ERROR_KEY_EXCERPT_LEN + '…'.len_utf8(), "{}", key.len());
        assert!(key.ends_with('…'));
    }

    #[test]
    fn join_validates_the_combined_key() {
        let dir = ObjectKey::parse("video_720p").unwrap();
        assert_eq!(dir.join("seg_00001.m4s").unwrap().as_str(), "video_720p/seg_00001.m4s");
        assert_eq!(dir.join("a/b").unwrap().as_str(), "video_720p/a/b");
        for bad in ["", "/x", "../x", "x/..", "x\\y"] {
            assert!(dir.join(bad).is_err(), "{bad:?}");
        }
        let long = ObjectKey::parse(&"a".repeat(MAX_KEY_LEN - 2)).unwrap();
        assert!(long.join("b").is_ok());
        assert!(long.join("bc").is_err());
    }

    #[test]
    fn list_prefix_splits_on_the_last_slash() {
        let split = |p| split_list_prefix(p).map(|(dir, start)| (dir.map(|d| d.0), start.to_owned())).unwrap();
        assert_eq!(split(""), (None, String::new()));
        assert_eq!(split("vid"), (None, "vid".to_owned()));
        assert_eq!(split("video_720p/"), (Some("video_720p".to_owned()), String::new()));
        assert_eq!(split("video_720p/seg_"), (Some("video_720p".to_owned()), "seg_".to_owned()));
        assert_eq!(split("a/b/.."), (Some("a/b".to_owned()), "..".to_owned()));
        for bad in ["/", "/a", "../", "a//", "a/../b", "a\\b", "a/\0"] {
            assert!(split_list_prefix(bad).is_err(), "{bad:?}");
        }
    }

    /// Strings built from the characters and segments that break path handling, plus arbitrary text.
    fn hostile_key() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("\\".to_owned()),
            Just("\0".to_owned()),
            Just("~".to_owned()),
            Just(":".to_owned()),
            Just("C:".to_owned()),
            Just(".tmp-".to_owned()),
            Just("%2e%2e".to_owned()),
            "[a-z0-9_]{1,4}",
            any::<char>().prop_map(String::from),
        ];
        prop_oneof![prop::collection::vec(piece, 0..12).prop_map(|p| p.concat()), any::<String>()]
    }

    fn valid_key() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-zA-Z0-9_-][a-zA-Z0-9._~ é-]{0,11}", 1..8).prop_map(|s| s.join("/"))
    }

    proptest! {
        #[test]
        fn no_accepted_key_resolves_outside_the_root(key in hostile_key()) {
            if let Ok(parsed) = ObjectKey::parse(&key) {
                let relative = parsed.to_relative_path();
                let components: Vec<_> = relative.components().collect();
                // Only normal components: no `..`, no root, no drive prefix, no `.`; so `root.join` stays below root.
                prop_assert!(components.iter().all(|c| matches!(c, Component::Normal(_))), "{key:?}");
                prop_assert_eq!(components.len(), parsed.segments().count());
                let root = Path::new("/srv/media");
                let joined = root.join(&relative);
                prop_assert!(joined.starts_with(root) && joined != root);
                prop_assert_eq!(parsed.as_str(), key.as_str());
            }
        }

        #[test]
        fn valid_keys_round_trip(key in valid_key()) {
            let parsed = ObjectKey::parse(&key).unwrap();
            prop_assert_eq!(parsed.as_str(), key.as_str());
            prop_assert_eq!(parsed.to_string().parse::<ObjectKey>().unwrap(), parsed.clone());
            prop_assert_eq!(parsed.segments().collect::<Vec<_>>().join("/"), key);
        }

        #[test]
        fn join_equals_parsing_the_joined_string(a in valid_key(), b in valid_key()) {
            let joined = ObjectKey::parse(&a).unwrap().join(&b).unwrap();
            prop_assert_eq!(joined, ObjectKey::parse(&format!("{a}/{b}")).unwrap());
        }

        #[test]
        fn every_prefix_of_a_valid_key_is_a_valid_list_prefix(key in valid_key(), cut in any::<prop::sample::Index>()) {
            let boundaries: Vec<usize> = (0..=key.len()).filter(|&i| key.is_char_boundary(i)).collect();
            let prefix = &key[..*cut.get(&boundaries)];
            prop_assert!(split_list_prefix(prefix).is_ok(), "{prefix:?}");
        }
    }
}
