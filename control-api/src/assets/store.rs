//! The `assets` table. Every status change records its event in the same transaction (the outbox), so an
//! event exists exactly when its change does.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::model::{keys, Asset, AssetError, AssetStatus, PlaybackPolicy, Poster};
use crate::db::Database;
use crate::events::{self, EventType, NewEvent};

const COLUMNS: &str =
    "id, owner_id, status, playback_policy, preset, input_url, source_key, presentation_prefix, source_json, \
                       renditions_json, duration_ms, progress_json, error_code, error_message, created_at, updated_at";

/// An asset row with the storage keys the API does not show.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRow {
    pub asset: Asset,
    pub source_key: Option<String>,
    pub presentation_prefix: Option<String>,
}

fn json_of(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn row_of(row: &AnyRow) -> Result<AssetRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let policy: String = row.try_get("playback_policy")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    let error_message: Option<String> = row.try_get("error_message")?;
    let duration_ms: Option<i64> = row.try_get("duration_ms")?;
    let presentation_prefix: Option<String> = row.try_get("presentation_prefix")?;
    // A deleted asset's objects are gone; any other with a presentation (a re-transcode keeps the current one)
    // has its poster.
    let poster = presentation_prefix
        .as_deref()
        .filter(|_| status != AssetStatus::Deleted.as_str())
        .map(|prefix| Poster { path: keys::poster(prefix), url: None });
    Ok(AssetRow {
        asset: Asset {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            // The columns' CHECKs allow only these names.
            status: AssetStatus::parse(&status).unwrap_or(AssetStatus::Errored),
            playback_policy: PlaybackPolicy::parse(&policy).unwrap_or_default(),
            preset: row.try_get("preset")?,
            input_url: row.try_get("input_url")?,
            progress: json_of(row.try_get("progress_json")?),
            source: json_of(row.try_get("source_json")?),
            renditions: json_of(row.try_get("renditions_json")?),
            #[allow(clippy::cast_precision_loss)]
            duration_seconds: duration_ms.map(|ms| ms as f64 / 1000.0),
            error: error_code.map(|code| AssetError { code, message: error_message.unwrap_or_default() }),
            poster,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        source_key: row.try_get("source_key")?,
        presentation_prefix,
    })
}

/// What a new asset starts with.
#[derive(Debug, Clone)]
pub struct NewAsset {
    pub owner_id: String,
    pub playback_policy: PlaybackPolicy,
    pub preset: String,
}

/// Records `kind` about `asset` in `tx`, with the asset as the event's data.
async fn record(
    tx: &mut Transaction<'static, Any>,
    kind: EventType,
    asset: &Asset,
    at: i64,
) -> Result<(), sqlx::Error> {
    let data = serde_json::to_value(asset).unwrap_or(serde_json::Value::Null);
    events::record(tx, NewEvent { kind, owner_id: asset.owner_id.clone(), asset_id: Some(asset.id.clone()), data, at })
        .await
        .map(|_| ())
}

/// Inserts a new asset waiting for its upload, in `tx`, with its `asset.created` event.
pub async fn insert(tx: &mut Transaction<'static, Any>, new: &NewAsset, now: i64) -> Result<Asset, sqlx::Error> {
    insert_as(tx, new, AssetStatus::WaitingUpload, None, now).await
}

/// Inserts a new asset whose source the farm fetches from `input_url`, in `tx`, with its `asset.created` event.
/// It is queued at once: the caller enqueues its job in the same transaction.
pub async fn insert_from_url(
    tx: &mut Transaction<'static, Any>,
    new: &NewAsset,
    input_url: &str,
    now: i64,
) -> Result<Asset, sqlx::Error> {
    insert_as(tx, new, AssetStatus::Queued, Some(input_url), now).await
}

async fn insert_as(
    tx: &mut Transaction<'static, Any>,
    new: &NewAsset,
    status: AssetStatus,
    input_url: Option<&str>,
    now: i64,
) -> Result<Asset, sqlx::Error> {
    let asset = Asset {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: new.owner_id.clone(),
        status,
        playback_policy: new.playback_policy,
        preset: new.preset.clone(),
        input_url: input_url.map(str::to_owned),
        progress: None,
        source: None,
        renditions: None,
        duration_seconds: None,
        error: None,
        poster: None,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO assets (id, owner_id, status, playback_policy, preset, input_url, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&asset.id)
    .bind(&asset.owner_id)
    .bind(asset.status.as_str())
    .bind(asset.playback_policy.as_str())
    .bind(&asset.preset)
    .bind(asset.input_url.clone())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    record(tx, EventType::AssetCreated, &asset, now).await?;
    Ok(asset)
}

pub async fn get(db: &Database, id: &str) -> Result<Option<AssetRow>, sqlx::Error> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1")).bind(id).fetch_optional(db.pool()).await?;
    row.as_ref().map(row_of).transpose()
}

/// Assets in id (creation) order after `after`: one owner's (`Some`) or everyone's, with one status or all but
/// deleted ones.
pub async fn list(
    db: &Database,
    owner: Option<&str>,
    status: Option<AssetStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Asset>, sqlx::Error> {
    let mut sql = format!("SELECT {COLUMNS} FROM assets WHERE id > $1");
    let mut next = 2;
    if owner.is_some() {
        sql.push_str(&format!(" AND owner_id = ${next}"));
        next += 1;
    }
    match status {
        Some(_) => sql.push_str(&format!(" AND status = ${next}")),
        None => sql.push_str(" AND status <> 'deleted'"),
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
    let mut query = sqlx::query(&sql).bind(after.unwrap_or(""));
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    if let Some(status) = status {
        query = query.bind(status.as_str());
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(|row| row_of(row).map(|r| r.asset)).collect()
}

/// Moves the asset from `from` to `to` in `tx` (and records `event` for it), if it is in `from`. Returns the
/// asset as it now is, or `None` when it was not in `from` (someone else moved it first).
pub async fn transition(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    from: AssetStatus,
    to: AssetStatus,
    event: Option<EventType>,
    now: i64,
) -> Result<Option<Asset>, sqlx::Error> {
    debug_assert!(from.may_become(to), "{from:?} → {to:?}");
    let update = sqlx::query("UPDATE assets SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .bind(from.as_str());
    apply(tx, id, update, event, now).await
}

/// Notes where the asset's uploaded source is, in `tx`.
pub async fn set_source_key(tx: &mut Transaction<'static, Any>, id: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE assets SET source_key = $1 WHERE id = $2")
        .bind(key)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Marks the asset deleted (from whatever status it was in) with its `asset.deleted` event. `None` when it
/// was deleted already.
pub async fn mark_deleted(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    now: i64,
) -> Result<Option<AssetRow>, sqlx::Error> {
    let moved =
        sqlx::query("UPDATE assets SET status = 'deleted', updated_at = $1 WHERE id = $2 AND status <> 'deleted'")
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if moved == 0 {
        return Ok(None);
    }
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1")).bind(id).fetch_one(&mut **tx).await?;
    let row = row_of(&row)?;
    record(tx, EventType::AssetDeleted, &row.asset, now).await?;
    Ok(Some(row))
}

/// What a completed transcode published.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The attempt's folder, ending with `/`.
    pub prefix: String,
    pub source: serde_json::Value,
    pub renditions: serde_json::Value,
    pub duration_ms: i64,
}

/// Runs `update` (an UPDATE of asset `id`) in `tx`; when it changed the row, re-reads the asset and records
/// `event` for it. `None` when it changed nothing (the asset was not in the status the update asks for).
async fn apply<'q>(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    update: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    event: Option<EventType>,
    now: i64,
) -> Result<Option<Asset>, sqlx::Error> {
    if update.execute(&mut **tx).await?.rows_affected() == 0 {
        return Ok(None);
    }
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1")).bind(id).fetch_one(&mut **tx).await?;
    let asset = row_of(&row)?.asset;
    if let Some(kind) = event {
        record(tx, kind, &asset, now).await?;
    }
    Ok(Some(asset))
}

/// A claimed job's asset starts processing (queued → processing, with `asset.processing`), in `tx`. `None`
/// when it was not queued (processing already after a retry: no second event).
pub async fn start_processing(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    now: i64,
) -> Result<Option<Asset>, sqlx::Error> {
    let update = sqlx::query(
        "UPDATE assets SET status = 'processing', progress_json = NULL, error_code = NULL, error_message = NULL, \
         updated_at = $1 WHERE id = $2 AND status = 'queued'",
    )
    .bind(now)
    .bind(id);
    apply(tx, id, update, Some(EventType::AssetProcessing), now).await
}

/// The latest progress of the asset's running job, in `tx` (only while it is processing).
pub async fn set_progress(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    progress: &serde_json::Value,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE assets SET progress_json = $1, updated_at = $2 WHERE id = $3 AND status = 'processing'")
        .bind(progress.to_string())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Points the asset at its new presentation: processing → ready with `asset.ready`, in `tx`. `None` when it
/// was not processing (deleted or canceled meanwhile).
pub async fn publish(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    published: &Published,
    now: i64,
) -> Result<Option<Asset>, sqlx::Error> {
    let update = sqlx::query(
        "UPDATE assets SET status = 'ready', presentation_prefix = $1, source_json = $2, renditions_json = $3, \
         duration_ms = $4, progress_json = NULL, error_code = NULL, error_message = NULL, updated_at = $5 \
         WHERE id = $6 AND status = 'processing'",
    )
    .bind(&published.prefix)
    .bind(published.source.to_string())
    .bind(published.renditions.to_string())
    .bind(published.duration_ms)
    .bind(now)
    .bind(id);
    apply(tx, id, update, Some(EventType::AssetReady), now).await
}

/// The asset failed for good: `from` → errored with `error` and `asset.errored`, in `tx`. `None` when it was
/// in none of the `from` statuses.
pub async fn fail(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    from: &[AssetStatus],
    error: &AssetError,
    now: i64,
) -> Result<Option<Asset>, sqlx::Error> {
    let statuses: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let sql = format!(
        "UPDATE assets SET status = 'errored', error_code = $1, error_message = $2, progress_json = NULL, \
         updated_at = $3 WHERE id = $4 AND status IN ({})",
        statuses.join(", ")
    );
    let update = sqlx::query(&sql).bind(&error.code).bind(&error.message).bind(now).bind(id);
    apply(tx, id, update, Some(EventType::AssetErrored), now).await
}

/// The asset's job went back to the queue (its worker vanished, or an attempt failed and will be retried):
/// processing → queued, in `tx`. No event: `asset.processing` follows when a worker claims it again.
pub async fn requeue(tx: &mut Transaction<'static, Any>, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE assets SET status = 'queued', progress_json = NULL, updated_at = $1 WHERE id = $2 AND status = 'processing'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A finished asset (ready or errored) is queued again with `preset`, in `tx` (a re-transcode; the current
/// presentation stays until the new one is ready). `None` when it was not finished.
pub async fn queue_again(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    preset: &str,
    now: i64,
) -> Result<Option<Asset>, sqlx::Error> {
    let update = sqlx::query(
        "UPDATE assets SET status = 'queued', preset = $1, error_code = NULL, error_message = NULL, \
         progress_json = NULL, updated_at = $2 WHERE id = $3 AND status IN ('ready', 'errored')",
    )
    .bind(preset)
    .bind(now)
    .bind(id);
    apply(tx, id, update, None, now).await
}
