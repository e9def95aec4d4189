//! Turns a configured storage location (a path or URL) into the backend that serves it.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::{LocalDir, ObjectStore, S3Config, S3Store, StorageError};

/// Listed in every error about a location, so the fix is in the message.
const ACCEPTED_FORMS: &str = "expected a local directory, as a path (`/srv/media`, `./out`) or a \
     `file:///absolute/path` URL, or an S3 bucket and prefix, `s3://bucket/prefix`";

/// Bytes that `file_url` writes as they are; everything else is percent-encoded (RFC 3986 path characters).
const URL_PATH_SAFE: &[u8] = b"-._~/!$&'()*+,;=:@";

/// Opens the object store that `location` names:
///
/// - a plain path (`/srv/media`, `out/media`) or `file:///absolute/path` (percent-decoded; the host may be
///   empty or `localhost`): a [`LocalDir`], created if missing;
/// - `s3://bucket` or `s3://bucket/prefix`: an [`S3Store`](crate::S3Store), configured from the environment as
///   [`S3Config::from_location_and_env`] says (`MARQUEE_S3_ENDPOINT`, `MARQUEE_S3_REGION` or `AWS_REGION`, and
///   the standard AWS credential chain). Nothing is sent until the first operation;
/// - any other URL scheme, or an empty string: [`StorageError::InvalidLocation`].
///
/// A string starting with a scheme of two or more letters and a `:` is taken as a URL, so `s3:bucket` is not
/// quietly created as a directory; write `./name:with:colons` for such a directory. Opening a local directory
/// does blocking I/O once; call this at startup. No async runtime is needed for either backend.
pub fn open(location: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let invalid = |reason: String| StorageError::InvalidLocation { location: location.to_owned(), reason };
    if location.is_empty() {
        return Err(invalid(format!("it is empty; {ACCEPTED_FORMS}")));
    }
    let Some((scheme, rest)) = split_scheme(location) else {
        return Ok(Arc::new(LocalDir::new(location)?));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            let path = file_url_path(rest).map_err(|problem| invalid(format!("{problem}; {ACCEPTED_FORMS}")))?;
            Ok(Arc::new(LocalDir::new(path)?))
        }
        "s3" => Ok(Arc::new(S3Store::new(S3Config::from_location_and_env(location)?)?)),
        _ => Err(invalid(format!("unknown scheme `{scheme}:`; {ACCEPTED_FORMS}"))),
    }
}

/// `file:///srv/media` for `/srv/media`, with the bytes a URL cannot carry percent-encoded so that
/// [`open`] reads the same path back.
pub(crate) fn file_url(path: &Path) -> String {
    let path = path.to_string_lossy();
    let mut url = String::with_capacity("file://".len() + path.len());
    url.push_str("file://");
    for &byte in path.as_bytes() {
        if byte.is_ascii_alphanumeric() || URL_PATH_SAFE.contains(&byte) {
            url.push(char::from(byte));
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url
}

/// `("s3", "//bucket/prefix")` for `s3://bucket/prefix`; `None` for a plain path. One-letter schemes are
/// left to paths, so a Windows drive (`C:\media`) stays a path.
fn split_scheme(location: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = location.split_once(':')?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid = starts_with_letter && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && scheme.len() >= 2).then_some((scheme, rest))
}

/// The local path of a `file:` URL, given what follows `file:`.
fn file_url_path(rest: &str) -> Result<String, String> {
    let Some(authority_and_path) = rest.strip_prefix("//") else {
        return Err("a file URL must start with `file://`".to_owned());
    };
    if authority_and_path.contains(['?', '#']) {
        return Err("a file URL cannot have a query or fragment (write `?` as %3F and `#` as %23)".to_owned());
    }
    let (host, path) = match authority_and_path.find('/') {
        Some(slash) => authority_and_path.split_at(slash),
        None => (authority_and_path, ""),
    };
    if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
        return Err(format!("file URLs on another host (`{host}`) are not supported"));
    }
    if path.is_empty() {
        return Err("the file URL has no path".to_owned());
    }
    percent_decode(path).ok_or_else(|| "the file URL has a bad %-escape or is not UTF-8 once decoded".to_owned())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            decoded.push(high << 4 | low);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_err(location: &str) -> StorageError {
        open(location).expect_err(location)
    }

    #[test]
    fn s3_locations_open_an_s3_store_without_a_request() {
        for (location, expected) in [
            ("s3://bucket/prefix", "s3://bucket/prefix"),
            ("S3://bucket", "s3://bucket"),
            ("s3://bucket/a/b/", "s3://bucket/a/b"),
        ] {
            assert_eq!(open(location).unwrap().location(), expected);
        }
        for location in ["s3:bucket", "s3://", "s3://Bad_Bucket/x", "s3://bucket/../x"] {
            let error = open_err(location);
            assert!(matches!(error, StorageError::InvalidLocation { .. }), "{location}: {error:?}");
        }
    }

    #[test]
    fn unknown_schemes_and_empty_locations_name_the_accepted_forms() {
        for location in ["", "http://example.com/media", "gs://bucket", "ftp:x", "file:relative", "file://host/x"] {
            let error = open_err(location);
            assert!(matches!(error, StorageError::InvalidLocation { .. }), "{location}: {error:?}");
            let message = error.to_string();
            assert!(message.contains("file:///absolute/path") && message.contains("s3://"), "{message}");
        }
    }

    #[test]
    fn only_schemes_of_two_or_more_characters_are_urls() {
        assert_eq!(split_scheme("s3://b/p"), Some(("s3", "//b/p")));
        assert_eq!(split_scheme("file:///x"), Some(("file", "///x")));
        assert_eq!(split_scheme("C:\\media"), None);
        assert_eq!(split_scheme("/srv/a:b"), None);
        assert_eq!(split_scheme("./a:b"), None);
        assert_eq!(split_scheme("media"), None);
    }

    #[test]
    fn file_urls_decode_to_absolute_paths() {
        assert_eq!(file_url_path("///srv/media").unwrap(), "/srv/media");
        assert_eq!(file_url_path("//localhost/srv/media").unwrap(), "/srv/media");
        assert_eq!(file_url_path("//LOCALHOST/srv").unwrap(), "/srv");
        assert_eq!(file_url_path("///srv/my%20media/%E2%9C%93").unwrap(), "/srv/my media/✓");
        for bad in ["/srv", "//", "///a?b", "///a#b", "///a%2", "///a%zz", "///a%+f", "///%FF"] {
            assert!(file_url_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_url_percent_encodes_what_a_url_cannot_carry() {
        assert_eq!(file_url(Path::new("/srv/media")), "file:///srv/media");
        assert_eq!(file_url(Path::new("/a b/%/#?/é")), "file:///a%20b/%25/%23%3F/%C3%A9");
        let awkward = "/a b/%/#?/é:@+";
        assert_eq!(file_url_path(file_url(Path::new(awkward)).strip_prefix("file:").unwrap()).unwrap(), awkward);
    }
}
