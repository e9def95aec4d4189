//! Commerce's tables: reading rows into the model and the domain's values, and the guarded writes.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::domain::entitlement::{HeldRental, HeldSubscription, Holdings, Unlocks};
use crate::domain::money::Money;
use crate::domain::rental::Rental;
use crate::domain::subscription::{Period, Subscription, SubscriptionState};
use crate::model::{
    CurrencyRevenue, Offer, OfferKind, Order, OrderKind, OrderState, Plan, RentalView, SubscriptionView,
};

pub type Tx = Transaction<'static, Any>;

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("commerce: {what} {value:?} is not one this version knows").into())
}

// ---- plans

pub const PLAN_COLUMNS: &str =
    "id, name, amount_minor, currency, period, trial_days, unlocks, archived_at, created_at, updated_at";

pub fn plan_of(row: &AnyRow) -> Result<Plan, sqlx::Error> {
    let period: String = row.try_get("period")?;
    let unlocks: String = row.try_get("unlocks")?;
    Ok(Plan {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        price: Money { amount_minor: row.try_get("amount_minor")?, currency: row.try_get("currency")? },
        period: Period::parse(&period).ok_or_else(|| corrupt("period", &period))?,
        trial_days: row.try_get("trial_days")?,
        unlocks: Unlocks::from_stored(&unlocks).ok_or_else(|| corrupt("unlocks", &unlocks))?,
        archived: row.try_get::<Option<i64>, _>("archived_at")?.is_some(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn plan<'e, E>(db: E, id: &str) -> Result<Option<Plan>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {PLAN_COLUMNS} FROM commerce_plans WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(plan_of).transpose()
}

pub async fn plans(db: &AnyPool, archived_too: bool) -> Result<Vec<Plan>, sqlx::Error> {
    let filter = if archived_too { "" } else { "WHERE archived_at IS NULL" };
    let rows = sqlx::query(&format!("SELECT {PLAN_COLUMNS} FROM commerce_plans {filter} ORDER BY id LIMIT 1000"))
        .fetch_all(db)
        .await?;
    rows.iter().map(plan_of).collect()
}

pub async fn insert_plan(db: &AnyPool, plan: &Plan) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO commerce_plans (id, name, amount_minor, currency, period, trial_days, unlocks, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&plan.id)
    .bind(&plan.name)
    .bind(plan.price.amount_minor)
    .bind(&plan.price.currency)
    .bind(plan.period.as_str())
    .bind(plan.trial_days)
    .bind(plan.unlocks.to_stored())
    .bind(plan.created_at)
    .bind(plan.updated_at)
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn update_plan(db: &AnyPool, plan: &Plan, archived_at: Option<i64>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE commerce_plans SET name = $2, trial_days = $3, updated_at = $4, \
         archived_at = COALESCE(archived_at, $5) WHERE id = $1",
    )
    .bind(&plan.id)
    .bind(&plan.name)
    .bind(plan.trial_days)
    .bind(plan.updated_at)
    .bind(archived_at)
    .execute(db)
    .await
    .map(|_| ())
}

// ---- offers

const OFFER_COLUMNS: &str = "id, title_id, kind, amount_minor, currency, watch_window_ms, expires_unplayed_ms, \
    archived_at, seller_id, created_at";
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

fn offer_of(row: &AnyRow) -> Result<Offer, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    Ok(Offer {
        id: row.try_get("id")?,
        title_id: row.try_get("title_id")?,
        kind: OfferKind::parse(&kind).ok_or_else(|| corrupt("offer kind", &kind))?,
        price: Money { amount_minor: row.try_get("amount_minor")?, currency: row.try_get("currency")? },
        watch_window_hours: row.try_get::<Option<i64>, _>("watch_window_ms")?.map(|ms| ms / HOUR_MS),
        expires_unplayed_days: row.try_get::<Option<i64>, _>("expires_unplayed_ms")?.map(|ms| ms / DAY_MS),
        archived: row.try_get::<Option<i64>, _>("archived_at")?.is_some(),
        seller_id: row.try_get("seller_id")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn offer(db: &AnyPool, id: &str) -> Result<Option<Offer>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {OFFER_COLUMNS} FROM commerce_offers WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(offer_of).transpose()
}

pub async fn offers(db: &AnyPool, title_id: Option<&str>, archived_too: bool) -> Result<Vec<Offer>, sqlx::Error> {
    let mut sql = format!("SELECT {OFFER_COLUMNS} FROM commerce_offers WHERE 1 = 1");
    if title_id.is_some() {
        sql.push_str(" AND title_id = $1");
    }
    if !archived_too {
        sql.push_str(" AND archived_at IS NULL");
    }
    sql.push_str(" ORDER BY id LIMIT 1000");
    let mut query = sqlx::query(&sql);
    if let Some(title) = title_id {
        query = query.bind(title);
    }
    query.fetch_all(db).await?.iter().map(offer_of).collect()
}

pub async fn insert_offer(db: &AnyPool, offer: &Offer) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO commerce_offers (id, title_id, kind, amount_minor, currency, watch_window_ms, \
         expires_unplayed_ms, seller_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&offer.id)
    .bind(&offer.title_id)
    .bind(offer.kind.as_str())
    .bind(offer.price.amount_minor)
    .bind(&offer.price.currency)
    .bind(offer.watch_window_hours.map(|h| h * HOUR_MS))
    .bind(offer.expires_unplayed_days.map(|d| d * DAY_MS))
    .bind(&offer.seller_id)
    .bind(offer.created_at)
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn archive_offer(db: &AnyPool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE commerce_offers SET archived_at = COALESCE(archived_at, $2) WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A rental offer's window and unplayed expiry, in ms.
pub async fn offer_rental_terms(db: &mut Tx, offer_id: &str) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query("SELECT watch_window_ms, expires_unplayed_ms FROM commerce_offers WHERE id = $1")
        .bind(offer_id)
        .fetch_one(&mut **db)
        .await?;
    Ok((
        row.try_get::<Option<i64>, _>("watch_window_ms")?.unwrap_or(48 * HOUR_MS),
        row.try_get::<Option<i64>, _>("expires_unplayed_ms")?.unwrap_or(30 * DAY_MS),
    ))
}

// ---- orders

/// An order row: the answer, and what paying and fulfilling it needs.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub order: Order,
    pub request_hash: String,
    pub payment_token: String,
}

const ORDER_COLUMNS: &str = "o.id, o.user_id, o.request_hash, o.kind, o.plan_id, o.offer_id, o.title_id, \
    o.amount_minor, o.currency, o.payment_token, o.state, o.failure_code, o.subscription_id, o.rental_id, \
    o.purchase_id, o.seller_id, o.created_at, o.updated_at, \
    (SELECT MIN(c.provider_charge_id) FROM commerce_charges c WHERE c.order_id = o.id) AS charge_id";

fn order_of(row: &AnyRow) -> Result<OrderRow, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    Ok(OrderRow {
        order: Order {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            kind: OrderKind::parse(&kind).ok_or_else(|| corrupt("order kind", &kind))?,
            state: OrderState::parse(&state).ok_or_else(|| corrupt("order state", &state))?,
            plan_id: row.try_get("plan_id")?,
            offer_id: row.try_get("offer_id")?,
            title_id: row.try_get("title_id")?,
            price: Money { amount_minor: row.try_get("amount_minor")?, currency: row.try_get("currency")? },
            seller_id: row.try_get("seller_id")?,
            failure_code: row.try_get("failure_code")?,
            charge_id: row.try_get("charge_id")?,
            subscription_id: row.try_get("subscription_id")?,
            rental_id: row.try_get("rental_id")?,
            purchase_id: row.try_get("purchase_id")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        request_hash: row.try_get("request_hash")?,
        payment_token: row.try_get("payment_token")?,
    })
}

pub async fn order<'e, E>(db: E, id: &str) -> Result<Option<OrderRow>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM commerce_orders o WHERE o.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(order_of).transpose()
}

pub async fn order_by_key(db: &AnyPool, user_id: &str, key: &str) -> Result<Option<OrderRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM commerce_orders o WHERE o.user_id = $1 AND o.idempotency_key = $2"
    ))
    .bind(user_id)
    .bind(key)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(order_of).transpose()
}

