//! `/v1/orders`: viewers order (with `Idempotency-Key`) and see their own orders; admins see and refund all.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use marquee_control_api::auth::{Caller, Role};
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::idempotency::{IDEMPOTENCY_KEY, MAX_KEY_LENGTH};
use marquee_control_api::playback::region_of;
use marquee_control_api::ApiError;

use super::{page_limit, ListQuery};
use crate::model::{NewOrder, Order, OrderPage};
use crate::state::CommerceState;
use crate::{orders, store};

/// Orders (and charges) a plan or an offer. `Idempotency-Key` is required: a retry with the same key and body
/// answers the same order without charging again; the same key with another body is 422.
#[utoipa::path(post, path = "/v1/orders", tag = "commerce", security(("bearer" = [])), request_body = NewOrder,
    params(("idempotency-key" = String, Header, description = "required: one key per order"),
        ("marquee-region" = Option<String>, Header, description = "the viewer's country, set by the edge")),
    responses((status = 201, description = "the order: fulfilled, failed (with failure_code), or pending until the provider confirms", body = Order),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "overlapping subscription, title unavailable or already owned, or the key's first request still running", body = ErrorBody),
        (status = 422, description = "unknown plan or offer, or the key was used for another request", body = ErrorBody),
        (status = 502, description = "the payment provider failed; retry with the same key", body = ErrorBody)))]
pub async fn create(
    State(state): State<CommerceState>,
    caller: Caller,
    headers: HeaderMap,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let key = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(ApiError::bad_request(
            "idempotency_key_required",
            format!("orders need an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} visible characters"),
        ));
    }
    let region = region_of(&headers);
    let order = orders::place(&state.core, state.app.db.pool(), &caller, key, &new, region.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// The caller's orders (everyone's for admins), oldest first.
#[utoipa::path(get, path = "/v1/orders", tag = "commerce", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = OrderPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<CommerceState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let owner = (!caller.is_admin()).then_some(caller.user_id.as_str());
    let items = store::list_orders(state.app.db.pool(), owner, query.after.as_deref(), limit).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|o| o.id.clone())).flatten();
    Ok(Json(OrderPage { items, next_cursor }))
}

/// One order (the caller's own; any for admins).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the order's id")),
    responses((status = 200, body = Order), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    match store::order(state.app.db.pool(), &id).await? {
        Some(row) if caller.may_manage(&row.order.user_id) => Ok(Json(row.order)),
        _ => Err(ApiError::not_found("order")),
    }
}

/// Refunds a fulfilled order in full and takes back what it bought (admins).
#[utoipa::path(post, path = "/v1/orders/{id}/refund", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the order's id")),
    responses((status = 200, body = Order), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "not fulfilled, or nothing charged", body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn refund(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(orders::refund(&state.core, state.app.db.pool(), &id).await?))
}
