//! Filling the tiers from upstream: one fill per key (the leader's task), stale copies refreshed in the
//! background and revalidated with their validators, prefetch of following segments, the fill budget.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{header, StatusCode};
use http_body_util::BodyExt;
use tracing::{debug, warn};

use crate::budget::{BudgetFull, FillReservation};
use crate::fill::{Fill, FillFailure, FillGuard, FillHead, Joined};
use crate::freshness::{CacheState, Freshness, FreshnessSource};
use crate::key::CacheKey;
use crate::object::{stored_headers, CachedObject};
use crate::state::Edge;

impl Edge {
    /// Starts a fill for `key` unless one is in flight (then joins it); with the `stale` copy, if any, to
    /// revalidate instead of fetching the body again.
    pub(crate) fn start_fill(self: &Arc<Self>, key: &CacheKey, stale: Option<Arc<CachedObject>>) -> Joined {
        let joined = self.fills.join(key.as_str());
        if let Joined::Leader(fill) = &joined {
            let (edge, owned, fill) = (self.clone(), key.clone(), fill.clone());
            tokio::spawn(async move { edge.run_fill(owned, fill, stale).await });
            self.prefetch_after(key);
        }
        joined
    }

    /// Refreshes a stale copy in the background, once: a fill already in flight is the refresh.
    pub(crate) fn refresh_in_background(self: &Arc<Self>, key: &CacheKey, stale: &Arc<CachedObject>) {
        // In this order: a refresh that finished between this request's lookup and now has put a fresh copy
        // in memory before leaving the fills, so one of the two checks sees it.
        if self.fills.contains(key.as_str()) {
            return;
        }
        let refreshed =
            self.memory.get(key.as_str()).is_some_and(|object| object.state(SystemTime::now()) == CacheState::Fresh);
        if refreshed {
            return;
        }
        if let Joined::Leader(fill) = self.fills.join(key.as_str()) {
            let (edge, key, stale) = (self.clone(), key.clone(), stale.clone());
            tokio::spawn(async move { edge.run_fill(key, fill, Some(stale)).await });
        }
    }

    /// After a media segment miss, fetches the next ones of the same rendition in the background.
    /// Prefetch is optional work: it starts only while at least half the fill budget is free, so that it never
    /// makes a viewer's miss wait for room.
    fn prefetch_after(self: &Arc<Self>, key: &CacheKey) {
        for next in key.next_segments(self.config.prefetch_segments) {
            if !self.fill_budget.has_room_for(self.fill_budget.total_bytes() / 2) {
                return;
            }
            let on_disk = self.disk.as_ref().is_some_and(|disk| disk.contains(next.as_str()));
            if on_disk || self.fills.contains(next.as_str()) || self.memory.contains(next.as_str()) {
                continue;
            }
            if let Joined::Leader(fill) = self.fills.join(next.as_str()) {
                self.metrics.observe_prefetch();
                let edge = self.clone();
                tokio::spawn(async move { edge.run_fill(next, fill, None).await });
            }
        }
    }

    /// The leader's work: fetch (or revalidate `stale`), hand chunks to the waiters, store the object, release
    /// the key.
    async fn run_fill(self: Arc<Self>, key: CacheKey, fill: Arc<Fill>, stale: Option<Arc<CachedObject>>) {
        let guard = FillGuard(fill.clone());
        self.metrics.fills_in_flight().inc();
        let mut reservation = self.fill_budget.empty();
        let outcome = self.fetch_into(&key, &fill, &mut reservation, stale.as_deref()).await;
        match &outcome {
            Ok((object, cacheable)) => {
                fill.finish(Ok(object.clone()));
                if *cacheable && !fill.is_purged() {
                    self.store(&key, object).await;
                    // A purge that marked this fill after the check above may have run its removals before
                    // the store: remove what was stored (the purge marks fills before it removes).
                    if fill.is_purged() {
                        self.forget(&key).await;
                    }
                }
            }
            Err(failure) => {
                self.metrics.observe_fill_failure(failure.as_str());
                fill.finish(Err(*failure));
            }
        }
        self.fills.remove(key.as_str(), &fill);
        self.metrics.fills_in_flight().dec();
        // Given back once the body is in the tiers (counted by the memory tier's budget) or gone.
        drop(reservation);
        drop(guard);
    }

