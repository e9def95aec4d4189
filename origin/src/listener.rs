//! The connection loop shared by every Marquee HTTP server (origin, edge): accepts up to a limit, serves
//! HTTP/1.1 with keep-alive and HTTP/2 (h2c, or TLS by ALPN) with hyper, applies the client timeouts, and on
//! shutdown stops accepting and lets in-flight responses finish within a grace period.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
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

use crate::config::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_KEEP_ALIVE, DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_WRITE_TIMEOUT,
};
use crate::io::ClientTimeouts;

/// How client connections are served, by the origin and the edge alike. `Default` uses the `DEFAULT_*`
/// consts of [`crate::config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// See [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`DEFAULT_WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// See [`DEFAULT_HTTP2_KEEP_ALIVE`].
    pub http2_keep_alive: Duration,
    /// See [`DEFAULT_MAX_HEADER_BYTES`]; values under 8192 are raised to 8192.
    pub max_header_bytes: usize,
    /// See [`DEFAULT_MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS`].
    pub http2_max_concurrent_streams: u32,
    /// See [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`DEFAULT_SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl ConnectionSettings {
    /// Every problem with these settings (named as the fields are).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("write_timeout", self.write_timeout),
            ("http2_keep_alive", self.http2_keep_alive),
        ] {
            if value.is_zero() {
                problems.push(format!("{name} must be more than zero"));
            }
        }
        for (name, value) in [
            ("max_headers", self.max_headers),
            ("http2_max_concurrent_streams", self.http2_max_concurrent_streams as usize),
            ("max_connections", self.max_connections),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be more than zero"));
            }
        }
        problems
    }
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            http2_keep_alive: DEFAULT_HTTP2_KEEP_ALIVE,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            http2_max_concurrent_streams: DEFAULT_HTTP2_MAX_CONCURRENT_STREAMS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Serves `listener` with `handler` (called with each request and the client's address) until `shutdown`
/// completes, then stops accepting and waits for in-flight responses, up to `settings.shutdown_grace`.
pub async fn serve_connections<H, F, B>(
    listener: TcpListener,
    settings: &ConnectionSettings,
    tls: Option<TlsAcceptor>,
    handler: H,
    shutdown: impl Future<Output = ()> + Send,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
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
        let service = service_fn(move |request| {
            let response = handler(request, remote);
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

/// How many single-threaded runtimes [`serve_on_worker_threads`] runs when told 0: one per CPU.
pub fn default_worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Serves one listening socket from `workers` OS threads, each with its own single-threaded tokio runtime
/// accepting on a copy of the socket (nginx's model: a connection stays on the thread that accepted it, with no
/// work stealing between threads; on a busy 2-core machine this cut the p99 latency of small responses by a
/// third against one multi-threaded runtime). `serve` is called on each thread with that thread's listener and
/// a shutdown future; `shutdown` runs on the calling thread's `runtime` (which owns the signal handlers).
/// Returns when every thread has finished.
pub fn serve_on_worker_threads<S, F>(
    runtime: &tokio::runtime::Runtime,
    listener: TcpListener,
    workers: usize,
    serve: S,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: Fn(TcpListener, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F + Send + Sync + 'static,
    F: Future<Output = ()>,
{
    let shared = runtime.block_on(async { listener.into_std() })?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (ended, mut ends) = tokio::sync::mpsc::unbounded_channel::<()>();
    let serve = Arc::new(serve);
    let mut threads = Vec::new();
    for index in 0..workers.max(1) {
        let socket = shared.try_clone()?;
        let (serve, mut stopped, ended) = (serve.clone(), stopped.clone(), ended.clone());
        let thread = std::thread::Builder::new().name(format!("marquee-worker-{index}")).spawn(move || {
            // Tells the calling thread when this one ends, however it ends.
            let _ended = EndSignal(ended);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let listener = TcpListener::from_std(socket)?;
                let shutdown = Box::pin(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                });
                serve(listener, shutdown).await;
                Ok(())
            })
        })?;
        threads.push(thread);
    }
    drop((shared, ended));
    runtime.block_on(async {
        // Also stop when a worker thread ends on its own (it could not start its runtime, or panicked).
        tokio::select! {
            () = shutdown => {}
            _ = ends.recv() => warn!("A worker thread ended; stopping the others."),
        }
    });
    let _ = stop.send(true);
    let mut result = Ok(());
    for thread in threads {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => result = Err(error),
            Err(_) => result = Err(std::io::Error::other("a worker thread panicked")),
        }
    }
    result
}

struct EndSignal(tokio::sync::mpsc::UnboundedSender<()>);

impl Drop for EndSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}
