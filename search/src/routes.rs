//! `GET /v1/search?q=`: titles and people, best first, a page at a time. Anyone may search (only what is
//! visible now is found); a request that does send credentials must send valid ones.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use marquee_control_api::auth::extract::MaybeCaller;
use marquee_control_api::error::extract::{Json, Query};
use marquee_control_api::error::{ApiError, ErrorBody};
use marquee_control_api::AppState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::query::{self, QueryError};
use crate::store::EntryView;
use crate::SearchIndex;

/// Answers per page at most.
pub const MAX_PAGE: i64 = 50;
/// Answers per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: i64 = 20;

/// The search routes' state: the API's (with its clock and cursor key) and the index.
#[derive(Debug, Clone)]
pub struct SearchState {
    pub app: AppState,
    pub index: SearchIndex,
}

impl SearchState {
    pub fn new(app: AppState, index: SearchIndex) -> Self {
        Self { app, index }
    }
}

impl AsRef<AppState> for SearchState {
    fn as_ref(&self) -> &AppState {
        &self.app
    }
}

pub fn routes(state: SearchState) -> Router<AppState> {
    Router::new().route("/search", get(search)).with_state(state)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// What to look for: words of titles, names, cast, synopses; accents, case and small typos do not matter,
    /// and a word's beginning finds it. 1 to 256 characters with at least one letter or digit, at most 8
    /// different words.
    pub q: String,
    /// The `next_cursor` of the previous page (of the same `q`).
    pub after: Option<String>,
    /// How many at most (1 to 50, default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
}

/// What an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    Title,
    Person,
}

/// One answer: a title or a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    pub kind: ResultKind,
    pub id: String,
    /// A title's title (titles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A person's name (people only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `movie`, `series`, `season` or `episode` (titles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_year: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
}

impl From<EntryView> for SearchResult {
    fn from(view: EntryView) -> Self {
        let (kind, title, name) = match view.kind.as_str() {
            "person" => (ResultKind::Person, None, Some(view.name)),
            _ => (ResultKind::Title, Some(view.name), None),
        };
        Self {
            kind,
            id: view.id,
            title,
            name,
            title_kind: view.title_kind,
            release_year: view.release_year,
            genres: view.genres,
        }
    }
}

/// One page of answers, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchResult>,
    /// Pass as `after` (with the same `q`) for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The one place search's refusals get their status and code.
fn refusal_of_query(error: QueryError) -> ApiError {
    let code = match error {
        QueryError::TooLong(_) => "query_too_long",
        QueryError::NoWords => "query_empty",
        QueryError::TooManyWords(_) => "query_too_many_words",
    };
    ApiError::bad_request(code, error.to_string())
}

/// What a cursor is bound to: the query's words (a cursor of one query is refused for another).
fn cursor_query(words: &[String]) -> String {
    format!("search?{}", serde_json::to_string(words).expect("words are always JSON"))
}

/// Titles and people matching `q`, best first: typo-tolerant, prefix-aware, accent-insensitive; exact and
/// title matches above cast and synopsis matches, more popular first among equals.
#[utoipa::path(get, path = "/v1/search", tag = "search", params(SearchQuery), security((), ("bearer" = [])),
    responses((status = 200, body = SearchPage),
        (status = 400, body = ErrorBody, description = "codes `query_too_long`, `query_empty` (no letters or digits), `query_too_many_words`, `invalid_cursor`, `invalid_query`"),
        (status = 401, body = ErrorBody, description = "credentials were sent and are not valid")))]
pub async fn search(
    State(state): State<SearchState>,
    _caller: MaybeCaller,
    Query(params): Query<SearchQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let words = query::parse(&params.q).map_err(refusal_of_query)?;
    let offset = match &params.after {
        Some(cursor) => state.app.cursors.decode::<u32>(cursor, &cursor_query(&words))?,
        None => 0,
    };
    let now = state.app.clock.now_ms();
    let limit = usize::try_from(limit).unwrap_or(1);
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let (views, more) = state.index.page(state.app.db.pool(), &words, now, offset, limit).await?;
    let next_cursor = match more {
        true => {
            let next = u32::try_from(offset + limit).unwrap_or(u32::MAX);
            Some(state.app.cursors.encode(&next, &cursor_query(&words)))
        }
        false => None,
    };
    Ok(Json(SearchPage { items: views.into_iter().map(SearchResult::from).collect(), next_cursor }))
}
