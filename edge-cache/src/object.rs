//! A response the edge holds: status, the headers worth keeping, the whole body, when it arrived and how long
//! it may be used. Also its metadata encoding on disk (freshness is re-evaluated from the stored headers on
//! load, so a restarted edge applies its current policy).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use marquee_http::conditional::Validators;

use crate::freshness::{CacheState, Freshness, FreshnessPolicy, SURROGATE_CONTROL};
use crate::memory::Weighted;

/// Memory charged per object beyond its body and headers (the struct, map nodes).
const OBJECT_OVERHEAD_BYTES: u64 = 256;
/// First line of the disk metadata: format name and version.
const META_MAGIC: &str = "marquee-edge-meta 1";

/// Response headers never stored: hop-by-hop ones (RFC 9110 §7.6.1), the length (the body says it), cookies
/// (such responses are not stored anyway) and `Age` (recomputed when served).
const NOT_STORED: &[HeaderName] = &[
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::CONTENT_LENGTH,
    header::SET_COOKIE,
    header::AGE,
];

/// One stored response.
#[derive(Debug, Clone)]
pub struct CachedObject {
    pub status: StatusCode,
    /// The upstream's headers minus [`NOT_STORED`] (including `Surrogate-Control`, which is not sent on).
    pub headers: HeaderMap,
    pub body: Bytes,
    pub received_at: SystemTime,
    pub freshness: Freshness,
}

impl CachedObject {
    /// A response received at `received_at`, with the headers worth keeping.
    pub fn new(
        status: StatusCode,
        upstream_headers: &HeaderMap,
        body: Bytes,
        received_at: SystemTime,
        freshness: Freshness,
    ) -> Self {
        Self { status, headers: stored_headers(upstream_headers), body, received_at, freshness }
    }

    /// Time held here.
    pub fn held_for(&self, now: SystemTime) -> Duration {
        now.duration_since(self.received_at).unwrap_or_default()
    }

    pub fn state(&self, now: SystemTime) -> CacheState {
        self.freshness.state(self.held_for(now))
    }

    /// The `Age` to send (RFC 9111 §5.1): the upstream's age plus the time held here, in whole seconds.
    pub fn age_seconds(&self, now: SystemTime) -> u64 {
        (self.freshness.initial_age + self.held_for(now)).as_secs()
    }

    /// Validators for conditional requests, from the upstream's `ETag` and `Last-Modified`.
    pub fn validators(&self) -> Validators {
        let etag = self.headers.get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let last_modified = self
            .headers
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .unwrap_or(UNIX_EPOCH);
        Validators { etag, last_modified }
    }

    /// The conditional request headers that revalidate this copy upstream: `If-None-Match` with its `ETag`,
    /// `If-Modified-Since` with its `Last-Modified`. Empty for copies without validators and for stored
    /// statuses other than 200 (a 304 cannot renew a 404).
    pub fn revalidation_conditions(&self) -> HeaderMap {
        let mut conditions = HeaderMap::new();
        if self.status != StatusCode::OK {
            return conditions;
        }
        if let Some(etag) = self.headers.get(header::ETAG) {
            conditions.insert(header::IF_NONE_MATCH, etag.clone());
        }
        if let Some(modified) = self.headers.get(header::LAST_MODIFIED) {
            conditions.insert(header::IF_MODIFIED_SINCE, modified.clone());
        }
        conditions
    }

    /// This copy renewed by a 304 received at `received_at` (RFC 9111 §4.3.4): the 304's headers replace the
    /// stored ones of the same names, and freshness is evaluated again from the result. `None` when the
    /// renewed headers no longer allow storing (such as `no-store`).
    pub fn renewed(&self, not_modified: &HeaderMap, received_at: SystemTime, policy: &FreshnessPolicy) -> Option<Self> {
        let mut headers = self.headers.clone();
        let update = stored_headers(not_modified);
        for name in update.keys() {
            headers.remove(name);
        }
        for (name, value) in &update {
            headers.append(name, value.clone());
        }
        // Evaluated with the 304's Age; it is not stored (see `NOT_STORED`).
        let mut evaluated = headers.clone();
        if let Some(age) = not_modified.get(header::AGE) {
            evaluated.insert(header::AGE, age.clone());
        }
        let freshness = policy.evaluate(self.status, &evaluated, received_at).ok()?;
        Some(Self { status: self.status, headers, body: self.body.clone(), received_at, freshness })
    }

