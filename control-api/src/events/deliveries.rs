//! The delivery log: one delivery per event and endpoint, with every attempt, and redelivery on request.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool};
use utoipa::ToSchema;

use super::endpoint_rules::{endpoint_receives, EventFilter};
use super::error::EventsError;
use super::kind::EventType;
use super::outbox;

/// The most deliveries one [`list_deliveries`] call returns.
pub const MAX_PAGE: u32 = 500;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt (at `next_attempt_at`).
    Pending,
    /// An attempt is being made now.
    Sending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Its 24 hours of retries are over, or the endpoint is gone.
    GivenUp,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::GivenUp => "given_up",
        }
    }
}

/// One event sent (or being sent) to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (while pending), Unix milliseconds.
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// The last answer's status code, if there was an answer.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed without an answer (timeout, connection refused…).
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub given_up_at: Option<i64>,
    pub created_at: i64,
}

/// One attempt of a delivery, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attempt {
    /// 1 for the first attempt of this delivery.
    pub attempt: i64,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    endpoint_id: String,
    event_id: String,
    event_type: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    claim_token: Option<String>,
    last_attempt_at: Option<i64>,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    delivered_at: Option<i64>,
    given_up_at: Option<i64>,
    created_at: i64,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.endpoint_id, d.event_id, ev.type AS event_type, d.attempts, \
     d.next_attempt_at, d.claim_token, d.last_attempt_at, d.last_status_code, d.last_error, d.delivered_at, \
     d.given_up_at, d.created_at \
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id";

impl DeliveryRow {
    fn into_delivery(self) -> Option<Delivery> {
        let state = if self.delivered_at.is_some() {
            DeliveryState::Delivered
        } else if self.given_up_at.is_some() {
            DeliveryState::GivenUp
        } else if self.claim_token.is_some() {
            DeliveryState::Sending
        } else {
            DeliveryState::Pending
        };
        Some(Delivery {
            id: self.id,
            endpoint_id: self.endpoint_id,
            event_id: self.event_id,
            event_type: self.event_type.parse().ok()?,
            state,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.filter(|_| state == DeliveryState::Pending),
            last_attempt_at: self.last_attempt_at,
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            delivered_at: self.delivered_at,
            given_up_at: self.given_up_at,
            created_at: self.created_at,
        })
    }
}

