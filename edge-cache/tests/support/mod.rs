//! Servers for the edge's tests: a counting upstream (where counting requests is the point) and the edge
//! itself, on loopback ports chosen at run time.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use marquee_edge_cache::{EdgeConfig, EdgeServer};
use marquee_http::RequestAuthorizer;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// One object the counting upstream serves.
#[derive(Clone)]
pub struct Served {
    pub body: Bytes,
    pub cache_control: &'static str,
}

/// An upstream that counts requests per object path (token part stripped) and can hold bodies back.
pub struct CountingUpstream {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    release: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl CountingUpstream {
    /// Serves `objects` (path without leading `/` → object). With `gated`, every body sends its first 1 KiB
    /// and then waits for [`CountingUpstream::release`].
    pub async fn start(objects: HashMap<String, Served>, gated: bool) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (release, released) = watch::channel(!gated);
        let objects = Arc::new(objects);
        let counted = hits.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (objects, hits, released) = (objects.clone(), counted.clone(), released.clone());
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (objects, hits, released) = (objects.clone(), hits.clone(), released.clone());
                    async move {
                        Ok::<_, Infallible>(answer(&objects, &hits, released, request.uri().path(), request.headers()))
                    }
                });
                connections.spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, hits, release, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen for `path` (without leading `/`), health probes excluded; `"304 "` + path counts those
    /// answered 304 Not Modified (an `If-None-Match` with the object's ETag), which `path` counts too.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub fn total_hits(&self) -> usize {
        let hits = self.hits.lock().unwrap();
        hits.iter().filter(|(path, _)| *path != "healthz" && !path.starts_with("304 ")).map(|(_, n)| n).sum()
    }

    /// Lets held-back bodies finish.
    pub fn release(&self) {
        let _ = self.release.send(true);
    }

    /// Kills the server and every open connection to it.
    pub fn kill(&self) {
        self.task.abort();
    }
}

impl Drop for CountingUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(
    objects: &HashMap<String, Served>,
    hits: &Mutex<HashMap<String, usize>>,
    mut released: watch::Receiver<bool>,
    path: &str,
    request_headers: &HeaderMap,
) -> Response<BoxBody<Bytes, Infallible>> {
    let object_path = match marquee_signing::split_token_path(path) {
        Some((_, rest)) => rest,
        None => path,
    };
    let object_path = object_path.trim_start_matches('/').to_owned();
    *hits.lock().unwrap().entry(object_path.clone()).or_default() += 1;
    if object_path == "healthz" {
        return Response::new(Full::new(Bytes::from_static(b"ok\n")).boxed());
    }
    let Some(served) = objects.get(&object_path) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CACHE_CONTROL, "public, max-age=10")
            .body(Full::new(Bytes::from_static(b"404\n")).boxed())
            .unwrap();
    };
    let body = served.body.clone();
    let etag = format!("\"{}\"", body.len());
    if request_headers.get(header::IF_NONE_MATCH).is_some_and(|value| value.as_bytes() == etag.as_bytes()) {
        *hits.lock().unwrap().entry(format!("304 {object_path}")).or_default() += 1;
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::CACHE_CONTROL, served.cache_control)
            .header(header::ETAG, etag)
            .body(Empty::new().boxed())
            .unwrap();
    }
    let first = body.slice(..body.len().min(1024));
    let rest = body.slice(first.len()..);
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(Frame::data(first)) }).chain(
        futures_util::stream::once(async move {
            let _ = released.wait_for(|open| *open).await;
            Ok(Frame::data(rest))
        }),
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "video/mp4")
        .header(header::CACHE_CONTROL, served.cache_control)
        .header(header::ETAG, etag)
        .header(header::CONTENT_LENGTH, body.len())
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

/// An edge in this process.
pub struct TestEdge {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestEdge {
    pub async fn start(
        config: EdgeConfig,
        authorizer: Arc<dyn RequestAuthorizer>,
        keys: Option<marquee_signing::KeyRing>,
    ) -> Result<Self> {
        let config = EdgeConfig { listen: "127.0.0.1:0".parse()?, ..config };
        let edge = EdgeServer::bind(config, authorizer, keys, None).await?;
        let addr = edge.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(edge.run(async move {
            let _ = rx.await;
        }));
        Ok(Self { addr, shutdown: Some(tx), task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful stop, waiting for it to finish.
    pub async fn stop(mut self) -> Result<()> {
        let _ = self.shutdown.take().context("stopped twice")?.send(());
        tokio::time::timeout(Duration::from_secs(30), &mut self.task).await.context("edge shutdown hung")??;
        Ok(())
    }

    pub fn kill(&mut self) {
        self.task.abort();
    }
}

impl Drop for TestEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain HTTP reply.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

pub fn client() -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    request(&client(), Method::GET, url, headers).await
}

pub async fn request(
    client: &Client<HttpConnector, Empty<Bytes>>,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Reply> {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(builder.body(Empty::new())?))
        .await
        .context("no answer in 30 s")??;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Reply { status: parts.status, headers: parts.headers, body })
}

/// A metric's value from an edge's `/metrics` (0 when the series is absent).
pub async fn metric(edge: &TestEdge, series: &str) -> Result<f64> {
    let text = String::from_utf8(get(&edge.url("/metrics"), &[]).await?.body.to_vec())?;
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
        .unwrap_or(0.0))
}

/// Deterministic bytes of `len`, different for each `seed`.
pub fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect::<Vec<_>>().into()
}
