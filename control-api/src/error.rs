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

/// Whether a JSON text has a NUL character in a string (the only way to write one is the escape `\u0000`).
/// PostgreSQL cannot store NUL in text and no name, address or URL has one, so the extractors refuse it on
/// both engines alike.
pub fn json_has_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            // An escape is two bytes at least; `\\` must not start another.
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether a URI path or query, before percent-decoding, decodes to a NUL character somewhere.
pub fn uri_part_has_nul(raw: &str) -> bool {
    raw.contains("%00")
}

/// Whether `Content-Type` says JSON: `application/json` or `application/…+json`, with any parameters.
fn json_content_type(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

fn nul_refused(what: &'static str, code: &'static str) -> ApiError {
    ApiError::bad_request(
        code,
        format!("the {what} has a NUL character (\\u0000 or %00), which no value here may have"),
    )
}

/// JSON body and query extractors whose rejections are [`ApiError`]s, so bad input gets the API's error format.
pub mod extract {
    use axum::body::Bytes;
    use axum::extract::rejection::JsonRejection;
    use axum::extract::{FromRequest, FromRequestParts, Request};
    use http::request::Parts;
    use serde::de::DeserializeOwned;

    use super::{json_content_type, json_has_nul, nul_refused, uri_part_has_nul, ApiError};

    /// `axum::Json`, rejecting with an [`ApiError`], and refusing NUL characters in strings.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Json<T>(pub T);

    impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
        type Rejection = ApiError;

        async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
            if !json_content_type(request.headers()) {
                return Err(JsonRejection::MissingJsonContentType(Default::default()).into());
            }
            // Within the router's body limit (`DefaultBodyLimit`), as `axum::Json` reads it.
            let bytes = Bytes::from_request(request, state).await.map_err(JsonRejection::BytesRejection)?;
            let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
            if json_has_nul(&bytes) {
                return Err(nul_refused("JSON body", "invalid_body"));
            }
            Ok(Self(value))
        }
    }

    impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
        fn into_response(self) -> axum::response::Response {
            axum::Json(self.0).into_response()
        }
    }

    /// `axum::extract::Query`, rejecting with an [`ApiError`], and refusing NUL characters.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Query<T>(pub T);

    impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
        type Rejection = ApiError;

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
            let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
            if parts.uri.query().is_some_and(uri_part_has_nul) {
                return Err(nul_refused("query", "invalid_query"));
            }
            Ok(Self(value))
        }
    }

    /// `axum::extract::Path`, rejecting with an [`ApiError`], and refusing NUL characters.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Path<T>(pub T);

    impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
        type Rejection = ApiError;

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
            let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
            if uri_part_has_nul(parts.uri.path()) {
                return Err(nul_refused("path", "invalid_path"));
            }
            Ok(Self(value))
        }
    }
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

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not_taken_for_them() {
        assert!(json_has_nul(br#"{"name":"a\u0000b"}"#));
        assert!(json_has_nul(br#"{"a\u0000":1}"#));
        assert!(!json_has_nul(br#"{"name":"a\\u0000b"}"#), "a backslash, then the text u0000");
        assert!(json_has_nul(br#"{"name":"a\\\u0000b"}"#), "a backslash, then NUL");
        assert!(!json_has_nul(br#""\u000"#), "cut short");
        assert!(!json_has_nul(br#""\"#), "an escape at the end");
        assert!(!json_has_nul(br#"{"n":"\u0001 \u1000"}"#));
        assert!(uri_part_has_nul("/v1/assets/a%00b") && !uri_part_has_nul("/v1/assets/a%2500b"));
    }

    #[test]
    fn json_content_types_are_told_apart() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::CONTENT_TYPE, value.parse().unwrap());
            json_content_type(&headers)
        };
        for yes in
            ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/problem+json"]
        {
            assert!(with(yes), "{yes}");
        }
        for no in ["text/json", "application/jsonx", "application/x-www-form-urlencoded", "json", ""] {
            assert!(!with(no), "{no}");
        }
        assert!(!json_content_type(&http::HeaderMap::new()));
    }

    proptest::proptest! {
        /// Whatever the strings, their JSON has a NUL escape exactly when one of them has NUL.
        #[test]
        fn json_has_nul_exactly_when_a_string_has_nul(key in "[a\\\\u0\\x00]{0,8}", value in "(.|\\x00|\\\\u0000){0,12}") {
            let json = serde_json::to_vec(&serde_json::json!({ key.clone(): value.clone() })).unwrap();
            proptest::prop_assert_eq!(json_has_nul(&json), key.contains('\0') || value.contains('\0'));
        }
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
