//! The web app's router over the embedded build and over a folder: files with their caching headers, the app's
//! routes answered with `index.html`, missing files and other methods refused.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use marquee_web_app::{router, Source};
use tower::ServiceExt;

async fn fetch(
    source: Source,
    method: Method,
    path: &str,
    etag: Option<&str>,
) -> (StatusCode, http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = router(source).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_embedded_build_serves_its_page_assets_and_routes() {
    let (status, headers, index) = fetch(Source::Embedded, Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html");
    assert_eq!(headers["cache-control"], "no-cache");
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    // The app's own routes get the same page; the browser routes.
    for route in ["/titles/0193-abc", "/studio/upload", "/admin/"] {
        let (status, _, body) = fetch(Source::Embedded, Method::GET, route, None).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert_eq!(body, index, "{route}");
    }
    let (status, _, body) = fetch(Source::Embedded, Method::GET, "/", Some(&etag)).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));

    assert_eq!(fetch(Source::Embedded, Method::GET, "/assets/gone-1234.js", None).await.0, StatusCode::NOT_FOUND);
    // Vite's build manifest stays out of the binary.
    assert_eq!(fetch(Source::Embedded, Method::GET, "/.vite/manifest.json", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(Source::Embedded, Method::GET, "/../Cargo.toml", None).await.0, StatusCode::NOT_FOUND);
    let (status, headers, _) = fetch(Source::Embedded, Method::POST, "/", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, HEAD");

    assert!(
        marquee_web_app::is_built(),
        "this binary holds the stand-in page: build the web app first (scripts/build-web-app.sh)"
    );
    // Every script and stylesheet the page names is embedded, hashed and cached for good.
    let assets: Vec<&str> = index.split('"').filter(|part| part.starts_with("/assets/")).collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")), "{index}");
    for asset in assets {
        let (status, headers, body) = fetch(Source::Embedded, Method::GET, asset, None).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable", "{asset}");
        assert!(!body.is_empty());
        let kind = headers["content-type"].to_str().unwrap();
        assert!(kind.contains("javascript") || kind.contains("css"), "{asset}: {kind}");
        let (status, headers, body) = fetch(Source::Embedded, Method::HEAD, asset, None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
        assert!(headers["content-length"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    }
}

#[tokio::test]
async fn a_folder_is_read_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>one</p>").unwrap();
    std::fs::write(dir.path().join("assets/app-1.js"), "let x;").unwrap();
    let source = Source::Directory(dir.path().to_path_buf());

    let (status, headers, body) = fetch(source.clone(), Method::GET, "/watch/1", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "<p>one</p>"));
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    std::fs::write(dir.path().join("index.html"), "<p>two</p>").unwrap();
    assert_eq!(fetch(source.clone(), Method::GET, "/", None).await.2, "<p>two</p>");

    let (status, headers, body) = fetch(source.clone(), Method::GET, "/assets/app-1.js", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "let x;"));
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(fetch(source, Method::GET, "/assets/app-2.js", None).await.0, StatusCode::NOT_FOUND);
}
