//! [`fetch_to_file`]: a download of a URL a user chose, streamed to a file, with every limit checked: the scheme
//! (http and https), private addresses (literal ones here, names through [`PublicAddressesOnly`]), redirects
//! (followed here, at most [`MAX_REDIRECTS`], each checked like the first URL), the status (2xx) and the size
//! (`Content-Length` before reading, the bytes while reading).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{StatusCode, Url};
use tokio::io::AsyncWriteExt;
use tracing::{debug, warn};

use crate::address::literal_private_host;
use crate::public_dns::{NoPublicAddress, PublicAddressesOnly};

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;
/// How long connecting (and the TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may go without sending anything, headers or body. There is no limit on the whole
/// download: a large source on a slow link takes long, but it keeps sending.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a fetch failed: one sentence each, naming the URL without its credentials or query.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url} cannot be fetched: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("{url} cannot be fetched: only http and https URLs can, not {scheme}")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("{url} leads to a private address, and private networks are not allowed")]
    PrivateAddress { url: String },
    #[error("{url} redirected more than {limit} times")]
    TooManyRedirects { url: String, limit: usize },
    #[error("{url} answered {status} with no usable Location header")]
    BadRedirect { url: String, status: u16 },
    #[error("{url} answered {status} instead of the file")]
    Status { url: String, status: u16 },
    #[error("{url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url} could not be fetched: {detail}")]
    Network { url: String, detail: String },
    #[error("the download could not be written to {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

impl FetchError {
    /// Whether trying again later may succeed: network failures, 5xx (and 408, 429) answers, and local file
    /// errors (a full disk). A bad URL, a private address, a 4xx answer or a file too large fail again.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Network { .. } | FetchError::File { .. } => true,
            FetchError::Status { status, .. } => {
                *status >= 500 || *status == StatusCode::REQUEST_TIMEOUT.as_u16() || *status == 429
            }
            FetchError::InvalidUrl { .. }
            | FetchError::UnsupportedScheme { .. }
            | FetchError::PrivateAddress { .. }
            | FetchError::TooManyRedirects { .. }
            | FetchError::BadRedirect { .. }
            | FetchError::TooLarge { .. } => false,
        }
    }

    /// A stable name for the failure, for error codes, logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "invalid_url",
            FetchError::UnsupportedScheme { .. } => "unsupported_scheme",
            FetchError::PrivateAddress { .. } => "private_address",
            FetchError::TooManyRedirects { .. } => "too_many_redirects",
            FetchError::BadRedirect { .. } => "bad_redirect",
            FetchError::Status { .. } => "http_status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Network { .. } => "network",
            FetchError::File { .. } => "file",
        }
    }
}

/// `url` as messages show it: scheme, host, port and path, without credentials, query or fragment (a signed
/// URL's query is a secret).
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The first 200 characters of text that is not even a URL, for messages.
fn shorten(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Parses `text` and checks it can be fetched: see [`check_target`].
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, FetchError> {
    let url =
        Url::parse(text).map_err(|_| FetchError::InvalidUrl { url: shorten(text), reason: "not an absolute URL" })?;
    check_target(&url, allow_private)?;
    Ok(url)
}

/// Whether `url` may be requested: http or https, with a host, and unless `allow_private`, not a literal
/// private address (names are checked when they are resolved).
pub fn check_target(url: &Url, allow_private: bool) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::UnsupportedScheme { url: display_url(url), scheme: url.scheme().to_owned() });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::InvalidUrl { url: display_url(url), reason: "the URL has no host" });
    }
    if !allow_private && literal_private_host(url) {
        return Err(FetchError::PrivateAddress { url: display_url(url) });
    }
    Ok(())
}

/// Where a redirect from `from` (answered with `status`) leads: its `Location` (relative to `from`), checked
/// like the first URL.
pub fn next_hop(from: &Url, status: u16, location: Option<&str>, allow_private: bool) -> Result<Url, FetchError> {
    let bad = || FetchError::BadRedirect { url: display_url(from), status };
    let location = location.filter(|l| !l.trim().is_empty()).ok_or_else(bad)?;
    let next = from.join(location.trim()).map_err(|_| bad())?;
    check_target(&next, allow_private)?;
    Ok(next)
}

