//! `/v1/orders`: viewers order (with `Idempotency-Key`) and see their own orders; admins see and refund all.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use marquee_control_api::auth::{Caller, Role};
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::playback::region_of;
use marquee_control_api::ApiError;

use serde::Deserialize;
use utoipa::IntoParams;

use super::page_limit;
use crate::model::{NewOrder, Order, OrderPage, Revenue};
use crate::state::CommerceState;
use crate::store::OrdersOf;
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
    let key = super::required_key(&headers, "orders")?;
    let region = region_of(&headers);
    let order = orders::place(&state.core, state.app.db.pool(), &caller, &key, &new, region.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// Which orders a list holds, and a page of them.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// The orders of the titles the caller sells (a creator's own titles) instead of the orders they placed.
    pub sold: Option<bool>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many at most (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The caller's orders (everyone's for admins), or with `sold=true` the orders of the titles they sell;
/// oldest first.
#[utoipa::path(get, path = "/v1/orders", tag = "commerce", security(("bearer" = [])), params(OrderQuery),
    responses((status = 200, body = OrderPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<CommerceState>,
    caller: Caller,
    Query(query): Query<OrderQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let of = match query.sold {
        Some(true) => OrdersOf::Seller(&caller.user_id),
        _ if caller.is_admin() => OrdersOf::Everyone,
        _ => OrdersOf::Buyer(&caller.user_id),
    };
    let items = store::list_orders(state.app.db.pool(), of, query.after.as_deref(), limit).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|o| o.id.clone())).flatten();
    Ok(Json(OrderPage { items, next_cursor }))
}

/// One order (the caller's own, or one of a title they sell; any for admins).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the order's id")),
    responses((status = 200, body = Order), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    match store::order(state.app.db.pool(), &id).await? {
        Some(row)
            if caller.may_manage(&row.order.user_id)
                || row.order.seller_id.as_deref() == Some(caller.user_id.as_str()) =>
        {
            Ok(Json(row.order))
        }
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevenueQuery {
    /// Admins: one seller's (default: every seller's together). Creators see their own only.
    pub seller_id: Option<String>,
}

/// What the caller's titles brought in from rentals and purchases, per currency (creators their own; admins any
/// seller's, or every seller's).
#[utoipa::path(get, path = "/v1/commerce/revenue", tag = "commerce", security(("bearer" = [])), params(RevenueQuery),
    responses((status = 200, body = Revenue), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "viewers, and creators asking for another seller's", body = ErrorBody)))]
pub async fn revenue(
    State(state): State<CommerceState>,
    caller: Caller,
    Query(query): Query<RevenueQuery>,
) -> Result<Json<Revenue>, ApiError> {
    caller.require(Role::Creator)?;
    let seller_id = match query.seller_id {
        Some(seller) if caller.may_manage(&seller) => Some(seller),
        Some(_) => return Err(ApiError::forbidden("creators see only their own revenue")),
        None if caller.is_admin() => None,
        None => Some(caller.user_id.clone()),
    };
    let currencies = store::revenue(state.app.db.pool(), seller_id.as_deref()).await?;
    Ok(Json(Revenue { seller_id, currencies }))
}
