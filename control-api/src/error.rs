//! Every error the API answers with: JSON `{"error": {"code": "...", "message": "...", "request_id": "..."}}`,
//! where `code` is stable (clients branch on it) and `message` is for people. Internal failures are logged
//! with the request id and answered with `internal` and no details.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer. Build one with a constructor named after its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `invalid_json`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `payload_too_large`, `idempotency_key_reused`, `rate_limited`, `internal`, and the codes
    /// of each endpoint.
    pub code: String,
    /// For people: what was wrong and, where it helps, what to do.
    pub message: String,
    /// The request's id (also in the `x-request-id` response header and the server's logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A failure of the server's own (database, storage): logged in full, answered without details.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{context}; see the server's log"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The request id is added by `crate::server::error_request_ids`, which sees the request.
        let body = ErrorBody { error: ErrorDetail { code: self.code.into(), message: self.message, request_id: None } };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.extensions_mut().insert(ErrorMarker);
        response
    }
}

/// Marks a response as an [`ApiError`] answer, so the request id can be written into its body.
#[derive(Debug, Clone, Copy)]
pub struct ErrorMarker;

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal("database error", error)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonRejection::JsonDataError(e) => Self::bad_request("invalid_body", json_problem(&e.body_text())),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request("invalid_json", json_problem(&e.body_text())),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
            }
            other => Self::bad_request("invalid_body", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request("invalid_path", rejection.body_text())
    }
}

/// serde_json's message without axum's prefix, e.g. `unknown field `colour`, expected one of … at line 1
/// column 12`.
fn json_problem(text: &str) -> String {
    let text = text
        .trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        .trim_start_matches("Failed to parse the request body as JSON: ");
    format!("the JSON body is not valid: {text}")
}

/// JSON body and query extractors whose rejections are [`ApiError`]s, so bad input gets the API's error format.
pub mod extract {
    use axum::extract::{FromRequest, FromRequestParts};

    use super::ApiError;

    /// `axum::Json`, rejecting with an [`ApiError`].
    #[derive(Debug, Clone, Copy, Default, FromRequest)]
    #[from_request(via(axum::Json), rejection(ApiError))]
    pub struct Json<T>(pub T);

    impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
        fn into_response(self) -> axum::response::Response {
            axum::Json(self.0).into_response()
        }
    }

    /// `axum::extract::Query`, rejecting with an [`ApiError`].
    #[derive(Debug, Clone, Copy, Default, FromRequestParts)]
    #[from_request(via(axum::extract::Query), rejection(ApiError))]
    pub struct Query<T>(pub T);

    /// `axum::extract::Path`, rejecting with an [`ApiError`].
    #[derive(Debug, Clone, Copy, Default, FromRequestParts)]
    #[from_request(via(axum::extract::Path), rejection(ApiError))]
    pub struct Path<T>(pub T);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_problems_lose_axums_prefix() {
        assert_eq!(
            json_problem("Failed to deserialize the JSON body into the target type: unknown field `x` at line 1"),
            "the JSON body is not valid: unknown field `x` at line 1"
        );
    }

    #[tokio::test]
    async fn errors_are_json_with_a_stable_code() {
        let response = ApiError::not_found("asset").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["code"], "not_found");
        assert_eq!(value["error"]["message"], "no such asset");
    }
}
