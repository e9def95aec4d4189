//! The HTTP side: `POST /v1/beacons`, `GET /v1/analytics/assets/{id}`, `GET /v1/analytics/titles/{id}`,
//! `GET /v1/titles/{id}/similar`, `GET /v1/me/recommendations`. Handlers stay thin: validation, aggregation
//! and scoring are the pure modules'.
//!
//! **Who may send beacons.** Anyone: players of public assets are often not signed in. A signed-in player
//! (bearer token or API key) is counted as its user; an anonymous one as the `viewer` id it sends, else as
//! the view. Anonymous requests are limited per client address ([`crate::AnalyticsSettings::anonymous_burst`]
//! then one more per [`crate::AnalyticsSettings::anonymous_refill`]), answered 429 with `Retry-After` beyond it. Beacons
//! are not checked against the assets table (that would cost a read per event): analytics of an asset count
//! every beacon that named it, and only its owner and admins can read them.
//!
//! **Who may read analytics.** An asset's: its owner and admins (others get 404, as for the asset itself).
//! A title's: admins, over every view; creators, over the views of the assets they own under that title
//! (titles live in the catalog, which this crate does not know; assets carry the ownership).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use governor::DefaultKeyedRateLimiter;
use marquee_control_api::auth::{client_ip, Caller, MaybeCaller, Role};
use marquee_control_api::error::extract::{Json, Path, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};

use crate::aggregate::{aggregate, Aggregates};
use crate::beacon::{self, Beacon, EventKind, RejectReason};
use crate::metrics::{AnalyticsMetrics, BeaconOutcome, INVALID_TYPE};
use crate::recommend::CurrentModel;
use crate::store;

/// The longest time range one analytics request may cover.
pub const MAX_RANGE_MS: i64 = 366 * 24 * 3_600_000;
/// The range when none is given: the last week.
pub const DEFAULT_RANGE_MS: i64 = 7 * 24 * 3_600_000;
/// Recommendations per answer at most (and by default 10).
pub const MAX_RECOMMENDATIONS: usize = 100;
/// A viewer's recent views that "for you" reads.
pub const HISTORY_VIEWS: i64 = 200;

/// What the handlers share.
#[derive(Debug)]
pub struct Shared {
    pub queue: mpsc::Sender<Beacon>,
    pub metrics: AnalyticsMetrics,
    pub limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    pub model: Arc<CurrentModel>,
    pub max_beacons_per_request: usize,
}

/// The satellite's axum state: the API's, and what the handlers share.
#[derive(Debug, Clone)]
pub struct AnalyticsState {
    pub app: AppState,
    pub shared: Arc<Shared>,
}

impl AsRef<AppState> for AnalyticsState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}

pub fn routes(state: AnalyticsState) -> Router<AppState> {
    Router::new()
        .route("/beacons", post(beacons))
        .route("/analytics/assets/{id}", get(asset_analytics))
        .route("/analytics/titles/{id}", get(title_analytics))
        .route("/titles/{id}/similar", get(similar))
        .route("/me/recommendations", get(for_you))
        .route("/me/continue-watching", get(continue_watching))
        .with_state(state)
}

/// A batch of beacons.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeaconBatch {
    /// The events (see the `BeaconInput` schema for their fields). Each is checked on its own: one that is not
    /// a valid `BeaconInput` is listed in the answer's `rejected` with a reason, and the others are kept.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}

/// One refused event of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedBeacon {
    /// Its position in `events`, from 0.
    pub index: usize,
    pub reason: RejectReason,
    pub message: String,
}

/// What became of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BeaconReceipt {
    /// Events queued for storage.
    pub accepted: usize,
    pub rejected: Vec<RejectedBeacon>,
}

fn with_retry_after(error: ApiError, seconds: u64) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(http::header::RETRY_AFTER, seconds.into());
    response
}

