//! `/v1/subscriptions` and `/v1/rentals`: what viewers hold (their own; admins everyone's), canceling, and the
//! admins' way to run renewals now.

use axum::extract::State;
use axum::http::HeaderMap;
use marquee_control_api::auth::{Caller, Role};
use marquee_control_api::db::begin_write;
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{page_limit, ListQuery};
use crate::domain::subscription::SubscriptionEvent;
use crate::model::{NewPaymentMethod, RenewalReport, RentalPage, SubscriptionPage, SubscriptionView};
use crate::state::CommerceState;
use crate::store;

/// The caller's subscriptions (everyone's for admins), oldest first.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "commerce", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = SubscriptionPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<CommerceState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<SubscriptionPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let owner = (!caller.is_admin()).then_some(caller.user_id.as_str());
    let rows = store::list_subscriptions(state.app.db.pool(), owner, query.after.as_deref(), limit).await?;
    let items: Vec<SubscriptionView> = rows.iter().map(store::SubscriptionRow::view).collect();
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|s| s.id.clone())).flatten();
    Ok(Json(SubscriptionPage { items, next_cursor }))
}

async fn owned(state: &CommerceState, caller: &Caller, id: &str) -> Result<store::SubscriptionRow, ApiError> {
    match store::subscription(state.app.db.pool(), id).await? {
        Some(row) if caller.may_manage(&row.user_id) => Ok(row),
        _ => Err(ApiError::not_found("subscription")),
    }
}

/// One subscription.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the subscription's id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    Ok(Json(owned(&state, &caller, &id).await?.view()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CancelQuery {
    /// Keep it until the paid period ends, then `expired` (default: `canceled` at once).
    pub at_period_end: Option<bool>,
}

/// Cancels a subscription: at once (playback stops within one playback token's lifetime) or at its period's end.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the subscription's id"), CancelQuery),
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "it has ended already", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<CancelQuery>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let row = owned(&state, &caller, &id).await?;
    let now = state.core.clock.now_ms();
    let event = SubscriptionEvent::Cancel { at_period_end: query.at_period_end.unwrap_or(false) };
    let next = row
        .subscription
        .apply(event, now)
        .map_err(|refusal| ApiError::conflict(refusal.code(), refusal.to_string()))?;
    let mut tx = begin_write(state.app.db.pool()).await?;
    if !store::save_subscription(&mut tx, &row.id, &row.subscription, &next, now).await? {
        return Err(ApiError::conflict(
            "subscription_changed",
            "the subscription changed meanwhile; read it and retry",
        ));
    }
    tx.commit().await?;
    tracing::info!(subscription = %row.id, state = next.state.as_str(), "Subscription canceled.");
    Ok(Json(store::SubscriptionRow { subscription: next, ..row }.view()))
}

/// Gives a subscription a new card (the subscriber's, or an admin's doing). A past-due subscription's unpaid
/// renewal is charged to it at once: `active` again if it pays, still `past_due` if declined, unchanged until
/// the provider's webhook if it confirms later (or if the provider did not answer: the scheduled retries go
/// on). `Idempotency-Key` is required: a retry charges nothing more.
#[utoipa::path(put, path = "/v1/subscriptions/{id}/payment-method", tag = "commerce", security(("bearer" = [])),
    request_body = NewPaymentMethod,
    params(("id" = String, Path, description = "the subscription's id"),
        ("idempotency-key" = String, Header, description = "required: one key per change")),
    responses((status = 200, description = "the subscription after the change (and the charge, if one was due)", body = SubscriptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "it has ended, or its grace period is over", body = ErrorBody),
        (status = 422, description = "the key was used for another request", body = ErrorBody)))]
pub async fn change_card(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(new): Json<NewPaymentMethod>,
) -> Result<Json<SubscriptionView>, ApiError> {
    super::required_key(&headers, "card changes")?;
    let token = crate::orders::payment_token(&new.payment_token)?;
    let row = owned(&state, &caller, &id).await?;
    let now = state.core.clock.now_ms();
    let changed = crate::renewals::change_card(&state.core, state.app.db.pool(), &row, token, now).await?;
    Ok(Json(changed.view()))
}

/// Runs the renewals due now (admins; a background task does it every minute).
#[utoipa::path(post, path = "/v1/commerce/renewals", tag = "commerce", security(("bearer" = [])),
    responses((status = 200, body = RenewalReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn renew(State(state): State<CommerceState>, caller: Caller) -> Result<Json<RenewalReport>, ApiError> {
    caller.require(Role::Admin)?;
    let now = state.core.clock.now_ms();
    Ok(Json(crate::renewals::renew_due(&state.core, state.app.db.pool(), now).await?))
}

/// The caller's rentals (everyone's for admins), oldest first.
#[utoipa::path(get, path = "/v1/rentals", tag = "commerce", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = RentalPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn rentals(
    State(state): State<CommerceState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<RentalPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let owner = (!caller.is_admin()).then_some(caller.user_id.as_str());
    let now = state.core.clock.now_ms();
    let items = store::list_rentals(state.app.db.pool(), owner, query.after.as_deref(), limit, now).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|r| r.id.clone())).flatten();
    Ok(Json(RentalPage { items, next_cursor }))
}
