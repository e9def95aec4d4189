//! The edge in front of the real origin, both in this process: shields that die, an origin that dies. (The
//! edge's own tests run against a counting upstream; these need both libraries, which only the binary's
//! crate depends on.)

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use marquee_edge_cache::{EdgeConfig, EdgeServer};
use marquee_http::{RequestAuthorizer, SignedUrls};
use marquee_signing::{Grant, KeyRing, SigningKey};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SEGMENT: &str = "film/video_720p/seg_00001.m4s";

fn edge_config(upstreams: Vec<String>) -> EdgeConfig {
    EdgeConfig { upstreams, health_interval: Duration::from_millis(200), ..EdgeConfig::default() }
}

fn keys() -> KeyRing {
    KeyRing::single(SigningKey::new("k1", &[7u8; 32]).unwrap())
}

fn signed(keys: &KeyRing, prefix: &str, rest: &str) -> String {
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    marquee_signing::token_path(&keys.sign(&Grant::new(prefix, expires).unwrap()), rest)
}

/// Deterministic bytes of `len`, different for each `seed`.
fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect::<Vec<_>>().into()
}

/// A server running on this process's runtime until stopped or killed.
struct Running {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful stop, waiting for it to finish.
    async fn stop(mut self) -> Result<()> {
        let _ = self.shutdown.take().context("stopped twice")?.send(());
        tokio::time::timeout(Duration::from_secs(30), &mut self.task).await.context("shutdown hung")??;
        Ok(())
    }

    /// At once, no graceful shutdown: what an operator sees when a server dies.
    fn kill(&mut self) {
        self.shutdown.take();
        self.task.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn stop_signal() -> (oneshot::Sender<()>, impl std::future::Future<Output = ()> + Send) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}

/// The real origin over `root`.
async fn start_origin(root: &Path, authorizer: Arc<dyn RequestAuthorizer>) -> Result<Running> {
    let store = Arc::new(marquee_storage::LocalDir::new(root)?);
    let config = marquee_origin::OriginConfig { listen: "127.0.0.1:0".parse()?, ..Default::default() };
    let origin = marquee_origin::Origin::bind(config, store, authorizer).await?;
    let addr = origin.local_addr();
    let (tx, stopped) = stop_signal();
    let task = tokio::spawn(async move {
        let _ = origin.run(stopped).await;
    });
    Ok(Running { addr, shutdown: Some(tx), task })
}

/// An edge with `config` on a free port.
async fn start_edge(config: EdgeConfig, authorizer: Arc<dyn RequestAuthorizer>, keys: KeyRing) -> Result<Running> {
    let config = EdgeConfig { listen: "127.0.0.1:0".parse()?, ..config };
    let edge = EdgeServer::bind(config, authorizer, Some(keys), None).await?;
    let addr = edge.local_addr();
    let (tx, stopped) = stop_signal();
    let task = tokio::spawn(edge.run(stopped));
    Ok(Running { addr, shutdown: Some(tx), task })
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

async fn get(url: &str) -> Result<Reply> {
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::get(url).body(Empty::new())?;
    let response =
        tokio::time::timeout(Duration::from_secs(30), client.request(request)).await.context("no answer in 30 s")??;
    let (parts, body) = response.into_parts();
    body.collect().await?;
    Ok(Reply { status: parts.status, headers: parts.headers })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_keep_serving_through_a_dead_shield() -> Result<()> {
    // origin ← two shields ← two edges, all signed with the same keys.
    let media = tempfile::TempDir::new()?;
    let mut paths = Vec::new();
    for i in 0..20 {
        let path = format!("film/video_720p/seg_{i:05}.m4s");
        std::fs::create_dir_all(media.path().join("film/video_720p"))?;
        std::fs::write(media.path().join(&path), pattern(10_000 + i, i as u8))?;
        paths.push(path);
    }
    let keys = keys();
    let authorizer = || Arc::new(SignedUrls::new(keys.clone()));
    let _origin = start_origin(media.path(), authorizer()).await?;
    let origin_url = _origin.url("");
    let mut shield_a = start_edge(edge_config(vec![origin_url.clone()]), authorizer(), keys.clone()).await?;
    let shield_b = start_edge(edge_config(vec![origin_url]), authorizer(), keys.clone()).await?;
    let shields = vec![format!("http://{}", shield_a.addr), format!("http://{}", shield_b.addr)];
    let edge_1 = start_edge(edge_config(shields.clone()), authorizer(), keys.clone()).await?;
    let edge_2 = start_edge(edge_config(shields), authorizer(), keys.clone()).await?;
    shield_a.kill();
    for path in &paths {
        for edge in [&edge_1, &edge_2] {
            let url = edge.url(&signed(&keys, "/film/", &format!("/{path}")));
            let reply = get(&url).await?;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            assert_eq!(reply.header("content-type"), "video/mp4");
        }
    }
    edge_1.stop().await?;
    edge_2.stop().await?;
    shield_b.stop().await.context("shield")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_origin_leaves_cached_objects_served_and_misses_fail_fast() -> Result<()> {
    let media = tempfile::TempDir::new()?;
    std::fs::create_dir_all(media.path().join("film/video_720p"))?;
    std::fs::write(media.path().join("film/master.m3u8"), "#EXTM3U\n")?;
    std::fs::write(media.path().join(SEGMENT), pattern(50_000, 9))?;
    let keys = keys();
    let mut origin = start_origin(media.path(), Arc::new(SignedUrls::new(keys.clone()))).await?;
    let edge =
        start_edge(edge_config(vec![origin.url("")]), Arc::new(SignedUrls::new(keys.clone())), keys.clone()).await?;
    let url = |path: &str| edge.url(&signed(&keys, "/film/", path));
    for path in ["/film/master.m3u8", &format!("/{SEGMENT}")] {
        assert_eq!(get(&url(path)).await?.status, StatusCode::OK);
    }
    origin.kill();
    for path in ["/film/master.m3u8", &format!("/{SEGMENT}")] {
        let reply = get(&url(path)).await?;
        assert_eq!((reply.status, reply.header("x-cache")), (StatusCode::OK, "HIT"), "{path}");
    }
    let started = Instant::now();
    let missing = get(&url("/film/video_720p/seg_00002.m4s")).await?;
    assert!(matches!(missing.status, StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT), "{}", missing.status);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    edge.stop().await
}
