//! The thin hyper shell: accepts connections, routes requests to the pure helpers and storage, shuts down
//! gracefully.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use marquee_http::admin::{Admin, AdminRoute};
use marquee_http::conditional::Validators;
use marquee_http::content::MediaKind;
use marquee_http::path::decode_request_path;
use marquee_http::range;
use marquee_http::response::{build, error_response, method_not_allowed, plain};
use marquee_http::selection::{self, header_str, Selection};
use marquee_http::{
    serve_connections, serve_on_worker_threads, Client, RequestAuthorizer, RequestBody, TrustedProxies,
};
use marquee_storage::{ObjectKey, ObjectStore, StorageError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::body::OriginBody;
use crate::config::OriginConfig;
use crate::error::{OriginError, Refusal};
use crate::hot::{Cold, HotObject, HotObjects};
use crate::metrics::{HotLookup, Metrics, Route, StorageOp};

/// The key `/readyz` asks storage about. It need not exist: "not found" proves storage answers.
pub const READINESS_PROBE_KEY: &str = "marquee-origin-readiness-probe";
const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
const CORS_ALLOWED_HEADERS: &str = "Range, If-Range, If-None-Match, If-Modified-Since";
const CORS_EXPOSED_HEADERS: &str = "Content-Length, Content-Range, ETag, Accept-Ranges, Last-Modified";
const CORS_MAX_AGE_SECONDS: &str = "86400";

/// Shared by every connection.
struct State {
    tls: Option<TlsAcceptor>,
    store: Arc<dyn ObjectStore>,
    authorizer: Arc<dyn RequestAuthorizer>,
    metrics: Metrics,
    admin: Admin,
    /// Peers whose X-Forwarded-For names the client.
    trusted_proxies: TrustedProxies,
    config: OriginConfig,
    /// Permits are bytes of object bodies held in memory: each GET reserves `body_chunk_bytes` of them.
    body_budget: Arc<Semaphore>,
    /// Small objects kept whole in memory; `None` when `hot_cache_bytes` is 0.
    hot: Option<HotObjects>,
}

/// A bound, not yet running origin. [`Origin::local_addr`] tells which port `listen = …:0` picked.
pub struct Origin {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: Arc<State>,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin").field("local_addr", &self.local_addr).field("store", &self.state.store).finish()
    }
}

