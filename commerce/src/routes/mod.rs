//! Commerce's `/v1` routes and their OpenAPI document.

use axum::routing::{get, post};
use axum::Router;
use marquee_control_api::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::money::MoneyError;
use crate::state::CommerceState;

pub mod offers;
pub mod orders;
pub mod plans;
pub mod subscriptions;
pub mod webhooks;

/// Items per page at most.
pub const MAX_PAGE: i64 = 200;

pub fn router() -> Router<CommerceState> {
    Router::new()
        .route("/plans", get(plans::list).post(plans::create))
        .route("/plans/{id}", get(plans::read).patch(plans::update).delete(plans::archive))
        .route("/offers", get(offers::list).post(offers::create))
        .route("/offers/{id}", axum::routing::delete(offers::archive))
        .route("/orders", get(orders::list).post(orders::create))
        .route("/orders/{id}", get(orders::read))
        .route("/orders/{id}/refund", post(orders::refund))
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{id}", get(subscriptions::read))
        .route("/subscriptions/{id}/cancel", post(subscriptions::cancel))
        .route("/subscriptions/{id}/payment-method", axum::routing::put(subscriptions::change_card))
        .route("/rentals", get(subscriptions::rentals))
        .route("/commerce/renewals", post(subscriptions::renew))
        .route("/commerce/revenue", get(orders::revenue))
        .route("/commerce/webhooks/{provider}", post(webhooks::receive))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        plans::create, plans::list, plans::read, plans::update, plans::archive,
        offers::create, offers::list, offers::archive,
        orders::create, orders::list, orders::read, orders::refund, orders::revenue,
        subscriptions::list, subscriptions::read, subscriptions::cancel, subscriptions::change_card,
        subscriptions::renew, subscriptions::rentals,
        webhooks::receive,
    ),
    components(schemas(
        crate::model::Plan, crate::model::NewPlan, crate::model::PlanChange, crate::model::Offer,
        crate::model::NewOffer, crate::model::OfferKind, crate::model::Order, crate::model::NewOrder,
        crate::model::OrderKind, crate::model::OrderState, crate::model::OrderPage, crate::model::SubscriptionView,
        crate::model::SubscriptionPage, crate::model::NewPaymentMethod, crate::model::RentalView, crate::model::RentalPage,
        crate::model::RenewalReport, crate::model::Revenue, crate::model::CurrencyRevenue, crate::domain::money::Money, crate::domain::entitlement::Unlocks,
        crate::domain::subscription::Period, crate::domain::subscription::SubscriptionState,
        webhooks::WebhookAnswer,
    )),
    tags((name = "commerce", description = "Plans, offers, orders, subscriptions, rentals and the payment provider's webhooks"))
)]
pub struct CommerceDoc;

/// A page's query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// How many at most (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")))
    }
}

/// The request's `Idempotency-Key`, required where a request charges a card.
pub fn required_key(headers: &axum::http::HeaderMap, what: &str) -> Result<String, ApiError> {
    use marquee_control_api::idempotency::{IDEMPOTENCY_KEY, MAX_KEY_LENGTH};
    let key = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(ApiError::bad_request(
            "idempotency_key_required",
            format!("{what} need an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} visible characters"),
        ));
    }
    Ok(key.to_owned())
}

pub fn invalid_price(error: MoneyError) -> ApiError {
    let code = match error {
        MoneyError::Amount(_) => "invalid_price",
        MoneyError::UnknownCurrency(_) | MoneyError::NotChargeable(_) => "invalid_currency",
    };
    ApiError::bad_request(code, error.to_string())
}

/// A name people read: 1 to 200 characters, no control characters, trimmed.
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "a name is 1 to 200 characters, none of them control characters",
        ));
    }
    Ok(name.to_owned())
}
