//! The API's HTTP side: the axum router with its middleware (request ids, request metrics, JSON body
//! limit, errors carrying the request id), the admin endpoints from `marquee-http`, and serving on
//! `marquee-http`'s connection loop.

use std::net::SocketAddr;

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::FutureExt;
use marquee_http::admin::AdminRoute;
use marquee_http::{Admin, ConnectionSettings};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, ErrorMarker};
use crate::metrics::ApiMetrics;
use crate::satellite::Satellites;
use crate::settings::ApiSettings;
use crate::state::AppState;

/// The header that carries each request's id, in the request (a client's own id is kept) and the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API as one axum router: the `/v1` routes (the control API's and the `satellites'`),
/// `/openapi.json`, the admin endpoints, and `web` (the web app) for every other path.
pub fn router(state: AppState, settings: &ApiSettings, satellites: &Satellites, web: Option<Router>) -> Router {
    let admin = admin(&state);
    // Idempotency only on requests a route's method takes: a method the path does not have answers 405 (set after
    // the layer, so outside it), not a replay or a 422.
    let v1 = crate::routes::v1()
        .merge(satellites.routes(&state))
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::idempotency::idempotency))
        .method_not_allowed_fallback(method_not_allowed)
        // Unknown `/v1` paths are the API's 404, never the web app's page.
        .fallback(not_found)
        .with_state(state.clone());
    let routes = Router::new()
        .nest("/v1", v1)
        .route("/openapi.json", get(crate::openapi::document).with_state(crate::openapi::Document::of(satellites)))
        .route("/healthz", get(admin_endpoint).with_state((admin.clone(), AdminRoute::Health)))
        .route("/readyz", get(admin_endpoint).with_state((admin.clone(), AdminRoute::Ready)))
        .route("/metrics", get(admin_endpoint).with_state((admin, AdminRoute::Metrics)));
    let routes = match web {
        Some(web) => routes.fallback_service(web),
        None => routes.fallback(not_found),
    };
    routes
        .layer(middleware::from_fn(errors_with_request_id))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), count_requests))
        .layer(axum::extract::DefaultBodyLimit::max(usize::try_from(settings.max_json_bytes).unwrap_or(usize::MAX)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// `/healthz`, `/readyz` (the database and storage answer) and `/metrics`.
fn admin(state: &AppState) -> Admin {
    let db = state.db.clone();
    let storage = state.storage.clone();
    Admin::new(state.metrics.registry().clone())
        .with_check("database", move || {
            let db = db.clone();
            async move { db.ping().await.map_err(|e| e.to_string()) }.boxed()
        })
        .with_check("storage", move || {
            let storage = storage.clone();
            // Listing an unlikely prefix reaches the bucket or directory without reading anything.
            async move { storage.list("marquee-readiness-check/").await.map(|_| ()).map_err(|e| e.to_string()) }.boxed()
        })
}

async fn admin_endpoint(State((admin, route)): State<(Admin, AdminRoute)>) -> Response {
    admin.answer::<Body>(route).await.into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method; the Allow header lists those it takes",
    )
}

/// Counts every request by route template and status, and times it.
async fn count_requests(State(metrics): State<ApiMetrics>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_request(method.as_str(), &route, response.status().as_u16(), started.elapsed());
    response
}

/// Writes the request id into the body of every [`ApiError`] answer, so a user can quote it.
async fn errors_with_request_id(request: Request, next: Next) -> Response {
    let id = request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).map(str::to_string);
    let response = next.run(request).await;
    let Some(id) = id else { return response };
    if response.extensions().get::<ErrorMarker>().is_none() {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Error bodies are a few hundred bytes.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    value["error"]["request_id"] = serde_json::Value::String(id);
    let mut parts = parts;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(serde_json::to_vec(&value).unwrap_or_default()))
}

/// A bound API server, with the background task that expires abandoned uploads.
#[derive(Debug)]
pub struct Api {
    listener: TcpListener,
    router: Router,
    settings: ApiSettings,
    connections: ConnectionSettings,
    expiry: crate::uploads::expiry::UploadExpiry,
    /// The satellites' background work runs over these.
    state: AppState,
    satellites: Satellites,
}

impl Api {
    /// Binds `settings.listen` and builds the router over `state`, with no satellites.
    pub async fn bind(settings: &ApiSettings, state: AppState) -> std::io::Result<Self> {
        Self::bind_with(settings, state, Satellites::new()).await
    }

    /// Binds `settings.listen` and builds the router over `state` with `satellites` mounted beside the control
    /// API's routes (their migrations applied already: [`Satellites::migrate`]).
    pub async fn bind_with(settings: &ApiSettings, state: AppState, satellites: Satellites) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        let expiry = crate::uploads::expiry::UploadExpiry::new(
            state.db.clone(),
            state.uploads.clone(),
            settings.upload_expiry_interval,
        );
        Ok(Self {
            listener,
            router: router(state.clone(), settings, &satellites, None),
            settings: settings.clone(),
            connections: settings.connections.clone(),
            expiry,
            state,
            satellites,
        })
    }

    /// Serves `web` (the web app) at every path the API does not take.
    pub fn with_web_app(mut self, web: Router) -> Self {
        self.router = router(self.state.clone(), &self.settings, &self.satellites, Some(web));
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves (and expires abandoned uploads) until `shutdown` completes, then lets in-flight requests and the
    /// expiry step in progress finish (up to the shutdown grace).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        let (stop, mut stopping) = tokio::sync::watch::channel(false);
        let satellites = self.satellites.spawn(&self.state, &stopping);
        let expiring = self.expiry.spawn(async move {
            // Also stops if the server ends without its shutdown (the sender is dropped).
            let _ = stopping.wait_for(|stop| *stop).await;
        });
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let router = self.router;
        let handler = move |mut request: http::Request<marquee_http::RequestBody>, peer: SocketAddr| {
            let router = router.clone();
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            async move {
                match router.oneshot(request.map(Body::new)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        };
        marquee_http::serve_connections(self.listener, &self.connections, None, handler, shutdown).await;
        if let Err(error) = expiring.await {
            tracing::error!(%error, "The upload expiry task failed.");
        }
        for task in satellites {
            if let Err(error) = task.await {
                tracing::error!(%error, "A satellite's background task failed.");
            }
        }
    }
}
