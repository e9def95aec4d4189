//! The events and webhooks endpoints: `GET /v1/events` (the outbox from a cursor), `/v1/webhooks` (endpoints,
//! their delivery log, redelivery) and `POST /v1/events/{id}/redeliver`.
//!
//! Creators see their own assets' events and manage their own endpoints; admins see and manage everything;
//! viewers get 403. Another user's endpoint, delivery or event answers 404, as if it did not exist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{deliveries, outbox, Attempt, CreatedEndpoint, Delivery, Endpoint, EventPage, NewEndpoint};
use crate::auth::{now_ms, Caller, Role};
use crate::error::extract::{Json, Path, Query};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Events per page unless the client asks for another number.
pub const DEFAULT_EVENT_PAGE: u32 = 100;
/// Deliveries per page unless the client asks for another number.
pub const DEFAULT_DELIVERY_PAGE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}/redeliver", post(redeliver_event))
        .route("/webhooks", post(create_webhook).get(list_webhooks))
        .route("/webhooks/{id}", get(get_webhook).delete(delete_webhook))
        .route("/webhooks/{id}/deliveries", get(list_deliveries))
        .route("/webhooks/{id}/deliveries/{delivery}", get(get_delivery))
        .route("/webhooks/{id}/deliveries/{delivery}/redeliver", post(redeliver))
}

/// Whose things a caller acts on: their own (`Some`), or everyone's for an admin (`None`). Viewers are refused.
fn scope(caller: &Caller) -> Result<Option<&str>, ApiError> {
    caller.require(Role::Creator)?;
    Ok((!caller.is_admin()).then_some(caller.user_id.as_str()))
}

/// A page size from the query: `default` when absent, 400 outside `1..=max`.
fn page_size(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit.unwrap_or(default) {
        limit if (1..=max).contains(&limit) => Ok(limit),
        _ => Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {max}"))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The `cursor` of the previous page (0, the default, reads from the first event).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// How many events at most (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Events in the order they happened, from a cursor: a creator's own assets' events, every event for admins.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let owner = scope(&caller)?;
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("invalid_query", "after must be a cursor from a previous page, or 0"));
    }
    let limit = page_size(query.limit, DEFAULT_EVENT_PAGE, outbox::MAX_PAGE)?;
    Ok(Json(outbox::events_after(state.db.pool(), after, limit, owner).await?))
}

/// The deliveries queued by a redelivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<Delivery>,
}

/// Send an event again to every endpoint that receives it (the caller's own endpoints; every one for admins).
#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "the event's id")),
    responses((status = 202, description = "queued; each delivery is sent shortly", body = DeliveryList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn redeliver_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryList>), ApiError> {
    let owner = scope(&caller)?;
    let items = deliveries::redeliver_event(state.db.pool(), &id, owner, now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryList { items })))
}

/// Register an endpoint for the caller's events (for every event, when the caller is an admin). The answer
/// carries the signing secret, shown this once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = NewEndpoint,
    responses((status = 201, body = CreatedEndpoint), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewEndpoint>,
) -> Result<axum::response::Response, ApiError> {
    scope(&caller)?;
    let created = super::create_endpoint(state.db.pool(), &caller.user_id, new, now_ms()).await?;
    tracing::info!(endpoint = %created.endpoint.id, owner = %caller.user_id, "Webhook endpoint registered.");
    let mut response = axum::response::IntoResponse::into_response((StatusCode::CREATED, Json(created)));
    // The secret is shown once: an idempotent retry must not find it stored.
    response.extensions_mut().insert(crate::idempotency::SecretResponse);
    Ok(response)
}

/// The caller's endpoints (everyone's for admins), without their secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<Endpoint>,
}

/// List webhook endpoints: the caller's own, or everyone's for admins; oldest first.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = EndpointList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_webhooks(State(state): State<AppState>, caller: Caller) -> Result<Json<EndpointList>, ApiError> {
    let owner = scope(&caller)?;
    Ok(Json(EndpointList { items: super::list_endpoints(state.db.pool(), owner).await? }))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "the endpoint's id")),
    responses((status = 200, body = Endpoint), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    let owner = scope(&caller)?;
    Ok(Json(super::endpoint(state.db.pool(), &id, owner).await?))
}

