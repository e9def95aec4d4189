//! `POST /v1/commerce/webhooks/{provider}`: the payment provider's events. No bearer token: the signature is
//! the authentication, the timestamp bounds replays, and each event id is applied once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use marquee_control_api::error::extract::{Json, Path};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::orders;
use crate::state::CommerceState;

/// What was done with an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// `applied`, `duplicate` (this event id was handled before) or `ignored` (no charge waits for it).
    pub status: String,
}

/// Receives a payment provider's signed event (Standard Webhooks headers).
#[utoipa::path(post, path = "/v1/commerce/webhooks/{provider}", tag = "commerce",
    params(("provider" = String, Path, description = "the provider's name: `test-provider`"),
        ("webhook-id" = String, Header, description = "the event's id"),
        ("webhook-timestamp" = String, Header, description = "Unix seconds; refused when more than 5 minutes off"),
        ("webhook-signature" = String, Header, description = "`v1,BASE64` HMAC-SHA256 signatures")),
    request_body(content = String, description = "the provider's JSON event", content_type = "application/json"),
    responses((status = 200, body = WebhookAnswer), (status = 400, description = "malformed, bad signature, stale timestamp or unknown event", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn receive(
    State(state): State<CommerceState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<WebhookAnswer>), ApiError> {
    if provider != state.core.provider.name() {
        return Err(ApiError::not_found("payment provider"));
    }
    let now = state.core.clock.now_ms();
    let event = state.core.provider.verify_webhook(&headers, &body, now).map_err(|refusal| {
        tracing::warn!(%refusal, "Webhook refused.");
        ApiError::bad_request(refusal.code(), refusal.to_string())
    })?;
    let outcome = orders::apply_event(&state.core, state.app.db.pool(), &event).await?;
    tracing::info!(event = %event.id, kind = event.kind.as_str(), outcome = outcome.as_str(), "Webhook received.");
    Ok((StatusCode::OK, Json(WebhookAnswer { status: outcome.as_str().into() })))
}