/// Inserts a `created` order unless the user has one under `key` already: whether it was inserted.
pub async fn insert_order(db: &AnyPool, row: &OrderRow, key: &str) -> Result<bool, sqlx::Error> {
    let order = &row.order;
    let done = sqlx::query(
        "INSERT INTO commerce_orders (id, user_id, idempotency_key, request_hash, kind, plan_id, offer_id, title_id, \
         amount_minor, currency, payment_token, state, seller_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'created', $13, $12, $12) \
         ON CONFLICT (user_id, idempotency_key) DO NOTHING",
    )
    .bind(&order.id)
    .bind(&order.user_id)
    .bind(key)
    .bind(&row.request_hash)
    .bind(order.kind.as_str())
    .bind(&order.plan_id)
    .bind(&order.offer_id)
    .bind(&order.title_id)
    .bind(order.price.amount_minor)
    .bind(&order.price.currency)
    .bind(&row.payment_token)
    .bind(order.created_at)
    .bind(&order.seller_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves an order from `from` to `to`: whether it was in `from` (only one caller wins a race).
pub async fn move_order<'e, E>(db: E, id: &str, from: OrderState, to: OrderState, now: i64) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query("UPDATE commerce_orders SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2")
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn fail_order(tx: &mut Tx, id: &str, from: OrderState, code: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE commerce_orders SET state = 'failed', failure_code = $3, updated_at = $4 WHERE id = $1 AND state = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(code)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whose orders a list holds.
#[derive(Debug, Clone, Copy)]
pub enum OrdersOf<'a> {
    Everyone,
    /// Those the user placed.
    Buyer(&'a str),
    /// Those of the user's titles.
    Seller(&'a str),
}

pub async fn list_orders(
    db: &AnyPool,
    of: OrdersOf<'_>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    let mut sql = format!("SELECT {ORDER_COLUMNS} FROM commerce_orders o WHERE o.id > $1");
    let user = match of {
        OrdersOf::Everyone => None,
        OrdersOf::Buyer(user) => {
            sql.push_str(" AND o.user_id = $2");
            Some(user)
        }
        OrdersOf::Seller(user) => {
            sql.push_str(" AND o.seller_id = $2");
            Some(user)
        }
    };
    sql.push_str(&format!(" ORDER BY o.id LIMIT {limit}"));
    let mut query = sqlx::query(&sql).bind(after.unwrap_or(""));
    if let Some(user) = user {
        query = query.bind(user);
    }
    query.fetch_all(db).await?.iter().map(|r| order_of(r).map(|o| o.order)).collect()
}

/// Orders left `paying` since before `before` (their request died between the charge and its record).
pub async fn stuck_orders(db: &AnyPool, before: i64, limit: i64) -> Result<Vec<OrderRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM commerce_orders o WHERE o.state = 'paying' AND o.updated_at < $1 \
         ORDER BY o.updated_at LIMIT {limit}"
    ))
    .bind(before)
    .fetch_all(db)
    .await?;
    rows.iter().map(order_of).collect()
}

/// Puts a stuck order back to `created` (if nothing touched it since `updated_at`), dropping the charge record
/// its request never finished: whether it did.
pub async fn release_stuck_order(db: &AnyPool, id: &str, updated_at: i64, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = marquee_control_api::db::begin_write(db).await?;
    let done = sqlx::query(
        "UPDATE commerce_orders SET state = 'created', updated_at = $3 WHERE id = $1 AND state = 'paying' AND updated_at = $2",
    )
    .bind(id)
    .bind(updated_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query("DELETE FROM commerce_charges WHERE order_id = $1 AND state = 'requested'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The revenue of `seller`'s titles (every seller's for `None`), per currency: fulfilled and refunded orders.
pub async fn revenue(db: &AnyPool, seller: Option<&str>) -> Result<Vec<CurrencyRevenue>, sqlx::Error> {
    let filter = if seller.is_some() { "seller_id = $1" } else { "seller_id IS NOT NULL" };
    let sql = format!(
        "SELECT currency, state, COUNT(*) AS orders, CAST(SUM(amount_minor) AS BIGINT) AS amount_minor \
         FROM commerce_orders WHERE {filter} AND state IN ('fulfilled', 'refunded') \
         GROUP BY currency, state ORDER BY currency, state"
    );
    let mut query = sqlx::query(&sql);
    if let Some(seller) = seller {
        query = query.bind(seller);
    }
    let mut currencies: Vec<CurrencyRevenue> = Vec::new();
    for row in query.fetch_all(db).await? {
        let currency: String = row.try_get("currency")?;
        let state: String = row.try_get("state")?;
        let (orders, amount): (i64, i64) = (row.try_get("orders")?, row.try_get("amount_minor")?);
        if currencies.last().is_none_or(|c| c.currency != currency) {
            currencies.push(CurrencyRevenue {
                currency,
                orders: 0,
                amount_minor: 0,
                refunded_orders: 0,
                refunded_minor: 0,
            });
        }
        let entry = currencies.last_mut().expect("pushed above");
        if state == "fulfilled" {
            (entry.orders, entry.amount_minor) = (orders, amount);
        } else {
            (entry.refunded_orders, entry.refunded_minor) = (orders, amount);
        }
    }
    Ok(currencies)
}

// ---- charges

/// A charge asked of the provider.
#[derive(Debug, Clone)]
pub struct ChargeRow {
    pub id: String,
    pub order_id: Option<String>,
    pub subscription_id: Option<String>,
    pub renewal_of: Option<i64>,
    /// Renewals: 0 at the period's end, then each retry while past due.
    pub attempt: i64,
    pub provider_charge_id: Option<String>,
    pub state: String,
}

/// Records that a charge is being asked for; `false` when this renewal's charge exists already.
pub async fn insert_charge(
    db: &AnyPool,
    charge: &ChargeRow,
    provider: &str,
    price: &Money,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO commerce_charges (id, order_id, subscription_id, renewal_of, attempt, provider, amount_minor, \
         currency, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $9, $5, $6, $7, 'requested', $8, $8) \
         ON CONFLICT (subscription_id, renewal_of, attempt) DO NOTHING",
    )
    .bind(&charge.id)
    .bind(&charge.order_id)
    .bind(&charge.subscription_id)
    .bind(charge.renewal_of)
    .bind(provider)
    .bind(price.amount_minor)
    .bind(&price.currency)
    .bind(now)
    .bind(charge.attempt)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_charge(db: &AnyPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM commerce_charges WHERE id = $1 AND state = 'requested'")
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

/// Sets a charge's outcome (from `requested` or `pending`).
pub async fn settle_charge(
    tx: &mut Tx,
    id: &str,
    provider_charge_id: &str,
    state: &str,
    failure_code: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE commerce_charges SET provider_charge_id = $2, state = $3, failure_code = $4, updated_at = $5 \
         WHERE id = $1 AND state IN ('requested', 'pending')",
    )
    .bind(id)
    .bind(provider_charge_id)
    .bind(state)
    .bind(failure_code)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn charge_of(row: &AnyRow) -> Result<ChargeRow, sqlx::Error> {
    Ok(ChargeRow {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        subscription_id: row.try_get("subscription_id")?,
        renewal_of: row.try_get("renewal_of")?,
        attempt: row.try_get("attempt")?,
        provider_charge_id: row.try_get("provider_charge_id")?,
        state: row.try_get("state")?,
    })
}

const CHARGE_COLUMNS: &str = "id, order_id, subscription_id, renewal_of, attempt, provider_charge_id, state";

pub async fn charge_by_provider_id(
    tx: &mut Tx,
    provider: &str,
    charge_id: &str,
) -> Result<Option<ChargeRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {CHARGE_COLUMNS} FROM commerce_charges WHERE provider = $1 AND provider_charge_id = $2"
    ))
    .bind(provider)
    .bind(charge_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(charge_of).transpose()
}

pub async fn succeeded_charge_of_order(db: &AnyPool, order_id: &str) -> Result<Option<ChargeRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {CHARGE_COLUMNS} FROM commerce_charges WHERE order_id = $1 AND state = 'succeeded'"
    ))
    .bind(order_id)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(charge_of).transpose()
}

