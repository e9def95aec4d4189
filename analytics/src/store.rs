//! The analytics tables (`analytics_events`, `analytics_views`): one batch of beacons written in one
//! transaction, and the reads the aggregates and recommendations need.
//!
//! A batch locks the rows of the views it touches before folding (a placeholder row is inserted first when a
//! view is new, then the rows are read `FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the one
//! write lock), so several API instances writing beacons of one view fold them one after the other.

use std::collections::BTreeMap;

use marquee_control_api::db::begin_write;
use marquee_control_api::{Database, Engine};
use marquee_recommendations::WatchEvent;
use sqlx::Row;

use crate::aggregate::ViewSummary;
use crate::beacon::Beacon;
use crate::view::ViewState;

/// Rows per multi-row statement: 13 parameters each stays far below SQLite's 32 766 and PostgreSQL's 65 535.
const ROWS_PER_STATEMENT: usize = 200;

/// What a batch changed, for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Events stored.
    pub written: u64,
    /// Events dropped because their view belongs to another viewer (a view id reused or forged).
    pub foreign: u64,
    /// Views seen for the first time.
    pub views_started: u64,
    /// Views that ended without a first frame in this batch.
    pub exits_before_start: u64,
    /// Startup times of views whose first frame came in this batch, in milliseconds.
    pub startups_ms: Vec<i64>,
    /// Playing and stalled time added, in milliseconds.
    pub watch_ms: i64,
    pub rebuffer_ms: i64,
    /// Playing time with a known bitrate added, in milliseconds, and the bits played in it.
    pub bitrate_ms: i64,
    pub played_bits: i64,
    pub errors: i64,
}

