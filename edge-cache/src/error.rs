//! The edge's errors: [`EdgeError`] for starting, [`Refusal`] for one request, and the one place that maps a
//! refusal to its HTTP status.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use marquee_http::authorizer::Denial;
use marquee_http::path::PathRejection;
use marquee_http::response::{ErrorResponse, RETRY_AFTER_SECONDS};

use crate::fill::FillFailure;
use crate::key::KeyError;
use crate::upstream::UpstreamError;

/// Why the edge could not start.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("the edge settings do not work together:\n  - {}", marquee_settings::Problem::list(problems, "\n  - "))]
    InvalidConfig { problems: Vec<marquee_settings::Problem> },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot open the disk tier: {0}")]
    Disk(#[from] crate::disk::DiskError),
    #[error("upstreams: {0}")]
    Upstreams(#[from] crate::hashing::HashingError),
}

/// Why one request is not answered from the cache or the upstream.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("request path refused ({})", .0.as_str())]
    BadPath(PathRejection),
    #[error("request denied ({})", .0.as_str())]
    Denied(Denial),
    #[error("no cache key for the request ({})", .0.as_str())]
    NoCacheKey(KeyError),
    #[error("the fill failed: {0}")]
    Fill(FillFailure),
}

impl ErrorResponse for Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::BadPath(_) | Refusal::NoCacheKey(_) => StatusCode::BAD_REQUEST,
            Refusal::Denied(_) => StatusCode::FORBIDDEN,
            Refusal::Fill(FillFailure::Upstream(UpstreamError::Timeout)) => StatusCode::GATEWAY_TIMEOUT,
            Refusal::Fill(FillFailure::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Fill(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Every failed fill may succeed on a retry (another upstream, room in the fill budget).
    fn add_headers(&self, headers: &mut HeaderMap) {
        if let Refusal::Fill(_) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(Refusal::BadPath(PathRejection::DotOrEmptySegment).status(), StatusCode::BAD_REQUEST);
        assert_eq!(Refusal::Denied(Denial::Expired).status(), StatusCode::FORBIDDEN);
        let timeout = Refusal::Fill(FillFailure::Upstream(UpstreamError::Timeout));
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(Refusal::Fill(FillFailure::Busy).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(Refusal::Fill(FillFailure::BodyBroken).status(), StatusCode::BAD_GATEWAY);
        let response: http::Response<bytes::Bytes> = marquee_http::response::error_response(&timeout);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
