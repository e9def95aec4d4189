//! The origin over real sockets: a LocalDir temp store with fake packaged files, driven by hyper's client,
//! raw TCP and curl.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use marquee_http::authorizer::split_token_path;
use marquee_http::client::Client as RequestClient;
use marquee_http::{AuthorizedPath, Denial, RequestAuthorizer, TlsFiles, Unsigned};
use marquee_origin::{Origin, OriginConfig, OriginError};
use marquee_storage::{LocalDir, ObjectKey, ObjectMeta, ObjectRead, ObjectStore, StorageError};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SEGMENT_LEN: usize = 1000;
const BIG_LEN: usize = 24 * 1024 * 1024;
const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-STORE";

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

struct TestOrigin {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), OriginError>>,
    _dir: TempDir,
}

impl TestOrigin {
    async fn start() -> Result<Self> {
        Self::start_with(OriginConfig::default()).await
    }

    async fn start_with(config: OriginConfig) -> Result<Self> {
        let dir = TempDir::new()?;
        // A file beside the store's root that no request may reach.
        std::fs::create_dir_all(dir.path().join("outside"))?;
        std::fs::write(dir.path().join("outside/secret.m3u8"), SECRET)?;
        std::fs::write(dir.path().join("secret.m3u8"), SECRET)?;
        let store = LocalDir::new(dir.path().join("root"))?;
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("film/master.m3u8", b"#EXTM3U\n#EXT-X-VERSION:7\n".to_vec()),
            ("film/manifest.mpd", b"<?xml version=\"1.0\"?><MPD/>".to_vec()),
            ("film/video_720p/init.mp4", pattern(200)),
            ("film/video_720p/seg_00001.m4s", pattern(SEGMENT_LEN)),
            ("film/video_720p/iframes.m3u8", b"#EXTM3U\n#EXT-X-I-FRAMES-ONLY\n".to_vec()),
            ("film/audio_aac/init.mp4", pattern(100)),
            ("film/audio_aac/seg_00001.m4s", pattern(300)),
            ("film/subs_en/sub.vtt", b"WEBVTT\n".to_vec()),
            ("film/thumbs/0001.jpg", vec![0xff, 0xd8, 0xff, 0xe0]),
            ("film/notes.txt", SECRET.as_bytes().to_vec()),
            ("film/video_1080p/seg_big.m4s", pattern(BIG_LEN)),
        ];
        for (key, body) in files {
            store.put(&ObjectKey::parse(key)?, Bytes::from(body)).await?;
        }
        let config = OriginConfig { listen: "127.0.0.1:0".parse()?, ..config };
        let origin = Origin::bind(config, Arc::new(store), Arc::new(Unsigned)).await?;
        let addr = origin.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(origin.run(async move {
            let _ = rx.await;
        }));
        Ok(Self { addr, shutdown: Some(tx), task, _dir: dir })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) -> Result<()> {
        let _ = self.shutdown.take().context("stopped twice")?.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task).await.context("shutdown hung")???;
        Ok(())
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

async fn fetch(origin: &TestOrigin, method: Method, path: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    fetch_with(&Client::builder(TokioExecutor::new()).build(HttpConnector::new()), origin, method, path, headers).await
}

async fn fetch_with(
    client: &Client<HttpConnector, Empty<Bytes>>,
    origin: &TestOrigin,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply> {
    let mut request = Request::builder().method(method).uri(origin.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(Empty::new())?).await?;
    let (parts, body) = response.into_parts();
    Ok(Reply { status: parts.status, headers: parts.headers, body: body.collect().await?.to_bytes() })
}

/// Runs curl on the blocking pool and returns its stdout. The arguments are copied before the future is
/// returned, so callers may pass temporaries.
fn curl(args: &[&str]) -> impl std::future::Future<Output = Result<String>> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    async move {
        let output = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output()).await??;
        ensure!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Sends `raw` bytes as a request over a fresh TCP connection and returns everything the server answers.
async fn raw_request(addr: SocketAddr, raw: Vec<u8>) -> Result<String> {
    tokio::task::spawn_blocking(move || -> Result<String> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(&raw)?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        Ok(String::from_utf8_lossy(&answer).into_owned())
    })
    .await?
}

