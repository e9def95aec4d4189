//! The catalog's `/v1` routes over its own state (the API's, with its clock and cursor key; the index; the
//! popularity source),
//! and who may see and change what: admins everything; creators what they own, and what is available; viewers
//! and anonymous callers only what is available now (anything else is 404 to them).

pub mod artwork;
pub mod home;
pub mod people;
pub mod titles;

use std::sync::Arc;

use axum::routing::{get, put};
use axum::Router;
use marquee_control_api::auth::{Caller, Role};
use marquee_control_api::{ApiError, AppState};
use sqlx::AnyConnection;

use crate::availability::{availability_of_chain, Window};
use crate::index::CatalogIndex;
use crate::listing::{Audience, Position};
use crate::popularity::Popularity;
use crate::store::{self, Title};

/// Items per page at most, and by default.
pub const MAX_PAGE: i64 = 200;
pub const DEFAULT_PAGE: i64 = 50;

/// What the catalog's handlers use.
#[derive(Clone)]
pub struct CatalogState {
    pub app: AppState,
    pub index: Arc<dyn CatalogIndex>,
    pub popularity: Arc<dyn Popularity>,
}

impl AsRef<AppState> for CatalogState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}

impl CatalogState {
    pub fn new(app: AppState, index: Arc<dyn CatalogIndex>, popularity: Arc<dyn Popularity>) -> Self {
        Self { app, index, popularity }
    }

    pub async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, ApiError> {
        Ok(self.app.db.pool().acquire().await?)
    }

    /// Now by the API's clock (tests move it across availability windows).
    pub fn now(&self) -> i64 {
        self.app.clock.now_ms()
    }

    /// The position `cursor` holds for the list `query`, or 400 `invalid_cursor`.
    pub async fn decode_cursor(&self, cursor: Option<&str>, query: &str) -> Result<Option<Position>, ApiError> {
        let Some(cursor) = cursor else { return Ok(None) };
        Ok(Some(self.app.cursors.decode(cursor, query)?))
    }

    pub async fn encode_cursor(&self, position: &Position, query: &str) -> Result<String, ApiError> {
        Ok(self.app.cursors.encode(position, query))
    }
}

pub fn router(state: CatalogState) -> Router<AppState> {
    Router::new()
        .route("/titles", get(titles::list).post(titles::create))
        .route("/titles/{id}", get(titles::read).patch(titles::update).delete(titles::delete))
        .route("/titles/{id}/credits", put(titles::put_credits))
        .route("/titles/{id}/availability", put(titles::put_availability))
        .route("/titles/{id}/assets", put(titles::put_assets))
        .route("/titles/{id}/artwork/{kind}", put(artwork::put))
        .route("/people", get(people::list).post(people::create))
        .route("/people/{id}", get(people::read).patch(people::update).delete(people::delete))
        .route("/home", get(home::home))
        .with_state(state)
}

/// How a caller sees titles.
pub fn audience(caller: Option<&Caller>) -> Audience {
    match caller {
        Some(caller) if caller.is_admin() => Audience::Admin,
        Some(caller) if caller.role >= Role::Creator => Audience::Creator(caller.user_id.clone()),
        _ => Audience::Public,
    }
}

/// Whether a caller may change what `owner_id` owns.
pub fn manages(caller: Option<&Caller>, owner_id: &str) -> bool {
    caller.is_some_and(|caller| caller.role >= Role::Creator && caller.may_manage(owner_id))
}

/// The windows of `title` and of its ancestors, nearest first.
pub async fn window_chain(
    conn: &mut AnyConnection,
    title: &Title,
    ancestors: &[Title],
) -> Result<Vec<Vec<Window>>, sqlx::Error> {
    let mut chain = vec![store::windows(conn, &title.id).await?];
    for ancestor in ancestors {
        chain.push(store::windows(conn, &ancestor.id).await?);
    }
    Ok(chain)
}

/// Whether `title` (with `ancestors`) is available at `now` in `region` (`None`: anywhere).
pub async fn available_now(
    conn: &mut AnyConnection,
    title: &Title,
    ancestors: &[Title],
    now: i64,
    region: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let chain = window_chain(conn, title, ancestors).await?;
    let links: Vec<&[Window]> = chain.iter().map(Vec::as_slice).collect();
    Ok(availability_of_chain(&links, now, region).is_available())
}

/// The title `id` if the caller may see it: theirs (or any, for admins), or available now (in `region`, when
/// the caller names one). Anything else is not shown to exist.
pub async fn visible_title(
    state: &CatalogState,
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    id: &str,
    region: Option<&str>,
) -> Result<Title, ApiError> {
    let Some(title) = store::title(conn, id).await? else { return Err(ApiError::not_found("title")) };
    if manages(caller, &title.owner_id) {
        return Ok(title);
    }
    let ancestors = store::ancestors(conn, &title).await?;
    if available_now(conn, &title, &ancestors, state.now(), region).await? {
        Ok(title)
    } else {
        Err(ApiError::not_found("title"))
    }
}

/// The title `id` if the caller may change it: 404 when they may not see it, 403 when they may see it but it
/// is not theirs.
pub async fn editable_title(
    state: &CatalogState,
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
) -> Result<Title, ApiError> {
    caller.require(Role::Creator)?;
    let title = visible_title(state, conn, Some(caller), id, None).await?;
    require_manager(caller, &title.owner_id, "this title is not yours: only its owner and admins may change it")?;
    Ok(title)
}

/// Whether `caller` may change what `owner_id` owns (titles, people): creators their own, admins everything;
/// 403 with `refusal` otherwise.
pub fn require_manager(caller: &Caller, owner_id: &str, refusal: &'static str) -> Result<(), ApiError> {
    caller.require(Role::Creator)?;
    if caller.may_manage(owner_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(refusal))
    }
}

/// A page size from a query, or 400.
pub fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")))
    }
}

/// A `region` query parameter in its normal form, or 400.
pub fn region_param(region: Option<&str>) -> Result<Option<String>, ApiError> {
    region
        .map(|text| {
            crate::availability::region(text)
                .map_err(|message| ApiError::bad_request("invalid_query", format!("region: {message}")))
        })
        .transpose()
}

/// 400 `invalid_fields` naming every problem.
pub fn invalid(problems: crate::model::Problems) -> Result<(), ApiError> {
    problems.finish().map_err(|message| ApiError::bad_request("invalid_fields", message))
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
