//! Orders: created once per `(user, Idempotency-Key)`, paid by exactly one request (the one that moves it
//! `created` → `paying`), and fulfilled (a subscription, rental or purchase) in the same transaction that
//! records the charge's success, whether the answer came at once or later by webhook.

use http::StatusCode;
use marquee_control_api::auth::Caller;
use marquee_control_api::db::begin_write;
use marquee_control_api::ApiError;
use sha2::{Digest, Sha256};

use crate::domain::entitlement::Denial;
use crate::domain::rental::Rental;
use crate::domain::subscription::{Subscription, SubscriptionEvent};
use crate::model::{NewOrder, OfferKind, Order, OrderKind, OrderState};
use crate::provider::{ChargeOutcome, ChargePurpose, ChargeRequest, ProviderEvent, ProviderEventKind};
use crate::state::Core;
use crate::store::{self, ChargeRow, OrderRow, SubscriptionRow, Tx};

/// The longest payment token accepted.
const MAX_TOKEN: usize = 255;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What tells a retry from another request under the same key: the request's fields, hashed.
fn request_hash(request: &NewOrder) -> String {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    hex(&Sha256::digest(canonical))
}

fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was used for another order; use a new key",
    )
}

/// A payment token as the provider gets it: trimmed, 1 to 255 characters.
pub(crate) fn payment_token(token: &str) -> Result<&str, ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Err(ApiError::bad_request("invalid_payment_token", "payment_token must be 1 to 255 characters"));
    }
    Ok(token)
}

/// Creates (or, for a retry, finds) the caller's order under `key` and pays it: the order as it now is.
pub async fn place(
    core: &Core,
    db: &sqlx::AnyPool,
    caller: &Caller,
    key: &str,
    request: &NewOrder,
    region: Option<&str>,
) -> Result<Order, ApiError> {
    let hash = request_hash(request);
    if let Some(existing) = store::order_by_key(db, &caller.user_id, key).await? {
        return resume(core, db, existing, &hash).await;
    }
    let token = payment_token(&request.payment_token)?;
    let now = core.clock.now_ms();
    let order = match (&request.plan_id, &request.offer_id) {
        (Some(plan_id), None) => subscription_order(db, caller, plan_id, now).await?,
        (None, Some(offer_id)) => title_order(core, db, caller, offer_id, region, now).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "give exactly one of plan_id (to subscribe) and offer_id (to rent or buy a title)",
            ))
        }
    };
    let row = OrderRow { order, request_hash: hash.clone(), payment_token: token.to_owned() };
    if !store::insert_order(db, &row, key).await? {
        // Another request with this key inserted first (a race the Idempotency-Key layer did not see).
        let existing = store::order_by_key(db, &caller.user_id, key).await?.ok_or_else(|| {
            ApiError::conflict("idempotency_key_in_use", "an order with this Idempotency-Key just changed; retry")
        })?;
        return resume(core, db, existing, &hash).await;
    }
    tracing::info!(order = %row.order.id, kind = row.order.kind.as_str(), "Order created.");
    pay(core, db, row).await
}

/// A retry: the same request gets the order as it is (paying it if nothing has yet), another request 422.
async fn resume(core: &Core, db: &sqlx::AnyPool, existing: OrderRow, hash: &str) -> Result<Order, ApiError> {
    if existing.request_hash != hash {
        return Err(key_reused());
    }
    if existing.order.state == OrderState::Created {
        return pay(core, db, existing).await;
    }
    Ok(existing.order)
}

async fn subscription_order(db: &sqlx::AnyPool, caller: &Caller, plan_id: &str, now: i64) -> Result<Order, ApiError> {
    let plan = match store::plan(db, plan_id).await? {
        Some(plan) if !plan.archived => plan,
        _ => return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_plan", "no such plan on sale")),
    };
    let live = store::live_subscriptions(db, &caller.user_id).await?;
    if live.iter().any(|held| held.unlocks.overlaps(&plan.unlocks)) {
        return Err(overlapping());
    }
    // An order still waiting for its payment (a card that confirms later) would overlap once it settles.
    if store::unlocks_in_flight(db, &caller.user_id).await?.iter().any(|unlocks| unlocks.overlaps(&plan.unlocks)) {
        return Err(ApiError::conflict(
            "overlapping_subscription",
            "an order of yours for a subscription covering these titles is still waiting for its payment",
        ));
    }
    Ok(Order {
        id: store::new_id(),
        user_id: caller.user_id.clone(),
        kind: OrderKind::Subscription,
        state: OrderState::Created,
        plan_id: Some(plan.id),
        offer_id: None,
        title_id: None,
        price: plan.price,
        seller_id: None,
        failure_code: None,
        charge_id: None,
        subscription_id: None,
        rental_id: None,
        purchase_id: None,
        created_at: now,
        updated_at: now,
    })
}

