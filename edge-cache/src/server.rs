//! The hyper shell of the edge: verifies tokens, looks a key up in memory, in-flight fills and disk, fills
//! misses from the upstream (one fetch per key), and answers with ranges and conditionals from the copy.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use marquee_origin::http::conditional::{self, Outcome, Preconditions};
use marquee_origin::http::path::decode_request_path;
use marquee_origin::http::range::{self, RangeDecision};
use marquee_origin::listener::{serve_connections, serve_on_worker_threads};
use marquee_origin::RequestAuthorizer;
use prometheus::IntCounter;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::budget::{BudgetFull, FillBudget, FillReservation};
use crate::config::EdgeConfig;
use crate::disk::DiskTier;
use crate::fill::{Fill, FillFailure, FillGuard, FillHead, Fills, Joined};
use crate::freshness::{CacheState, Freshness, FreshnessSource};
use crate::key::{CacheKey, PurgeTarget, QueryAllowList};
use crate::memory::{MemoryConfig, MemoryTier};
use crate::metrics::{CacheStatus, Metrics, Tier};
use crate::object::{stored_headers, CachedObject};
use crate::upstream::Upstreams;

const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
const CORS_ALLOWED_HEADERS: &str = "Range, If-Range, If-None-Match, If-Modified-Since";
const CORS_EXPOSED_HEADERS: &str = "Content-Length, Content-Range, ETag, Accept-Ranges, Last-Modified, Age";
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Where the purge API lives: `POST /.marquee/purge?target=film/` with `Authorization: Bearer TOKEN`.
pub const PURGE_PATH: &str = "/.marquee/purge";

/// Why the edge could not start.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("the edge settings do not work together:\n  - {}", problems.join("\n  - "))]
    InvalidConfig { problems: Vec<String> },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot open the disk tier: {0}")]
    Disk(#[from] crate::disk::DiskError),
    #[error("upstreams: {0}")]
    Upstreams(#[from] crate::hashing::HashingError),
}

/// Shared by every connection.
pub(crate) struct Edge {
    config: EdgeConfig,
    authorizer: Arc<dyn RequestAuthorizer>,
    allow: QueryAllowList,
    memory: MemoryTier<Arc<CachedObject>>,
    disk: Option<Arc<DiskTier>>,
    fills: Fills,
    /// Bytes the bodies of fills in flight may hold (carved out of `memory_bytes`).
    fill_budget: FillBudget,
    /// Bumped by every purge before it removes anything, so that a disk hit read before the purge is not
    /// promoted into memory after it.
    purges: AtomicU64,
    upstreams: Arc<Upstreams>,
    metrics: Metrics,
}

/// A bound, not yet running edge.
pub struct EdgeServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    edge: Arc<Edge>,
}

