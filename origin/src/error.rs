//! The origin's errors: [`OriginError`] for starting and running the server, [`Refusal`] for one request,
//! and the one function that maps a refusal to its HTTP status.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use marquee_http::authorizer::Denial;
use marquee_http::content::NOT_FOUND_CACHE_CONTROL;
use marquee_http::path::PathRejection;
use marquee_http::response::ErrorResponse;
use marquee_http::TlsError;
use marquee_storage::StorageError;

/// What stopped the origin from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    /// The configuration has problems; every one is listed.
    #[error("invalid origin configuration: {}", marquee_settings::Problem::list(problems, "; "))]
    InvalidConfig { problems: Vec<marquee_settings::Problem> },
    /// The listen address could not be bound (in use, no permission, not local).
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded, or they do not belong together.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The bound socket could not report its address.
    #[error("could not read the address of the listening socket")]
    LocalAddr(#[source] std::io::Error),
    #[error("the worker threads failed: {0}")]
    Workers(#[source] std::io::Error),
}

/// Why one request is not answered with the object it asked for.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("request path refused ({})", .0.as_str())]
    BadPath(PathRejection),
    #[error("request denied ({})", .0.as_str())]
    Denied(Denial),
    #[error("the authorized path is not a valid object key")]
    InvalidKey(#[source] StorageError),
    #[error("the path names no kind of object the origin serves")]
    UnknownKind,
    #[error(transparent)]
    Storage(StorageError),
    /// A storage error shared by every request that waited on one read (the hot-object cache).
    #[error(transparent)]
    SharedStorage(std::sync::Arc<StorageError>),
    #[error("the buffered-bytes budget is spent")]
    Busy,
    #[error("the object changed while it was read")]
    ChangedWhileRead,
}

impl Refusal {
    /// The HTTP status for every refusal, in one place.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadPath(_) | Refusal::InvalidKey(_) => StatusCode::BAD_REQUEST,
            Refusal::Denied(_) => StatusCode::FORBIDDEN,
            Refusal::UnknownKind => StatusCode::NOT_FOUND,
            Refusal::Storage(error) => storage_status(error),
            Refusal::SharedStorage(error) => storage_status(error),
            Refusal::Busy | Refusal::ChangedWhileRead => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the client may retry soon (a `Retry-After` is sent).
    pub fn is_transient(&self) -> bool {
        self.status() == StatusCode::SERVICE_UNAVAILABLE
    }
}

impl ErrorResponse for Refusal {
    fn status(&self) -> StatusCode {
        Refusal::status(self)
    }

    /// A 416's `Content-Range`, and a 404's short cache lifetime (edges absorb repeated misses).
    fn add_headers(&self, headers: &mut HeaderMap) {
        if let Refusal::Storage(StorageError::RangeNotSatisfiable { size, .. }) = self {
            let content_range = marquee_http::range::unsatisfied_content_range(*size);
            headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&content_range).expect("digits only"));
        }
        if Refusal::status(self) == StatusCode::NOT_FOUND {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NOT_FOUND_CACHE_CONTROL));
        }
    }
}

fn storage_status(error: &StorageError) -> StatusCode {
    match error {
        StorageError::NotFound { .. } => StatusCode::NOT_FOUND,
        StorageError::InvalidKey { .. } => StatusCode::BAD_REQUEST,
        // The server sends `Content-Range: bytes */{size}` with it.
        StorageError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        // Storage is failing (disk error, and with S3 a network error): retryable from the client's side.
        StorageError::Io { .. } => StatusCode::SERVICE_UNAVAILABLE,
        // The object store (S3) failed or did not answer: the origin is a gateway to it.
        StorageError::Remote { .. } => StatusCode::BAD_GATEWAY,
        StorageError::InvalidLocation { .. } | StorageError::Unsupported { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use marquee_storage::ObjectKey;

    use super::*;

    #[test]
    fn the_longest_object_path_served_is_the_longest_storage_key() {
        assert_eq!(marquee_http::path::MAX_OBJECT_PATH_LEN, marquee_storage::MAX_KEY_LEN);
    }

    #[test]
    fn statuses() {
        let missing = StorageError::NotFound { key: ObjectKey::parse("a/b.m4s").unwrap() };
        assert_eq!(Refusal::Storage(missing).status(), StatusCode::NOT_FOUND);
        assert_eq!(Refusal::BadPath(PathRejection::DotOrEmptySegment).status(), StatusCode::BAD_REQUEST);
        assert_eq!(Refusal::Denied(Denial::Expired).status(), StatusCode::FORBIDDEN);
        assert_eq!(Refusal::UnknownKind.status(), StatusCode::NOT_FOUND);
        assert!(Refusal::Busy.is_transient());
        assert!(Refusal::ChangedWhileRead.is_transient());
        let past_end = StorageError::RangeNotSatisfiable { key: ObjectKey::parse("a/b.m4s").unwrap(), size: 3 };
        assert_eq!(Refusal::Storage(past_end).status(), StatusCode::RANGE_NOT_SATISFIABLE);
    }
}
