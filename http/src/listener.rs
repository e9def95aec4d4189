//! The connection loop every Marquee HTTP service is served by: accepts up to a limit, serves HTTP/1.1 with
//! keep-alive and HTTP/2 (h2c, or TLS by ALPN) with hyper, applies the client timeouts, and on shutdown stops
//! accepting and lets in-flight responses finish within a grace period.
//!
//! Handlers see a [`RequestBody`], not hyper's `Incoming`, so that another listener (HTTP/3 over quinn) can
//! hand the same services its own request bodies.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::connections::ConnectionSettings;
use crate::io::ClientTimeouts;

/// The errors a request or response body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request's body, whatever the protocol that carried it.
pub type RequestBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// Serves `listener` with `handler` (called with each request and the client's address) until `shutdown`
/// completes, then stops accepting and waits for in-flight responses, up to `settings.shutdown_grace`.
pub async fn serve_connections<H, F, B>(
    listener: TcpListener,
    settings: &ConnectionSettings,
    tls: Option<TlsAcceptor>,
    handler: H,
    shutdown: impl Future<Output = ()> + Send,
) where
    H: Fn(Request<RequestBody>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(settings.max_header_bytes.max(8192))
        .max_headers(settings.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.http2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(settings.http2_keep_alive)
        .keep_alive_timeout(settings.http2_keep_alive);

    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let connection_slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut connections = JoinSet::new();
    let (handshake_timeout, write_timeout) = (settings.header_read_timeout, settings.write_timeout);
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = connection_slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!(%error, "Could not accept a connection.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let response = handler(request.map(|body| body.map_err(BoxError::from).boxed()), remote);
            async move { Ok::<_, Infallible>(response.await) }
        });
        let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
        connections.spawn(async move {
            let result = match tls {
                None => {
                    let io = TokioIo::new(ClientTimeouts::new(stream, write_timeout, handshake_timeout));
                    watcher.watch(builder.serve_connection(io, service).into_owned()).await
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => return debug!(%remote, %error, "TLS handshake failed."),
                        Err(_) => return debug!(%remote, "TLS handshake timed out."),
                    };
                    let io = TokioIo::new(ClientTimeouts::new(stream, write_timeout, handshake_timeout));
                    watcher.watch(builder.serve_connection(io, service).into_owned()).await
                }
            };
            if let Err(error) = result {
                debug!(%remote, %error, "Connection ended with an error.");
            }
            drop(slot);
        });
    }
    drop(listener);
    info!(connections = connections.len(), "Shutting down; finishing in-flight responses.");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(settings.shutdown_grace) => {
            warn!(left = connections.len(), "Shutdown grace period over; dropping the remaining connections.");
            connections.abort_all();
        }
    }
}
