//! The event outbox: [`record`] writes an event in the transaction that makes the change it reports, so the
//! event exists exactly when the change does; [`events_after`] reads them in order from a cursor.
//!
//! **Order and the cursor.** Every event gets `seq` from the database (SQLite `AUTOINCREMENT`, a PostgreSQL
//! identity). A reader keeps the last `seq` it saw and asks for larger ones, so it must never be possible for
//! an event with a smaller `seq` to become visible after one with a larger `seq`: that reader would skip it
//! for ever. On SQLite this cannot happen, since one write transaction at a time holds the database. On
//! PostgreSQL identity values are handed out when transactions ask, and transactions commit in any order, so
//! [`record`] first takes a transaction-scoped advisory lock ([`EVENT_WRITER_LOCK`]): it is released only when
//! the transaction has committed (and become visible) or rolled back, so the next event writer gets its number
//! after the previous one is visible. Event writers thus queue behind each other from `record` to commit:
//! call `record` as the last statement before committing. Rolled-back transactions leave gaps in `seq`,
//! which readers simply step over; a gap is never filled later.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use sqlx::{Any, AnyPool, Transaction};
use utoipa::ToSchema;

use super::kind::EventType;

/// The PostgreSQL advisory lock key event writers queue on (any constant the rest of the API does not use).
pub const EVENT_WRITER_LOCK: i64 = 0x6d61_7271_6576_0001;
/// The most events one [`events_after`] call returns.
pub const MAX_PAGE: u32 = 1000;

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventType,
    /// The owner of the asset it is about: who may read it and whose endpoints receive it.
    pub owner_id: String,
    pub asset_id: Option<String>,
    /// The event's `data` (for asset events, the asset as the API shows it).
    pub data: serde_json::Value,
    /// When it happened, Unix milliseconds.
    pub at: i64,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    /// Its place in the order of all events: the cursor to read on from.
    pub seq: i64,
    /// Its id (uuid v7); also the `webhook-id` of its deliveries.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub owner_id: String,
    pub asset_id: Option<String>,
    pub data: serde_json::Value,
    /// When it happened, Unix milliseconds.
    pub created_at: i64,
}

/// The body of a webhook, per the Standard Webhooks payload structure.
#[derive(Debug, Serialize)]
struct WebhookBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    /// When the event happened (RFC 3339).
    timestamp: String,
    data: &'a serde_json::Value,
}

impl Event {
    /// The JSON body every endpoint receives for this event: `{"id", "type", "timestamp", "data"}`.
    pub fn webhook_body(&self) -> Vec<u8> {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(self.created_at).unwrap_or(0));
        let body = WebhookBody {
            id: &self.id,
            kind: self.kind.as_str(),
            timestamp: humantime::format_rfc3339_millis(time).to_string(),
            data: &self.data,
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct EventRow {
    seq: i64,
    id: String,
    #[sqlx(rename = "type")]
    kind: String,
    owner_id: String,
    asset_id: Option<String>,
    data_json: String,
    created_at: i64,
}

/// The columns an [`EventRow`] reads, for queries of the `events` table under the alias `ev`.
pub(super) const EVENT_COLUMNS: &str = "ev.seq, ev.id, ev.type, ev.owner_id, ev.asset_id, ev.data_json, ev.created_at";

impl EventRow {
    /// `None` for a type this version does not know (written by a newer one).
    pub(super) fn into_event(self) -> Option<Event> {
        Some(Event {
            seq: self.seq,
            id: self.id,
            kind: self.kind.parse().ok()?,
            owner_id: self.owner_id,
            asset_id: self.asset_id,
            data: serde_json::from_str(&self.data_json).unwrap_or(serde_json::Value::Null),
            created_at: self.created_at,
        })
    }
}

/// Writes `event` in `transaction`: it exists if and only if the transaction commits. Call it last before
/// committing (on PostgreSQL other event writers wait from here until the commit; see the module's docs).
pub async fn record(transaction: &mut Transaction<'_, Any>, event: NewEvent) -> Result<Event, sqlx::Error> {
    let connection: &mut sqlx::AnyConnection = transaction;
    if connection.backend_name().eq_ignore_ascii_case("postgresql") {
        // The function returns void, which the Any driver cannot read: count the row instead.
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
            .bind(EVENT_WRITER_LOCK)
            .fetch_one(&mut *connection)
            .await?;
    }
    let id = uuid::Uuid::now_v7().to_string();
    let data_json = serde_json::to_string(&event.data).unwrap_or_else(|_| "null".into());
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO events (id, type, owner_id, asset_id, data_json, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
    )
    .bind(&id)
    .bind(event.kind.as_str())
    .bind(&event.owner_id)
    .bind(&event.asset_id)
    .bind(&data_json)
    .bind(event.at)
    .fetch_one(&mut *connection)
    .await?;
    Ok(Event {
        seq,
        id,
        kind: event.kind,
        owner_id: event.owner_id,
        asset_id: event.asset_id,
        data: event.data,
        created_at: event.at,
    })
}

/// A page of events and the cursor to read on from.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The `seq` of the last event read (or the cursor given, when there were none): ask for events after it.
    pub cursor: i64,
}

/// Up to `limit` (at most [`MAX_PAGE`]) events with `seq` greater than `after`, oldest first; only `owner`'s
/// when given (creators), every owner's when `None` (admins). Start with `after = 0`.
pub async fn events_after(
    pool: &AnyPool,
    after: i64,
    limit: u32,
    owner: Option<&str>,
) -> Result<EventPage, sqlx::Error> {
    let limit = i64::from(limit.clamp(1, MAX_PAGE));
    let rows: Vec<EventRow> = match owner {
        None => {
            sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM events ev WHERE ev.seq > $1 ORDER BY ev.seq LIMIT $2"))
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Some(owner) => {
            sqlx::query_as(&format!(
                "SELECT {EVENT_COLUMNS} FROM events ev WHERE ev.owner_id = $1 AND ev.seq > $2 ORDER BY ev.seq LIMIT $3"
            ))
            .bind(owner)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    let cursor = rows.last().map_or(after, |row| row.seq);
    Ok(EventPage { events: rows.into_iter().filter_map(EventRow::into_event).collect(), cursor })
}

/// One event by id, if `owner` (when given) owns it.
pub async fn event(pool: &AnyPool, id: &str, owner: Option<&str>) -> Result<Option<Event>, sqlx::Error> {
    let row: Option<EventRow> = sqlx::query_as(&format!("SELECT {EVENT_COLUMNS} FROM events ev WHERE ev.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(EventRow::into_event).filter(|event| owner.is_none_or(|owner| event.owner_id == owner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_bodies_follow_the_standard_payload_structure() {
        let event = Event {
            seq: 7,
            id: "0190-evt".into(),
            kind: EventType::AssetReady,
            owner_id: "u1".into(),
            asset_id: Some("a1".into()),
            data: serde_json::json!({"id": "a1", "status": "ready"}),
            created_at: 1_700_000_000_123,
        };
        let body: serde_json::Value = serde_json::from_slice(&event.webhook_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "id": "0190-evt",
                "type": "asset.ready",
                "timestamp": "2023-11-14T22:13:20.123Z",
                "data": {"id": "a1", "status": "ready"},
            })
        );
    }
}