pub async fn mark_refunded(tx: &mut Tx, charge_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE commerce_charges SET state = 'refunded', updated_at = $2 WHERE id = $1")
        .bind(charge_id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Records a provider event: `false` when it was handled before (a replay or a redelivery).
pub async fn record_event(
    tx: &mut Tx,
    provider: &str,
    event_id: &str,
    kind: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO commerce_provider_events (provider, event_id, kind, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(kind)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- subscriptions

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.user_id, s.plan_id, s.order_id, s.state, s.period, s.anchor_at, \
    s.paid_periods, s.period_start, s.period_end, s.grace_until, s.cancel_at_period_end, s.ended_at, \
    s.payment_token, s.created_at";

/// A subscription row.
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    pub id: String,
    pub user_id: String,
    pub plan_id: String,
    pub order_id: String,
    pub payment_token: String,
    pub created_at: i64,
    pub subscription: Subscription,
}

impl SubscriptionRow {
    pub fn view(&self) -> SubscriptionView {
        let s = &self.subscription;
        SubscriptionView {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            plan_id: self.plan_id.clone(),
            state: s.state,
            period: s.period,
            current_period_start: s.period_start,
            current_period_end: s.period_end,
            grace_until: s.grace_until,
            cancel_at_period_end: s.cancel_at_period_end,
            ended_at: s.ended_at,
            created_at: self.created_at,
        }
    }
}

fn subscription_of(row: &AnyRow) -> Result<SubscriptionRow, sqlx::Error> {
    let state: String = row.try_get("state")?;
    let period: String = row.try_get("period")?;
    Ok(SubscriptionRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        plan_id: row.try_get("plan_id")?,
        order_id: row.try_get("order_id")?,
        payment_token: row.try_get("payment_token")?,
        created_at: row.try_get("created_at")?,
        subscription: Subscription {
            state: SubscriptionState::parse(&state).ok_or_else(|| corrupt("subscription state", &state))?,
            period: Period::parse(&period).ok_or_else(|| corrupt("period", &period))?,
            anchor: row.try_get("anchor_at")?,
            paid_periods: row.try_get("paid_periods")?,
            period_start: row.try_get("period_start")?,
            period_end: row.try_get("period_end")?,
            grace_until: row.try_get("grace_until")?,
            cancel_at_period_end: row.try_get::<i64, _>("cancel_at_period_end")? != 0,
            ended_at: row.try_get("ended_at")?,
        },
    })
}

pub async fn subscription<'e, E>(db: E, id: &str) -> Result<Option<SubscriptionRow>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM commerce_subscriptions s WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(subscription_of).transpose()
}

pub async fn list_subscriptions(
    db: &AnyPool,
    user: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let mut sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM commerce_subscriptions s WHERE s.id > $1");
    if user.is_some() {
        sql.push_str(" AND s.user_id = $2");
    }
    sql.push_str(&format!(" ORDER BY s.id LIMIT {limit}"));
    let mut query = sqlx::query(&sql).bind(after.unwrap_or(""));
    if let Some(user) = user {
        query = query.bind(user);
    }
    query.fetch_all(db).await?.iter().map(subscription_of).collect()
}

/// Subscriptions whose renewal or end may be due at `now`: those whose period ended (at most `limit`), and
/// the past-due ones, for their retries and grace (at most `limit`, the least recently touched first, so each
/// batch is not crowded out by the other).
pub async fn due_subscriptions(db: &AnyPool, now: i64, limit: i64) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let mut due = Vec::new();
    for (filter, order) in [
        ("s.state IN ('trialing', 'active') AND s.period_end <= $1", "s.period_end"),
        ("s.state = 'past_due' AND s.updated_at <= $1", "s.updated_at"),
    ] {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM commerce_subscriptions s WHERE {filter} ORDER BY {order} LIMIT {limit}"
        ))
        .bind(now)
        .fetch_all(db)
        .await?;
        for row in &rows {
            due.push(subscription_of(row)?);
        }
    }
    Ok(due)
}