fn overlapping() -> ApiError {
    ApiError::conflict(
        "overlapping_subscription",
        "you already have a subscription that covers what this plan unlocks; cancel it first",
    )
}

async fn title_order(
    core: &Core,
    db: &sqlx::AnyPool,
    caller: &Caller,
    offer_id: &str,
    region: Option<&str>,
    now: i64,
) -> Result<Order, ApiError> {
    let offer = match store::offer(db, offer_id).await? {
        Some(offer) if !offer.archived => offer,
        _ => return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_offer", "no such offer on sale")),
    };
    let Some(title) = core.titles.title(&offer.title_id).await? else {
        return Err(ApiError::conflict("title_unavailable", "the offer's title is not in the catalog"));
    };
    if let Err(unavailable) = title.availability_at(now, region) {
        let denial = Denial::from(unavailable);
        return Err(ApiError::conflict(denial.code(), format!("{}: it cannot be bought now", denial.message())));
    }
    let (bought, renting) = store::holds_title(db, &caller.user_id, &title.id, now).await?;
    if bought {
        return Err(ApiError::conflict("already_purchased", "you own this title already"));
    }
    if renting && offer.kind == OfferKind::Rental {
        return Err(ApiError::conflict("already_rented", "your rental of this title still plays"));
    }
    Ok(Order {
        id: store::new_id(),
        user_id: caller.user_id.clone(),
        kind: match offer.kind {
            OfferKind::Rental => OrderKind::Rental,
            OfferKind::Purchase => OrderKind::Purchase,
        },
        state: OrderState::Created,
        plan_id: None,
        offer_id: Some(offer.id),
        title_id: Some(title.id),
        price: offer.price,
        seller_id: offer.seller_id,
        failure_code: None,
        charge_id: None,
        subscription_id: None,
        rental_id: None,
        purchase_id: None,
        created_at: now,
        updated_at: now,
    })
}

/// Pays a `created` order, if this call is the one that moves it to `paying`; else answers it as it is.
pub(crate) async fn pay(core: &Core, db: &sqlx::AnyPool, row: OrderRow) -> Result<Order, ApiError> {
    let id = row.order.id.clone();
    let now = core.clock.now_ms();
    if !store::move_order(db, &id, OrderState::Created, OrderState::Paying, now).await? {
        return current(db, &id).await;
    }
    let trial = match (&row.order.kind, &row.order.plan_id) {
        (OrderKind::Subscription, Some(plan_id)) => {
            store::plan(db, plan_id).await?.is_some_and(|plan| plan.trial_days > 0)
        }
        _ => false,
    };
    if trial {
        // A trial starts without a charge; the first renewal charges the card at its end.
        let mut tx = begin_write(db).await?;
        fulfil(&mut tx, &row, now).await?;
        tx.commit().await?;
        return current(db, &id).await;
    }
    let charge = ChargeRow {
        id: store::new_id(),
        order_id: Some(id.clone()),
        subscription_id: None,
        renewal_of: None,
        attempt: 0,
        provider_charge_id: None,
        state: "requested".into(),
    };
    store::insert_charge(db, &charge, core.provider.name(), &row.order.price, now).await?;
    let request = ChargeRequest {
        // The order's id: a retry after a lost answer asks the provider again under the same key.
        idempotency_key: format!("order:{id}"),
        amount_minor: row.order.price.amount_minor,
        currency: row.order.price.currency.clone(),
        payment_token: row.payment_token.clone(),
        purpose: ChargePurpose::Order,
    };
    let answer = match core.provider.charge(&request).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(order = %id, %error, "The payment provider failed; the order can be retried.");
            store::delete_charge(db, &charge.id).await?;
            store::move_order(db, &id, OrderState::Paying, OrderState::Created, now).await?;
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "payment_provider_unavailable",
                "the payment provider did not answer; retry with the same Idempotency-Key",
            ));
        }
    };
    let now = core.clock.now_ms();
    let mut tx = begin_write(db).await?;
    let mut refund = false;
    match &answer.outcome {
        ChargeOutcome::Succeeded => {
            store::settle_charge(&mut tx, &charge.id, &answer.id, "succeeded", None, now).await?;
            refund = !fulfil(&mut tx, &row, now).await?;
        }
        ChargeOutcome::Pending => {
            store::settle_charge(&mut tx, &charge.id, &answer.id, "pending", None, now).await?;
            store::move_order(&mut *tx, &id, OrderState::Paying, OrderState::Pending, now).await?;
        }
        ChargeOutcome::Declined { code } => {
            store::settle_charge(&mut tx, &charge.id, &answer.id, "failed", Some(code), now).await?;
            store::fail_order(&mut tx, &id, OrderState::Paying, code, now).await?;
        }
    }
    tx.commit().await?;
    tracing::info!(order = %id, outcome = ?answer.outcome, "Order paid.");
    if refund {
        refund_charge(core, db, &charge.id, &answer.id).await?;
    }
    current(db, &id).await
}

