//! `Idempotency-Key` on mutating requests (POST, PUT, PATCH, DELETE; not the tus endpoints, whose offsets make
//! them safe to retry already): the first answer is kept, and a retry with the same key and body gets it again
//! (with `Idempotent-Replayed: true`) instead of doing the work twice. The same key with another body is 422;
//! while the first request still runs, 409. Keys are the caller's own (scoped by user; a request that is not
//! signed in is not idempotent) and kept for [`KEEP_FOR`]. An answer that carries a secret shown once (a new API key, a webhook secret) is not kept: its
//! retry gets 409 saying so. A 5xx answer is not kept either, so the retry runs again.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::auth::{now_ms, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key's answer is kept.
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
/// The longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;
/// The largest answer kept for replay; a larger one is not kept (its retry runs again).
const MAX_KEPT_BODY: usize = 1024 * 1024;

/// Set on a response whose body holds a secret shown once, so it is never stored.
#[derive(Debug, Clone, Copy)]
pub struct SecretResponse;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The middleware (on the `/v1` routes, with the state).
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let applies = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
        && !request.uri().path().starts_with("/v1/uploads")
        && request.headers().contains_key(IDEMPOTENCY_KEY);
    if !applies {
        return next.run(request).await;
    }
    match run(state, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run(state: AppState, request: Request, next: Next) -> Result<Response, Response> {
    let (mut parts, body) = request.into_parts();
    // Keys are the caller's own; a request that is not signed in gets its answer from the handler as usual (a
    // 401 where the operation needs a caller) and nothing is kept. Unknown callers shared one scope before, so
    // one client's key could replay, or refuse with 422, another's request.
    let scope = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller.user_id,
        Err(_) => return Ok(next.run(Request::from_parts(parts, body)).await),
    };
    let key = parts.headers[IDEMPOTENCY_KEY].to_str().unwrap_or_default().trim().to_owned();
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible characters"),
        )
        .into_response());
    }
    let limit = 64 * 1024 * 1024;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
            .into_response()
    })?;
    let body_hash = hex(&Sha256::digest(&bytes));
    let (method, path) = (parts.method.to_string(), parts.uri.path().to_owned());
    let now = now_ms();
    let db = state.db.pool();
    let internal = |e: sqlx::Error| ApiError::from(e).into_response();

    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 AND created_at < $3")
        .bind(&scope)
        .bind(&key)
        .bind(now - i64::try_from(KEEP_FOR.as_millis()).unwrap_or(i64::MAX))
        .execute(db)
        .await
        .map_err(internal)?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, method, path, body_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, idempotency_key) DO NOTHING",
    )
    .bind(&scope)
    .bind(&key)
    .bind(&method)
    .bind(&path)
    .bind(&body_hash)
    .bind(now)
    .execute(db)
    .await
    .map_err(internal)?
    .rows_affected();

    if inserted == 0 {
        return replay(&state, &scope, &key, (&method, &path, &body_hash)).await;
    }
    let response = next.run(axum::extract::Request::from_parts(parts, Body::from(bytes))).await;
    Ok(keep(&state, &scope, &key, response).await)
}

/// The kept answer for an existing key.
async fn replay(state: &AppState, scope: &str, key: &str, request: (&str, &str, &str)) -> Result<Response, Response> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT method, path, body_hash, status, content_type, response_body, secret_response FROM idempotency_keys \
         WHERE scope = $1 AND idempotency_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| ApiError::from(e).into_response())?;
    let Some(row) = row else {
        // Removed in between (a 5xx answer is not kept): the client retries.
        return Err(ApiError::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key just ended; retry",
        )
        .into_response());
    };
    let get = |name: &str| row.try_get::<Option<String>, _>(name).ok().flatten();
    let same = get("method").as_deref() == Some(request.0)
        && get("path").as_deref() == Some(request.1)
        && get("body_hash").as_deref() == Some(request.2);
    if !same {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request (method, path or body); use a new key",
        )
        .into_response());
    }
    let status: Option<i64> = row.try_get("status").ok().flatten();
    let Some(status) = status else {
        return Err(ApiError::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still running; retry once it has answered",
        )
        .into_response());
    };
    if row.try_get::<Option<i64>, _>("secret_response").ok().flatten().is_some() {
        return Err(ApiError::conflict(
            "idempotency_key_used",
            "this request was done already, and its answer held a secret that is shown only once",
        )
        .into_response());
    }
    let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(500)).unwrap_or(StatusCode::OK);
    let mut response = (status, get("response_body").unwrap_or_default()).into_response();
    if let Some(content_type) = get("content_type").and_then(|t| HeaderValue::from_str(&t).ok()) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
    }
    response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

/// Stores the first answer (or forgets the key after a 5xx, so a retry runs again).
async fn keep(state: &AppState, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    let secret = response.extensions().get::<SecretResponse>().is_some();
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_KEPT_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            forget(state, scope, key).await;
            return Response::from_parts(parts, Body::empty());
        }
    };
    let text = String::from_utf8(bytes.to_vec()).ok();
    if status.is_server_error() || text.is_none() {
        forget(state, scope, key).await;
    } else {
        let content_type =
            parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let stored = sqlx::query(
            "UPDATE idempotency_keys SET status = $1, content_type = $2, response_body = $3, secret_response = $4 \
             WHERE scope = $5 AND idempotency_key = $6",
        )
        .bind(i64::from(status.as_u16()))
        .bind(content_type)
        .bind(if secret { None } else { text })
        .bind(secret.then_some(1i64))
        .bind(scope)
        .bind(key)
        .execute(state.db.pool())
        .await;
        if let Err(error) = stored {
            tracing::warn!(%error, "Could not keep an idempotent answer; a retry will run again.");
            forget(state, scope, key).await;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn forget(state: &AppState, scope: &str, key: &str) {
    let _ = sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2")
        .bind(scope)
        .bind(key)
        .execute(state.db.pool())
        .await;
}
