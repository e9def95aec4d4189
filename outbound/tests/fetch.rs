//! `fetch_to_file` against real servers on 127.0.0.1: an axum app for answers, redirects and sizes, and a raw
//! socket for a body cut short. Loopback is private, so the happy paths pass `allow_private = true` and the
//! refusals `false`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use marquee_outbound::{fetch_to_file, FetchError};
use tokio::io::AsyncWriteExt;

const FILE_BYTES: usize = 100_000;

fn content() -> Vec<u8> {
    (0..FILE_BYTES).map(|i| (i % 251) as u8).collect()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The body in 10 KiB chunks without a `Content-Length`.
fn streamed(bytes: Vec<u8>) -> Response {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        bytes.chunks(10_240).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    Body::from_stream(futures_util::stream::iter(chunks)).into_response()
}

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/file", get(|| async { content() }))
        .route("/streamed", get(|| async { streamed(content()) }))
        .route(
            "/hops/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    redirect("/file")
                } else {
                    redirect(&format!("/hops/{}", n - 1))
                }
            }),
        )
        .route("/to-ftp", get(|| async { redirect("ftp://127.0.0.1/file") }))
        .route("/no-location", get(|| async { StatusCode::FOUND }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/busy", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A server that promises `promised` bytes and sends `sent`, then closes the connection.
async fn short_server(promised: usize, sent: usize) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        // The request is small; one read takes it.
        let mut request = [0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut request).await;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {promised}\r\n\r\n");
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&vec![7u8; sent]).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    addr
}

async fn fetch(url: String, max_bytes: u64, allow_private: bool) -> (Result<u64, FetchError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let result = fetch_to_file(&url, &dir.path().join("source"), max_bytes, allow_private).await;
    (result, dir)
}

fn nothing_left(dir: &tempfile::TempDir) {
    assert!(!dir.path().join("source").exists(), "a failed fetch leaves no file");
}

#[tokio::test]
async fn downloads_whole_files_with_and_without_a_length() {
    let addr = serve().await;
    // /hops/4 redirects five times, the most that is followed.
    for path in ["/file", "/streamed", "/hops/4"] {
        let (result, dir) = fetch(format!("http://{addr}{path}"), FILE_BYTES as u64, true).await;
        assert_eq!(result.unwrap(), FILE_BYTES as u64, "{path}");
        assert_eq!(std::fs::read(dir.path().join("source")).unwrap(), content(), "{path}");
    }
}

#[tokio::test]
async fn too_large_by_length_or_by_counting() {
    let addr = serve().await;
    for path in ["/file", "/streamed"] {
        let (result, dir) = fetch(format!("http://{addr}{path}"), FILE_BYTES as u64 - 1, true).await;
        let error = result.unwrap_err();
        assert!(
            matches!(error, FetchError::TooLarge { limit, .. } if limit == FILE_BYTES as u64 - 1),
            "{path}: {error}"
        );
        assert!(!error.is_retryable());
        assert_eq!(error.to_string(), format!("http://{addr}{path} is larger than the limit of 99999 bytes"));
        nothing_left(&dir);
    }
}

#[tokio::test]
async fn statuses_other_than_2xx_fail_and_say_whether_to_retry() {
    let addr = serve().await;
    let (missing, dir) = fetch(format!("http://{addr}/missing"), 1 << 20, true).await;
    let missing = missing.unwrap_err();
    assert!(matches!(missing, FetchError::Status { status: 404, .. }), "{missing}");
    assert!(!missing.is_retryable());
    assert_eq!(missing.to_string(), format!("http://{addr}/missing answered 404 instead of the file"));
    nothing_left(&dir);
    let (busy, _dir) = fetch(format!("http://{addr}/busy"), 1 << 20, true).await;
    let busy = busy.unwrap_err();
    assert!(matches!(busy, FetchError::Status { status: 503, .. }) && busy.is_retryable(), "{busy}");
}

#[tokio::test]
async fn redirects_are_limited_and_checked() {
    let addr = serve().await;
    let (six, dir) = fetch(format!("http://{addr}/hops/5"), 1 << 20, true).await;
    let six = six.unwrap_err();
    assert!(matches!(six, FetchError::TooManyRedirects { limit: 5, .. }), "{six}");
    nothing_left(&dir);
    let (ftp, _dir) = fetch(format!("http://{addr}/to-ftp"), 1 << 20, true).await;
    assert_eq!(ftp.unwrap_err().as_str(), "unsupported_scheme");
    let (none, _dir) = fetch(format!("http://{addr}/no-location"), 1 << 20, true).await;
    assert_eq!(none.unwrap_err().as_str(), "bad_redirect");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let addr = serve().await;
    // A literal loopback address: refused before connecting.
    let (literal, dir) = fetch(format!("http://{addr}/file"), 1 << 20, false).await;
    let literal = literal.unwrap_err();
    assert!(matches!(literal, FetchError::PrivateAddress { .. }), "{literal}");
    assert!(!literal.is_retryable());
    nothing_left(&dir);
    // A name that resolves to loopback: refused by the resolver, so a redirect to such a name would be too.
    let (named, dir) = fetch(format!("http://localhost:{}/file", addr.port()), 1 << 20, false).await;
    let named = named.unwrap_err();
    assert!(matches!(named, FetchError::PrivateAddress { .. }), "{named}");
    assert_eq!(
        named.to_string(),
        format!(
            "http://localhost:{}/file leads to a private address, and private networks are not allowed",
            addr.port()
        )
    );
    nothing_left(&dir);
    let (allowed, _dir) = fetch(format!("http://localhost:{}/file", addr.port()), 1 << 20, true).await;
    assert_eq!(allowed.unwrap(), FILE_BYTES as u64);
}

#[tokio::test]
async fn a_body_cut_short_is_a_retryable_network_error() {
    let addr = short_server(10_000, 4_000).await;
    let (result, dir) = fetch(format!("http://{addr}/source.mp4"), 1 << 20, true).await;
    let error = result.unwrap_err();
    assert!(matches!(error, FetchError::Network { .. }), "{error}");
    assert!(error.is_retryable());
    nothing_left(&dir);
}

#[tokio::test]
async fn refused_connections_are_retryable() {
    // A port that was just free: nothing listens there.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (result, _dir) = fetch(format!("http://{addr}/x"), 1 << 20, true).await;
    let error = result.unwrap_err();
    assert!(matches!(error, FetchError::Network { .. }) && error.is_retryable(), "{error}");
    assert!(error.to_string().contains("cannot connect"), "{error}");
}
