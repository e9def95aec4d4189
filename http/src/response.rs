//! Building responses: short texts that never echo anything from storage or upstreams, and the one mapping
//! from a service's refusal to its response ([`ErrorResponse`], implemented once per service).

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

/// What every text answer is labelled with.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
/// Sent with every 503 so that clients back off briefly.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// A short plain-text answer naming the status: `404 Not Found`.
pub fn plain<B: From<Bytes>>(status: StatusCode) -> Response<B> {
    let reason = status.canonical_reason().unwrap_or("error");
    text(status, TEXT_PLAIN, format!("{} {reason}\n", status.as_u16()))
}

/// A complete answer with `body`, never cached.
pub fn text<B: From<Bytes>>(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<B> {
    let body = body.into();
    let response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::CACHE_CONTROL, "no-store");
    build(response, B::from(body))
}

/// A 405 that says which methods are served.
pub fn method_not_allowed<B: From<Bytes>>(allowed: &'static str) -> Response<B> {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allowed));
    response
}

/// The response from a builder whose headers were all set from valid values.
pub fn build<B>(builder: http::response::Builder, body: B) -> Response<B> {
    builder.body(body).expect("every header set here is valid")
}

/// Why a request is not answered as asked, as a service's own error type sees it: the status is decided in
/// one place per service, and [`error_response`] turns it into the response.
pub trait ErrorResponse: std::fmt::Display {
    /// The HTTP status of this refusal.
    fn status(&self) -> StatusCode;

    /// Headers that go with this refusal (`Content-Range` of a 416, `Cache-Control` of a 404).
    fn add_headers(&self, _headers: &mut HeaderMap) {}
}

/// The response for a refusal: a short text naming its status, with `Retry-After` on every 503 and the
/// refusal's own headers; the reason is logged at debug level, never sent.
pub fn error_response<B: From<Bytes>>(refusal: &impl ErrorResponse) -> Response<B> {
    tracing::debug!(reason = %refusal, "Request refused.");
    let status = refusal.status();
    let mut response = plain(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    }
    refusal.add_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Busy;

    impl std::fmt::Display for Busy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("busy")
        }
    }

    impl ErrorResponse for Busy {
        fn status(&self) -> StatusCode {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }

    #[test]
    fn refusals_name_their_status_and_503s_ask_to_retry() {
        let response: Response<Bytes> = error_response(&Busy);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.body(), &Bytes::from("503 Service Unavailable\n"));
        let not_found: Response<Bytes> = plain(StatusCode::NOT_FOUND);
        assert!(not_found.headers().get(header::RETRY_AFTER).is_none());
    }
}
