//! Validators (ETag, Last-Modified) and conditional requests (RFC 9110 §13) for GET and HEAD.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of one stored object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// Strong ETag with its quotes: `"<size hex>-<mtime nanoseconds hex>"`. Objects are replaced atomically
    /// (a new file, a new S3 version), so a new version gets a new modification time and a new tag; nothing
    /// has to read the body to compute it.
    pub etag: String,
    /// Modification time cut to whole seconds, the precision of HTTP dates.
    pub last_modified: SystemTime,
}

impl Validators {
    pub fn new(size: u64, modified: SystemTime) -> Self {
        let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        let etag = format!("\"{size:x}-{:x}\"", since_epoch.as_nanos());
        let last_modified = UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs());
        Self { etag, last_modified }
    }

    /// The `Last-Modified` header value (IMF-fixdate).
    pub fn last_modified_header(&self) -> String {
        httpdate::fmt_http_date(self.last_modified)
    }
}

/// The conditional headers of a request, as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preconditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

/// What the preconditions say about a GET or HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Serve the object (possibly a range of it).
    Serve,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluates the preconditions in RFC 9110 §13.2.2 order for a GET or HEAD. Unparseable dates are ignored;
/// `If-Modified-Since` only counts when `If-None-Match` is absent.
pub fn evaluate(pre: &Preconditions<'_>, validators: &Validators) -> Outcome {
    if let Some(if_match) = pre.if_match {
        if !list_matches(if_match, &validators.etag, Comparison::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(since) = pre.if_unmodified_since.and_then(parse_date) {
        if validators.last_modified > since {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(if_none_match) = pre.if_none_match {
        if list_matches(if_none_match, &validators.etag, Comparison::Weak) {
            return Outcome::NotModified;
        }
    } else if let Some(since) = pre.if_modified_since.and_then(parse_date) {
        if validators.last_modified <= since {
            return Outcome::NotModified;
        }
    }
    Outcome::Serve
}

/// Whether a `Range` may be honoured given `If-Range`: absent, or naming this exact version (a strong ETag
/// match or the exact `Last-Modified` date). Otherwise the whole object is sent.
pub fn range_allowed(if_range: Option<&str>, validators: &Validators) -> bool {
    let Some(if_range) = if_range.map(str::trim) else { return true };
    if if_range.starts_with('"') || if_range.starts_with("W/") {
        return tag_matches(if_range, &validators.etag, Comparison::Strong);
    }
    parse_date(if_range) == Some(validators.last_modified)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// `*` or a comma-separated list of entity tags. Our tags never contain a comma, so splitting on commas
/// cannot make a tag that contains one match ours.
fn list_matches(list: &str, etag: &str, comparison: Comparison) -> bool {
    let list = list.trim();
    list == "*" || list.split(',').any(|tag| tag_matches(tag.trim(), etag, comparison))
}

fn tag_matches(candidate: &str, etag: &str, comparison: Comparison) -> bool {
    match (candidate.strip_prefix("W/"), comparison) {
        (Some(_), Comparison::Strong) => false,
        (Some(opaque), Comparison::Weak) => opaque == etag,
        (None, _) => candidate == etag,
    }
}

fn parse_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn validators() -> Validators {
        Validators::new(1234, UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789))
    }

    #[test]
    fn validators_from_size_and_time() {
        let v = validators();
        assert_eq!(v.etag, format!("\"4d2-{:x}\"", 1_700_000_000_123_456_789u128));
        assert_eq!(v.last_modified_header(), "Tue, 14 Nov 2023 22:13:20 GMT");
        let newer = Validators::new(1234, UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_790));
        assert_ne!(newer.etag, v.etag, "a rewrite within the same second still changes the tag");
    }

    #[test]
    fn if_none_match() {
        let v = validators();
        let check = |inm| evaluate(&Preconditions { if_none_match: Some(inm), ..Default::default() }, &v);
        assert_eq!(check(&v.etag), Outcome::NotModified);
        let weak = format!("W/{}", v.etag);
        assert_eq!(check(&weak), Outcome::NotModified);
        let list = format!("\"other\", {}", v.etag);
        assert_eq!(check(&list), Outcome::NotModified);
        assert_eq!(check("*"), Outcome::NotModified);
        assert_eq!(check("\"other\""), Outcome::Serve);
    }

    #[test]
    fn if_modified_since() {
        let v = validators();
        let check = |ims: &str, inm: Option<&str>| {
            evaluate(&Preconditions { if_modified_since: Some(ims), if_none_match: inm, ..Default::default() }, &v)
        };
        assert_eq!(check("Tue, 14 Nov 2023 22:13:20 GMT", None), Outcome::NotModified);
        assert_eq!(check("Wed, 15 Nov 2023 00:00:00 GMT", None), Outcome::NotModified);
        assert_eq!(check("Tue, 14 Nov 2023 22:13:19 GMT", None), Outcome::Serve);
        assert_eq!(check("not a date", None), Outcome::Serve);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(check("Wed, 15 Nov 2023 00:00:00 GMT", Some("\"other\"")), Outcome::Serve);
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        let v = validators();
        let im = |tag| evaluate(&Preconditions { if_match: Some(tag), ..Default::default() }, &v);
        assert_eq!(im(&v.etag), Outcome::Serve);
        assert_eq!(im("*"), Outcome::Serve);
        assert_eq!(im(&format!("W/{}", v.etag)), Outcome::PreconditionFailed);
        let ius = |date| evaluate(&Preconditions { if_unmodified_since: Some(date), ..Default::default() }, &v);
        assert_eq!(ius("Tue, 14 Nov 2023 22:13:19 GMT"), Outcome::PreconditionFailed);
        assert_eq!(ius("Tue, 14 Nov 2023 22:13:20 GMT"), Outcome::Serve);
    }

    #[test]
    fn if_range() {
        let v = validators();
        assert!(range_allowed(None, &v));
        assert!(range_allowed(Some(&v.etag), &v));
        assert!(!range_allowed(Some(&format!("W/{}", v.etag)), &v));
        assert!(!range_allowed(Some("\"other\""), &v));
        assert!(range_allowed(Some("Tue, 14 Nov 2023 22:13:20 GMT"), &v));
        assert!(!range_allowed(Some("Tue, 14 Nov 2023 22:13:21 GMT"), &v));
        assert!(!range_allowed(Some("garbage"), &v));
    }

    proptest! {
        /// Model: a client that sends back exactly what it was given gets a 304; any other tag gets the body.
        #[test]
        fn revalidation_matches_a_model(size in any::<u64>(), secs in 0u64..4_000_000_000, nanos in 0u32..1_000_000_000,
                                        other_size in any::<u64>()) {
            let v = Validators::new(size, UNIX_EPOCH + Duration::new(secs, nanos));
            let same = Preconditions { if_none_match: Some(&v.etag), ..Default::default() };
            prop_assert_eq!(evaluate(&same, &v), Outcome::NotModified);
            let lm = v.last_modified_header();
            let by_date = Preconditions { if_modified_since: Some(&lm), ..Default::default() };
            prop_assert_eq!(evaluate(&by_date, &v), Outcome::NotModified);
            let other = Validators::new(other_size, UNIX_EPOCH + Duration::new(secs, nanos));
            let stale = Preconditions { if_none_match: Some(&other.etag), ..Default::default() };
            prop_assert_eq!(evaluate(&stale, &v), if other_size == size { Outcome::NotModified } else { Outcome::Serve });
        }

        #[test]
        fn arbitrary_headers_never_panic(a in any::<String>(), b in any::<String>()) {
            let v = validators();
            let _ = evaluate(&Preconditions { if_match: Some(&a), if_none_match: Some(&b), if_modified_since: Some(&a),
                                              if_unmodified_since: Some(&b) }, &v);
            let _ = range_allowed(Some(&a), &v);
        }
    }
}