impl std::fmt::Debug for EdgeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl EdgeServer {
    /// Validates `config`, opens the disk tier (reloading what a previous run left) and binds.
    /// `upstream_keys`: the key ring the edge signs its upstream requests with (`None`: unsigned upstream).
    pub async fn bind(
        config: EdgeConfig,
        authorizer: Arc<dyn RequestAuthorizer>,
        upstream_keys: Option<marquee_signing::KeyRing>,
        tls: Option<TlsAcceptor>,
    ) -> Result<Self, EdgeError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(EdgeError::InvalidConfig { problems });
        }
        let memory_config = MemoryConfig {
            capacity_bytes: config.memory_tier_bytes(),
            max_object_bytes: config.memory_max_object_bytes,
            ..MemoryConfig::default()
        };
        let memory = MemoryTier::new(memory_config)
            .map_err(|error| EdgeError::InvalidConfig { problems: vec![error.to_string()] })?;
        let disk = match &config.disk_dir {
            Some(dir) => {
                let (dir, budget) = (dir.clone(), config.disk_bytes);
                let tier = tokio::task::spawn_blocking(move || DiskTier::open(dir, budget))
                    .await
                    .expect("the disk tier opener does not panic")?;
                info!(dir = %tier.dir().display(), entries = tier.len(), bytes = tier.used_bytes(), "Disk tier loaded.");
                Some(Arc::new(tier))
            }
            None => None,
        };
        let upstreams = Arc::new(Upstreams::new(
            &config.upstreams,
            upstream_keys,
            config.upstream_token_ttl,
            config.upstream_connect_timeout,
            config.upstream_timeout,
            config.upstream_down_for,
        )?);
        let listener =
            TcpListener::bind(config.listen).await.map_err(|source| EdgeError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr().map_err(|source| EdgeError::Bind { addr: config.listen, source })?;
        let fill_budget = FillBudget::new(config.fill_bytes());
        let allow = QueryAllowList::new(config.cache_query_params.iter().cloned())
            .map_err(|error| EdgeError::InvalidConfig { problems: vec![error.to_string()] })?;
        let edge = Edge {
            config,
            authorizer,
            allow,
            memory,
            disk,
            fills: Fills::default(),
            fill_budget,
            purges: AtomicU64::new(0),
            upstreams,
            metrics: Metrics::new(),
        };
        Ok(Self { listener, local_addr, tls, edge: Arc::new(edge) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Like [`EdgeServer::run`], on `workers` threads with a single-threaded runtime each (see
    /// `marquee_origin::listener::serve_on_worker_threads`); blocks the calling thread. Call it outside
    /// `runtime`, which bound the edge, runs `shutdown` and the upstream health probes.
    pub fn run_on_worker_threads(
        self,
        runtime: &tokio::runtime::Runtime,
        workers: usize,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let EdgeServer { listener, local_addr, tls, edge } = self;
        info!(addr = %local_addr, upstreams = ?edge.config.upstreams, workers, "Edge listening.");
        let health = runtime.spawn(edge.upstreams.clone().probe_health(edge.config.health_interval));
        let serve = move |listener, shutdown| {
            let edge = edge.clone();
            let tls = tls.clone();
            async move {
                let settings = edge.config.connections.clone();
                let handler = move |request, _remote: SocketAddr| {
                    let edge = edge.clone();
                    async move { handle(&edge, request).await }
                };
                serve_connections(listener, &settings, tls, handler, shutdown).await;
            }
        };
        let result = serve_on_worker_threads(runtime, listener, workers, serve, shutdown);
        health.abort();
        info!("Edge stopped.");
        result
    }

    /// Serves until `shutdown` completes, then lets in-flight responses finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let EdgeServer { listener, local_addr, tls, edge } = self;
        info!(addr = %local_addr, upstreams = ?edge.config.upstreams, "Edge listening.");
        let health = tokio::spawn(edge.upstreams.clone().probe_health(edge.config.health_interval));
        let settings = edge.config.connections.clone();
        let handler = move |request, _remote: SocketAddr| {
            let edge = edge.clone();
            async move { handle(&edge, request).await }
        };
        serve_connections(listener, &settings, tls, handler, shutdown).await;
        health.abort();
        info!("Edge stopped.");
    }
}

async fn handle(edge: &Arc<Edge>, request: Request<Incoming>) -> Response<EdgeBody> {
    let (cache, tier, mut response) = route(edge, &request).await;
    edge.metrics.observe_request(cache, tier);
    let headers = response.headers_mut();
    headers.insert("x-cache", HeaderValue::from_static(cache.header()));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSED_HEADERS));
    response
}

