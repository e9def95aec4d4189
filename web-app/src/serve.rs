//! Answers GET and HEAD for the web app's files: the embedded build or a folder, with caching headers and the
//! fallback to `index.html` for the app's own routes.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderValue, Method, StatusCode};

#[derive(rust_embed::Embed)]
#[folder = "$MARQUEE_WEB_APP_DIST"]
// Vite's build manifest is for benches/web-app-size.mjs, not for browsers.
#[exclude = ".vite/*"]
struct Dist;

const INDEX: &str = "index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Where the web app's files come from.
#[derive(Debug, Clone, Default)]
pub enum Source {
    /// The build embedded in the binary.
    #[default]
    Embedded,
    /// A folder on disk (a `vite build` output), read on every request.
    Directory(PathBuf),
}

/// A router that answers every path with the web app (mount it as the fallback beside an API's routes).
pub fn router(source: Source) -> Router {
    Router::new().fallback(answer).with_state(source)
}

struct File {
    bytes: Cow<'static, [u8]>,
    content_type: String,
    etag: Option<String>,
}

async fn answer(State(source): State<Source>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "The web app's pages take GET and HEAD only.\n");
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let Some(relative) = relative_path(request.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "Not found.\n");
    };
    let (name, file) = match source.file(&relative).await {
        Some(file) => (relative, file),
        // The app's own routes have no extension; a missing asset (a stale hashed name) is a real 404.
        None if !has_extension(&relative) => match source.file(INDEX).await {
            Some(file) => (INDEX.to_string(), file),
            None => return plain(StatusCode::NOT_FOUND, "The web app has no index.html.\n"),
        },
        None => return plain(StatusCode::NOT_FOUND, "Not found.\n"),
    };
    let cache = if name.starts_with("assets/") { IMMUTABLE } else { REVALIDATE };
    let not_modified = match (&file.etag, request.headers().get(IF_NONE_MATCH)) {
        (Some(etag), Some(wanted)) => wanted.to_str().is_ok_and(|w| w.split(',').any(|tag| tag.trim() == etag)),
        _ => false,
    };
    let mut builder = Response::builder()
        .header(CACHE_CONTROL, cache)
        .header(CONTENT_TYPE, file.content_type)
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(etag) = &file.etag {
        builder = builder.header(ETAG, etag);
    }
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if request.method() == Method::HEAD {
        builder = builder.header(http::header::CONTENT_LENGTH, file.bytes.len());
        (StatusCode::OK, Body::empty())
    } else {
        (StatusCode::OK, Body::from(file.bytes))
    };
    builder.status(status).body(body).expect("static headers are valid")
}

impl Source {
    async fn file(&self, name: &str) -> Option<File> {
        match self {
            Source::Embedded => {
                let embedded = Dist::get(name)?;
                let hash = embedded.metadata.sha256_hash();
                Some(File {
                    content_type: embedded.metadata.mimetype().to_string(),
                    etag: Some(format!("\"{}\"", hex(&hash[..16]))),
                    bytes: embedded.data,
                })
            }
            Source::Directory(root) => {
                let path = root.join(name);
                let bytes = tokio::fs::read(&path).await.ok()?;
                Some(File { content_type: content_type(&path).to_string(), etag: None, bytes: Cow::Owned(bytes) })
            }
        }
    }
}

/// The request path as a file name under the web app's root (`index.html` for `/`); None for a path that would
/// leave the root or is not plain text.
fn relative_path(path: &str) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Some(INDEX.to_string());
    }
    if trimmed.contains('\\') || trimmed.contains('%') {
        return None;
    }
    let trimmed = trimmed.trim_end_matches('/');
    let plain = trimmed.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
    plain.then(|| trimmed.to_string())
}

fn has_extension(name: &str) -> bool {
    name.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

/// The types a Vite build writes; anything else is served as bytes.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(CACHE_CONTROL, REVALIDATE)
        .body(Body::from(text))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_root() {
        assert_eq!(relative_path("/").as_deref(), Some("index.html"));
        assert_eq!(relative_path("/assets/index-abc.js").as_deref(), Some("assets/index-abc.js"));
        assert_eq!(relative_path("/studio/upload/").as_deref(), Some("studio/upload"));
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/assets/../../x"), None);
        assert_eq!(relative_path("/a/./b"), None);
        assert_eq!(relative_path("/%2e%2e/x"), None);
    }

    #[test]
    fn routes_have_no_extension_and_files_do() {
        assert!(!has_extension("titles/0193"));
        assert!(!has_extension("studio"));
        assert!(has_extension("assets/app.js"));
        assert!(has_extension("favicon.ico"));
        assert!(!has_extension("v1.2/titles"));
    }
}
