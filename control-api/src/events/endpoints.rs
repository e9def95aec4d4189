//! Webhook endpoints: where a user's events are sent. The secret is returned once, by
//! [`create_endpoint`]; every other answer leaves it out.

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::ToSchema;

use super::endpoint_rules::{endpoint_url, EventFilter};
use super::error::EventsError;
use super::kind::EventType;
use super::signing::new_secret;

/// The longest endpoint description kept.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// What a client sends to register an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where to POST the events: an `http` or `https` URL. Redirects are not followed.
    pub url: String,
    /// Which event types to send (leave out for every type).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub owner_id: String,
    pub url: String,
    /// The event types it receives; `null` for every type.
    pub event_types: Option<Vec<EventType>>,
    pub description: String,
    pub created_at: i64,
    /// Set when the receiver answered 410 Gone: nothing is sent to it any more.
    pub disabled_at: Option<i64>,
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_…`: verify each delivery's `webhook-signature` with it (any Standard Webhooks library does).
    pub secret: String,
}

#[derive(Debug, sqlx::FromRow)]
struct EndpointRow {
    id: String,
    owner_id: String,
    url: String,
    event_types_json: Option<String>,
    description: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

const ENDPOINT_COLUMNS: &str = "id, owner_id, url, event_types_json, description, created_at, disabled_at";

impl From<EndpointRow> for Endpoint {
    fn from(row: EndpointRow) -> Self {
        Endpoint {
            id: row.id,
            owner_id: row.owner_id,
            url: row.url,
            event_types: EventFilter::from_stored(row.event_types_json.as_deref()).types(),
            description: row.description,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        }
    }
}

/// Registers an endpoint for `owner_id`'s events (every event, for an admin).
pub async fn create_endpoint(
    pool: &AnyPool,
    owner_id: &str,
    new: NewEndpoint,
    now: i64,
) -> Result<CreatedEndpoint, EventsError> {
    let url = endpoint_url(&new.url)?;
    let filter = EventFilter::from_names(new.event_types.as_deref())?;
    let description: String = new.description.unwrap_or_default().chars().take(MAX_DESCRIPTION_CHARS).collect();
    let endpoint = Endpoint {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner_id.to_string(),
        url: url.to_string(),
        event_types: filter.types(),
        description,
        created_at: now,
        disabled_at: None,
    };
    let secret = new_secret();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, owner_id, url, secret, event_types_json, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&endpoint.id)
    .bind(&endpoint.owner_id)
    .bind(&endpoint.url)
    .bind(&secret)
    .bind(filter.to_stored())
    .bind(&endpoint.description)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(CreatedEndpoint { endpoint, secret })
}

/// `owner`'s endpoints (every endpoint when `None`), oldest first.
pub async fn list_endpoints(pool: &AnyPool, owner: Option<&str>) -> Result<Vec<Endpoint>, EventsError> {
    let rows: Vec<EndpointRow> = match owner {
        None => {
            sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id"))
                .fetch_all(pool)
                .await?
        }
        Some(owner) => {
            sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE owner_id = $1 ORDER BY id"))
                .bind(owner)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows.into_iter().map(Endpoint::from).collect())
}

/// One endpoint, if it exists and `owner` (when given) owns it.
pub async fn endpoint(pool: &AnyPool, id: &str, owner: Option<&str>) -> Result<Endpoint, EventsError> {
    let row: Option<EndpointRow> =
        sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    row.map(Endpoint::from)
        .filter(|endpoint| owner.is_none_or(|owner| endpoint.owner_id == owner))
        .ok_or(EventsError::NotFound("webhook endpoint"))
}

/// Removes an endpoint with its deliveries and their log.
pub async fn delete_endpoint(pool: &AnyPool, id: &str, owner: Option<&str>) -> Result<(), EventsError> {
    let deleted = match owner {
        None => sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(pool).await?,
        Some(owner) => {
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND owner_id = $2")
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
        }
    };
    if deleted.rows_affected() == 0 {
        return Err(EventsError::NotFound("webhook endpoint"));
    }
    Ok(())
}