    /// Headers sent downstream: the stored ones minus `Surrogate-Control` (meant for this tier).
    pub fn downstream_headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().filter(|(name, _)| **name != SURROGATE_CONTROL)
    }

    /// The metadata stored beside the body on disk: a version line, `status received-at-ms`, then one header
    /// per line.
    pub fn encode_meta(&self) -> Vec<u8> {
        let received_ms = self.received_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let mut out = format!("{META_MAGIC}\n{} {received_ms}\n", self.status.as_u16()).into_bytes();
        // Age is not stored; what the upstream said is kept so that freshness re-evaluates the same way.
        if !self.freshness.initial_age.is_zero() {
            out.extend_from_slice(format!("age: {}\n", self.freshness.initial_age.as_secs()).as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// Rebuilds an object from [`CachedObject::encode_meta`] output and its body; `None` if the metadata is
    /// not ours or the policy no longer stores such a response.
    pub fn decode(meta: &[u8], body: Bytes, policy: &FreshnessPolicy) -> Option<Self> {
        let text = std::str::from_utf8(meta).ok()?;
        let mut lines = text.lines();
        if lines.next()? != META_MAGIC {
            return None;
        }
        let (status, received_ms) = lines.next()?.split_once(' ')?;
        let status = StatusCode::from_u16(status.parse().ok()?).ok()?;
        let received_at = UNIX_EPOCH + Duration::from_millis(received_ms.parse().ok()?);
        let mut headers = HeaderMap::new();
        for line in lines {
            let (name, value) = line.split_once(": ")?;
            headers.append(HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(value).ok()?);
        }
        let freshness = policy.evaluate(status, &headers, received_at).ok()?;
        headers.remove(header::AGE);
        Some(Self { status, headers, body, received_at, freshness })
    }
}

impl Weighted for CachedObject {
    fn size_bytes(&self) -> u64 {
        let headers: usize = self.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 32).sum();
        self.body.len() as u64 + headers as u64 + OBJECT_OVERHEAD_BYTES
    }
}

/// The headers of an upstream response worth storing and sending on.
pub fn stored_headers(upstream: &HeaderMap) -> HeaderMap {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = upstream
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    let mut kept = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        if NOT_STORED.contains(name) || named.contains(name) || name == "keep-alive" {
            continue;
        }
        // A copy, not a clone: hyper's header values are slices of the connection's read buffer (up to
        // ~400 KiB), so a cloned value would keep that whole buffer alive for as long as the object is cached
        // (measured: 60+ MB of such buffers behind a 256 MiB tier).
        if let Ok(owned) = HeaderValue::from_bytes(value.as_bytes()) {
            kept.append(name.clone(), owned);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn meta_round_trips_and_freshness_is_re_evaluated() {
        let upstream = headers(&[
            ("content-type", "video/mp4"),
            ("cache-control", "public, max-age=600"),
            ("etag", "\"abc\""),
            ("age", "30"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("content-length", "5"),
            ("surrogate-control", "max-age=600"),
        ]);
        let policy = FreshnessPolicy::default();
        let received_at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let freshness = policy.evaluate(StatusCode::OK, &upstream, received_at).unwrap();
        let object = CachedObject::new(StatusCode::OK, &upstream, Bytes::from_static(b"hello"), received_at, freshness);
        assert!(object.headers.get("x-hop").is_none() && object.headers.get("content-length").is_none());
        assert!(object.headers.get("age").is_none());
        assert!(object.downstream_headers().all(|(name, _)| name != "surrogate-control"));
        let back = CachedObject::decode(&object.encode_meta(), object.body.clone(), &policy).unwrap();
        assert_eq!(back.status, StatusCode::OK);
        assert_eq!(back.received_at, received_at);
        assert_eq!(back.freshness, object.freshness);
        assert_eq!(back.headers, object.headers);
        assert_eq!(back.validators().etag, "\"abc\"");
        assert_eq!(object.age_seconds(received_at + Duration::from_secs(5)), 35);
    }

    #[test]
    fn a_304_renews_the_copy_with_its_headers_and_keeps_the_body() {
        let policy = FreshnessPolicy::default();
        let first = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let upstream = headers(&[
            ("content-type", "video/mp4"),
            ("cache-control", "public, max-age=10"),
            ("etag", "\"v1\""),
            ("last-modified", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ]);
        let freshness = policy.evaluate(StatusCode::OK, &upstream, first).unwrap();
        let object = CachedObject::new(StatusCode::OK, &upstream, Bytes::from_static(b"body"), first, freshness);
        let conditions = object.revalidation_conditions();
        assert_eq!(conditions.get(header::IF_NONE_MATCH).unwrap(), "\"v1\"");
        assert_eq!(conditions.get(header::IF_MODIFIED_SINCE).unwrap(), "Tue, 14 Nov 2023 22:13:20 GMT");

        let later = first + Duration::from_secs(60);
        let not_modified = headers(&[("cache-control", "public, max-age=600"), ("etag", "\"v1\""), ("age", "5")]);
        let renewed = object.renewed(&not_modified, later, &policy).unwrap();
        assert_eq!(renewed.body, object.body);
        assert_eq!(renewed.received_at, later);
        assert_eq!(renewed.headers.get(header::CACHE_CONTROL).unwrap(), "public, max-age=600");
        assert_eq!(renewed.headers.get(header::CONTENT_TYPE).unwrap(), "video/mp4", "kept from the copy");
        assert!(renewed.headers.get(header::AGE).is_none());
        assert_eq!(renewed.freshness.initial_age, Duration::from_secs(5));
        assert_eq!(renewed.state(later + Duration::from_secs(100)), CacheState::Fresh);

        let no_store = headers(&[("cache-control", "no-store")]);
        assert!(object.renewed(&no_store, later, &policy).is_none());
        let gone = CachedObject { status: StatusCode::NOT_FOUND, ..object };
        assert!(gone.revalidation_conditions().is_empty());
    }

    #[test]
    fn stored_headers_do_not_share_the_upstream_buffer() {
        let buffer = bytes::Bytes::from_static(b"video/mp4 public, max-age=60");
        let mut upstream = HeaderMap::new();
        upstream.insert(header::CONTENT_TYPE, HeaderValue::from_maybe_shared(buffer.slice(0..9)).unwrap());
        upstream.insert(header::CACHE_CONTROL, HeaderValue::from_maybe_shared(buffer.slice(10..)).unwrap());
        let stored = stored_headers(&upstream);
        assert_eq!(stored, upstream);
        let range = buffer.as_ptr_range();
        for value in stored.values() {
            assert!(!range.contains(&value.as_bytes().as_ptr()), "{value:?} points into the upstream's buffer");
        }
    }

    #[test]
    fn foreign_or_damaged_meta_is_refused() {
        let policy = FreshnessPolicy::default();
        for meta in [&b""[..], b"something else\n200 0\n", b"marquee-edge-meta 1\nxyz\n", b"\xff\xfe"] {
            assert!(CachedObject::decode(meta, Bytes::new(), &policy).is_none(), "{meta:?}");
        }
    }
}
