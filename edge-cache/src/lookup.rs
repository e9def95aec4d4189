//! The lookup order of a request for a cache key: memory, a fill in flight, disk, then a new fill; and the
//! answer from a whole copy (conditionals, ranges, `Age`, HEAD).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use http::header;
use http::{Method, Request, Response, StatusCode};
use marquee_http::response::{build, error_response, plain};
use marquee_http::selection::{self, Selection};
use marquee_http::RequestBody;
use tracing::warn;

use crate::error::Refusal;
use crate::fill::Joined;
use crate::freshness::CacheState;
use crate::key::CacheKey;
use crate::metrics::{CacheStatus, Tier};
use crate::object::CachedObject;
use crate::response::EdgeBody;
use crate::state::Edge;

/// The lookup order: memory, a fill in flight, disk, then a new fill.
pub(crate) async fn serve_key(
    edge: &Arc<Edge>,
    request: &Request<RequestBody>,
    key: CacheKey,
) -> (CacheStatus, Tier, Response<EdgeBody>) {
    let now = SystemTime::now();
    let mut stale: Option<(Arc<CachedObject>, Tier)> = None;
    if let Some(object) = edge.memory.get(key.as_str()) {
        match object.state(now) {
            CacheState::Fresh => return answer(edge, request, &object, CacheStatus::Hit, Tier::Memory),
            CacheState::StaleWhileRevalidate => {
                edge.refresh_in_background(&key, &object);
                return answer(edge, request, &object, CacheStatus::Stale, Tier::Memory);
            }
            CacheState::StaleIfError | CacheState::Expired => stale = Some((object, Tier::Memory)),
        }
    }
    let mut joined = edge.fills.find(key.as_str()).map(Joined::Waiter);
    if joined.is_none() && stale.is_none() {
        let purges_before = edge.purges.load(Ordering::Acquire);
        if let Some(object) = edge.read_disk(&key).await {
            match object.state(now) {
                CacheState::Fresh => {
                    edge.promote(&key, &object, purges_before);
                    return answer(edge, request, &object, CacheStatus::Hit, Tier::Disk);
                }
                CacheState::StaleWhileRevalidate => {
                    edge.refresh_in_background(&key, &object);
                    return answer(edge, request, &object, CacheStatus::Stale, Tier::Disk);
                }
                CacheState::StaleIfError | CacheState::Expired => stale = Some((object, Tier::Disk)),
            }
        }
    }
    let joined = match joined.take() {
        Some(joined) => joined,
        None => edge.start_fill(&key, stale.as_ref().map(|(object, _)| object.clone())),
    };
    let (fill, cache) = match joined {
        Joined::Leader(fill) => (fill, CacheStatus::Miss),
        Joined::Waiter(fill) => {
            edge.metrics.observe_waiter();
            (fill, CacheStatus::Coalesced)
        }
    };
    let serve_stale = |stale: Option<(Arc<CachedObject>, Tier)>, now: SystemTime| {
        stale.filter(|(object, _)| object.state(now).usable_on_error())
    };
    let head = match fill.head().await {
        Ok(head) => head,
        Err(failure) => {
            if let Some((object, tier)) = serve_stale(stale, SystemTime::now()) {
                return answer(edge, request, &object, CacheStatus::Stale, tier);
            }
            return (CacheStatus::Error, Tier::None, error_response(&Refusal::Fill(failure)));
        }
    };
    if head.status.is_server_error() {
        if let Some((object, tier)) = serve_stale(stale, SystemTime::now()) {
            return answer(edge, request, &object, CacheStatus::Stale, tier);
        }
    }
    // A plain GET streams as the body arrives; ranges, conditionals and HEAD answer from the whole object.
    let plain_get = request.method() == Method::GET
        && head.status == StatusCode::OK
        && !request.headers().contains_key(header::RANGE)
        && !selection::has_preconditions(request.headers());
    if !plain_get {
        return match fill.object().await {
            Ok(object) => answer(edge, request, &object, cache, Tier::Upstream),
            Err(failure) => (CacheStatus::Error, Tier::None, error_response(&Refusal::Fill(failure))),
        };
    }
    let mut response = Response::builder().status(head.status);
    for (name, value) in head.headers.iter().filter(|(name, _)| **name != crate::freshness::SURROGATE_CONTROL) {
        response = response.header(name, value);
    }
    if let Some(length) = head.content_length {
        response = response.header(header::CONTENT_LENGTH, length);
    }
    let body = EdgeBody::stream(fill.stream(), head.content_length, edge.metrics.response_bytes(Tier::Upstream));
    (cache, Tier::Upstream, build(response, body))
}