/// Gives back a charge whose order could not be fulfilled.
async fn refund_charge(
    core: &Core,
    db: &sqlx::AnyPool,
    charge_id: &str,
    provider_charge_id: &str,
) -> Result<(), ApiError> {
    core.provider
        .refund(provider_charge_id, &format!("refund:{charge_id}"))
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "payment_provider_unavailable", e.to_string()))?;
    let mut tx = begin_write(db).await?;
    store::mark_refunded(&mut tx, charge_id, core.clock.now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Refunds a fulfilled order's charge in full and takes back what it bought (a subscription ends at once).
pub async fn refund(core: &Core, db: &sqlx::AnyPool, order_id: &str) -> Result<Order, ApiError> {
    let row = store::order(db, order_id).await?.ok_or_else(|| ApiError::not_found("order"))?;
    if row.order.state != OrderState::Fulfilled {
        return Err(ApiError::conflict(
            "order_not_refundable",
            format!("the order is {}; only fulfilled orders are refunded", row.order.state.as_str()),
        ));
    }
    let Some(charge) = store::succeeded_charge_of_order(db, order_id).await? else {
        return Err(ApiError::conflict("nothing_to_refund", "nothing was charged for this order (a trial)"));
    };
    let provider_id = charge.provider_charge_id.clone().unwrap_or_default();
    core.provider
        .refund(&provider_id, &format!("refund:{}", charge.id))
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "payment_provider_unavailable", e.to_string()))?;
    let now = core.clock.now_ms();
    let mut tx = begin_write(db).await?;
    store::mark_refunded(&mut tx, &charge.id, now).await?;
    store::move_order(&mut *tx, order_id, OrderState::Fulfilled, OrderState::Refunded, now).await?;
    store::revoke_of_order(&mut tx, order_id, now).await?;
    if let Some(subscription_id) = &row.order.subscription_id {
        if let Some(held) = store::subscription(&mut *tx, subscription_id).await? {
            if let Ok(next) = held.subscription.apply(SubscriptionEvent::Refunded, now) {
                store::save_subscription(&mut tx, &held.id, &held.subscription, &next, now).await?;
            }
        }
    }
    tx.commit().await?;
    tracing::info!(order = %order_id, "Order refunded.");
    current(db, order_id).await
}

/// What a provider event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Its id was handled before: nothing done again.
    Duplicate,
    /// About no charge waiting for it.
    Ignored,
}

impl EventOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

