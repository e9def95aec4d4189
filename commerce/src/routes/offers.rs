//! `/v1/offers`: a catalog title for rent or sale at a price (admins, and creators for the titles they own,
//! create and archive; everyone lists).

use axum::extract::State;
use axum::http::StatusCode;
use marquee_control_api::auth::{Caller, MaybeCaller, Role};
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use super::invalid_price;
use crate::domain::money::Money;
use crate::model::{NewOffer, Offer, OfferKind};
use crate::state::CommerceState;
use crate::store;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OfferQuery {
    /// Only this title's offers.
    pub title_id: Option<String>,
}

/// Puts a title on sale or for rent (admins; creators for the titles they own). Its seller is the title's owner.
#[utoipa::path(post, path = "/v1/offers", tag = "commerce", security(("bearer" = [])), request_body = NewOffer,
    responses((status = 201, body = Offer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not an admin, nor a creator who owns the title", body = ErrorBody),
        (status = 422, description = "no such title", body = ErrorBody)))]
pub async fn create(
    State(state): State<CommerceState>,
    caller: Caller,
    Json(new): Json<NewOffer>,
) -> Result<(StatusCode, Json<Offer>), ApiError> {
    caller.require(Role::Creator)?;
    let price = Money::new(new.price.amount_minor, &new.price.currency).map_err(invalid_price)?;
    let (watch_window_hours, expires_unplayed_days) = match new.kind {
        OfferKind::Rental => {
            let hours = new.watch_window_hours.unwrap_or(48);
            let days = new.expires_unplayed_days.unwrap_or(30);
            if !(1..=8760).contains(&hours) || !(1..=365).contains(&days) {
                return Err(ApiError::bad_request(
                    "invalid_rental_terms",
                    "watch_window_hours must be 1 to 8760 and expires_unplayed_days 1 to 365",
                ));
            }
            (Some(hours), Some(days))
        }
        OfferKind::Purchase if new.watch_window_hours.is_some() || new.expires_unplayed_days.is_some() => {
            return Err(ApiError::bad_request("invalid_rental_terms", "a purchase is for good: it has no watch window"))
        }
        OfferKind::Purchase => (None, None),
    };
    let Some(title) = state.core.titles.title(&new.title_id).await? else {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_title", "no such title in the catalog"));
    };
    if !caller.is_admin() && title.owner_id.as_deref() != Some(caller.user_id.as_str()) {
        return Err(ApiError::forbidden("creators put only their own titles on sale"));
    }
    let offer = Offer {
        id: store::new_id(),
        title_id: new.title_id,
        kind: new.kind,
        price,
        watch_window_hours,
        expires_unplayed_days,
        archived: false,
        seller_id: title.owner_id,
        created_at: state.core.clock.now_ms(),
    };
    store::insert_offer(state.app.db.pool(), &offer).await?;
    Ok((StatusCode::CREATED, Json(offer)))
}

/// Offers on sale, to anyone (a title page shows its prices to visitors); admins also see archived ones.
#[utoipa::path(get, path = "/v1/offers", tag = "commerce", security((), ("bearer" = [])), params(OfferQuery),
    responses((status = 200, body = Vec<Offer>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<CommerceState>,
    MaybeCaller(caller): MaybeCaller,
    Query(query): Query<OfferQuery>,
) -> Result<Json<Vec<Offer>>, ApiError> {
    let admin = caller.is_some_and(|c| c.is_admin());
    Ok(Json(store::offers(state.app.db.pool(), query.title_id.as_deref(), admin).await?))
}

/// Withdraws an offer (admins, and its seller); rentals and purchases made stay.
#[utoipa::path(delete, path = "/v1/offers/{id}", tag = "commerce", security(("bearer" = [])),
    params(("id" = String, Path, description = "the offer's id")),
    responses((status = 204, description = "archived"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn archive(
    State(state): State<CommerceState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Creator)?;
    match store::offer(state.app.db.pool(), &id).await? {
        Some(offer) if caller.is_admin() || offer.seller_id.as_deref() == Some(caller.user_id.as_str()) => {}
        Some(_) => return Err(ApiError::forbidden("creators withdraw only the offers of their own titles")),
        None => return Err(ApiError::not_found("offer")),
    }
    if store::archive_offer(state.app.db.pool(), &id, state.core.clock.now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("offer"))
    }
}