#[tokio::test]
async fn content_types_and_cache_control() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let immutable = "public, max-age=31536000, immutable";
    let cases = [
        ("/film/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=86400"),
        ("/film/video_720p/iframes.m3u8", "application/vnd.apple.mpegurl", "public, max-age=86400"),
        ("/film/manifest.mpd", "application/dash+xml", "public, max-age=86400"),
        ("/film/video_720p/init.mp4", "video/mp4", immutable),
        ("/film/video_720p/seg_00001.m4s", "video/mp4", immutable),
        ("/film/audio_aac/init.mp4", "audio/mp4", immutable),
        ("/film/audio_aac/seg_00001.m4s", "audio/mp4", immutable),
        ("/film/subs_en/sub.vtt", "text/vtt", "public, max-age=86400"),
        ("/film/thumbs/0001.jpg", "image/jpeg", "public, max-age=86400"),
    ];
    for (path, content_type, cache_control) in cases {
        let reply = fetch(&origin, Method::GET, path, &[]).await?;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type"), content_type, "{path}");
        assert_eq!(reply.header("cache-control"), cache_control, "{path}");
        assert_eq!(reply.header("access-control-allow-origin"), "*", "{path}");
        assert_eq!(reply.header("accept-ranges"), "bytes", "{path}");
        assert_eq!(reply.header("content-length"), reply.body.len().to_string(), "{path}");
    }
    let segment = fetch(&origin, Method::GET, "/film/video_720p/seg_00001.m4s", &[]).await?;
    assert_eq!(segment.body.as_ref(), pattern(SEGMENT_LEN).as_slice());
    // Files the packager does not write are not served, even inside an asset.
    let notes = fetch(&origin, Method::GET, "/film/notes.txt", &[]).await?;
    assert_eq!(notes.status, StatusCode::NOT_FOUND);
    assert!(!String::from_utf8_lossy(&notes.body).contains(SECRET));
    let missing = fetch(&origin, Method::GET, "/film/missing.m4s", &[]).await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Short negative caching for edges; other errors are never cached.
    assert_eq!(missing.header("cache-control"), "public, max-age=10");

    // curl sees the same types.
    let ct = curl(&["-s", "-o", "/dev/null", "-w", "%{content_type}", &origin.url("/film/audio_aac/seg_00001.m4s")]);
    assert_eq!(ct.await?, "audio/mp4");
    origin.stop().await
}

#[tokio::test]
async fn the_token_part_is_stripped_before_lookup() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let reply = fetch(&origin, Method::GET, "/t/abc123/film/video_720p/seg_00001.m4s?exp=1", &[]).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.len(), SEGMENT_LEN);
    origin.stop().await
}

#[tokio::test]
async fn byte_ranges() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let path = "/film/video_720p/seg_00001.m4s";
    let whole = pattern(SEGMENT_LEN);
    let range = |spec: &'static str| {
        let origin = &origin;
        async move { fetch(origin, Method::GET, path, &[("range", spec)]).await }
    };

    let first = range("bytes=0-99").await?;
    assert_eq!(first.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(first.header("content-range"), "bytes 0-99/1000");
    assert_eq!(first.header("content-length"), "100");
    assert_eq!(first.body.as_ref(), &whole[..100]);

    let open = range("bytes=990-").await?;
    assert_eq!((open.status, open.header("content-range")), (StatusCode::PARTIAL_CONTENT, "bytes 990-999/1000"));
    assert_eq!(open.body.as_ref(), &whole[990..]);

    let suffix = range("bytes=-10").await?;
    assert_eq!((suffix.status, suffix.header("content-range")), (StatusCode::PARTIAL_CONTENT, "bytes 990-999/1000"));
    assert_eq!(suffix.body.as_ref(), &whole[990..]);

    let past_end = range("bytes=1000-").await?;
    assert_eq!(past_end.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past_end.header("content-range"), "bytes */1000");
    assert!(past_end.body.is_empty());

    // Several ranges: the whole object, 200, never a multipart body.
    let multi = range("bytes=0-1,5-6").await?;
    assert_eq!(multi.status, StatusCode::OK);
    assert_eq!(multi.body.len(), SEGMENT_LEN);

    // If-Range with the current ETag honours the range; with another one the whole object comes back.
    let etag = first.header("etag").to_owned();
    let current = fetch(&origin, Method::GET, path, &[("range", "bytes=0-9"), ("if-range", &etag)]).await?;
    assert_eq!(current.status, StatusCode::PARTIAL_CONTENT);
    let stale = fetch(&origin, Method::GET, path, &[("range", "bytes=0-9"), ("if-range", "\"old\"")]).await?;
    assert_eq!((stale.status, stale.body.len()), (StatusCode::OK, SEGMENT_LEN));

    // curl: a range, and the 416.
    let out = curl(&["-s", "-r", "10-19", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", &origin.url(path)]);
    assert_eq!(out.await?, "206 10");
    let out = curl(&["-s", "-r", "5000-", "-o", "/dev/null", "-w", "%{http_code}", &origin.url(path)]);
    assert_eq!(out.await?, "416");
    origin.stop().await
}

#[tokio::test]
async fn head_has_headers_and_no_body() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let reply = fetch(&origin, Method::HEAD, "/film/video_720p/seg_00001.m4s", &[]).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-length"), "1000");
    assert_eq!(reply.header("content-type"), "video/mp4");
    assert!(reply.body.is_empty());
    let out = curl(&["-s", "-I", &origin.url("/film/master.m3u8")]).await?;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.to_ascii_lowercase().contains("content-type: application/vnd.apple.mpegurl"), "{out}");
    origin.stop().await
}