    /// Fetches `key` into `fill`, holding no more body bytes than `reservation` covers (it grows with the body,
    /// waiting for room in the fill budget). With a `stale` copy that has validators, the request is
    /// conditional, and a 304 renews the copy without sending its body again.
    async fn fetch_into(
        &self,
        key: &CacheKey,
        fill: &Fill,
        reservation: &mut FillReservation,
        stale: Option<&CachedObject>,
    ) -> Result<(Arc<CachedObject>, bool), FillFailure> {
        let conditions = stale.map(CachedObject::revalidation_conditions).unwrap_or_default();
        let fetched = self.upstreams.fetch(key, &conditions).await.map_err(FillFailure::Upstream)?;
        let received_at = SystemTime::now();
        let (parts, mut body) = fetched.response.into_parts();
        self.metrics.observe_upstream(self.upstreams.base(fetched.node), parts.status, fetched.started.elapsed());
        if let (Some(stale), false) = (stale, conditions.is_empty()) {
            let renewed = parts.status == StatusCode::NOT_MODIFIED;
            self.metrics.observe_revalidation(renewed);
            if renewed {
                let (object, cacheable) = match stale.renewed(&parts.headers, received_at, &self.config.freshness) {
                    Some(object) => (object, true),
                    None => (CachedObject { freshness: uncached_freshness(), ..stale.clone() }, false),
                };
                let content_length = Some(object.body.len() as u64);
                fill.set_head(FillHead { status: object.status, headers: object.headers.clone(), content_length });
                return Ok((Arc::new(object), cacheable));
            }
        }
        let content_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        let limit = self.config.max_object_bytes;
        if content_length.is_some_and(|length| length > limit) {
            return Err(FillFailure::TooLarge);
        }
        let wait = self.config.upstream_timeout;
        if let Err(BudgetFull) = reservation.grow_to(content_length.unwrap_or(0), wait).await {
            warn!(key = %key, "No room in the fill budget.");
            return Err(FillFailure::Busy);
        }
        let freshness = self.config.freshness.evaluate(parts.status, &parts.headers, received_at);
        fill.set_head(FillHead { status: parts.status, headers: stored_headers(&parts.headers), content_length });
        let mut received = 0u64;
        loop {
            let frame = match tokio::time::timeout(self.config.upstream_timeout, body.frame()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    warn!(key = %key, %error, "Upstream body broke off.");
                    return Err(FillFailure::BodyBroken);
                }
                Err(_) => {
                    warn!(key = %key, "Upstream body stalled.");
                    return Err(FillFailure::BodyBroken);
                }
            };
            if let Ok(data) = frame.into_data() {
                received += data.len() as u64;
                if received > limit {
                    return Err(FillFailure::TooLarge);
                }
                // Without a Content-Length the reservation grows chunk by chunk.
                if let Err(BudgetFull) = reservation.grow_to(received, wait).await {
                    warn!(key = %key, "No room in the fill budget.");
                    return Err(FillFailure::Busy);
                }
                fill.push(data, limit)?;
            }
        }
        let body = fill.body();
        if content_length.is_some_and(|length| length != body.len() as u64) {
            return Err(FillFailure::BodyBroken);
        }
        let (freshness, cacheable) = match freshness {
            Ok(freshness) => (freshness, true),
            Err(reason) => {
                debug!(key = %key, reason = reason.as_str(), "Upstream response not stored.");
                (uncached_freshness(), false)
            }
        };
        let object = CachedObject::new(parts.status, &parts.headers, body, received_at, freshness);
        Ok((Arc::new(object), cacheable))
    }

    /// Puts a filled object in memory (if admitted) and on disk.
    async fn store(&self, key: &CacheKey, object: &Arc<CachedObject>) {
        self.memory.insert(key.as_str().to_owned(), object.clone());
        if let Some(disk) = self.disk.clone() {
            let (lookup, meta, body) = (key.as_str().to_owned(), object.encode_meta(), object.body.clone());
            match tokio::task::spawn_blocking(move || disk.insert(&lookup, &meta, &body)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => debug!(key = %key, %error, "Not stored on disk."),
                Err(_) => warn!(key = %key, "Disk write task failed."),
            }
        }
    }

    /// Removes `key` from both tiers.
    pub(crate) async fn forget(&self, key: &CacheKey) {
        self.memory.remove(key.as_str());
        if let Some(disk) = self.disk.clone() {
            let lookup = key.as_str().to_owned();
            if let Ok(Err(error)) = tokio::task::spawn_blocking(move || disk.remove(&lookup)).await {
                warn!(key = %key, %error, "Could not remove a purged object from disk.");
            }
        }
    }
}

/// Freshness for a response that is passed on but not stored.
pub(crate) fn uncached_freshness() -> Freshness {
    Freshness {
        ttl: Duration::ZERO,
        stale_while_revalidate: Duration::ZERO,
        stale_if_error: Duration::ZERO,
        initial_age: Duration::ZERO,
        source: FreshnessSource::Heuristic,
        immutable: false,
    }
}
