//! The worker behind a worker call: `Authorization: Bearer mqw_…`, looked up by its hash.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use marquee_farm_protocol::WORKER_TOKEN_PREFIX;

use crate::auth::tokens::secret_hash;
use crate::error::ApiError;
use crate::jobs::Worker;
use crate::state::AppState;

/// The registered worker making the request.
#[derive(Debug, Clone)]
pub struct WorkerCaller(pub Worker);

impl FromRequestParts<AppState> for WorkerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| token.starts_with(WORKER_TOKEN_PREFIX))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "worker calls need Authorization: Bearer mqw_… (the token POST /v1/workers gave this worker)",
                )
            })?;
        let worker = crate::jobs::JobQueue::new(state.db.clone())
            .worker_by_token(&secret_hash(token))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::unauthorized("this worker token is unknown: register the worker again"))?;
        Ok(Self(worker))
    }
}