#[tokio::test]
async fn conditional_requests_get_304() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let path = "/film/master.m3u8";
    let first = fetch(&origin, Method::GET, path, &[]).await?;
    let etag = first.header("etag").to_owned();
    let last_modified = first.header("last-modified").to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong ETag: {etag}");
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");

    let by_etag = fetch(&origin, Method::GET, path, &[("if-none-match", &etag)]).await?;
    assert_eq!(by_etag.status, StatusCode::NOT_MODIFIED);
    assert!(by_etag.body.is_empty());
    assert_eq!(by_etag.header("etag"), etag);

    let by_date = fetch(&origin, Method::GET, path, &[("if-modified-since", &last_modified)]).await?;
    assert_eq!(by_date.status, StatusCode::NOT_MODIFIED);

    let changed = fetch(&origin, Method::GET, path, &[("if-none-match", "\"something-else\"")]).await?;
    assert_eq!(changed.status, StatusCode::OK);
    let old = fetch(&origin, Method::GET, path, &[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]).await?;
    assert_eq!(old.status, StatusCode::OK);

    let inm = format!("If-None-Match: {etag}");
    let out = curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", &inm, &origin.url(path)]);
    assert_eq!(out.await?, "304");
    let ims = format!("If-Modified-Since: {last_modified}");
    let out = curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", &ims, &origin.url(path)]);
    assert_eq!(out.await?, "304");
    origin.stop().await
}

#[tokio::test]
async fn cors_preflight() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let headers = [
        ("origin", "https://player.example"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "range"),
    ];
    let reply = fetch(&origin, Method::OPTIONS, "/film/video_720p/seg_00001.m4s", &headers).await?;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert!(reply.header("access-control-allow-methods").contains("GET"));
    assert!(reply.header("access-control-allow-methods").contains("HEAD"));
    assert!(reply.header("access-control-allow-headers").contains("Range"));
    let exposed = reply.header("access-control-expose-headers");
    for name in ["Content-Length", "Content-Range", "ETag"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    let out = curl(&[
        "-s",
        "-X",
        "OPTIONS",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-H",
        "Origin: https://a.example",
        "-H",
        "Access-Control-Request-Method: GET",
        &origin.url("/film/master.m3u8"),
    ])
    .await?;
    assert!(out.starts_with("HTTP/1.1 204"), "{out}");
    assert!(out.to_ascii_lowercase().contains("access-control-allow-origin: *"), "{out}");
    origin.stop().await
}

#[tokio::test]
async fn traversal_attempts_get_no_bytes() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let attempts = [
        "/../secret.m3u8",
        "/../outside/secret.m3u8",
        "/film/../../secret.m3u8",
        "/%2e%2e/secret.m3u8",
        "/%2E%2E/outside/secret.m3u8",
        "/film/%2e%2e/%2e%2e/secret.m3u8",
        "/..%2fsecret.m3u8",
        "/..%2Foutside%2Fsecret.m3u8",
        "/..%5csecret.m3u8",
        "/t/tok/../../secret.m3u8",
        "/film/master.m3u8%00.m4s",
        "//etc/passwd.m3u8",
        "/film/notes.txt",
    ];
    // Raw TCP, so nothing normalises the path on the way.
    for path in attempts {
        let answer = raw_request(
            origin.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(),
        );
        let answer = answer.await?;
        assert!(answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        assert!(!answer.contains(SECRET), "{path}: {answer}");
    }
    for raw in [
        &b"GET /..\\secret.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"GET /film\\..\\..\\secret.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /root/../secret.m3u8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        let answer = raw_request(origin.addr, raw.to_vec()).await?;
        assert!(answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 404"), "{answer}");
        assert!(!answer.contains(SECRET), "{answer}");
    }
    // curl with --path-as-is sends the dots untouched.
    for path in ["/../secret.m3u8", "/film/../../outside/secret.m3u8", "/%2e%2e/secret.m3u8"] {
        let out = curl(&["-s", "--path-as-is", "-w", "\n%{http_code}", &origin.url(path)]).await?;
        let code = out.rsplit('\n').next().unwrap_or_default();
        assert!(code == "400" || code == "404", "{path}: {out}");
        assert!(!out.contains(SECRET), "{path}: {out}");
    }
    origin.stop().await
}

#[tokio::test]
async fn unknown_methods_get_405_with_allow() -> Result<()> {
    let origin = TestOrigin::start().await?;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let reply = fetch(&origin, method.clone(), "/film/master.m3u8", &[]).await?;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.header("allow"), "GET, HEAD, OPTIONS");
    }
    let out =
        curl(&["-s", "-X", "PROPFIND", "-o", "/dev/null", "-w", "%{http_code}", &origin.url("/film/master.m3u8")]);
    assert_eq!(out.await?, "405");
    origin.stop().await
}