impl Edge {
    async fn read_disk(&self, key: &CacheKey) -> Option<Arc<CachedObject>> {
        let disk = self.disk.clone()?;
        // The index is in memory: a key the tier does not hold costs no trip to the blocking pool.
        if !disk.contains(key.as_str()) {
            return None;
        }
        let lookup = key.as_str().to_owned();
        let entry = match tokio::task::spawn_blocking(move || disk.get(&lookup)).await {
            Ok(Ok(entry)) => entry?,
            Ok(Err(error)) => {
                warn!(key = %key, %error, "Disk tier read failed; treating as a miss.");
                return None;
            }
            Err(_) => return None,
        };
        CachedObject::decode(&entry.meta, entry.body, &self.config.freshness).map(Arc::new)
    }

    /// Offers a disk hit to the memory tier, unless a purge started since `purges_before` (read before the disk
    /// read): then the copy may be one the purge removed. Checked again after the insert, since a purge bumps
    /// the count before it removes from memory: one that came in between is undone here.
    fn promote(&self, key: &CacheKey, object: &Arc<CachedObject>, purges_before: u64) {
        if self.purges.load(Ordering::Acquire) != purges_before {
            return;
        }
        self.memory.insert(key.as_str().to_owned(), object.clone());
        if self.purges.load(Ordering::Acquire) != purges_before {
            self.memory.remove(key.as_str());
        }
    }
}

/// The answer from a whole copy: conditionals (304/412), ranges (206/416), `Age`, HEAD.
fn answer(
    edge: &Edge,
    request: &Request<RequestBody>,
    object: &CachedObject,
    cache: CacheStatus,
    tier: Tier,
) -> (CacheStatus, Tier, Response<EdgeBody>) {
    let is_get = request.method() == Method::GET;
    let mut response = Response::builder().status(object.status);
    for (name, value) in object.downstream_headers() {
        response = response.header(name, value);
    }
    response = response.header(header::AGE, object.age_seconds(SystemTime::now()));
    if object.status != StatusCode::OK {
        // Negative (404/410) and other stored statuses are answered as they came.
        let length = object.body.len();
        let body = if is_get {
            EdgeBody::bytes(object.body.clone(), edge.metrics.response_bytes(tier))
        } else {
            EdgeBody::empty()
        };
        return (cache, tier, build(response.header(header::CONTENT_LENGTH, length), body));
    }
    let size = object.body.len() as u64;
    let selection = selection::select(request.headers(), is_get, &object.validators(), size);
    match selection {
        Selection::NotModified => {
            let mut not_modified = Response::builder().status(StatusCode::NOT_MODIFIED);
            for name in [header::ETAG, header::LAST_MODIFIED, header::CACHE_CONTROL, header::AGE] {
                if let Some(value) = response.headers_ref().and_then(|headers| headers.get(&name)) {
                    not_modified = not_modified.header(name, value);
                }
            }
            return (cache, tier, build(not_modified, EdgeBody::empty()));
        }
        Selection::PreconditionFailed => return (cache, tier, plain(StatusCode::PRECONDITION_FAILED)),
        _ => {}
    }
    response = response.header(header::ACCEPT_RANGES, "bytes").status(selection.status());
    if let Some(content_range) = selection.content_range() {
        response = response.header(header::CONTENT_RANGE, content_range);
    }
    let Some(slice) = selection.body_range() else {
        return (cache, tier, build(response.header(header::CONTENT_LENGTH, 0), EdgeBody::empty()));
    };
    response = response.header(header::CONTENT_LENGTH, slice.end - slice.start);
    let body = if is_get {
        let range = usize::try_from(slice.start).unwrap_or(0)..usize::try_from(slice.end).unwrap_or(0);
        EdgeBody::bytes(object.body.slice(range), edge.metrics.response_bytes(tier))
    } else {
        EdgeBody::empty()
    };
    (cache, tier, build(response, body))
}
