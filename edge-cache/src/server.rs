//! The edge as a service: its shared state, binding and running on `marquee-http`, and routing a request to
//! the admin endpoints, the purge API or a cache key (whose lookup is `lookup.rs`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use futures_util::FutureExt;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use marquee_http::admin::{Admin, AdminRoute};
use marquee_http::path::decode_request_path;
use marquee_http::response::{build, error_response, method_not_allowed};
use marquee_http::{
    serve_connections, serve_on_worker_threads, Client, RequestAuthorizer, RequestBody, TrustedProxies,
};
use marquee_settings::Problem;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::info;

use crate::budget::FillBudget;
use crate::config::EdgeConfig;
use crate::disk::DiskTier;
use crate::error::{EdgeError, Refusal};
use crate::fill::Fills;
use crate::key::{CacheKey, QueryAllowList};
use crate::lookup::serve_key;
use crate::memory::{MemoryConfig, MemoryTier};
use crate::metrics::{CacheStatus, Metrics, Tier};
use crate::purge::purge;
use crate::response::EdgeBody;
use crate::state::Edge;
use crate::upstream::Upstreams;

const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
const CORS_ALLOWED_HEADERS: &str = "Range, If-Range, If-None-Match, If-Modified-Since";
const CORS_EXPOSED_HEADERS: &str = "Content-Length, Content-Range, ETag, Accept-Ranges, Last-Modified, Age";
/// Where the purge API lives: `POST /.marquee/purge?target=film/` with `Authorization: Bearer TOKEN`.
pub const PURGE_PATH: &str = "/.marquee/purge";

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
        let memory = MemoryTier::new(memory_config).map_err(|error| EdgeError::InvalidConfig {
            problems: vec![Problem::new("memory_max_object", error.to_string())],
        })?;
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
        let metrics = Metrics::new();
        let admin = Admin::new(metrics.registry()).with_check("upstreams", {
            let upstreams = upstreams.clone();
            move || {
                let up = upstreams.any_up();
                async move {
                    if up {
                        Ok(())
                    } else {
                        Err("every upstream is down".to_owned())
                    }
                }
                .boxed()
            }
        });
        let allow = QueryAllowList::new(config.cache_query_params.iter().cloned()).map_err(|error| {
            EdgeError::InvalidConfig { problems: vec![Problem::new("cache_query_params", error.to_string())] }
        })?;
        let trusted_proxies = TrustedProxies::new(config.connections.trusted_proxies.iter().copied());
        let edge = Edge {
            trusted_proxies,
            config,
            authorizer,
            allow,
            memory,
            disk,
            fills: Fills::default(),
            fill_budget,
            purges: AtomicU64::new(0),
            upstreams,
            metrics,
            admin,
        };
        Ok(Self { listener, local_addr, tls, edge: Arc::new(edge) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Like [`EdgeServer::run`], on `workers` threads with a single-threaded runtime each (see
    /// `marquee_http::serve_on_worker_threads`); blocks the calling thread. Call it outside
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
                let handler = move |request, peer: SocketAddr| {
                    let edge = edge.clone();
                    async move { handle(&edge, request, peer).await }
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
        let handler = move |request, peer: SocketAddr| {
            let edge = edge.clone();
            async move { handle(&edge, request, peer).await }
        };
        serve_connections(listener, &settings, tls, handler, shutdown).await;
        health.abort();
        info!("Edge stopped.");
    }
}

async fn handle(edge: &Arc<Edge>, request: Request<RequestBody>, peer: SocketAddr) -> Response<EdgeBody> {
    let (cache, tier, mut response) = route(edge, &request, peer).await;
    edge.metrics.observe_request(cache, tier);
    let headers = response.headers_mut();
    headers.insert("x-cache", HeaderValue::from_static(cache.header()));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSED_HEADERS));
    response
}

async fn route(
    edge: &Arc<Edge>,
    request: &Request<RequestBody>,
    peer: SocketAddr,
) -> (CacheStatus, Tier, Response<EdgeBody>) {
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
        return (CacheStatus::Refused, Tier::None, method_not_allowed(ALLOWED_METHODS));
    }
    if let Some(admin) = AdminRoute::of_path(path) {
        if admin == AdminRoute::Metrics {
            edge.refresh_tier_metrics();
        }
        return (CacheStatus::Bypass, Tier::None, edge.admin.answer(admin).await);
    }
    let key = match cache_key(edge, request, peer) {
        Ok(key) => key,
        Err(refusal) => return (CacheStatus::Refused, Tier::None, error_response(&refusal)),
    };
    serve_key(edge, request, key).await
}

/// The cache key a request names, once its path is decoded and its token accepted.
fn cache_key(edge: &Edge, request: &Request<RequestBody>, peer: SocketAddr) -> Result<CacheKey, Refusal> {
    let decoded = decode_request_path(request.uri().path()).map_err(Refusal::BadPath)?;
    // The viewer's own address and session: tokens bound to either are checked here, at the edge that faces
    // the viewer; the edge signs its upstream requests itself, unbound.
    let client = Client::behind(peer.ip(), request.headers(), &edge.trusted_proxies);
    let authorized = edge.authorizer.authorize(&decoded, request.uri().query(), &client).map_err(Refusal::Denied)?;
    CacheKey::from_object_path(authorized.as_str(), request.uri().query(), &edge.allow).map_err(Refusal::NoCacheKey)
}