async fn route(edge: &Arc<Edge>, request: &Request<Incoming>) -> (CacheStatus, Tier, Response<EdgeBody>) {
    let method = request.method();
    let path = request.uri().path();
    if path == PURGE_PATH {
        return (CacheStatus::Bypass, Tier::None, purge(edge, request).await);
    }
    if method == Method::OPTIONS {
        let response = Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS)
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_ALLOWED_HEADERS)
            .header(header::ACCESS_CONTROL_MAX_AGE, "86400");
        return (CacheStatus::Bypass, Tier::None, build(response, EdgeBody::empty()));
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        return (CacheStatus::Refused, Tier::None, response);
    }
    match path {
        "/healthz" => return (CacheStatus::Bypass, Tier::None, text(StatusCode::OK, "text/plain", "ok\n")),
        "/readyz" => {
            let response = if edge.upstreams.any_up() {
                text(StatusCode::OK, "text/plain", "ready\n")
            } else {
                plain(StatusCode::SERVICE_UNAVAILABLE)
            };
            return (CacheStatus::Bypass, Tier::None, response);
        }
        "/metrics" => {
            edge.refresh_tier_metrics();
            return (
                CacheStatus::Bypass,
                Tier::None,
                text(StatusCode::OK, METRICS_CONTENT_TYPE, edge.metrics.render()),
            );
        }
        _ => {}
    }
    let decoded = match decode_request_path(path) {
        Ok(decoded) => decoded,
        Err(rejection) => {
            debug!(reason = rejection.as_str(), "Request path refused.");
            return (CacheStatus::Refused, Tier::None, plain(StatusCode::BAD_REQUEST));
        }
    };
    // Client IPs are not bound here: behind a load balancer the peer address is not the viewer's.
    let unspecified = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let authorized = match edge.authorizer.authorize(&decoded, request.uri().query(), unspecified) {
        Ok(authorized) => authorized,
        Err(denial) => {
            debug!(reason = denial.as_str(), "Request denied.");
            return (CacheStatus::Refused, Tier::None, plain(StatusCode::FORBIDDEN));
        }
    };
    let key = match CacheKey::from_object_path(authorized.as_str(), request.uri().query(), &edge.allow) {
        Ok(key) => key,
        Err(error) => {
            debug!(reason = error.as_str(), "No cache key for the request.");
            return (CacheStatus::Refused, Tier::None, plain(StatusCode::BAD_REQUEST));
        }
    };
    serve_key(edge, request, key).await
}