/// Takes a batch of player events. Each is accepted or rejected on its own; the accepted ones are stored
/// within a moment (batched). Anonymous players may send beacons, limited per address.
#[utoipa::path(post, path = "/v1/beacons", tag = "analytics", request_body = BeaconBatch,
    security((), ("bearer" = [])),
    responses((status = 202, body = BeaconReceipt), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, description = "too many requests from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "the write queue is full or closing; retry after Retry-After", body = ErrorBody)))]
pub async fn beacons(
    State(state): State<AnalyticsState>,
    MaybeCaller(caller): MaybeCaller,
    parts: http::request::Parts,
    Json(batch): Json<BeaconBatch>,
) -> Result<Response, ApiError> {
    let shared = &state.shared;
    if caller.is_none() {
        if let Err(not_until) = shared.limiter.check_key(&client_ip(&parts)) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let seconds = wait.as_secs().max(1);
            return Ok(with_retry_after(
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many beacon requests from this address; try again in {seconds} s or sign in"),
                ),
                seconds,
            ));
        }
    }
    if batch.events.len() > shared.max_beacons_per_request {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!("send at most {} events per request", shared.max_beacons_per_request),
        ));
    }
    let now = state.app.clock.now_ms();
    let user = caller.as_ref().map(|c| c.user_id.as_str());
    let mut accepted: Vec<Beacon> = Vec::with_capacity(batch.events.len());
    let mut rejected = Vec::new();
    for (index, event) in batch.events.iter().enumerate() {
        match beacon::validate(event, now, user) {
            Ok(beacon) => accepted.push(beacon),
            Err(rejection) => {
                let kind = event
                    .get("type")
                    .and_then(|t| t.as_str())
                    .and_then(EventKind::parse)
                    .map_or(INVALID_TYPE, EventKind::as_str);
                shared.metrics.beacon(kind, BeaconOutcome::Rejected);
                shared.metrics.rejected(rejection.reason);
                rejected.push(RejectedBeacon { index, reason: rejection.reason, message: rejection.message });
            }
        }
    }
    if !accepted.is_empty() {
        match shared.queue.try_reserve_many(accepted.len()) {
            Ok(permits) => {
                for (permit, beacon) in permits.zip(accepted.iter()) {
                    shared.metrics.beacon(beacon.kind.as_str(), BeaconOutcome::Accepted);
                    permit.send(beacon.clone());
                }
            }
            Err(full_or_closed) => {
                for beacon in &accepted {
                    shared.metrics.beacon(beacon.kind.as_str(), BeaconOutcome::Refused);
                }
                let (code, message) = match full_or_closed {
                    mpsc::error::TrySendError::Full(()) => {
                        ("busy", "too many beacons are waiting to be stored; send this batch again shortly")
                    }
                    mpsc::error::TrySendError::Closed(()) => {
                        ("shutting_down", "the server is stopping; send this batch again shortly")
                    }
                };
                return Ok(with_retry_after(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message), 1));
            }
        }
    }
    let receipt = BeaconReceipt { accepted: accepted.len(), rejected };
    Ok((StatusCode::ACCEPTED, Json(receipt)).into_response())
}

/// The time range of an analytics request.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Views started at or after this time (Unix milliseconds; default: a week before `to`). Before `to`, and at
    /// most 366 days before it.
    #[param(minimum = 0)]
    pub from: Option<i64>,
    /// Views started before this time (Unix milliseconds; default: now).
    #[param(minimum = 0)]
    pub to: Option<i64>,
}

impl RangeQuery {
    fn range(&self, now: i64) -> Result<(i64, i64), ApiError> {
        let to = self.to.unwrap_or(now);
        let from = self.from.unwrap_or(to.saturating_sub(DEFAULT_RANGE_MS));
        if from < 0 || to < 0 {
            return Err(ApiError::bad_request("invalid_query", "from and to are Unix milliseconds, not negative"));
        }
        if from >= to {
            return Err(ApiError::bad_request("invalid_query", "from must be before to"));
        }
        if to - from > MAX_RANGE_MS {
            return Err(ApiError::bad_request("invalid_query", "a range covers 366 days at most"));
        }
        Ok((from, to))
    }
}

/// The QoE aggregates of one asset or title over a time range.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsReport {
    /// The asset's or title's id.
    pub id: String,
    pub from: i64,
    pub to: i64,
    #[serde(flatten)]
    pub aggregates: Aggregates,
}

fn check_path_id(id: &str) -> Result<(), ApiError> {
    let fine = !id.is_empty()
        && id.len() <= beacon::MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if fine {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_path",
            "the id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'",
        ))
    }
}

/// An asset's views, unique viewers, watch time, startup time, rebuffering, bitrate, errors and exits before
/// start over a time range (by when views started). Its owner and admins only.
#[utoipa::path(get, path = "/v1/analytics/assets/{id}", tag = "analytics", security(("bearer" = [])),
    params(("id" = String, Path, description = "the asset's id"), RangeQuery),
    responses((status = 200, body = AnalyticsReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn asset_analytics(
    State(state): State<AnalyticsState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<RangeQuery>,
) -> Result<Json<AnalyticsReport>, ApiError> {
    caller.require(Role::Creator)?;
    let now = state.app.clock.now_ms();
    let (from, to) = query.range(now)?;
    marquee_control_api::assets::routes::owned(&state.app, &caller, &id).await?;
    let views = store::asset_views(&state.app.db, &id, from, to).await?;
    Ok(Json(AnalyticsReport { id, from, to, aggregates: aggregate(&views, now) }))
}

/// A title's aggregates over a time range: every view for admins, the views of their own assets for creators.
#[utoipa::path(get, path = "/v1/analytics/titles/{id}", tag = "analytics", security(("bearer" = [])),
    params(("id" = String, Path, description = "the title's id", pattern = "^[A-Za-z0-9._:-]{1,64}$"), RangeQuery),
    responses((status = 200, body = AnalyticsReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn title_analytics(
    State(state): State<AnalyticsState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<RangeQuery>,
) -> Result<Json<AnalyticsReport>, ApiError> {
    caller.require(Role::Creator)?;
    check_path_id(&id)?;
    let now = state.app.clock.now_ms();
    let (from, to) = query.range(now)?;
    let owner = (!caller.is_admin()).then_some(caller.user_id.as_str());
    let views = store::title_views(&state.app.db, &id, owner, from, to).await?;
    Ok(Json(AnalyticsReport { id, from, to, aggregates: aggregate(&views, now) }))
}

/// How many recommendations.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecommendationQuery {
    /// 1 to 100, default 10.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

impl RecommendationQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(10),
            Some(n) if (1..=MAX_RECOMMENDATIONS as i64).contains(&n) => Ok(n as usize),
            Some(_) => Err(ApiError::bad_request("invalid_query", "limit must be between 1 and 100")),
        }
    }
}

/// One recommended title.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedTitle {
    pub title_id: String,
    /// Higher is better; comparable within one list only.
    pub score: f64,
    /// `co_viewing` (viewers of one watched the other), `content` (shared genres or people), `popular`.
    pub reason: String,
    /// For "for you": the viewer's title it is most like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

/// A list of recommended titles, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendations {
    pub items: Vec<RecommendedTitle>,
}