/// `($1, $2, …), (…)` for `rows` rows of `columns` parameters.
fn values(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, …, $n`.
fn list(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Writes `beacons` (any order, any views) in one transaction: the events, and each view's folded summary.
pub async fn write_batch(db: &Database, beacons: Vec<Beacon>, now: i64) -> Result<BatchOutcome, sqlx::Error> {
    let mut outcome = BatchOutcome::default();
    // Views in id order, so that two writers lock them in the same order; events in time order (stable).
    let mut by_view: BTreeMap<String, Vec<Beacon>> = BTreeMap::new();
    for beacon in beacons {
        by_view.entry(beacon.view_id.clone()).or_default().push(beacon);
    }
    for events in by_view.values_mut() {
        events.sort_by_key(|e| e.at);
    }
    let views: Vec<&String> = by_view.keys().collect();
    let mut tx = begin_write(db.pool()).await?;

    for chunk in views.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO analytics_views (view_id, asset_id, title_id, viewer_key, started_at, last_at, updated_at) \
             VALUES {} ON CONFLICT (view_id) DO NOTHING",
            values(chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for view in chunk {
            let first = &by_view[*view][0];
            query = query
                .bind(first.view_id.clone())
                .bind(first.asset_id.clone())
                .bind(first.title_id.clone())
                .bind(first.viewer_key.clone())
                .bind(first.at)
                .bind(first.at)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }

    let mut stored: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for chunk in views.chunks(ROWS_PER_STATEMENT) {
        let lock = if db.engine() == Engine::Postgres { " ORDER BY view_id FOR UPDATE" } else { "" };
        let sql = format!(
            "SELECT view_id, viewer_key, state_json FROM analytics_views WHERE view_id IN ({}){lock}",
            list(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for view in chunk {
            query = query.bind((*view).clone());
        }
        for row in query.fetch_all(&mut *tx).await? {
            stored.insert(row.try_get("view_id")?, (row.try_get("viewer_key")?, row.try_get("state_json")?));
        }
    }

    let mut kept: Vec<&Beacon> = Vec::new();
    for (view, events) in &by_view {
        let Some((viewer_key, state_json)) = stored.get(view) else { continue };
        let (mine, foreign): (Vec<&Beacon>, Vec<&Beacon>) = events.iter().partition(|e| &e.viewer_key == viewer_key);
        outcome.foreign += foreign.len() as u64;
        let Some(first) = mine.first() else { continue };
        let before = state_json.as_deref().and_then(|json| serde_json::from_str::<ViewState>(json).ok());
        let mut state = before.clone().unwrap_or_else(|| ViewState::new(first));
        for event in &mine {
            state.apply(event);
        }
        if before.is_none() {
            outcome.views_started += 1;
        }
        let was = before.unwrap_or_else(|| ViewState::new(first));
        if let (None, Some(startup)) = (was.startup_ms, state.startup_ms) {
            outcome.startups_ms.push(startup);
        }
        if !was.ended() && state.ended() && !state.started() {
            outcome.exits_before_start += 1;
        }
        outcome.watch_ms += state.watch_ms - was.watch_ms;
        outcome.rebuffer_ms += state.rebuffer_ms - was.rebuffer_ms;
        outcome.bitrate_ms += state.bitrate_ms - was.bitrate_ms;
        outcome.played_bits += state.played_bits - was.played_bits;
        outcome.errors += state.errors - was.errors;
        let title = mine.iter().find_map(|e| e.title_id.clone());
        sqlx::query(
            "UPDATE analytics_views SET title_id = COALESCE(title_id, $2), started_at = $3, last_at = $4, \
             startup_ms = $5, watch_ms = $6, rebuffer_ms = $7, rebuffer_count = $8, bitrate_ms = $9, \
             played_bits = $10, errors = $11, ended = $12, finished = $13, state_json = $14, updated_at = $15 \
             WHERE view_id = $1",
        )
        .bind(view.clone())
        .bind(title)
        .bind(state.started_at)
        .bind(state.last_at)
        .bind(state.startup_ms)
        .bind(state.watch_ms)
        .bind(state.rebuffer_ms)
        .bind(state.rebuffer_count)
        .bind(state.bitrate_ms)
        .bind(state.played_bits)
        .bind(state.errors)
        .bind(i64::from(state.ended()))
        .bind(i64::from(state.finished()))
        .bind(serde_json::to_string(&state).expect("a view state serializes"))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        kept.extend(mine);
    }

    for chunk in kept.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO analytics_events (id, view_id, kind, at, received_at, asset_id, title_id, viewer_key, \
             position_ms, duration_ms, bitrate_bps, rendition, error_code) VALUES {}",
            values(chunk.len(), 13)
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(e.view_id.clone())
                .bind(e.kind.as_str())
                .bind(e.at)
                .bind(now)
                .bind(e.asset_id.clone())
                .bind(e.title_id.clone())
                .bind(e.viewer_key.clone())
                .bind(e.position_ms)
                .bind(e.duration_ms)
                .bind(e.bitrate_bps)
                .bind(e.rendition.clone())
                .bind(e.error_code.clone());
        }
        query.execute(&mut *tx).await?;
    }
    outcome.written = kept.len() as u64;
    tx.commit().await?;
    Ok(outcome)
}

const SUMMARY_COLUMNS: &str = "v.viewer_key, v.startup_ms, v.watch_ms, v.rebuffer_ms, v.bitrate_ms, v.played_bits, \
                               v.errors, v.ended, v.last_at";

fn summary(row: &sqlx::any::AnyRow) -> Result<ViewSummary, sqlx::Error> {
    Ok(ViewSummary {
        viewer_key: row.try_get("viewer_key")?,
        startup_ms: row.try_get("startup_ms")?,
        watch_ms: row.try_get("watch_ms")?,
        rebuffer_ms: row.try_get("rebuffer_ms")?,
        bitrate_ms: row.try_get("bitrate_ms")?,
        played_bits: row.try_get("played_bits")?,
        errors: row.try_get("errors")?,
        ended: row.try_get::<i64, _>("ended")? != 0,
        last_at: row.try_get("last_at")?,
    })
}

/// The views of `asset` started in `[from, to)`.
pub async fn asset_views(db: &Database, asset: &str, from: i64, to: i64) -> Result<Vec<ViewSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM analytics_views v WHERE v.asset_id = $1 AND v.started_at >= $2 \
         AND v.started_at < $3 AND v.state_json IS NOT NULL"
    );
    let rows = sqlx::query(&sql).bind(asset).bind(from).bind(to).fetch_all(db.pool()).await?;
    rows.iter().map(summary).collect()
}

/// The views of `title` started in `[from, to)`; only those of assets `owner` owns when given.
pub async fn title_views(
    db: &Database,
    title: &str,
    owner: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Vec<ViewSummary>, sqlx::Error> {
    let base = format!(
        "SELECT {SUMMARY_COLUMNS} FROM analytics_views v WHERE v.title_id = $1 AND v.started_at >= $2 \
         AND v.started_at < $3 AND v.state_json IS NOT NULL"
    );
    let rows = match owner {
        None => sqlx::query(&base).bind(title).bind(from).bind(to).fetch_all(db.pool()).await?,
        Some(owner) => {
            let sql = format!("{base} AND v.asset_id IN (SELECT id FROM assets WHERE owner_id = $4)");
            sqlx::query(&sql).bind(title).bind(from).bind(to).bind(owner).fetch_all(db.pool()).await?
        }
    };
    rows.iter().map(summary).collect()
}

fn watch_event(row: &sqlx::any::AnyRow) -> Result<WatchEvent, sqlx::Error> {
    Ok(WatchEvent {
        viewer: row.try_get("viewer_key")?,
        title: row.try_get("title_id")?,
        at: row.try_get("started_at")?,
        finished: row.try_get::<i64, _>("finished")? != 0,
    })
}

/// The started views of titles since `since`, newest first, at most `limit`: the recommendations' watch log.
pub async fn watch_log(db: &Database, since: i64, limit: i64) -> Result<Vec<WatchEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT viewer_key, title_id, started_at, finished FROM analytics_views WHERE title_id IS NOT NULL \
         AND startup_ms IS NOT NULL AND started_at >= $1 ORDER BY started_at DESC LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(watch_event).collect()
}

/// One viewer's most recent started views of titles, at most `limit`.
pub async fn history(db: &Database, viewer_key: &str, limit: i64) -> Result<Vec<WatchEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT viewer_key, title_id, started_at, finished FROM analytics_views WHERE viewer_key = $1 \
         AND title_id IS NOT NULL AND startup_ms IS NOT NULL ORDER BY last_at DESC LIMIT $2",
    )
    .bind(viewer_key)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(watch_event).collect()
}

/// An asset a viewer started and did not finish, as of their latest view of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub asset_id: String,
    pub title_id: Option<String>,
    pub position_ms: i64,
    pub duration_ms: Option<i64>,
    pub last_at: i64,
}

/// The assets `viewer_key` left unfinished, most recent first, at most `limit`: the latest view of each asset
/// among their `scan` most recent views, when it is not finished and got past its start.
pub async fn unfinished(
    db: &Database,
    viewer_key: &str,
    scan: i64,
    limit: usize,
) -> Result<Vec<Unfinished>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT asset_id, title_id, last_at, finished, state_json FROM analytics_views \
         WHERE viewer_key = $1 AND state_json IS NOT NULL ORDER BY last_at DESC, view_id LIMIT $2",
    )
    .bind(viewer_key)
    .bind(scan)
    .fetch_all(db.pool())
    .await?;
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::new();
    for row in rows {
        let asset_id: String = row.try_get("asset_id")?;
        if !seen.insert(asset_id.clone()) {
            continue;
        }
        let finished: i64 = row.try_get("finished")?;
        let state_json: String = row.try_get("state_json")?;
        let Ok(state) = serde_json::from_str::<crate::view::ViewState>(&state_json) else { continue };
        let position_ms = state.position_ms.unwrap_or(0);
        if finished != 0 || position_ms <= 0 {
            continue;
        }
        items.push(Unfinished {
            asset_id,
            title_id: row.try_get("title_id")?,
            position_ms,
            duration_ms: state.duration_ms,
            last_at: row.try_get("last_at")?,
        });
        if items.len() == limit {
            break;
        }
    }
    Ok(items)
}

/// The titles with the most distinct viewers among the views started in `[from, until)` that showed a frame,
/// most first (ties by id), at most `limit`.
pub async fn most_watched(db: &Database, from: i64, until: i64, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT title_id, COUNT(DISTINCT viewer_key) AS viewers FROM analytics_views WHERE title_id IS NOT NULL \
         AND startup_ms IS NOT NULL AND started_at >= $1 AND started_at < $2 GROUP BY title_id \
         ORDER BY viewers DESC, title_id LIMIT $3",
    )
    .bind(from)
    .bind(until)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|row| row.try_get("title_id")).collect()
}

/// Deletes the events stored before `before` (server time); the views' summaries stay. The number deleted.
pub async fn delete_events_before(db: &Database, before: i64) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM analytics_events WHERE received_at < $1").bind(before).execute(db.pool()).await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_row_by_row() {
        assert_eq!(values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(list(3), "$1, $2, $3");
    }
}