/// The viewer's live subscriptions (and their plans' unlocks), for overlap checks and entitlements.
pub async fn live_subscriptions<'e, E>(db: E, user_id: &str) -> Result<Vec<HeldSubscription>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS}, p.unlocks FROM commerce_subscriptions s \
         JOIN commerce_plans p ON p.id = s.plan_id \
         WHERE s.user_id = $1 AND s.state IN ('trialing', 'active', 'past_due')"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            let unlocks: String = row.try_get("unlocks")?;
            let held = subscription_of(row)?;
            Ok(HeldSubscription {
                id: held.id,
                subscription: held.subscription,
                unlocks: Unlocks::from_stored(&unlocks).ok_or_else(|| corrupt("unlocks", &unlocks))?,
            })
        })
        .collect()
}

/// What the plans of the viewer's subscription orders still in flight (created, paying, pending) unlock.
pub async fn unlocks_in_flight(db: &AnyPool, user_id: &str) -> Result<Vec<Unlocks>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.unlocks FROM commerce_orders o JOIN commerce_plans p ON p.id = o.plan_id \
         WHERE o.user_id = $1 AND o.kind = 'subscription' AND o.state IN ('created', 'paying', 'pending')",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            let unlocks: String = row.try_get("unlocks")?;
            Unlocks::from_stored(&unlocks).ok_or_else(|| corrupt("unlocks", &unlocks))
        })
        .collect()
}