fn listed(items: Vec<marquee_recommendations::Recommendation>) -> Json<Recommendations> {
    Json(Recommendations {
        items: items
            .into_iter()
            .map(|r| RecommendedTitle {
                title_id: r.title_id,
                score: r.score,
                reason: r.reason.as_str().to_string(),
                because: r.because,
            })
            .collect(),
    })
}

/// "More like this": titles whose viewers also watched this one, titles sharing its genres and people when
/// few have watched it, then popular titles. Anyone may ask.
#[utoipa::path(get, path = "/v1/titles/{id}/similar", tag = "recommendations",
    params(("id" = String, Path, description = "the title's id", pattern = "^[A-Za-z0-9._:-]{1,64}$"), RecommendationQuery),
    responses((status = 200, body = Recommendations), (status = 400, body = ErrorBody)))]
pub async fn similar(
    State(state): State<AnalyticsState>,
    Path(id): Path<String>,
    Query(query): Query<RecommendationQuery>,
) -> Result<Json<Recommendations>, ApiError> {
    check_path_id(&id)?;
    let limit = query.limit()?;
    Ok(listed(state.shared.model.get().similar(&id, limit)))
}

/// "For you": titles like those the caller watched recently, leaving out what they finished; popular titles
/// for a caller who has watched nothing yet.
#[utoipa::path(get, path = "/v1/me/recommendations", tag = "recommendations", security(("bearer" = [])),
    params(RecommendationQuery),
    responses((status = 200, body = Recommendations), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn for_you(
    State(state): State<AnalyticsState>,
    caller: Caller,
    Query(query): Query<RecommendationQuery>,
) -> Result<Json<Recommendations>, ApiError> {
    let limit = query.limit()?;
    let viewer = beacon::viewer_key(Some(&caller.user_id), None, "");
    let history = store::history(&state.app.db, &viewer, HISTORY_VIEWS).await?;
    let model = state.shared.model.get();
    let items = if history.is_empty() { model.popular(limit, &HashSet::new()) } else { model.for_you(&history, limit) };
    Ok(listed(items))
}

/// One thing the caller started watching and has not finished.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContinueWatching {
    pub asset_id: String,
    /// The title it was played as, when the player said.
    pub title_id: Option<String>,
    /// Where the caller was, in seconds.
    pub position_seconds: f64,
    /// The media's length in seconds, when the player said.
    pub duration_seconds: Option<f64>,
    /// When the caller last watched it, Unix milliseconds.
    pub watched_at: i64,
}

/// The caller's unfinished assets, most recently watched first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContinueWatchingList {
    pub items: Vec<ContinueWatching>,
}

/// "Continue watching": what the caller started and did not finish (the latest view of each asset, from the
/// players' beacons), most recent first, with where to resume.
#[utoipa::path(get, path = "/v1/me/continue-watching", tag = "recommendations", security(("bearer" = [])),
    params(RecommendationQuery),
    responses((status = 200, body = ContinueWatchingList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn continue_watching(
    State(state): State<AnalyticsState>,
    caller: Caller,
    Query(query): Query<RecommendationQuery>,
) -> Result<Json<ContinueWatchingList>, ApiError> {
    let limit = query.limit()?;
    let viewer = beacon::viewer_key(Some(&caller.user_id), None, "");
    let items = store::unfinished(&state.app.db, &viewer, HISTORY_VIEWS, limit).await?;
    Ok(Json(ContinueWatchingList {
        items: items
            .into_iter()
            .map(|u| ContinueWatching {
                asset_id: u.asset_id,
                title_id: u.title_id,
                position_seconds: u.position_ms as f64 / 1000.0,
                duration_seconds: u.duration_ms.map(|ms| ms as f64 / 1000.0),
                watched_at: u.last_at,
            })
            .collect(),
    }))
}