impl Origin {
    /// Validates `config` and binds its listen address.
    pub async fn bind(
        config: OriginConfig,
        store: Arc<dyn ObjectStore>,
        authorizer: Arc<dyn RequestAuthorizer>,
    ) -> Result<Self, OriginError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(OriginError::InvalidConfig { problems });
        }
        let tls = config.tls.as_ref().map(marquee_http::tls::acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| OriginError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr().map_err(OriginError::LocalAddr)?;
        let budget = usize::try_from(config.max_buffered_bytes).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        let metrics = Metrics::new();
        let admin = Admin::new(metrics.registry()).with_check("storage", {
            let (store, metrics) = (store.clone(), metrics.clone());
            move || storage_answers(store.clone(), metrics.clone()).boxed()
        });
        let state = State {
            tls,
            store,
            authorizer,
            metrics,
            admin,
            trusted_proxies: TrustedProxies::new(config.connections.trusted_proxies.iter().copied()),
            body_budget: Arc::new(Semaphore::new(budget)),
            hot: (config.hot_cache_bytes > 0)
                .then(|| HotObjects::new(config.hot_cache_bytes, config.hot_object_max_bytes, config.hot_object_ttl)),
            config,
        };
        Ok(Self { listener, local_addr, state: Arc::new(state) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The metrics this origin serves on `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// Like [`Origin::run`], on `workers` threads with a single-threaded runtime each (see
    /// [`serve_on_worker_threads`]); blocks the calling thread. Call it outside `runtime`, which bound the
    /// origin and runs `shutdown`.
    pub fn run_on_worker_threads(
        self,
        runtime: &tokio::runtime::Runtime,
        workers: usize,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), OriginError> {
        let Origin { listener, local_addr, state } = self;
        info!(
            addr = %local_addr, tls = state.tls.is_some(), store = %state.store.location(), workers,
            "Origin listening."
        );
        let serve = move |listener, shutdown| {
            let state = state.clone();
            let settings = state.config.connections.clone();
            let tls = state.tls.clone();
            let handler = move |request, remote: SocketAddr| {
                let state = state.clone();
                async move { handle(&state, request, remote.ip()).await }
            };
            async move { serve_connections(listener, &settings, tls, handler, shutdown).await }
        };
        serve_on_worker_threads(runtime, listener, workers, serve, shutdown).map_err(OriginError::Workers)?;
        info!("Origin stopped.");
        Ok(())
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight responses finish (up to
    /// `shutdown_grace`) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), OriginError> {
        let Origin { listener, local_addr, state } = self;
        info!(addr = %local_addr, tls = state.tls.is_some(), store = %state.store.location(), "Origin listening.");
        let settings = state.config.connections.clone();
        let tls = state.tls.clone();
        let handler = move |request, remote: SocketAddr| {
            let state = state.clone();
            async move { handle(&state, request, remote.ip()).await }
        };
        serve_connections(listener, &settings, tls, handler, shutdown).await;
        info!("Origin stopped.");
        Ok(())
    }
}

async fn handle(state: &State, request: Request<RequestBody>, client_ip: IpAddr) -> Response<OriginBody> {
    let started = Instant::now();
    let (route, mut response) = route(state, &request, client_ip).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSED_HEADERS));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    state.metrics.observe_request(route, response.status(), started.elapsed());
    response
}

async fn route(state: &State, request: &Request<RequestBody>, client_ip: IpAddr) -> (Route, Response<OriginBody>) {
    let method = request.method();
    if method == Method::OPTIONS {
        return (Route::Preflight, preflight());
    }
    if method != Method::GET && method != Method::HEAD {
        return (Route::MethodNotAllowed, method_not_allowed(ALLOWED_METHODS));
    }
    if let Some(admin) = AdminRoute::of_path(request.uri().path()) {
        if let (AdminRoute::Metrics, Some(hot)) = (admin, &state.hot) {
            state.metrics.set_hot_bytes(hot.weighted_bytes().await);
        }
        return (Route::Admin(admin), state.admin.answer(admin).await);
    }
    let mut route = Route::Rejected;
    match serve_object(state, request, client_ip, &mut route).await {
        Ok(response) => (route, response),
        Err(refusal) => (route, error_response(&refusal)),
    }
}

async fn serve_object(
    state: &State,
    request: &Request<RequestBody>,
    client_ip: IpAddr,
    route: &mut Route,
) -> Result<Response<OriginBody>, Refusal> {
    let path = decode_request_path(request.uri().path()).map_err(Refusal::BadPath)?;
    let client = Client::behind(client_ip, request.headers(), &state.trusted_proxies);
    let authorized = state.authorizer.authorize(&path, request.uri().query(), &client).map_err(Refusal::Denied)?;
    let key = ObjectKey::parse(authorized.as_str()).map_err(Refusal::InvalidKey)?;
    *route = Route::UnknownObject;
    let kind = MediaKind::of_key(key.as_str()).ok_or(Refusal::UnknownKind)?;
    *route = Route::Media(kind);

    let headers = request.headers();
    let is_get = request.method() == Method::GET;

    // Hot objects: answered from memory; a GET that misses reads the object whole (once, however many wait).
    let mut opened = None;
    if let Some(hot) = &state.hot {
        let found = if is_get {
            let on_read = |elapsed, failed| state.metrics.observe_storage(StorageOp::Get, elapsed, failed);
            hot.get_or_read(&*state.store, &key, on_read).await
        } else {
            hot.peek(&key).await.map(|object| (object, true)).ok_or(Cold::Read)
        };
        match found {
            Ok((object, from_memory)) => {
                state.metrics.observe_hot(if from_memory { HotLookup::Hit } else { HotLookup::Filled });
                return Ok(from_hot(state, headers, is_get, kind, &key, &object));
            }
            Err(Cold::TooBig(read)) => {
                state.metrics.observe_hot(HotLookup::TooBig);
                opened = Some(read);
            }
            Err(Cold::Read) => state.metrics.observe_hot(HotLookup::Bypass),
            Err(Cold::Failed(error)) => {
                state.metrics.observe_hot(HotLookup::Bypass);
                return Err(Refusal::SharedStorage(error));
            }
        }
    }

    let range_header = header_str(headers, &header::RANGE);
    // A GET's share of the buffered-bytes budget: one chunk in hand, whatever the object's size.
    let permit = if is_get {
        let chunk = u32::try_from(state.config.body_chunk_bytes).expect("body_chunk_bytes is at most 4 GiB");
        Some(state.body_budget.clone().try_acquire_many_owned(chunk).map_err(|_| Refusal::Busy)?)
    } else {
        None
    };

    // A plain GET (no precondition, no If-Range, no suffix range) is one storage request, whose metadata gives
    // the validators and the size. Everything else asks `head` first and reads once the answer is decided.
    let conditional = selection::has_preconditions(headers);
    // The hot-object lookup may already have opened the whole object.
    let mut read = opened.map(|object| (None, object));
    if read.is_none() {
        if let Some(asked) = range::storage_range(range_header).filter(|_| is_get && !conditional) {
            match timed(&state.metrics, StorageOp::Get, state.store.get_range(&key, asked.clone())).await {
                Ok(object) => read = Some((asked, object)),
                // A range past the end: `head` gives the validators of the 416, on this rare path only.
                Err(StorageError::RangeNotSatisfiable { .. }) => {}
                Err(error) => return Err(Refusal::Storage(error)),
            }
        }
    }
    let meta = match &read {
        Some((_, object)) => object.meta,
        None => timed(&state.metrics, StorageOp::Head, state.store.head(&key)).await.map_err(Refusal::Storage)?,
    };

    let validators = Validators::new(meta.size, meta.modified);
    let etag = HeaderValue::from_str(&validators.etag).expect("quotes and hex digits");
    let last_modified = HeaderValue::from_str(&validators.last_modified_header()).expect("an IMF-fixdate");
    let version = Version { kind, key: &key, validators: &validators, etag, last_modified, size: meta.size };
    let (response, slice) = match decide(headers, is_get, version) {
        Answer::Complete(response) => return Ok(response),
        Answer::Body(response, slice) => (response, slice),
    };
    let Some(permit) = permit else {
        return Ok(build(response, OriginBody::empty()));
    };

    // The stream already open covers exactly the answer's bytes (storage clamps a range as `decide` does);
    // otherwise read them now, and make sure that they come from the version whose validators were decided on.
    let covers = |asked: &Option<std::ops::Range<u64>>| match asked {
        None => slice == (0..meta.size),
        Some(asked) => slice == (asked.start..asked.end.min(meta.size)),
    };
    let object = match read {
        Some((asked, object)) if covers(&asked) => object,
        _ => {
            let whole = slice == (0..meta.size);
            let asked = (!whole).then(|| slice.clone());
            let object = match timed(&state.metrics, StorageOp::Get, state.store.get_range(&key, asked)).await {
                Ok(object) => object,
                Err(StorageError::RangeNotSatisfiable { .. }) => return Err(Refusal::ChangedWhileRead),
                Err(error) => return Err(Refusal::Storage(error)),
            };
            if object.meta != meta {
                // Replaced between `head` and the read: the validators decided on describe the old version.
                debug!(key = %key, "Object changed while it was read.");
                return Err(Refusal::ChangedWhileRead);
            }
            object
        }
    };
    let body = OriginBody::object(
        object.body,
        slice.end - slice.start,
        state.config.body_chunk_bytes,
        state.metrics.body_meters(),
        permit,
    );
    Ok(build(response, body))
}

/// The answer to a GET or HEAD of an object held in memory.
fn from_hot(
    state: &State,
    headers: &HeaderMap,
    is_get: bool,
    kind: MediaKind,
    key: &ObjectKey,
    object: &HotObject,
) -> Response<OriginBody> {
    let (etag, last_modified) = (object.etag.clone(), object.last_modified.clone());
    let version = Version { kind, key, validators: &object.validators, etag, last_modified, size: object.meta.size };
    match decide(headers, is_get, version) {
        Answer::Complete(response) => response,
        Answer::Body(response, _) if !is_get => build(response, OriginBody::empty()),
        Answer::Body(response, slice) => {
            let range = usize::try_from(slice.start).expect("within a body in memory")
                ..usize::try_from(slice.end).expect("within a body in memory");
            build(response, OriginBody::memory(object.body.slice(range), state.metrics.response_bytes()))
        }
    }
}

/// One version of an object, as the answer's headers describe it.
struct Version<'a> {
    kind: MediaKind,
    key: &'a ObjectKey,
    validators: &'a Validators,
    etag: HeaderValue,
    last_modified: HeaderValue,
    size: u64,
}

/// What the request's conditional and range headers make of an object version.
enum Answer {
    /// A response with nothing more to send (304, 412, 416).
    Complete(Response<OriginBody>),
    /// Headers decided; the body is these bytes of the object (for a GET).
    Body(http::response::Builder, std::ops::Range<u64>),
}

fn decide(headers: &HeaderMap, is_get: bool, version: Version<'_>) -> Answer {
    let selection = selection::select(headers, is_get, version.validators, version.size);
    let mut response = Response::builder()
        .header(header::ETAG, version.etag)
        .header(header::LAST_MODIFIED, version.last_modified)
        .header(header::CACHE_CONTROL, version.kind.cache_control())
        .header(header::ACCEPT_RANGES, "bytes");
    match selection {
        Selection::NotModified => {
            return Answer::Complete(build(response.status(StatusCode::NOT_MODIFIED), OriginBody::empty()))
        }
        Selection::PreconditionFailed => return Answer::Complete(plain(StatusCode::PRECONDITION_FAILED)),
        _ => {}
    }
    response = response.header(header::CONTENT_TYPE, version.kind.content_type(version.key.as_str()));
    if let Some(content_range) = selection.content_range() {
        response = response.header(header::CONTENT_RANGE, content_range);
    }
    let Some(slice) = selection.body_range() else {
        let response = response.status(selection.status()).header(header::CONTENT_LENGTH, 0);
        return Answer::Complete(build(response, OriginBody::empty()));
    };
    Answer::Body(response.status(selection.status()).header(header::CONTENT_LENGTH, slice.end - slice.start), slice)
}

async fn timed<T>(
    metrics: &Metrics,
    op: StorageOp,
    work: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    let started = Instant::now();
    let result = work.await;
    let failed = match &result {
        Ok(_) | Err(StorageError::NotFound { .. }) => false,
        Err(error) => {
            warn!(op = op.as_str(), error = %error, "Storage operation failed.");
            true
        }
    };
    metrics.observe_storage(op, started.elapsed(), failed);
    result
}

/// The readiness check: storage answers a `head` (for a key that need not exist) in time.
async fn storage_answers(store: Arc<dyn ObjectStore>, metrics: Metrics) -> Result<(), String> {
    let key = ObjectKey::parse(READINESS_PROBE_KEY).expect("the probe key is valid");
    match timed(&metrics, StorageOp::Probe, store.head(&key)).await {
        Ok(_) | Err(StorageError::NotFound { .. }) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

fn preflight() -> Response<OriginBody> {
    let response = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS)
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_ALLOWED_HEADERS)
        .header(header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE_SECONDS);
    build(response, OriginBody::empty())
}