pub async fn insert_subscription(tx: &mut Tx, row: &SubscriptionRow, now: i64) -> Result<(), sqlx::Error> {
    let s = &row.subscription;
    sqlx::query(
        "INSERT INTO commerce_subscriptions (id, user_id, plan_id, order_id, state, period, anchor_at, paid_periods, \
         period_start, period_end, grace_until, cancel_at_period_end, ended_at, payment_token, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
    )
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(&row.plan_id)
    .bind(&row.order_id)
    .bind(s.state.as_str())
    .bind(s.period.as_str())
    .bind(s.anchor)
    .bind(s.paid_periods)
    .bind(s.period_start)
    .bind(s.period_end)
    .bind(s.grace_until)
    .bind(i64::from(s.cancel_at_period_end))
    .bind(s.ended_at)
    .bind(&row.payment_token)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Writes `next` over `before` if the row still holds `before` (state and period): whether it did.
pub async fn save_subscription(
    tx: &mut Tx,
    id: &str,
    before: &Subscription,
    next: &Subscription,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE commerce_subscriptions SET state = $4, paid_periods = $5, period_start = $6, period_end = $7, \
         grace_until = $8, cancel_at_period_end = $9, ended_at = $10, updated_at = $11 \
         WHERE id = $1 AND state = $2 AND paid_periods = $3 AND cancel_at_period_end = $12",
    )
    .bind(id)
    .bind(before.state.as_str())
    .bind(before.paid_periods)
    .bind(next.state.as_str())
    .bind(next.paid_periods)
    .bind(next.period_start)
    .bind(next.period_end)
    .bind(next.grace_until)
    .bind(i64::from(next.cancel_at_period_end))
    .bind(next.ended_at)
    .bind(now)
    .bind(i64::from(before.cancel_at_period_end))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a live subscription another card for its charges: whether it was live.
pub async fn set_payment_token(db: &AnyPool, id: &str, token: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE commerce_subscriptions SET payment_token = $2, updated_at = $3 \
         WHERE id = $1 AND state IN ('trialing', 'active', 'past_due')",
    )
    .bind(id)
    .bind(token)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The attempt number of a charge of the renewal at `renewal_of` made because the card changed (they count
/// down from -1, apart from the scheduled retries' 1, 2, …), or `None` while one of the renewal's charges is
/// still being asked for or waits for the provider (a second would charge twice).
pub async fn card_change_attempt(
    db: &AnyPool,
    subscription_id: &str,
    renewal_of: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let count = |filter: &str| {
        format!("SELECT COUNT(*) FROM commerce_charges WHERE subscription_id = $1 AND renewal_of = $2 AND {filter}")
    };
    let unsettled: i64 = sqlx::query_scalar(&count("state IN ('requested', 'pending')"))
        .bind(subscription_id)
        .bind(renewal_of)
        .fetch_one(db)
        .await?;
    if unsettled > 0 {
        return Ok(None);
    }
    let earlier: i64 =
        sqlx::query_scalar(&count("attempt < 0")).bind(subscription_id).bind(renewal_of).fetch_one(db).await?;
    Ok(Some(-(earlier + 1)))
}

// ---- rentals and purchases

const RENTAL_COLUMNS: &str =
    "id, user_id, title_id, order_id, watch_window_ms, expires_unplayed_at, first_played_at, revoked_at, created_at";

fn rental_of(row: &AnyRow) -> Result<(RentalView, Rental), sqlx::Error> {
    let rental = Rental {
        window_ms: row.try_get("watch_window_ms")?,
        expires_unplayed_at: row.try_get("expires_unplayed_at")?,
        first_played_at: row.try_get("first_played_at")?,
        revoked_at: row.try_get("revoked_at")?,
    };
    let view = RentalView {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        title_id: row.try_get("title_id")?,
        order_id: row.try_get("order_id")?,
        watch_window_ms: rental.window_ms,
        expires_unplayed_at: rental.expires_unplayed_at,
        first_played_at: rental.first_played_at,
        plays_until: rental.plays_until(),
        active: false,
        created_at: row.try_get("created_at")?,
    };
    Ok((view, rental))
}

pub async fn list_rentals(
    db: &AnyPool,
    user: Option<&str>,
    after: Option<&str>,
    limit: i64,
    now: i64,
) -> Result<Vec<RentalView>, sqlx::Error> {
    let mut sql = format!("SELECT {RENTAL_COLUMNS} FROM commerce_rentals WHERE id > $1");
    if user.is_some() {
        sql.push_str(" AND user_id = $2");
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
    let mut query = sqlx::query(&sql).bind(after.unwrap_or(""));
    if let Some(user) = user {
        query = query.bind(user);
    }
    query
        .fetch_all(db)
        .await?
        .iter()
        .map(|row| rental_of(row).map(|(view, rental)| RentalView { active: rental.check(now).is_ok(), ..view }))
        .collect()
}

pub async fn insert_rental(tx: &mut Tx, id: &str, order: &Order, rental: &Rental, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO commerce_rentals (id, user_id, title_id, order_id, watch_window_ms, expires_unplayed_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&order.user_id)
    .bind(&order.title_id)
    .bind(&order.id)
    .bind(rental.window_ms)
    .bind(rental.expires_unplayed_at)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Starts a rental's window at `now` unless it has started.
pub async fn first_play(db: &AnyPool, rental_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE commerce_rentals SET first_played_at = $2 WHERE id = $1 AND first_played_at IS NULL")
        .bind(rental_id)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn insert_purchase(tx: &mut Tx, id: &str, order: &Order, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO commerce_purchases (id, user_id, title_id, order_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(&order.user_id)
    .bind(&order.title_id)
    .bind(&order.id)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Revokes what an order bought (a refunded rental or purchase).
pub async fn revoke_of_order(tx: &mut Tx, order_id: &str, now: i64) -> Result<(), sqlx::Error> {
    for table in ["commerce_rentals", "commerce_purchases"] {
        sqlx::query(&format!("UPDATE {table} SET revoked_at = $2 WHERE order_id = $1 AND revoked_at IS NULL"))
            .bind(order_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Whether the user holds an unrevoked purchase of the title, or a rental of it that still plays at `now`.
pub async fn holds_title(db: &AnyPool, user_id: &str, title_id: &str, now: i64) -> Result<(bool, bool), sqlx::Error> {
    let holdings = holdings(db, user_id).await?;
    let bought = holdings.purchased_titles.iter().any(|t| t == title_id);
    let renting = holdings.rentals.iter().any(|r| r.title_id == title_id && r.rental.check(now).is_ok());
    Ok((bought, renting))
}

/// Everything the viewer holds that may grant playback.
pub async fn holdings(db: &AnyPool, user_id: &str) -> Result<Holdings, sqlx::Error> {
    let subscriptions = live_subscriptions(db, user_id).await?;
    let rentals = sqlx::query(&format!(
        "SELECT {RENTAL_COLUMNS} FROM commerce_rentals WHERE user_id = $1 AND revoked_at IS NULL"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|row| rental_of(row).map(|(view, rental)| HeldRental { id: view.id, title_id: view.title_id, rental }))
    .collect::<Result<Vec<_>, _>>()?;
    let purchased_titles =
        sqlx::query("SELECT title_id FROM commerce_purchases WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .fetch_all(db)
            .await?
            .iter()
            .map(|row| row.try_get("title_id"))
            .collect::<Result<Vec<String>, _>>()?;
    Ok(Holdings { subscriptions, rentals, purchased_titles })
}
