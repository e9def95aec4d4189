//! Renewals and ends that time brings: charges each subscription whose period ended (once per period end,
//! whatever number of API instances run this at once), moves declined ones to `past_due`, cancels those whose
//! grace period ran out and expires those set to end with their period. It also pays again the orders whose
//! request died while paying (under the same provider idempotency key, so a charge that went through is found,
//! not made twice).

use marquee_control_api::db::begin_write;
use marquee_control_api::ApiError;

use crate::domain::subscription::{CardChange, SubscriptionEvent, SubscriptionState};
use crate::model::{Order, OrderState, RenewalReport};
use crate::provider::{ChargeOutcome, ChargePurpose, ChargeRequest};
use crate::state::Core;
use crate::store::{self, ChargeRow, SubscriptionRow};

/// Subscriptions handled per run at most (the next run takes the rest).
const BATCH: i64 = 500;
/// How long an order may stay `paying` before its request is taken for dead: far longer than a provider call.
pub const STUCK_AFTER_MS: i64 = 10 * 60 * 1000;

pub async fn renew_due(core: &Core, db: &sqlx::AnyPool, now: i64) -> Result<RenewalReport, ApiError> {
    let mut report = RenewalReport::default();
    for stuck in store::stuck_orders(db, now - STUCK_AFTER_MS, BATCH).await? {
        let id = stuck.order.id.clone();
        if !store::release_stuck_order(db, &id, stuck.order.updated_at, now).await? {
            continue;
        }
        let released = store::OrderRow { order: Order { state: OrderState::Created, ..stuck.order }, ..stuck };
        match crate::orders::pay(core, db, released).await {
            Ok(order) => {
                report.recovered += 1;
                tracing::info!(order = %id, state = order.state.as_str(), "Stuck order paid again.");
            }
            Err(error) => tracing::warn!(order = %id, %error, "A stuck order could not be paid again yet."),
        }
    }
    for held in store::due_subscriptions(db, now, BATCH).await? {
        let subscription = &held.subscription;
        if subscription.renewal_due(now) {
            renew(core, db, &held, now, 0, &mut report).await?;
        } else if let Some(attempt) = subscription.retry_due(now, core.grace_ms(), core.retry_ms()) {
            renew(core, db, &held, now, attempt, &mut report).await?;
        } else {
            let next = match subscription.apply(SubscriptionEvent::Tick, now) {
                Ok(next) if next != *subscription => next,
                _ => continue,
            };
            let mut tx = begin_write(db).await?;
            if store::save_subscription(&mut tx, &held.id, subscription, &next, now).await? {
                match next.state {
                    SubscriptionState::Canceled => report.canceled += 1,
                    SubscriptionState::Expired => report.expired += 1,
                    _ => {}
                }
                tracing::info!(subscription = %held.id, state = next.state.as_str(), "Subscription ended.");
            }
            tx.commit().await?;
        }
    }
    Ok(report)
}

/// Gives `held` the card `token` (its subscriber's, or an admin's doing): kept for its renewals and, when it is
/// past due, charged at once for the unpaid renewal, which makes it `active` again if the card pays. One charge
/// however often this is asked: a subscription no longer past due owes nothing, and while a renewal's charge
/// waits for the provider no other is made. The subscription as it then is.
pub async fn change_card(
    core: &Core,
    db: &sqlx::AnyPool,
    held: &SubscriptionRow,
    token: &str,
    now: i64,
) -> Result<SubscriptionRow, ApiError> {
    let change = held
        .subscription
        .card_changed(now)
        .map_err(|refusal| ApiError::conflict(refusal.code(), refusal.to_string()))?;
    if !store::set_payment_token(db, &held.id, token, now).await? {
        return Err(ApiError::conflict("subscription_ended", "the subscription ended meanwhile"));
    }
    let held = SubscriptionRow { payment_token: token.to_owned(), ..held.clone() };
    if change == CardChange::RetryNow {
        let renewal_of = held.subscription.period_end;
        if let Some(attempt) = store::card_change_attempt(db, &held.id, renewal_of).await? {
            renew(core, db, &held, now, attempt, &mut RenewalReport::default()).await?;
            tracing::info!(subscription = %held.id, attempt, "New card charged for the unpaid renewal.");
        }
    }
    store::subscription(db, &held.id).await?.ok_or_else(|| ApiError::not_found("subscription"))
}

/// Charges a renewal (`attempt` 0 at the period's end, then the retries while past due; below 0 for a new
/// card's).
async fn renew(
    core: &Core,
    db: &sqlx::AnyPool,
    held: &SubscriptionRow,
    now: i64,
    attempt: i64,
    report: &mut RenewalReport,
) -> Result<(), ApiError> {
    let Some(plan) = store::plan(db, &held.plan_id).await? else { return Ok(()) };
    let period_end = held.subscription.period_end;
    let charge = ChargeRow {
        id: store::new_id(),
        order_id: None,
        subscription_id: Some(held.id.clone()),
        renewal_of: Some(period_end),
        attempt,
        provider_charge_id: None,
        state: "requested".into(),
    };
    // One charge per subscription, period end and attempt: a second renewer (another instance) stops here.
    if !store::insert_charge(db, &charge, core.provider.name(), &plan.price, now).await? {
        return Ok(());
    }
    let request = ChargeRequest {
        idempotency_key: format!("renewal:{}:{period_end}:{attempt}", held.id),
        amount_minor: plan.price.amount_minor,
        currency: plan.price.currency.clone(),
        payment_token: held.payment_token.clone(),
        purpose: ChargePurpose::Renewal,
    };
    let answer = match core.provider.charge(&request).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(subscription = %held.id, %error, "The payment provider failed; the renewal is retried.");
            store::delete_charge(db, &charge.id).await?;
            return Ok(());
        }
    };
    let mut tx = begin_write(db).await?;
    let event = match &answer.outcome {
        ChargeOutcome::Succeeded => {
            store::settle_charge(&mut tx, &charge.id, &answer.id, "succeeded", None, now).await?;
            Some(SubscriptionEvent::RenewalPaid)
        }
        ChargeOutcome::Pending => {
            store::settle_charge(&mut tx, &charge.id, &answer.id, "pending", None, now).await?;
            report.pending += 1;
            None
        }
        ChargeOutcome::Declined { code } => {
            store::settle_charge(&mut tx, &charge.id, &answer.id, "failed", Some(code), now).await?;
            Some(SubscriptionEvent::RenewalDeclined { grace_ms: core.grace_ms() })
        }
    };
    if let Some(event) = event {
        if let Ok(next) = held.subscription.apply(event, now) {
            if store::save_subscription(&mut tx, &held.id, &held.subscription, &next, now).await? {
                match next.state {
                    SubscriptionState::Active => report.renewed += 1,
                    SubscriptionState::PastDue => report.past_due += 1,
                    _ => {}
                }
                tracing::info!(subscription = %held.id, state = next.state.as_str(), "Subscription renewal charged.");
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