/// An endpoint's deliveries, newest first: up to `limit` older than the delivery `before` (from the start
/// when `None`). The endpoint must be `owner`'s when `owner` is given.
pub async fn list_deliveries(
    pool: &AnyPool,
    endpoint_id: &str,
    owner: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Delivery>, EventsError> {
    super::endpoints::endpoint(pool, endpoint_id, owner).await?;
    let limit = i64::from(limit.clamp(1, MAX_PAGE));
    let rows: Vec<DeliveryRow> = match before {
        None => {
            sqlx::query_as(&format!("{DELIVERY_SELECT} WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2"))
                .bind(endpoint_id)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Some(before) => {
            sqlx::query_as(&format!(
                "{DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3"
            ))
            .bind(endpoint_id)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows.into_iter().filter_map(DeliveryRow::into_delivery).collect())
}

/// One delivery, if its endpoint is `owner`'s (when given).
pub async fn delivery(pool: &AnyPool, id: &str, owner: Option<&str>) -> Result<Delivery, EventsError> {
    let mut connection = pool.acquire().await?;
    delivery_on(&mut connection, id, owner).await
}

async fn delivery_on(connection: &mut AnyConnection, id: &str, owner: Option<&str>) -> Result<Delivery, EventsError> {
    let row: Option<DeliveryRow> = match owner {
        None => {
            sqlx::query_as(&format!("{DELIVERY_SELECT} WHERE d.id = $1"))
                .bind(id)
                .fetch_optional(&mut *connection)
                .await?
        }
        Some(owner) => {
            sqlx::query_as(&format!("{DELIVERY_SELECT} WHERE d.id = $1 AND e.owner_id = $2"))
                .bind(id)
                .bind(owner)
                .fetch_optional(&mut *connection)
                .await?
        }
    };
    row.and_then(DeliveryRow::into_delivery).ok_or(EventsError::NotFound("webhook delivery"))
}

/// Every attempt of a delivery, first first.
pub async fn delivery_attempts(
    pool: &AnyPool,
    delivery_id: &str,
    owner: Option<&str>,
) -> Result<Vec<Attempt>, EventsError> {
    delivery(pool, delivery_id, owner).await?;
    Ok(sqlx::query_as(
        "SELECT attempt, attempted_at, status_code, error, duration_ms FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY attempt, attempted_at",
    )
    .bind(delivery_id)
    .fetch_all(pool)
    .await?)
}

/// Queues another attempt of a delivery's event to its endpoint at `now`: a pending delivery becomes due now,
/// one being sent is left to finish, and a delivered or given-up one gets a new delivery (with a new 24 hours
/// of retries). The receiver sees the same `webhook-id` as before. Returns the delivery that will carry it.
pub async fn redeliver(
    pool: &AnyPool,
    delivery_id: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<Delivery, EventsError> {
    let mut transaction = super::begin_write(pool).await?;
    let current = delivery_on(&mut transaction, delivery_id, owner).await?;
    let id = queue_again(&mut transaction, &current, now).await?;
    let queued = delivery_on(&mut transaction, &id, None).await?;
    transaction.commit().await?;
    Ok(queued)
}

/// Queues an attempt of event `event_id` to every enabled endpoint that receives it (only `owner`'s, when
/// given), as [`redeliver`] does for each endpoint's latest delivery; endpoints that never had one get one.
pub async fn redeliver_event(
    pool: &AnyPool,
    event_id: &str,
    owner: Option<&str>,
    now: i64,
) -> Result<Vec<Delivery>, EventsError> {
    // Creators redeliver their own events (to their own endpoints), admins any.
    let event = outbox::event(pool, event_id, owner).await?.ok_or(EventsError::NotFound("event"))?;
    let mut transaction = super::begin_write(pool).await?;
    let endpoints = receiving_endpoints(&mut transaction, &event.owner_id, event.kind).await?;
    let mut queued = Vec::new();
    for endpoint in endpoints.iter().filter(|endpoint| owner.is_none_or(|owner| endpoint.owner_id == owner)) {
        let latest: Option<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(&endpoint.id)
        .bind(event_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let id = match latest {
            Some(latest) => {
                let current = delivery_on(&mut transaction, &latest, None).await?;
                queue_again(&mut transaction, &current, now).await?
            }
            None => insert_delivery(&mut transaction, &endpoint.id, event_id, now).await?,
        };
        queued.push(delivery_on(&mut transaction, &id, None).await?);
    }
    transaction.commit().await?;
    Ok(queued)
}

/// The id of the delivery that will carry the next attempt of `current`'s event.
async fn queue_again(connection: &mut AnyConnection, current: &Delivery, now: i64) -> Result<String, sqlx::Error> {
    match current.state {
        DeliveryState::Pending => {
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 \
                 WHERE id = $2 AND claim_token IS NULL AND next_attempt_at > $1",
            )
            .bind(now)
            .bind(&current.id)
            .execute(&mut *connection)
            .await?;
            Ok(current.id.clone())
        }
        // A send in flight began before this request: another one is queued, so the redelivery asked for
        // always starts after it was asked for.
        DeliveryState::Sending | DeliveryState::Delivered | DeliveryState::GivenUp => {
            insert_delivery(connection, &current.endpoint_id, &current.event_id, now).await
        }
    }
}

/// A new delivery, due at `now`.
pub(super) async fn insert_delivery(
    connection: &mut AnyConnection,
    endpoint_id: &str,
    event_id: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, 0, $4, $4)",
    )
    .bind(&id)
    .bind(endpoint_id)
    .bind(event_id)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(id)
}

/// An enabled endpoint that may receive events.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct EndpointTarget {
    pub id: String,
    pub owner_id: String,
    event_types_json: Option<String>,
    role: String,
}

/// The enabled endpoints that receive an event of `kind` about `owner_id`'s asset.
pub(super) async fn receiving_endpoints(
    connection: &mut AnyConnection,
    owner_id: &str,
    kind: EventType,
) -> Result<Vec<EndpointTarget>, sqlx::Error> {
    let candidates: Vec<EndpointTarget> = sqlx::query_as(
        "SELECT e.id, e.owner_id, e.event_types_json, u.role FROM webhook_endpoints e JOIN users u ON u.id = e.owner_id \
         WHERE e.disabled_at IS NULL AND (e.owner_id = $1 OR u.role = 'admin') ORDER BY e.id",
    )
    .bind(owner_id)
    .fetch_all(&mut *connection)
    .await?;
    Ok(candidates
        .into_iter()
        .filter(|target| {
            let filter = EventFilter::from_stored(target.event_types_json.as_deref());
            endpoint_receives(&target.owner_id, target.role == "admin", &filter, owner_id, kind)
        })
        .collect())
}
