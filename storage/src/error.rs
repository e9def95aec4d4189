//! The storage crate's one error type.

use std::path::PathBuf;

use crate::ObjectKey;

/// What failed in the storage layer, and on which key, path or location.
///
/// Deliberately not `#[non_exhaustive]`: the function that maps errors to HTTP statuses should have to decide
/// on every new variant rather than fall into a wildcard arm.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No object is stored under the key (`get` and `head`; `delete` of a missing key succeeds).
    #[error("no object stored under key `{key}`")]
    NotFound { key: ObjectKey },
    /// A ranged read started at or past the end of the object, which is `size` bytes long (every range of an
    /// empty object). HTTP servers answer 416 with `Content-Range: bytes */{size}`.
    #[error("range not satisfiable: the object under key `{key}` is {size} bytes long")]
    RangeNotSatisfiable { key: ObjectKey, size: u64 },
    /// The string is not a valid [`ObjectKey`] or `list` prefix. `key` is cut short if it is very long.
    #[error("invalid object key {key:?}: it {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The location string is not one that [`open`](crate::open) understands.
    #[error("invalid storage location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },
    /// The store cannot do what was asked: the provided multipart methods of a store without multipart uploads
    /// (test doubles) return it.
    #[error("unsupported by the storage at {location:?}: {reason}")]
    Unsupported { location: String, reason: &'static str },
    /// An S3 request failed: the service answered with an error (`status` is its HTTP status), or it could not
    /// be reached or did not answer in time (`status` is `None`). `key` is the object key, or the prefix for
    /// `list`, relative to the store's location; `detail` is what the service or the client said.
    #[error("S3 {op} of `{key}` in {location} failed: {detail}")]
    Remote {
        op: &'static str,
        location: String,
        key: String,
        status: Option<u16>,
        detail: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A filesystem operation failed. The cause is in `source` (and `Error::source`), not in the message.
    #[error("could not {op} {}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn messages_name_what_failed_and_where() {
        let missing = StorageError::NotFound { key: ObjectKey::parse("v/seg_00001.m4s").unwrap() };
        assert_eq!(missing.to_string(), "no object stored under key `v/seg_00001.m4s`");

        let invalid = ObjectKey::parse("../x").unwrap_err();
        assert_eq!(invalid.to_string(), r#"invalid object key "../x": it has a `..` segment"#);

        let control = ObjectKey::parse("a\nb").unwrap_err();
        assert_eq!(control.to_string(), r#"invalid object key "a\nb": it contains a control character"#);

        let io = StorageError::io("read", "/srv/media/a", std::io::Error::other("disk on fire"));
        assert_eq!(io.to_string(), "could not read /srv/media/a");
        assert_eq!(io.source().unwrap().to_string(), "disk on fire");
    }
}