/// Remove a webhook endpoint with its delivery log; nothing more is sent to it.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "the endpoint's id")),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let owner = scope(&caller)?;
    super::delete_endpoint(state.db.pool(), &id, owner).await?;
    tracing::info!(endpoint = %id, by = %caller.user_id, "Webhook endpoint removed.");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many deliveries at most (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// One page of an endpoint's delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Pass as `after` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An endpoint's delivery log: one delivery per event sent to it (and per redelivery), newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "the endpoint's id"), DeliveriesQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let owner = scope(&caller)?;
    let limit = page_size(query.limit, DEFAULT_DELIVERY_PAGE, deliveries::MAX_PAGE)?;
    let items = deliveries::list_deliveries(state.db.pool(), &id, owner, query.after.as_deref(), limit).await?;
    let full = items.len() == limit as usize;
    let next_cursor = items.last().filter(|_| full).map(|delivery| delivery.id.clone());
    Ok(Json(DeliveryPage { items, next_cursor }))
}

/// A delivery with every attempt made so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    /// Every attempt, first first.
    pub attempts: Vec<Attempt>,
}

/// The delivery `delivery_id` of endpoint `endpoint_id`, if the caller may see it; another endpoint's is 404.
async fn endpoints_delivery(
    state: &AppState,
    endpoint_id: &str,
    delivery_id: &str,
    owner: Option<&str>,
) -> Result<Delivery, ApiError> {
    let delivery = deliveries::delivery(state.db.pool(), delivery_id, owner).await?;
    if delivery.endpoint_id != endpoint_id {
        return Err(ApiError::not_found("webhook delivery"));
    }
    Ok(delivery)
}

/// One delivery of an endpoint, with its attempts: when each was made, the answer's status or why there was none.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries/{delivery}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "the endpoint's id"),
        ("delivery" = String, Path, description = "the delivery's id")),
    responses((status = 200, body = DeliveryDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let owner = scope(&caller)?;
    let delivery = endpoints_delivery(&state, &id, &delivery_id, owner).await?;
    let attempts = deliveries::delivery_attempts(state.db.pool(), &delivery_id, owner).await?;
    Ok(Json(DeliveryDetail { delivery, attempts }))
}

/// Send a delivery's event to its endpoint again, now: a pending delivery is made due at once, a finished one
/// (delivered or given up) gets a new delivery with a new 24 hours of retries. The receiver sees the same
/// `webhook-id` as before.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the endpoint's id"),
        ("delivery" = String, Path, description = "the delivery's id")),
    responses((status = 202, description = "queued: the delivery that will carry the event", body = Delivery),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let owner = scope(&caller)?;
    endpoints_delivery(&state, &id, &delivery_id, owner).await?;
    let queued = deliveries::redeliver(state.db.pool(), &delivery_id, owner, now_ms()).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credential;

    fn caller(role: Role) -> Caller {
        Caller { user_id: "u1".into(), role, credential: Credential::Session("s".into()) }
    }

    #[test]
    fn creators_act_on_their_own_admins_on_all_viewers_on_nothing() {
        assert_eq!(scope(&caller(Role::Creator)).unwrap(), Some("u1"));
        assert_eq!(scope(&caller(Role::Admin)).unwrap(), None);
        let refused = scope(&caller(Role::Viewer)).unwrap_err();
        assert_eq!((refused.status, refused.code), (StatusCode::FORBIDDEN, "forbidden"));
    }

    #[test]
    fn page_sizes_default_and_stay_in_range() {
        assert_eq!(page_size(None, 100, 1000), Ok(100));
        assert_eq!(page_size(Some(1), 100, 1000), Ok(1));
        assert_eq!(page_size(Some(1000), 100, 1000), Ok(1000));
        for wrong in [0, 1001, u32::MAX] {
            let error = page_size(Some(wrong), 100, 1000).unwrap_err();
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "invalid_query"), "{wrong}");
            assert!(error.message.contains("between 1 and 1000"), "{}", error.message);
        }
    }
}