#[tokio::test]
async fn oversized_headers_get_431() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let raw = format!("GET /film/master.m3u8 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    let answer = raw_request(origin.addr, raw.into_bytes()).await?;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    origin.stop().await
}

#[tokio::test]
async fn http2_cleartext_with_prior_knowledge() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let path = origin.url("/film/video_720p/seg_00001.m4s");
    let out = curl(&[
        "-s",
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code} %{size_download}",
        &path,
    ]);
    assert_eq!(out.await?, "2 200 1000");
    let out = curl(&[
        "-s",
        "--http2-prior-knowledge",
        "-r",
        "0-9",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code} %{size_download}",
        &path,
    ]);
    assert_eq!(out.await?, "2 206 10");

    let h2 = Client::builder(TokioExecutor::new()).http2_only(true).build(HttpConnector::new());
    let reply = fetch_with(&h2, &origin, Method::GET, "/film/manifest.mpd", &[]).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/dash+xml");
    let head = fetch_with(&h2, &origin, Method::HEAD, "/film/video_720p/seg_00001.m4s", &[]).await?;
    assert_eq!((head.status, head.header("content-length"), head.body.len()), (StatusCode::OK, "1000", 0));
    origin.stop().await
}

#[tokio::test]
async fn health_readiness_and_metrics() -> Result<()> {
    let origin = TestOrigin::start().await?;
    assert_eq!(fetch(&origin, Method::GET, "/healthz", &[]).await?.status, StatusCode::OK);
    assert_eq!(fetch(&origin, Method::GET, "/readyz", &[]).await?.status, StatusCode::OK);
    fetch(&origin, Method::GET, "/film/video_720p/seg_00001.m4s", &[("range", "bytes=0-9")]).await?;
    fetch(&origin, Method::GET, "/film/video_720p/seg_00001.m4s", &[]).await?;
    fetch(&origin, Method::GET, "/film/missing.m4s", &[]).await?;
    fetch(&origin, Method::GET, "/%2e%2e/x.m4s", &[]).await?;
    let reply = fetch(&origin, Method::GET, "/metrics", &[]).await?;
    assert_eq!(reply.status, StatusCode::OK);
    let text = String::from_utf8(reply.body.to_vec())?;
    for line in [
        r#"marquee_origin_requests_total{route="media_segment",status="206"} 1"#,
        r#"marquee_origin_requests_total{route="media_segment",status="200"} 1"#,
        r#"marquee_origin_requests_total{route="media_segment",status="404"} 1"#,
        r#"marquee_origin_requests_total{route="rejected",status="400"} 1"#,
        r#"marquee_origin_requests_total{route="healthz",status="200"} 1"#,
        r#"marquee_origin_requests_total{route="readyz",status="200"} 1"#,
        "marquee_origin_response_bytes_total 1010",
        // One storage read per object, found or not, and no `head` before it: the ranged GET read the small
        // segment whole into the hot-object cache, which answered the plain GET after it.
        r#"marquee_origin_storage_duration_seconds_count{op="get"} 2"#,
        r#"marquee_origin_hot_cache_requests_total{result="filled"} 1"#,
        r#"marquee_origin_hot_cache_requests_total{result="hit"} 1"#,
        r#"marquee_origin_hot_cache_requests_total{result="bypass"} 1"#,
        "marquee_origin_hot_cache_bytes 1000",
        r#"marquee_origin_storage_duration_seconds_count{op="probe"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains(r#"op="head""#), "{text}");
    assert!(text.contains("marquee_origin_buffered_bytes 0"), "{text}");
    assert!(text.contains("marquee_origin_request_duration_seconds_bucket"), "{text}");
    origin.stop().await
}

/// A store whose every operation fails as a broken disk would.
#[derive(Debug)]
struct BrokenStore;

fn disk_error() -> StorageError {
    StorageError::Io { op: "read", path: "/broken".into(), source: std::io::Error::other("disk on fire") }
}

#[async_trait::async_trait]
impl ObjectStore for BrokenStore {
    async fn put(&self, _key: &ObjectKey, _body: Bytes) -> Result<(), StorageError> {
        Err(disk_error())
    }
    async fn get(&self, _key: &ObjectKey) -> Result<Bytes, StorageError> {
        Err(disk_error())
    }
    async fn head(&self, _key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        Err(disk_error())
    }
    async fn delete(&self, _key: &ObjectKey) -> Result<(), StorageError> {
        Err(disk_error())
    }
    async fn list(&self, _prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        Err(disk_error())
    }
    fn location(&self) -> String {
        "broken://".to_owned()
    }
}

#[tokio::test]
async fn a_failing_store_is_not_ready_and_is_counted() -> Result<()> {
    let config = OriginConfig { listen: "127.0.0.1:0".parse()?, ..OriginConfig::default() };
    let origin = Origin::bind(config, Arc::new(BrokenStore), Arc::new(Unsigned)).await?;
    let base = format!("http://{}", origin.local_addr());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(origin.run(async move {
        let _ = rx.await;
    }));
    let code = |path: &str| curl(&["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("{base}{path}")]);
    assert_eq!(code("/healthz").await?, "200", "alive even when storage is not");
    assert_eq!(code("/readyz").await?, "503");
    let segment = curl(&["-s", "-D", "-", &format!("{base}/film/video_720p/seg_00001.m4s")]).await?;
    assert!(segment.starts_with("HTTP/1.1 503"), "{segment}");
    assert!(segment.to_ascii_lowercase().contains("retry-after: 1"), "{segment}");
    assert!(!segment.contains("disk on fire"), "storage errors stay in the logs: {segment}");
    let metrics = curl(&["-s", &format!("{base}/metrics")]).await?;
    assert!(metrics.contains(r#"marquee_origin_storage_errors_total{op="probe"} 1"#), "{metrics}");
    // A plain GET is one `get_range`, so that is what failed.
    assert!(metrics.contains(r#"marquee_origin_storage_errors_total{op="get"} 1"#), "{metrics}");
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(10), task).await???;
    Ok(())
}

// Blocking socket reads below: the server needs a worker thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_response_in_flight() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let addr = origin.addr;
    // A client that reads the headers of a 24 MiB segment, then stalls while shutdown starts.
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(b"GET /film/video_1080p/seg_big.m4s HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut first = [0u8; 4096];
    let n = stream.read(&mut first)?;
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first[..n]));

    let TestOrigin { shutdown, task, _dir, .. } = origin;
    let _ = shutdown.context("no shutdown sender")?.send(());
    // No new connections once shutdown has started; the response in flight keeps the server running.
    wait_until_refused(addr).await?;
    assert!(!task.is_finished(), "the server stopped before its response was read");

    let rest = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest)?;
        Ok(rest)
    });
    let rest = rest.await??;
    let mut answer = first[..n].to_vec();
    answer.extend_from_slice(&rest);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")? + 4;
    assert_eq!(answer.len() - split, BIG_LEN, "the whole body arrived");
    assert!(answer[split..] == pattern(BIG_LEN)[..]);
    tokio::time::timeout(Duration::from_secs(10), task).await.context("shutdown hung")???;
    Ok(())
}

/// Polls until connecting to `addr` is refused: the origin has closed its listener.
async fn wait_until_refused(addr: SocketAddr) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        ensure!(std::time::Instant::now() < deadline, "still accepting connections 10 s after shutdown began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

// Blocking socket reads below: the server needs a worker thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_memory_budget_gives_503_not_unbounded_memory() -> Result<()> {
    // Room for one streamed body in flight: each GET reserves one chunk, whatever its object's size. (Hot
    // objects are shared from memory, not streamed, and bounded by the hot cache's own budget: off here.)
    let config = OriginConfig {
        hot_cache_bytes: 0,
        max_buffered_bytes: marquee_origin::config::DEFAULT_BODY_CHUNK_BYTES as u64,
        ..OriginConfig::default()
    };
    let origin = TestOrigin::start_with(config).await?;
    // Hold one big body in flight by not reading it.
    let mut stalled = std::net::TcpStream::connect(origin.addr)?;
    stalled.write_all(b"GET /film/video_1080p/seg_big.m4s HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut first = [0u8; 1024];
    stalled.set_read_timeout(Some(Duration::from_secs(10)))?;
    let _ = stalled.read(&mut first)?;
    let reply = fetch(&origin, Method::GET, "/film/video_720p/seg_00001.m4s", &[]).await?;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("retry-after"), "1");
    // Once the stalled client goes away its body, and its share of the budget, are released.
    drop(stalled);
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = fetch(&origin, Method::GET, "/film/video_720p/seg_00001.m4s", &[]).await?.status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
    origin.stop().await
}

#[tokio::test]
async fn https_with_a_configured_certificate() -> Result<()> {
    let certs = TempDir::new()?;
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let (cert_arg, key_arg) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let openssl = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-keyout", &key_arg, "-out", &cert_arg, "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .output()?;
    ensure!(openssl.status.success(), "openssl: {}", String::from_utf8_lossy(&openssl.stderr));

    let tls = TlsFiles { cert_chain: cert.clone(), private_key: key.clone() };
    let origin = TestOrigin::start_with(OriginConfig { tls: Some(tls), ..OriginConfig::default() }).await?;
    let url = format!("https://{}/film/video_720p/seg_00001.m4s", origin.addr);
    let format = "%{http_version} %{http_code} %{size_download}";
    let out = curl(&["-s", "--cacert", &cert_arg, "-o", "/dev/null", "-w", format, &url]).await?;
    assert_eq!(out, "2 200 1000", "HTTP/2 by ALPN");
    let out = curl(&["-s", "--http1.1", "--cacert", &cert_arg, "-r", "0-9", "-o", "/dev/null", "-w", format, &url]);
    assert_eq!(out.await?, "1.1 206 10");
    // Cleartext HTTP to the TLS port gets no media.
    let answer = raw_request(origin.addr, b"GET /film/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()).await?;
    assert!(!answer.contains("#EXTM3U"), "{answer}");
    origin.stop().await?;

    let missing = TlsFiles { cert_chain: certs.path().join("nope.pem"), private_key: key };
    let config = OriginConfig { listen: "127.0.0.1:0".parse()?, tls: Some(missing), ..OriginConfig::default() };
    let error = Origin::bind(config, Arc::new(BrokenStore), Arc::new(Unsigned)).await.unwrap_err();
    assert!(matches!(error, OriginError::Tls { .. }), "{error}");
    assert!(error.to_string().contains("nope.pem"), "{error}");
    Ok(())
}

// Blocking socket reads below: the server needs a worker thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_disconnected() -> Result<()> {
    let connections = marquee_origin::config::ConnectionSettings {
        header_read_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let config = OriginConfig { connections, ..OriginConfig::default() };
    let origin = TestOrigin::start_with(config).await?;
    for opening in [&b""[..], b"GET /film/master.m3u8 HTTP/1.1\r\nHost: x\r\n"] {
        let started = std::time::Instant::now();
        let mut stream = std::net::TcpStream::connect(origin.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(opening)?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let waited = started.elapsed();
        assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
        assert!(!String::from_utf8_lossy(&answer).contains("#EXTM3U"));
    }
    // A keep-alive connection that goes quiet after a response is closed too.
    let started = std::time::Instant::now();
    let mut stream = std::net::TcpStream::connect(origin.addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /film/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(String::from_utf8_lossy(&answer).contains("#EXTM3U"));
    assert!(started.elapsed() < Duration::from_secs(5), "idle keep-alive connection kept {:?}", started.elapsed());
    origin.stop().await
}

/// Lets through only `/t/good/…` from loopback, as the token verifier will (with real signatures).
struct OnlyGoodToken;

impl RequestAuthorizer for OnlyGoodToken {
    fn authorize(&self, path: &str, query: Option<&str>, client: &RequestClient<'_>) -> Result<AuthorizedPath, Denial> {
        let client_ip = client.ip;
        assert!(client_ip.is_loopback(), "the client address reaches the authorizer: {client_ip}");
        assert_eq!(query, Some("sig=1"));
        let split = split_token_path(path);
        match split.token {
            None => Err(Denial::MissingToken),
            Some("good") => Ok(AuthorizedPath::new(split.object_path)),
            Some(_) => Err(Denial::InvalidToken),
        }
    }
}

#[tokio::test]
async fn the_authorizer_decides_and_the_token_never_reaches_storage() -> Result<()> {
    let dir = TempDir::new()?;
    let store = LocalDir::new(dir.path())?;
    store.put(&ObjectKey::parse("film/master.m3u8")?, Bytes::from_static(b"#EXTM3U\n")).await?;
    let config = OriginConfig { listen: "127.0.0.1:0".parse()?, ..OriginConfig::default() };
    let origin = Origin::bind(config, Arc::new(store), Arc::new(OnlyGoodToken)).await?;
    let base = format!("http://{}", origin.local_addr());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(origin.run(async move {
        let _ = rx.await;
    }));
    let get = |path: &str| curl(&["-s", "-w", "\n%{http_code}", &format!("{base}{path}?sig=1")]);
    assert_eq!(get("/t/good/film/master.m3u8").await?, "#EXTM3U\n\n200");
    let denied = get("/t/bad/film/master.m3u8").await?;
    assert!(denied.ends_with("\n403") && !denied.contains("#EXTM3U"), "{denied}");
    let unsigned = get("/film/master.m3u8").await?;
    assert!(unsigned.ends_with("\n403") && !unsigned.contains("#EXTM3U"), "{unsigned}");
    let metrics = curl(&["-s", &format!("{base}/metrics")]).await?;
    assert!(metrics.contains(r#"marquee_origin_requests_total{route="rejected",status="403"} 2"#), "{metrics}");
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(10), task).await???;
    Ok(())
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_http2_stream_in_flight() -> Result<()> {
    let origin = TestOrigin::start().await?;
    let url = origin.url("/film/video_1080p/seg_big.m4s");
    // About a second and a half at this rate, so shutdown starts while the body is on its way.
    let download = curl(&[
        "-s",
        "--http2-prior-knowledge",
        "--limit-rate",
        "16M",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code} %{size_download}",
        &url,
    ]);
    let download = tokio::spawn(download);
    // The origin counts a request once its response has started: from then on the body is on its way.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = String::from_utf8(fetch(&origin, Method::GET, "/metrics", &[]).await?.body.to_vec())?;
        if metrics.contains(r#"marquee_origin_requests_total{route="media_segment",status="200"} 1"#) {
            break;
        }
        ensure!(std::time::Instant::now() < deadline, "the download never started:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let TestOrigin { addr, shutdown, task, _dir } = origin;
    let _ = shutdown.context("no shutdown sender")?.send(());
    wait_until_refused(addr).await?;
    assert!(!task.is_finished(), "the server stopped before its stream finished");
    assert_eq!(download.await??, format!("2 200 {BIG_LEN}"));
    tokio::time::timeout(Duration::from_secs(10), task).await.context("shutdown hung")???;
    Ok(())
}

/// `LocalDir`, with every chunk that its `get_range` streams measured, and whole-object `get` counted.
#[derive(Debug)]
struct MeteredStore {
    inner: LocalDir,
    largest_chunk: Arc<AtomicUsize>,
    pulled: Arc<AtomicU64>,
    whole_gets: AtomicUsize,
}

#[async_trait::async_trait]
impl ObjectStore for MeteredStore {
    async fn put(&self, key: &ObjectKey, body: Bytes) -> Result<(), StorageError> {
        self.inner.put(key, body).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError> {
        self.whole_gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &ObjectKey,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ObjectRead, StorageError> {
        use futures_util::StreamExt as _;
        let read = self.inner.get_range(key, range).await?;
        let (largest, pulled) = (self.largest_chunk.clone(), self.pulled.clone());
        let body = read.body.inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                largest.fetch_max(chunk.len(), Ordering::SeqCst);
                pulled.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        });
        Ok(ObjectRead { meta: read.meta, body: Box::pin(body) })
    }
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        self.inner.list(prefix).await
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

// Blocking socket reads below: the server needs a worker thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_object_is_streamed_not_buffered() -> Result<()> {
    const HUGE_LEN: usize = 64 << 20;
    let chunk = marquee_origin::config::DEFAULT_BODY_CHUNK_BYTES;
    let dir = TempDir::new()?;
    let store = Arc::new(MeteredStore {
        inner: LocalDir::new(dir.path())?,
        largest_chunk: Arc::default(),
        pulled: Arc::default(),
        whole_gets: AtomicUsize::new(0),
    });
    let huge = pattern(HUGE_LEN);
    store.put(&ObjectKey::parse("film/video_4k/seg_huge.m4s")?, Bytes::from(huge.clone())).await?;
    // A budget of one chunk, a thousandth of the object: only a streaming origin can serve it at all.
    let config =
        OriginConfig { listen: "127.0.0.1:0".parse()?, max_buffered_bytes: chunk as u64, ..OriginConfig::default() };
    let origin = Origin::bind(config, store.clone(), Arc::new(Unsigned)).await?;
    let metrics = origin.metrics().clone();
    let addr = origin.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(origin.run(async move {
        let _ = rx.await;
    }));
    let origin = TestOrigin { addr, shutdown: Some(tx), task, _dir: dir };

    // A whole GET whose client stops reading after the headers: the origin reads storage only as fast as the
    // connection drains, so it pulls the socket buffers' worth, not the object, and holds at most one chunk.
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(b"GET /film/video_4k/seg_huge.m4s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut first = vec![0u8; 4096];
    let n = stream.read(&mut first)?;
    first.truncate(n);
    assert!(first.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pulled = store.pulled.load(Ordering::SeqCst);
    assert!(pulled < (HUGE_LEN / 4) as u64, "{pulled} bytes read from storage for a stalled client");
    let held = metrics.buffered_bytes();
    assert!((0..=chunk as i64).contains(&held), "{held} bytes held by the stalled body");

    let rest = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest)?;
        Ok(rest)
    });
    let mut answer = first;
    answer.extend_from_slice(&rest.await??);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")? + 4;
    assert_eq!(answer.len() - split, HUGE_LEN, "the whole body arrived");
    assert!(answer[split..] == huge[..]);

    // A range in the middle: only its bytes are read from storage.
    let before = store.pulled.load(Ordering::SeqCst);
    let (first_byte, last_byte) = (10_000_001usize, 42_000_000usize);
    let range = format!("bytes={first_byte}-{last_byte}");
    let reply = fetch(&origin, Method::GET, "/film/video_4k/seg_huge.m4s", &[("range", &range)]).await?;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(reply.header("content-range"), format!("bytes {first_byte}-{last_byte}/{HUGE_LEN}"));
    assert!(reply.body[..] == huge[first_byte..=last_byte]);
    assert_eq!(store.pulled.load(Ordering::SeqCst) - before, (last_byte - first_byte + 1) as u64);

    assert_eq!(store.whole_gets.load(Ordering::SeqCst), 0, "no whole-object read");
    assert!(store.largest_chunk.load(Ordering::SeqCst) <= marquee_storage::DEFAULT_READ_CHUNK_BYTES);
    assert_eq!(metrics.buffered_bytes(), 0, "nothing held once the responses are done");
    origin.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_objects_are_read_once_shared_and_expire() -> Result<()> {
    // A lifetime no loaded machine outlasts while the shared reads are counted; expiry has its own origin below.
    let config = OriginConfig {
        hot_cache_bytes: 1024 * 1024,
        hot_object_max_bytes: 64 * 1024,
        hot_object_ttl: Duration::from_secs(3600),
        ..OriginConfig::default()
    };
    let origin = TestOrigin::start_with(config.clone()).await?;
    let segment = "/film/video_720p/seg_00001.m4s";
    // Concurrent misses for one cold object: one storage read, every answer whole and identical.
    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let replies =
        futures_util::future::join_all((0..32).map(|_| fetch_with(&client, &origin, Method::GET, segment, &[])));
    for reply in replies.await {
        let reply = reply?;
        assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &pattern(SEGMENT_LEN)[..]));
    }
    // From memory: ranges, validators and 304s behave as they do when read from storage.
    let ranged = fetch(&origin, Method::GET, segment, &[("range", "bytes=2-5")]).await?;
    assert_eq!((ranged.status, &ranged.body[..]), (StatusCode::PARTIAL_CONTENT, &pattern(SEGMENT_LEN)[2..6]));
    assert_eq!(ranged.header("content-range"), format!("bytes 2-5/{SEGMENT_LEN}"));
    let etag = ranged.header("etag").to_owned();
    let revalidated = fetch(&origin, Method::GET, segment, &[("if-none-match", &etag)]).await?;
    assert_eq!((revalidated.status, revalidated.body.len()), (StatusCode::NOT_MODIFIED, 0));
    let head = fetch(&origin, Method::HEAD, segment, &[]).await?;
    assert_eq!((head.status, head.header("content-length"), head.header("etag")), (StatusCode::OK, "1000", &*etag));
    // Over the hot-object limit: streamed from storage as before.
    let big = fetch(&origin, Method::GET, "/film/video_1080p/seg_big.m4s", &[]).await?;
    assert_eq!((big.status, big.body.len()), (StatusCode::OK, BIG_LEN));

    let metrics = String::from_utf8(fetch(&origin, Method::GET, "/metrics", &[]).await?.body.to_vec())?;
    for line in [
        r#"marquee_origin_storage_duration_seconds_count{op="get"} 2"#,
        r#"marquee_origin_hot_cache_requests_total{result="too_big"} 1"#,
        "marquee_origin_hot_cache_bytes 1000",
        &format!("marquee_origin_response_bytes_total {}", 32 * SEGMENT_LEN + 4 + BIG_LEN),
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
    let hits = |text: &str, result: &str| -> u64 {
        let prefix = format!("marquee_origin_hot_cache_requests_total{{result=\"{result}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(&prefix)?.parse().ok()).unwrap_or(0)
    };
    // 32 GETs + range + 304 + HEAD; the 32 concurrent ones were one fill plus hits (or waits on that fill).
    assert_eq!(hits(&metrics, "hit") + hits(&metrics, "filled"), 35, "{metrics}");
    origin.stop().await?;

    // A republished object is served in its new version once its time-to-live has passed.
    let origin = TestOrigin::start_with(OriginConfig { hot_object_ttl: Duration::from_millis(300), ..config }).await?;
    let etag = fetch(&origin, Method::GET, segment, &[]).await?.header("etag").to_owned();
    let replacement = vec![7u8; 500];
    let path = origin._dir.path().join("root/film/video_720p/seg_00001.m4s");
    let staging = path.with_extension("tmp");
    std::fs::write(&staging, &replacement)?;
    std::fs::rename(&staging, &path)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let fresh = loop {
        let reply = fetch(&origin, Method::GET, segment, &[]).await?;
        if reply.body[..] == replacement[..] || std::time::Instant::now() > deadline {
            break reply;
        }
        assert_eq!(&reply.body[..], &pattern(SEGMENT_LEN)[..], "old or new version, never a mix");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(&fresh.body[..], &replacement[..], "the new version was never served");
    assert_ne!(fresh.header("etag"), etag);
    origin.stop().await
}
