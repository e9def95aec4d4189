//! `GET /v1/home`: the rows of a home page, of movies and series available now: the newest, the most
//! watched this week (from [`crate::popularity::Popularity`], left out when it knows nothing), and one row per
//! genre for the genres with the most titles.

use axum::extract::State;
use marquee_control_api::auth::MaybeCaller;
use marquee_control_api::error::extract::{Json, Query};
use marquee_control_api::error::ErrorBody;
use marquee_control_api::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{available_now, region_param, CatalogState};
use crate::listing::{self, Audience, Filter};
use crate::model::TitleKind;
use crate::store::{self, Title};

/// Titles per row.
pub const ROW_LENGTH: i64 = 20;
/// Genre rows at most.
pub const GENRE_ROWS: i64 = 5;
/// What "this week" is.
pub const WEEK_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A home page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Home {
    /// Rows in display order; rows with nothing in them are left out.
    pub rows: Vec<HomeRow>,
}

/// One row.
#[derive(Debug, Serialize, ToSchema)]
pub struct HomeRow {
    /// `newest`, `most_watched_week` or `genre:<genre>`.
    pub key: String,
    /// What a page shows above it.
    pub label: String,
    pub items: Vec<Title>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HomeQuery {
    /// The viewer's region (ISO 3166-1 alpha-2): only what is available there (default: anywhere).
    pub region: Option<String>,
}

/// The home page's rows, the same for everyone: what is available now.
#[utoipa::path(get, path = "/v1/home", tag = "catalog", params(HomeQuery),
    responses((status = 200, body = Home), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn home(
    State(state): State<CatalogState>,
    MaybeCaller(_caller): MaybeCaller,
    Query(query): Query<HomeQuery>,
) -> Result<Json<Home>, ApiError> {
    let region = region_param(query.region.as_deref())?;
    let now = state.now();
    let top_level = vec![TitleKind::Movie, TitleKind::Series];
    let mut conn = state.connection().await?;
    let mut rows = Vec::new();

    let newest = Filter { kinds: top_level.clone(), available_now: true, region: region.clone(), ..Filter::default() };
    let items = listing::fetch(&mut conn, &newest, &Audience::Public, now, None, ROW_LENGTH).await?;
    rows.push(HomeRow { key: "newest".into(), label: "Newest".into(), items });

    let mut watched = Vec::new();
    for id in state.popularity.most_watched(now - WEEK_MS, now, ROW_LENGTH as usize).await {
        let Some(title) = store::title(&mut conn, &id).await? else { continue };
        if !title.kind.is_top_level() || watched.iter().any(|t: &Title| t.id == title.id) {
            continue;
        }
        if available_now(&mut conn, &title, &[], now, region.as_deref()).await? {
            watched.push(title);
        }
    }
    rows.push(HomeRow { key: "most_watched_week".into(), label: "Most watched this week".into(), items: watched });

    for genre in listing::top_genres(&mut conn, &top_level, now, region.as_deref(), GENRE_ROWS).await? {
        let filter = Filter {
            kinds: top_level.clone(),
            genre: Some(genre.clone()),
            available_now: true,
            region: region.clone(),
            ..Filter::default()
        };
        let items = listing::fetch(&mut conn, &filter, &Audience::Public, now, None, ROW_LENGTH).await?;
        rows.push(HomeRow { key: format!("genre:{genre}"), label: genre, items });
    }
    rows.retain(|row| !row.items.is_empty());
    for row in &mut rows {
        super::artwork::show_all(&state, &mut conn, &mut row.items).await?;
    }
    Ok(Json(Home { rows }))
}