/// The client of one fetch: no redirects of its own (they are followed and checked here), no proxy from the
/// environment (a proxy would resolve names itself, past [`PublicAddressesOnly`]), and unless `allow_private`,
/// only public addresses.
fn client(allow_private: bool) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("marquee/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(PublicAddressesOnly);
    }
    builder.build()
}

/// What a reqwest failure for `url` means: a refusal by the resolver, a timeout, or another network failure
/// described by its innermost cause (refused, reset, bad certificate).
fn network_error(url: &Url, error: &reqwest::Error) -> FetchError {
    let mut cause: &dyn std::error::Error = error;
    loop {
        if cause.downcast_ref::<NoPublicAddress>().is_some() {
            return FetchError::PrivateAddress { url: display_url(url) };
        }
        match cause.source() {
            Some(source) => cause = source,
            None => break,
        }
    }
    let detail = if error.is_timeout() {
        if error.is_connect() {
            format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())
        } else {
            format!("nothing received for {} s", READ_TIMEOUT.as_secs())
        }
    } else if error.is_connect() {
        format!("cannot connect: {cause}")
    } else {
        format!("the transfer failed: {cause}")
    };
    FetchError::Network { url: display_url(url), detail }
}

/// Downloads `url` into the file `dest` (created or replaced) and returns its size in bytes.
///
/// Refused: schemes other than http and https; unless `allow_private`, hosts that are or resolve to private
/// addresses, for the URL and for every redirect; more than [`MAX_REDIRECTS`] redirects; answers other than
/// 2xx; bodies over `max_bytes` (by `Content-Length` before anything is read, and by counting while reading).
/// On any failure nothing is left at `dest`. [`FetchError::is_retryable`] says whether to try again later.
pub async fn fetch_to_file(url: &str, dest: &Path, max_bytes: u64, allow_private: bool) -> Result<u64, FetchError> {
    let mut current = check_url(url, allow_private)?;
    let client =
        client(allow_private).map_err(|e| FetchError::Network { url: display_url(&current), detail: e.to_string() })?;
    let mut redirects = 0;
    let mut response = loop {
        let response = client.get(current.clone()).send().await.map_err(|e| network_error(&current, &e))?;
        let status = response.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            if redirects == MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects { url: display_url(&current), limit: MAX_REDIRECTS });
            }
            let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok());
            let next = next_hop(&current, status.as_u16(), location, allow_private)?;
            debug!(from = %display_url(&current), to = %display_url(&next), "Following a redirect.");
            current = next;
            redirects += 1;
            continue;
        }
        if !status.is_success() {
            return Err(FetchError::Status { url: display_url(&current), status: status.as_u16() });
        }
        break response;
    };
    let too_large = || FetchError::TooLarge { url: display_url(&current), limit: max_bytes };
    if response.content_length().is_some_and(|length| length > max_bytes) {
        return Err(too_large());
    }
    let file_error = |source| FetchError::File { path: dest.to_path_buf(), source };
    let mut file = tokio::fs::File::create(dest).await.map_err(file_error)?;
    let written = async {
        let mut written: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| network_error(&current, &e))? {
            written += chunk.len() as u64;
            if written > max_bytes {
                return Err(too_large());
            }
            file.write_all(&chunk).await.map_err(file_error)?;
        }
        file.flush().await.map_err(file_error)?;
        file.sync_data().await.map_err(file_error)?;
        Ok(written)
    }
    .await;
    drop(file);
    if written.is_err() {
        if let Err(error) = tokio::fs::remove_file(dest).await {
            warn!(path = %dest.display(), %error, "Could not remove a failed download.");
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_http_and_https_urls_with_a_host() {
        assert!(check_url("https://media.example.com/film.mp4?sig=1", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/film.mp4", true).is_ok());
        for (text, kind) in [
            ("media.example.com/film.mp4", "invalid_url"),
            ("ftp://media.example.com/film.mp4", "unsupported_scheme"),
            ("file:///etc/passwd", "unsupported_scheme"),
            ("http://127.0.0.1:9000/film.mp4", "private_address"),
            ("http://[::1]/film.mp4", "private_address"),
            ("http://169.254.169.254/latest/meta-data", "private_address"),
        ] {
            let error = check_url(text, false).unwrap_err();
            assert_eq!(error.as_str(), kind, "{text}: {error}");
            assert!(!error.is_retryable(), "{text}");
        }
    }

    #[test]
    fn redirects_are_checked_like_the_first_url() {
        let from = url("https://media.example.com/a/film.mp4");
        assert_eq!(
            next_hop(&from, 302, Some("/b/film.mp4"), false).unwrap().as_str(),
            "https://media.example.com/b/film.mp4"
        );
        assert_eq!(
            next_hop(&from, 301, Some("other.mp4"), false).unwrap().as_str(),
            "https://media.example.com/a/other.mp4"
        );
        assert_eq!(
            next_hop(&from, 307, Some("http://cdn.example.net/x"), false).unwrap().as_str(),
            "http://cdn.example.net/x"
        );
        let kind =
            |status, location, allow| next_hop(&from, status, location, allow).map(|_| ()).map_err(|e| e.as_str());
        assert_eq!(kind(302, Some("ftp://media.example.com/x"), false), Err("unsupported_scheme"));
        assert_eq!(kind(302, Some("file:///etc/passwd"), true), Err("unsupported_scheme"));
        assert_eq!(kind(302, Some("http://10.0.0.7/x"), false), Err("private_address"));
        assert_eq!(kind(302, Some("http://[fd00::1]/x"), false), Err("private_address"));
        assert_eq!(kind(302, Some("http://10.0.0.7/x"), true), Ok(()));
        assert_eq!(kind(302, None, false), Err("bad_redirect"));
        assert_eq!(kind(302, Some("  "), false), Err("bad_redirect"));
        assert_eq!(kind(302, Some("http://"), false), Err("bad_redirect"));
    }

    #[test]
    fn messages_hide_credentials_and_queries() {
        let shown = display_url(&url("https://user:secret@media.example.com/film.mp4?X-Amz-Signature=abc#t=1"));
        assert_eq!(shown, "https://media.example.com/film.mp4");
        let error = next_hop(&url("https://u:pw@h.example/x?sig=1"), 302, None, false).unwrap_err();
        assert_eq!(error.to_string(), "https://h.example/x answered 302 with no usable Location header");
    }

    #[test]
    fn what_may_be_retried() {
        let status = |status| FetchError::Status { url: "u".into(), status };
        assert!(status(500).is_retryable() && status(503).is_retryable() && status(429).is_retryable());
        assert!(!status(404).is_retryable() && !status(403).is_retryable() && !status(410).is_retryable());
        assert!(FetchError::Network { url: "u".into(), detail: "reset".into() }.is_retryable());
        assert!(!FetchError::TooLarge { url: "u".into(), limit: 1 }.is_retryable());
        assert!(!FetchError::PrivateAddress { url: "u".into() }.is_retryable());
        assert!(!FetchError::TooManyRedirects { url: "u".into(), limit: 5 }.is_retryable());
    }

    proptest! {
        /// Whatever a server puts in Location, the next hop is http(s), and never a literal private address
        /// unless allowed.
        #[test]
        fn no_location_escapes_the_rules(location in "\\PC{0,40}", scheme in prop::sample::select(vec!["http", "https", "ftp", "file", "gopher", "javascript"]), host in prop::sample::select(vec!["10.0.0.1", "127.0.0.1", "[::1]", "8.8.8.8", "media.example.com"])) {
            let from = url("https://media.example.com/a/b");
            for candidate in [location.clone(), format!("{scheme}://{host}/{location}")] {
                if let Ok(next) = next_hop(&from, 302, Some(&candidate), false) {
                    prop_assert!(matches!(next.scheme(), "http" | "https"), "{}", next);
                    prop_assert!(!literal_private_host(&next), "{}", next);
                }
            }
        }
    }
}