/// The lookup order: memory, a fill in flight, disk, then a new fill.
async fn serve_key(
    edge: &Arc<Edge>,
    request: &Request<Incoming>,
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
            return (CacheStatus::Error, Tier::None, failure_response(failure));
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
        && !has_preconditions(request.headers());
    if !plain_get {
        return match fill.object().await {
            Ok(object) => answer(edge, request, &object, cache, Tier::Upstream),
            Err(failure) => (CacheStatus::Error, Tier::None, failure_response(failure)),
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
    /// Starts a fill for `key` unless one is in flight (then joins it); with the `stale` copy, if any, to
    /// revalidate instead of fetching the body again.
    fn start_fill(self: &Arc<Self>, key: &CacheKey, stale: Option<Arc<CachedObject>>) -> Joined {
        let joined = self.fills.join(key.as_str());
        if let Joined::Leader(fill) = &joined {
            let (edge, owned, fill) = (self.clone(), key.clone(), fill.clone());
            tokio::spawn(async move { edge.run_fill(owned, fill, stale).await });
            self.prefetch_after(key);
        }
        joined
    }

    /// Refreshes a stale copy in the background, once: a fill already in flight is the refresh.
    fn refresh_in_background(self: &Arc<Self>, key: &CacheKey, stale: &Arc<CachedObject>) {
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

    /// Removes `key` from both tiers.
    async fn forget(&self, key: &CacheKey) {
        self.memory.remove(key.as_str());
        if let Some(disk) = self.disk.clone() {
            let lookup = key.as_str().to_owned();
            if let Ok(Err(error)) = tokio::task::spawn_blocking(move || disk.remove(&lookup)).await {
                warn!(key = %key, %error, "Could not remove a purged object from disk.");
            }
        }
    }

    fn refresh_tier_metrics(&self) {
        self.memory.run_pending_tasks();
        let stats = self.memory.stats();
        let evicted = stats.evicted(crate::memory::EvictionCause::Capacity);
        self.metrics.set_tier(Tier::Memory, self.memory.weighted_bytes(), self.memory.entry_count(), evicted);
        if let Some(disk) = &self.disk {
            let stats = disk.stats();
            self.metrics.set_tier(Tier::Disk, stats.used_bytes, stats.entries, stats.evictions);
        }
        let budget = &self.fill_budget;
        self.metrics.set_body_memory(budget.total_bytes(), budget.reserved_bytes(), crate::body::mapped_bytes());
    }
}

/// Freshness for a response that is passed on but not stored.
fn uncached_freshness() -> Freshness {
    Freshness {
        ttl: Duration::ZERO,
        stale_while_revalidate: Duration::ZERO,
        stale_if_error: Duration::ZERO,
        initial_age: Duration::ZERO,
        source: FreshnessSource::Heuristic,
        immutable: false,
    }
}

fn has_preconditions(headers: &HeaderMap) -> bool {
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

/// The answer from a whole copy: conditionals (304/412), ranges (206/416), `Age`, HEAD.
fn answer(
    edge: &Edge,
    request: &Request<Incoming>,
    object: &CachedObject,
    cache: CacheStatus,
    tier: Tier,
) -> (CacheStatus, Tier, Response<EdgeBody>) {
    let headers = request.headers();
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
    let validators = object.validators();
    let header_str = |name: &header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    let list = |name: &header::HeaderName| {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let (if_match, if_none_match) = (list(&header::IF_MATCH), list(&header::IF_NONE_MATCH));
    let preconditions = Preconditions {
        if_match: if_match.as_deref(),
        if_none_match: if_none_match.as_deref(),
        if_modified_since: header_str(&header::IF_MODIFIED_SINCE),
        if_unmodified_since: header_str(&header::IF_UNMODIFIED_SINCE),
    };
    match conditional::evaluate(&preconditions, &validators) {
        Outcome::Serve => {}
        Outcome::NotModified => {
            let mut not_modified = Response::builder().status(StatusCode::NOT_MODIFIED);
            for name in [header::ETAG, header::LAST_MODIFIED, header::CACHE_CONTROL, header::AGE] {
                if let Some(value) = response.headers_ref().and_then(|headers| headers.get(&name)) {
                    not_modified = not_modified.header(name, value);
                }
            }
            return (cache, tier, build(not_modified, EdgeBody::empty()));
        }
        Outcome::PreconditionFailed => return (cache, tier, plain(StatusCode::PRECONDITION_FAILED)),
    }
    let size = object.body.len() as u64;
    let decision = if is_get && conditional::range_allowed(header_str(&header::IF_RANGE), &validators) {
        range::decide(header_str(&header::RANGE), size)
    } else {
        RangeDecision::Full
    };
    response = response.header(header::ACCEPT_RANGES, "bytes");
    let slice = match decision {
        RangeDecision::Unsatisfiable => {
            let response = response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, range::unsatisfied_content_range(size))
                .header(header::CONTENT_LENGTH, 0);
            return (cache, tier, build(response, EdgeBody::empty()));
        }
        RangeDecision::Full => 0..size,
        RangeDecision::Partial(range) => {
            response =
                response.status(StatusCode::PARTIAL_CONTENT).header(header::CONTENT_RANGE, range.content_range(size));
            range.first..range.last + 1
        }
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

fn failure_response(failure: FillFailure) -> Response<EdgeBody> {
    let status = match failure {
        FillFailure::Upstream(crate::upstream::UpstreamError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
        FillFailure::Busy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut response = plain(status);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// `POST /.marquee/purge?target=film/` (an asset or directory prefix) or `?target=film/master.m3u8` (one
/// object), with `Authorization: Bearer <purge_token>`. Removes from memory and disk; answers JSON counts.
async fn purge(edge: &Edge, request: &Request<Incoming>) -> Response<EdgeBody> {
    let Some(expected) = &edge.config.purge_token else { return plain(StatusCode::NOT_FOUND) };
    if request.method() != Method::POST {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return plain(StatusCode::UNAUTHORIZED);
    }
    let target = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("target="))
        .map(percent_decode);
    let target = match target.as_deref().map(PurgeTarget::parse) {
        Some(Ok(target)) => target,
        Some(Err(error)) => return text(StatusCode::BAD_REQUEST, "text/plain", format!("bad purge target: {error}\n")),
        None => return text(StatusCode::BAD_REQUEST, "text/plain", "give ?target=asset/ or ?target=asset/file\n"),
    };
    // Before anything is removed: disk hits read until now are not promoted into memory any more.
    edge.purges.fetch_add(1, Ordering::AcqRel);
    // Fills next: one that stores after this point sees its mark and removes what it stored.
    let fills = edge.fills.purge(|key| target.matches_path(key.split_once('?').map_or(key, |(path, _)| path)));
    // An object target covers its query variants too (`path?v=2`), which exist only with an allow-list.
    let (exact, prefix) = match &target {
        PurgeTarget::Object(path) => (Some(path.clone()), (!edge.allow.is_empty()).then(|| format!("{path}?"))),
        PurgeTarget::Prefix(prefix) => (None, Some(prefix.clone())),
    };
    let memory = exact.as_deref().map_or(0, |path| usize::from(edge.memory.remove(path)))
        + prefix.as_deref().map_or(0, |prefix| edge.memory.remove_prefix(prefix));
    let disk = match edge.disk.clone() {
        Some(disk) => {
            let removed = tokio::task::spawn_blocking(move || -> Result<usize, crate::disk::DiskError> {
                let exact = match exact {
                    Some(path) => usize::from(disk.remove(&path)?),
                    None => 0,
                };
                Ok(exact + prefix.map_or(Ok(0), |prefix| disk.purge_prefix(&prefix))?)
            });
            match removed.await {
                Ok(Ok(removed)) => removed,
                Ok(Err(error)) => {
                    warn!(target = %target, %error, "Purge could not remove every disk entry.");
                    0
                }
                Err(_) => 0,
            }
        }
        None => 0,
    };
    edge.metrics.observe_purge(Tier::Memory, memory as u64);
    edge.metrics.observe_purge(Tier::Disk, disk as u64);
    info!(target = %target, memory, disk, fills, "Purged.");
    let body = format!(
        "{{\"target\":\"{}\",\"memory\":{memory},\"disk\":{disk},\"fills\":{fills}}}\n",
        target.as_path().replace('"', "\\\"")
    );
    text(StatusCode::OK, "application/json", body)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn plain(status: StatusCode) -> Response<EdgeBody> {
    let reason = status.canonical_reason().unwrap_or("error");
    text(status, "text/plain; charset=utf-8", format!("{} {reason}\n", status.as_u16()))
}

fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<EdgeBody> {
    let body = body.into();
    let response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::CACHE_CONTROL, "no-store");
    build(response, EdgeBody::text(body))
}

fn build(builder: http::response::Builder, body: EdgeBody) -> Response<EdgeBody> {
    builder.body(body).expect("every header set here is valid")
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, FillFailure>> + Send>>;

/// A response body: bytes in hand (a copy, a text), or a fill's chunks as they arrive.
pub struct EdgeBody {
    pending: Bytes,
    stream: Option<ChunkStream>,
    remaining: Option<u64>,
    sent: Option<IntCounter>,
}

impl std::fmt::Debug for EdgeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeBody")
            .field("pending", &self.pending.len())
            .field("streaming", &self.stream.is_some())
            .finish()
    }
}

impl EdgeBody {
    fn empty() -> Self {
        Self { pending: Bytes::new(), stream: None, remaining: Some(0), sent: None }
    }

    fn text(bytes: Bytes) -> Self {
        Self { remaining: Some(bytes.len() as u64), pending: bytes, stream: None, sent: None }
    }

    fn bytes(bytes: Bytes, sent: IntCounter) -> Self {
        Self { remaining: Some(bytes.len() as u64), pending: bytes, stream: None, sent: Some(sent) }
    }

    fn stream(
        stream: impl Stream<Item = Result<Bytes, FillFailure>> + Send + 'static,
        length: Option<u64>,
        sent: IntCounter,
    ) -> Self {
        Self { pending: Bytes::new(), stream: Some(Box::pin(stream)), remaining: length, sent: Some(sent) }
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = FillFailure;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, FillFailure>>> {
        let this = self.get_mut();
        let chunk = if !this.pending.is_empty() {
            std::mem::take(&mut this.pending)
        } else {
            let Some(stream) = &mut this.stream else { return Poll::Ready(None) };
            match std::task::ready!(stream.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => chunk,
                Some(Err(failure)) => {
                    this.stream = None;
                    return Poll::Ready(Some(Err(failure)));
                }
                None => {
                    this.stream = None;
                    return Poll::Ready(None);
                }
            }
        };
        if let Some(remaining) = &mut this.remaining {
            *remaining = remaining.saturating_sub(chunk.len() as u64);
        }
        if let Some(sent) = &this.sent {
            sent.inc_by(chunk.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && (self.stream.is_none() || self.remaining == Some(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(remaining) => SizeHint::with_exact(remaining),
            None => SizeHint::default(),
        }
    }
}