/// Applies a verified provider event once: settles the pending charge, and with it the order (fulfilled or
/// failed) or the subscription's renewal (active or past due).
pub async fn apply_event(core: &Core, db: &sqlx::AnyPool, event: &ProviderEvent) -> Result<EventOutcome, ApiError> {
    let now = core.clock.now_ms();
    let provider = core.provider.name();
    let mut tx = begin_write(db).await?;
    if !store::record_event(&mut tx, provider, &event.id, event.kind.as_str(), now).await? {
        return Ok(EventOutcome::Duplicate);
    }
    let (charge_id, failure) = match &event.kind {
        ProviderEventKind::ChargeSucceeded { charge_id } => (charge_id, None),
        ProviderEventKind::ChargeFailed { charge_id, code } => (charge_id, Some(code.as_str())),
    };
    let charge = match store::charge_by_provider_id(&mut tx, provider, charge_id).await? {
        Some(charge) if charge.state == "pending" => charge,
        _ => {
            tx.commit().await?;
            return Ok(EventOutcome::Ignored);
        }
    };
    let state = if failure.is_some() { "failed" } else { "succeeded" };
    store::settle_charge(&mut tx, &charge.id, charge_id, state, failure, now).await?;
    let mut refund = false;
    if let Some(order_id) = &charge.order_id {
        let row = store::order(&mut *tx, order_id).await?.ok_or_else(|| ApiError::not_found("order"))?;
        match failure {
            None => refund = !fulfil(&mut tx, &row, now).await?,
            Some(code) => {
                store::fail_order(&mut tx, order_id, OrderState::Pending, code, now).await?;
            }
        }
    } else if let Some(subscription_id) = &charge.subscription_id {
        if let Some(held) = store::subscription(&mut *tx, subscription_id).await? {
            let event = match failure {
                None => SubscriptionEvent::RenewalPaid,
                Some(_) => SubscriptionEvent::RenewalDeclined { grace_ms: core.grace_ms() },
            };
            match held.subscription.apply(event, now) {
                Ok(next) => {
                    store::save_subscription(&mut tx, &held.id, &held.subscription, &next, now).await?;
                }
                Err(refusal) => {
                    tracing::warn!(subscription = %held.id, %refusal, "A renewal's settlement no longer applies.");
                }
            }
        }
    }
    tx.commit().await?;
    if refund {
        refund_charge(core, db, &charge.id, charge_id).await?;
    }
    Ok(EventOutcome::Applied)
}

async fn current(db: &sqlx::AnyPool, id: &str) -> Result<Order, ApiError> {
    Ok(store::order(db, id).await?.ok_or_else(|| ApiError::not_found("order"))?.order)
}

/// Marks a paid order fulfilled (from `paying` or `pending`) and makes what it bought; an order already
/// settled by someone else is left as it is. A subscription that would overlap one started meanwhile fails the
/// order instead (`overlapping_subscription`): `false`, and the caller refunds.
async fn fulfil(tx: &mut Tx, row: &OrderRow, now: i64) -> Result<bool, ApiError> {
    let order = &row.order;
    // The order's state first: of two settlers (a slow request and the recovery of its order), only the one
    // that moves it makes the subscription, rental or purchase.
    let claimed = sqlx::query(
        "UPDATE commerce_orders SET state = 'fulfilled', updated_at = $2 WHERE id = $1 AND state IN ('paying', 'pending')",
    )
    .bind(&order.id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(true);
    }
    let (column, made_id) = match order.kind {
        OrderKind::Subscription => {
            let plan_id = order.plan_id.as_deref().unwrap_or_default();
            let plan = store::plan(&mut **tx, plan_id).await?.ok_or_else(|| ApiError::not_found("plan"))?;
            let live = store::live_subscriptions(&mut **tx, &order.user_id).await?;
            if live.iter().any(|held| held.unlocks.overlaps(&plan.unlocks)) {
                store::fail_order(tx, &order.id, OrderState::Fulfilled, "overlapping_subscription", now).await?;
                return Ok(false);
            }
            let subscription = SubscriptionRow {
                id: store::new_id(),
                user_id: order.user_id.clone(),
                plan_id: plan.id.clone(),
                order_id: order.id.clone(),
                payment_token: row.payment_token.clone(),
                created_at: now,
                subscription: Subscription::start(plan.period, plan.trial_days, now),
            };
            store::insert_subscription(tx, &subscription, now).await?;
            ("subscription_id", subscription.id)
        }
        OrderKind::Rental => {
            let (window_ms, expires_unplayed_ms) =
                store::offer_rental_terms(tx, order.offer_id.as_deref().unwrap_or_default()).await?;
            let rental = Rental {
                window_ms,
                expires_unplayed_at: now + expires_unplayed_ms,
                first_played_at: None,
                revoked_at: None,
            };
            let id = store::new_id();
            store::insert_rental(tx, &id, order, &rental, now).await?;
            ("rental_id", id)
        }
        OrderKind::Purchase => {
            let id = store::new_id();
            store::insert_purchase(tx, &id, order, now).await?;
            ("purchase_id", id)
        }
    };
    sqlx::query(&format!("UPDATE commerce_orders SET {column} = $2 WHERE id = $1"))
        .bind(&order.id)
        .bind(&made_id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}
