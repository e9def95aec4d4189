//! What a GET or HEAD gets of one version of an object, decided from its request headers alone: 304, 412,
//! 416, the whole body or one range of it (RFC 9110 §13 and §14). The origin and the edge answer from it.

use std::ops::Range;

use http::header::{self, HeaderMap};
use http::StatusCode;

use crate::conditional::{self, Outcome, Preconditions, Validators};
use crate::range::{self, RangeDecision};

/// The answer for one object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition failed.
    PreconditionFailed,
    /// 416, with `Content-Range: bytes */{size}`.
    Unsatisfiable { size: u64 },
    /// 200 with the whole object (or a HEAD's headers for it).
    Whole { size: u64 },
    /// 206 with these bytes.
    Partial { range: range::ByteRange, size: u64 },
}

impl Selection {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotModified => StatusCode::NOT_MODIFIED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Unsatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Whole { .. } => StatusCode::OK,
            Self::Partial { .. } => StatusCode::PARTIAL_CONTENT,
        }
    }

    /// The bytes of the object the body holds, for a 200 or 206.
    pub fn body_range(&self) -> Option<Range<u64>> {
        match self {
            Self::Whole { size } => Some(0..*size),
            Self::Partial { range, .. } => Some(range.first..range.last + 1),
            _ => None,
        }
    }

    /// The `Content-Range` value of a 206 or 416.
    pub fn content_range(&self) -> Option<String> {
        match self {
            Self::Partial { range, size } => Some(range.content_range(*size)),
            Self::Unsatisfiable { size } => Some(range::unsatisfied_content_range(*size)),
            _ => None,
        }
    }
}

/// Decides the answer to a GET (`is_get`) or HEAD with `headers` for the version with `validators` and
/// `size` bytes. Preconditions first (RFC 9110 §13.2.2), then `Range` for a GET only, honoured when
/// `If-Range` is absent or names this version.
pub fn select(headers: &HeaderMap, is_get: bool, validators: &Validators, size: u64) -> Selection {
    let (if_match, if_none_match) =
        (header_list(headers, &header::IF_MATCH), header_list(headers, &header::IF_NONE_MATCH));
    let preconditions = Preconditions {
        if_match: if_match.as_deref(),
        if_none_match: if_none_match.as_deref(),
        if_modified_since: header_str(headers, &header::IF_MODIFIED_SINCE),
        if_unmodified_since: header_str(headers, &header::IF_UNMODIFIED_SINCE),
    };
    match conditional::evaluate(&preconditions, validators) {
        Outcome::Serve => {}
        Outcome::NotModified => return Selection::NotModified,
        Outcome::PreconditionFailed => return Selection::PreconditionFailed,
    }
    if !is_get || !conditional::range_allowed(header_str(headers, &header::IF_RANGE), validators) {
        return Selection::Whole { size };
    }
    match range::decide(header_str(headers, &header::RANGE), size) {
        RangeDecision::Full => Selection::Whole { size },
        RangeDecision::Partial(range) => Selection::Partial { range, size },
        RangeDecision::Unsatisfiable => Selection::Unsatisfiable { size },
    }
}

/// Whether the request carries a precondition or `If-Range`: its answer depends on the version's validators.
pub fn has_preconditions(headers: &HeaderMap) -> bool {
    [
        &header::IF_MATCH,
        &header::IF_NONE_MATCH,
        &header::IF_MODIFIED_SINCE,
        &header::IF_UNMODIFIED_SINCE,
        &header::IF_RANGE,
    ]
    .into_iter()
    .any(|name| headers.contains_key(name))
}

/// A header's value as text, when it is text.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A list header (`If-Match`, `If-None-Match`) that may arrive as several fields, joined as one list.
pub fn header_list(headers: &HeaderMap, name: &header::HeaderName) -> Option<String> {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).collect();
    (!values.is_empty()).then(|| values.join(", "))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn preconditions_come_before_ranges_and_heads_get_no_range() {
        let validators = Validators::new(100, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let etag: &'static str = Box::leak(validators.etag.clone().into_boxed_str());
        let range = (header::RANGE, "bytes=10-19");
        assert_eq!(
            select(&headers(std::slice::from_ref(&range)), false, &validators, 100),
            Selection::Whole { size: 100 }
        );
        let partial = select(&headers(std::slice::from_ref(&range)), true, &validators, 100);
        assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(partial.body_range(), Some(10..20));
        assert_eq!(partial.content_range().as_deref(), Some("bytes 10-19/100"));
        let current = [(header::IF_NONE_MATCH, "\"x\""), (header::IF_NONE_MATCH, etag), range.clone()];
        assert_eq!(select(&headers(&current), true, &validators, 100), Selection::NotModified);
        let wrong_version = [(header::IF_RANGE, "\"other\""), range];
        assert_eq!(select(&headers(&wrong_version), true, &validators, 100), Selection::Whole { size: 100 });
        let past_end = select(&headers(&[(header::RANGE, "bytes=200-")]), true, &validators, 100);
        assert_eq!(past_end.content_range().as_deref(), Some("bytes */100"));
        assert_eq!(select(&headers(&[(header::IF_MATCH, "\"x\"")]), true, &validators, 100).status(), 412);
        assert!(has_preconditions(&headers(&[(header::IF_RANGE, etag)])));
        assert!(!has_preconditions(&headers(&[(header::RANGE, "bytes=0-")])));
    }
}
